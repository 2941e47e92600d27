"""The comparison report, built from the harness records alone.

    python -m benchmarks.report [--in reports/] [--out reports/]

Reads ``comparison.csv`` and ``trials.csv`` and writes ``README.md`` (figures linked),
``report.html`` (self-contained: images inlined, every value escaped, no JavaScript) and
``figures/*.png``. Every number in the text is computed here from those records.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI machines
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.cli import OneLineParser, run_guarded
from tuning.errors import TuningError

MIN_SEEDS_FOR_TESTS = 5
# One colour per method, the same in every figure (colour-blind-safe Dark2).
METHOD_COLORS = {
    "grid": "#1b9e77",
    "random": "#d95f02",
    "bayes": "#7570b3",
    "hyperband": "#e7298a",
    "halving": "#66a61e",
    "kt_random": "#e6ab02",
    "kt_bayes": "#a6761d",
    "kt_grid": "#666666",
}
EXTRA_COLORS = ["#1f78b4", "#fb9a99", "#cab2d6", "#b15928"]
VERSION_COLUMNS = (
    "python",
    "keras_backend",
    "tensorflow",
    "keras",
    "keras-tuner",
    "scikit-learn",
    "scikit-optimize",
    "scikeras",
    "jax",
)


@dataclass
class Records:
    comparison: pd.DataFrame
    trials: pd.DataFrame

    @property
    def methods(self) -> list[str]:
        known = [m for m in METHOD_COLORS if m in set(self.comparison.method)]
        return known + sorted(set(self.comparison.method) - set(known))

    @property
    def datasets(self) -> list[str]:
        return sorted(set(self.comparison.dataset))

    def metric(self, dataset: str) -> str:
        return str(self.comparison.loc[self.comparison.dataset == dataset, "metric"].iloc[0])


def color(method: str, methods: Sequence[str]) -> str:
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    extras = [m for m in methods if m not in METHOD_COLORS]
    return EXTRA_COLORS[extras.index(method) % len(EXTRA_COLORS)]


def higher_is_better(metric: str) -> bool:
    return metric == "accuracy"


def load(in_dir: Path) -> Records:
    paths = {name: in_dir / f"{name}.csv" for name in ("comparison", "trials")}
    for path in paths.values():
        if not path.is_file():
            raise TuningError(f"no harness record {str(path)!r}; run `python -m benchmarks.compare` first")
    try:
        comparison, trials = (pd.read_csv(p) for p in paths.values())
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TuningError(f"cannot read the harness records in {str(in_dir)!r}: {exc}") from None
    for name, frame, needed in (
        ("comparison", comparison, {"dataset", "method", "seed", "metric", "test_score", "val_score"}),
        ("trials", trials, {"dataset", "method", "seed", "status", "val_score", "elapsed_s", "cumulative_epochs"}),
    ):
        missing = needed - set(frame.columns)
        if missing:
            raise TuningError(f"{paths[name]} lacks columns {sorted(missing)}")
    if comparison.empty:
        raise TuningError(f"{paths['comparison']} has no finished cells")
    return Records(comparison, trials)


# ---------------------------------------------------------------- statistics


def best_so_far(values: pd.Series, metric: str) -> np.ndarray:
    """Running best of validation scores; failed (NaN) trials keep the previous best."""
    filled = values.to_numpy(dtype=float).copy()
    worst = -np.inf if higher_is_better(metric) else np.inf
    filled[~np.isfinite(filled)] = worst
    running = np.maximum.accumulate(filled) if higher_is_better(metric) else np.minimum.accumulate(filled)
    running[~np.isfinite(running)] = np.nan
    return running


def anytime(records: Records, dataset: str, method: str, x: str, grid: np.ndarray) -> np.ndarray:
    """Best-so-far validation score at each point of ``grid``, one row per seed."""
    metric = records.metric(dataset)
    t = records.trials
    rows = []
    for _, cell in t[(t.dataset == dataset) & (t.method == method)].groupby("seed"):
        cell = cell.sort_values(x, kind="stable")
        best = best_so_far(cell.val_score, metric)
        xs = cell[x].to_numpy(dtype=float)
        index = np.searchsorted(xs, grid, side="right") - 1
        # Undefined before the first trial and after the last: the search was not running.
        inside = (index >= 0) & (grid <= xs[-1])
        rows.append(np.where(inside, best[np.clip(index, 0, None)], np.nan))
    return np.array(rows)


def summary_table(records: Records) -> pd.DataFrame:
    """Per dataset and method: median and IQR of the test score, mean rank, Wilcoxon against the best."""
    out = []
    for dataset in records.datasets:
        metric = records.metric(dataset)
        c = records.comparison[records.comparison.dataset == dataset]
        scores = c.pivot_table(index="seed", columns="method", values="test_score")
        ranks = scores.rank(axis=1, ascending=not higher_is_better(metric))
        medians = scores.median()
        best = medians.idxmax() if higher_is_better(metric) else medians.idxmin()
        for method in [m for m in records.methods if m in scores.columns]:
            column = scores[method]
            paired = scores[[method, best]].dropna()
            p_value = math.nan
            if method != best and len(paired) >= MIN_SEEDS_FOR_TESTS and (paired[method] != paired[best]).any():
                p_value = float(stats.wilcoxon(paired[method], paired[best]).pvalue)
            out.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "metric": metric,
                    "seeds": int(column.notna().sum()),
                    "test_median": float(column.median()),
                    "test_q25": float(column.quantile(0.25)),
                    "test_q75": float(column.quantile(0.75)),
                    "mean_rank": float(ranks[method].mean()),
                    "wilcoxon_p_vs_best": p_value,
                    "is_best": method == best,
                    "wall_time_s_median": float(c.loc[c.method == method, "wall_time_s"].median()),
                    "evaluations_median": float(c.loc[c.method == method, "n_evaluations"].median()),
                    "epochs_median": float(c.loc[c.method == method, "epochs_trained"].median()),
                    "failed_trials": int(c.loc[c.method == method, "n_failed_trials"].sum()),
                }
            )
    return pd.DataFrame(out)


def time_to_target(records: Records) -> pd.DataFrame:
    """Wall time each method needed to reach grid search's best validation score, as a ratio to grid's."""
    out = []
    t = records.trials
    for dataset in records.datasets:
        metric = records.metric(dataset)
        reached = higher_is_better(metric)
        for seed, grid_cell in t[(t.dataset == dataset) & (t.method == "grid")].groupby("seed"):
            grid_cell = grid_cell.sort_values("elapsed_s", kind="stable")
            grid_best = best_so_far(grid_cell.val_score, metric)
            if not np.isfinite(grid_best[-1]):
                continue
            target = grid_best[-1]
            grid_time = float(grid_cell.elapsed_s.to_numpy()[np.argmax(grid_best == target)])
            for method, cell in t[(t.dataset == dataset) & (t.seed == seed)].groupby("method"):
                cell = cell.sort_values("elapsed_s", kind="stable")
                best = best_so_far(cell.val_score, metric)
                hit = best >= target if reached else best <= target
                seconds = float(cell.elapsed_s.to_numpy()[np.argmax(hit)]) if hit.any() else math.inf
                out.append(
                    {
                        "dataset": dataset,
                        "seed": seed,
                        "method": method,
                        "target": target,
                        "seconds": seconds,
                        "ratio_to_grid": seconds / grid_time if grid_time > 0 else math.nan,
                    }
                )
    columns = ["dataset", "seed", "method", "target", "seconds", "ratio_to_grid"]
    frame = pd.DataFrame(out, columns=columns)
    if frame.empty:  # no grid search in these records: nothing to measure against
        return frame
    return frame.groupby(["dataset", "method"], as_index=False).median(numeric_only=True)


def importance(records: Records, dataset: str) -> tuple[pd.Series, int]:
    """Permutation importance of a random-forest surrogate fitted to every method's successful trials."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    t = records.trials
    ok = t[(t.dataset == dataset) & (t.status == "ok") & np.isfinite(t.val_score)]
    params = [c for c in ok.columns if c.startswith("param_") and ok[c].notna().any()]
    if len(ok) < 10 or not params:
        return pd.Series(dtype=float), len(ok)
    x = pd.DataFrame(
        {
            c[len("param_") :]: ok[c].fillna(-1) if pd.api.types.is_numeric_dtype(ok[c]) else pd.factorize(ok[c])[0]
            for c in params
        }
    )
    forest = RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=0).fit(x, ok.val_score)
    result = permutation_importance(forest, x, ok.val_score, n_repeats=20, random_state=0)
    return pd.Series(result.importances_mean, index=x.columns).sort_values(ascending=False), len(ok)


# ---------------------------------------------------------------- figures


def _label(metric: str) -> str:
    return (
        "validation accuracy (higher is better)"
        if higher_is_better(metric)
        else "validation RMSE, $100k (lower is better)"
    )


def save_figure(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure_anytime(records: Records, out: Path) -> Path:
    datasets = records.datasets
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, 4 * len(datasets)), squeeze=False)
    for row, dataset in enumerate(datasets):
        metric = records.metric(dataset)
        t = records.trials[records.trials.dataset == dataset]
        for col, (x, xlabel) in enumerate(
            (("elapsed_s", "wall time of the search (s)"), ("cumulative_epochs", "epochs of training spent"))
        ):
            ax = axes[row][col]
            grid = np.linspace(0, float(t[x].max()) if len(t) else 1.0, 300)
            for method in records.methods:
                curves = anytime(records, dataset, method, x, grid)
                if curves.size == 0:
                    continue
                with warnings.catch_warnings():
                    # Points where no seed's search was running are all-NaN by design.
                    warnings.simplefilter("ignore", RuntimeWarning)
                    median = np.nanmedian(curves, axis=0)
                    q25, q75 = np.nanpercentile(curves, [25, 75], axis=0)
                ax.plot(grid, median, color=color(method, records.methods), label=method, lw=2)
                if len(curves) > 1:
                    ax.fill_between(grid, q25, q75, color=color(method, records.methods), alpha=0.2)
            ax.set(xlabel=xlabel, ylabel=_label(metric), title=f"{dataset}: best so far")
            ax.grid(alpha=0.3)
            ax.legend()
    return save_figure(fig, out / "anytime.png")


def figure_test_scores(records: Records, out: Path) -> Path:
    datasets = records.datasets
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        c = records.comparison[records.comparison.dataset == dataset]
        metric = records.metric(dataset)
        for i, method in enumerate(records.methods):
            scores = c.loc[c.method == method, "test_score"].dropna()
            if scores.empty:
                continue
            jitter = np.linspace(-0.12, 0.12, len(scores)) if len(scores) > 1 else [0.0]
            ax.scatter(i + np.asarray(jitter), scores, color=color(method, records.methods), alpha=0.7, s=30)
            ax.hlines(scores.median(), i - 0.3, i + 0.3, color="black", lw=2)
        ax.set_xticks(range(len(records.methods)), records.methods)
        ylabel = (
            "test accuracy (higher is better)" if higher_is_better(metric) else "test RMSE, $100k (lower is better)"
        )
        ax.set(ylabel=ylabel, title=f"{dataset}: test score per seed (bar: median)")
        ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, out / "test_scores.png")


def figure_cost(records: Records, out: Path) -> Path:
    columns = (
        ("wall_time_s", "wall time per cell (s)"),
        ("n_evaluations", "trials evaluated"),
        ("epochs_trained", "epochs trained in the search"),
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    datasets, methods = records.datasets, records.methods
    width = 0.8 / max(1, len(methods))
    for ax, (column, label) in zip(axes, columns, strict=True):
        for j, method in enumerate(methods):
            values = [
                records.comparison.loc[
                    (records.comparison.dataset == d) & (records.comparison.method == method), column
                ].median()
                for d in datasets
            ]
            ax.bar(np.arange(len(datasets)) + j * width, values, width, color=color(method, methods), label=method)
        ax.set_xticks(np.arange(len(datasets)) + width * (len(methods) - 1) / 2, datasets)
        ax.set(ylabel=label + " (median over seeds)", title=label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    return save_figure(fig, out / "cost.png")


def figure_importance(records: Records, importances: dict[str, tuple[pd.Series, int]], out: Path) -> Path:
    datasets = records.datasets
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        values, n = importances[dataset]
        if values.empty:
            ax.text(0.5, 0.5, f"too few successful trials ({n})", ha="center", va="center")
        else:
            ax.barh(values.index[::-1], values.to_numpy()[::-1], color="#4c72b0")
        ax.set(
            xlabel="permutation importance (mean drop in surrogate R²)",
            title=f"{dataset}: what mattered ({n} trials, all methods)",
        )
        ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, out / "importance.png")


def _binned_mean(frame: pd.DataFrame, x: str, y: str, x_bins: np.ndarray, y_bins: np.ndarray | None) -> tuple:
    xi = np.digitize(frame[x].astype(float), x_bins) - 1
    if y_bins is None:
        levels = sorted(frame[y].dropna().unique())
        yi = np.array([levels.index(v) for v in frame[y]])
    else:
        levels = None
        yi = np.digitize(frame[y].astype(float), y_bins) - 1
    ny = len(levels) if levels is not None else len(y_bins) - 1
    sums, counts = np.zeros((ny, len(x_bins) - 1)), np.zeros((ny, len(x_bins) - 1))
    for a, b, v in zip(xi, yi, frame.val_score, strict=True):
        if 0 <= a < counts.shape[1] and 0 <= b < ny:
            sums[b, a] += v
            counts[b, a] += 1
    with np.errstate(invalid="ignore"):
        return sums / counts, counts, levels


def _bin_labels(edges: np.ndarray) -> list[str]:
    return [f"{math.sqrt(a * b):.2g}" for a, b in itertools.pairwise(edges)]


def figure_interactions(records: Records, out: Path) -> Path:
    datasets = records.datasets
    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, 4.5 * len(datasets)), squeeze=False)
    units_bins = np.array([22.6, 45.3, 90.5, 181, 362, 724])  # geometric centres 32, 64, 128, 256, 512
    for row, dataset in enumerate(datasets):
        metric = records.metric(dataset)
        t = records.trials
        ok = t[(t.dataset == dataset) & (t.status == "ok") & np.isfinite(t.val_score)]
        cmap = "viridis" if higher_is_better(metric) else "viridis_r"
        panels = []
        if {"param_units_1", "param_units_2"} <= set(ok.columns):
            deep = ok[ok.get("param_n_layers", pd.Series(2, index=ok.index)).fillna(2) >= 2]
            panels.append(
                ("param_units_1", "param_units_2", deep, units_bins, units_bins, "units, layer 1", "units, layer 2")
            )
        if {"param_learning_rate", "param_batch_size"} <= set(ok.columns):
            lr_bins = np.logspace(-4, -1, 7)
            panels.append(("param_learning_rate", "param_batch_size", ok, lr_bins, None, "learning rate", "batch size"))
        for col in range(2):
            ax = axes[row][col]
            if col >= len(panels) or panels[col][2].empty:
                ax.set_axis_off()
                continue
            x, y, frame, x_bins, y_bins, xlabel, ylabel = panels[col]
            means, counts, levels = _binned_mean(frame, x, y, x_bins, y_bins)
            # A robust colour range, so that a few diverged trials do not flatten the rest.
            low, high = np.nanpercentile(ok.val_score, [10, 100] if higher_is_better(metric) else [0, 90])
            image = ax.imshow(means, origin="lower", aspect="auto", cmap=cmap, vmin=low, vmax=high)
            ax.set_xticks(range(len(x_bins) - 1), _bin_labels(x_bins))
            if levels is None:
                ax.set_yticks(range(len(y_bins) - 1), _bin_labels(y_bins))
            else:
                ax.set_yticks(range(len(levels)), [str(v) for v in levels])
            for (b, a), n in np.ndenumerate(counts):
                if n:
                    ax.text(
                        a,
                        b,
                        f"n={int(n)}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        bbox={"facecolor": "white", "alpha": 0.7, "pad": 1, "lw": 0},
                    )
            ax.set(xlabel=xlabel + " (bin centre)", ylabel=ylabel, title=f"{dataset}: mean {_label(metric)}")
            fig.colorbar(image, ax=ax)
    return save_figure(fig, out / "interactions.png")


def figure_trajectories(records: Records, out: Path) -> Path:
    datasets, methods = records.datasets, records.methods
    fig, axes = plt.subplots(
        len(datasets), len(methods), figsize=(4 * len(methods), 3.6 * len(datasets)), squeeze=False, sharey=True
    )
    for row, dataset in enumerate(datasets):
        metric = records.metric(dataset)
        t = records.trials[(records.trials.dataset == dataset) & (records.trials.seed == records.trials.seed.min())]
        for col, method in enumerate(methods):
            ax = axes[row][col]
            cell = t[t.method == method]
            if cell.empty or "param_learning_rate" not in cell:
                ax.set_axis_off()
                continue
            ok = cell[cell.status == "ok"]
            failed = cell[cell.status != "ok"]
            sizes = 10 + 60 * np.log2(cell.get("param_units_1", pd.Series(64, index=cell.index)).astype(float) / 16) / 5
            points = ax.scatter(
                ok.elapsed_s,
                ok.param_learning_rate,
                c=ok.val_score,
                s=sizes[ok.index],
                cmap="viridis" if higher_is_better(metric) else "viridis_r",
                edgecolor="black",
                lw=0.3,
            )
            ax.scatter(failed.elapsed_s, failed.param_learning_rate, marker="x", color="red", label="failed")
            ax.set_yscale("log")
            ax.set(title=f"{dataset} / {method}", xlabel="wall time (s)")
            if col == 0:
                ax.set_ylabel("learning rate tried (marker size: units, layer 1)")
            if len(ok):
                fig.colorbar(points, ax=ax, label=_label(metric).split(" (")[0])
            if len(failed):
                ax.legend(loc="lower right", fontsize=7)
    return save_figure(fig, out / "trajectories.png")


# ---------------------------------------------------------------- text


def _fmt(value: float, metric: str | None = None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.4f}" if metric else f"{value:.3g}"


def header(records: Records) -> list[tuple[str, str]]:
    c = records.comparison
    first = c.iloc[0]
    commands = sorted(set(c.get("command", pd.Series(["unknown"])).dropna()))
    budgets = ", ".join(
        f"{d}: {int(c.loc[c.dataset == d, 'budget_epochs'].iloc[0])} epochs per cell"
        for d in records.datasets
        if "budget_epochs" in c
    )
    versions = ", ".join(f"{k} {first[k]}" for k in VERSION_COLUMNS if k in c)
    machine = "unknown"
    if "machine_cpus" in c:
        machine = f"{first.machine_cpus} CPUs ({first.machine_cpu_model}), {first.machine_ram_gb} GiB RAM"
    return [
        ("Harness command", "; ".join(commands)),
        ("Report command", "python -m benchmarks.report"),
        ("Runs finished", f"{c.started_at.min()} to {c.finished_at.max()}" if "started_at" in c else "unknown"),
        ("Report built", datetime.now(UTC).isoformat(timespec="seconds")),
        ("Machine", machine),
        ("Versions", versions),
        ("Profile", ", ".join(sorted(set(c.get("profile", pd.Series(["unknown"])).astype(str))))),
        ("Budget", budgets),
        ("Code", ", ".join(sorted(set(c.get("git_commit", pd.Series(["unknown"])).astype(str))))),
        ("Benchmark version", ", ".join(sorted(set(c.get("benchmark_version", pd.Series(["unknown"])).astype(str))))),
    ]


def _recommendation(dataset: str, rows: pd.DataFrame, best: Any, ttt: pd.DataFrame, seeds: int) -> str:
    """Which method to pick, and the trade-off, in one sentence built from the numbers."""
    speed = ttt[(ttt.dataset == dataset) & (ttt.method != "grid") & (ttt.ratio_to_grid < 1)]
    speed = speed.sort_values("ratio_to_grid")
    goal = "accuracy" if best.metric == "accuracy" else "error"
    text = f"Pick **{best.method}** for {dataset} if the final {goal} of the tuned model matters most"
    text += f" (best median test {best.metric} over {seeds} seed{'s' if seeds != 1 else ''})"
    fastest = speed.iloc[0] if len(speed) else None
    if fastest is not None and fastest.method != best.method:
        text += (
            f"; pick **{fastest.method}** if search time matters more: it matched grid search's best "
            f"validation score in {fastest.ratio_to_grid:.2f}× grid's time"
        )
    return text + "."


def findings(
    records: Records, table: pd.DataFrame, ttt: pd.DataFrame, importances: dict[str, tuple[pd.Series, int]]
) -> list[str]:
    lines = []
    seeds = int(records.comparison.groupby(["dataset", "method"]).seed.nunique().min())
    for dataset in records.datasets:
        rows = table[table.dataset == dataset]
        metric = records.metric(dataset)
        best = rows[rows.is_best].iloc[0]
        others = rows[~rows.is_best]
        gaps = "; ".join(f"{r.method} {_fmt(r.test_median, metric)}" for r in others.itertuples())
        lines.append(
            f"**{dataset}**: {best.method} reached the best median test {metric}, "
            f"{_fmt(best.test_median, metric)} (others: {gaps or 'none'})."
        )
        if "target" in records.comparison:
            target = records.comparison.loc[records.comparison.dataset == dataset, "target"].dropna()
            if len(target):
                goal = float(target.iloc[0])
                met = best.test_median >= goal if higher_is_better(metric) else best.test_median <= goal
                gap = abs(best.test_median - goal)
                lines.append(
                    f"The profile's target for the best method is {metric} {'≥' if higher_is_better(metric) else '≤'} "
                    f"{goal:g}: {'met' if met else 'missed'} by {_fmt(gap, metric)}."
                )
        recommendation = _recommendation(dataset, rows, best, ttt, seeds)
        if recommendation:
            lines.append(recommendation)
        cheapest = rows.sort_values("wall_time_s_median").iloc[0]
        lines.append(
            f"Cheapest in wall time: {cheapest.method} ({cheapest.wall_time_s_median:.0f} s per cell, "
            f"median); the best method took {best.wall_time_s_median:.0f} s."
        )
        speed = ttt[(ttt.dataset == dataset) & (ttt.method != "grid")]
        if len(speed):
            parts = [
                f"{r.method} {r.ratio_to_grid:.2f}×" if math.isfinite(r.ratio_to_grid) else f"{r.method} never"
                for r in speed.itertuples()
            ]
            lines.append(
                "Time to reach grid search's best validation score, as a multiple of grid's own time "
                f"(below 1 is faster): {', '.join(parts)}."
            )
        values, n = importances[dataset]
        if not values.empty:
            top = ", ".join(f"{name} ({value:.2f})" for name, value in values.head(3).items())
            lines.append(f"Most important hyperparameters ({n} successful trials, all methods): {top}.")
        failed = records.trials[(records.trials.dataset == dataset) & (records.trials.status != "ok")]
        if failed.empty:
            lines.append("No trial failed.")
        else:
            by_method = ", ".join(f"{m}: {k}" for m, k in failed.groupby("method").size().items())
            reasons = failed.error.fillna("").value_counts().head(3)
            reason_text = "; ".join(f"{count}× “{text}”" for text, count in reasons.items())
            lines.append(f"{len(failed)} trials failed ({by_method}): {reason_text}.")
    if seeds < MIN_SEEDS_FOR_TESTS:
        lines.append(
            f"With {seeds} seed{'s' if seeds != 1 else ''} per method, differences between methods are not "
            f"statistically established; run the full profile (≥ {MIN_SEEDS_FOR_TESTS} seeds) for Wilcoxon tests."
        )
    return lines


def stats_rows(table: pd.DataFrame, seeds_ok: bool) -> list[list[str]]:
    rows = []
    for r in table.itertuples():
        p = "best" if r.is_best else (_fmt(r.wilcoxon_p_vs_best) if seeds_ok else "not tested (< 5 seeds)")
        rows.append(
            [
                r.dataset,
                r.method,
                r.metric,
                str(r.seeds),
                _fmt(r.test_median, r.metric),
                f"{_fmt(r.test_q25, r.metric)} – {_fmt(r.test_q75, r.metric)}",
                f"{r.mean_rank:.2f}",
                p,
                f"{r.wall_time_s_median:.0f}",
                f"{r.evaluations_median:.0f}",
                f"{r.epochs_median:.0f}",
                str(r.failed_trials),
            ]
        )
    return rows


STATS_HEADER = [
    "dataset",
    "method",
    "metric",
    "seeds",
    "test median",
    "test IQR",
    "mean rank",
    "Wilcoxon p vs best",
    "wall s",
    "trials",
    "epochs",
    "failed trials",
]
FIGURES = [
    (
        "anytime.png",
        "Anytime performance: best validation score so far against wall time and against epochs "
        "(median over seeds, band: interquartile range).",
    ),
    ("test_scores.png", "Test score of each method's refit winner, one point per seed, bar at the median."),
    ("cost.png", "Cost per cell: wall time, trials evaluated and epochs trained."),
    (
        "importance.png",
        "Hyperparameter importance: permutation importance of a random-forest surrogate "
        "(300 trees) fitted to the successful trials of every method.",
    ),
    (
        "interactions.png",
        "Interactions from the trial records: units of layer 1 × layer 2 (trials with ≥ 2 "
        "layers), and learning rate × batch size; cell colour is the mean validation score, n the trial count.",
    ),
    (
        "trajectories.png",
        "Search trajectories (first seed): the learning rate each method tried over time; "
        "colour is the validation score, red crosses are failed trials.",
    ),
]


def md_table(header_cells: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header_cells) + " |", "|" + "---|" * len(header_cells)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_markdown(path: Path, head, lines, table_rows, ttt_rows) -> None:
    parts = ["# Which search method should I use? — benchmark report", ""]
    parts += [f"- **{k}:** {v}" for k, v in head]
    parts += ["", "## Findings", ""] + [f"- {line}" for line in lines]
    parts += ["", "## Test scores and cost", "", md_table(STATS_HEADER, table_rows)]
    parts += [
        "",
        "## Time to grid's best validation score",
        "",
        md_table(["dataset", "method", "seconds (median)", "× grid's time"], ttt_rows),
    ]
    parts += ["", "## Figures", ""]
    for name, caption in FIGURES:
        parts += [f"![{caption}](figures/{name})", "", f"*{caption}*", ""]
    path.write_text("\n".join(parts) + "\n")


def _html_table(header_cells: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header_cells)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_to_html_inline(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def write_html(path: Path, figures: Path, head, lines, table_rows, ttt_rows, records: Records) -> None:
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.45}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:13px}th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee}"
        "figcaption{font-style:italic;margin-bottom:2em}"
    )
    body = ["<h1>Which search method should I use? — benchmark report</h1>", "<ul>"]
    body += [f"<li><strong>{html.escape(k)}:</strong> {html.escape(str(v))}</li>" for k, v in head]
    body += ["</ul>", "<h2>Findings</h2>", "<ul>"] + [f"<li>{_md_to_html_inline(x)}</li>" for x in lines] + ["</ul>"]
    body += ["<h2>Test scores and cost</h2>", _html_table(STATS_HEADER, table_rows)]
    body += [
        "<h2>Time to grid's best validation score</h2>",
        _html_table(["dataset", "method", "seconds (median)", "× grid's time"], ttt_rows),
    ]
    body += ["<h2>Figures</h2>"]
    for name, caption in FIGURES:
        data = base64.b64encode((figures / name).read_bytes()).decode()
        body.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    best = records.comparison.copy()
    best_rows = [
        [r.dataset, r.method, str(r.seed), json.dumps(json.loads(r.best_params), sort_keys=True)]
        for r in best.itertuples()
    ]
    body += [
        "<h2>Winning configurations</h2>",
        _html_table(["dataset", "method", "seed", "best parameters"], best_rows),
    ]
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tuning benchmark report</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
    path.write_text(page)


def build(in_dir: Path, out_dir: Path) -> list[Path]:
    records = load(in_dir)
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    importances = {d: importance(records, d) for d in records.datasets}
    table = summary_table(records)
    ttt = time_to_target(records)
    written = [
        figure_anytime(records, figures),
        figure_test_scores(records, figures),
        figure_cost(records, figures),
        figure_importance(records, importances, figures),
        figure_interactions(records, figures),
        figure_trajectories(records, figures),
    ]
    seeds_ok = int(records.comparison.groupby(["dataset", "method"]).seed.nunique().min()) >= MIN_SEEDS_FOR_TESTS
    head = header(records)
    lines = findings(records, table, ttt, importances)
    table_rows = stats_rows(table, seeds_ok)
    ttt_rows = [[r.dataset, r.method, _fmt(r.seconds), _fmt(r.ratio_to_grid)] for r in ttt.itertuples()]
    write_markdown(out_dir / "README.md", head, lines, table_rows, ttt_rows)
    write_html(out_dir / "report.html", figures, head, lines, table_rows, ttt_rows, records)
    return [out_dir / "README.md", out_dir / "report.html", *written]


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmarks.report", description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="in_dir", type=Path, default=Path("reports"), help="harness output directory")
    parser.add_argument("--out", type=Path, help="where to write the report (default: the --in directory)")
    args = parser.parse_args(argv)

    def run() -> int:
        for path in build(args.in_dir, args.out or args.in_dir):
            print(f"wrote {path}")
        return 0

    return run_guarded("python -m benchmarks.report", run)


if __name__ == "__main__":
    sys.exit(main())
