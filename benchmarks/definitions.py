"""The built-in benchmark: its datasets, their search space, and each profile's budget.

A definition file for ``python -m benchmarks.compare --definition FILE`` declares its own
``DATASETS`` in this form (``tuning.comparison.Dataset``). Changing anything here that changes
results must bump ``BENCHMARK_VERSION``; every result row stores it, and resumed runs only
reuse cells of the same version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tuning.comparison import Dataset, Setting
from tuning.datasets import load_california_housing, load_fashion_mnist
from tuning.models import build_cnn
from tuning.space import Categorical, Float, Int, Space
from tuning.splits import Split, split_fashion_mnist

__all__ = [
    "BENCHMARK_VERSION",
    "CALIFORNIA",
    "CNN_SPACE",
    "DATASETS",
    "DEFAULT_DATASETS",
    "FASHION",
    "FASHION_CNN",
    "MLP_SPACE",
]

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


# The small CNN of tuning.models on Fashion-MNIST's images (the split keeps them flat; the
# builder reshapes 784 pixels to 28x28). Its epochs cost about 10x the MLP's on 2 cores (filters
# 16, two blocks: about 10 s per epoch on a quarter of the training set, 2026-11-30), so the
# standard profile trains on a quarter of the data, eight 6-epoch trials per cell; filters stop at 24
# because the second block's cost grows with their square.
CNN_SPACE = Space(
    [
        Float("learning_rate_scale", 0.1, 10.0, log=True),
        Int("filters", 8, 24, log=True),
        Int("n_blocks", 1, 2),
        Int("dense_units", 32, 128, log=True),
        Categorical("optimizer", ("adam", "adamw", "rmsprop", "sgd")),
        Float("dropout", 0.0, 0.5),
        Categorical("batch_size", (64, 128, 256)),
    ]
)


FASHION, CALIFORNIA, FASHION_CNN = "fashion_mnist", "california_housing", "fashion_mnist_cnn"
# What `python -m benchmarks.compare` runs without --datasets (and so `make benchmark`).
DEFAULT_DATASETS = (FASHION, CALIFORNIA)
DATASETS: Mapping[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(
            FASHION,
            load=load_fashion_mnist,
            space=MLP_SPACE,
            metric="accuracy",
            split=split_fashion_mnist,
            prepare=_pixels,
            settings={
                "smoke": Setting(0.02, 12, 3),
                "standard": Setting(1.0, 108, 9, target=0.890),
                "full": Setting(1.0, 648, 27, target=0.905),
            },
            version=BENCHMARK_VERSION,
        ),
        Dataset(
            CALIFORNIA,
            load=load_california_housing,
            space=MLP_SPACE,
            metric="rmse",
            prepare=_tabular,
            settings={
                "smoke": Setting(0.1, 12, 3),
                "standard": Setting(1.0, 324, 27, target=0.50),
                "full": Setting(1.0, 1296, 54, target=0.47),
            },
            version=BENCHMARK_VERSION,
        ),
        Dataset(
            FASHION_CNN,
            load=load_fashion_mnist,
            space=CNN_SPACE,
            metric="accuracy",
            split=split_fashion_mnist,
            prepare=_pixels,
            build=build_cnn,
            settings={
                "smoke": Setting(0.02, 12, 3),
                "standard": Setting(0.25, 48, 6, target=0.88),
                # Zalando's table: small CNNs reach 0.916-0.934.
                "full": Setting(1.0, 648, 27, target=0.925),
            },
            version=BENCHMARK_VERSION,
        ),
    )
}
