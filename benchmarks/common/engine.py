"""The one job engine of every benchmark command: keyed jobs, a store, trackers, fresh or resumed runs.

A command describes its work as ``Job``s and one function that does a job; the engine

* checks the trackers' extras, then (``fresh``) discards the command's earlier outputs, in that
  order, so that a bad argument never costs results and MLflow never loses the store it opened;
* skips a job that finished earlier under the same key, and starts an interrupted or failed one
  again from nothing;
* commits each record of a job (a trial) and each finished job's row as it happens, the row
  stamped with its provenance (command, commit, versions, machine, start and end);
* records a job that raises as failed and goes on with the next;
* with ``workers`` > 1 or a ``cluster`` (a connected Dask client), runs jobs at once on a
  ``dask.distributed`` cluster (a local one of ``workers`` single-threaded processes, or that one), and
  commits each job's records, tracker logs and row in this process once the job has finished; a
  job whose worker dies runs again on another (Dask's own retry), and a lost scheduler ends the run
  in one line, finished jobs kept.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import os
import pickle
import platform
import shutil
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import pandas as pd
from tqdm import tqdm

from benchmarks.common.provenance import git_commit, iso, provenance
from benchmarks.common.store import DEFAULT_STORE, Store, store_files
from benchmarks.common.tracking import Tracker, check_extras, make_trackers, mlflow_uri
from tuning.errors import TuningError
from tuning.execution import single_thread_settings, start_local_cluster
from tuning.methods.base import Status
from tuning.training import error_line

__all__ = ["Engine", "Job", "JobContext"]


@dataclass(frozen=True)
class Job:
    """One unit of work: ``key`` names it and its configuration, ``name`` is what people and trackers see."""

    key: str
    name: str
    units: int = 1  # of progress, as the work reports it (epochs, measurements)
    # Jobs of one kind take about as long as each other (a dataset and method's cells): what is
    # left of a run is estimated from the finished jobs of each kind.
    kind: str = ""


class Remaining:
    """What is left of a run, in time: each job not finished yet takes the median time of the
    finished jobs of its kind (of every finished job while its kind has none), ``at_once`` at a
    time. Jobs of one kind cost alike; jobs of different kinds need not (a Fashion-MNIST cell
    takes several California cells' time), so one rate over all jobs misleads."""

    def __init__(self, todo: Sequence[Job], at_once: int) -> None:
        self.left = {job.key: job for job in todo}
        self.at_once = max(1, at_once)
        self.took: dict[str, list[float]] = collections.defaultdict(list)

    def finished(self, job: Job, seconds: float) -> str:
        """Count ``job`` as done in ``seconds``; the jobs left and the time they should take."""
        self.left.pop(job.key, None)
        self.took[job.kind].append(seconds)
        every = [s for times in self.took.values() for s in times]
        total = sum(statistics.median(self.took.get(j.kind) or every) for j in self.left.values())
        return f"{len(self.left)} left, about {_duration(total / self.at_once)}"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


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
    # The Dask worker that ran the job; "" for a job run in this process.
    worker: str = ""


def _attempt(work: Work, job: Job, context: JobContext) -> _Outcome:
    try:
        return _Outcome(work(job, context))
    except Exception as exc:  # one broken job is recorded and the others go on
        return _Outcome({"status": Status.FAILED, "error": error_line(exc)}, traceback.format_exc())


# The work each worker process has taken, by its pickle's digest: unpickled once per process.
_taken: dict[str, Any] = {}


def _thread_settings(threads: int) -> dict[str, str]:
    """A worker's share of the cores. XLA can be held to one thread, not to a share of several,
    so a worker with more keeps its pool."""
    return single_thread_settings(os.environ) if threads == 1 else {"OMP_NUM_THREADS": str(threads)}


def _take(pickled_work: bytes, digest: str, threads: int) -> Any:
    """The work, unpickled once in this worker process (or why it cannot be), with its thread limits.

    Unpickling may import Keras; XLA reads its thread settings from the environment once, and
    a local cluster's workers were started with them. A limit holds only for the libraries
    loaded by then, so it is set after unpickling.
    """
    if digest not in _taken:
        from threadpoolctl import threadpool_limits

        try:
            _taken[digest] = pickle.loads(pickled_work)
        except Exception as exc:  # told with each job, not as a worker that died without a reason
            _taken[digest] = f"its worker process could not take the work: {error_line(exc)}"
        threadpool_limits(threads)
    return _taken[digest]


def _attempt_on_worker(pickled_work: bytes, digest: str, threads: int, job: Job) -> _Outcome:
    """A job on a Dask worker; its outcome names the worker, so that rows say which machine ran it."""
    from distributed import get_worker

    work = _take(pickled_work, digest, threads)
    if isinstance(work, str):
        outcome = _Outcome({"status": Status.FAILED, "error": work})
    else:
        context = _DeferredContext(job)
        outcome = _attempt(work, job, context)
        outcome.actions = context.actions
    outcome.worker = get_worker().address
    outcome.row["host"] = platform.node()
    return outcome


@contextlib.contextmanager
def _dask_client(workers: int, client: Any, env: dict[str, str]) -> Iterator[Any]:
    """``client`` (the caller's, left open), or the client of a new local cluster of ``workers``
    single-threaded worker processes on the loopback with ``env`` in place before any work arrives."""
    if client is not None:
        yield client
        return
    cluster, local = start_local_cluster(workers, env)
    with cluster, local:
        yield local


def _jobs_per_host(client: Any) -> tuple[dict[str, str], dict[str, int]]:
    """Each worker's host (as the scheduler knows it), and how many workers (each one job at a
    time) every host has."""
    hosts = {address: info["host"] for address, info in client.scheduler_info()["workers"].items()}
    return hosts, dict(collections.Counter(hosts.values()))


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
        self._remaining = Remaining([], 1)

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
        cluster: Any = None,
    ) -> list[dict[str, Any]]:
        """Every job's row, in order: from the store when it finished earlier, else by ``work``.

        ``after_each`` gets the row of each job run now, once it is committed (to export it).
        No job starts after ``deadline`` (a ``time.time()``): the rows stop at the first job
        left for a later run to resume. With ``workers`` > 1, that many jobs run at once on a
        local Dask cluster, each worker a process with its share of the cores' threads (one each
        on as many cores as workers); with ``cluster`` (a Dask client the caller connected before
        anything was written: ``tuning.execution.connect``), ``workers`` at once on its workers.
        ``work`` is pickled to each worker process once; rows come back as jobs finish. Every row
        says the machine that ran it (``host``) and how many jobs that machine ran at once
        (``jobs_on_host``).
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
        self._remaining = Remaining([job for _, job in todo], workers)
        if workers == 1 and cluster is None:
            found = self._run_here(jobs, todo, work, deadline)
        else:
            found = self._run_on_cluster(jobs, todo, work, deadline, workers, cluster)
        for index, row in found:
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
        self, jobs: Sequence[Job], todo: list[tuple[int, Job]], work: Work, deadline: float | None
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        place = {"host": platform.node(), "jobs_on_host": 1}
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
            outcome.row.update(place)
            yield index, self._finish(job, outcome, started, prefix)

    def _run_on_cluster(
        self,
        jobs: Sequence[Job],
        todo: list[tuple[int, Job]],
        work: Work,
        deadline: float | None,
        workers: int,
        cluster: Any,
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        from distributed import as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker

        threads = max(1, (os.cpu_count() or 1) // workers) if cluster is None else 1
        # cloudpickle: a definition file's builder, which workers cannot import, travels by value.
        pickled = cloudpickle.dumps(work)
        digest = hashlib.sha256(pickled).hexdigest()
        with _dask_client(workers, cluster, _thread_settings(threads)) as client:
            bar = self._bar(sum(job.units for _, job in todo), f"{len(todo)} jobs, {workers} at a time")
            hosts, per_host = _jobs_per_host(client)
            shared = client.scatter(pickled, broadcast=True)
            waiting = iter(todo)
            running: dict[Any, tuple[int, Job, float]] = {}
            finished = as_completed()
            # No job starts once one was past the deadline.
            stopped = False

            def start_next() -> None:
                nonlocal stopped
                if stopped:
                    return
                for index, job in waiting:
                    if self._past(deadline, self._prefix(index, jobs)):
                        stopped = True
                    else:
                        future = client.submit(_attempt_on_worker, shared, digest, threads, job, pure=False)
                        running[future] = (index, job, self._start(job))
                        finished.add(future)
                    return

            for _ in range(workers):
                start_next()
            try:
                for future in finished:
                    index, job, started = running.pop(future)
                    try:
                        outcome = future.result()
                    except KilledWorker:
                        outcome = _Outcome({"status": Status.FAILED, "error": "its worker processes died every time"})
                    except (FutureCancelledError, OSError, TimeoutError) as exc:
                        raise TuningError(
                            f"lost the Dask scheduler ({error_line(exc)}); finished jobs are kept, rerun to resume"
                        ) from None
                    context = JobContext(self, job, bar)
                    for action, args in outcome.actions:
                        context._apply(action, *args)
                    outcome.row["jobs_on_host"] = min(workers, per_host.get(hosts.get(outcome.worker), 1))
                    yield index, self._finish(job, outcome, started, self._prefix(index, jobs))
                    start_next()
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
        seconds = time.time() - started
        print(f"{prefix}: done in {seconds:.0f} s; {self._remaining.finished(job, seconds)}", file=sys.stderr)
        return row

    def rows(self, jobs: Sequence[Job], *, failed: bool = False) -> pd.DataFrame:
        """The finished rows of ``jobs`` (with ``failed``, also the failed ones), in the order they finished."""
        return self.store.rows((j.key for j in jobs), status=None if failed else Status.OK)

    def records(self, keys: Iterable[str]) -> pd.DataFrame:
        return self.store.records(keys)
