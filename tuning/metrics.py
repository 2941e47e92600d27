"""The two metrics the toolkit reports, in their natural units (accuracy, RMSE in $100k)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ACCURACY", "RMSE", "Metric", "metric_for"]


@dataclass(frozen=True)
class Metric:
    name: str
    greater_is_better: bool

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if self.greater_is_better:
            return float(np.mean(y_true.ravel() == y_pred.ravel()))
        return float(np.sqrt(np.mean((y_true.ravel().astype(np.float64) - y_pred.ravel()) ** 2)))

    def sign(self) -> float:
        """+1 or -1: multiplies a natural score into scikit-learn's higher-is-better convention."""
        return 1.0 if self.greater_is_better else -1.0

    def better(self, a: float, b: float) -> bool:
        return a > b if self.greater_is_better else a < b

    def no_skill(self, y: np.ndarray) -> float:
        """The score of a constant prediction: the majority class, or the mean."""
        y = np.asarray(y)
        if self.greater_is_better:
            _, counts = np.unique(y, return_counts=True)
            return float(counts.max() / counts.sum())
        return float(np.std(y))


ACCURACY = Metric("accuracy", greater_is_better=True)
RMSE = Metric("rmse", greater_is_better=False)


def metric_for(classification: bool) -> Metric:
    return ACCURACY if classification else RMSE
