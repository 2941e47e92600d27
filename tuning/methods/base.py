"""What every search method shares: the problem it sees, its budget, its plan and its result."""

from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from tuning.errors import InvalidBudgetError, TuningError, UnsupportedOptionError
from tuning.execution import Execution
from tuning.metrics import Metric, get_metric
from tuning.space import Space
from tuning.splits import TrainValidation
from tuning.training import Trainer, fresh_keras_state

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
    "sampler_seed",
]

# A Keras model builder: ``build(input_shape=..., n_classes=..., **hyperparameters)`` -> compiled model.
Builder = Callable[..., Any]

# The share of a budget a plan may miss before it must explain why.
BUDGET_TOLERANCE = 0.05


class Status(StrEnum):
    """How a trial ended; its value is the plain string result rows store."""

    OK = "ok"
    FAILED = "failed"


def _default_builder() -> Builder:
    from tuning.models import build_model

    return build_model


@dataclass(frozen=True)
class SearchProblem(TrainValidation):
    """What a search sees: train and validation data (never the test set), the metric, and the model.

    ``build(input_shape=..., n_classes=..., **hyperparameters)`` returns a compiled Keras
    model; ``input_shape`` is one sample's shape (``x_train.shape[1:]``: images keep theirs)
    and ``n_classes`` is None for regression. Every method builds through it. ``fixed`` holds
    builder or fit values that are not searched. ``metric`` is a ``Metric`` or a registered
    metric's name. ``trainer`` trains and scores every trial and gives the search its clock
    (``tuning.training.Trainer``: the recipe, in Keras).
    """

    metric: Metric
    fixed: Mapping[str, Any] = field(default_factory=dict)
    build: Builder = field(default_factory=_default_builder)
    trainer: Trainer = field(default_factory=Trainer)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metric", get_metric(self.metric))
        if not callable(self.build):
            raise TuningError(f"build must be a callable that returns a compiled Keras model, got {self.build!r}")

    @classmethod
    def from_split(
        cls,
        split: TrainValidation,
        *,
        metric: Metric | str,
        fixed: Mapping[str, Any] | None = None,
        build: Builder | None = None,
    ) -> SearchProblem:
        builder = {} if build is None else {"build": build}
        return cls(split.x_train, split.y_train, split.x_val, split.y_val, metric, dict(fixed or {}), **builder)

    @property
    def classification(self) -> bool:
        return self.metric.classification

    def check(self, space: Space) -> None:
        """Build one model, at the centre of ``space``, and run it on two training rows, before any training.

        A ``TuningError`` names what does not fit: a parameter the builder does not accept, a
        builder that raises or returns something other than a compiled Keras model, data its
        model cannot take, or an output that does not match the metric's task.
        """
        import inspect

        import keras

        from tuning.training import FIT_PARAMS, error_line

        builder = getattr(self.build, "__name__", repr(self.build))
        values = {**self.fixed, **{p.name: p.center for p in space}}
        arguments = {k: v for k, v in values.items() if k not in FIT_PARAMS}
        try:
            signature = inspect.signature(self.build)
        except (TypeError, ValueError):
            signature = None
        if signature is not None and not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            for name in ("input_shape", "n_classes", *arguments):
                if name not in signature.parameters:
                    raise TuningError(f"builder {builder} does not accept parameter {name!r}")
        fresh_keras_state()
        try:
            model = self.build(input_shape=self.input_shape, n_classes=self.n_classes, **arguments)
        except Exception as exc:  # the user's builder: its failure is a bad input, named
            raise TuningError(f"builder {builder} raised for {arguments}: {error_line(exc)}") from None
        if not isinstance(model, keras.Model):
            raise TuningError(f"builder {builder} returned {type(model).__name__}, not a keras.Model")
        if not model.compiled:
            raise TuningError(f"builder {builder} returned a model that is not compiled (call model.compile)")
        try:
            output = keras.ops.convert_to_numpy(model(self.x_train[:2], training=False))
        except Exception as exc:  # data of the wrong shape or dtype for the model
            raise TuningError(
                f"data of shape {self.input_shape} per sample does not fit the model of builder {builder}: "
                f"{error_line(exc)}"
            ) from None
        expected = (2, self.n_classes) if self.classification else (2, 1)
        if output.reshape(2, -1).shape != expected:
            task = f"{self.n_classes} classes" if self.classification else "one regression output"
            raise TuningError(
                f"builder {builder}'s model outputs shape {output.shape[1:]} per sample; metric "
                f"{self.metric.name!r} needs {task}"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def n_classes(self) -> int | None:
        if not self.classification:
            return None
        return int(max(np.max(self.y_train), np.max(self.y_val))) + 1


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
    on_trial: TrialCallback


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
        """Evaluate the plan's candidates, calling ``options.on_trial`` once per finished trial.

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
            proposal = self._run(
                problem, space, plan, RunOptions(seed, stream, budget.epochs_per_trial, cv, execution, record)
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
