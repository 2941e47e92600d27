"""Grid, random, Bayes and halving search through scikit-learn's ``BaseSearchCV`` machinery.

Each method only builds its search object. Everything else is shared:

* candidates are evaluated in batches of ``n_jobs`` so that each finished trial is
  reported (and can be stored) while the search runs (``tuning.compat.sklearn``);
* a multi-metric scorer returns, per fit, the score, the epochs trained, a failure flag
  and the time, so trial records come from scikit-learn's own ``cv_results_``;
* a fit that raises or diverges is caught in the estimator and scored as failed, so one
  bad trial never ends a search; skopt is told the no-skill score for it, so its model
  of the objective stays finite. The error text travels through a journal directory
  because scores must be numbers.

The estimators train by ``tuning.training``'s recipe (scikeras' fit makes the same calls
as ``fit_configuration``; a test holds the two to identical scores). When the problem's
trainer does not train Keras models (a replay), they fit by the trainer instead.
"""

from __future__ import annotations

import math
import os
import secrets
import tempfile
import time
import warnings
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from sklearn.model_selection import PredefinedSplit

from tuning.compat.sklearn import (
    BatchedGridSearchCV,
    BatchedHalvingRandomSearchCV,
    BatchedRandomizedSearchCV,
    BatchedSearch,
)
from tuning.compat.skopt import OBJECTIVE, BatchedBayesSearchCV
from tuning.errors import InvalidBudgetError
from tuning.methods.base import (
    BUDGET_TOLERANCE,
    Budget,
    Plan,
    RunOptions,
    SearchMethod,
    SearchProblem,
    TrialRecorder,
)
from tuning.methods.planning import budget_note, grid_plan, halving_rungs, initial_random_points, n_trials_plan
from tuning.metrics import Metric
from tuning.phases import CLOCK
from tuning.space import Space, to_scipy_distributions, to_sklearn_grid, to_skopt_dimensions
from tuning.training import Evaluation, error_line, fit_divergence, prediction_divergence
from tuning.wrappers import KerasClassifier, KerasRegressor, estimator_param_name, make_estimator

# Scorer keys that carry a trial's phase times (``tuning.phases``) through cv_results_.
PHASE_PREFIX = "phase_"

__all__ = ["BayesSearch", "GridSearch", "HalvingRandomSearch", "RandomSearch", "halving_epochs"]


class _GuardedFit:
    """Records a raising or diverging fit in ``fit_error_`` instead of ending the search."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
        self.fit_error_ = ""
        self.started_at_ = time.time()
        CLOCK.take()  # the trial's phases start here
        try:
            super().fit(X, y, sample_weight=sample_weight, **kwargs)
        except Exception as exc:  # a trial that raises (OOM, bad configuration) is a failed trial
            self.fit_error_ = error_line(exc)
        else:
            self.fit_error_ = fit_divergence(self.history_)
        self.finished_at_ = time.time()
        self.trained_epochs_ = len(getattr(self, "history_", {}).get("loss", []))
        return self

    def validation_score(self, X: Any, y: Any, metric: Metric) -> tuple[float, str]:
        """The metric of the model as trained on ``(X, y)``, or NaN and why there is none; the
        trial ends (``finished_at_``) once it is scored."""
        score, error = math.nan, self.fit_error_
        if not error:
            try:
                with CLOCK.phase("score"):
                    predictions = self.predict_proba(X) if metric.probabilities else self.predict(X)
                error = prediction_divergence(predictions)
                if not error:
                    score = metric(y, predictions)
            except Exception as exc:  # predicting can fail like fitting can
                error = error_line(exc)
        self.finished_at_ = time.time()
        self.phases_ = CLOCK.take()
        return score, error


class _GuardedClassifier(_GuardedFit, KerasClassifier):
    pass


class _GuardedRegressor(_GuardedFit, KerasRegressor):
    pass


class _TrainerFit:
    """Fits by the problem's trainer instead of the wrapper's Keras fit, for trainers that do not
    train Keras models (a replay): scikit-learn's search code runs unchanged around it.

    ``problem`` and ``space_names`` are bound per search, as class attributes
    (``_estimator_classes``), so that scikit-learn's clones share them instead of copying.
    """

    problem: SearchProblem
    space_names: tuple[str, ...]

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Any:
        values = self.get_params()
        params = {name: _native(values[estimator_param_name(name)]) for name in self.space_names}
        evaluation = self.problem.trainer.evaluate(self.problem, params, epochs=self.epochs, seed=self.random_state)
        self.fit_error_ = evaluation.error
        self.started_at_ = evaluation.started_at
        self.finished_at_ = evaluation.finished_at
        self.trained_epochs_ = evaluation.epochs
        self.val_score_ = evaluation.val_score
        return self

    def validation_score(self, X: Any, y: Any, metric: Metric) -> tuple[float, str]:
        """The trainer's score on the problem's validation split, which the holdout fold is."""
        return self.val_score_, self.fit_error_


def _estimator_classes(problem: SearchProblem, space: Space) -> tuple[type, type]:
    """The (classifier, regressor) classes the search fits: the scikeras wrappers when the
    problem's trainer trains Keras models, else wrappers that fit by the trainer."""
    guarded = (_GuardedClassifier, _GuardedRegressor)
    if problem.trainer.trains_keras_models:
        return guarded
    bound = {"problem": problem, "space_names": tuple(space.names)}
    return tuple(type(f"Trainer{c.__name__.lstrip('_')}", (_TrainerFit, c), bound) for c in guarded)


class _TrialScorer:
    """Scores one fit and reports its epochs, status and times as numbers."""

    def __init__(self, metric: Metric, journal: Path) -> None:
        self.metric = metric
        self.journal = journal

    def __call__(self, estimator: Any, X: Any, y: Any) -> dict[str, float]:
        score, error = estimator.validation_score(X, y, self.metric)
        token = 0
        if error:
            token = secrets.randbits(48)  # exact in a float64 score
            (self.journal / f"{token}.txt").write_text(error)
        sign = self.metric.sign()
        return {
            "score": sign * score,
            OBJECTIVE: sign * (self.metric.no_skill(y) if error else score),
            "epochs": float(estimator.trained_epochs_),
            "fidelity": float(estimator.epochs),
            "failed": float(bool(error)),
            "error_token": float(token),
            "started_at": estimator.started_at_,
            "finished_at": estimator.finished_at_,
            "worker_pid": float(os.getpid()),
            **{f"{PHASE_PREFIX}{name}": seconds for name, seconds in getattr(estimator, "phases_", {}).items()},
        }


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class _TrialReader:
    """Hands each new row of ``cv_results_`` (a candidate, over its folds) to the search's ``TrialRecorder``."""

    def __init__(self, space: Space, journal: Path, trials: TrialRecorder, metric: Metric) -> None:
        self.names = {estimator_param_name(n): n for n in space.names}
        self.journal = journal
        self.trials = trials
        self.metric = metric
        self.reported = 0

    def __call__(self, results: dict[str, Any]) -> None:
        n_splits = sum(1 for k in results if k.startswith("split") and k.endswith("_test_epochs"))
        phase_keys = [k.removeprefix("split0_test_") for k in results if k.startswith(f"split0_test_{PHASE_PREFIX}")]
        for i in range(self.reported, len(results["params"])):

            def split(key: str, i: int = i) -> list[float]:
                return [float(results[f"split{k}_test_{key}"][i]) for k in range(n_splits)]

            failed = any(split("failed"))
            errors = sorted({self._error(int(t)) for t in split("error_token") if t})
            # Only the searched values: a halving search also sets its resource, epochs, per candidate.
            params = {self.names[k]: _native(v) for k, v in results["params"][i].items() if k in self.names}
            evaluation = Evaluation(
                val_score=math.nan if failed else self.metric.sign() * float(results["mean_test_score"][i]),
                epochs=int(sum(split("epochs"))),
                error="; ".join(errors) if failed else "",
                started_at=min(split("started_at")),
                finished_at=max(split("finished_at")),
                worker_pid=int(split("worker_pid")[0]),
                phases={key.removeprefix(PHASE_PREFIX): sum(split(key)) for key in phase_keys},
            )
            self.trials.record(params, evaluation, fidelity=int(split("fidelity")[0]))
        self.reported = len(results["params"])

    def _error(self, token: int) -> str:
        path = self.journal / f"{token}.txt"
        # A worker on another machine writes into its own journal, which is not visible here.
        return path.read_text() if path.exists() else "failed on a remote worker (message not transferable)"


class SklearnSearchMethod(SearchMethod):
    """Shared driver for searches built on ``BaseSearchCV``."""

    @abstractmethod
    def _make_search(self, estimator: Any, space: Space, plan: Plan, *, seed: int, **common: Any) -> BatchedSearch:
        """The configured search object; ``common`` holds scoring, cv, n_jobs, refit, error_score."""

    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> float:
        x = np.concatenate([problem.x_train, problem.x_val])
        y = np.concatenate([problem.y_train, problem.y_val])
        cv: Any = options.cv
        if cv is None:
            # -1: always in training; 0: the single validation fold.
            cv = PredefinedSplit(np.r_[np.full(len(problem.x_train), -1), np.zeros(len(problem.x_val))])
        fixed = {**problem.fixed, "epochs": options.epochs_per_trial}
        estimator = make_estimator(
            problem.classification,
            build=problem.build,
            random_state=options.seed,
            classes=_estimator_classes(problem, space),
            **fixed,
        )
        with tempfile.TemporaryDirectory(prefix="tuning-journal-") as journal_dir:
            journal = Path(journal_dir)
            search = self._make_search(
                estimator,
                space,
                plan,
                seed=options.sampler_seed,
                scoring=_TrialScorer(problem.metric, journal),
                cv=cv,
                n_jobs=options.execution.n_jobs,
                refit=False,
                error_score="raise",
            )
            search.on_results = _TrialReader(space, journal, options.trials, problem.metric)
            with warnings.catch_warnings():
                # Failed trials score NaN by design and are already recorded as failed.
                warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
                search.fit(x, y)
        return search.proposal_seconds


class GridSearch(SklearnSearchMethod):
    """``GridSearchCV`` over the largest grid the budget pays for (``grid_plan``)."""

    name = "grid"

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        return grid_plan(space, budget, folds)

    def _make_search(self, estimator: Any, space: Space, plan: Plan, *, seed: int, **common: Any) -> BatchedSearch:
        grid = to_sklearn_grid(space, plan.settings["max_points"], name=estimator_param_name)
        return BatchedGridSearchCV(estimator, grid, **common)


class RandomSearch(SklearnSearchMethod):
    """``RandomizedSearchCV`` with ``n_iter = budget // epochs per trial``."""

    name = "random"

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        n_iter, planned, note = n_trials_plan(budget, folds, "random search")
        return Plan({"n_iter": n_iter}, planned, note)

    def _make_search(self, estimator: Any, space: Space, plan: Plan, *, seed: int, **common: Any) -> BatchedSearch:
        distributions = to_scipy_distributions(space, name=estimator_param_name)
        return BatchedRandomizedSearchCV(
            estimator, distributions, n_iter=plan.settings["n_iter"], random_state=seed, **common
        )


class BayesSearch(SklearnSearchMethod):
    """skopt's ``BayesSearchCV`` (Gaussian process, ask/tell) with ``n_iter`` as for random search."""

    name = "bayes"

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        n_iter, planned, note = n_trials_plan(budget, folds, "Bayesian search")
        start = initial_random_points(n_iter)
        settings = {"n_iter": n_iter, "n_initial_points": start}
        return Plan(settings, planned, note)

    def _make_search(self, estimator: Any, space: Space, plan: Plan, *, seed: int, **common: Any) -> BatchedSearch:
        dimensions = to_skopt_dimensions(space, name=estimator_param_name)
        n_points = max(1, effective_n_jobs(common["n_jobs"]))
        return BatchedBayesSearchCV(
            estimator,
            dimensions,
            n_iter=plan.settings["n_iter"],
            n_points=n_points,
            optimizer_kwargs={"n_initial_points": plan.settings["n_initial_points"]},
            random_state=seed,
            **common,
        )


def halving_epochs(n_candidates: int, min_epochs: int, max_epochs: int, factor: int) -> int:
    """Epochs ``HalvingRandomSearchCV`` trains with epochs as its resource.

    Mirrors its schedule: iterations = min(possible, required); iteration i trains the
    surviving ceil(n / factor^i) candidates from scratch for min_epochs x factor^i epochs.
    """
    required = 1 + math.floor(math.log(n_candidates, factor))
    possible = 1 + math.floor(math.log(max_epochs // min_epochs, factor))
    total, candidates = 0, n_candidates
    for i in range(min(possible, required)):
        total += candidates * min(int(factor**i * min_epochs), max_epochs)
        candidates = math.ceil(candidates / factor)
    return total


class HalvingRandomSearch(SklearnSearchMethod):
    """``HalvingRandomSearchCV`` with epochs as the resource: many short trials, few full ones.

    The top rung trains ``epochs_per_trial`` epochs (``halving_rungs``), and there are at
    least factor^(rungs - 1) candidates, so that survivors always reach it; the number of
    candidates is the one whose rungs together come closest to the budget. When the budget
    cannot pay for every rung, the lowest rungs are dropped, never the top one.
    """

    name = "halving"

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        max_epochs = budget.epochs_per_trial
        factor, first, rungs = halving_rungs(max_epochs)
        target = budget.total_epochs / folds
        for dropped in range(rungs):
            min_epochs = first * factor**dropped
            fewest = factor ** (rungs - 1 - dropped)
            if halving_epochs(fewest, min_epochs, max_epochs, factor) <= (1 + BUDGET_TOLERANCE) * target:
                break
        else:
            raise InvalidBudgetError(
                f"a budget of {budget.total_epochs} epochs cannot pay for one {folds}-fold trial of {max_epochs} epochs"
            )
        n_candidates = fewest
        while halving_epochs(n_candidates + 1, min_epochs, max_epochs, factor) <= target:
            n_candidates += 1
        over = n_candidates + 1
        if abs(halving_epochs(over, min_epochs, max_epochs, factor) - target) < abs(
            halving_epochs(n_candidates, min_epochs, max_epochs, factor) - target
        ):
            n_candidates = over
        planned = halving_epochs(n_candidates, min_epochs, max_epochs, factor) * folds
        settings = {"n_candidates": n_candidates, "factor": factor, "min_epochs": min_epochs, "max_epochs": max_epochs}
        note = budget_note(planned, budget.total_epochs, f"halving from {n_candidates} candidates")
        return Plan(settings, planned, note)

    def _make_search(self, estimator: Any, space: Space, plan: Plan, *, seed: int, **common: Any) -> BatchedSearch:
        distributions = to_scipy_distributions(space, name=estimator_param_name)
        return BatchedHalvingRandomSearchCV(
            estimator,
            distributions,
            n_candidates=plan.settings["n_candidates"],
            factor=plan.settings["factor"],
            resource="epochs",
            min_resources=plan.settings["min_epochs"],
            max_resources=plan.settings["max_epochs"],
            random_state=seed,
            **common,
        )
