"""Building a curve table: each configuration trained by the trial recipe, every epoch recorded, resumably.

A job is one configuration under one seed, trained as a cell of that seed trains a trial
(``tuning.training.fit_on_problem`` on the seed's split, with the seed), so that a table's
last epoch is exactly the trial score a real run would see. Each epoch adds a record: its
validation and test scores, training loss and wall time (the first epoch's includes
building and compiling the model, as a real trial's does). The engine commits every job as
it finishes: ``kill -9`` loses at most the configuration in flight.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from benchmarks.common.engine import Engine, Job, JobContext
from benchmarks.common.provenance import TEXT_COLUMNS
from benchmarks.common.store import write_bytes_atomically
from benchmarks.curves.design import configurations, grid_points, point_key
from benchmarks.curves.table import JOBS_FILE, METADATA_FILE, TABLE_FILE, table_identity
from tuning.comparison import Dataset, Setting
from tuning.errors import TuningError
from tuning.methods import Budget, SearchProblem, Status
from tuning.methods.planning import grid_plan
from tuning.splits import Split
from tuning.training import fit_on_problem, score

__all__ = ["CurveBuild", "CurveJob", "EpochRecorder"]

# The columns that describe a job's configuration in every row of the table.
CONFIG_COLUMNS = ("config", "seed", "params")
# How often a running build rewrites its table (reading the store back and writing took 0.6 s for
# 205 of California's curves, 2026-11-30).
WRITE_EVERY_S = 300
# What each epoch's record holds (EpochRecorder's, with its configuration and seed).
RECORD_COLUMNS = ("config", "seed", "epoch", "val_score", "test_score", "loss", "epoch_s", "val_scoring_s")


class EpochRecorder(keras.callbacks.Callback):
    """After each epoch, records its wall time, training loss, and the model's validation and test scores."""

    def __init__(self, problem: SearchProblem, x_test: Any, y_test: Any, record: Callable[[int, dict], None]) -> None:
        super().__init__()
        self.problem, self.x_test, self.y_test, self.record = problem, x_test, y_test, record
        self.fit_started = self.epoch_started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if epoch > 0:  # the first epoch's time runs from the fit's start: building and compiling are part of it
            self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        epoch_seconds = time.perf_counter() - self.epoch_started
        metric = self.problem.metric
        scoring_started = time.perf_counter()
        val_score = score(self.model, self.problem.x_val, self.problem.y_val, metric)
        scoring_seconds = time.perf_counter() - scoring_started
        self.record(
            epoch + 1,
            {
                "epoch": epoch + 1,
                "val_score": val_score,
                "test_score": score(self.model, self.x_test, self.y_test, metric),
                "loss": float((logs or {}).get("loss", float("nan"))),
                "epoch_s": round(epoch_seconds, 4),
                "val_scoring_s": round(scoring_seconds, 4),
            },
        )


@dataclass(frozen=True)
class CurveJob:
    """One configuration (the table's ``number``-th) trained under one seed."""

    job: Job
    number: int
    seed: int
    params: dict[str, Any]


@dataclass(frozen=True)
class CurveBuild:
    """A curve table of ``task`` at ``profile``'s setting: ``n_design`` Sobol configurations and
    the grid points of every budget in ``budget_multiples`` (times the setting's), under seed 0;
    the first ``noise_configs`` of them also under seeds 1 .. ``noise_seeds - 1``, and the grid
    points under seeds 1 .. ``grid_seeds - 1``: a grid search visits nothing else, so its replay
    is answered by those configurations' mean over seeds, not by one seed's luck."""

    task: Dataset
    profile: str
    n_design: int
    noise_configs: int
    noise_seeds: int
    budget_multiples: tuple[int, ...] = (1, 4)
    design_seed: int = 0
    grid_seeds: int = 1

    @property
    def setting(self) -> Setting:
        return self.task.setting(self.profile)

    def grid_sizes(self) -> list[int]:
        setting = self.setting
        budgets = [Budget(setting.budget_epochs * m, setting.epochs_per_trial) for m in self.budget_multiples]
        return [grid_plan(self.task.space, budget, 1).settings["max_points"] for budget in budgets]

    def configurations(self) -> list[dict[str, Any]]:
        return configurations(self.task.space, self.n_design, seed=self.design_seed, grid_sizes=self.grid_sizes())

    @property
    def identity(self) -> dict[str, Any]:
        return table_identity(self.task, self.profile)

    def jobs(self) -> list[CurveJob]:
        """Every configuration under every seed it is trained with. The first ``noise_configs``
        come first, each under all its seeds, so that a build stopped early has measured its
        seed noise already."""
        identity = json.dumps(self.identity, sort_keys=True, default=str)
        on_grid = {point_key(point) for point in grid_points(self.task.space, self.grid_sizes())}
        found = []
        for number, params in enumerate(self.configurations()):
            seeds = self.noise_seeds if number < self.noise_configs else 1
            if point_key(params) in on_grid:
                seeds = max(seeds, self.grid_seeds)
            for seed in range(max(seeds, 1)):
                digest = hashlib.sha256(f"{identity}{json.dumps(params, sort_keys=True)}".encode()).hexdigest()[:12]
                name = f"{self.task.name}/config{number:04d}/seed{seed}"
                job = Job(f"{name}/{digest}", name, self.setting.epochs_per_trial)
                found.append(CurveJob(job, number, seed, params))
        return found

    def run(self, out: Path, *, command: str, fresh: bool, deadline: float | None = None) -> pd.DataFrame:
        """Train every job not finished in ``out`` yet (none starts after ``deadline``, a
        ``time.time()``), then write the table of all finished ones."""
        data = self.task.load_data()
        self.task.check(data, self.setting.fraction)
        planned = self.jobs()
        by_key = {planned_job.job.key: planned_job for planned_job in planned}
        jobs = [planned_job.job for planned_job in planned]
        problems: dict[int, tuple[SearchProblem, Split]] = {}

        def work(job: Job, context: JobContext) -> dict[str, Any]:
            curve = by_key[job.key]
            if curve.seed not in problems:
                problems[curve.seed] = self.task.problem(data, curve.seed, self.setting.fraction)
            problem, split = problems[curve.seed]

            def record(epoch: int, row: dict[str, Any]) -> None:
                context.record(epoch, {"config": curve.number, "seed": curve.seed, **row})
                context.advance(1, f"val={row['val_score']:.4f}")

            recorder = EpochRecorder(problem, split.x_test, split.y_test, record)
            fitted = fit_on_problem(
                problem, curve.params, epochs=self.setting.epochs_per_trial, seed=curve.seed, callbacks=[recorder]
            )
            return {
                "config": curve.number,
                "seed": curve.seed,
                "params": json.dumps(curve.params, sort_keys=True),
                "epochs": fitted.epochs,
                "fit_s": round(time.perf_counter() - recorder.fit_started, 3),
                "trial_error": fitted.error,
            }

        engine = Engine(
            out, command=command, key_column="job_key", fresh=fresh, outputs=(TABLE_FILE, JOBS_FILE, METADATA_FILE)
        )
        # Read before the engine opens its store, so that an unreadable table writes nothing.
        written_earlier = None if fresh else read_written(out)
        with engine:
            adopted = 0 if written_earlier is None else adopt_written(engine, *written_earlier, by_key)
            if adopted:
                print(f"{self.task.name}: {adopted} curves taken from the table written earlier", file=sys.stderr)
            written = [time.time()]

            def write_now_and_then(row: dict[str, Any]) -> None:
                # A build killed or out of session time keeps a table a fresh clone can resume from.
                if time.time() - written[0] >= WRITE_EVERY_S:
                    self.write(engine, jobs, out)
                    written[0] = time.time()

            engine.run(jobs, work, after_each=write_now_and_then, deadline=deadline)
            return self.write(engine, jobs, out)

    def write(self, engine: Engine, jobs: Sequence[Job], out: Path) -> pd.DataFrame:
        """The table of every finished job (CSV.gz, one row per epoch) and its metadata beside it."""
        rows = engine.rows(jobs)
        if rows.empty:
            return pd.DataFrame()
        records = engine.records(rows["job_key"])
        table = records.merge(rows[[*CONFIG_COLUMNS, "trial_error"]], on=["config", "seed"])
        params = pd.DataFrame([json.loads(p) for p in table["params"]], index=table.index).add_prefix("param_")
        table = pd.concat([table, params], axis=1).sort_values(["seed", "config", "epoch"], kind="stable")
        front = [*CONFIG_COLUMNS, "epoch"]
        table = table[front + [c for c in table.columns if c not in front]]
        _write_gzipped_csv(table, out / TABLE_FILE)
        _write_gzipped_csv(rows, out / JOBS_FILE)
        provenance_columns = ["command", "git_commit", "python", "keras", "jax", "tensorflow", "scikit-learn"]
        provenance_columns += [c for c in rows.columns if c.startswith("machine_")]
        metadata = {
            **self.identity,
            "design": {
                "n_design": self.n_design,
                "design_seed": self.design_seed,
                "grid_sizes": self.grid_sizes(),
                "budget_multiples": list(self.budget_multiples),
                "noise_configs": self.noise_configs,
                "noise_seeds": self.noise_seeds,
                "grid_seeds": self.grid_seeds,
            },
            "configurations": int(rows.loc[rows.seed == 0, "config"].nunique()),
            "jobs": {"finished": len(rows), "planned": len(jobs)},
            "built": {"first_started": rows.started_at.min(), "last_finished": rows.finished_at.max()},
            "provenance": rows[provenance_columns].drop_duplicates().to_dict(orient="records"),
        }
        write_bytes_atomically(json.dumps(metadata, indent=1, default=str).encode(), out / METADATA_FILE)
        return table


def _write_gzipped_csv(frame: pd.DataFrame, path: Path) -> None:
    write_bytes_atomically(gzip.compress(frame.to_csv(index=False).encode(), mtime=0), path)


def read_written(out: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The table and job rows written earlier in ``out``, exactly as written; None if there are none."""
    if not (out / TABLE_FILE).is_file() or not (out / JOBS_FILE).is_file():
        return None
    try:
        records = pd.read_csv(out / TABLE_FILE, compression="gzip")
        jobs = pd.read_csv(out / JOBS_FILE, compression="gzip", dtype=TEXT_COLUMNS)
    except (OSError, EOFError, ValueError, zlib.error, pd.errors.ParserError) as exc:
        raise TuningError(f"curve table in {str(out)!r} is unreadable ({type(exc).__name__}); use --fresh") from None
    return records, jobs


def adopt_written(engine: Engine, records: pd.DataFrame, jobs: pd.DataFrame, planned: Mapping[str, CurveJob]) -> int:
    """Put the curves of a table written earlier (a committed one, on a fresh machine) into the
    engine's store, so that a build resumes from the table, not only from the store it was
    written from. Returns how many curves the store did not have."""
    by_curve = {key: group for key, group in records.groupby(["config", "seed"])}
    adopted = 0
    for row in _plain_records(jobs):
        key = row.get("job_key")
        if key not in planned or engine.store.finished(key) is not None:
            continue
        curve = by_curve.get((row["config"], row["seed"]))
        if curve is None:
            continue
        engine.store.start(key)
        for record in _plain_records(curve[[c for c in RECORD_COLUMNS if c in curve]]):
            engine.store.add_record(key, record["epoch"], record)
        trial_error = row.get("trial_error")
        engine.store.finish(key, Status.OK, {**row, "trial_error": trial_error if isinstance(trial_error, str) else ""})
        adopted += 1
    return adopted


def _plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as Python values, floats exact (``to_json`` would round them to 10 digits)."""
    return [
        {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()} for row in frame.to_dict("records")
    ]
