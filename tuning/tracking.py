"""Experiment tracking: one record per trained configuration, to TensorBoard and MLflow.

Both trackers take the same record: a run name, its hyperparameters, its final metrics
and, when known, per-epoch metrics. TensorBoard gets an HParams session per run (the
HParams dashboard then lists every run side by side), written with ``tf.summary`` so it
works under every Keras backend. MLflow writes to a local store (``sqlite:///path.db``
by default; no server) and is an optional extra, imported only when asked for.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuning.errors import TuningError

__all__ = ["MLFLOW_FILE", "MLflowTracker", "TensorBoardTracker", "Tracker", "make_trackers", "mlflow_uri"]

Scalar = bool | int | float | str
# Where --mlflow writes when given no URI, inside the command's output directory.
MLFLOW_FILE = "mlflow.db"


class Tracker(ABC):
    """Records one run: its hyperparameters, final metrics and per-epoch history, as points to write."""

    def log_run(
        self,
        name: str,
        hparams: Mapping[str, Any],
        metrics: Mapping[str, float],
        history: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        """Non-finite values (a diverged run) are left out: neither backend can plot them."""
        points = [(k, float(v), 0) for k, v in metrics.items() if v is not None and math.isfinite(float(v))]
        for key, values in (history or {}).items():
            points += [(f"epoch_{key}", float(v), epoch) for epoch, v in enumerate(values, start=1) if math.isfinite(v)]
        self._write(name, {k: _scalar(v) for k, v in hparams.items()}, points)

    @abstractmethod
    def _write(self, name: str, hparams: dict[str, Scalar], points: list[tuple[str, float, int]]) -> None:
        """Store one run; ``points`` are (metric, value, step), step 0 for final metrics."""


def _scalar(value: Any) -> Scalar:
    # numpy scalars and tuples are not hparam values; their Python or text forms are.
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


class TensorBoardTracker(Tracker):
    """Writes ``logdir/<name>/`` per run: an HParams session, final metrics and per-epoch curves."""

    def __init__(self, logdir: Path | str) -> None:
        import tensorflow as tf

        self._tf = tf
        # Directories appear with the first run, so that a failed start leaves nothing behind.
        self.logdir = Path(logdir)

    def _write(self, name: str, hparams: dict[str, Scalar], points: list[tuple[str, float, int]]) -> None:
        from tensorboard.plugins.hparams import api as hp

        writer = self._tf.summary.create_file_writer(str(self.logdir / name))
        with writer.as_default():
            hp.hparams(hparams, trial_id=name)
            for key, value, step in points:
                self._tf.summary.scalar(key, value, step=step)
        writer.close()


class MLflowTracker(Tracker):
    """Logs each run to a local MLflow store under ``experiment``; no tracking server needed."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        try:
            from mlflow.entities import Metric, Param
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise TuningError("MLflow is not installed; install the extra: pip install 'tuning[mlflow]'") from None
        self._metric, self._param = Metric, Param
        self.tracking_uri = tracking_uri
        try:
            self.client = MlflowClient(tracking_uri)
            found = self.client.get_experiment_by_name(experiment)
            self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        except Exception as exc:  # MLflow raises its own types for a bad URI or an unusable store
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TuningError(f"cannot open the MLflow store {tracking_uri!r}: {first}") from None

    def _write(self, name: str, hparams: dict[str, Scalar], points: list[tuple[str, float, int]]) -> None:
        now = int(time.time() * 1000)
        run = self.client.create_run(self.experiment_id, run_name=name)
        metrics = [self._metric(key, value, now, step) for key, value, step in points]
        params = [self._param(k, str(v)) for k, v in hparams.items()]
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params)
        self.client.set_terminated(run.info.run_id)


def mlflow_uri(value: str, default_dir: Path) -> str:
    """``--mlflow`` with no value means a SQLite store beside the other outputs."""
    if value:
        return value
    return f"sqlite:///{(default_dir / MLFLOW_FILE).resolve()}"


def make_trackers(
    *, tensorboard: Path | None = None, mlflow: str | None = None, experiment: str = "tuning"
) -> list[Tracker]:
    """The trackers the user asked for: none, one or both. Each run is written out as it is logged."""
    trackers: list[Tracker] = []
    if tensorboard is not None:
        trackers.append(TensorBoardTracker(tensorboard))
    if mlflow is not None:
        trackers.append(MLflowTracker(mlflow, experiment))
    return trackers
