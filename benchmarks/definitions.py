"""The benchmark definition: datasets, their search spaces, and the profiles' budgets.

Changing anything here that changes results must bump ``BENCHMARK_VERSION``; every
result row stores it, and resumed runs only reuse cells of the same version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuning.datasets import load_california_housing, load_fashion_mnist
from tuning.space import Categorical, Float, Int, Space
from tuning.splits import Split, split_california_housing, split_fashion_mnist

BENCHMARK_VERSION = "2026.11-3"


def _pixels(split: Split) -> tuple[Split, dict[str, Any]]:
    return split, {"input_mean": 0.0, "input_scale": 255.0}


def _tabular(split: Split) -> tuple[Split, dict[str, Any]]:
    """Features mapped to normal quantiles, and a standardised target, as the tabular literature does.

    AveOccup and Population are heavy-tailed (a few districts are hotels or prisons): z-scores
    leave those outliers hundreds of SDs out. Both transforms are fitted on the training rows
    only; the model's fixed output layer undoes the target's, so RMSE stays in $100k.
    """
    from sklearn.preprocessing import QuantileTransformer

    quantiles = QuantileTransformer(output_distribution="normal", random_state=0).fit(split.x_train)
    features = [quantiles.transform(x).astype(np.float32) for x in (split.x_train, split.x_val, split.x_test)]
    transformed = Split(features[0], split.y_train, features[1], split.y_val, features[2], split.y_test)
    target = {"output_mean": float(split.y_train.mean()), "output_scale": float(split.y_train.std())}
    return transformed, target


@dataclass(frozen=True)
class Dataset:
    """A dataset as the benchmark uses it: how to load, split, prepare and search it.

    ``prepare`` turns a split into what the models see, and the builder values that go with
    it (input scaling, the target's scale), fitted on the training rows only.
    """

    name: str
    classification: bool
    load: Callable[[], Any]
    split: Callable[..., Split]
    prepare: Callable[[Split], tuple[Split, dict[str, Any]]]
    space: Space


# One space for both datasets, with no dead dimension for any method: every hidden layer has
# the same width, so a width never waits for a depth that uses it, and the learning rate is
# searched relative to each optimizer's own default (tuning.models.REFERENCE_LEARNING_RATES).
# No parameter has a hand-picked default: a grid holds what it cannot vary at the middle of
# its range, or at a categorical's first choice, listed here in alphabetical or ascending order.
# Declaration order is the grid's priority order (tuning.space).
MLP_SPACE = Space(
    [
        Float("learning_rate_scale", 0.1, 10.0, log=True),
        Int("units", 32, 512, log=True),
        Int("n_layers", 1, 3),
        Categorical("optimizer", ("adam", "adamw", "rmsprop", "sgd")),
        Float("dropout", 0.0, 0.5),
        Categorical("batch_size", (64, 128, 256)),
    ]
)


FASHION, CALIFORNIA = "fashion_mnist", "california_housing"
DATASETS: Mapping[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(FASHION, True, load_fashion_mnist, split_fashion_mnist, _pixels, MLP_SPACE),
        Dataset(CALIFORNIA, False, load_california_housing, split_california_housing, _tabular, MLP_SPACE),
    )
}


@dataclass(frozen=True)
class Setting:
    """One profile's settings for one dataset. Budgets are epochs of training per cell.

    ``epochs_per_trial`` is a full trial, the trial recipe's fixed length (``tuning.training``),
    and the final model's: it is m x 3^k so that halving and Hyperband rungs (factor 3) end
    exactly on it. Budgets are whole numbers of full trials.
    """

    fraction: float
    budget_epochs: int
    epochs_per_trial: int
    # The test score the best method should reach (accuracy at least, RMSE at most).
    target: float | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: int
    settings: Mapping[str, Setting]
    description: str


PROFILES: Mapping[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "smoke",
            seeds=1,
            settings={FASHION: Setting(0.02, 12, 3), CALIFORNIA: Setting(0.1, 12, 3)},
            description="a few minutes on tiny slices; the tests run it",
        ),
        Profile(
            "standard",
            seeds=1,
            settings={FASHION: Setting(1.0, 108, 9, target=0.885), CALIFORNIA: Setting(1.0, 324, 27, target=0.52)},
            description="`make benchmark`: full data, 12 full trials per cell, one seed (which ranks nothing)",
        ),
        Profile(
            "full",
            seeds=10,
            settings={FASHION: Setting(1.0, 648, 27, target=0.895), CALIFORNIA: Setting(1.0, 1296, 54, target=0.49)},
            description="ten seeds, 24 full trials per cell and longer trials, for statistics; about a day on 2 cores",
        ),
    )
}
