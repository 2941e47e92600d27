"""Replay against real training: how far a replayed comparison reproduces the real one, and where
it may stand in for it.

For every dataset whose records hold both real and replayed cells, and every method run in
both: the median final regret and validation score of each mode, the rank correlation of the
methods' mean ranks at each budget fraction the rank tests use (Kendall's tau,
``scipy.stats.kendalltau``), and whether the rank tests
separate the same pairs of methods, with the replay read on the real run's seeds as well as
on all of its own (more seeds separate more pairs; that is power, not disagreement).

The check that lets a replayed answer stand (``Check``), per dataset and budget fraction, on the
real runs' seeds: Kendall's tau between the modes' mean ranks no lower than the real runs' own
split-half tau less ``TAU_MARGIN`` (how well one half of the real seeds predicts the other: replay
cannot be asked to agree better than real runs agree with themselves); no pair the real tests
separate ranked the other way round by replay; and, on the final test scores, each method's
replayed median inside the real runs' 95% bootstrap interval of that median, with at most
``OUTSIDE_ALLOWED`` method outside (at a 95% interval, one of ten falls outside by chance). The
test scores are those of whole searches, so they are held at every share of the budget: an answer
row shows them whatever share it speaks for. Where a check fails, nothing is drawn from replay
at that share: not the per-dataset answer, and not the verdict or rank tests over the pooled
datasets (``withheld``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from benchmarks.report.analysis import FRACTIONS_TESTED, Analysis
from benchmarks.report.render import Block, Bullets, Paragraph, Table
from benchmarks.report.significance import MethodComparison, compare_methods
from benchmarks.report.statistics import blocks_by_method, median_band
from tuning.errors import TuningError

__all__ = [
    "AGREEMENT_HEADER",
    "CHECK_HEADER",
    "OUTSIDE_ALLOWED",
    "REPLAY",
    "TAU_MARGIN",
    "Agreement",
    "Check",
    "agreements",
    "check_text",
    "describe",
    "split_half_tau",
    "withheld",
]

REAL, REPLAY = "real", "replay"
# The issue that set the bar: replay's tau may fall short of the real runs' split-half tau by 0.1.
TAU_MARGIN = 0.1
OUTSIDE_ALLOWED = 1
# Splits of the seeds into halves the split-half tau averages over: all of them up to this many
# (6,435 for 15 seeds, 6,435 for 16), else this many drawn at random.
MAX_SPLITS = 10_000


@dataclass(frozen=True)
class Check:
    """Replay held to the real runs at one share of the budget, on the real runs' seeds."""

    fraction: float
    tau: float
    split_half_tau: float
    # (the method the real tests show better, the worse one) where replay ranks them the other way.
    reversed_pairs: list[tuple[str, str]]
    # Why the real tests could not run, so that no pair could be checked for reversal; empty when they ran.
    pairs_untested: str
    # Methods whose replayed median final test score lies outside the real runs' 95% interval.
    outside_interval: list[str]

    @property
    def failures(self) -> list[str]:
        """What the replay missed, one phrase each; empty when it passed."""
        missed = []
        if math.isnan(self.split_half_tau):
            missed.append("too few real seeds for a split-half tau")
        elif not self.tau >= self.split_half_tau - TAU_MARGIN:
            missed.append(
                f"Kendall's tau {self.tau:.2f} below the real runs' split-half tau {self.split_half_tau:.2f} "
                f"less {TAU_MARGIN}"
            )
        if self.reversed_pairs:
            missed.append("reversed: " + ", ".join(f"{better} over {worse}" for better, worse in self.reversed_pairs))
        if len(self.outside_interval) > OUTSIDE_ALLOWED:
            missed.append(
                f"{len(self.outside_interval)} median test scores outside the real 95% interval "
                f"({', '.join(self.outside_interval)})"
            )
        return missed

    @property
    def passed(self) -> bool:
        return not self.failures


def split_half_tau(blocks: pd.DataFrame, *, max_splits: int = MAX_SPLITS, seed: int = 0) -> float:
    """Kendall's tau between the methods' mean ranks on one half of the blocks (rows) and on the
    other, averaged over splits; NaN with fewer than two blocks.

    With an odd number of blocks one half has a block fewer (7 and 8 of 15). Every split counts
    once (with an even number, a half and its complement are the same split) while there are at
    most ``max_splits`` of them, else that many are drawn at random. A split whose halves give no
    tau (one half ranks every method alike) counts as 0, no relation.
    """
    from scipy.stats import kendalltau

    ranks = blocks.rank(axis=1).to_numpy()
    n = len(ranks)
    if n < 2:
        return math.nan
    half = n // 2
    # With an even n, the halves holding block 0 are each split once.
    if (math.comb(n, half) if n % 2 else math.comb(n, half) // 2) <= max_splits:
        splits = [list(chosen) for chosen in combinations(range(n), half) if n % 2 or 0 in chosen]
    else:
        rng = np.random.default_rng(seed)
        splits = [sorted(rng.choice(n, half, replace=False)) for _ in range(max_splits)]
    taus = []
    for chosen in splits:
        rest = np.setdiff1d(np.arange(n), chosen)
        tau = kendalltau(ranks[chosen].mean(axis=0), ranks[rest].mean(axis=0)).statistic
        taus.append(0.0 if math.isnan(tau) else tau)
    return float(np.mean(taus))


def _reversed(real: MethodComparison, replay_ranks: pd.Series) -> list[tuple[str, str]]:
    """The pairs the real tests separate that replay's mean ranks put the other way round."""
    return [(better, worse) for better, worse in real.ordered_pairs if replay_ranks[better] > replay_ranks[worse]]


def _test_scores(real_cells: pd.DataFrame, replay_cells: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per method, the real runs' median final test score and its 95% bootstrap interval (NaN with
    fewer than two real scores), and replay's median (NaN with none)."""
    rows = {}
    for method in methods:
        real = real_cells.test_score[real_cells.method == method].dropna().to_numpy(dtype=float)
        replayed = replay_cells.test_score[replay_cells.method == method].dropna().to_numpy(dtype=float)
        median, low, high = median_band(real[:, None]) if len(real) else (np.full(1, np.nan),) * 3
        rows[method] = {
            "real_test_score": float(median[0]),
            "real_test_low": float(low[0]),
            "real_test_high": float(high[0]),
            "replay_test_score": float(np.median(replayed)) if len(replayed) else math.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _outside_interval(test_scores: pd.DataFrame) -> list[str]:
    """The methods of ``_test_scores`` whose replayed median lies outside the real runs' interval
    (or either is missing)."""
    inside = (test_scores.real_test_low <= test_scores.replay_test_score) & (
        test_scores.replay_test_score <= test_scores.real_test_high
    )
    return list(test_scores.index[~inside])


@dataclass(frozen=True)
class Agreement:
    """One dataset's real and replayed comparison, side by side."""

    dataset: str
    methods: list[str]
    real_seeds: list[int]
    replay_seeds: list[int]
    # One row per method: median final regret and validation score, and the mean rank, of each mode;
    # the median final test scores the check holds (``_test_scores``).
    table: pd.DataFrame
    # Kendall's tau between the modes' mean ranks, and its p-value, at each budget fraction of FRACTIONS_TESTED.
    kendall_by_fraction: dict[float, tuple[float, float]]
    real: MethodComparison
    replay_on_real_seeds: MethodComparison
    replay: MethodComparison
    # The check that lets replay answer, at each budget fraction of FRACTIONS_TESTED.
    checks: dict[float, Check]

    @property
    def kendall_tau(self) -> float:
        return self.kendall_by_fraction[1.0][0]

    @property
    def kendall_p(self) -> float:
        return self.kendall_by_fraction[1.0][1]


def _blocks(analysis: Analysis, dataset: str, mode: str, fraction: float) -> pd.DataFrame:
    """The regret of ``dataset``'s cells in ``mode`` at ``fraction`` of the budget, a block per row."""
    cells = analysis.records.cells
    task = str(cells.task[(cells.dataset == dataset) & (cells["mode"] == mode)].iloc[0])
    regret = analysis.regret[fraction]
    return blocks_by_method(regret[regret.index.get_level_values("task") == task])


def _same_budget(dataset: str, by_mode: dict[str, pd.DataFrame]) -> None:
    """Refuses to hold a replay to real runs of another budget or trial length: they answer another question."""
    for column in ("budget_epochs", "epochs_per_trial"):
        values = {mode: sorted(set(cells[column].dropna().astype(int))) for mode, cells in by_mode.items()}
        if values[REAL] != values[REPLAY]:
            raise TuningError(
                f"{dataset}: the real runs' {column} {values[REAL]} differ from the replay's {values[REPLAY]}; "
                "a replay is checked only against real runs of the same budget"
            )


def agreements(analysis: Analysis) -> list[Agreement]:
    """An ``Agreement`` for every dataset run in both modes in which some seed has a winner of every
    method (none when the records hold one mode); a ``TuningError`` where the two modes ran
    different budgets."""
    from scipy.stats import kendalltau

    cells = analysis.records.cells
    found = []
    for dataset in sorted(set(cells.dataset)):
        in_dataset = cells[cells.dataset == dataset]
        if set(in_dataset["mode"]) != {REAL, REPLAY}:
            continue
        by_mode = {mode: in_dataset[in_dataset["mode"] == mode] for mode in (REAL, REPLAY)}
        _same_budget(dataset, by_mode)
        methods = sorted(set(by_mode[REAL].method) & set(by_mode[REPLAY].method))
        by_fraction = {
            fraction: {
                mode: _blocks(analysis, dataset, mode, fraction).reindex(columns=methods) for mode in (REAL, REPLAY)
            }
            for fraction in FRACTIONS_TESTED
        }
        regret = by_fraction[1.0]
        if regret[REAL].empty or regret[REPLAY].empty:
            continue  # a mode in which no seed has a winner of every method: nothing to set side by side
        real_seeds = sorted(set(regret[REAL].index.get_level_values("seed")))
        on_real_seeds = regret[REPLAY][regret[REPLAY].index.get_level_values("seed").isin(real_seeds)]
        ranks = {mode: regret[mode].rank(axis=1).mean() for mode in (REAL, REPLAY)}
        test_scores = _test_scores(
            *(by_mode[mode][by_mode[mode].seed.isin(real_seeds)] for mode in (REAL, REPLAY)), methods
        )
        table = pd.DataFrame(
            {
                f"{mode}_{column}": values
                for mode in (REAL, REPLAY)
                for column, values in (
                    ("regret", regret[mode].median()),
                    ("val_score", by_mode[mode].groupby("method").val_score.median().reindex(methods)),
                    ("mean_rank", ranks[mode]),
                )
            }
        ).join(test_scores)
        taus, checks, real_tests = {}, {}, {}
        outside = _outside_interval(test_scores)
        for fraction, blocks in by_fraction.items():
            fraction_ranks = [blocks[mode].rank(axis=1).mean()[methods] for mode in (REAL, REPLAY)]
            tau = kendalltau(*fraction_ranks)
            taus[fraction] = (float(tau.statistic), float(tau.pvalue))
            replay_blocks = blocks[REPLAY][blocks[REPLAY].index.get_level_values("seed").isin(real_seeds)]
            replay_ranks = replay_blocks.rank(axis=1).mean()[methods]
            real_tests[fraction] = compare_methods(blocks[REAL])
            checks[fraction] = Check(
                fraction=fraction,
                tau=float(kendalltau(fraction_ranks[0], replay_ranks).statistic),
                split_half_tau=split_half_tau(blocks[REAL]),
                reversed_pairs=_reversed(real_tests[fraction], replay_ranks),
                pairs_untested=real_tests[fraction].untestable,
                outside_interval=outside,
            )
        found.append(
            Agreement(
                dataset=dataset,
                methods=methods,
                real_seeds=real_seeds,
                replay_seeds=sorted(set(regret[REPLAY].index.get_level_values("seed"))),
                table=table,
                kendall_by_fraction=taus,
                real=real_tests[1.0],
                replay_on_real_seeds=compare_methods(on_real_seeds),
                replay=compare_methods(regret[REPLAY]),
                checks=checks,
            )
        )
    return found


AGREEMENT_HEADER = [
    "method",
    "median final regret, real",
    "replay",
    "median final validation score, real",
    "replay",
    "mean rank, real",
    "replay",
    "median final test score, real (95% interval)",
    "replay, on the real seeds",
]


CHECK_HEADER = [
    "budget",
    "Kendall's tau, replay vs real",
    "real split-half tau",
    "pairs reversed",
    "median test scores outside the real 95% interval",
    "replay may answer",
]


def withheld(analysis: Analysis, found: list[Agreement]) -> dict[float, str]:
    """Per budget fraction of FRACTIONS_TESTED where some replayed dataset has not passed its check
    (``found`` holds the analysis's agreements): why nothing pooled over the replayed datasets may be
    said there."""
    records = analysis.records
    checks = {agreement.dataset: agreement.checks for agreement in found}
    # A dataset on which no trial succeeded has no blocks, so it takes no part in the pooled tests.
    replayed = sorted({records.dataset(task) for task in set(records.tasks_in(REPLAY)) - records.failed_tasks})
    reasons = {}
    for fraction in FRACTIONS_TESTED:
        unchecked = [d for d in replayed if d not in checks]
        missed = [d for d in replayed if d in checks and not checks[d][fraction].passed]
        said = [f"not checked against real runs on {', '.join(unchecked)}"] if unchecked else []
        said += [f"missed its check against real runs on {', '.join(missed)}"] if missed else []
        if said:
            reasons[fraction] = "replay " + " and ".join(said) + ": not used"
    return reasons


def check_text(check: Check) -> str:
    """Whether replay may answer at the check's budget fraction, and if not, what it missed."""
    if not check.passed:
        return "no: " + "; ".join(check.failures)
    untested = " (no pair could be checked for reversal: the real tests could not run)"
    return "yes" + (untested if check.pairs_untested else "")


def _check_row(check: Check) -> list[str]:
    outside = f"{len(check.outside_interval)}" + (
        f" ({', '.join(check.outside_interval)})" if check.outside_interval else ""
    )
    pairs = (
        f"not checked: {check.pairs_untested}"
        if check.pairs_untested
        else ", ".join(f"{better} over {worse}" for better, worse in check.reversed_pairs) or "none"
    )
    return [
        f"{check.fraction:.0%}",
        f"{check.tau:.2f}",
        f"{check.split_half_tau:.2f}",
        pairs,
        outside,
        check_text(check),
    ]


def _tests(comparison: MethodComparison) -> str:
    if comparison.untestable:
        return f"not run ({comparison.untestable})"
    pairs = sorted(" vs ".join(sorted(pair)) for pair in comparison.separated_pairs)
    return f"{len(pairs)} pair(s) separated" + (f": {', '.join(pairs)}" if pairs else "")


def describe(agreement: Agreement) -> list[Block]:
    """The section's words and table for one dataset."""
    from benchmarks.report.findings import fmt_regret, fmt_score

    rows = [
        [
            method,
            fmt_regret(row.real_regret),
            fmt_regret(row.replay_regret),
            fmt_score(row.real_val_score),
            fmt_score(row.replay_val_score),
            f"{row.real_mean_rank:.2f}",
            f"{row.replay_mean_rank:.2f}",
            f"{fmt_score(row.real_test_score)} ({fmt_score(row.real_test_low)}–{fmt_score(row.real_test_high)})",
            fmt_score(row.replay_test_score),
        ]
        for method, row in agreement.table.sort_values("real_mean_rank").iterrows()
    ]
    same = agreement.real.separated_pairs == agreement.replay_on_real_seeds.separated_pairs
    tested = not agreement.real.untestable and not agreement.replay_on_real_seeds.untestable
    verdict = (
        ("they agree: the same pairs are separated" if same else "they disagree on which pairs are separated")
        if tested
        else "so whether replay reproduces them is not shown by this run"
    )
    return [
        Paragraph(
            f"{agreement.dataset}: {len(agreement.methods)} methods, real training on seeds "
            f"{', '.join(map(str, agreement.real_seeds))} and replay on {len(agreement.replay_seeds)} seeds. "
            f"Kendall's tau between the real mean ranks and replay's on all its seeds (the check below reads "
            f"replay on the real runs' seeds) at the full budget: {agreement.kendall_tau:.2f} "
            f"(p = {agreement.kendall_p:.3f}; 1 is the same order, 0 no relation); "
            + ", ".join(
                f"at {fraction:.0%} of the budget {tau:.2f} (p = {p:.3f})"
                for fraction, (tau, p) in agreement.kendall_by_fraction.items()
                if fraction < 1.0
            )
            + ". Regret is normalised per seed within each mode (0: the best any method found, 1: a median trial)."
        ),
        Table(AGREEMENT_HEADER, rows),
        Bullets(
            [
                f"Rank tests at the full budget, real runs: {_tests(agreement.real)}.",
                f"Replay on the same seeds: {_tests(agreement.replay_on_real_seeds)}; {verdict}.",
                f"Replay on all its seeds: {_tests(agreement.replay)}.",
            ]
        ),
        Paragraph(
            f"The check that lets replay answer for {agreement.dataset}, on the real runs' seeds: Kendall's tau "
            f"no lower than the real runs' split-half tau less {TAU_MARGIN}, no pair the real tests separate "
            f"ranked the other way round, and at most {OUTSIDE_ALLOWED} method's replayed median test score "
            "outside the real runs' 95% bootstrap interval of that median (final test scores, so the same at "
            "every share of the budget). Where replay misses it, no answer is drawn from replay."
        ),
        Table(CHECK_HEADER, [_check_row(check) for check in agreement.checks.values()]),
    ]
