"""One-factor-at-a-time (OFAT) studies: a baseline, groups that vary one factor, and what we expect.

A study is data only. ``benchmarks.study`` trains its runs with the benchmark's builder,
data and splits; ``benchmarks.study.document`` turns the results into conclusions by checking
each group's stated ``Expectation`` against the numbers. A new study (another dataset,
other factors) is a new ``Study`` in ``STUDIES``; no new code.

Every run trains one configuration on the same split and with the same seed (runs of a
``run_seed`` group add their offset), selects on the validation split, and scores the test
split once, for the record.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuning.metrics import Metric
from tuning.schedules import SCHEDULES

if TYPE_CHECKING:
    import pandas as pd

STUDY_VERSION = "2026.11-2"


@dataclass(frozen=True)
class Context:
    """What an expectation may compare a group with."""

    metric: Metric
    score: str  # the column selected on, e.g. "val_accuracy"
    baseline: float  # mean score of the runs whose configuration is the baseline's
    runs: pd.DataFrame  # every finished run of the study
    # Standard deviation of the score over the baseline trained with different run seeds (NaN: not measured).
    noise: float = float("nan")
    noise_seeds: int = 0

    def points(self, difference: float) -> str:
        """A score difference in the unit people quote: accuracy points, or RMSE as is."""
        if not math.isfinite(difference):
            return "n/a"
        return f"{100 * difference:.2f} points" if self.metric.greater_is_better else f"{difference:.4f}"

    def gain(self, a: float, b: float) -> float:
        """How much better ``a`` is than ``b`` (negative when worse)."""
        return (a - b) * self.metric.sign()


@dataclass(frozen=True)
class Verdict:
    """Whether the numbers support a hypothesis, the numbers that decide it, and by how much.

    ``distance`` is how far (in the score's units) the deciding quantity is from flipping
    the verdict; a distance within twice the seed noise makes the verdict inconclusive.
    """

    supported: bool
    evidence: str
    distance: float = math.inf


class Expectation(ABC):
    """A hypothesis in checkable form: ``check`` says whether the group's numbers support it, and why."""

    @abstractmethod
    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        """The verdict on ``group`` (finished runs only)."""


def _best_first(group: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    return group.sort_values(ctx.score, ascending=not ctx.metric.greater_is_better, kind="stable")


def _levels(group: pd.DataFrame, factor: str, ctx: Context) -> pd.Series:
    return group.groupby(factor, sort=True)[ctx.score].mean()


def _missing(means: pd.Series, levels: Sequence[Any], factor: str) -> Verdict | None:
    absent = [level for level in levels if level not in means.index]
    if absent:
        return Verdict(False, f"no finished run for {factor} = {', '.join(map(str, absent))}", 0.0)
    return None


@dataclass(frozen=True)
class Improves(Expectation):
    """The score gets better at every step up the factor's levels."""

    factor: str

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        means = _levels(group, self.factor, ctx)
        if len(means) < 2:
            return Verdict(False, f"fewer than two levels of {self.factor} finished", 0.0)
        steps = [ctx.gain(b, a) for a, b in itertools.pairwise(means.to_numpy())]
        path = " → ".join(f"{level:g}: {value:.4f}" for level, value in means.items())
        # The smallest rise, or the largest fall: the step the verdict turns on.
        weakest = min(steps)
        return Verdict(weakest > 0, f"{self.factor} {path}", abs(weakest))


@dataclass(frozen=True)
class BestAmong(Expectation):
    """The best run's level of ``factor`` is one of ``levels``."""

    factor: str
    levels: tuple[Any, ...]

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        ranked = _best_first(group, ctx)
        best = ranked.iloc[0]
        inside = ranked[ranked[self.factor].isin(self.levels)]
        outside = ranked[~ranked[self.factor].isin(self.levels)]
        distance = math.inf
        if len(inside) and len(outside):
            distance = abs(ctx.gain(float(inside.iloc[0][ctx.score]), float(outside.iloc[0][ctx.score])))
        level = best[self.factor]
        text = f"best {self.factor} = {level:g}" if isinstance(level, float) else f"best {self.factor} = {level}"
        return Verdict(level in self.levels, f"{text} ({ctx.score} {best[ctx.score]:.4f})", distance)


@dataclass(frozen=True)
class MattersMore(Expectation):
    """Averaged over the other factor, ``factor`` moves the score more than ``other`` does."""

    factor: str
    other: str

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        spread = {}
        for name in (self.factor, self.other):
            means = _levels(group, name, ctx)
            spread[name] = float(means.max() - means.min())
        text = (
            f"range of the mean {ctx.score} over {self.factor}: {ctx.points(spread[self.factor])}, "
            f"over {self.other}: {ctx.points(spread[self.other])}"
        )
        difference = spread[self.factor] - spread[self.other]
        return Verdict(difference > 0, text, abs(difference))


@dataclass(frozen=True)
class Beats(Expectation):
    """Every level in ``winners`` beats ``loser`` by at least ``margin`` (in the metric's units)."""

    factor: str
    winners: tuple[Any, ...]
    loser: Any
    margin: float

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        means = _levels(group, self.factor, ctx)
        missing = _missing(means, (*self.winners, self.loser), self.factor)
        if missing:
            return missing
        gains = {w: ctx.gain(means[w], means[self.loser]) for w in self.winners}
        text = ", ".join(f"{w} by {ctx.points(g)}" for w, g in gains.items())
        weakest = min(gains.values())
        evidence = f"over {self.loser}: {text} (needed {ctx.points(self.margin)})"
        return Verdict(weakest >= self.margin, evidence, abs(weakest - self.margin))


@dataclass(frozen=True)
class BestBeats(Expectation):
    """The group's best level of ``factor`` beats its ``reference`` level by at least ``margin``."""

    factor: str
    reference: Any
    margin: float

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        means = _levels(group, self.factor, ctx)
        missing = _missing(means, (self.reference,), self.factor)
        if missing:
            return missing
        others = means.drop(self.reference)
        if others.empty:
            return Verdict(False, f"only {self.factor} = {self.reference} finished", 0.0)
        best = others.idxmax() if ctx.metric.greater_is_better else others.idxmin()
        gain = ctx.gain(others[best], means[self.reference])
        evidence = (
            f"best {self.factor} = {best} by {ctx.points(gain)} over {self.reference} "
            f"(needed {ctx.points(self.margin)})"
        )
        return Verdict(gain >= self.margin, evidence, abs(gain - self.margin))


@dataclass(frozen=True)
class SmallEffect(Expectation):
    """The best and worst runs of the group are within ``margin`` of each other."""

    margin: float

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        spread = float(group[ctx.score].max() - group[ctx.score].min())
        evidence = f"spread {ctx.points(spread)} (threshold {ctx.points(self.margin)})"
        return Verdict(spread < self.margin, evidence, abs(spread - self.margin))


@dataclass(frozen=True)
class ClosesGap(Expectation):
    """The group's best run recovers at least ``share`` of the gap between a reference run and the baseline."""

    reference_group: str
    reference: Mapping[str, Any]
    share: float

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        runs = ctx.runs[ctx.runs["group"] == self.reference_group]
        for key, value in self.reference.items():
            runs = runs[runs[key] == value]
        if runs.empty:
            missing = f"the reference run {dict(self.reference)} of group {self.reference_group!r} is missing"
            return Verdict(False, missing, 0.0)
        reference = float(runs[ctx.score].mean())
        best = float(_best_first(group, ctx).iloc[0][ctx.score])
        gap = ctx.gain(ctx.baseline, reference)
        if not (math.isfinite(gap) and gap > 0):
            return Verdict(False, f"no gap to close: reference {reference:.4f}, baseline {ctx.baseline:.4f}", 0.0)
        closed = ctx.gain(best, reference) / gap
        evidence = (
            f"reference {reference:.4f}, baseline {ctx.baseline:.4f}, group best {best:.4f}: "
            f"{100 * closed:.0f}% of the gap closed (needed {100 * self.share:.0f}%)"
        )
        return Verdict(closed >= self.share, evidence, abs(closed - self.share) * gap)


@dataclass(frozen=True)
class BeatsBaseline(Expectation):
    """The group's best run beats the baseline by more than ``margin``."""

    margin: float

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        best = _best_first(group, ctx).iloc[0]
        gain = ctx.gain(float(best[ctx.score]), ctx.baseline)
        evidence = f"best {best['run']} by {ctx.points(gain)} over the baseline {ctx.baseline:.4f}"
        return Verdict(gain > self.margin, evidence, abs(gain - self.margin))


@dataclass(frozen=True)
class NoiseBelow(Expectation):
    """The seed-to-seed standard deviation of the baseline's score is below ``sd``."""

    sd: float

    def check(self, group: pd.DataFrame, ctx: Context) -> Verdict:
        if not math.isfinite(ctx.noise):
            return Verdict(False, "not measured: fewer than 3 run seeds of the baseline finished", 0.0)
        evidence = f"standard deviation {ctx.points(ctx.noise)} over {ctx.noise_seeds} run seeds"
        return Verdict(ctx.noise < self.sd, f"{evidence} (threshold {ctx.points(self.sd)})")


@dataclass(frozen=True)
class Group:
    """Runs that change ``factors`` (all combinations of their levels) and ``fixed`` from the baseline.

    The factor ``run_seed`` (an offset to the study's seed) repeats a configuration with other
    initialisations on the same split: the noise every other comparison is read against.
    """

    name: str
    factors: Mapping[str, Sequence[Any]]
    hypothesis: str
    expectation: Expectation
    fixed: Mapping[str, Any] = field(default_factory=dict)
    # Whether the group's best levels feed the combined runs.
    combine: bool = True
    # Results the hand-run study reported, as (label, score), to compare with this run's.
    reported: tuple[tuple[str, float], ...] = ()

    def configurations(self) -> list[dict[str, Any]]:
        names = list(self.factors)
        return [
            {**self.fixed, **dict(zip(names, values, strict=True))}
            for values in itertools.product(*self.factors.values())
        ]


@dataclass(frozen=True)
class Combination:
    """A combined run: each combinable group's ``pick`` (0 best, 1 runner-up) put together.

    ``keep_baseline`` names settings that stay at the baseline's values instead.
    """

    name: str
    pick: int
    description: str
    keep_baseline: tuple[str, ...] = ()


@dataclass(frozen=True)
class Study:
    name: str
    dataset: str
    description: str
    baseline: Mapping[str, Any]
    groups: tuple[Group, ...]
    combinations: tuple[Combination, ...]
    combined_hypothesis: str
    combined_expectation: Expectation

    @property
    def n_runs(self) -> int:
        return sum(len(g.configurations()) for g in self.groups) + len(self.combinations)


# The hand-run study this project grew out of: a 784-256-256-10 MLP on Fashion-MNIST.
FASHION_BASELINE = {
    "epochs": 5,
    "n_layers": 2,
    "units_1": 256,
    "units_2": 256,
    "units_3": 256,
    "batch_size": 64,
    "learning_rate": 1e-3,
    "optimizer": "adam",
    "momentum": 0.0,  # "SGD" in the hand-run study was plain SGD
    "lr_schedule": "constant",
    "run_seed": 0,
}
WIDTHS = (16, 32, 64, 128, 256, 512)
SEED_NOISE = Group(
    "seed_noise",
    {"run_seed": (1, 2, 3, 4)},
    "The baseline's validation accuracy varies by less than 0.3 points (standard deviation) across "
    "initialisation seeds; differences between runs smaller than twice that are not evidence.",
    NoiseBelow(0.003),
    combine=False,
)
COMBINATIONS = (
    Combination("best", 0, "the best level of every group"),
    Combination("runner-up", 1, "the second-best level of every group: is the ranking robust?"),
    Combination(
        "best-at-baseline-pace",
        0,
        "the best levels, but the baseline's batch size and epochs: the part of the gain not bought with more steps",
        keep_baseline=("batch_size", "epochs"),
    ),
)

STUDIES: Mapping[str, Study] = {
    "fashion-ofat": Study(
        name="fashion-ofat",
        dataset="fashion_mnist",
        description="The Fashion-MNIST MLP study: seven one-factor groups around a 256/256 Adam baseline, "
        "plus SGD with momentum and learning-rate schedules.",
        baseline=FASHION_BASELINE,
        groups=(
            Group(
                "epochs",
                {"epochs": (3, 5, 10)},
                "More epochs keep helping up to 10: validation accuracy rises at each step.",
                Improves("epochs"),
            ),
            Group(
                "units",
                {"units_1": WIDTHS, "units_2": WIDTHS},
                "The first layer's width matters more than the second's.",
                MattersMore("units_1", "units_2"),
            ),
            Group(
                "batch_size",
                {"batch_size": (4, 8, 16, 32, 64, 128)},
                "Smaller batches (more updates in 5 epochs) do better, down to 16 or 32; 4 and 8 are too noisy.",
                BestAmong("batch_size", (16, 32)),
            ),
            Group(
                "depth",
                {"n_layers": (1, 2, 3)},
                "Depth matters little for this MLP: 1 to 3 layers of 256 are within one accuracy point.",
                SmallEffect(0.01),
            ),
            Group(
                "learning_rate",
                {"learning_rate": (1e-2, 5e-3, 1e-3, 5e-4, 1e-4, 1e-5)},
                "Adam's default 1e-3 (or 5e-4) is best; 1e-2 is too large and 1e-5 too slow for 5 epochs.",
                BestAmong("learning_rate", (1e-3, 5e-4)),
            ),
            Group(
                "optimizer",
                {"optimizer": ("sgd", "adam", "adamw", "rmsprop")},
                "At learning rate 1e-3, adaptive optimizers beat plain SGD by more than 5 points.",
                Beats("optimizer", ("adam", "adamw", "rmsprop"), "sgd", 0.05),
                reported=(("optimizer=sgd", 0.17),),
            ),
            Group(
                "sgd_momentum",
                {"momentum": (0.0, 0.9), "learning_rate": (1e-3, 1e-2)},
                "Plain SGD's gap to Adam is a matter of step size: momentum 0.9 and a 10x larger learning rate "
                "close at least 90% of it.",
                ClosesGap("optimizer", {"optimizer": "sgd"}, 0.9),
                fixed={"optimizer": "sgd"},
                combine=False,
            ),
            Group(
                "sgd_schedule",
                {"lr_schedule": SCHEDULES},
                "For SGD with momentum 0.9 at 1e-2, the best decaying schedule beats a constant rate by at least "
                "0.3 points.",
                BestBeats("lr_schedule", "constant", 0.003),
                fixed={"optimizer": "sgd", "momentum": 0.9, "learning_rate": 1e-2},
                combine=False,
            ),
            SEED_NOISE,
        ),
        combinations=COMBINATIONS,
        combined_hypothesis="Each group's best level put together beats the baseline by more than one point.",
        combined_expectation=BeatsBaseline(0.01),
    ),
    "california-ofat": Study(
        name="california-ofat",
        dataset="california_housing",
        description="The same study design on California Housing (RMSE in $100k, lower is better).",
        baseline={**FASHION_BASELINE, "epochs": 20, "units_1": 64, "units_2": 64, "units_3": 64},
        groups=(
            Group("epochs", {"epochs": (10, 20, 40)}, "More epochs help up to 40.", Improves("epochs")),
            Group(
                "units",
                {"units_1": (16, 64, 256), "units_2": (16, 64, 256)},
                "The first layer's width matters more than the second's.",
                MattersMore("units_1", "units_2"),
            ),
            Group(
                "batch_size",
                {"batch_size": (16, 64, 256)},
                "Batch 16 is best within 20 epochs.",
                BestAmong("batch_size", (16,)),
            ),
            Group(
                "learning_rate",
                {"learning_rate": (1e-2, 1e-3, 1e-4)},
                "1e-3 is best.",
                BestAmong("learning_rate", (1e-3,)),
            ),
            Group(
                "optimizer",
                {"optimizer": ("sgd", "adam", "rmsprop")},
                "Adaptive optimizers beat plain SGD by more than 0.05.",
                Beats("optimizer", ("adam", "rmsprop"), "sgd", 0.05),
            ),
            Group(
                "seed_noise",
                {"run_seed": (1, 2, 3, 4)},
                "The baseline's validation RMSE varies by less than 0.01 (standard deviation) across seeds.",
                NoiseBelow(0.01),
                combine=False,
            ),
        ),
        combinations=COMBINATIONS[:1],
        combined_hypothesis="The best levels put together beat the baseline by more than 0.01.",
        combined_expectation=BeatsBaseline(0.01),
    ),
}
