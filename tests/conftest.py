"""Shared fixtures: small slices of the real datasets, loaded once per session."""

import os

import pytest

from benchmarks.common.environment import use_benchmark_environment
from tuning.datasets import load_california_housing, load_fashion_mnist
from tuning.execution import single_thread_settings
from tuning.splits import split_arrays, split_fashion_mnist

# Before any keras import: the project's defaults (backend, compilation cache).
use_benchmark_environment()
# Tests train tiny models for an epoch or two, so compiling, not running, is most of their
# time: without XLA's backend optimisations a new architecture's programs compiled in about
# two thirds of the time (2.0-2.5 s instead of 3.1-4.0 s here) while its epochs ran up to 2x
# slower, a bad trade for real runs, which keep XLA's default. Subprocesses inherit it.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
# Under pytest-xdist the worker processes share the cores: one compute thread each, as the
# engine gives its own workers, so that XLA's and OpenMP's thread pools (scikit-learn's
# gradient-boosted trees) do not spin on cores another worker is using.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.update(single_thread_settings(os.environ))


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
    return split_arrays(california_data, seed=0, fraction=0.05)
