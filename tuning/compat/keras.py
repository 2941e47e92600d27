"""The learning rate a Keras optimizer was built with. Written against Keras 3.15.1."""

from __future__ import annotations

from typing import Any

from tuning.compat import PrivateName, check_private_api

__all__ = ["PRIVATE_API", "check", "learning_rate_as_given"]

LIBRARY = "keras"
WRITTEN_AGAINST = "3.15.1"
PRIVATE_API = (PrivateName("keras.optimizers", "Optimizer._learning_rate"),)


def check() -> None:
    """An ``IncompatibleLibraryError`` for the first name of ``PRIVATE_API`` that the installed Keras lacks."""
    check_private_api(__name__, LIBRARY, WRITTEN_AGAINST, PRIVATE_API)


def learning_rate_as_given(optimizer: Any) -> Any:
    """The optimizer's ``LearningRateSchedule``, or the variable of a constant rate; None if it has neither.

    Keras 3 keeps what it was given on a private attribute: ``optimizer.learning_rate``
    is the current rate, computed from the schedule.
    """
    return getattr(optimizer, "_learning_rate", None)
