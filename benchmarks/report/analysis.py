"""Every statistic the report shows, computed once from the records; figures and words read it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.report.records import CELL, Records
from benchmarks.report.significance import MethodComparison, compare_methods
from benchmarks.report.statistics import (
    blocks_by_method,
    budget_to_reach,
    final_summary,
    incumbents,
    mean_ranks,
    normalized_regret,
    read_at,
    reference_scores,
)

__all__ = ["FRACTIONS_TESTED", "Analysis", "analyse"]

# The budget fractions the rank tests run at (as HPO-B does; YAHPO Gym reports 25% and 100%).
FRACTIONS_TESTED = (0.25, 0.5, 1.0)
CURVE_POINTS = 60


@dataclass(frozen=True)
class Analysis:
    """The report's numbers. Tables indexed by cell (task, method, seed) have one column per point.

    ``comparisons`` pool every task of a mode (blocks: task × seed); ``task_comparisons`` test each
    task on its own seeds, the comparison the answer gives, since datasets are not pooled unless
    they agree.
    """

    records: Records
    reference_method: str
    budget_points: np.ndarray
    scores: pd.DataFrame
    regret: pd.DataFrame
    time_points: dict[str, np.ndarray]
    time_scores: dict[str, pd.DataFrame]
    ranks: dict[str, pd.DataFrame]
    comparisons: dict[str, dict[float, MethodComparison]]
    task_comparisons: dict[str, dict[float, MethodComparison]]
    budget_to_reference: pd.DataFrame
    summary: pd.DataFrame


def _log_points(low: float, high: float, extra: tuple[float, ...] = ()) -> np.ndarray:
    points = np.geomspace(low, high, CURVE_POINTS) if 0 < low < high else np.array([high])
    return np.unique(np.concatenate([points, extra]))


def analyse(records: Records, *, reference_method: str = "random") -> Analysis:
    trials = records.trials
    cells = pd.MultiIndex.from_frame(records.cells[CELL])
    spent = trials.budget_fraction[trials.budget_fraction > 0]
    budget_points = _log_points(float(spent.min()) if len(spent) else 1.0, 1.0, FRACTIONS_TESTED)
    by_budget = incumbents(trials, "budget_fraction")
    scores = read_at(by_budget, cells, budget_points)
    regret = normalized_regret(scores, reference_scores(trials))

    time_points, time_scores = {}, {}
    by_time = incumbents(trials, "elapsed_s")
    for task in records.tasks:
        seconds = records.task_trials(task).elapsed_s
        positive = seconds[seconds > 0]
        time_points[task] = _log_points(
            float(positive.min()) if len(positive) else 1.0, float(seconds.max()) if len(seconds) else 1.0
        )
        task_cells = cells[cells.get_level_values("task") == task]
        time_scores[task] = read_at(by_time[by_time.task == task], task_cells, time_points[task])

    ranks, comparisons = {}, {}
    for mode in records.modes:
        in_mode = regret[regret.index.get_level_values("task").isin(records.tasks_in(mode))]
        ranks[mode] = mean_ranks(in_mode)
        comparisons[mode] = {f: compare_methods(blocks_by_method(in_mode[f])) for f in FRACTIONS_TESTED}
    task_comparisons = {}
    for task in records.tasks:
        of_task = regret[regret.index.get_level_values("task") == task]
        task_comparisons[task] = {f: compare_methods(blocks_by_method(of_task[f])) for f in FRACTIONS_TESTED}

    summary = final_summary(records.cells).merge(
        regret[1.0].groupby(level=["task", "method"]).median().rename("final_regret").reset_index(),
        on=["task", "method"],
    )
    return Analysis(
        records=records,
        reference_method=reference_method,
        budget_points=budget_points,
        scores=scores,
        regret=regret,
        time_points=time_points,
        time_scores=time_scores,
        ranks=ranks,
        comparisons=comparisons,
        task_comparisons=task_comparisons,
        budget_to_reference=budget_to_reach(by_budget, records.cells, reference_method=reference_method),
        summary=summary,
    )
