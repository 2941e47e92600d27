"""The benchmark definition: datasets, their search spaces, and the profiles' budgets.

Changing anything here that changes results must bump ``BENCHMARK_VERSION``; every
result row stores it, and resumed runs only reuse cells of the same version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tuning.datasets import load_california_housing, load_fashion_mnist
from tuning.space import Categorical, Float, Int, Space
from tuning.splits import Split, split_california_housing, split_fashion_mnist

BENCHMARK_VERSION = "2026.11-2"


def _standardize(split: Split) -> dict[str, Any]:
    return {"input_mean": split.x_train.mean(axis=0), "input_scale": split.x_train.std(axis=0) + 1e-6}


def _pixels(split: Split) -> dict[str, Any]:
    return {"input_mean": 0.0, "input_scale": 255.0}


@dataclass(frozen=True)
class Dataset:
    """A dataset as the benchmark uses it: how to load, split, scale and search it."""

    name: str
    classification: bool
    load: Callable[[], Any]
    split: Callable[..., Split]
    input_scaling: Callable[[Split], dict[str, Any]]
    space: Space


def _mlp_space(batch_sizes: tuple[int, ...]) -> Space:
    # Declaration order is the grid's priority order (tuning.space): the learning rate
    # matters most, then capacity, then the optimiser.
    return Space(
        [
            Float("learning_rate", 1e-4, 1e-1, log=True, default=1e-3),
            Int("units_1", 32, 512, log=True, default=256),
            Int("n_layers", 1, 3, default=2),
            Categorical("optimizer", ("adam", "adamw", "rmsprop", "sgd")),
            Float("dropout", 0.0, 0.5, default=0.1),
            Categorical("batch_size", batch_sizes),
            Int("units_2", 32, 512, log=True, default=256),
            Int("units_3", 32, 512, log=True, default=128),
        ]
    )


DATASETS: Mapping[str, Dataset] = {
    "fashion_mnist": Dataset(
        name="fashion_mnist",
        classification=True,
        load=load_fashion_mnist,
        split=split_fashion_mnist,
        input_scaling=_pixels,
        space=_mlp_space((128, 256, 64)),
    ),
    "california_housing": Dataset(
        name="california_housing",
        classification=False,
        load=load_california_housing,
        split=split_california_housing,
        input_scaling=_standardize,
        space=_mlp_space((64, 128, 256)),
    ),
}


@dataclass(frozen=True)
class Setting:
    """One profile's settings for one dataset. Budgets are epochs of training per cell."""

    fraction: float
    budget_epochs: int
    epochs_per_trial: int
    refit_epochs: int
    patience: int | None
    # The test score the best method should reach (accuracy at least, RMSE at most).
    target: float | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: int
    settings: Mapping[str, Setting]
    description: str


PROFILES: Mapping[str, Profile] = {
    "smoke": Profile(
        "smoke",
        seeds=1,
        settings={
            "fashion_mnist": Setting(0.02, budget_epochs=6, epochs_per_trial=2, refit_epochs=2, patience=None),
            "california_housing": Setting(0.1, budget_epochs=6, epochs_per_trial=2, refit_epochs=2, patience=None),
        },
        description="a few minutes on tiny slices; the tests run it",
    ),
    "standard": Profile(
        "standard",
        seeds=1,
        settings={
            "fashion_mnist": Setting(
                1.0, budget_epochs=96, epochs_per_trial=8, refit_epochs=24, patience=4, target=0.890
            ),
            "california_housing": Setting(
                1.0, budget_epochs=480, epochs_per_trial=40, refit_epochs=200, patience=20, target=0.52
            ),
        },
        description="`make benchmark`: full data, one seed, about 25 minutes on 2 cores",
    ),
    "full": Profile(
        "full",
        seeds=5,
        settings={
            "fashion_mnist": Setting(
                1.0, budget_epochs=400, epochs_per_trial=20, refit_epochs=60, patience=6, target=0.905
            ),
            "california_housing": Setting(
                1.0, budget_epochs=2400, epochs_per_trial=80, refit_epochs=300, patience=30, target=0.49
            ),
        },
        description="five seeds and larger budgets, for statistics; hours on 2 cores",
    ),
}
