"""The one job engine of every benchmark command: keyed jobs, a store, trackers, fresh or resumed runs.

A command describes its work as ``Job``s and one function that does a job; the engine

* checks the trackers' extras, then (``fresh``) discards the command's earlier outputs, in that
  order, so that a bad argument never costs results and MLflow never loses the store it opened;
* skips a job that finished earlier under the same key, and starts an interrupted or failed one
  again from nothing;
* commits each record of a job (a trial) and each finished job's row as it happens, the row
  stamped with its provenance (command, commit, versions, machine, start and end);
* records a job that raises as failed and goes on with the next.
"""

from __future__ import annotations

import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from benchmarks.common.provenance import git_commit, iso, provenance
from benchmarks.common.store import DEFAULT_STORE, Store, store_files
from tuning.methods.base import Status
from tuning.tracking import Tracker, check_extras, make_trackers, mlflow_uri
from tuning.training import error_line

__all__ = ["Engine", "Job", "JobContext"]


@dataclass(frozen=True)
class Job:
    """One unit of work: ``key`` names it and its configuration, ``name`` is what people and trackers see."""

    key: str
    name: str
    units: int = 1  # of progress, as the work reports it (epochs, measurements)


class JobContext:
    """What a job's work may do while it runs: commit records, show progress, log to the trackers."""

    def __init__(self, engine: Engine, job: Job, bar: tqdm) -> None:
        self._engine, self.job, self._bar = engine, job, bar

    def record(self, number: int, row: Mapping[str, Any]) -> None:
        self._engine.store.add_record(self.job.key, number, row)

    def advance(self, units: int, note: str = "") -> None:
        self._bar.update(units)
        if note:
            self._bar.set_postfix_str(note)

    def track(
        self,
        hparams: Mapping[str, Any],
        metrics: Mapping[str, float],
        history: Mapping[str, Sequence[float]] | None = None,
        *,
        part: str = "",
    ) -> None:
        """Log this job (or one ``part`` of it, such as a trial) to every tracker."""
        name = f"{self.job.name}/{part}" if part else self.job.name
        for tracker in self._engine.trackers:
            tracker.log_run(name, hparams, metrics, history)


Work = Callable[[Job, JobContext], dict[str, Any]]


class Engine:
    """Runs jobs into ``out``; use as a context manager (it opens the store and the trackers)."""

    def __init__(
        self,
        out: Path,
        *,
        command: str,
        key_column: str,
        fresh: bool = False,
        outputs: Iterable[str] = (),
        store: str = DEFAULT_STORE,
        experiment: str = "tuning",
        tensorboard: Path | None = None,
        mlflow: str | None = None,
    ) -> None:
        self.out, self.command, self.key_column, self.fresh = out, command, key_column, fresh
        # What --fresh discards: the store and the command's own outputs (MLflow's default
        # store among them, for a command that logs to MLflow).
        self.store_name = store
        self.outputs = (*store_files(store), *outputs)
        self.experiment, self.tensorboard, self.mlflow = experiment, tensorboard, mlflow
        self.trackers: list[Tracker] = []
        self._provenance: dict[str, Any] | None = None

    def __enter__(self) -> Engine:
        # Before --fresh deletes earlier (possibly committed) outputs, which would read as local changes.
        self.commit = git_commit()
        uri = None if self.mlflow is None else mlflow_uri(self.mlflow, self.out)
        check_extras(mlflow=uri)
        self.out.mkdir(parents=True, exist_ok=True)
        if self.fresh:
            for name in self.outputs:
                path = self.out / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        self.store = Store(self.out, self.store_name)
        # After the store and --fresh: MLflow's default store lies among the outputs.
        self.trackers = make_trackers(tensorboard=self.tensorboard, mlflow=uri, experiment=self.experiment)
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()

    def run(
        self,
        jobs: Sequence[Job],
        work: Work,
        *,
        after_each: Callable[[dict[str, Any]], None] | None = None,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        """Every job's row, in order: from the store when it finished earlier, else by ``work``.

        ``after_each`` gets the row of each job run now, once it is committed (to export it).
        No job starts after ``deadline`` (a ``time.time()``): the rows stop at the first job
        left for a later run to resume.
        """
        rows = []
        for index, job in enumerate(jobs, 1):
            prefix = f"[{index}/{len(jobs)}] {job.name}"
            earlier = self.store.finished(job.key)
            if earlier is not None:
                print(f"{prefix}: finished earlier, skipped", file=sys.stderr)
                rows.append(earlier)
                continue
            if deadline is not None and time.time() >= deadline:
                print(f"{prefix}: not started, past the deadline; rerun to resume", file=sys.stderr)
                break
            rows.append(self._run_one(job, work, prefix))
            if after_each is not None:
                after_each(rows[-1])
        return rows

    def _run_one(self, job: Job, work: Work, prefix: str) -> dict[str, Any]:
        self.store.start(job.key)
        if self.tensorboard is not None:
            # A job started again: its earlier logs would show twice.
            shutil.rmtree(self.tensorboard / job.name, ignore_errors=True)
        started = time.time()
        bar = tqdm(total=job.units, desc=prefix, unit="", file=sys.stderr, dynamic_ncols=True, leave=True)
        try:
            row = work(job, JobContext(self, job, bar))
        except Exception as exc:  # one broken job is recorded and the others go on
            message = error_line(exc)
            row = {"status": Status.FAILED, "error": message}
            print(f"{prefix}: failed: {message}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
        finally:
            bar.close()
        if self._provenance is None:
            self._provenance = provenance(self.command, self.commit)
        row = {
            **row,
            self.key_column: job.key,
            "started_at": iso(started),
            "finished_at": iso(time.time()),
            **self._provenance,
        }
        self.store.finish(job.key, Status(row.get("status", Status.OK)), row)
        return row

    def rows(self, jobs: Sequence[Job], *, failed: bool = False) -> pd.DataFrame:
        """The finished rows of ``jobs`` (with ``failed``, also the failed ones), in the order they finished."""
        return self.store.rows((j.key for j in jobs), status=None if failed else Status.OK)

    def records(self, keys: Iterable[str]) -> pd.DataFrame:
        return self.store.records(keys)
