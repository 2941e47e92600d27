"""The report's words and table cells, each drawn from the analysis and never stronger than its tests.

"Pick X" appears only where the Holm-corrected tests separate X from every other method at 100%
of the budget; everywhere else the text says which methods the data cannot tell apart, and what
it would take to tell them apart. A sentence about gaps "within the variation between blocks"
appears only where the tests separate no pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from benchmarks.report.analysis import FRACTIONS_TESTED, Analysis
from benchmarks.report.significance import MethodComparison, min_blocks
from benchmarks.report.statistics import REACH_RTOL, refit_mismatches

__all__ = [
    "BUDGET_TO_REFERENCE_HEADER",
    "RANK_TEST_HEADER",
    "SUMMARY_HEADER",
    "budget_to_reference_rows",
    "method_notes",
    "plural",
    "pooled_verdict",
    "rank_test_rows",
    "reversals",
    "summary_rows",
    "task_findings",
    "verdict",
]


def fmt_score(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "n/a"


def fmt_regret(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    # + 0.0 turns the -0.0 of a zero regret on a lower-is-better metric into 0.
    return f"{value + 0.0:.3f}" if math.isfinite(value) else "no answer"


def fmt_share(value: float) -> str:
    return f"{value:.0%}" if math.isfinite(value) else "not reached"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _seeds_needed(n_methods: int, n_tasks: int) -> str:
    needed = min_blocks(n_methods)
    return (
        f"at least {max(2, math.ceil(needed / max(1, n_tasks)))} seeds per dataset ({needed} blocks over "
        f"{plural(n_tasks, 'dataset')}) for {n_methods} methods, the minimum with which a Holm-corrected "
        "two-sided Wilcoxon test can separate two methods even when one is better in every block"
    )


def _friedman(comparison: MethodComparison) -> str:
    if comparison.friedman_p is None:
        return "not applicable to two methods"
    return f"χ² = {comparison.friedman_statistic:.2f}, p = {comparison.friedman_p:.3g}"


def _more_seeds(comparison: MethodComparison, n_tasks: int) -> list[str]:
    """What more seeds would show, said only of the gaps the tests left open."""
    n_methods = len(comparison.mean_ranks)
    open_pairs = n_methods * (n_methods - 1) // 2 - len(comparison.separated_pairs)
    more = f"More seeds (each adds {plural(n_tasks, 'block')}) would show whether"
    if not comparison.separated_pairs:
        return [f"{more} the gaps seen here are real; so far they are within the variation between blocks."]
    if open_pairs:
        return [f"{more} the gaps of the {plural(open_pairs, 'pair')} the tests do not separate are real."]
    return []


def verdict(comparison: MethodComparison, n_tasks: int) -> list[str]:
    """What the tests at 100% of the budget support, in plain words."""
    methods = list(comparison.mean_ranks.index)
    if comparison.untestable:
        lines = [
            f"**The data cannot rank the methods**: {comparison.untestable}. No test was run; no method is recommended."
        ]
        if len(methods) > 1 and n_tasks:
            lines.append(f"What would separate them: {_seeds_needed(len(methods), n_tasks)}.")
        return lines
    tests = f"Holm-corrected Wilcoxon signed-rank tests on regret, α = {comparison.alpha:g}, {comparison.blocks} blocks"
    friedman = f"Friedman {_friedman(comparison)}"
    if comparison.pick is not None:
        return [
            f"**Pick {comparison.pick}** for these datasets and this budget: with the whole budget spent it has "
            f"lower regret than every other method ({tests}; {friedman})."
        ]
    if not comparison.friedman_rejects:
        return [
            "**The methods are indistinguishable at this budget**: the Friedman test finds no difference "
            f"({friedman}, {comparison.blocks} blocks).",
            *_more_seeds(comparison, n_tasks),
        ]
    best = comparison.best_ranked
    alike = comparison.indistinguishable_from_best
    behind = [m for m in methods if m != best and comparison.better(best, m)]
    found = [f"the tests cannot tell it from {', '.join(alike)}"] if alike else []
    found += [f"they show it better than {', '.join(behind)}"] if behind else []
    return [
        f"**No method is separated from every other at 100% of the budget** ({tests}; {friedman}). "
        f"{best} has the best mean rank; {'; '.join(found) or 'no pair is separated in its favour'}.",
        *_more_seeds(comparison, n_tasks),
    ]


def reversals(by_task: dict[str, MethodComparison]) -> list[str]:
    """The pairs the tests show in one order on some datasets and in the other on others."""
    shown: dict[tuple[str, str], list[str]] = {}
    for task, comparison in by_task.items():
        methods = comparison.mean_ranks.index
        for winner, loser in ((w, v) for w in methods for v in methods if comparison.better(w, v)):
            shown.setdefault((winner, loser), []).append(task)
    return [
        f"{a} better than {b} on {', '.join(shown[a, b])} but worse on {', '.join(shown[b, a])}"
        for a, b in sorted(shown)
        if a < b and (b, a) in shown
    ]


def pooled_verdict(analysis: Analysis, mode: str) -> list[str]:
    """The verdict over every dataset of ``mode`` pooled, given only where no dataset's tests contradict
    another's: pooled, a method better on one dataset and worse on another would average to nothing."""
    # Only datasets with a successful trial give blocks.
    live = sorted(set(analysis.records.tasks_in(mode)) - analysis.records.failed_tasks)
    contradictions = reversals({task: analysis.task_comparisons[task][1.0] for task in live})
    if contradictions:
        return [
            f"**Not pooled: the datasets disagree** ({'; '.join(contradictions)}), so no verdict over all of "
            "them is given; the answer per dataset is at the top."
        ]
    return verdict(analysis.comparisons[mode][1.0], len(live))


def rank_test_rows(analysis: Analysis, mode: str, withheld: Mapping[float, str]) -> list[list[str]]:
    """A row per budget fraction of FRACTIONS_TESTED; where ``withheld`` gives a reason for a
    fraction (a replay its checks do not let speak there), the row says it instead of the tests."""
    rows = []
    for fraction in FRACTIONS_TESTED:
        comparison = analysis.comparisons[mode][fraction]
        if fraction in withheld:
            rows.append([mode, f"{fraction:.0%}", str(comparison.blocks), withheld[fraction], "–", "–", "–"])
            continue
        ranks = ", ".join(f"{m} {r:.2f}" for m, r in comparison.mean_ranks.items()) if comparison.blocks else "n/a"
        if comparison.untestable:
            rows.append([mode, f"{fraction:.0%}", str(comparison.blocks), "not run", ranks, "not run", "not run"])
            continue
        best = comparison.best_ranked
        behind = [m for m in comparison.mean_ranks.index if m != best and comparison.better(best, m)]
        rows.append(
            [
                mode,
                f"{fraction:.0%}",
                str(comparison.blocks),
                _friedman(comparison),
                ranks,
                ", ".join(behind) or "none",
                ", ".join(comparison.indistinguishable_from_best) or "none",
            ]
        )
    return rows


RANK_TEST_HEADER = [
    "runs",
    "budget",
    "blocks",
    "Friedman test",
    "mean rank (best first)",
    "shown worse than the best-ranked",
    "indistinguishable from the best-ranked",
]


def _failed_task(analysis: Analysis, task: str) -> list[str]:
    trials = analysis.records.task_trials(task)
    reasons = trials.error.dropna().astype(str).value_counts()
    reason = f" Most common error: “{reasons.index[0]}” ({reasons.iloc[0]}×)." if len(reasons) else ""
    return [
        f"**{task}: no successful trial.** All {plural(len(trials), 'trial')} of every method failed, so there "
        f"is no score, regret or winner for this dataset; it is left out of every statistic.{reason}"
    ]


def _without_answer(analysis: Analysis, task: str) -> list[str]:
    """Methods that never had a successful full-fidelity trial on this task."""
    trials = analysis.records.task_trials(task)
    lines = []
    for method, rows in trials.groupby("method"):
        if (rows.ok & rows.full_fidelity).any():
            continue
        full = int(rows.epochs_per_trial.iloc[0])
        highest = rows.fidelity.max()
        lines.append(
            f"{method} has no successful trial at full fidelity ({full} epochs) in any seed (highest fidelity "
            f"evaluated: {highest:g} epochs), so it never had an answer and counts as worst."
        )
    return lines


def _test_scores(analysis: Analysis, task: str) -> str:
    records = analysis.records
    rows = analysis.summary[analysis.summary.task == task]
    ascending = not records.greater_is_better(task)
    rows = rows.sort_values("test_median", ascending=ascending, na_position="last", kind="stable")
    seeds = int(rows.seeds.max())
    listing = ", ".join(f"{r.method} {fmt_score(r.test_median)}" for r in rows.itertuples())
    caveat = " A single seed: these are single runs, not a ranking." if seeds == 1 else ""
    direction = "higher" if records.greater_is_better(task) else "lower"
    return (
        f"**{task}** ({records.metric_label(task)}, {direction} is better; {plural(seeds, 'seed')}): test "
        f"{records.metric_label(task)} of each method's refit winner, median over seeds: {listing}.{caveat}"
    )


def _search_time(analysis: Analysis, task: str) -> str:
    rows = analysis.summary[analysis.summary.task == task].sort_values("search_time_s", kind="stable")
    fastest, slowest = rows.iloc[0], rows.iloc[-1]
    if f"{fastest.search_time_s:.0f}" == f"{slowest.search_time_s:.0f}":
        return f"Search time (refit excluded, median over seeds): {fastest.search_time_s:.0f} s for every method."
    return (
        f"Shortest search (search time, refit excluded, median over seeds): {fastest.method} "
        f"({fastest.search_time_s:.0f} s); longest: {slowest.method} ({slowest.search_time_s:.0f} s)."
    )


def _budget_to_reference(analysis: Analysis, task: str) -> str:
    rows = analysis.budget_to_reference[analysis.budget_to_reference.task == task]
    reference = analysis.reference_method
    if rows.empty:
        return f"No median final score of {reference} on {task} to race to: no reference score to reach."
    parts = ", ".join(f"{r.method} {fmt_share(r.median_fraction)}" for r in rows.itertuples())
    return (
        f"Share of the budget needed to reach the reference score ({reference}'s median final validation score, "
        f"{fmt_score(rows.reference_score.iloc[0])}), by half the seeds: {parts}."
    )


def _overspent(analysis: Analysis, task: str) -> list[str]:
    cells = analysis.records.task_cells(task)
    over = cells[cells.epochs_trained > cells.budget_epochs]
    if over.empty:
        return []
    listing = ", ".join(
        f"{r.method} seed {r.seed} ({r.epochs_trained} of {r.budget_epochs} epochs)" for r in over.itertuples()
    )
    return [f"Spent more than the budget: {listing}. What they found past 100% does not count in the tests."]


def _refit(analysis: Analysis, task: str) -> str:
    cells = analysis.records.task_cells(task)
    compared = int((cells.val_score.notna() & cells.refit_val_score.notna()).sum())
    off = refit_mismatches(cells)
    if off.empty:
        return f"The refit reproduced the winning trial's validation score in every search ({compared})."
    listing = ", ".join(
        f"{r.method} seed {r.seed} ({fmt_score(r.val_score)} → {fmt_score(r.refit_val_score)})"
        for r in off.itertuples()
    )
    return (
        f"The refit did not reproduce the winning trial's validation score in {len(off)} of {compared} searches: "
        f"{listing}. Its test score is then not the score of the configuration the search chose."
    )


def _failed_trials(analysis: Analysis, task: str) -> str:
    trials = analysis.records.task_trials(task)
    failed = trials[~trials.ok]
    if failed.empty:
        return "No trial failed."
    by_method = ", ".join(f"{m}: {k}" for m, k in failed.groupby("method").size().items())
    reasons = failed.error.fillna("").astype(str).value_counts().head(3)
    reason_text = "; ".join(f"{count}× “{text}”" for text, count in reasons.items())
    return f"{plural(len(failed), 'trial')} failed ({by_method}): {reason_text}."


def task_findings(analysis: Analysis, task: str) -> list[str]:
    if task in analysis.records.failed_tasks:
        return _failed_task(analysis, task)
    return [
        _test_scores(analysis, task),
        *_without_answer(analysis, task),
        _budget_to_reference(analysis, task),
        _search_time(analysis, task),
        _refit(analysis, task),
        *_overspent(analysis, task),
        _failed_trials(analysis, task),
    ]


def summary_rows(analysis: Analysis) -> list[list[str]]:
    return [
        [
            r.task,
            r.method,
            str(r.seeds),
            fmt_score(r.test_median),
            f"{fmt_score(r.test_q25)} – {fmt_score(r.test_q75)}",
            fmt_regret(r.final_regret),
            f"{r.search_time_s:.0f}",
            "–" if math.isnan(r.proposal_time_s) else f"{r.proposal_time_s:.1f}",
            f"{r.evaluations:.0f}",
            fmt_share(r.budget_used),
            f"{r.refit_epochs:.0f}",
            str(r.failed_trials),
        ]
        for r in analysis.summary.itertuples()
    ]


SUMMARY_HEADER = [
    "dataset",
    "method",
    "seeds",
    "test median",
    "test IQR",
    "final regret (median)",
    "search s (median)",
    "of which proposing s (median)",
    "trials (median)",
    "budget spent (median)",
    "refit epochs trained (median)",
    "failed trials",
]


def budget_to_reference_rows(analysis: Analysis) -> list[list[str]]:
    return [
        [
            r.task,
            r.method,
            fmt_score(r.reference_score),
            fmt_share(r.median_fraction),
            f"{r.seeds_reached} of {r.seeds}",
        ]
        for r in analysis.budget_to_reference.itertuples()
    ]


BUDGET_TO_REFERENCE_HEADER = [
    "dataset",
    "method",
    "reference score",
    "budget by which half the seeds reached it",
    "seeds that reached it",
]


def method_notes(analysis: Analysis) -> list[str]:
    """How every number was made, with the choices that shape them."""
    n_methods = len(analysis.records.methods)
    return [
        "**Incumbent**: the best validation score among a search's successful trials at full fidelity (a "
        "trial's fidelity equals the cell's epochs per trial). Lower rungs of multi-fidelity methods spend "
        "budget but never become the incumbent. Budget is epochs spent, failed and stopped trials included; "
        "the share of the budget is read strictly, so trials that end past 100% do not count.",
        "**Normalised regret** per dataset and seed: (score − best known) / (reference − best known), where "
        "the best known is the best full-fidelity validation score any method found and the reference is the "
        "median validation score of all successful full-fidelity trials of every method, a typical "
        "configuration as the methods together sampled it. 0 is the best found, 1 a median trial. The "
        "reference depends on which methods ran, so regret compares methods within this report only. A "
        "method with no answer yet has infinite regret.",
        "**Curves**: median over seeds (or over datasets × seeds for regret) with a 95% percentile-bootstrap "
        "interval of the median (scipy.stats.bootstrap, 1,000 resamples); a seed without an answer yet counts "
        "as the worst, so a median is drawn only once more than half the seeds have one.",
        f"**Rank tests** at {', '.join(f'{f:.0%}' for f in FRACTIONS_TESTED)} of the budget, over blocks "
        "(one dataset with one seed) in which every method has a result: the Friedman test, then pairwise "
        "Wilcoxon signed-rank tests with Holm's correction (scipy, scikit-posthocs). Pairwise Wilcoxon "
        "rather than mean-rank post-hoc tests, whose verdict on two methods depends on the others "
        "compared (Benavoli et al., JMLR 2016). No answer loses to any answer by more than any two "
        f"answers differ. With {n_methods} methods the tests need at least {min_blocks(n_methods)} blocks "
        "to separate any pair, and every dataset needs at least two seeds; below that they are not run.",
        "**Budget to reach the reference score**: the share of the budget a method needs to match the "
        f"reference score, {analysis.reference_method}'s median final validation score, reached when its "
        f"incumbent is at least as good within a relative {REACH_RTOL:g} (float noise, not a margin on quality). "
        "Reported: the budget by which half the seeds had reached it (the median over seeds, taken as one seed's "
        "value), “not reached” when fewer than half ever do.",
        "**Test score**: each search's winner, refit and scored once on the test set. It is reported, never "
        "used by a test: the tests compare the searches on what they could see, validation regret.",
    ]
