"""The learning-rate schedules of ``tuning.schedules`` as Keras objects: ``EpochSchedule`` (a
``LearningRateSchedule``), ``ScheduleClock`` (the callback that tells it the fit's length) and
``learning_rate_for`` (what a builder gives its optimizer)."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from tuning.compat.keras import learning_rate_as_given
from tuning.errors import TuningError
from tuning.schedules import FINAL_FRACTION, SCHEDULES, STEP_DROP, STEP_PERIODS, WARMUP_FRACTION

__all__ = ["EpochSchedule", "ScheduleClock", "learning_rate_for"]


@keras.saving.register_keras_serializable(package="tuning")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """One of ``SCHEDULES`` stretched over a fit of ``epochs`` epochs of ``steps_per_epoch`` steps."""

    def __init__(
        self,
        kind: str,
        initial_learning_rate: float,
        *,
        steps_per_epoch: int | None = None,
        epochs: int | None = None,
        step_offset: int = 0,
    ) -> None:
        if kind not in SCHEDULES:
            raise TuningError(f"unknown lr_schedule {kind!r}; choose one of {list(SCHEDULES)}")
        if not initial_learning_rate > 0:
            raise TuningError(f"learning_rate must be > 0, got {initial_learning_rate!r}")
        self.kind = kind
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        # Steps already taken before this fit's optimizer started counting (a resumed fit).
        self.step_offset = step_offset

    def __call__(self, step: Any) -> Any:
        if not self.steps_per_epoch or not self.epochs:
            raise TuningError(
                f"the {self.kind!r} learning-rate schedule does not know the length of the fit: "
                "pass tuning.keras_schedules.ScheduleClock() in Model.fit's callbacks"
            )
        total = float(self.steps_per_epoch * self.epochs)
        # Steps past the planned end keep the final rate.
        progress = ops.minimum((ops.cast(step, "float32") + self.step_offset) / total, 1.0)
        lr0 = self.initial_learning_rate
        if self.kind == "constant":
            return ops.ones_like(progress) * lr0
        if self.kind == "step":
            period = ops.minimum(ops.floor(progress * STEP_PERIODS), STEP_PERIODS - 1)
            return lr0 * ops.power(STEP_DROP, period)
        if self.kind == "exponential":
            return lr0 * ops.power(FINAL_FRACTION, progress)
        if self.kind == "cosine":
            return lr0 * _cosine(progress)
        after_warmup = ops.maximum(progress - WARMUP_FRACTION, 0.0) / (1.0 - WARMUP_FRACTION)
        return ops.where(progress < WARMUP_FRACTION, lr0 * progress / WARMUP_FRACTION, lr0 * _cosine(after_warmup))

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "initial_learning_rate": self.initial_learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "step_offset": self.step_offset,
        }


def _cosine(progress: Any) -> Any:
    return FINAL_FRACTION + (1.0 - FINAL_FRACTION) * 0.5 * (1.0 + ops.cos(math.pi * progress))


def learning_rate_for(kind: str, initial_learning_rate: float) -> float | EpochSchedule:
    """What the builder gives the optimizer: a plain float for ``constant``, else an ``EpochSchedule``."""
    if kind == "constant":
        if not initial_learning_rate > 0:
            raise TuningError(f"learning_rate must be > 0, got {initial_learning_rate!r}")
        return float(initial_learning_rate)
    return EpochSchedule(kind, initial_learning_rate)


class ScheduleClock(keras.callbacks.Callback):
    """Gives the model's ``EpochSchedule`` this fit's steps per epoch, epochs and starting point.

    A fit that resumes at ``initial_epoch`` (Keras Tuner's Hyperband continues a trial that
    way, with a fresh optimizer) starts its schedule where that epoch lies, whatever the
    optimizer's step count. The clock runs before the training step is traced, so the
    compiled step sees these as constants; a model fitted again with other lengths needs a
    fresh build, as every search method here does per trial.
    """

    def __init__(self) -> None:
        super().__init__()
        self._first_epoch = True

    def _schedule(self) -> EpochSchedule | None:
        schedule = learning_rate_as_given(self.model.optimizer)
        return schedule if isinstance(schedule, EpochSchedule) else None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        schedule = self._schedule()
        if schedule is not None:
            schedule.steps_per_epoch = int(self.params["steps"])
            schedule.epochs = int(self.params["epochs"])
            self._first_epoch = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        schedule = self._schedule()
        if schedule is not None and self._first_epoch:
            self._first_epoch = False
            iterations = int(self.model.optimizer.iterations)
            schedule.step_offset = epoch * schedule.steps_per_epoch - iterations
