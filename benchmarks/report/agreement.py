"""Replay against real training: how far a replayed comparison reproduces the real one.

For every dataset whose records hold both real and replayed cells, and every method run in
both: the median final regret and validation score of each mode, the rank correlation of the
methods' mean ranks at each budget fraction the rank tests use (Kendall's tau,
``scipy.stats.kendalltau``), and whether the rank tests
separate the same pairs of methods, with the replay read on the real run's seeds as well as
on all of its own (more seeds separate more pairs; that is power, not disagreement).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from benchmarks.report.analysis import FRACTIONS_TESTED, Analysis
from benchmarks.report.render import Block, Bullets, Paragraph, Table
from benchmarks.report.significance import MethodComparison, compare_methods
from benchmarks.report.statistics import blocks_by_method

__all__ = ["AGREEMENT_HEADER", "Agreement", "agreements", "describe"]

REAL, REPLAY = "real", "replay"


@dataclass(frozen=True)
class Agreement:
    """One dataset's real and replayed comparison, side by side."""

    dataset: str
    methods: list[str]
    real_seeds: list[int]
    replay_seeds: list[int]
    # One row per method: median final regret and validation score, and the mean rank, of each mode.
    table: pd.DataFrame
    # Kendall's tau between the modes' mean ranks, and its p-value, at each budget fraction of FRACTIONS_TESTED.
    kendall_by_fraction: dict[float, tuple[float, float]]
    real: MethodComparison
    replay_on_real_seeds: MethodComparison
    replay: MethodComparison

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


def agreements(analysis: Analysis) -> list[Agreement]:
    """An ``Agreement`` for every dataset run in both modes in which some seed has a winner of every
    method (none when the records hold one mode)."""
    from scipy.stats import kendalltau

    cells = analysis.records.cells
    found = []
    for dataset in sorted(set(cells.dataset)):
        in_dataset = cells[cells.dataset == dataset]
        if set(in_dataset["mode"]) != {REAL, REPLAY}:
            continue
        by_mode = {mode: in_dataset[in_dataset["mode"] == mode] for mode in (REAL, REPLAY)}
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
        )
        taus = {}
        for fraction, blocks in by_fraction.items():
            fraction_ranks = [blocks[mode].rank(axis=1).mean()[methods] for mode in (REAL, REPLAY)]
            tau = kendalltau(*fraction_ranks)
            taus[fraction] = (float(tau.statistic), float(tau.pvalue))
        found.append(
            Agreement(
                dataset=dataset,
                methods=methods,
                real_seeds=real_seeds,
                replay_seeds=sorted(set(regret[REPLAY].index.get_level_values("seed"))),
                table=table,
                kendall_by_fraction=taus,
                real=compare_methods(regret[REAL]),
                replay_on_real_seeds=compare_methods(on_real_seeds),
                replay=compare_methods(regret[REPLAY]),
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
            f"Kendall's tau between the two modes' mean ranks at the full budget: {agreement.kendall_tau:.2f} "
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
    ]
