"""Learning-rate schedules over one fit, as the builder's searchable ``lr_schedule``.

Every schedule is a function of training progress ``p = step / (steps_per_epoch * epochs)``,
so one name means the same shape at any batch size or epoch count:

* ``constant``: ``lr0``
* ``step``: ``lr0 * 0.5 ** floor(4 p)``, halved at each quarter of training
* ``exponential``: ``lr0 * 0.01 ** p``, down to 1% at the end
* ``cosine``: ``lr0 * (0.01 + 0.99 * (1 + cos(pi p)) / 2)``, cosine annealing to 1%
* ``warmup_cosine``: linear warm-up ``lr0 * p / 0.1`` over the first 10% of steps, then
  ``cosine`` over the remaining progress ``(p - 0.1) / 0.9``

The names and constants live here, free of Keras, so that a space or a study can name a
schedule without importing it; ``tuning.keras_schedules`` makes them Keras objects. Keras hands a
schedule only the optimizer step; ``tuning.keras_schedules.ScheduleClock``, a callback, gives it
the fit's steps per epoch and epochs when training begins, and every fit in this package adds it.
"""

from __future__ import annotations

__all__ = ["FINAL_FRACTION", "SCHEDULES", "STEP_DROP", "STEP_PERIODS", "WARMUP_FRACTION"]

# Every schedule's name, as the builders' ``lr_schedule`` takes it.
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup_cosine")
STEP_DROP = 0.5
STEP_PERIODS = 4
FINAL_FRACTION = 0.01
WARMUP_FRACTION = 0.1
