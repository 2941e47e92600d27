"""skopt's ``BayesSearchCV`` at scikit-learn's search seam. Written against scikit-optimize 0.10.2.

``BayesSearchCV._run_search`` runs skopt's ask/tell loop through scikit-learn's
``evaluate_candidates`` (``tuning.compat.sklearn``). With a scorer that returns several
scores, skopt optimises the one its ``refit`` names, and demands one; here it sees only the
scorer's ``OBJECTIVE`` score, so the search needs no refit.
"""

from __future__ import annotations

from typing import Any

from skopt import BayesSearchCV

from tuning.compat import PrivateName, check_private_api
from tuning.compat.sklearn import BaseSearchCV, BatchedSearch, EvaluateCandidates

__all__ = ["OBJECTIVE", "PRIVATE_API", "BatchedBayesSearchCV", "check"]

LIBRARY = "scikit-optimize"
WRITTEN_AGAINST = "0.10.2"
PRIVATE_API = (
    PrivateName("skopt", "BayesSearchCV._run_search", ("evaluate_candidates",)),
    PrivateName("skopt", "BayesSearchCV._check_refit_for_multimetric", ("scores",)),
)
# The key of the score skopt optimises, among those a multi-metric scorer returns.
OBJECTIVE = "objective"


def check() -> None:
    """An ``IncompatibleLibraryError`` for the first name of ``PRIVATE_API`` that the installed skopt lacks."""
    check_private_api(__name__, LIBRARY, WRITTEN_AGAINST, PRIVATE_API)


class BatchedBayesSearchCV(BatchedSearch, BayesSearchCV):
    """``BayesSearchCV`` in batches, optimising the scorer's ``OBJECTIVE`` score."""

    def _run_search(self, evaluate_candidates: EvaluateCandidates) -> None:
        with self.timing_proposals(evaluate_candidates) as batched:

            def evaluate_objective(*args: Any, **kwargs: Any) -> dict[str, Any]:
                results = batched(*args, **kwargs)
                return {
                    k: v for k, v in results.items() if not k.startswith("mean_test_") or k == f"mean_test_{OBJECTIVE}"
                }

            BayesSearchCV._run_search(self, evaluate_objective)

    def _check_refit_for_multimetric(self, scores: Any) -> None:
        # skopt's own check refuses refit=False; OBJECTIVE already settles what to optimise,
        # and scikit-learn's check accepts it.
        BaseSearchCV._check_refit_for_multimetric(self, scores)
