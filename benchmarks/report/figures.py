"""The report's figures, drawn from an :class:`~benchmarks.report.analysis.Analysis` and nothing else.

Every method gets one colour, the same in every figure, whatever the number of methods; the
parameter figure reads what was searched from the records, so it follows any search space.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI machines
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scikit_posthocs
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, PercentFormatter

from benchmarks.report.analysis import FRACTIONS_TESTED, Analysis
from benchmarks.report.records import Records
from benchmarks.report.statistics import median_band

__all__ = [
    "figure_anytime_budget",
    "figure_anytime_time",
    "figure_cost",
    "figure_critical_difference",
    "figure_mean_rank",
    "figure_parameters",
    "figure_test_scores",
    "method_colors",
    "save_figure",
    "slug",
]

PANEL = (6.0, 4.0)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def method_colors(methods: list[str]) -> dict[str, Any]:
    """A distinct colour per method: Tableau's ten while they suffice, evenly spaced hues beyond."""
    palette = (
        plt.get_cmap("tab10").colors if len(methods) <= 10 else plt.get_cmap("turbo")(np.linspace(0, 1, len(methods)))
    )
    return dict(zip(methods, palette, strict=False))


def slug(name: str) -> str:
    """A task name as a file-name part."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")


def _panels(
    count: int, columns: int = 2, size: tuple[float, float] = PANEL, *, sharey: bool = False
) -> tuple[plt.Figure, list[plt.Axes]]:
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size[0] * columns, size[1] * rows), squeeze=False, sharey=sharey)
    flat = list(axes.ravel())
    for unused in flat[count:]:
        unused.set_axis_off()
    return fig, flat[:count]


def _log_axis(ax: plt.Axes, low: float, high: float, *, percent: bool = False) -> None:
    """A log x axis over [low, high], labelled in plain numbers (percent for a share of the budget).

    A label at every power of ten, and at 2 and 5 times it where the range spans fewer than two:
    clearer than powers of ten, and mathtext labels would take most of a build's time.
    """
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0,) if high / low >= 100 else (1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1) if percent else FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _metric_label(records: Records, task: str, what: str = "validation") -> str:
    direction = "higher" if records.greater_is_better(task) else "lower"
    return f"{what} {records.metric(task)} ({direction} is better)"


def _nothing(ax: plt.Axes, title: str, why: str) -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
    ax.set(title=title, xticks=[], yticks=[])


def _draw_band(ax: plt.Axes, x: np.ndarray, values: np.ndarray, color: Any, label: str) -> None:
    median, low, high = median_band(values)
    # Non-finite medians (fewer than half the seeds have an answer yet) are left undrawn.
    finite = np.where(np.isfinite(median), median, np.nan)
    ax.plot(x, finite, color=color, label=label, lw=2)
    ax.fill_between(
        x, np.where(np.isfinite(low), low, np.nan), np.where(np.isfinite(high), high, np.nan), color=color, alpha=0.15
    )


def _score_curves(ax: plt.Axes, analysis: Analysis, task: str, scores: pd.DataFrame, x: np.ndarray) -> None:
    records = analysis.records
    colors = method_colors(records.methods)
    # No incumbent yet is the worst possible result, not a missing one.
    worst = -np.inf if records.greater_is_better(task) else np.inf
    of_task = scores[scores.index.get_level_values("task") == task]
    for method, rows in of_task.groupby(level="method"):
        _draw_band(ax, x, rows.fillna(worst).to_numpy(), colors[method], method)
    ax.set(ylabel=_metric_label(records, task), title=f"{task}: best full-fidelity score so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _scope(records: Records, mode: str) -> str:
    """How a figure names the runs it pools: all of them, or those of one mode when there are several."""
    return "all datasets" if len(records.modes) == 1 else f"all {mode} datasets"


def figure_anytime_budget(analysis: Analysis, path: Path) -> Path:
    """Per task, the incumbent against the share of the budget spent; per mode, regret across tasks."""
    records, x = analysis.records, analysis.budget_points
    colors = method_colors(records.methods)
    fig, axes = _panels(len(records.tasks) + len(records.modes))
    for ax, task in zip(axes, records.tasks, strict=False):
        if task in records.failed_tasks:
            _nothing(ax, task, "no successful trial")
            continue
        _score_curves(ax, analysis, task, analysis.scores, x)
        _log_axis(ax, x[0], x[-1], percent=True)
        ax.set_xlabel("share of the epoch budget spent")
    for ax, mode in zip(axes[len(records.tasks) :], records.modes, strict=True):
        regret = analysis.regret[analysis.regret.index.get_level_values("task").isin(records.tasks_in(mode))]
        # Cells of datasets without a regret scale (no successful trial) are left out.
        for method, rows in regret.dropna(how="any").groupby(level="method"):
            _draw_band(ax, x, rows.to_numpy(), colors[method], method)
        _log_axis(ax, x[0], x[-1], percent=True)
        ax.set(
            xlabel="share of the epoch budget spent",
            ylabel="normalised regret (0 = best found, 1 = median trial)",
            title=f"{_scope(records, mode)}: regret, median over datasets × seeds",
        )
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def figure_anytime_time(analysis: Analysis, path: Path) -> Path:
    records = analysis.records
    fig, axes = _panels(len(records.tasks))
    for ax, task in zip(axes, records.tasks, strict=True):
        if task in records.failed_tasks:
            _nothing(ax, task, "no successful trial")
            continue
        seconds = analysis.time_points[task]
        _score_curves(ax, analysis, task, analysis.time_scores[task], seconds)
        _log_axis(ax, seconds[0], seconds[-1])
        ax.set_xlabel("wall time of the search (s)")
    return save_figure(fig, path)


def figure_mean_rank(analysis: Analysis, path: Path) -> Path:
    records = analysis.records
    colors = method_colors(records.methods)
    fig, axes = _panels(len(records.modes), columns=1)
    for ax, mode in zip(axes, records.modes, strict=True):
        ranks = analysis.ranks[mode].dropna(how="all")
        for method in ranks.columns:
            ax.plot(ranks.index, ranks[method], color=colors[method], label=method, lw=2)
        for fraction in FRACTIONS_TESTED:
            ax.axvline(fraction, color="grey", ls=":", lw=1)
        blocks = analysis.comparisons[mode][1.0].blocks
        _log_axis(ax, analysis.budget_points[0], 1.0, percent=True)
        ax.set(
            xlabel="share of the epoch budget spent",
            ylabel="mean rank on regret (1 = best)",
            title=f"{_scope(records, mode)}: mean rank over {blocks} blocks (dataset × seed)",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
    return save_figure(fig, path)


def figure_critical_difference(analysis: Analysis, path: Path) -> Path | None:
    """Critical-difference diagrams at each tested budget share; None when no comparison has a mean rank.

    Where the data are too few for any test (``untestable``), no pair of methods can be told
    apart, so one bar joins them all: the diagram shows exactly what such data support.
    """
    drawn = [
        (mode, fraction, comparison)
        for mode, by_fraction in analysis.comparisons.items()
        for fraction, comparison in by_fraction.items()
        if len(comparison.mean_ranks) > 1
    ]
    if not drawn:
        return None
    colors = method_colors(analysis.records.methods)
    fig, axes = plt.subplots(len(drawn), 1, figsize=(9, 2.4 * len(drawn)), squeeze=False)
    for ax, (mode, fraction, comparison) in zip(axes[:, 0], drawn, strict=True):
        methods = comparison.mean_ranks.index
        p_values = comparison.p_values
        if p_values is None:
            p_values = pd.DataFrame(1.0, index=methods, columns=methods)
        scikit_posthocs.critical_difference_diagram(
            comparison.mean_ranks,
            p_values,
            alpha=comparison.alpha,
            ax=ax,
            color_palette={m: colors[m] for m in methods},
            label_fmt_left="{label} ({rank:.2f})",
            label_fmt_right="({rank:.2f}) {label}",
        )
        judged = (
            "no test can separate methods with so few blocks, so one bar joins them all"
            if comparison.untestable
            else "a bar joins methods the Holm-corrected Wilcoxon tests cannot separate"
        )
        ax.set_title(
            f"{_scope(analysis.records, mode)}, {fraction:.0%} of the budget ({comparison.blocks} blocks): "
            f"mean rank; {judged}",
            fontsize=9,
            pad=28,
        )
    return save_figure(fig, path)


def figure_test_scores(analysis: Analysis, path: Path) -> Path:
    records = analysis.records
    colors = method_colors(records.methods)
    fig, axes = _panels(len(records.tasks))
    for ax, task in zip(axes, records.tasks, strict=True):
        cells = records.task_cells(task)
        for position, method in enumerate(records.methods):
            scores = cells.test_score[cells.method == method].dropna()
            if scores.empty:
                continue
            jitter = np.linspace(-0.15, 0.15, len(scores)) if len(scores) > 1 else np.zeros(1)
            ax.scatter(position + jitter, scores, color=colors[method], alpha=0.8, s=25)
            ax.hlines(scores.median(), position - 0.3, position + 0.3, color="black", lw=2)
        ax.set_xticks(range(len(records.methods)), records.methods, rotation=30, ha="right")
        ax.set(ylabel=_metric_label(records, task, "test"), title=f"{task}: test score per seed (bar: median)")
        ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def figure_cost(analysis: Analysis, path: Path) -> Path:
    summary, records = analysis.summary, analysis.records
    methods, tasks = records.methods, records.tasks
    colors = method_colors(methods)
    columns = (
        ("search_time_s", "search time, refit excluded (s)"),
        ("evaluations", "trials evaluated"),
        ("budget_used", "share of the epoch budget spent"),
    )
    fig, axes = _panels(len(columns), columns=3)
    width = 0.8 / len(methods)
    for ax, (column, label) in zip(axes, columns, strict=True):
        table = summary.pivot(index="task", columns="method", values=column).reindex(index=tasks, columns=methods)
        for offset, method in enumerate(methods):
            ax.bar(np.arange(len(tasks)) + offset * width, table[method], width, color=colors[method], label=method)
        ax.set_xticks(np.arange(len(tasks)) + width * (len(methods) - 1) / 2, tasks)
        ax.set(ylabel="median over seeds", title=label)
        ax.grid(axis="y", alpha=0.3)
    # Beside the last panel, where it hides no bar.
    axes[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return save_figure(fig, path)


def _space(records: Records, task: str) -> dict[str, dict[str, Any]]:
    """The searched parameters' declarations from the ``space`` column, by name; empty without one."""
    declared = records.task_cells(task).get("space", pd.Series(dtype=object)).dropna()
    return {spec["name"]: spec for spec in json.loads(declared.iloc[0])} if len(declared) else {}


def _parameter_axis(ax: plt.Axes, spec: dict[str, Any]) -> None:
    """Bounds and scale of a numeric parameter's axis, as its declaration gives them."""
    if "low" not in spec or "high" not in spec:
        return
    low, high = float(spec["low"]), float(spec["high"])
    if spec.get("log"):
        _log_axis(ax, low / 1.2, high * 1.2)
    else:
        margin = 0.05 * (high - low)
        ax.set_xlim(low - margin, high + margin)


def _draw_parameter(ax: plt.Axes, trials: pd.DataFrame, column: str, spec: dict[str, Any], colors: dict) -> None:
    values = trials[column]
    if spec.get("kind") == "Categorical" or not pd.api.types.is_numeric_dtype(values):
        levels = [str(c) for c in spec.get("choices", sorted(values.dropna().astype(str).unique()))]
        position = values.astype(str).map({level: i for i, level in enumerate(levels)})
        rng = np.random.default_rng(0)  # a fixed jitter: the figure is the same on every build
        x = position + rng.uniform(-0.2, 0.2, len(position))
        ax.set_xticks(range(len(levels)), levels, rotation=30 if max(map(len, levels), default=0) > 5 else 0)
    else:
        x = values.astype(float)
        _parameter_axis(ax, spec)
    for method, rows in trials.groupby("method"):
        ax.scatter(x[rows.index], rows.val_score, s=14, alpha=0.7, color=colors[method], label=method)


def _robust_limits(scores: pd.Series, greater_is_better: bool) -> tuple[float, float]:
    """From the worst tenth of the scores to the best, padded: a few diverged trials would flatten the rest."""
    low, high = (scores.quantile(0.1), scores.max()) if greater_is_better else (scores.min(), scores.quantile(0.9))
    pad = 0.05 * (high - low) or 0.01
    return low - pad, high + pad


def figure_parameters(records: Records, task: str, path: Path) -> Path:
    """Each searched parameter against the validation score, for the successful full-fidelity trials."""
    trials = records.task_trials(task)
    trials = trials[trials.ok & trials.full_fidelity]
    columns = [c for c in trials.columns if c.startswith("param_") and trials[c].notna().any()]
    colors = method_colors(records.methods)
    if trials.empty or not columns:
        fig, axes = _panels(1)
        _nothing(axes[0], task, "no successful full-fidelity trial")
        return save_figure(fig, path)
    space = _space(records, task)
    limits = _robust_limits(trials.val_score, records.greater_is_better(task))
    per_row = 5
    fig, axes = _panels(len(columns) + 1, columns=per_row, size=(3.6, 3.0), sharey=True)
    for position, (ax, column) in enumerate(zip(axes, columns, strict=False)):
        name = column.removeprefix("param_")
        _draw_parameter(ax, trials, column, space.get(name, {}), colors)
        ax.set(title=name, ylim=limits)
        if position % per_row == 0:
            ax.set_ylabel(_metric_label(records, task))
        ax.grid(alpha=0.3)
    # The last panel holds the legend, where it hides no points.
    axes[-1].legend(*axes[0].get_legend_handles_labels(), loc="center", title="method")
    axes[-1].set_axis_off()
    fig.suptitle(f"{task}: what was tried, and what it scored ({len(trials)} full-fidelity trials)")
    return save_figure(fig, path)
