"""scikit-learn's search seam, ``_run_search(evaluate_candidates)``. Written against scikit-learn 1.9.1.

``BaseSearchCV.fit`` hands a search's ``_run_search`` the function that fits and scores a
list of candidates and returns the ``cv_results_`` so far; skopt's ``BayesSearchCV`` plugs
into the same seam (``tuning.compat.skopt``). The ``Batched*`` searches here take that
function and evaluate candidates ``n_jobs`` at a time, calling ``on_results(cv_results)``
after each batch, so that every trial is reported while the search runs, and time what
the search does outside that function: its ``proposal_seconds``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from joblib import effective_n_jobs
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (makes the halving searches importable)
from sklearn.model_selection import GridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV
from sklearn.model_selection._search import BaseSearchCV

from tuning.compat import PrivateName, check_private_api
from tuning.stopwatch import Stopwatch

__all__ = [
    "PRIVATE_API",
    "BaseSearchCV",
    "BatchedGridSearchCV",
    "BatchedHalvingRandomSearchCV",
    "BatchedRandomizedSearchCV",
    "BatchedSearch",
    "check",
]

LIBRARY = "scikit-learn"
WRITTEN_AGAINST = "1.9.1"
PRIVATE_API = (
    PrivateName("sklearn.model_selection._search", "BaseSearchCV._check_refit_for_multimetric", ("scores",)),
    PrivateName(
        "sklearn.model_selection._search",
        "BaseSearchCV.fit.<locals>.evaluate_candidates",
        ("candidate_params", "cv", "more_results"),
    ),
    *(
        PrivateName("sklearn.model_selection", f"{search}._run_search", ("evaluate_candidates", "callback_ctx"))
        for search in ("GridSearchCV", "RandomizedSearchCV", "HalvingRandomSearchCV")
    ),
)

# BaseSearchCV.fit's ``evaluate_candidates(candidate_params, cv=None, more_results=None, callback_ctx=None)``.
EvaluateCandidates = Callable[..., dict[str, Any]]


def check() -> None:
    """An ``IncompatibleLibraryError`` for the first name of ``PRIVATE_API`` that the installed scikit-learn lacks."""
    check_private_api(__name__, LIBRARY, WRITTEN_AGAINST, PRIVATE_API)


class BatchedSearch:
    """Mixin for a ``BaseSearchCV``: candidates ``n_jobs`` at a time, ``on_results`` after each batch.

    ``proposal_seconds``, after ``fit``: the wall time of ``_run_search`` outside the
    evaluation of candidates, that is the library's own work choosing them.
    """

    n_jobs: int | None
    on_results: Callable[[dict[str, Any]], None]
    proposal_seconds: float = 0.0

    def __getstate__(self) -> dict[str, Any]:
        # scikit-learn >= 1.9 sends the search itself with every fit (``caller=self``). Its
        # ``on_results`` reports to the caller's ``on_trial``, which may hold what cannot
        # travel (the harness's SQLite connection), and a worker has nothing to report.
        # A copy: ``object.__getstate__`` returns the live ``__dict__``.
        state = dict(super().__getstate__())  # type: ignore[misc]
        state.pop("on_results", None)
        return state

    def batched(self, evaluate_candidates: EvaluateCandidates) -> EvaluateCandidates:
        """``evaluate_candidates`` as it is, except that it calls ``on_results`` after each batch of ``n_jobs``."""
        batch = max(1, effective_n_jobs(self.n_jobs))

        def evaluate_in_batches(
            candidates: Any, cv: Any = None, more_results: dict | None = None, callback_ctx: Any = None
        ) -> dict[str, Any]:
            # scikit-learn's callback contexts number tasks per call, which batching would
            # repeat; progress is reported through on_results instead.
            candidates = list(candidates)
            results: dict[str, Any] = {}
            for start in range(0, len(candidates), batch):
                part = slice(start, start + batch)
                more = None if more_results is None else {k: v[part] for k, v in more_results.items()}
                results = evaluate_candidates(candidates[part], cv, more_results=more)
                self.on_results(results)
            return results

        return evaluate_in_batches

    @contextmanager
    def timing_proposals(self, evaluate_candidates: EvaluateCandidates) -> Iterator[EvaluateCandidates]:
        """``batched(evaluate_candidates)`` for the block that runs the search; sets ``proposal_seconds``."""
        evaluating, searching = Stopwatch(), Stopwatch()
        with searching.running():
            yield evaluating.timed(self.batched(evaluate_candidates))
        self.proposal_seconds = searching.seconds - evaluating.seconds

    def _run_search(self, evaluate_candidates: EvaluateCandidates, *, callback_ctx: Any = None) -> None:
        with self.timing_proposals(evaluate_candidates) as batched:
            super()._run_search(batched, callback_ctx=callback_ctx)  # type: ignore[misc]


class BatchedGridSearchCV(BatchedSearch, GridSearchCV):
    """``GridSearchCV`` in batches."""


class BatchedRandomizedSearchCV(BatchedSearch, RandomizedSearchCV):
    """``RandomizedSearchCV`` in batches."""


class BatchedHalvingRandomSearchCV(BatchedSearch, HalvingRandomSearchCV):
    """``HalvingRandomSearchCV`` in batches, without a refit."""

    def fit(self, X: Any, y: Any = None, **params: Any) -> Any:
        # HalvingRandomSearchCV.fit reads best_index_, which exists only after a refit;
        # the harness refits the winner itself, on the training data only.
        return BaseSearchCV.fit(self, X, y, **params)
