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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import pandas as pd

from benchmarks.common.engine import Engine, Job, JobContext
from benchmarks.common.store import write_bytes_atomically
from benchmarks.curves.design import configurations
from tuning.comparison import Dataset, Setting
from tuning.methods import Budget, SearchProblem
from tuning.methods.planning import grid_plan
from tuning.splits import Split
from tuning.training import fit_on_problem, score

__all__ = ["METADATA_FILE", "TABLE_FILE", "CurveBuild", "CurveJob", "EpochRecorder"]

TABLE_FILE = "curves.csv.gz"
METADATA_FILE = "curves.json"
# The columns that describe a job's configuration in every row of the table.
CONFIG_COLUMNS = ("config", "seed", "params")


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
    the first ``noise_configs`` of them also under seeds 1 .. ``noise_seeds - 1``."""

    task: Dataset
    profile: str
    n_design: int
    noise_configs: int
    noise_seeds: int
    budget_multiples: tuple[int, ...] = (1, 4)
    design_seed: int = 0

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
        """What a table's rows depend on, besides the configuration and seed: a resumed build only reuses these."""
        return {
            "dataset": self.task.name,
            "benchmark_version": self.task.version,
            "profile": self.profile,
            "setting": asdict(self.setting),
            "space": self.task.space.to_dicts(),
            "builder": self.task.builder_name,
            "metric": self.task.metric.name,
            "keras_backend": keras.backend.backend(),
        }

    def jobs(self) -> list[CurveJob]:
        """Every configuration under every seed it is trained with, seed 0's first, so that a build
        stopped early is a table already."""
        identity = json.dumps(self.identity, sort_keys=True, default=str)
        found = []
        configs = self.configurations()
        for seed in range(max(self.noise_seeds, 1)):
            for number, params in enumerate(configs if seed == 0 else configs[: self.noise_configs]):
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

        engine = Engine(out, command=command, key_column="job_key", fresh=fresh, outputs=(TABLE_FILE, METADATA_FILE))
        with engine:
            engine.run(jobs, work, deadline=deadline)
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
        write_bytes_atomically(gzip.compress(table.to_csv(index=False).encode(), mtime=0), out / TABLE_FILE)
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
            },
            "configurations": int(rows.loc[rows.seed == 0, "config"].nunique()),
            "jobs": {"finished": len(rows), "planned": len(jobs)},
            "built": {"first_started": rows.started_at.min(), "last_finished": rows.finished_at.max()},
            "provenance": rows[provenance_columns].drop_duplicates().to_dict(orient="records"),
        }
        write_bytes_atomically(json.dumps(metadata, indent=1, default=str).encode(), out / METADATA_FILE)
        return table
