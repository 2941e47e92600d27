"""The trial recipe: how every method, and the final refit, trains and scores one configuration.

A configuration's score at a fidelity is a fixed function of (configuration, epochs, seed):
clear the Keras session, seed Keras, build, train ``epochs`` epochs on the training split
with no early stopping, and score the model as trained, at its last epoch, on the
validation split with the problem's ``Metric``. A trial that diverges still trains all its
epochs, so it spends exactly what its plan said; it is recorded as failed afterwards.

A ``SearchProblem`` is the recipe's input (the data a search sees, its metric, the builder and
the ``Trainer``); every method searches one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuning.errors import TuningError
from tuning.metrics import Metric, get_metric
from tuning.phases import CLOCK
from tuning.space import Space
from tuning.splits import TrainValidation

__all__ = [
    "FIT_PARAMS",
    "Builder",
    "SearchProblem",
    "PREDICT_BATCH_SIZE",
    "AfterEpoch",
    "Evaluation",
    "Fitted",
    "TestScorer",
    "Trainer",
    "fit_divergence",
    "prediction_divergence",
    "error_line",
    "fit_configuration",
    "fit_on_problem",
    "fresh_keras_state",
    "predict",
    "prepare_fit",
    "score",
]

# Hyperparameters that belong to Model.fit; every other one goes to the builder.
FIT_PARAMS = frozenset({"batch_size", "epochs"})
# Predicting keeps no gradients, so large batches cost little memory and save Keras' per-batch overhead.
PREDICT_BATCH_SIZE = 8192


def fresh_keras_state() -> None:
    """Drop Keras' global state before a new model is built, so that its layers get the same names
    as an earlier model of the same configuration (``tuning.programs`` then shares its programs).

    With sharing off (``tuning.programs.REUSE_SWITCH``), JAX's caches are cleared too: they
    keep every earlier model's compiled steps, and without sharing no later model reuses them.
    With sharing on, ``tuning.programs.PROGRAM_LIMIT`` bounds what is kept.
    """
    import keras

    from tuning.programs import reuse_enabled

    keras.backend.clear_session(free_memory=False)
    if keras.backend.backend() == "jax" and not reuse_enabled():
        import jax

        jax.clear_caches()


def prepare_fit(model: Any) -> list[Any]:
    """What every fit does first; returns the callbacks it needs beside the caller's.

    Under JAX, the training steps run 32 at a time in one compiled call
    (``tuning.compat.keras.scan_steps``): the same training, with faster epochs
    (reports/perf.md), and a model shares the compiled programs of an earlier model of the
    same configuration (``tuning.programs``). The callbacks hold a ``ScheduleClock``, which
    gives learning-rate schedules the fit's length. A fit trains all its epochs; callers
    detect divergence afterwards, from the loss history. The wrappers and ``SpaceHyperModel``
    do this themselves; call it before a direct ``Model.fit``.
    """
    from tuning.compat.keras import scan_steps
    from tuning.keras_schedules import ScheduleClock
    from tuning.programs import share_programs

    scan_steps(model)
    share_programs(model)
    return [ScheduleClock()]


def error_line(exc: BaseException) -> str:
    """An exception as one line, ``Type: first line of its message``, as every trial record shows it."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def fit_divergence(history: Mapping[str, Sequence[float]]) -> str:
    """Why a fit failed if its training loss ever left the finite numbers, else ""."""
    return "" if np.all(np.isfinite(history.get("loss", []))) else "diverged: non-finite training loss"


def prediction_divergence(predictions: Any) -> str:
    """Why a model failed if its (floating-point) predictions are not all finite, else ""."""
    values = np.asarray(predictions)
    if np.issubdtype(values.dtype, np.floating) and not np.all(np.isfinite(values)):
        return "diverged: non-finite predictions"
    return ""


@dataclass(frozen=True)
class Fitted:
    """A trained model, its per-epoch history, and why it failed ("" when it did not)."""

    model: Any
    history: dict[str, list[float]] = field(default_factory=dict)
    error: str = ""

    @property
    def epochs(self) -> int:
        return len(self.history.get("loss", []))

    @property
    def ok(self) -> bool:
        return not self.error


def fit_configuration(
    build: Callable[[], Any],
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    seed: int,
    batch_size: int | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    callbacks: Sequence[Any] = (),
) -> Fitted:
    """Train one configuration by the recipe; a raising or diverging fit comes back with its error.

    ``batch_size=None`` is Keras' default (32). ``validation`` only adds per-epoch validation
    curves to the history (the study plots them); it does not change the training.
    """
    import keras

    from tuning.compat.keras import seeds_of_its_own

    with CLOCK.phase("reset"):
        fresh_keras_state()
        keras.utils.set_random_seed(seed)
    model = None
    try:
        with CLOCK.phase("build"), seeds_of_its_own(seed):
            model = build()
        with CLOCK.phase("train"):
            fitted = model.fit(
                x,
                y,
                epochs=epochs,
                batch_size=batch_size,
                shuffle=True,
                validation_data=validation,
                verbose=0,
                callbacks=[*prepare_fit(model), *callbacks],
            )
    except Exception as exc:  # a configuration that cannot train is a failed trial, not a failed search
        return Fitted(model, {}, error_line(exc))
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    return Fitted(model, history, fit_divergence(history))


def fit_on_problem(
    problem: SearchProblem, params: Mapping[str, Any], *, epochs: int, seed: int, callbacks: Sequence[Any] = ()
) -> Fitted:
    """``params`` (builder and fit-level values) trained by the recipe on ``problem``'s training split.

    How Keras Tuner's and Optuna's trials and the final refit train a configuration, with
    ``problem.build``; the scikit-learn searches make the same calls through the scikeras wrappers.
    """
    values = {**problem.fixed, **params}
    builder_values = {k: v for k, v in values.items() if k not in FIT_PARAMS}
    return fit_configuration(
        lambda: problem.build(input_shape=problem.input_shape, n_classes=problem.n_classes, **builder_values),
        problem.x_train,
        problem.y_train,
        epochs=epochs,
        batch_size=values.get("batch_size"),
        seed=seed,
        callbacks=callbacks,
    )


def predict(model: Any, x: np.ndarray, metric: Metric) -> np.ndarray:
    """What ``metric`` scores, one per row of ``x``: class probabilities, class labels (their
    argmax) or regression values."""
    output = np.asarray(model.predict(x, batch_size=PREDICT_BATCH_SIZE, verbose=0))
    if not metric.classification:
        return output.reshape(len(x))
    return output if metric.probabilities else output.argmax(axis=-1)


def score(model: Any, x: np.ndarray, y: np.ndarray, metric: Metric) -> float:
    """The metric of the model as trained on ``(x, y)``; NaN when its predictions are not finite."""
    predictions = predict(model, x, metric)
    return math.nan if prediction_divergence(predictions) else metric(y, predictions)


@dataclass(frozen=True)
class Evaluation:
    """What one trial came to: its validation score, the epochs it trained, why it failed ("" when
    it did not), when, and where. Small enough to travel back from a joblib worker."""

    val_score: float
    epochs: int
    error: str
    started_at: float
    finished_at: float
    worker_pid: int
    # Seconds per phase of the trial (``tuning.phases``); empty where nothing was timed (a replay).
    phases: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error


# Told (epochs trained, validation score) after each epoch but the last; True stops the fit there.
AfterEpoch = Callable[[int, float], bool]
# Scores a final model on held-out data (x, y), once.
TestScorer = Callable[[np.ndarray, np.ndarray], float]


def _epoch_scores(problem: SearchProblem, epochs: int, after_epoch: AfterEpoch) -> Any:
    """A callback that scores the model after each epoch but the last and stops the fit where
    ``after_epoch`` says (Keras is imported only when a fit needs it)."""
    import keras

    class EpochScores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            trained = epoch + 1
            if trained == epochs:
                return  # the fit ends here anyway, and its score is the evaluation's
            with CLOCK.phase("score"):
                value = score(self.model, problem.x_val, problem.y_val, problem.metric)
            if after_epoch(trained, value):
                self.model.stop_training = True

    return EpochScores()


class Trainer:
    """How every method, and the final refit, trains and scores a configuration: by the recipe, in Keras.

    A ``SearchProblem`` carries one. ``benchmarks.curves.replay`` gives problems a trainer
    that replays recorded learning curves instead, behind the same calls, with a clock that
    adds the recorded training time to the real time; every time stamp of a search comes from
    ``clock``.
    """

    # Whether scikit-learn's searches may train through the scikeras wrappers, which make the
    # same calls as ``fit_on_problem``; a trainer that does not train Keras models says False.
    trains_keras_models = True

    def clock(self) -> float:
        return time.time()

    def evaluate(
        self,
        problem: SearchProblem,
        params: Mapping[str, Any],
        *,
        epochs: int,
        seed: int,
        after_epoch: AfterEpoch | None = None,
    ) -> Evaluation:
        """Train ``params`` for ``epochs`` epochs and score the model on the validation split.

        With ``after_epoch``, the score after every earlier epoch is told to it, and the fit
        stops where it returns True; the evaluation is then the model's at that epoch.
        """
        evaluation, _ = self.refit(problem, params, epochs=epochs, seed=seed, after_epoch=after_epoch)
        return evaluation

    def refit(
        self,
        problem: SearchProblem,
        params: Mapping[str, Any],
        *,
        epochs: int,
        seed: int,
        after_epoch: AfterEpoch | None = None,
    ) -> tuple[Evaluation, TestScorer]:
        """``evaluate``, and a function that scores the trained model on held-out data."""
        started = self.clock()
        CLOCK.take()  # the trial's phases start here
        callbacks = [] if after_epoch is None else [_epoch_scores(problem, epochs, after_epoch)]
        fitted = fit_on_problem(problem, params, epochs=epochs, seed=seed, callbacks=callbacks)
        value, error = math.nan, fitted.error
        if fitted.ok:
            with CLOCK.phase("score"):
                predictions = predict(fitted.model, problem.x_val, problem.metric)
                error = prediction_divergence(predictions)
                if not error:
                    value = problem.metric(problem.y_val, predictions)
        evaluation = Evaluation(value, fitted.epochs, error, started, self.clock(), os.getpid(), CLOCK.take())
        return evaluation, lambda x, y: score(fitted.model, x, y, problem.metric)


# A Keras model builder: ``build(input_shape=..., n_classes=..., **hyperparameters)`` -> compiled model.
Builder = Callable[..., Any]


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
    (``Trainer``: the recipe, in Keras).
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
