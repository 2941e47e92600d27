import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tuning import datasets
from tuning.datasets import (
    CAL_HOUSING_SHA256,
    FASHION_MNIST_SHA256,
    load_california_housing,
    load_fashion_mnist,
)
from tuning.errors import ChecksumMismatchError, DataNotFoundError
from tuning.splits import split_arrays, split_fashion_mnist

SHARED_README = Path(__file__).resolve().parents[2] / "shared" / "data" / "README.md"
# `make data` puts a copy here; the loader tests use it as their source file.
REPO_CAL = Path(__file__).resolve().parents[1] / "data" / "california_housing" / "cal_housing.data"


def test_fashion_mnist_matches_keras_layout(fashion_data):
    (x_train, y_train), (x_test, y_test) = fashion_data
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10))
    assert np.bincount(y_test).tolist() == [1000] * 10
    # The first training label in Zalando's file is 9 (ankle boot).
    assert y_train[0] == 9


def test_california_housing_matches_scikit_learn(california_data):
    x, y = california_data
    assert x.shape == (20640, 8) and y.shape == (20640,)
    # First row from ../shared/data/README.md: MedInc 8.3252, target 4.526.
    np.testing.assert_allclose(x[0], [8.3252, 41, 880 / 126, 129 / 126, 322, 322 / 126, 37.88, -122.23])
    assert y[0] == pytest.approx(4.526)
    assert y.max() == pytest.approx(5.00001)


@pytest.mark.skipif(not SHARED_README.exists(), reason="../shared/data/README.md is not beside this checkout")
def test_checksums_are_the_published_ones():
    published = dict(re.findall(r"\| ([\w-]+\.gz) \| ([0-9a-f]{64}) \|", SHARED_README.read_text()))
    assert published == FASHION_MNIST_SHA256
    assert CAL_HOUSING_SHA256 in SHARED_README.read_text()


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """Every place the loaders look, pointed at empty directories."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.delenv("TUNING_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "REPO_DATA_DIR", empty / "repo")
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", empty / "debian")
    monkeypatch.setenv("KERAS_HOME", str(empty / "keras"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(empty / "sklearn"))
    return empty


def test_no_data_anywhere_names_every_place_and_the_fix(nowhere):
    with pytest.raises(DataNotFoundError) as info:
        load_fashion_mnist(download=False)
    message = str(info.value)
    assert "\n" not in message
    for place in ("repo", "debian", "keras/datasets", "sklearn"):
        assert str(nowhere / place) in message
    assert "make data" in message
    with pytest.raises(DataNotFoundError, match=r"California Housing not found.*make data"):
        load_california_housing(download=False)


def test_explicit_directory_comes_first_and_is_verified(nowhere, tmp_path, monkeypatch):
    own = tmp_path / "own" / "california_housing"
    own.mkdir(parents=True)
    shutil.copy(REPO_CAL, own / "cal_housing.data")
    x, _ = load_california_housing(tmp_path / "own", download=False)
    assert x.shape == (20640, 8)
    # The environment variable works the same way.
    monkeypatch.setenv("TUNING_DATA_DIR", str(tmp_path / "own"))
    assert load_california_housing(download=False)[0].shape == (20640, 8)

    with open(own / "cal_housing.data", "r+b") as f:
        f.seek(100)
        f.write(b"9")
    with pytest.raises(ChecksumMismatchError) as info:
        load_california_housing(download=False)
    assert str(own / "cal_housing.data") in str(info.value)


def test_fashion_checksum_mismatch_names_the_file(nowhere, tmp_path):
    own = tmp_path / "fm" / "fashion-mnist"
    own.mkdir(parents=True)
    for name in FASHION_MNIST_SHA256:
        shutil.copy(Path("/usr/share/datasets/fashion-mnist") / name, own / name)
    (own / "t10k-labels-idx1-ubyte.gz").write_bytes(b"truncated")
    with pytest.raises(ChecksumMismatchError, match=r"t10k-labels-idx1-ubyte\.gz"):
        load_fashion_mnist(tmp_path / "fm", download=False)


def test_fashion_split_is_deterministic_and_keeps_the_official_test_set(fashion_data):
    a = split_fashion_mnist(fashion_data, seed=1)
    b = split_fashion_mnist(fashion_data, seed=1)
    c = split_fashion_mnist(fashion_data, seed=2)
    assert a.x_train.shape == (50000, 784) and a.x_val.shape == (10000, 784) and a.x_test.shape == (10000, 784)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.y_val, c.y_val)
    np.testing.assert_array_equal(a.x_test, fashion_data[1][0].reshape(10000, -1))
    assert np.bincount(a.y_val).tolist() == [1000] * 10  # stratified
    assert not a.x_train.flags.writeable


def test_california_split_fixes_the_test_set_and_never_overlaps(california_data):
    a = split_arrays(california_data, seed=0)
    b = split_arrays(california_data, seed=3)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_val, b.x_val)
    assert (len(a.x_train), len(a.x_val), len(a.x_test)) == (13210, 3302, 4128)

    def rows(x):
        return {r.tobytes() for r in x}

    assert not rows(a.x_train) & rows(a.x_test) and not rows(a.x_val) & rows(a.x_test)
    assert not rows(a.x_train) & rows(a.x_val)
