"""The answer on the report's first screen: per dataset, share of the budget and mode, the method to
pick or that the data show no difference, the tests behind it, what the pick costs and what its
winner scores on the test set, and whether the profile's quality target was met.

Every answer comes from one dataset's tests, with its seeds as blocks: datasets are not pooled
here, since with a few datasets a test across them says nothing. Replayed runs answer only at a
share of the budget where their dataset's check against real runs passed
(``benchmarks.report.agreement.Check``); elsewhere a replay row says why it is not used.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks.report.agreement import Agreement, Check, check_text
from benchmarks.report.analysis import FRACTIONS_TESTED, Analysis
from benchmarks.report.findings import fmt_score, plural
from benchmarks.report.records import Records
from benchmarks.report.render import Block, Bullets, Image, Paragraph, Table
from benchmarks.report.significance import MethodComparison, min_blocks
from benchmarks.report.statistics import median_band

__all__ = [
    "ANSWER_HEADER",
    "NO_DIFFERENCE",
    "REPLAY_MISSED",
    "REPLAY_UNCHECKED",
    "answer_blocks",
    "answer_rows",
    "answer_text",
    "answered_tasks",
    "evidence_text",
    "target_lines",
]

NO_DIFFERENCE = "no difference shown"
REPLAY_UNCHECKED = "replay not checked against real runs: not used"
REPLAY_MISSED = "replay missed its check against real runs here: not used"
ANSWER_HEADER = [
    "dataset",
    "mode",
    "budget",
    "answer",
    "evidence",
    "median cost of a whole search",
    "median test score of its winner (95% CI)",
]
READING_GUIDE = (
    "**How to read it**: regret is 0 for the best validation score any method found on that dataset and seed "
    "and 1 for the reference (a median trial); a bar in a critical-difference diagram joins methods the tests "
    "cannot separate. The tests are per dataset, seeds as blocks: Friedman, then Holm-corrected Wilcoxon on "
    "regret at that share of the budget; cost and test score are those of whole searches, median over seeds."
)
CAPTION = (
    "Cost against quality, per dataset: each method's median wall time of a whole search (log scale) "
    "against its median final normalised regret (0 = best found, 1 = a median trial; lower is better), with "
    "95% bootstrap intervals over seeds on both axes."
)


def answered_tasks(records: Records) -> list[str]:
    """The tasks the answer speaks for at every share of the budget: the real runs (a replay speaks
    only where its check against them passed)."""
    return records.tasks_in("real")


def answer_text(comparison: MethodComparison) -> str:
    """The method to pick, the indistinguishable best, or why the data show no difference, for one
    dataset's comparison (its blocks are its seeds)."""
    if comparison.untestable:
        needed = min_blocks(len(comparison.mean_ranks), comparison.alpha)
        if len(comparison.mean_ranks) > 1 and comparison.blocks < needed:
            return f"{NO_DIFFERENCE}: {plural(comparison.blocks, 'seed')}: too few for any test; {needed} needed"
        return f"{NO_DIFFERENCE}: {comparison.untestable}"
    if comparison.pick is not None:
        return f"Pick {comparison.pick}"
    if comparison.best_group:
        return f"indistinguishable best: {', '.join(comparison.best_group)}"
    if comparison.separated_pairs:
        shown = sorted(" better than ".join(pair) for pair in comparison.ordered_pairs)
        return (
            f"{NO_DIFFERENCE} among the best: the tests show only "
            f"{', '.join(shown) or 'pairs whose win counts tie'}, which singles out no best method or group"
        )
    if comparison.friedman_p is None:
        return f"{NO_DIFFERENCE}: the Wilcoxon test does not separate the two methods"
    if not comparison.friedman_rejects:
        return f"{NO_DIFFERENCE}: the Friedman test finds no difference"
    return f"{NO_DIFFERENCE}: the Friedman test rejects, but the Holm-corrected Wilcoxon tests separate no pair"


def evidence_text(comparison: MethodComparison) -> str:
    """The seeds and the tests an answer rests on: the Friedman p and, for a pick or a group, the
    weakest of the pairwise separations it needs."""
    seeds = f"{plural(comparison.blocks, 'seed')} as blocks"
    if comparison.untestable:
        return f"{seeds}; no test run"
    parts = [seeds]
    parts.append(
        "Friedman: not applicable to two methods"
        if comparison.friedman_p is None
        else f"Friedman p = {comparison.friedman_p:.3g}"
    )
    p_values, methods = comparison.p_values, list(comparison.mean_ranks.index)
    if comparison.pick is not None:
        pick = comparison.pick
        weakest = max(p_values.loc[pick, other] for other in methods if other != pick)
        parts.append(f"Holm-corrected Wilcoxon p ≤ {weakest:.3g} against each other method")
    elif comparison.best_group:
        group = comparison.best_group
        outside = [m for m in methods if m not in group]
        # Each member's strongest separation from a method it beats; the answer needs them all.
        weakest = max(min(p_values.loc[m, o] for o in outside if comparison.better(m, o)) for m in group)
        parts.append(f"each shown better than another method at Holm-corrected Wilcoxon p ≤ {weakest:.3g}")
    return "; ".join(parts)


def _named(cells: pd.DataFrame, column: str) -> str:
    return ", ".join(sorted(set(cells[column].dropna().astype(str)))) if column in cells else ""


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if math.isfinite(value) else "n/a"


def _cost(cells: pd.DataFrame) -> str:
    """Median wall time and CPU seconds of a search, refit included, and the machine they hold on; a
    replay's wall time is simulated (the curve table's training time and the methods' real work)."""
    if set(cells.get("mode", [])) == {"replay"}:
        return f"simulated wall {_seconds(cells.wall_time_s.median())} (the curve table's machine)"
    where = _named(cells, "machine_cpu_model") or "machine not recorded"
    hosts = _named(cells, "host")
    where += f" (host {hosts})" if hosts else ""
    return f"wall {_seconds(cells.wall_time_s.median())}, CPU {_seconds(cells.cpu_time_s.median())} on {where}"


def _quality(records: Records, task: str, cells: pd.DataFrame) -> str:
    """Median test score of the searches' refit winners, with a percentile-bootstrap interval over seeds."""
    scores = cells.test_score.dropna().to_numpy(dtype=float)
    if not len(scores):
        return "no test score"
    median, low, high = (float(v[0]) for v in median_band(scores[:, None]))
    interval = f"{fmt_score(low)}–{fmt_score(high)}" if len(scores) > 1 else "one seed: no interval"
    return f"{records.metric_label(task)} {fmt_score(median)} ({interval})"


def _each(chosen: list[str], describe: Callable[[str], str]) -> str:
    """A pick's figures, or each member's of a group, named."""
    if len(chosen) == 1:
        return describe(chosen[0])
    return "; ".join(f"{method}: {describe(method)}" for method in chosen)


def _row(analysis: Analysis, task: str, fraction: float, check: Check | None = None) -> list[str]:
    """An answer with its evidence, cost and quality; ``check``, for a replay, the one it passed."""
    records = analysis.records
    if task in records.failed_tasks:
        return [f"{NO_DIFFERENCE}: no trial succeeded on this dataset", "no test run", "–", "–"]
    comparison = analysis.task_comparisons[task][fraction]
    evidence = evidence_text(comparison)
    if check is not None:
        evidence += f"; replay passed its check against real runs (Kendall's tau {check.tau:.2f})"
    said = [answer_text(comparison), evidence]
    chosen = [comparison.pick] if comparison.pick is not None else comparison.best_group
    if not chosen:
        return [*said, "–", "–"]
    cells = records.task_cells(task)
    return [
        *said,
        _each(chosen, lambda method: _cost(cells[cells.method == method])),
        _each(chosen, lambda method: _quality(records, task, cells[cells.method == method])),
    ]


def answer_rows(analysis: Analysis, found: list[Agreement]) -> list[list[str]]:
    """One row per dataset, mode and tested share of the budget (real runs first: "real" sorts before
    "replay"); a replay answers only where its check against real runs (``found``, the analysis's
    agreements) passed, and a replay without real runs beside it gets a single row saying it is not used."""
    records = analysis.records
    answered = set(answered_tasks(records))
    checks = {agreement.dataset: agreement.checks for agreement in found}
    rows = []
    for task in records.tasks:
        dataset, mode = records.dataset(task), records.mode(task)
        if task in answered:
            rows += [[dataset, mode, f"{f:.0%}", *_row(analysis, task, f)] for f in FRACTIONS_TESTED]
        elif dataset not in checks:
            rows.append([dataset, mode, "–", REPLAY_UNCHECKED, "–", "–", "–"])
        else:
            for fraction, check in checks[dataset].items():
                said = (
                    _row(analysis, task, fraction, check)
                    if check.passed
                    else [REPLAY_MISSED, check_text(check), "–", "–"]
                )
                rows.append([dataset, mode, f"{fraction:.0%}", *said])
    return rows


def _target_value(value: float) -> str:
    """The target as recorded: three decimals, as the profiles write them, unless that would round it."""
    return f"{value:.3f}" if float(f"{value:.3f}") == value else repr(value)


def _target(records: Records, task: str, cells: pd.DataFrame) -> str:
    """Whether the best method's median test score meets the target the profile set, in its direction."""
    if "quality_target" not in cells:
        return "no target recorded"
    targets = np.unique(pd.to_numeric(cells.quality_target, errors="coerce").dropna())
    if not len(targets):
        return "the profile sets no target"
    if len(targets) > 1:
        return f"targets {', '.join(map(_target_value, targets))} recorded for one profile: not judged"
    target, higher = float(targets[0]), records.greater_is_better(task)
    stated = f"target {'≥' if higher else '≤'} {_target_value(target)} test {records.metric_label(task)}"
    medians = cells.groupby("method").test_score.median().dropna()
    if medians.empty:
        return f"{stated}: not met (no method has a test score)"
    best = medians.idxmax() if higher else medians.idxmin()
    met = medians[best] >= target if higher else medians[best] <= target
    best_score = f"best method's median test score: {best} {fmt_score(medians[best])}"
    return f"{stated}: {'met' if met else 'not met'} ({best_score})"


def target_lines(analysis: Analysis) -> list[str]:
    """One line per answered dataset and profile: its quality target, and whether the best method met it."""
    records = analysis.records
    lines = []
    for task in answered_tasks(records):
        cells = records.task_cells(task)
        profiles = cells.get("profile", pd.Series(index=cells.index, dtype=object)).fillna("no profile recorded")
        for profile, of_profile in cells.groupby(profiles, sort=True):
            lines.append(f"**{records.dataset(task)}** ({profile}): {_target(records, task, of_profile)}")
    return lines


def answer_blocks(analysis: Analysis, found: list[Agreement], figure: str) -> list[Block]:
    """The answer table (``found``: the analysis's agreements), how to read it, the cost-against-quality
    figure (``figure``: its path relative to the report) and the quality targets."""
    return [
        Table(ANSWER_HEADER, answer_rows(analysis, found)),
        Paragraph(READING_GUIDE),
        Image(figure, CAPTION),
        Bullets(target_lines(analysis)),
    ]
