"""Deterministic train/validation/test splits. The test set never takes part in tuning."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuning.errors import TuningError

__all__ = ["Split", "TrainValidation", "split_arrays", "split_fashion_mnist"]

# Data without an official test set (California Housing, a user's arrays): this seed fixes one
# for every run; it also fixes which test rows a ``fraction`` keeps.
TEST_SEED = 0
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class TrainValidation:
    """The training and validation arrays: all that a search sees of a split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True)
class Split(TrainValidation):
    """Train and validation for the search; test only for the single final evaluation."""

    x_test: np.ndarray
    y_test: np.ndarray


def _subsample(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    if not 0 < fraction <= 1:
        raise TuningError(f"fraction must be in (0, 1], got {fraction!r}")
    return np.sort(rng.permutation(n)[: max(1, round(n * fraction))])


def _readonly(*arrays: np.ndarray) -> list[np.ndarray]:
    # Contiguous float32/int copies, made once, so that no fit converts per epoch;
    # read-only so that any accidental write into the shared split fails loudly.
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a)
        a.setflags(write=False)
        out.append(a)
    return out


def split_fashion_mnist(
    data: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    seed: int,
    *,
    fraction: float = 1.0,
) -> Split:
    """Official 10k test set; validation is a seed-dependent stratified 1/6 of the training set.

    Images are flattened to 784 features of float32 in [0, 255]; scaling happens in the model.
    ``fraction`` subsamples every part (test included) for quick runs.
    """
    from sklearn.model_selection import train_test_split

    (x_train, y_train), (x_test, y_test) = data
    rng = np.random.default_rng(seed)
    keep = _subsample(len(x_train), fraction, rng)
    keep_test = _subsample(len(x_test), fraction, np.random.default_rng(TEST_SEED))
    x = x_train[keep].reshape(len(keep), -1).astype(np.float32)
    y = y_train[keep].astype(np.int64)
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=1 / 6, random_state=seed, stratify=y)
    x_te = x_test[keep_test].reshape(len(keep_test), -1).astype(np.float32)
    y_te = y_test[keep_test].astype(np.int64)
    return Split(*_readonly(x_tr, y_tr, x_val, y_val, x_te, y_te))


def split_arrays(data: tuple[np.ndarray, np.ndarray], seed: int, *, fraction: float = 1.0) -> Split:
    """``(x, y)`` in three: a fixed 20% test set (independent of ``seed``); the rest is 80/20
    train/validation by ``seed``. How California Housing, and a user's data by default, are split."""
    x, y = (np.asarray(a) for a in data)
    order = np.random.default_rng(TEST_SEED).permutation(len(x))
    n_test = round(len(x) * TEST_FRACTION)
    test, rest = order[:n_test], order[n_test:]
    rng = np.random.default_rng(seed)
    rest = rng.permutation(rest)
    rest = rest[_subsample(len(rest), fraction, rng)]
    test = test[_subsample(len(test), fraction, np.random.default_rng(TEST_SEED))]
    n_val = round(len(rest) * VALIDATION_FRACTION)
    val, train = rest[:n_val], rest[n_val:]
    # Class labels stay integers; anything else becomes float32, as Keras trains on it.
    y_type = y.dtype if np.issubdtype(y.dtype, np.integer) else np.float32
    parts: list[np.ndarray] = []
    for idx in (train, val, test):
        parts += [x[idx].astype(np.float32), y[idx].astype(y_type)]
    return Split(*_readonly(*parts))
