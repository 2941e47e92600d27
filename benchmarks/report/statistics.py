"""The measures methods are compared by: pure functions of the records' tables, no plotting.

Scores stay in the metric's own units and "better" follows each task's direction. A cell's
incumbent is the best validation score among its successful trials at full fidelity (the
trial's ``fidelity`` equals the cell's ``epochs_per_trial``): lower rungs of multi-fidelity
methods spend budget but only prune, as in every public HPO benchmark.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.report.records import CELL

__all__ = [
    "BLOCK",
    "REACH_RTOL",
    "blocks_by_method",
    "budget_to_reach",
    "final_summary",
    "incumbents",
    "mean_ranks",
    "median_band",
    "normalized_regret",
    "read_at",
    "reference_scores",
    "refit_mismatches",
]

# "Reached" allows for float noise from the records' round trip, not a margin on quality.
REACH_RTOL = 1e-6
# A block is what the rank tests pair methods on: one task with one seed (one data split).
BLOCK = ["task", "seed"]


def _direction(frame: pd.DataFrame) -> np.ndarray:
    """+1 where higher scores are better, -1 where lower are: multiplied in, every "best" is a maximum."""
    return np.where(frame.greater_is_better.to_numpy(dtype=bool), 1.0, -1.0)


def incumbents(trials: pd.DataFrame, clock: str) -> pd.DataFrame:
    """Each cell's incumbent after each of its trials, as a step function of ``clock``.

    ``clock`` is a trials column: ``budget_fraction`` (epochs spent over the cell's budget) or
    ``elapsed_s`` (seconds since the search started, at the trial's end). Returns one row per
    trial with the cell's columns, ``x`` (the clock) and ``incumbent`` (NaN until the first
    successful full-fidelity trial).
    """
    ordered = trials.sort_values([*CELL, clock, "trial"], kind="stable")
    sign = _direction(ordered)
    eligible = (ordered.ok & ordered.full_fidelity).to_numpy()
    candidate = pd.Series(np.where(eligible, sign * ordered.val_score.to_numpy(), -np.inf), index=ordered.index)
    best = candidate.groupby([ordered[c] for c in CELL], sort=False).cummax().to_numpy()
    with np.errstate(invalid="ignore"):
        incumbent = np.where(np.isfinite(best), sign * best, np.nan)
    return pd.DataFrame({**{c: ordered[c].to_numpy() for c in CELL}, "x": ordered[clock], "incumbent": incumbent})


def read_at(steps: pd.DataFrame, cells: pd.MultiIndex, points: np.ndarray) -> pd.DataFrame:
    """The step functions of :func:`incumbents` read at ``points``: one row per cell, one column per point.

    A trial counts from the moment its clock value is reached (``x <= point``). Before a cell's
    first trial, and for a cell without trials, the value is NaN; after its last trial the cell
    keeps its final incumbent, the answer the finished search gives.
    """
    grid = cells.to_frame(index=False).merge(pd.DataFrame({"x": np.asarray(points, dtype=float)}), how="cross")
    read = pd.merge_asof(
        grid.sort_values("x", kind="stable"),
        steps.astype({"x": float}).sort_values("x", kind="stable"),
        on="x",
        by=CELL,
        direction="backward",
    )
    table = read.set_index([*CELL, "x"]).incumbent.unstack("x")
    return table.reindex(index=cells, columns=np.asarray(points, dtype=float))


def reference_scores(trials: pd.DataFrame) -> pd.DataFrame:
    """Per block: ``best_known``, the best full-fidelity validation score any method found, and
    ``reference``, the median of every method's successful full-fidelity trials (a typical
    configuration as the methods together sampled it). Blocks without such a trial are absent.
    """
    usable = trials[trials.ok & trials.full_fidelity]
    oriented = usable.assign(score=_direction(usable) * usable.val_score)
    grouped = oriented.groupby(BLOCK)
    sign = np.where(grouped.greater_is_better.first(), 1.0, -1.0)
    return pd.DataFrame({"best_known": sign * grouped.score.max(), "reference": grouped.val_score.median()})


def normalized_regret(scores: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """(score − best known) / (reference − best known), cell by cell and point by point.

    0 is the best score any method found in the block, 1 a median trial; the one formula holds
    for both directions of metric. A cell with no incumbent yet has infinite regret (it has no
    answer); a block with no scale (no successful trial, or a median equal to the best) is NaN.
    """
    blocks = references.reindex(scores.index.droplevel("method"))
    best = blocks.best_known.to_numpy()[:, None]
    scale = (blocks.reference - blocks.best_known).to_numpy()[:, None]
    values = scores.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        regret = np.where(np.isnan(values), np.inf, (values - best) / scale)
    regret = np.where(np.isfinite(scale) & (scale != 0), regret, np.nan)
    return pd.DataFrame(regret, index=scores.index, columns=scores.columns)


def median_band(
    values: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median over rows (seeds, or blocks) at each column, and a percentile-bootstrap interval for it.

    Values may be infinite (no incumbent yet): the median is then finite only where more than half
    the rows have one. With fewer than two rows there is no interval (NaN). 1,000 resamples keep a
    report build within seconds; the interval only shades a figure.
    """
    median = np.median(values, axis=0)
    if len(values) < 2:
        missing = np.full(values.shape[1], np.nan)
        return median, missing, missing
    with warnings.catch_warnings():
        # Infinite values and identical rows are expected: they give infinite or degenerate bounds.
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (values,),
            np.median,
            axis=0,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    return median, result.confidence_interval.low, result.confidence_interval.high


def blocks_by_method(regret: pd.Series) -> pd.DataFrame:
    """Regret at one point as one row per block and one column per method, keeping only blocks where
    every method has a cell and the regret scale is defined."""
    return regret.unstack("method").dropna(how="any")


def mean_ranks(regret: pd.DataFrame) -> pd.DataFrame:
    """At each point (column of ``regret``): the methods ranked within every block, lower regret first
    and ties sharing their mean rank, then averaged over blocks. One row per point."""
    ranks = {point: blocks_by_method(regret[point]).rank(axis=1).mean() for point in regret.columns}
    return pd.DataFrame(ranks).T


def budget_to_reach(
    steps: pd.DataFrame, cells: pd.DataFrame, *, reference_method: str = "random", rtol: float = REACH_RTOL
) -> pd.DataFrame:
    """The fraction of the budget each method needs to match the reference score, the reference
    method's median final validation score (the Hyperband paper's measure of speed), per task.

    ``steps`` are :func:`incumbents` on the ``budget_fraction`` clock. The reference score is the
    median over seeds of the reference method's incumbent at 100% of the budget. A cell reaches it
    when its incumbent is at least as good, within a relative ``rtol``, within its budget. Per
    (task, method): the reference score, the fraction by which half the seeds had reached it (inf:
    fewer than half ever did), and how many seeds reached it. Tasks without a reference score (no
    reference method, or one that found nothing in half its seeds) have no rows. "Target" is kept
    for the quality a profile asks of the best method, which this is not.
    """
    index = pd.MultiIndex.from_frame(cells[CELL])
    finals = read_at(steps, index, np.array([1.0]))[1.0].reset_index(name="final")
    finals["sign"] = _direction(cells)
    rows = []
    for task, group in finals.groupby("task", sort=True):
        sign = group.sign.iloc[0]
        reference = sign * group.final[group.method == reference_method]
        # A seed of the reference method that found nothing counts as the worst result, not as missing.
        reference_score = sign * float(np.median(reference.fillna(-np.inf))) if len(reference) else np.nan
        if not np.isfinite(reference_score):
            continue
        task_steps = steps[(steps.task == task) & (steps.x <= 1.0)]
        good_enough = sign * task_steps.incumbent >= sign * reference_score - rtol * abs(reference_score)
        first = task_steps[good_enough].groupby(["method", "seed"]).x.min()
        for method, cells_of_method in group.groupby("method", sort=True):
            fractions = first.reindex(pd.MultiIndex.from_arrays([cells_of_method.method, cells_of_method.seed]))
            rows.append(
                {
                    "task": task,
                    "method": method,
                    "reference_score": reference_score,
                    # The budget by which half the seeds had reached it: one of the seeds' own values, so a
                    # method reaching it in exactly half its seeds is not averaged with "never".
                    "median_fraction": float(np.quantile(fractions.fillna(np.inf), 0.5, method="inverted_cdf")),
                    "seeds_reached": int(fractions.notna().sum()),
                    "seeds": len(cells_of_method),
                }
            )
    columns = ["task", "method", "reference_score", "median_fraction", "seeds_reached", "seeds"]
    return pd.DataFrame(rows, columns=columns)


def final_summary(cells: pd.DataFrame) -> pd.DataFrame:
    """Per (task, method), over seeds: the refit winner's test score (median and interquartile range)
    and the cost of the search (median search time and the method's proposal time within it, trials,
    share of the budget spent, refit epochs as trained) and the failed trials in all."""
    frame = cells.assign(budget_used=cells.epochs_trained / cells.budget_epochs)
    return (
        frame.groupby(["task", "method"], sort=True)
        .agg(
            seeds=("seed", "nunique"),
            test_median=("test_score", "median"),
            test_q25=("test_score", lambda s: s.quantile(0.25)),
            test_q75=("test_score", lambda s: s.quantile(0.75)),
            search_time_s=("search_time_s", "median"),
            proposal_time_s=("proposal_time_s", "median"),
            evaluations=("n_evaluations", "median"),
            budget_used=("budget_used", "median"),
            refit_epochs=("refit_epochs", "median"),
            failed_trials=("n_failed_trials", "sum"),
        )
        .reset_index()
    )


def refit_mismatches(cells: pd.DataFrame, *, rtol: float = REACH_RTOL) -> pd.DataFrame:
    """The searches whose refit winner's validation score differs from its winning trial's.

    One recipe trains trials and refits alike, so the two should agree; only searches that have
    both scores are compared.
    """
    both = cells.dropna(subset=["val_score", "refit_val_score"])
    return both[~np.isclose(both.refit_val_score, both.val_score, rtol=rtol, atol=0)]
