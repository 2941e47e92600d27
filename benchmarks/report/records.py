"""The harness records the report reads: ``comparison.csv`` (one row per cell) and ``trials.csv``.

Loading checks the columns the report needs, so an old or foreign file is a one-line error that
names the missing column instead of a traceback halfway through a figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.common.provenance import DISTRIBUTIONS, TEXT_COLUMNS
from tuning.errors import TuningError

__all__ = ["CELL", "VERSION_COLUMNS", "Records", "load"]

# A cell is one search: one method on one task with one seed.
CELL = ["task", "method", "seed"]
VERSION_COLUMNS = ("python", "keras_backend", *DISTRIBUTIONS)
COMPARISON_COLUMNS = (
    "dataset",
    "method",
    "seed",
    "metric",
    "val_score",
    "refit_val_score",
    "test_score",
    "best_params",
    "search_time_s",
    "n_evaluations",
    "epochs_trained",
    "budget_epochs",
    "epochs_per_trial",
    "n_failed_trials",
    "refit_epochs",
)
TRIAL_COLUMNS = (
    "dataset",
    "method",
    "seed",
    "trial",
    "status",
    "val_score",
    "fidelity",
    "cumulative_epochs",
    "elapsed_s",
    "error",
)
# Columns later harnesses added, absent (NaN) in older records: each reads as "not measured".
OPTIONAL_COLUMNS = ("proposal_time_s", "wall_time_s", "cpu_time_s")
# The units of a dataset's error metrics, where the records do not say them: California housing's
# target is the median house value in units of $100,000 (scikit-learn's fetch_california_housing).
UNITS = {"california_housing": "$100k"}
ERROR_METRICS = ("rmse", "mae")


@dataclass(frozen=True)
class Records:
    """Cells and trials, each labelled with its task and the direction of its metric.

    A task is a dataset, or a dataset in one mode ("real" or "replay") when the records hold
    both: results of different modes are never pooled.
    """

    cells: pd.DataFrame
    trials: pd.DataFrame

    @property
    def tasks(self) -> list[str]:
        return sorted(set(self.cells.task))

    @property
    def methods(self) -> list[str]:
        return sorted(set(self.cells.method))

    @property
    def modes(self) -> list[str]:
        return sorted(set(self.cells["mode"]))

    @property
    def failed_tasks(self) -> set[str]:
        """Tasks on which no trial of any method succeeded."""
        return set(self.tasks) - set(self.trials.task[self.trials.ok])

    def tasks_in(self, mode: str) -> list[str]:
        return sorted(set(self.cells.task[self.cells["mode"] == mode]))

    def task_cells(self, task: str) -> pd.DataFrame:
        return self.cells[self.cells.task == task]

    def task_trials(self, task: str) -> pd.DataFrame:
        return self.trials[self.trials.task == task]

    def metric(self, task: str) -> str:
        return str(self.task_cells(task).metric.iloc[0])

    def greater_is_better(self, task: str) -> bool:
        return bool(self.task_cells(task).greater_is_better.iloc[0])

    def dataset(self, task: str) -> str:
        return str(self.task_cells(task).dataset.iloc[0])

    def mode(self, task: str) -> str:
        return str(self.task_cells(task)["mode"].iloc[0])

    def metric_label(self, task: str) -> str:
        """The metric's name with its units where they are known: "RMSE ($100k)" on California housing."""
        metric = self.metric(task)
        if metric not in ERROR_METRICS:
            return metric
        unit = UNITS.get(self.dataset(task))
        return f"{metric.upper()} ({unit})" if unit else metric.upper()


def _read(path: Path, needed: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise TuningError(f"no harness record {str(path)!r}; run `python -m benchmarks.compare` first")
    try:
        frame = pd.read_csv(path, dtype=TEXT_COLUMNS)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TuningError(f"cannot read the harness record {str(path)!r}: {exc}") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise TuningError(
            f"{path} lacks column {', '.join(map(repr, missing))}: an older harness wrote it; "
            "rerun `python -m benchmarks.compare`"
        )
    return frame


def _label_tasks(cells: pd.DataFrame) -> pd.DataFrame:
    cells = cells.copy()
    # Runs before replay existed were all real runs.
    cells["mode"] = cells["mode"].fillna("real").astype(str) if "mode" in cells else "real"
    several_modes = cells["mode"].nunique() > 1
    cells["task"] = cells.dataset + (" [" + cells["mode"] + "]" if several_modes else "")
    if "greater_is_better" in cells:
        cells["greater_is_better"] = cells.greater_is_better.astype(bool)
    else:
        cells["greater_is_better"] = cells.metric == "accuracy"
    return cells


def load(*in_dirs: Path) -> Records:
    """Read and check the two records in each of ``in_dirs``; every trial is joined to its cell.

    Several directories are read as one set of records (a replay beside the real runs it is
    checked against); a cell found in two of them is refused.
    """
    cells = pd.concat([_read(d / "comparison.csv", COMPARISON_COLUMNS) for d in in_dirs], ignore_index=True)
    trials = pd.concat([_read(d / "trials.csv", TRIAL_COLUMNS) for d in in_dirs], ignore_index=True)
    if cells.empty:
        raise TuningError(f"{in_dirs[0] / 'comparison.csv'} has no finished cells")
    cells = _label_tasks(cells)
    keys = ["dataset", "method", "seed", "mode"]
    twice = cells[cells.duplicated(keys)]
    if len(twice):
        cell = twice.iloc[0]
        raise TuningError(
            f"cell {cell.dataset}/{cell.method}/seed{cell.seed} ({cell['mode']}) is in more than one of "
            f"{', '.join(map(str, in_dirs))}; give each cell's records once"
        )
    for column in OPTIONAL_COLUMNS:
        if column not in cells:
            cells[column] = math.nan
    trials["mode"] = trials["mode"].fillna("real") if "mode" in trials else "real"
    from_cell = ["task", "mode", "greater_is_better", "budget_epochs", "epochs_per_trial"]
    # Trials of a cell that never finished have no row in comparison.csv: the inner join drops them.
    trials = trials.merge(cells[list(dict.fromkeys(keys + from_cell))], on=keys, how="inner")
    trials["ok"] = (trials.status == "ok") & trials.val_score.notna()
    trials["full_fidelity"] = trials.fidelity == trials.epochs_per_trial
    trials["budget_fraction"] = trials.cumulative_epochs / trials.budget_epochs
    return Records(cells, trials)
