"""Whether the records separate the methods: Friedman, then Holm-corrected pairwise Wilcoxon tests.

The tests run over blocks (one task with one seed), on normalised regret at one point of the
budget. Pairwise Wilcoxon signed-rank tests with Holm's correction are used rather than post-hoc
tests on mean ranks (Nemenyi, Conover): the outcome of a mean-rank test between two methods
depends on which other methods happen to be in the comparison (Benavoli, Corani and Mangili,
JMLR 17, 2016). Their p-values come from scipy's exact null distribution, which is conservative
where differences tie: scipy's default would otherwise run a permutation test of seconds per pair.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats

__all__ = ["ALPHA", "MethodComparison", "compare_methods", "min_blocks"]

ALPHA = 0.05


def min_blocks(n_methods: int, alpha: float = ALPHA) -> int:
    """The fewest blocks with which a Holm-corrected two-sided Wilcoxon test can separate any two methods.

    With n blocks the exact test's smallest p-value is 2/2ⁿ (one method better in every block), and
    Holm's first step compares it with alpha divided by the number of pairs: 6 blocks for 2 methods,
    7 for 3, 11 for 8 to 10.
    """
    pairs = max(1, n_methods * (n_methods - 1) // 2)
    return math.floor(math.log2(2 * pairs / alpha)) + 1


@dataclass(frozen=True)
class MethodComparison:
    """The outcome of comparing methods at one point of the budget.

    ``untestable`` says why no test ran (empty when they did); then ``p_values`` (Holm-adjusted,
    method × method) and the Friedman fields are None. ``wins.loc[a, b]`` counts the blocks in
    which a has lower regret than b.
    """

    blocks: int
    mean_ranks: pd.Series
    wins: pd.DataFrame
    untestable: str
    friedman_statistic: float | None = None
    friedman_p: float | None = None
    p_values: pd.DataFrame | None = None
    alpha: float = ALPHA

    @property
    def best_ranked(self) -> str:
        return str(self.mean_ranks.index[0])

    def separated(self, a: str, b: str) -> bool:
        """Whether the tests tell ``a`` from ``b`` (in either direction).

        The pairwise tests count only once the Friedman test rejects, as the protocol runs them: a
        pair they separate where the omnibus test finds nothing would contradict the verdict.
        """
        return self.p_values is not None and self.friedman_rejects and bool(self.p_values.loc[a, b] < self.alpha)

    def better(self, a: str, b: str) -> bool:
        return self.separated(a, b) and bool(self.wins.loc[a, b] > self.wins.loc[b, a])

    @property
    def friedman_rejects(self) -> bool:
        # With two methods there is no omnibus test: the single pairwise test decides.
        return self.friedman_p is None or self.friedman_p < self.alpha

    @property
    def pick(self) -> str | None:
        """The method the tests show better than every other one, if there is one."""
        best = self.best_ranked
        others = [m for m in self.mean_ranks.index if m != best]
        if self.untestable or not others or not self.friedman_rejects:
            return None
        return best if all(self.better(best, other) for other in others) else None

    @property
    def indistinguishable_from_best(self) -> list[str]:
        best = self.best_ranked
        return [m for m in self.mean_ranks.index if m != best and not self.separated(best, m)]

    @property
    def separated_pairs(self) -> set[frozenset[str]]:
        """The pairs of methods the tests tell apart; empty when they could not run."""
        methods = list(self.mean_ranks.index)
        return {frozenset((a, b)) for i, a in enumerate(methods) for b in methods[i + 1 :] if self.separated(a, b)}

    @property
    def ordered_pairs(self) -> list[tuple[str, str]]:
        """(better, worse) for each separated pair, sorted; a pair whose win counts tie has no
        direction (Wilcoxon weighs the differences' sizes, the counts do not) and is left out."""
        found = []
        for pair in sorted(self.separated_pairs, key=sorted):
            a, b = sorted(pair)
            if self.better(a, b):
                found.append((a, b))
            elif self.better(b, a):
                found.append((b, a))
        return found

    @property
    def best_group(self) -> list[str]:
        """The best-ranked method and those the tests cannot tell from it, where the tests set them apart
        as a group although they single out no method; empty otherwise.

        A group has two members or more, no pair within it separated (else it is not
        indistinguishable) and every member shown better than at least one method outside it (else
        nothing puts that member among the best). Where the tests did not run, or the Friedman test
        does not reject, they separate nothing, so there is no group.
        """
        group = [self.best_ranked, *self.indistinguishable_from_best]
        outside = [m for m in self.mean_ranks.index if m not in group]
        if len(group) < 2 or any(self.separated(a, b) for a in group for b in group if a != b):
            return []
        return group if all(any(self.better(m, o) for o in outside) for m in group) else []


def _finite(blocks: pd.DataFrame) -> pd.DataFrame:
    """Infinite regret (no incumbent yet) as a finite value that keeps its meaning for the tests.

    The value exceeds the largest finite regret by more than any two finite regrets differ, so a
    method without an answer loses to one with an answer by more than any two answers differ, and
    two methods without an answer tie: what infinity means, in numbers Wilcoxon's test accepts.
    """
    finite = blocks.to_numpy()[np.isfinite(blocks.to_numpy())]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    return blocks.replace(np.inf, high + (high - low) + 1.0)


def _untestable(blocks: pd.DataFrame, seeds_per_task: pd.Series, alpha: float) -> str:
    n_methods, n_blocks = blocks.shape[1], len(blocks)
    if n_methods < 2:
        return "there is only one method"
    if n_blocks == 0:
        return "no dataset and seed has both a successful full-fidelity trial and a finished search of every method"
    if seeds_per_task.min() < 2:
        return (
            "a single seed per dataset ranks nothing: the spread between the seeds of one method is usually "
            "larger than the gaps between methods"
        )
    needed = min_blocks(n_methods, alpha)
    if n_blocks < needed:
        pairs = n_methods * (n_methods - 1) // 2
        return (
            f"{n_blocks} blocks cannot reach p < {alpha:g} after Holm's correction for {pairs} pairs, even if one "
            f"method were better in every block: that takes at least {needed}"
        )
    return ""


def compare_methods(blocks: pd.DataFrame, alpha: float = ALPHA) -> MethodComparison:
    """Compare the methods (columns) over the blocks (rows, indexed by task and seed) on regret.

    Lower regret is better; infinite regret is a method that has no answer yet. The tests run only
    where they could separate two methods at all (see :func:`min_blocks`) and every task has at
    least two seeds; otherwise ``untestable`` says why.
    """
    seeds_per_task = blocks.groupby(level="task").size() if len(blocks) else pd.Series(dtype=int)
    ranks = blocks.rank(axis=1).mean().sort_values(kind="stable")
    values = blocks.to_numpy()
    wins = pd.DataFrame(
        (values[:, :, None] < values[:, None, :]).sum(axis=0), index=blocks.columns, columns=blocks.columns
    )
    reason = _untestable(blocks, seeds_per_task, alpha)
    if reason:
        return MethodComparison(len(blocks), ranks, wins, reason, alpha=alpha)
    finite = _finite(blocks)
    with warnings.catch_warnings():
        # Identical methods give all-zero differences or all-tied blocks: p is 1 (Wilcoxon) or NaN (Friedman).
        warnings.simplefilter("ignore", RuntimeWarning)
        friedman = stats.friedmanchisquare(*finite.to_numpy().T) if blocks.shape[1] >= 3 else None
        long = finite.melt(var_name="method", value_name="regret")
        p_values = scikit_posthocs.posthoc_wilcoxon(
            long, val_col="regret", group_col="method", method="exact", p_adjust="holm"
        )
    statistic, p = (None, None) if friedman is None else (float(friedman.statistic), float(friedman.pvalue))
    if p is not None and math.isnan(p):  # every block tied: no difference at all
        statistic, p = 0.0, 1.0
    return MethodComparison(len(blocks), ranks, wins, "", statistic, p, p_values.fillna(1.0), alpha=alpha)
