"""Shared fixtures: small slices of the real datasets, loaded once per session."""

import pytest

from benchmarks.common.environment import use_benchmark_environment
from tuning.datasets import load_california_housing, load_fashion_mnist
from tuning.splits import split_california_housing, split_fashion_mnist

# Before any keras import: the project's defaults (backend, compilation cache).
use_benchmark_environment()


@pytest.fixture(scope="session")
def fashion_data():
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def california_data():
    return load_california_housing(download=False)


@pytest.fixture(scope="session")
def fashion_split(fashion_data):
    return split_fashion_mnist(fashion_data, seed=0, fraction=0.01)


@pytest.fixture(scope="session")
def california_split(california_data):
    return split_california_housing(california_data, seed=0, fraction=0.05)
