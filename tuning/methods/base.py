"""What every search method shares: the problem it sees, its budget, its plan and its result."""

from __future__ import annotations

import math
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuning.errors import InvalidBudgetError, TuningError, UnsupportedOptionError
from tuning.metrics import Metric, metric_for
from tuning.space import Space, grid_levels
from tuning.splits import Split

__all__ = [
    "Budget",
    "Plan",
    "RunOptions",
    "SearchMethod",
    "SearchProblem",
    "SearchResult",
    "Trial",
    "TrialCallback",
    "sampler_seed",
]

OK, FAILED = "ok", "failed"
# The share of a budget a plan may miss before it must explain why.
BUDGET_TOLERANCE = 0.05


@dataclass(frozen=True)
class SearchProblem:
    """Train and validation data only: a search cannot reach the test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classification: bool
    fixed: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_split(cls, split: Split, *, classification: bool, fixed: Mapping[str, Any] | None = None) -> SearchProblem:
        return cls(split.x_train, split.y_train, split.x_val, split.y_val, classification, dict(fixed or {}))

    @property
    def metric(self) -> Metric:
        return metric_for(self.classification)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int | None:
        return int(np.max(self.y_train)) + 1 if self.classification else None


@dataclass(frozen=True)
class Budget:
    """Epochs of training a whole search may spend, and the epochs of one full trial."""

    total_epochs: int
    epochs_per_trial: int

    def __post_init__(self) -> None:
        for name in ("total_epochs", "epochs_per_trial"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidBudgetError(f"{name} must be a positive integer, got {value!r}")
        if self.epochs_per_trial > self.total_epochs:
            raise InvalidBudgetError(
                f"a budget of {self.total_epochs} epochs cannot pay for one trial of {self.epochs_per_trial} epochs"
            )


@dataclass(frozen=True)
class Plan:
    """How a method spends a budget: its configuration, the epochs it expects, and why."""

    settings: Mapping[str, Any]
    planned_epochs: int
    note: str = ""


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration. ``val_score`` is in the metric's natural units.

    ``fidelity`` is the epochs of one fit at this evaluation's rung (a full trial's epochs
    except in multi-fidelity methods); ``epochs`` what it trained in all, over every fold.
    """

    number: int
    params: Mapping[str, Any]
    val_score: float
    epochs: int
    fidelity: int
    started_at: float
    finished_at: float
    status: str = OK
    error: str = ""
    # The process that trained it: with --jobs or a Dask cluster, trials run elsewhere.
    worker_pid: int = 0

    @property
    def ok(self) -> bool:
        return self.status == OK


TrialCallback = Callable[[Trial], None]


@dataclass(frozen=True)
class RunOptions:
    """How a search runs, as opposed to what it searches.

    ``seed`` fixes the data's order and the models' initialisation, shared by every method
    so that one configuration scores the same wherever it is trained; ``sampler_seed`` is
    the method's own random stream for choosing configurations.
    """

    seed: int
    sampler_seed: int
    epochs_per_trial: int
    cv: int | None
    n_jobs: int
    on_trial: TrialCallback
    # Keras Tuner methods: worker processes beside a chief on this machine (0: in this process).
    tuner_workers: int = 0


@dataclass(frozen=True)
class SearchResult:
    method: str
    metric: Metric
    best_params: Mapping[str, Any]
    best_val_score: float
    trials: tuple[Trial, ...]
    plan: Plan
    sampler_seed: int
    started_at: float
    finished_at: float

    @property
    def n_evaluations(self) -> int:
        return len(self.trials)

    @property
    def epochs_trained(self) -> int:
        return sum(t.epochs for t in self.trials)

    @property
    def n_failed(self) -> int:
        return sum(not t.ok for t in self.trials)


def validation_folds(cv: int | None) -> int:
    """1 for the holdout validation split, else the number of folds."""
    if cv is None:
        return 1
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise TuningError(f"cv must be None (holdout) or an integer >= 2, got {cv!r}")
    return cv


class SearchMethod(ABC):
    """A search method says which candidates to try; timing, bookkeeping and the result live here."""

    name: str

    def check_holdout(self, folds: int) -> None:
        """For methods whose library scores one validation split only (no k-fold mode)."""
        if folds != 1:
            raise UnsupportedOptionError(f"{self.name} scores on the holdout split only, got {folds} folds")

    @abstractmethod
    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        """How this method spends ``budget`` on ``space``; pure, no training."""

    @abstractmethod
    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> None:
        """Evaluate the plan's candidates, calling ``options.on_trial`` once per finished trial."""

    def search(
        self,
        problem: SearchProblem,
        space: Space,
        budget: Budget,
        *,
        seed: int = 0,
        cv: int | None = None,
        n_jobs: int = 1,
        on_trial: TrialCallback | None = None,
        tuner_workers: int = 0,
    ) -> SearchResult:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise TuningError(f"n_jobs must be a positive integer, got {n_jobs!r}")
        plan = self.plan(space, budget, folds=validation_folds(cv))
        stream = sampler_seed(self.name, seed)
        trials: list[Trial] = []

        def record(trial: Trial) -> None:
            trials.append(trial)
            if on_trial is not None:
                on_trial(trial)

        started = time.time()
        options = RunOptions(seed, stream, budget.epochs_per_trial, cv, n_jobs, record, tuner_workers)
        self._run(problem, space, plan, options)
        finished = time.time()
        metric = problem.metric
        best = best_trial(trials, metric, fidelity=budget.epochs_per_trial)
        return SearchResult(
            method=self.name,
            metric=metric,
            best_params=dict(best.params) if best else {},
            best_val_score=best.val_score if best else math.nan,
            trials=tuple(trials),
            plan=plan,
            sampler_seed=stream,
            started_at=started,
            finished_at=finished,
        )


def best_trial(trials: list[Trial], metric: Metric, *, fidelity: int) -> Trial | None:
    """The best successful trial at full ``fidelity``; ties go to the earliest, so the choice is reproducible.

    Lower rungs of a multi-fidelity method only prune: their scores come from shorter
    training than the final model's, so they never make a winner.
    """
    best = None
    for t in trials:
        if not (t.ok and t.fidelity == fidelity and math.isfinite(t.val_score)):
            continue
        if best is None or metric.better(t.val_score, best.val_score):
            best = t
    return best


def sampler_seed(method: str, seed: int) -> int:
    """The seed of ``method``'s own random stream in repetition ``seed``.

    Two methods that shared a stream would draw the same first candidates (random search
    and halving did), and the comparison would no longer be between methods.
    """
    entropy = np.random.SeedSequence([seed, zlib.crc32(method.encode())]).generate_state(1)[0]
    return int(entropy >> 1)  # 31 bits: some libraries take only a signed 32-bit seed


def initial_random_points(n_trials: int) -> int:
    """How many random trials a Bayesian method starts with: a third of its trials, at least 2.

    The libraries' defaults (skopt: 10; Keras Tuner: 3 per hyperparameter, 24 for the
    benchmark's space) would spend all or nearly all of a 12-trial budget before the model
    guides a single trial: Keras Tuner's Bayesian search then equals its random search.
    """
    return max(2, n_trials // 3)


def n_trials_plan(budget: Budget, folds: int, what: str) -> tuple[int, int, str]:
    """The number of full trials closest to the budget, the epochs they spend, and a note if that misses it."""
    per_trial = budget.epochs_per_trial * folds
    n = max(1, round(budget.total_epochs / per_trial))
    if per_trial > (1 + BUDGET_TOLERANCE) * budget.total_epochs:
        raise InvalidBudgetError(
            f"a budget of {budget.total_epochs} epochs cannot pay for one {folds}-fold trial of {per_trial} epochs"
        )
    planned = n * per_trial
    return n, planned, budget_note(planned, budget.total_epochs, f"{what} of {n} trials x {per_trial} epochs")


def budget_note(planned: int, budget: int, plan: str) -> str:
    """Why a plan misses its budget by more than the tolerance, or "" when it does not."""
    if abs(planned - budget) <= BUDGET_TOLERANCE * budget:
        return ""
    return f"{plan} spends {planned} of {budget} epochs, the closest this method's schedule allows"


def grid_plan(space: Space, budget: Budget, folds: int) -> Plan:
    """The largest product grid whose full trials the budget pays for (the rule is in ``tuning.space``).

    Shared by every grid method, so that they all search the same points.
    """
    max_points, _, _ = n_trials_plan(budget, folds, "grid")
    levels = grid_levels(space, max_points)
    n_points = math.prod(levels.values())
    planned = n_points * budget.epochs_per_trial * folds
    note = budget_note(planned, budget.total_epochs, f"the largest product grid within {max_points} points")
    return Plan({"max_points": max_points, "n_points": n_points, "levels": levels}, planned, note)


def halving_rungs(epochs_per_trial: int) -> tuple[int, int, int]:
    """(factor, epochs of the first rung, number of rungs) of a successive-halving schedule ending on a full trial.

    scikit-learn's halving reaches its ``max_resources`` only when it is the first rung's
    resources times a power of the factor, so the rungs are ``epochs_per_trial / factor^k``
    ... ``epochs_per_trial``: factor 3 when 3 divides the trial's epochs, else its smallest
    prime factor (8 epochs: 1, 2, 4, 8; 10 epochs: 5, 10; 9 epochs: 1, 3, 9).
    """
    divisors = [f for f in range(2, epochs_per_trial + 1) if epochs_per_trial % f == 0]
    factor = 3 if epochs_per_trial % 3 == 0 or not divisors else divisors[0]
    first, rungs = epochs_per_trial, 1
    while first % factor == 0:
        first //= factor
        rungs += 1
    return factor, first, rungs
