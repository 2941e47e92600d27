"""Trains a study's runs as jobs of the engine and writes their records, TOML files and report."""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tomli_w

from benchmarks.common.engine import Engine, Job, JobContext
from benchmarks.common.store import write_bytes_atomically, write_csv_atomically
from benchmarks.common.tracking import MLFLOW_FILE
from benchmarks.definitions import DATASETS, Dataset
from benchmarks.study.document import build as build_report
from benchmarks.study.studies import STUDY_VERSION, Study
from tuning.methods.base import Status
from tuning.splits import Split
from tuning.training import FIT_PARAMS, PREDICT_BATCH_SIZE, fit_configuration

__all__ = ["RESULTS_FILE", "StudyRunner", "combined_runs", "group_runs", "train_run"]

RESULTS_FILE = "results.csv"
RUNS_DIR = "runs"
TENSORBOARD_DIR = "tensorboard"
# A run's seed offset: changes initialisation and shuffling, never the split.
RUN_SEED = "run_seed"
# The per-epoch history a run's row carries in the store, for its TOML file.
HISTORY = "history"
EXIT_REPORT_FAILED = 1


@dataclass(frozen=True)
class StudyRun:
    """One configuration of a study: the baseline with ``changed`` applied; ``varied`` names it in its group."""

    run_id: str
    group: str
    changed: Mapping[str, Any]
    config: Mapping[str, Any]
    varied: Mapping[str, Any]

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.varied.items())

    def key(self, study: Study, scale: float, seed: int) -> str:
        identity = {
            "run": self.run_id,
            "study_version": STUDY_VERSION,
            "dataset": study.dataset,
            "config": dict(self.config),
            "scale": scale,
            "seed": seed,
            "backend": keras.backend.backend(),
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def group_runs(study: Study) -> list[StudyRun]:
    """Every run of every group, in the study's order."""
    runs = []
    for group in study.groups:
        for index, changed in enumerate(group.configurations(), 1):
            varied = {k: changed[k] for k in group.factors}
            config = {**study.baseline, **changed}
            runs.append(StudyRun(f"{group.name}-{index:02d}", group.name, changed, config, varied))
    return runs


def combined_runs(study: Study, rows: Sequence[Mapping[str, Any]], score: str, higher: bool) -> list[StudyRun]:
    """The combinations, from the groups' finished runs ranked on the validation ``score``."""
    runs = []
    for combination in study.combinations:
        config = dict(study.baseline)
        for group in study.groups:
            if not group.combine:
                continue
            ranked = sorted(
                (r for r in rows if r["group"] == group.name and r["status"] == "ok" and math.isfinite(r[score])),
                key=lambda r: r[score],
                reverse=higher,
            )
            if len(ranked) > combination.pick:
                config.update({factor: ranked[combination.pick][factor] for factor in group.factors})
        config.update({k: study.baseline[k] for k in combination.keep_baseline})
        changed = {k: v for k, v in config.items() if v != study.baseline[k]}
        runs.append(StudyRun(f"combined-{combination.name}", "combined", changed, config, changed))
    return runs


class EpochTimes(keras.callbacks.Callback):
    """Wall time of each epoch, so that the first (compiling) epoch can be told from the rest."""

    def __init__(self, on_epoch: Callable[[], None]) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._started = 0.0
        self._on_epoch = on_epoch

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seconds.append(time.perf_counter() - self._started)
        self._on_epoch()


def train_run(
    run: StudyRun,
    dataset: Dataset,
    split: Split,
    fixed: Mapping[str, Any],
    seed: int,
    on_epoch: Callable[[], None] = lambda: None,
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Train (by the trial recipe), validate and test one configuration; a failure is recorded, never raised."""
    metric = dataset.metric
    started = time.time()
    clock = EpochTimes(on_epoch)
    values = {**fixed, **{k: v for k, v in run.config.items() if k not in FIT_PARAMS and k != RUN_SEED}}
    n_params: list[int] = []

    def build() -> keras.Model:
        model = dataset.build(
            input_shape=split.x_train.shape[1:],
            n_classes=int(np.max(split.y_train)) + 1 if dataset.classification else None,
            **values,
        )
        n_params.append(model.count_params())
        return model

    fit_started = time.perf_counter()
    fitted = fit_configuration(
        build,
        split.x_train,
        split.y_train,
        epochs=run.config["epochs"],
        batch_size=run.config["batch_size"],
        # The split stays the study's; a run_seed offset changes only initialisation and shuffling.
        seed=seed + run.config.get(RUN_SEED, 0),
        validation=(split.x_val, split.y_val),
        callbacks=[clock],
    )
    history = fitted.history
    result: dict[str, Any] = {"status": Status.OK if fitted.ok else Status.FAILED, "error": fitted.error}
    if n_params:
        result["n_params"] = n_params[0]
    if fitted.epochs:
        result["fit_time_s"] = round(time.perf_counter() - fit_started, 3)
        test = fitted.model.evaluate(
            split.x_test, split.y_test, batch_size=PREDICT_BATCH_SIZE, verbose=0, return_dict=True
        )
        result[f"test_{metric.name}"] = float(test[metric.name])
        result["test_loss"] = float(test["loss"])
    for name in ("loss", metric.name):
        result[f"train_{name}"] = history.get(name, [math.nan])[-1]
        result[f"val_{name}"] = history.get(f"val_{name}", [math.nan])[-1]
    result["first_epoch_s"] = round(clock.seconds[0], 3) if clock.seconds else math.nan
    result["epoch_time_s"] = round(float(np.median(clock.seconds[1:])), 3) if len(clock.seconds) > 1 else math.nan
    result["wall_time_s"] = round(time.time() - started, 3)
    result["epochs_run"] = fitted.epochs
    return result, history


# What a run's TOML records of where it came from.
TOML_PROVENANCE = ("command", "git_commit", "started_at", "finished_at", "scale", "seed", "n_train", "n_val", "n_test")
COST = ("wall_time_s", "fit_time_s", "first_epoch_s", "epoch_time_s", "n_params")


def write_run_toml(path: Path, row: Mapping[str, Any], run: StudyRun) -> None:
    def clean(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v.item() if hasattr(v, "item") else v for k, v in values.items() if v is not None}

    document = {
        "run": clean({k: row[k] for k in ("run", "group", "label", "status", "error", "study", "study_version")}),
        "changed": clean(run.changed),
        "hyperparameters": clean(run.config),
        "results": clean({k: v for k, v in row.items() if k.startswith(("train_", "val_", "test_"))}),
        # A run that failed early has no fit time or size.
        "cost": clean({k: row.get(k) for k in COST}),
        "history": dict(row[HISTORY]),
        "provenance": clean({k: row[k] for k in TOML_PROVENANCE if k in row}),
    }
    write_bytes_atomically(tomli_w.dumps(document).encode(), path)


@dataclass
class StudyRunner:
    study: Study
    scale: float
    seed: int
    out: Path
    fresh: bool
    mlflow: str | None
    command: str

    def execute(self) -> int:
        dataset = DATASETS[self.study.dataset]
        metric = dataset.metric
        score = f"val_{metric.name}"
        split, fixed = dataset.prepare(dataset.split(dataset.load(), self.seed, fraction=self.scale))
        shared = {
            "study": self.study.name,
            "study_version": STUDY_VERSION,
            "dataset": self.study.dataset,
            "scale": self.scale,
            "seed": self.seed,
            "n_train": len(split.x_train),
            "n_val": len(split.x_val),
            "n_test": len(split.x_test),
        }
        engine = Engine(
            self.out,
            command=self.command,
            key_column="run_key",
            fresh=self.fresh,
            outputs=(RESULTS_FILE, RUNS_DIR, TENSORBOARD_DIR, MLFLOW_FILE),
            experiment=self.study.name,
            tensorboard=self.out / TENSORBOARD_DIR,
            mlflow=self.mlflow,
        )
        runs: dict[str, StudyRun] = {}

        def work(job: Job, context: JobContext) -> dict[str, Any]:
            run = runs[job.key]
            result, history = train_run(run, dataset, split, fixed, self.seed, on_epoch=lambda: context.advance(1))
            metrics = {k: v for k, v in result.items() if k.startswith(("train_", "val_", "test_"))}
            context.track(run.config, {**metrics, "wall_time_s": result["wall_time_s"]}, history)
            context.advance(0, f"{score}={result[score]:.4f}")
            return {
                "run": run.run_id,
                "group": run.group,
                "label": run.label,
                **result,
                **run.config,
                "changed": json.dumps(run.changed, sort_keys=True),
                **shared,
                # Kept in the store for the run's TOML file; results.csv leaves it out.
                HISTORY: history,
            }

        def jobs(batch: list[StudyRun]) -> list[Job]:
            for run in batch:
                runs[run.key(self.study, self.scale, self.seed)] = run
            return [Job(run.key(self.study, self.scale, self.seed), run.run_id, run.config["epochs"]) for run in batch]

        with engine:
            (self.out / RUNS_DIR).mkdir(exist_ok=True)
            save = lambda row: self._save(engine, runs, row)  # noqa: E731
            rows = engine.run(jobs(group_runs(self.study)), work, after_each=save)
            combined = combined_runs(self.study, rows, score, metric.greater_is_better)
            rows += engine.run(jobs(combined), work, after_each=save)
        failed = sum(r["status"] != Status.OK for r in rows)
        print(f"{len(rows)} runs, {failed} failed; wrote {self.out / RESULTS_FILE}", file=sys.stderr)
        try:
            for path in build_report(self.study, self.out)[:1]:
                print(f"wrote {path}", file=sys.stderr)
        except Exception as exc:  # the results are safe in results.csv; the report can be rebuilt
            print(
                f"report not written ({type(exc).__name__}: {exc}); results.csv is complete, rerun "
                f"`python -m benchmarks.study.rebuild {self.study.name} --dir {self.out}`",
                file=sys.stderr,
            )
            return EXIT_REPORT_FAILED
        return 0

    def _save(self, engine: Engine, runs: Mapping[str, StudyRun], row: dict[str, Any]) -> None:
        """The run's TOML file, and results.csv with every run of this study finished so far."""
        run = runs[row["run_key"]]
        if HISTORY in row:  # a run whose work raised has no results to write
            write_run_toml(self.out / RUNS_DIR / f"{run.run_id}.toml", row, run)
        rows = engine.store.rows(runs, status=None)
        write_csv_atomically(rows.drop(columns=[HISTORY], errors="ignore"), self.out / RESULTS_FILE)
