"""A surrogate of a curve table: any configuration of its space, at any epoch, answered in microseconds.

Tree models fitted on every recorded epoch answer the validation score, the test score and
the epoch's wall time of a configuration after ``epoch`` epochs: each score is the mean of a
gradient-boosted model (scikit-learn's ``HistGradientBoostingRegressor``) and extremely
randomised trees (``ExtraTreesRegressor``), the epoch time the boosted model's alone. A
configuration trained under several seeds is fitted as its mean over them, each seed's shift
removed (``seed_shifts``), so that one seed's luck is not taken for the configuration's worth.
Parameters enter as the search sees them: log-scaled numbers in log space, categoricals as
categories (the randomised trees see a category's index).

Trees shrink towards the mean: the best configurations are answered worse than they train,
the worst better, and a search that keeps the best of many answers then looks worse than real
training. So each score is calibrated, per epoch, by a monotone map (``Calibration``) from
what the trees predict for configurations held out of their fit to what those configurations
reached under their other seeds (``other_seeds_scores``): the same order, the real spread.
Not seed 0's own scores: the trees learnt seed 0's split from every neighbour, and a
calibration held to that split stretched its quirks into the best configurations' answers.

What the calibrated trees still miss, beyond the seeds' noise, is a configuration's own worth
that no neighbour tells (``model_error``); a real search of many configurations meets it, so
a replayed curve draws it too, as it draws seed noise.

Seed noise comes from the configurations the table trained under several seeds: the
spread of their scores across seeds, per epoch and quality band, once each seed's shift of
every configuration alike (its split's) is removed. Bands, because the spread is not one
number: configurations that train badly vary across seeds several times more than good ones,
and a spread pooled over all of them, put on the good ones, made the best of many replayed
trials better than any configuration real training found. A replayed trial under seed ``s``
gets standard-normal draws per (configuration, seed), scaled at each epoch by the spread of
the band whose mean score lies nearest the configuration's expected score: one draw shared
by every epoch, mixed with one of each epoch's own so that
an epoch's noise correlates with the last epoch's as the table's seeds did (a seed lucky
after 1 epoch is only partly lucky after 27, which is what multi-fidelity methods face);
its test score's draw is correlated with its validation score's as the table's seeds were.

Limits: the trees interpolate between trained configurations and cannot extrapolate
outside the table's space, which the surrogate refuses; a diverging configuration is
answered as its neighbours' scores, not as a failure; the time model knows the
machine that built the table and nothing else.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from tuning.errors import TuningError
from tuning.space import Categorical, Space

__all__ = [
    "CALIBRATION_BINS",
    "CALIBRATION_FOLDS",
    "MIN_CALIBRATION_CONFIGS",
    "NOISE_BANDS",
    "NOISE_COLUMNS",
    "TARGETS",
    "Calibration",
    "Surrogate",
    "encode",
    "fidelity",
    "fitted_scores",
    "model_error",
    "other_seeds_scores",
    "seed_shifts",
    "seed_spread",
]

TARGETS = ("val_score", "test_score", "epoch_s")
# Quality bands the seed noise is measured in: quartiles of the repeated configurations' mean
# score at each epoch (25 configurations each in a table of 40 repeated ones and 60 grid points).
NOISE_BANDS = 4
SCORES = ("val_score", "test_score")
# The trees' error leaves out misses this many robust standard deviations from their band's median:
# a configuration that fails to train is missed by far, and its miss, spread over every
# configuration of its band as a normal draw, lifted a replayed random search of 12 on
# Fashion-MNIST above real ones (one miss of -0.0375 tripled its band's error, median deviation 0.0034).
OUTLIER_DEVIATIONS = 3.0
# A noise frame's columns, as ``Surrogate.curve`` reads them: a band's level, each score's
# standard deviation, the validation-test correlation and that with the last epoch.
NOISE_COLUMNS = ("level", "val_score", "test_score", "correlation", "final_correlation")
# Folds of the configurations whose held-out predictions calibrate the scores, and the bins of
# those predictions that make the calibration's knots (10 configurations each, of the 100 that a
# table trains under several seeds).
CALIBRATION_FOLDS = 5
CALIBRATION_BINS = 10
# Below this many configurations of several seeds a bin's mean is mostly their noise: the trees answer uncalibrated.
MIN_CALIBRATION_CONFIGS = 100


def encode(space: Space, configs: Sequence[Mapping[str, Any]], epochs: Sequence[int] | np.ndarray) -> np.ndarray:
    """The surrogate's features: each parameter as the search scales it (log or linear; a
    categorical's index), then the epoch; a value outside the space is a ``TuningError``."""
    columns = []
    for parameter in space:
        values = [config[parameter.name] for config in configs]
        if isinstance(parameter, Categorical):
            index = {repr(choice): i for i, choice in enumerate(parameter.choices)}
            unknown = [v for v in values if repr(v) not in index]
            if unknown:
                raise TuningError(f"{parameter.name}={unknown[0]!r} is not one of the table's {parameter.choices}")
            columns.append([index[repr(v)] for v in values])
            continue
        numbers = np.asarray(values, dtype=float)
        outside = numbers[(numbers < parameter.low) | (numbers > parameter.high)]
        if outside.size:
            raise TuningError(
                f"{parameter.name}={float(outside[0])!r} is outside the table's range "
                f"[{parameter.low}, {parameter.high}]"
            )
        columns.append(np.log(numbers) if parameter.log else numbers)
    columns.append(np.asarray(epochs, dtype=float))
    return np.column_stack(columns)


def _categorical_mask(space: Space) -> list[bool]:
    return [isinstance(p, Categorical) for p in space] + [False]


def _boosted_trees(space: Space, random_state: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    # Leaves of 5 rows, not scikit-learn's 20: with 400-odd configurations, leaves of 20 epoch rows
    # pooled configurations that differ. Held-out Spearman at the last epoch rose from 0.855 to
    # 0.899 on Fashion-MNIST's table and from 0.938 to 0.943 on California's.
    return HistGradientBoostingRegressor(
        categorical_features=_categorical_mask(space), random_state=random_state, max_iter=300, min_samples_leaf=5
    )


class _MeanOfTrees:
    """Boosted trees and extremely randomised trees fitted to the same rows; their mean answers.

    Boosting and randomised trees err on different configurations: their mean ranked held-out
    configurations better than either alone on both tables and three fold splits (last epoch,
    Fashion-MNIST 0.899-0.905 -> 0.904-0.909, California 0.939-0.943 -> 0.942-0.945); 100
    randomised trees, not 300, because a replayed trial waits for every tree (300 gained <= 0.003).
    """

    def __init__(self, space: Space, random_state: int) -> None:
        from sklearn.ensemble import ExtraTreesRegressor

        self.boosted = _boosted_trees(space, random_state)
        self.randomised = ExtraTreesRegressor(n_estimators=100, min_samples_leaf=2, random_state=random_state)

    def fit(self, features: np.ndarray, y: np.ndarray) -> _MeanOfTrees:
        self.boosted.fit(features, y)
        self.randomised.fit(features, y)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        # ExtraTreesRegressor.predict hands each tree to joblib, which took most of a replayed
        # trial's 27 rows' time; the trees' own predict, summed in the same order, gives the
        # same numbers about six times faster.
        rows = features.astype(np.float32)
        total = np.zeros(len(features))
        for tree in self.randomised.estimators_:
            total += tree.predict(rows, check_input=False)
        return (self.boosted.predict(features) + total / len(self.randomised.estimators_)) / 2


def fitted_scores(table: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration and epoch of the configurations with a finished seed-0 curve:
    its ``params``, seed 0's ``epoch_s``, and each score's mean over the configuration's seeds,
    each seed's shift from seed 0 (``seed_shifts``) taken out (a configuration of seed 0 only
    keeps its score)."""
    rows = _unshifted(table)
    if rows.empty:
        return rows
    fitted = rows[rows.seed == 0][["config", "epoch", "params", "epoch_s"]].set_index(["config", "epoch"])
    means = rows.groupby(["config", "epoch"])[list(SCORES)].mean()
    return fitted.join(means).reset_index()


def other_seeds_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per configuration trained under seed 0 and others, and epoch: each score's mean over its
    seeds other than 0, their shifts taken out, and ``seeds``, how many. What a configuration
    reaches on splits the trees never saw it on: seed 0's split also carries every neighbour
    the trees learnt from, and held against seed 0's own scores, a calibration took that
    split's quirks for the configurations' worth. Index: (config, epoch)."""
    rows = _unshifted(table)
    others = rows[rows.seed != 0]
    means = others.groupby(["config", "epoch"])[list(SCORES)].mean()
    return means.assign(seeds=others.groupby(["config", "epoch"]).seed.nunique())


def _unshifted(table: pd.DataFrame) -> pd.DataFrame:
    """The finite rows of the configurations with a seed-0 curve, each score less its seed's shift."""
    finite = table[np.isfinite(table.val_score) & np.isfinite(table.test_score)]
    rows = finite[finite.config.isin(finite.config[finite.seed == 0])]
    if rows.empty:
        return rows
    shifts = seed_shifts(finite).reindex(pd.MultiIndex.from_arrays([rows.epoch, rows.seed])).fillna(0.0)
    return rows.assign(**{score: rows[score].to_numpy() - shifts[score].to_numpy() for score in SCORES})


def seed_shifts(table: pd.DataFrame) -> pd.DataFrame:
    """Per epoch and seed, how much that seed moves every configuration's scores alike (its
    split's doing) from where seed 0 puts them, from the configurations trained under several
    seeds (``_residuals``); empty without them. Index: (epoch, seed); columns: the scores."""
    repeated = table[table.groupby("config").seed.transform("nunique") > 1]
    found = []
    for epoch, at_epoch in repeated.groupby("epoch"):
        columns = {}
        for score in SCORES:
            matrix = at_epoch.pivot(index="config", columns="seed", values=score)
            columns[score] = _residuals(matrix)[1]
        found.append(pd.DataFrame(columns).assign(epoch=epoch))
    if not found:
        return pd.DataFrame(columns=list(SCORES), index=pd.MultiIndex.from_tuples([], names=["epoch", "seed"]))
    return pd.concat(found).rename_axis("seed").reset_index().set_index(["epoch", "seed"])[list(SCORES)]


def _held_out(
    rows: pd.DataFrame, features: np.ndarray, space: Space, *, folds: int, random_state: int
) -> dict[str, np.ndarray]:
    """Each score of every row (``fitted_scores``) predicted by trees fitted on the other ``folds``
    folds of the configurations."""
    from sklearn.model_selection import GroupKFold

    held_out = {score: np.empty(len(rows)) for score in SCORES}
    splitter = GroupKFold(n_splits=min(folds, rows.config.nunique()), shuffle=True, random_state=random_state)
    for train, test in splitter.split(features, groups=rows.config.to_numpy()):
        for score in SCORES:
            model = _MeanOfTrees(space, random_state).fit(features[train], rows[score].to_numpy()[train])
            held_out[score][test] = model.predict(features[test])
    return held_out


@dataclass(frozen=True)
class Calibration:
    """Per score and epoch, a monotone map from what the trees predict to what configurations of
    that prediction reached.

    Held-out configurations (``folds`` folds, each predicted by trees fitted on the others) are
    put in ``CALIBRATION_BINS`` bins of equal size by their prediction; each bin is a knot at
    its mean prediction and mean score, the scores made non-decreasing by an isotonic regression
    over the knots (pooled knots merged), and the knots joined by straight lines; past the end
    knots, a prediction moves as far as the end knot does. Bins, not single configurations,
    because an isotonic fit of single ones ends in a few lucky configurations; lines, not steps,
    so that configurations the trees tell apart stay apart.
    """

    knots: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]

    @classmethod
    def from_held_out(
        cls, predicted: Mapping[str, np.ndarray], reached: Mapping[str, np.ndarray], epochs: Sequence[int] | np.ndarray
    ) -> Calibration:
        """From each score's held-out predictions and the scores reached, row by row with ``epochs``."""
        epochs = np.asarray(epochs)
        knots: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {score: {} for score in SCORES}
        for score in SCORES:
            for epoch in np.unique(epochs):
                at = epochs == epoch
                knots[score][int(epoch)] = _knots(np.asarray(predicted[score])[at], np.asarray(reached[score])[at])
        return cls(knots)

    def __call__(self, answers: Mapping[str, np.ndarray], epochs: np.ndarray) -> dict[str, np.ndarray]:
        calibrated = {}
        for score in SCORES:
            values = np.array(answers[score], dtype=float)
            for epoch in np.unique(epochs):
                if int(epoch) in self.knots[score]:
                    at = epochs == epoch
                    values[at] = _along(values[at], *self.knots[score][int(epoch)])
            calibrated[score] = values
        return calibrated


def _knots(predicted: np.ndarray, reached: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Calibration``'s knots of one score at one epoch: (mean predictions, mean scores), both increasing."""
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(predicted, kind="stable")
    bins = np.array_split(order, min(CALIBRATION_BINS, len(order)))
    x = np.array([predicted[b].mean() for b in bins])
    weights = np.array([len(b) for b in bins], dtype=float)
    y = IsotonicRegression().fit_transform(x, [reached[b].mean() for b in bins], sample_weight=weights)
    merged = pd.DataFrame({"x": x * weights, "w": weights, "y": y}).groupby("y").sum()
    return (merged.x / merged.w).to_numpy(), merged.index.to_numpy(dtype=float)


def _along(values: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``values`` mapped through the lines joining the knots (``x``, ``y``); past an end knot, moved as
    far as that knot is (an end line, steep by one bin's noise, overshot the best configurations)."""
    mapped = np.interp(values, x, y)
    below, above = values < x[0], values > x[-1]
    mapped[below] = values[below] + (y[0] - x[0])
    mapped[above] = values[above] + (y[-1] - x[-1])
    return mapped


@dataclass
class Surrogate:
    """Fitted models of ``TARGETS``, the seed spread of the scores at each epoch and quality band,
    and, where calibrated, the error of the calibrated trees at each epoch and band."""

    space: Space
    models: dict[str, Any]
    spread: pd.DataFrame  # ``seed_spread``: per epoch and band, the seed standard deviation of each score
    max_epoch: int
    calibration: Calibration | None = None
    error: pd.DataFrame | None = None  # ``model_error``: per epoch and band, what the trees cannot tell

    @classmethod
    def fit(
        cls, table: pd.DataFrame, space: Space, *, random_state: int = 0, calibration_folds: int = CALIBRATION_FOLDS
    ) -> Surrogate:
        """Fitted to ``table``'s configurations (``fitted_scores``), each score calibrated on
        ``calibration_folds`` folds of them against the configurations trained under other seeds
        too (``other_seeds_scores``; 0 folds, or fewer than ``MIN_CALIBRATION_CONFIGS`` such
        configurations: neither calibrated nor given the trees' error)."""
        rows = fitted_scores(table)
        if rows.empty:
            raise TuningError("the curve table has no finished seed-0 curves to fit a surrogate on")
        features = encode(space, [json.loads(p) for p in rows.params], rows.epoch.to_numpy())
        models = {"epoch_s": _boosted_trees(space, random_state).fit(features, np.log(rows.epoch_s.to_numpy()))}
        for score in SCORES:
            models[score] = _MeanOfTrees(space, random_state).fit(features, rows[score].to_numpy(dtype=float))
        spread = seed_spread(table)
        reached = other_seeds_scores(table)
        if not calibration_folds or reached.index.get_level_values("config").nunique() < MIN_CALIBRATION_CONFIGS:
            return cls(space, models, spread, int(rows.epoch.max()))
        held_out = _held_out(rows, features, space, folds=calibration_folds, random_state=random_state)
        keys = pd.MultiIndex.from_frame(rows[["config", "epoch"]])
        repeated = keys.isin(reached.index)
        reached = reached.reindex(keys[repeated])
        predicted = {score: held_out[score][repeated] for score in SCORES}
        epochs = rows.epoch.to_numpy()[repeated]
        calibration = Calibration.from_held_out(predicted, {s: reached[s].to_numpy() for s in SCORES}, epochs)
        error = model_error(reached, calibration(predicted, epochs), spread)
        return cls(space, models, spread, int(rows.epoch.max()), calibration, error)

    def predict(self, configs: Sequence[Mapping[str, Any]], epochs: Sequence[int] | np.ndarray) -> pd.DataFrame:
        """The expected ``TARGETS`` of each configuration after its epoch (seed-free)."""
        epochs = np.asarray(epochs)
        if epochs.size and (epochs.min() < 1 or epochs.max() > self.max_epoch):
            raise TuningError(
                f"epochs must lie in 1..{self.max_epoch}, the table's, got {epochs.min()}..{epochs.max()}"
            )
        features = encode(self.space, configs, epochs)
        answers = {target: model.predict(features) for target, model in self.models.items()}
        answers["epoch_s"] = np.exp(answers["epoch_s"])
        if self.calibration is not None:
            answers.update(self.calibration(answers, epochs))
        return pd.DataFrame(answers)[list(TARGETS)]

    def curve(self, config: Mapping[str, Any], seed: int) -> pd.DataFrame:
        """Every epoch of ``config`` trained under ``seed``: the expected scores plus that seed's
        noise, plus, where the surrogate has it, a draw of the trees' error."""
        epochs = np.arange(1, self.max_epoch + 1)
        answers = self.predict([config] * len(epochs), epochs)
        expected = answers.val_score.to_numpy()
        rng = np.random.default_rng(_noise_seed(config, seed))
        for bands in self._noises:
            spread = _nearest_bands(bands, epochs, expected)
            val_draw, test_draw = _draws(rng, spread)
            answers["val_score"] += val_draw * spread.val_score.to_numpy()
            answers["test_score"] += test_draw * spread.test_score.to_numpy()
        answers.insert(0, "epoch", epochs)
        return answers

    @cached_property
    def _noises(self) -> list[dict[int, np.ndarray]]:
        """The seed spread's bands per epoch, then the trees' error's where the surrogate has it."""
        return [_bands_by_epoch(frame) for frame in (self.spread, self.error) if frame is not None]


def _bands_by_epoch(frame: pd.DataFrame) -> dict[int, np.ndarray]:
    """Per epoch, the bands' rows of a ``seed_spread`` or ``model_error`` frame as an array
    (columns ``NOISE_COLUMNS``, level first)."""
    columns = list(NOISE_COLUMNS)
    return {int(epoch): bands[columns].to_numpy(dtype=float) for epoch, bands in frame.groupby(level="epoch")}


def _nearest_bands(bands: Mapping[int, np.ndarray], epochs: np.ndarray, expected: np.ndarray) -> pd.DataFrame:
    """Each epoch's row of the band whose level lies nearest ``expected`` (no noise where none was measured)."""
    none = _NO_SPREAD[list(NOISE_COLUMNS)].to_numpy(dtype=float)
    rows = []
    for epoch, score in zip(epochs, expected, strict=True):
        at = bands.get(int(epoch))
        rows.append(none if at is None else at[int(np.argmin(np.abs(at[:, 0] - score)))])
    return pd.DataFrame(rows, index=epochs, columns=list(NOISE_COLUMNS)).fillna(0.0)


def _draws(rng: np.random.Generator, spread: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal validation and test draws, one per epoch of ``spread``'s rows: each
    validation draw correlated with the last epoch's by ``final_correlation`` (a curve lucky
    after 1 epoch is only partly lucky after 27, which is what multi-fidelity methods face), each
    test draw with its validation draw by ``correlation``."""
    n = len(spread)
    shared, *own = rng.standard_normal(1 + 2 * n)
    final = spread.final_correlation.clip(0.0, 1.0).to_numpy()
    val_draw = final * shared + np.sqrt(1.0 - final**2) * np.asarray(own[:n])
    rho = spread.correlation.clip(-1.0, 1.0).to_numpy()
    return val_draw, rho * val_draw + np.sqrt(1.0 - rho**2) * np.asarray(own[n:])


def model_error(reached: pd.DataFrame, answered: Mapping[str, np.ndarray], spread: pd.DataFrame) -> pd.DataFrame:
    """Per epoch and band of the answer, how far the calibrated trees miss what configurations
    reach, beyond seed noise: a configuration's worth that no neighbour tells.

    ``reached`` (``other_seeds_scores``) against ``answered``, the calibrated out-of-fold answers
    of the same rows. A row's miss holds its seeds' noise, the band's seed spread (``spread``)
    over its number of seeds; what is left is the trees' error, which real searches meet and an
    answer without it hides: a random search's best of many untried configurations gains from
    it, the trees' smooth answer does not. At each epoch the rows are split into
    ``NOISE_BANDS`` bands of equal size by their answer (``level``: the band's mean); per band,
    from its rows within ``OUTLIER_DEVIATIONS`` robust standard deviations of its median miss
    in both scores, the standard deviation of that error for each score, their ``correlation``; per epoch, the
    ``final_correlation`` of a configuration's validation miss with its miss at the last epoch.
    Index: (epoch, band)."""
    misses = pd.DataFrame(
        {
            "epoch": reached.index.get_level_values("epoch"),
            "level": answered["val_score"],
            "seeds": reached.seeds.to_numpy(),
            **{score: reached[score].to_numpy() - answered[score] for score in SCORES},
        },
        index=reached.index.get_level_values("config"),
    )
    bands_of = _bands_by_epoch(spread)
    found = []
    for epoch, at_epoch in misses.groupby("epoch"):
        seed = _nearest_bands(bands_of, np.full(len(at_epoch), epoch), at_epoch.level.to_numpy())
        # A row's seed noise: the band's seed variance over the row's seeds (and covariance, for the two scores).
        share = 1.0 / at_epoch.seeds.to_numpy()
        noise = {
            "val_score": share * seed.val_score.to_numpy() ** 2,
            "test_score": share * seed.test_score.to_numpy() ** 2,
            "both": share * (seed.correlation * seed.val_score * seed.test_score).to_numpy(),
        }
        val, test = at_epoch.val_score.to_numpy(), at_epoch.test_score.to_numpy()
        products = {"val_score": val**2, "test_score": test**2, "both": val * test}
        # Fewer configurations than bands at an epoch: a band each, none empty.
        for band, rows in enumerate(np.array_split(np.argsort(at_epoch.level.to_numpy()), min(NOISE_BANDS, len(val)))):
            rows = rows[_within_robust_range(val[rows]) & _within_robust_range(test[rows])]
            squares = {key: float(np.mean(products[key][rows] - noise[key][rows])) for key in noise}
            deviation = {score: np.sqrt(max(squares[score], 0.0)) for score in SCORES}
            scale = deviation["val_score"] * deviation["test_score"]
            found.append(
                {
                    "epoch": epoch,
                    "band": band,
                    "level": float(at_epoch.level.to_numpy()[rows].mean()),
                    **deviation,
                    "correlation": float(np.clip(squares["both"] / scale, -1.0, 1.0)) if scale > 0 else 1.0,
                }
            )
    error = pd.DataFrame(found).set_index(["epoch", "band"])
    by_config = misses.pivot_table(index=misses.index, columns="epoch", values="val_score")
    final = by_config.corrwith(by_config[by_config.columns.max()]).clip(0.0, 1.0)
    error["final_correlation"] = final.reindex(error.index.get_level_values("epoch")).fillna(1.0).to_numpy()
    return error[list(NOISE_COLUMNS)]


def _within_robust_range(values: np.ndarray) -> np.ndarray:
    """Whether each value lies within ``OUTLIER_DEVIATIONS`` robust standard deviations (1.4826 times
    the median absolute deviation) of the median."""
    deviation = np.abs(values - np.median(values))
    return deviation <= OUTLIER_DEVIATIONS * 1.4826 * np.median(deviation)


def seed_spread(table: pd.DataFrame, bands: int = NOISE_BANDS) -> pd.DataFrame:
    """Per epoch and quality band, from the configurations trained under several seeds, what a seed changes.

    A seed's split shifts every configuration's scores alike (``seed_shift``: the standard
    deviation of the seeds' shifts, ``_residuals``); what is left of a seed's deviation from its
    configuration's mean is the noise that reorders configurations. At each epoch the repeated
    configurations are split into ``bands`` of equal size by their mean validation score, the
    shifts taken out (``level``: the band's mean of it); per band, the standard deviation of that noise for each
    score (``val_score``, ``test_score``, from the two-way residuals) and the ``correlation``
    between a curve's validation and test residuals (a badly trained model is bad on both sets
    alike, a good one's luck on one set says less of the other: at Fashion-MNIST's last epoch
    0.97 in the worst band, 0.67 in the best, where one pooled 0.91 made the replayed best of
    many as lucky on the test set as on the validation set); per epoch, ``final_correlation``
    between its validation residual at this epoch and at the last. Index: (epoch, band), band 0 the lowest
    scores. Without repeated configurations every spread is zero, in one band.
    """
    scores = list(SCORES)
    repeated = table.groupby("config").seed.transform("nunique") > 1
    if not repeated.any():
        epochs = sorted(set(table.epoch))
        index = pd.MultiIndex.from_product([epochs, [0]], names=["epoch", "band"])
        return pd.DataFrame([_NO_SPREAD] * len(epochs), index=index)
    curves = table[repeated & np.isfinite(table.val_score) & np.isfinite(table.test_score)]
    spread, residuals = [], []
    for epoch, at_epoch in curves.groupby("epoch"):
        by_score = {score: at_epoch.pivot(index="config", columns="seed", values=score) for score in scores}
        found = {score: _residuals(matrix) for score, matrix in by_score.items()}
        at_epoch_residuals = {score: residual for score, (residual, _) in found.items()}
        shift = found["val_score"][1]
        seed_shift = float(shift.std(ddof=1)) if len(shift) > 1 else 0.0
        seeds_of = by_score["val_score"].notna().sum(axis=1)
        # The residuals' degrees of freedom: a configuration's seeds less its mean, less the shifts
        # fitted (with k seeds for n configurations each, (n - 1)(k - 1)), shared out over the
        # configurations by their seeds.
        own = seeds_of - 1
        shifts_fitted = len(shift) - 1 if len(by_score["val_score"]) > 1 else 0
        freedom_of = own * max(own.sum() - shifts_fitted, 0) / own.sum() if own.sum() else own * 0.0
        level = by_score["val_score"].sub(shift, axis=1).mean(axis=1)
        order = level.sort_values().index
        for band, configs in enumerate(np.array_split(order, min(bands, len(order)))):
            freedom = float(freedom_of.loc[configs].sum())
            row = {"epoch": epoch, "band": band, "level": float(level.loc[configs].mean())}
            for score, residual in at_epoch_residuals.items():
                squares = np.nansum(residual.loc[configs].to_numpy() ** 2)
                row[score] = float(np.sqrt(squares / freedom)) if freedom else 0.0
            val, test = (at_epoch_residuals[score].loc[configs].stack() for score in scores)
            spread.append({**row, "correlation": val.corr(test), "seed_shift": seed_shift})
        residuals.append(pd.DataFrame({s: r.stack() for s, r in at_epoch_residuals.items()}).assign(epoch=epoch))
    spread = pd.DataFrame(spread).set_index(["epoch", "band"])
    long = pd.concat(residuals).rename_axis(["config", "seed"]).reset_index()
    by_seed = long.pivot_table(index=["config", "seed"], columns="epoch", values="val_score")
    final_correlation = by_seed.corrwith(by_seed[by_seed.columns.max()]).clip(0.0, 1.0)
    epochs = spread.index.get_level_values("epoch")
    spread["final_correlation"] = final_correlation.reindex(epochs).to_numpy()
    return spread[["level", *scores, "correlation", "final_correlation", "seed_shift"]]


# An epoch the table measured no spread at: no noise, test noise as the validation noise.
_NO_SPREAD = pd.Series(
    {"level": 0.0, "val_score": 0.0, "test_score": 0.0, "correlation": 1.0, "final_correlation": 1.0, "seed_shift": 0.0}
)


def _residuals(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """A configurations-by-seeds matrix (NaN where a configuration lacks a seed; the first
    column the reference seed, which every row has) less each seed's shift and then each
    configuration's mean over its seeds, and the shifts.

    A seed's shift is the median over the configurations it shares with the reference of its
    score less the reference's (a median, since the few configurations that train badly vary
    across seeds far more than the rest, and moved a mean shift enough to double the good
    ones' measured noise); the reference's is 0. Configurations need not share their seeds:
    a table trains its grid points under more seeds than its other repeated configurations.
    One configuration cannot tell a seed's shift from its noise: no shift.
    """
    reference = scores.iloc[:, 0]
    if len(scores) > 1:
        shift = scores.sub(reference, axis=0).median(axis=0).fillna(0.0)
    else:
        shift = pd.Series(0.0, index=scores.columns)
    unshifted = scores.sub(shift, axis=1)
    return unshifted.sub(unshifted.mean(axis=1), axis=0), shift


def _noise_seed(config: Mapping[str, Any], seed: int) -> int:
    return zlib.crc32(json.dumps(dict(config), sort_keys=True, default=str).encode()) * 1009 + seed


def fidelity(table: pd.DataFrame, space: Space, *, folds: int = 5, random_state: int = 0) -> pd.DataFrame:
    """How well a surrogate ranks configurations it never saw, at each epoch.

    The table's seed-0 configurations are split in ``folds`` folds, each predicted by a
    surrogate fitted on the others. Columns: ``spearman``, the rank correlation between the
    predictions and the recorded seed-0 validation scores; ``seed_to_seed``, the rank
    correlation between two seeds' scores of the configurations trained under several (the
    mean over pairs of seeds), which says how well rerunning a configuration under another
    seed would do; ``spearman_seed_mean`` and ``configurations_seed_mean``, the rank
    correlation of the predictions with the mean over seeds of those configurations.
    """
    from scipy.stats import spearmanr
    from sklearn.model_selection import KFold

    base = table[(table.seed == 0) & np.isfinite(table.val_score)]
    configs = np.array(sorted(set(base.config)))
    predicted = []
    for train, held_out in KFold(folds, shuffle=True, random_state=random_state).split(configs):
        # Uncalibrated: a monotone map leaves the rank correlation as it is, and costs five more fits a fold.
        surrogate = Surrogate.fit(
            table[table.config.isin(configs[train])], space, random_state=random_state, calibration_folds=0
        )
        rows = base[base.config.isin(configs[held_out])]
        answers = surrogate.predict([json.loads(p) for p in rows.params], rows.epoch.to_numpy())
        predicted.append(rows[["config", "epoch", "val_score"]].assign(predicted=answers.val_score.to_numpy()))
    both = pd.concat(predicted)
    repeated = table[table.groupby("config").seed.transform("nunique") > 1]
    seed_means = repeated.groupby(["config", "epoch"]).val_score.mean().rename("seed_mean").reset_index()
    with_means = both.merge(seed_means, on=["config", "epoch"])
    by_seed = repeated.pivot_table(index=["epoch", "config"], columns="seed", values="val_score")
    rows = []
    for epoch, group in both.groupby("epoch"):
        means = with_means[with_means.epoch == epoch]
        seeds = by_seed.loc[epoch] if epoch in by_seed.index.get_level_values(0) else pd.DataFrame()
        pairs = [spearmanr(seeds[a], seeds[b], nan_policy="omit").statistic for a, b in combinations(seeds.columns, 2)]
        rows.append(
            {
                "epoch": int(epoch),
                "configurations": len(group),
                "spearman": float(spearmanr(group.val_score, group.predicted).statistic),
                "seed_to_seed": float(np.mean(pairs)) if pairs else float("nan"),
                "configurations_seed_mean": len(means),
                "spearman_seed_mean": float(spearmanr(means.seed_mean, means.predicted).statistic)
                if len(means) > 2
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)
