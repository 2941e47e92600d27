"""The metrics a comparison scores with, each in its natural units, and a registry of them by name.

A ``Metric`` owns everything the toolkit needs to know about a score: its name, the function
that computes it from true targets and predictions, whether higher is better, whether it is
a classification metric (scored on predicted labels or class probabilities) or a regression
one, and the Keras metric that reports it during training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuning.errors import TuningError

__all__ = ["ACCURACY", "LOG_LOSS", "MAE", "METRICS", "RMSE", "Metric", "get_metric", "register_metric"]


def _accuracy(y_true: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(y_true.ravel() == labels.ravel()))


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y_true.ravel().astype(np.float64) - y_pred.ravel()) ** 2)))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y_true.ravel().astype(np.float64) - y_pred.ravel())))


def _log_loss(y_true: np.ndarray, probabilities: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y_true.ravel(), probabilities, labels=np.arange(probabilities.shape[1])))


def _majority_labels(y: np.ndarray) -> np.ndarray:
    values, counts = np.unique(y, return_counts=True)
    return np.full(len(y), values[np.argmax(counts)])


def _class_frequencies(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y.ravel().astype(np.int64))
    return np.tile(counts / counts.sum(), (len(y), 1))


def _mean(y: np.ndarray) -> np.ndarray:
    return np.full(len(y), float(np.mean(y)))


def _median(y: np.ndarray) -> np.ndarray:
    return np.full(len(y), float(np.median(y)))


@dataclass(frozen=True)
class Metric:
    """A score in its natural units.

    ``function(y_true, prediction)`` computes it. A classification metric with
    ``probabilities`` is given the class probabilities (one column per class), one without
    them the predicted labels; a regression metric gets predicted values. ``constant`` is the
    best prediction that ignores the inputs (the majority class, the mean), whose score is
    ``no_skill``. ``keras`` names the ``keras.metrics`` class that reports the same quantity
    during training.
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool
    classification: bool
    constant: Callable[[np.ndarray], np.ndarray]
    keras: str
    probabilities: bool = False

    def __call__(self, y_true: np.ndarray, prediction: np.ndarray) -> float:
        return float(self.function(np.asarray(y_true), np.asarray(prediction)))

    def sign(self) -> float:
        """+1 or -1: multiplies a natural score into scikit-learn's higher-is-better convention."""
        return 1.0 if self.greater_is_better else -1.0

    def better(self, a: float, b: float) -> bool:
        return a > b if self.greater_is_better else a < b

    def no_skill(self, y: np.ndarray) -> float:
        """The score of ``constant``'s prediction on ``y``."""
        y = np.asarray(y)
        return self(y, self.constant(y))

    def keras_metric(self) -> Any:
        """A new instance of the Keras metric that reports this score, named like it."""
        import keras

        return getattr(keras.metrics, self.keras)(name=self.name)


ACCURACY = Metric("accuracy", _accuracy, True, True, _majority_labels, "SparseCategoricalAccuracy")
LOG_LOSS = Metric(
    "log_loss", _log_loss, False, True, _class_frequencies, "SparseCategoricalCrossentropy", probabilities=True
)
RMSE = Metric("rmse", _rmse, False, False, _mean, "RootMeanSquaredError")
MAE = Metric("mae", _mae, False, False, _median, "MeanAbsoluteError")

METRICS: dict[str, Metric] = {metric.name: metric for metric in (ACCURACY, LOG_LOSS, RMSE, MAE)}


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to ``METRICS`` so that definitions and stored results can name it; returns it."""
    if not isinstance(metric, Metric):
        raise TuningError(f"register_metric takes a tuning.metrics.Metric, got {metric!r}")
    known = METRICS.get(metric.name)
    if known is not None and known != metric:
        raise TuningError(f"a different metric is already registered as {metric.name!r}")
    METRICS[metric.name] = metric
    return metric


def get_metric(metric: str | Metric) -> Metric:
    """The registered metric called ``metric`` (a ``Metric`` is returned as is)."""
    if isinstance(metric, Metric):
        return metric
    try:
        return METRICS[metric]
    except (KeyError, TypeError):
        raise TuningError(f"unknown metric {metric!r}; choose from {sorted(METRICS)} or register one") from None
