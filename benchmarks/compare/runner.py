"""Runs the cells of a comparison as jobs of the engine, and keeps the CSVs and the report in step."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common.cli import check_output_dir
from benchmarks.common.engine import Engine, Job, JobContext
from benchmarks.common.provenance import TEXT_COLUMNS
from benchmarks.common.store import write_csv_atomically
from benchmarks.common.tracking import MLFLOW_FILE
from benchmarks.compare.cell import Cell, run_cell
from benchmarks.report import build as build_report
from tuning.comparison import PROFILES, Dataset, Profile, resolve_reference
from tuning.errors import TuningError
from tuning.execution import Execution, connect
from tuning.methods import DEFAULT_METHODS, get_method
from tuning.methods.base import Plan, Status, validation_folds

__all__ = ["COMPARISON_FILE", "TRIALS_FILE", "Comparison", "Run", "compare"]

COMPARISON_FILE = "comparison.csv"
TRIALS_FILE = "trials.csv"
EXIT_CELL_FAILED = 1


@dataclass(frozen=True)
class Comparison:
    """What a comparison wrote: one row per cell (comparison.csv), one per trial (trials.csv),
    and the report's README.md; ``exit_code`` is the command line's (0: every cell finished)."""

    cells: pd.DataFrame
    trials: pd.DataFrame
    report: Path | None
    exit_code: int


@dataclass
class Run:
    profile: Profile
    datasets: Sequence[Dataset]
    methods: Sequence[str]
    seeds: int
    budget: int | None
    cv: int | None
    out: Path
    execution: Execution
    fresh: bool
    command: str
    tensorboard: Path | None = None
    mlflow: str | None = None
    reference_method: str | None = None
    # The directory of curve tables to replay every trial from; None trains them.
    replay_tables: Path | None = None
    # Cells at once, each on a Dask worker of its own (a local cluster's, or ``cluster``'s).
    cell_workers: int = 1
    # The Dask scheduler (tcp://HOST:PORT) whose workers run the cells; None: this machine.
    cluster: str | None = None

    def cells(self) -> list[Cell]:
        """Seed by seed: a run cut short (or resumed on another machine) leaves whole blocks of
        every dataset and method, which the statistics compare."""
        cells = []
        for seed in range(self.seeds):
            for dataset in self.datasets:
                setting = dataset.setting(self.profile.name)
                if self.budget is not None:
                    setting = replace(setting, budget_epochs=self.budget)
                for method in self.methods:
                    cells.append(Cell(dataset, method, seed, self.profile.name, setting, self.cv, self.mode))
        return cells

    def _plan_all(self, cells: list[Cell]) -> dict[str, Plan]:
        """Every plan, before anything runs or is written: a budget no method can honour fails here."""
        folds = validation_folds(self.cv)
        return {cell.key: get_method(cell.method).plan(cell.task.space, cell.budget, folds=folds) for cell in cells}

    def execute(self) -> int:
        if (self.cell_workers > 1 or self.cluster is not None) and (self.execution.jobs > 1 or self.execution.cluster):
            raise TuningError("cells run at once run their trials one at a time: not with parallel trials")
        cells = self.cells()
        plans = self._plan_all(cells)
        # Load (and checksum) every dataset, and reach the cluster, before touching the output directory.
        data = {dataset.name: dataset.load_data() for dataset in self.datasets}
        for dataset in self.datasets:
            dataset.check(data[dataset.name], dataset.setting(self.profile.name).fraction)
        replays = self._replays()
        by_key = {cell.key: cell for cell in cells}
        jobs = [
            Job(cell.key, cell.label, plans[cell.key].planned_epochs, kind=f"{cell.dataset}/{cell.method}")
            for cell in cells
        ]
        engine = Engine(
            self.out,
            command=self.command,
            key_column="cell_key",
            fresh=self.fresh,
            outputs=(COMPARISON_FILE, TRIALS_FILE, MLFLOW_FILE),
            experiment="benchmarks.compare",
            tensorboard=self.tensorboard,
            mlflow=self.mlflow,
        )
        # The cells' scheduler is reached before anything is written: a bad address costs nothing.
        cluster = connect(self.cluster) if self.cluster is not None else contextlib.nullcontext()
        with cluster as client, self.execution as execution, engine:
            work = _CellWork(by_key, data, replays, execution)
            rows = engine.run(
                jobs, work, after_each=lambda row: self._export(engine), workers=self.cell_workers, cluster=client
            )
            self._export(engine)
            self._summarise(engine, jobs)
        failed = sum(row.get("status") == Status.FAILED for row in rows)
        if (self.out / COMPARISON_FILE).exists():
            try:
                for path in build_report(self.out, self.out, reference_method=self.reference)[:2]:
                    print(f"wrote {path}")
            except Exception as exc:  # the results are safe in the CSVs; the report can be rebuilt
                print(
                    f"report not written ({type(exc).__name__}: {exc}); the CSVs are complete, rerun "
                    "`python -m benchmarks.report`",
                    file=sys.stderr,
                )
                return EXIT_CELL_FAILED
        return EXIT_CELL_FAILED if failed else 0

    @property
    def mode(self) -> str:
        return "real" if self.replay_tables is None else "replay"

    def _replays(self) -> dict[str, Any]:
        """Each dataset's replay, its table checked and its surrogate fitted, before anything is written."""
        if self.replay_tables is None:
            return {}
        from benchmarks.curves.replay import load_replay

        return {d.name: load_replay(self.replay_tables, d, self.profile.name) for d in self.datasets}

    @property
    def reference(self) -> str:
        """The method the report's budget-to-target figures race to."""
        return resolve_reference(self.methods, self.reference_method)

    def _export(self, engine: Engine) -> None:
        # Every finished cell in this directory, not only this run's: a rerun with fewer
        # methods or seeds keeps the others in the CSVs.
        cells = engine.store.rows()
        if cells.empty:
            return
        # The latest finished result for each (dataset, method, seed).
        cell = ["dataset", "method", "seed", *(["mode"] if "mode" in cells else [])]
        cells = cells.drop_duplicates(cell, keep="last")
        cells = cells.sort_values(cell, kind="stable")
        write_csv_atomically(cells, self.out / COMPARISON_FILE)
        trials = engine.records(cells["cell_key"])
        if not trials.empty:
            write_csv_atomically(trials, self.out / TRIALS_FILE)

    def _summarise(self, engine: Engine, jobs: list[Job]) -> None:
        rows = engine.rows(jobs)
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
        for name in (COMPARISON_FILE, TRIALS_FILE, engine.store.path.name):
            print(f"wrote {self.out / name}")


@dataclass(frozen=True)
class _CellWork:
    """Runs a cell as the engine's job; a module-level class, so that it pickles to worker processes."""

    cells: dict[str, Cell]
    data: dict[str, Any]
    replays: dict[str, Any]
    execution: Execution

    def __call__(self, job: Job, context: JobContext) -> dict[str, Any]:
        cell = self.cells[job.key]
        return run_cell(
            cell,
            self.data[cell.dataset],
            execution=self.execution,
            on_trial=_progress(cell, context),
            replay=self.replays.get(cell.dataset),
        )


def _progress(cell: Cell, context: JobContext) -> Callable[[dict[str, Any]], None]:
    """What each finished trial of ``cell`` does: committed, tracked, and shown with the best score so far."""
    metric = cell.task.metric
    best: list[float] = []

    def on_trial(row: dict[str, Any]) -> None:
        context.record(row["trial"], row)
        hparams = {"dataset": cell.dataset, "method": cell.method, "seed": cell.seed, **json.loads(row["params"])}
        metrics = {
            f"val_{metric.name}": row["val_score"],
            "epochs": row["epochs"],
            "elapsed_s": row["elapsed_s"],
            "failed": float(row["status"] != Status.OK),
        }
        context.track(hparams, metrics, part=f"trial-{row['trial']:04d}")
        score = row["val_score"]
        if row["status"] == Status.OK and not math.isnan(score) and (not best or metric.better(score, best[0])):
            best[:] = [score]
        trials = f"trials={row['trial'] + 1}"
        context.advance(row["epochs"], f"{trials} best={best[0]:.4f}" if best else trials)

    return on_trial


def compare(
    datasets: Sequence[Dataset],
    *,
    methods: Sequence[str] | None = None,
    profile: str = "standard",
    seeds: int | None = None,
    budget: int | None = None,
    cv: int | None = None,
    out: str | Path = "results",
    jobs: int = 1,
    fresh: bool = False,
    reference_method: str | None = None,
) -> Comparison:
    """Run ``methods`` (default: grid, random, bayes, hyperband) on every dataset for ``seeds``
    seeds (default: the profile's), each cell under the same epoch budget (default: the dataset's
    setting for ``profile``), and write comparison.csv, trials.csv and the report to ``out``, as
    the command line does.

    Cells already finished in ``out`` are kept and skipped unless ``fresh``. ``reference_method``
    is the method whose median final score the report's budget-to-reach figures race to
    (default: random if it ran, else the first method).
    """
    out = Path(out)
    if profile not in PROFILES:
        raise TuningError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    datasets = list(datasets)
    names = [getattr(d, "name", None) for d in datasets]
    if not datasets or not all(isinstance(d, Dataset) for d in datasets) or len(set(names)) != len(names):
        raise TuningError(f"datasets must be tuning.comparison.Dataset objects with distinct names, got {names}")
    methods = list(methods or DEFAULT_METHODS)
    for method in methods:
        get_method(method)  # an unknown name fails here, before anything runs
    resolve_reference(methods, reference_method)
    check_output_dir(out)
    run = Run(
        profile=PROFILES[profile],
        datasets=datasets,
        methods=methods,
        seeds=seeds or PROFILES[profile].seeds,
        budget=budget,
        cv=cv,
        out=out,
        execution=Execution(jobs=jobs),
        fresh=fresh,
        command=f"benchmarks.compare.compare(profile={profile!r}, methods={methods!r})",
        reference_method=reference_method,
    )
    exit_code = run.execute()
    report = out / "README.md"
    return Comparison(
        cells=_read(out / COMPARISON_FILE),
        trials=_read(out / TRIALS_FILE),
        report=report if report.exists() else None,
        exit_code=exit_code,
    )


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=TEXT_COLUMNS) if path.exists() else pd.DataFrame()
