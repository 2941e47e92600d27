"""The one job engine of every benchmark command: keyed jobs, a store, trackers, fresh or resumed runs.

A command describes its work as ``Job``s and one function that does a job; the engine

* checks the trackers' extras, then (``fresh``) discards the command's earlier outputs, in that
  order, so that a bad argument never costs results and MLflow never loses the store it opened;
* skips a job that finished earlier under the same key, and starts an interrupted or failed one
  again from nothing;
* commits each record of a job (a trial) and each finished job's row as it happens, the row
  stamped with its provenance (command, commit, versions, machine, start and end);
* records a job that raises as failed and goes on with the next;
* with ``workers`` > 1, runs that many jobs at once in worker processes of their own, and commits
  each job's records, tracker logs and row in this process once the job has finished.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd
from tqdm import tqdm

from benchmarks.common.provenance import git_commit, iso, provenance
from benchmarks.common.store import DEFAULT_STORE, Store, store_files
from tuning.execution import single_thread_settings
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
        self._apply("record", number, dict(row))

    def advance(self, units: int, note: str = "") -> None:
        self._apply("advance", units, note)

    def track(
        self,
        hparams: Mapping[str, Any],
        metrics: Mapping[str, float],
        history: Mapping[str, Sequence[float]] | None = None,
        *,
        part: str = "",
    ) -> None:
        """Log this job (or one ``part`` of it, such as a trial) to every tracker."""
        self._apply("track", dict(hparams), dict(metrics), history, part)

    def _apply(self, action: str, *args: Any) -> None:
        getattr(self, f"_{action}")(*args)

    def _record(self, number: int, row: dict[str, Any]) -> None:
        self._engine.store.add_record(self.job.key, number, row)

    def _advance(self, units: int, note: str) -> None:
        self._bar.update(units)
        if note:
            self._bar.set_postfix_str(note)

    def _track(
        self, hparams: dict[str, Any], metrics: dict[str, float], history: Mapping[str, Any] | None, part: str
    ) -> None:
        name = f"{self.job.name}/{part}" if part else self.job.name
        for tracker in self._engine.trackers:
            tracker.log_run(name, hparams, metrics, history)


class _DeferredContext(JobContext):
    """A job's context in a worker process: it keeps every action for the engine to apply once the job is
    done, since the store and the trackers belong to the engine's process."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.actions: list[tuple[str, tuple[Any, ...]]] = []

    def _apply(self, action: str, *args: Any) -> None:
        self.actions.append((action, args))


Work = Callable[[Job, JobContext], dict[str, Any]]


@dataclass
class _Outcome:
    """What a job's work left: its row (a failed one if it raised), and for a failure the traceback."""

    row: dict[str, Any]
    trace: str = ""
    actions: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


def _attempt(work: Work, job: Job, context: JobContext) -> _Outcome:
    try:
        return _Outcome(work(job, context))
    except Exception as exc:  # one broken job is recorded and the others go on
        return _Outcome({"status": Status.FAILED, "error": error_line(exc)}, traceback.format_exc())


_worker_work: Work | None = None
# Why a worker process could not take its work, told to every job it is given.
_worker_error = ""


def _start_worker(pickled_work: bytes, threads: int) -> None:
    """A worker process's start: its share of the cores, then the work it will do (sent once, not with every job).

    The work arrives pickled and is unpickled only once the environment is set: unpickling it
    may import Keras, and XLA reads its thread settings from the environment once, at start.
    XLA can be held to one thread, not to a share of several, so a worker with more keeps its pool.
    """
    from threadpoolctl import threadpool_limits

    global _worker_work, _worker_error
    os.environ.update(single_thread_settings(os.environ) if threads == 1 else {"OMP_NUM_THREADS": str(threads)})
    try:
        _worker_work = pickle.loads(pickled_work)
    except Exception as exc:  # told with each job, not as a pool that died without a reason
        _worker_error = f"its worker process could not take the work: {error_line(exc)}"
    # After unpickling: a limit holds only for the libraries loaded by then.
    threadpool_limits(threads)


def _attempt_in_worker(job: Job) -> _Outcome:
    if _worker_error:
        return _Outcome({"status": Status.FAILED, "error": _worker_error})
    assert _worker_work is not None, "the worker process was not started by Engine.run"
    context = _DeferredContext(job)
    outcome = _attempt(_worker_work, job, context)
    outcome.actions = context.actions
    return outcome


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
        workers: int = 1,
    ) -> list[dict[str, Any]]:
        """Every job's row, in order: from the store when it finished earlier, else by ``work``.

        ``after_each`` gets the row of each job run now, once it is committed (to export it).
        No job starts after ``deadline`` (a ``time.time()``): the rows stop at the first job
        left for a later run to resume. With ``workers`` > 1, that many jobs run at once, each
        in a worker process that ``work`` is pickled to once, with its share of the cores' threads
        (one each on as many cores as workers); rows come back as jobs finish.
        """
        rows: dict[int, dict[str, Any]] = {}
        todo = []
        for index, job in enumerate(jobs):
            earlier = self.store.finished(job.key)
            if earlier is None:
                todo.append((index, job))
                continue
            print(f"{self._prefix(index, jobs)}: finished earlier, skipped", file=sys.stderr)
            rows[index] = earlier
        run = self._run_here if workers == 1 else self._run_in_workers
        for index, row in run(jobs, todo, work, deadline, workers):
            rows[index] = row
            if after_each is not None:
                after_each(row)
        # Past the deadline, the rows stop at the first job not run.
        return [rows[index] for index in itertools.takewhile(rows.__contains__, range(len(jobs)))]

    @staticmethod
    def _prefix(index: int, jobs: Sequence[Job]) -> str:
        return f"[{index + 1}/{len(jobs)}] {jobs[index].name}"

    def _past(self, deadline: float | None, prefix: str) -> bool:
        if deadline is not None and time.time() >= deadline:
            print(f"{prefix}: not started, past the deadline; rerun to resume", file=sys.stderr)
            return True
        return False

    def _run_here(
        self, jobs: Sequence[Job], todo: list[tuple[int, Job]], work: Work, deadline: float | None, _: int
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, job in todo:
            prefix = self._prefix(index, jobs)
            if self._past(deadline, prefix):
                return
            started = self._start(job)
            bar = self._bar(job.units, prefix)
            try:
                outcome = _attempt(work, job, JobContext(self, job, bar))
            finally:
                bar.close()
            yield index, self._finish(job, outcome, started, prefix)

    def _run_in_workers(
        self, jobs: Sequence[Job], todo: list[tuple[int, Job]], work: Work, deadline: float | None, workers: int
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        waiting = iter(todo)
        running: dict[Future[_Outcome], tuple[int, Job, float]] = {}
        bar = self._bar(sum(job.units for _, job in todo), f"{len(todo)} jobs, {workers} at a time")
        # spawn, not fork: a forked copy of a process that has started XLA's or BLAS's threads can hang.
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            # cloudpickle: a definition file's builder, which workers cannot import, travels by value.
            initargs=(cloudpickle.dumps(work), max(1, (os.cpu_count() or 1) // workers)),
        ) as pool:
            # No job starts once one was past the deadline or a worker process died (the pool is gone).
            stopped = broken = False

            def start_next() -> None:
                nonlocal stopped
                if stopped:
                    return
                for index, job in waiting:
                    if self._past(deadline, self._prefix(index, jobs)):
                        stopped = True
                    else:
                        running[pool.submit(_attempt_in_worker, job)] = (index, job, self._start(job))
                    return

            for _ in range(workers):
                start_next()
            try:
                while running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        index, job, started = running.pop(future)
                        try:
                            outcome = future.result()
                        except BrokenProcessPool:
                            stopped = broken = True
                            outcome = _Outcome({"status": Status.FAILED, "error": "its worker process died"})
                        context = JobContext(self, job, bar)
                        for action, args in outcome.actions:
                            context._apply(action, *args)
                        yield index, self._finish(job, outcome, started, self._prefix(index, jobs))
                        start_next()
                if broken and (left := len(list(waiting))):
                    print(f"{left} jobs not started, as a worker process died; rerun to resume", file=sys.stderr)
            finally:
                bar.close()

    @staticmethod
    def _bar(units: int, description: str) -> tqdm:
        return tqdm(total=units, desc=description, unit="", file=sys.stderr, dynamic_ncols=True, leave=True)

    def _start(self, job: Job) -> float:
        self.store.start(job.key)
        if self.tensorboard is not None:
            # A job started again: its earlier logs would show twice.
            shutil.rmtree(self.tensorboard / job.name, ignore_errors=True)
        return time.time()

    def _finish(self, job: Job, outcome: _Outcome, started: float, prefix: str) -> dict[str, Any]:
        if outcome.row.get("status") == Status.FAILED:
            print(f"{prefix}: failed: {outcome.row['error']}", file=sys.stderr)
            print(outcome.trace, file=sys.stderr, end="")
        if self._provenance is None:
            self._provenance = provenance(self.command, self.commit)
        row = {
            **outcome.row,
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
