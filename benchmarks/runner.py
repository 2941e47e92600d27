"""Runs the cells of a comparison, resumably, and keeps the CSVs in step with the store."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from benchmarks.cell import Cell, run_cell
from benchmarks.definitions import DATASETS, Profile
from benchmarks.report import build as build_report
from benchmarks.store import Store, write_csv_atomically
from tuning.cluster import dask_backend
from tuning.methods import get_method
from tuning.methods.base import validation_folds
from tuning.metrics import metric_for
from tuning.tracking import MLFLOW_FILE, Tracker, check_extras, make_trackers, mlflow_uri

__all__ = ["OUTPUT_FILES", "Run"]

STORE_FILE = "results.sqlite"
COMPARISON_FILE = "comparison.csv"
TRIALS_FILE = "trials.csv"
OUTPUT_FILES = (STORE_FILE, f"{STORE_FILE}-wal", f"{STORE_FILE}-shm", COMPARISON_FILE, TRIALS_FILE, MLFLOW_FILE)
EXIT_CELL_FAILED = 1


def git_commit() -> str:
    """The checkout's commit, marked ``+dirty`` when files differ from it; ``unknown`` outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


@dataclass
class Run:
    profile: Profile
    datasets: Sequence[str]
    methods: Sequence[str]
    seeds: int
    budget: int | None
    cv: int | None
    out: Path
    jobs: int
    fresh: bool
    command: str
    cluster: str | None = None
    tensorboard: Path | None = None
    mlflow: str | None = None

    def __post_init__(self) -> None:
        self._trackers: list[Tracker] = []
        self._commit = "unknown"

    def cells(self) -> list[Cell]:
        cells = []
        for dataset in self.datasets:
            setting = self.profile.settings[dataset]
            if self.budget is not None:
                setting = replace(setting, budget_epochs=self.budget)
            for seed in range(self.seeds):
                for method in self.methods:
                    cells.append(Cell(dataset, method, seed, self.profile.name, setting, self.cv))
        return cells

    def _plan_all(self, cells: list[Cell]) -> dict[str, Any]:
        """Every plan, before anything runs or is written: a budget no method can honour fails here."""
        folds = validation_folds(self.cv)
        plans = {}
        for cell in cells:
            plans[cell.key] = get_method(cell.method).plan(DATASETS[cell.dataset].space, cell.budget, folds=folds)
        return plans

    def execute(self) -> int:
        cells = self.cells()
        plans = self._plan_all(cells)
        # Load (and checksum) every dataset, and reach the cluster, before touching the output directory.
        data = {name: DATASETS[name].load() for name in self.datasets}
        # Once, before this run rewrites its own tracked CSVs (which would read as local changes).
        self._commit = git_commit()
        with ExitStack() as stack:
            jobs, tuner_workers = self.jobs, 0
            if self.cluster is not None:
                local = self.cluster in ("local", "dask")
                jobs = stack.enter_context(
                    dask_backend("local" if local else self.cluster, n_workers=max(2, self.jobs))
                )
                tuner_workers = max(2, self.jobs) if local else 0
            uri = None if self.mlflow is None else mlflow_uri(self.mlflow, self.out)
            check_extras(mlflow=uri)
            # Every check has passed: earlier outputs may go, and then MLflow may create its
            # store, which can be one of them.
            self.out.mkdir(parents=True, exist_ok=True)
            if self.fresh:
                for name in OUTPUT_FILES:
                    (self.out / name).unlink(missing_ok=True)
            self._trackers = make_trackers(tensorboard=self.tensorboard, mlflow=uri, experiment="benchmarks.compare")
            failed = self._run_cells(cells, plans, data, jobs, tuner_workers)
        if (self.out / COMPARISON_FILE).exists():
            try:
                for path in build_report(self.out, self.out)[:2]:
                    print(f"wrote {path}")
            except Exception as exc:  # the results are safe in the CSVs; the report can be rebuilt
                print(
                    f"report not written ({type(exc).__name__}: {exc}); the CSVs are complete, rerun "
                    "`python -m benchmarks.report`",
                    file=sys.stderr,
                )
                return EXIT_CELL_FAILED
        return EXIT_CELL_FAILED if failed else 0

    def _run_cells(
        self, cells: list[Cell], plans: dict[str, Any], data: dict[str, Any], jobs: int, tuner_workers: int
    ) -> int:
        store = Store(self.out / STORE_FILE)
        failed = 0
        try:
            for index, cell in enumerate(cells, 1):
                prefix = f"[{index}/{len(cells)}] {cell.label}"
                if store.finished(cell.key):
                    print(f"{prefix}: finished earlier, skipped", file=sys.stderr)
                    continue
                planned = plans[cell.key].planned_epochs
                failed += not self._run_one(store, cell, data[cell.dataset], planned, prefix, jobs, tuner_workers)
                self._export(store)
            self._export(store)
            self._summarise(store, cells)
        finally:
            store.close()
        return failed

    def _run_one(
        self, store: Store, cell: Cell, data: Any, planned_epochs: int, prefix: str, jobs: int, tuner_workers: int
    ) -> bool:
        store.start_cell(cell.key)
        if self.tensorboard is not None:
            # A cell interrupted earlier starts again: its old trial logs would show twice.
            shutil.rmtree(self.tensorboard / cell.dataset / cell.method / f"seed{cell.seed}", ignore_errors=True)
        best: list[float] = []
        metric_better = (lambda a, b: a > b) if DATASETS[cell.dataset].classification else (lambda a, b: a < b)
        bar = tqdm(total=planned_epochs, desc=prefix, unit="epoch", file=sys.stderr, dynamic_ncols=True, leave=True)

        def on_trial(row: dict[str, Any]) -> None:
            store.add_trial(cell.key, row["trial"], row)
            self._track(cell, row)
            score = row["val_score"]
            if row["status"] == "ok" and not math.isnan(score) and (not best or metric_better(score, best[0])):
                best[:] = [score]
            bar.update(row["epochs"])
            bar.set_postfix_str(
                f"trials={row['trial'] + 1} best={best[0]:.4f}" if best else f"trials={row['trial'] + 1}"
            )

        try:
            row = run_cell(cell, data, n_jobs=jobs, tuner_workers=tuner_workers, on_trial=on_trial)
        except Exception as exc:  # one broken cell is recorded and the comparison goes on
            bar.close()
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            store.finish_cell(cell.key, "error", {"cell_key": cell.key, "error": message})
            print(f"{prefix}: failed: {message}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            return False
        bar.close()
        row["command"] = self.command
        row["git_commit"] = self._commit
        store.finish_cell(cell.key, "ok", row)
        return True

    def _track(self, cell: Cell, row: dict[str, Any]) -> None:
        name = f"{cell.dataset}/{cell.method}/seed{cell.seed}/trial-{row['trial']:04d}"
        hparams = {"dataset": cell.dataset, "method": cell.method, "seed": cell.seed, **json.loads(row["params"])}
        metric = metric_for(DATASETS[cell.dataset].classification).name
        metrics = {
            f"val_{metric}": row["val_score"],
            "epochs": row["epochs"],
            "elapsed_s": row["elapsed_s"],
            "failed": float(row["status"] != "ok"),
        }
        for tracker in self._trackers:
            tracker.log_run(name, hparams, metrics)

    def _export(self, store: Store) -> None:
        cells = store.cells()
        if cells.empty:
            return
        # The latest finished result for each (dataset, method, seed) in this directory.
        cells = cells.drop_duplicates(["dataset", "method", "seed"], keep="last")
        cells = cells.sort_values(["dataset", "method", "seed"], kind="stable")
        write_csv_atomically(cells, self.out / COMPARISON_FILE)
        trials = store.trials(cells["cell_key"])
        if not trials.empty:
            write_csv_atomically(trials, self.out / TRIALS_FILE)

    def _summarise(self, store: Store, cells: list[Cell]) -> None:
        rows = store.cells(cell.key for cell in cells)
        if rows.empty:
            print("no finished cells", file=sys.stderr)
            return
        summary = (
            rows.groupby(["dataset", "method"], sort=True)
            .agg(
                metric=("metric", "first"),
                seeds=("seed", "count"),
                val_median=("val_score", "median"),
                test_median=("test_score", "median"),
                wall_s_median=("wall_time_s", "median"),
                evaluations=("n_evaluations", "sum"),
                epochs=("epochs_trained", "sum"),
                budget=("budget_epochs", "sum"),
                failed_trials=("n_failed_trials", "sum"),
            )
            .reset_index()
        )
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
            print(summary.to_string(index=False))
        for name in (COMPARISON_FILE, TRIALS_FILE, STORE_FILE):
            print(f"wrote {self.out / name}")
