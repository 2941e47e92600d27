"""What every search method shares: the problem it sees, its budget, its plan and its result."""

from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from tuning.errors import InvalidBudgetError, TuningError, UnsupportedOptionError
from tuning.execution import Execution
from tuning.metrics import Metric
from tuning.space import Space
from tuning.training import AfterEpoch, Builder, Evaluation, SearchProblem

__all__ = [
    "Builder",
    "Budget",
    "Plan",
    "RunOptions",
    "SearchMethod",
    "SearchProblem",
    "SearchResult",
    "Status",
    "Trial",
    "TrialCallback",
    "TrialRecorder",
    "sampler_seed",
]

# The share of a budget a plan may miss before it must explain why.
BUDGET_TOLERANCE = 0.05


class Status(StrEnum):
    """How a trial ended; its value is the plain string result rows store."""

    OK = "ok"
    FAILED = "failed"


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
    status: Status = Status.OK
    error: str = ""
    # The process that trained it: with --jobs or a Dask cluster, trials run elsewhere.
    worker_pid: int = 0
    # Seconds per phase of its training and scoring, and programs lowered (``tuning.phases``).
    phases: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == Status.OK


TrialCallback = Callable[[Trial], None]


class TrialRecorder:
    """The one place where a search's trials are evaluated and recorded.

    ``evaluate`` trains candidates by the problem's recipe (its ``Trainer``) with the search's
    seed; every evaluation becomes a ``Trial`` in ``record``, numbered in the order trials
    finish, and is reported to the search at once. Methods propose candidates and read the
    trials back; a library that evaluates in its own loop (scikit-learn's k-fold) hands its
    results to ``record``.
    """

    def __init__(self, problem: SearchProblem, seed: int, on_trial: TrialCallback) -> None:
        self.problem, self.seed, self.on_trial = problem, seed, on_trial
        self.count = 0

    def evaluate(self, params: Mapping[str, Any], *, epochs: int, after_epoch: AfterEpoch | None = None) -> Trial:
        """Train ``params`` for ``epochs`` epochs and record the trial.

        With ``after_epoch`` (per-epoch scores, for pruning) a fit it stops early is an
        evaluation at the fidelity it reached.
        """
        evaluation = self.problem.trainer.evaluate(
            self.problem, params, epochs=epochs, seed=self.seed, after_epoch=after_epoch
        )
        stopped = after_epoch is not None and 0 < evaluation.epochs < epochs
        return self.record(params, evaluation, fidelity=evaluation.epochs if stopped else epochs)

    def evaluate_batch(self, candidates: Sequence[Mapping[str, Any]], *, epochs: int, n_jobs: int) -> list[Trial]:
        """``evaluate`` for each candidate, ``n_jobs`` at a time through joblib (a Dask cluster's,
        in ``Execution.joblib_context``); recorded in the candidates' order."""
        from joblib import Parallel, delayed

        evaluations = Parallel(n_jobs=n_jobs)(
            delayed(self.problem.trainer.evaluate)(self.problem, params, epochs=epochs, seed=self.seed)
            for params in candidates
        )
        return [self.record(p, e, fidelity=epochs) for p, e in zip(candidates, evaluations, strict=True)]

    def record(self, params: Mapping[str, Any], evaluation: Evaluation, *, fidelity: int) -> Trial:
        """The trial ``evaluation`` makes of ``params`` at ``fidelity`` epochs, reported and returned."""
        trial = Trial(
            number=self.count,
            params=dict(params),
            val_score=evaluation.val_score if evaluation.ok else math.nan,
            epochs=evaluation.epochs,
            fidelity=fidelity,
            started_at=evaluation.started_at,
            finished_at=evaluation.finished_at,
            status=Status.OK if evaluation.ok else Status.FAILED,
            error=evaluation.error,
            worker_pid=evaluation.worker_pid,
            phases=dict(evaluation.phases),
        )
        self.count += 1
        self.on_trial(trial)
        return trial


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
    execution: Execution
    trials: TrialRecorder


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
    # Seconds in the method's own library choosing and bookkeeping candidates (skopt's and Keras
    # Tuner's Gaussian processes, Optuna's TPE, scikit-learn's samplers); NaN where its trials
    # are proposed in another process (Keras Tuner's chief).
    proposal_seconds: float = math.nan

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
    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> float:
        """Evaluate the plan's candidates through ``options.trials``, which records each trial once.

        Returns the seconds the method's library spent proposing candidates, as
        ``SearchResult.proposal_seconds`` reports them.
        """

    def search(
        self,
        problem: SearchProblem,
        space: Space,
        budget: Budget,
        *,
        seed: int = 0,
        cv: int | None = None,
        execution: Execution | None = None,
        on_trial: TrialCallback | None = None,
    ) -> SearchResult:
        """Search ``space`` within ``budget``; ``execution`` says where trials run (None: one at a time, here).

        An execution that is not entered yet is entered for this search only.
        """
        if execution is None:
            execution = Execution()
        elif not isinstance(execution, Execution):
            raise TuningError(f"execution must be a tuning.execution.Execution, got {execution!r}")
        plan = self.plan(space, budget, folds=validation_folds(cv))
        stream = sampler_seed(self.name, seed)
        trials: list[Trial] = []

        def record(trial: Trial) -> None:
            trials.append(trial)
            if on_trial is not None:
                on_trial(trial)

        # The joblib backend is chosen per thread: this one runs the search.
        with execution, execution.joblib_context():
            started = problem.trainer.clock()
            recorder = TrialRecorder(problem, seed, record)
            proposal = self._run(
                problem, space, plan, RunOptions(seed, stream, budget.epochs_per_trial, cv, execution, recorder)
            )
            finished = problem.trainer.clock()
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
            proposal_seconds=proposal,
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
