"""The report's figures, drawn from an :class:`~benchmarks.report.analysis.Analysis` and nothing else.

Every method gets one colour, line style and marker, the same in every figure, whatever the
number of methods; the parameter figure reads what was searched from the records, so it follows
any search space.
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
    "figure_cost_quality",
    "figure_critical_difference",
    "figure_mean_rank",
    "figure_parameters",
    "figure_test_scores",
    "method_colors",
    "method_styles",
    "save_figure",
    "slug",
]

PANEL = (6.0, 4.0)
# Ten lines of ten hues still cross and merge; a line style and a marker tell them apart in grey too.
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
MARK_EVERY = 7
# Tens of thousands of points drawn on one another show nothing but their outline.
MAX_POINTS = 2000


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


def method_styles(methods: list[str]) -> dict[str, dict[str, Any]]:
    """Per method, the keyword arguments of its line: colour, line style and marker. The markers of
    different methods sit on different points of the curve (``markevery``), so they do not stack."""
    colors = method_colors(methods)
    return {
        method: {
            "color": colors[method],
            "ls": LINE_STYLES[i % len(LINE_STYLES)],
            "marker": MARKERS[i % len(MARKERS)],
            "markevery": (i % MARK_EVERY, MARK_EVERY),
        }
        for i, method in enumerate(methods)
    }


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

    A label at every power of ten, at 2 and 5 times it where the range spans fewer than two, and at
    every integer multiple (and 1.5) where it spans less than a factor of five, else a narrow axis has
    one label or none: clearer than powers of ten, and mathtext labels would take most of a build's time.
    """
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ratio = high / low
    subs = (1.0,) if ratio >= 100 else (1.0, 2.0, 5.0) if ratio >= 5 else (1.0, 1.5, *np.arange(2.0, 10.0))
    ax.xaxis.set_major_locator(LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1) if percent else FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _metric_label(records: Records, task: str, what: str = "validation") -> str:
    # Two lines: on one, a metric with its unit runs longer than a short panel is high.
    direction = "higher" if records.greater_is_better(task) else "lower"
    return f"{what} {records.metric_label(task)}\n({direction} is better)"


def _nothing(ax: plt.Axes, title: str, why: str) -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
    ax.set(title=title, xticks=[], yticks=[])


def _draw_band(ax: plt.Axes, x: np.ndarray, values: np.ndarray, style: dict[str, Any], label: str) -> float:
    """The median line and its band; returns the first x at which it has a value (inf: none)."""
    median, low, high = median_band(values)
    # Non-finite medians (fewer than half the seeds have an answer yet) are left undrawn.
    drawn = np.isfinite(median)
    ax.plot(x, np.where(drawn, median, np.nan), label=label, lw=1.8, ms=5, **style)
    ax.fill_between(
        x,
        np.where(np.isfinite(low), low, np.nan),
        np.where(np.isfinite(high), high, np.nan),
        color=style["color"],
        alpha=0.12,
    )
    return float(x[drawn][0]) if drawn.any() else math.inf


def _from_first_value(ax: plt.Axes, x: np.ndarray, first: float, *, percent: bool = False) -> None:
    """A log x axis from the first point where any line has a value: before it, a log axis would
    spend most of its width on nothing."""
    _log_axis(ax, first if first < x[-1] else x[0], x[-1], percent=percent)


def _score_curves(ax: plt.Axes, analysis: Analysis, task: str, scores: pd.DataFrame, x: np.ndarray) -> float:
    """Each method's incumbent curve on ``task``; returns the first x at which any has a value."""
    records = analysis.records
    styles = method_styles(records.methods)
    # No incumbent yet is the worst possible result, not a missing one.
    worst = -np.inf if records.greater_is_better(task) else np.inf
    of_task = scores[scores.index.get_level_values("task") == task]
    first = math.inf
    for method, rows in of_task.groupby(level="method"):
        first = min(first, _draw_band(ax, x, rows.fillna(worst).to_numpy(), styles[method], method))
    ax.set(ylabel=_metric_label(records, task), title=f"{task}: best full-fidelity score so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return first


def _scope(records: Records, mode: str) -> str:
    """How a figure names the runs it pools: all of them, or those of one mode when there are several."""
    return "all datasets" if len(records.modes) == 1 else f"all {mode} datasets"


def figure_anytime_budget(analysis: Analysis, path: Path) -> Path:
    """Per task, the incumbent against the share of the budget spent; per mode, regret across tasks."""
    records, x = analysis.records, analysis.budget_points
    styles = method_styles(records.methods)
    fig, axes = _panels(len(records.tasks) + len(records.modes))
    for ax, task in zip(axes, records.tasks, strict=False):
        if task in records.failed_tasks:
            _nothing(ax, task, "no successful trial")
            continue
        _from_first_value(ax, x, _score_curves(ax, analysis, task, analysis.scores, x), percent=True)
        ax.set_xlabel("share of the epoch budget spent")
    for ax, mode in zip(axes[len(records.tasks) :], records.modes, strict=True):
        regret = analysis.regret[analysis.regret.index.get_level_values("task").isin(records.tasks_in(mode))]
        # Cells of datasets without a regret scale (no successful trial) are left out.
        first = math.inf
        for method, rows in regret.dropna(how="any").groupby(level="method"):
            first = min(first, _draw_band(ax, x, rows.to_numpy(), styles[method], method))
        _from_first_value(ax, x, first, percent=True)
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
        _from_first_value(ax, seconds, _score_curves(ax, analysis, task, analysis.time_scores[task], seconds))
        ax.set_xlabel("wall time of the search (s)")
    return save_figure(fig, path)


def figure_mean_rank(analysis: Analysis, path: Path) -> Path:
    records = analysis.records
    styles = method_styles(records.methods)
    fig, axes = _panels(len(records.modes), columns=1, size=(8.0, 4.0))
    for ax, mode in zip(axes, records.modes, strict=True):
        ranks = analysis.ranks[mode].dropna(how="all")
        for method in ranks.columns:
            ax.plot(ranks.index, ranks[method], label=method, lw=1.8, ms=5, **styles[method])
        for fraction in FRACTIONS_TESTED:
            ax.axvline(fraction, color="grey", ls=":", lw=1)
        blocks = analysis.comparisons[mode][1.0].blocks
        # Until some method has an answer every rank ties: the axis starts where the first answer is.
        regret = analysis.regret[analysis.regret.index.get_level_values("task").isin(records.tasks_in(mode))]
        answered = regret.columns[np.isfinite(regret.to_numpy()).any(axis=0)]
        x = analysis.budget_points
        _from_first_value(ax, x, float(answered[0]) if len(answered) else math.inf, percent=True)
        ax.set(
            xlabel="share of the epoch budget spent",
            ylabel="mean rank on regret (1 = best)",
            title=f"{_scope(records, mode)}: mean rank over {blocks} blocks (dataset × seed)",
        )
        ax.grid(alpha=0.3)
        # Beside the panel, where ten methods' entries hide no line.
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
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
        # The diagram draws its bars from p-values: those of pairs the tests do not separate (no test
        # ran, or the Friedman test does not reject) are drawn as 1, so a bar joins them.
        p_values = pd.DataFrame(
            [[0.0 if comparison.separated(a, b) else 1.0 for b in methods] for a in methods],
            index=methods,
            columns=methods,
        )
        scikit_posthocs.critical_difference_diagram(
            comparison.mean_ranks,
            p_values,
            alpha=comparison.alpha,
            ax=ax,
            color_palette={m: colors[m] for m in methods},
            label_fmt_left="{label} ({rank:.2f})",
            label_fmt_right="({rank:.2f}) {label}",
        )
        if comparison.untestable:
            judged = "no test can separate methods with so few blocks, so one bar joins them all"
        elif not comparison.friedman_rejects:
            judged = "the Friedman test finds no difference, so one bar joins them all"
        else:
            judged = "a bar joins methods the Holm-corrected Wilcoxon tests cannot separate"
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
        cells = records.task_cells(task).dropna(subset=["test_score"])
        # Only methods with a test score here get a slot: an empty slot reads as a missing result of zero.
        present = [m for m in records.methods if (cells.method == m).any()]
        if not present:
            _nothing(ax, task, "no test score")
            continue
        for position, method in enumerate(present):
            scores = cells.test_score[cells.method == method]
            jitter = np.linspace(-0.15, 0.15, len(scores)) if len(scores) > 1 else np.zeros(1)
            ax.scatter(position + jitter, scores, color=colors[method], alpha=0.8, s=25)
            ax.hlines(scores.median(), position - 0.3, position + 0.3, color="black", lw=2)
        ax.set_xticks(range(len(present)), present, rotation=30, ha="right")
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
        ax.scatter(x[rows.index], rows.val_score, s=10, alpha=0.5, lw=0, color=colors[method], label=method)


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
    # A fixed seed: the same points on every build.
    shown = trials.sample(MAX_POINTS, random_state=0) if len(trials) > MAX_POINTS else trials
    per_row = 5
    fig, axes = _panels(len(columns) + 1, columns=per_row, size=(3.6, 3.0), sharey=True)
    for position, (ax, column) in enumerate(zip(axes, columns, strict=False)):
        name = column.removeprefix("param_")
        _draw_parameter(ax, shown, column, space.get(name, {}), colors)
        ax.set(title=name, ylim=limits)
        if position % per_row == 0:
            ax.set_ylabel(_metric_label(records, task))
        ax.grid(alpha=0.3)
    # The last panel holds the legend, where it hides no points; its marks opaque, to be read.
    legend = axes[-1].legend(*axes[0].get_legend_handles_labels(), loc="center", title="method")
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    axes[-1].set_axis_off()
    sampled = f", {len(shown):,} of them drawn at random" if len(shown) < len(trials) else ""
    fig.suptitle(f"{task}: what was tried, and what it scored ({len(trials):,} full-fidelity trials{sampled})")
    return save_figure(fig, path)


def _error(center: float, low: float, high: float) -> np.ndarray:
    """An interval as matplotlib's error-bar lengths below and above; an infinite or missing bound
    (too few seeds, or seeds without an answer) draws no bar on that side."""
    lengths = np.array([[center - low], [high - center]])
    return np.where(np.isfinite(lengths), np.clip(lengths, 0, None), np.nan)


def figure_cost_quality(analysis: Analysis, tasks: list[str], path: Path) -> Path:
    """Per task, one mark per method: the median wall time of a search against its median final
    normalised regret, each with a 95% bootstrap interval over seeds; what a method costs against
    what it finds. Methods are told apart by colour and marker, named in one legend."""
    records = analysis.records
    styles = method_styles(records.methods)
    fig, axes = _panels(max(1, len(tasks)))
    if not tasks:
        _nothing(axes[0], "cost against quality", "no real runs to answer from")
        return save_figure(fig, path)
    final = analysis.regret[1.0]
    handles: dict[str, Any] = {}
    for ax, task in zip(axes, tasks, strict=True):
        if task in records.failed_tasks:
            _nothing(ax, task, "no successful trial")
            continue
        cells = records.task_cells(task)
        # Blocks without a regret scale (no successful trial in that seed) are left out.
        regret = final[final.index.get_level_values("task") == task].dropna()
        unanswered, spans = [], []
        for method, values in regret.groupby(level="method"):
            y, y_low, y_high = (float(v[0]) for v in median_band(values.to_numpy()[:, None]))
            seconds = cells.wall_time_s[cells.method == method].dropna().to_numpy(dtype=float)
            if not math.isfinite(y) or not len(seconds):
                unanswered.append(method)
                continue
            x, x_low, x_high = (float(v[0]) for v in median_band(seconds[:, None]))
            style = styles[method]
            handles[method] = ax.errorbar(
                x,
                y,
                xerr=_error(x, x_low, x_high),
                yerr=_error(y, y_low, y_high),
                fmt=style["marker"],
                color=style["color"],
                ms=8,
                capsize=3,
                label=method,
            )
            spans += [v for v in (x, x_low, x_high) if math.isfinite(v) and v > 0]
        if spans:
            _log_axis(ax, min(spans) / 1.15, max(spans) * 1.15)
        seeds = cells.seed.nunique()
        # Named in the title, not in the panel, where it could cover a mark.
        missing = f"\nno answer in half the seeds or more: {', '.join(unanswered)}" if unanswered else ""
        ax.set(
            xlabel="wall time of a search, median over seeds (s, log scale)",
            ylabel="final normalised regret, median over seeds\n(0 = best found, 1 = median trial; lower is better)",
        )
        ax.set_title(f"{task}: cost against quality ({seeds} seed{'s' if seeds != 1 else ''}){missing}", fontsize=10)
        ax.set_ylim(bottom=-0.05)
        ax.grid(alpha=0.3)
    if handles:
        # One legend beside the last panel, where it hides no mark: labels beside marks would overprint.
        named = [m for m in records.methods if m in handles]
        axes[-1].legend(
            [handles[m] for m in named],
            named,
            title="method",
            fontsize=8,
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
        )
    return save_figure(fig, path)
