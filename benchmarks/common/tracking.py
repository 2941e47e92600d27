"""Experiment tracking: one record per trained configuration, to TensorBoard and MLflow.

Both trackers take the same record: a run name, its hyperparameters, its final metrics
and, when known, per-epoch metrics. TensorBoard gets an HParams session per run (the
HParams dashboard then lists every run side by side), written by TensorBoard's own
protocol buffers and record format, so that no TensorFlow is started for it under the JAX
or torch backend. MLflow writes to a local store (``sqlite:///path.db`` by default; no
server) and is an optional extra, imported only when asked for.
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tuning.errors import TuningError

__all__ = [
    "MLFLOW_FILE",
    "MLflowTracker",
    "TensorBoardTracker",
    "Tracker",
    "check_extras",
    "make_trackers",
    "mlflow_uri",
]

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

    # Tells apart the event files this process writes within one second.
    _file_numbers = itertools.count()

    def __init__(self, logdir: Path | str) -> None:
        # Directories appear with the first run, so that a failed start leaves nothing behind.
        self.logdir = Path(logdir)

    def _write(self, name: str, hparams: dict[str, Scalar], points: list[tuple[str, float, int]]) -> None:
        # TensorBoard's own writers (tf.summary, tensorboard.summary) import TensorFlow when it
        # is installed; these modules do not.
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.plugins.hparams.summary_v2 import hparams_pb
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb
        from tensorboard.summary.writer.record_writer import RecordWriter

        now = time.time()
        events = [
            Event(wall_time=now, file_version="brain.Event:2"),
            Event(wall_time=now, step=0, summary=hparams_pb(hparams, trial_id=name)),
            *(Event(wall_time=now, step=step, summary=scalar_pb(key, value)) for key, value, step in points),
        ]
        directory = self.logdir / name
        directory.mkdir(parents=True, exist_ok=True)
        # The name TensorBoard looks for, and the one tf.summary gives its files.
        number = next(self._file_numbers)
        file_name = f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}.{number}"
        with open(directory / file_name, "wb") as file:
            writer = RecordWriter(file)
            for event in events:
                writer.write(event.SerializeToString())


class MLflowTracker(Tracker):
    """Logs each run to a local MLflow store under ``experiment``; no tracking server needed."""

    def __init__(self, tracking_uri: str, experiment: str) -> None:
        self._metric, self._param, client_class = _import_mlflow()
        self.tracking_uri = tracking_uri
        try:
            self.client = client_class(tracking_uri)
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


def _import_mlflow() -> tuple[Any, Any, Any]:
    """MLflow's ``Metric``, ``Param`` and ``MlflowClient``; a one-line error without the extra."""
    try:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise TuningError("MLflow is not installed; install the extra: pip install 'tuning[mlflow]'") from None
    return Metric, Param, MlflowClient


def mlflow_uri(value: str, default_dir: Path) -> str:
    """``--mlflow`` with no value means a SQLite store beside the other outputs."""
    if value:
        return value
    return f"sqlite:///{(default_dir / MLFLOW_FILE).resolve()}"


def check_extras(*, mlflow: str | None = None) -> None:
    """Refuse now, in one line, trackers whose extra is missing, before anything is written.

    Opening a tracker may create its store (``make_trackers``), which can lie among the
    outputs that ``--fresh`` discards: a command checks first, discards, then opens.
    """
    if mlflow is not None:
        _import_mlflow()


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
