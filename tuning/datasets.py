"""Offline-first loaders for Fashion-MNIST and California Housing.

Both loaders return what the upstream loaders return, but look for local copies first,
in this order, and verify every file against its published sha256:

1. ``data_dir`` (argument) or ``$TUNING_DATA_DIR``;
2. this repository's ``data/`` directory;
3. the library caches: ``$KERAS_HOME/datasets`` (default ``~/.keras/datasets``) and
   scikit-learn's data home (``$SCIKIT_LEARN_DATA``, default ``~/scikit_learn_data``);
4. Debian's ``dataset-fashion-mnist`` package: ``/usr/share/datasets/fashion-mnist``;
5. only then the normal upstream download (``download=True``).

Within a directory a dataset may sit in its own subdirectory (``fashion-mnist/``,
``california_housing/``) or at the top level.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tuning.errors import ChecksumMismatchError, DataNotFoundError

__all__ = [
    "CALIFORNIA_FEATURES",
    "FIX_COMMAND",
    "candidate_dirs",
    "load_california_housing",
    "load_fashion_mnist",
]

# sha256 values published in ../shared/data/README.md (Zalando's and StatLib's original files).
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
CAL_HOUSING_FILE = "cal_housing.data"
CAL_HOUSING_SHA256 = "d3d8a1a722ae78f91134862727d27a70b1415e7d512a89140406248687f4b902"
CALIFORNIA_FEATURES = (
    "MedInc",
    "HouseAge",
    "AveRooms",
    "AveBedrms",
    "Population",
    "AveOccup",
    "Latitude",
    "Longitude",
)
FASHION_SUBDIR = "fashion-mnist"
CALIFORNIA_SUBDIR = "california_housing"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
FIX_COMMAND = "make data"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> Path:
    """Return ``path`` if its sha256 is ``expected``; otherwise raise naming the file."""
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumMismatchError(f"checksum mismatch for {path}: sha256 {actual}, expected {expected}")
    return path


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Every directory searched, in order (see the module docstring)."""
    explicit = data_dir if data_dir is not None else os.environ.get("TUNING_DATA_DIR")
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    sklearn_home = Path(os.environ.get("SCIKIT_LEARN_DATA", Path.home() / "scikit_learn_data"))
    dirs = [Path(explicit)] if explicit else []
    dirs += [REPO_DATA_DIR, keras_home / "datasets", sklearn_home, DEBIAN_FASHION_DIR]
    return dirs


def _locations(dirs: list[Path], subdir: str) -> Iterator[Path]:
    for d in dirs:
        yield d / subdir
        yield d


def _find_files(names: list[str], subdir: str, data_dir: str | os.PathLike | None) -> dict[str, Path] | None:
    for location in _locations(candidate_dirs(data_dir), subdir):
        paths = {name: location / name for name in names}
        if all(p.is_file() for p in paths.values()):
            return paths
    return None


def _not_found(what: str, subdir: str, data_dir: str | os.PathLike | None, reason: str) -> DataNotFoundError:
    looked = ", ".join(str(p) for p in _locations(candidate_dirs(data_dir), subdir))
    return DataNotFoundError(f"{what} not found ({reason}); looked in: {looked}; fix: run `{FIX_COMMAND}`")


def _read_idx(path: Path, magic: int, header_ints: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = np.frombuffer(raw, dtype=">i4", count=header_ints)
    if header[0] != magic:
        raise ChecksumMismatchError(f"{path} is not an IDX file (magic {header[0]}, expected {magic})")
    shape = tuple(int(n) for n in header[1:])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 * header_ints).reshape(shape)


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` exactly as ``keras.datasets.fashion_mnist.load_data()``.

    Images are ``uint8`` of shape ``(n, 28, 28)``, labels ``uint8`` of shape ``(n,)``.
    """
    paths = _find_files(list(FASHION_MNIST_SHA256), FASHION_SUBDIR, data_dir)
    if paths is None:
        if not download:
            raise _not_found("Fashion-MNIST", FASHION_SUBDIR, data_dir, "downloads disabled")
        try:
            import keras

            return keras.datasets.fashion_mnist.load_data()
        except Exception as exc:  # any download failure: offline, proxy, HTTP error
            raise _not_found(
                "Fashion-MNIST", FASHION_SUBDIR, data_dir, f"download failed: {type(exc).__name__}"
            ) from exc
    for name, path in paths.items():
        verify(path, FASHION_MNIST_SHA256[name])
    x_train = _read_idx(paths["train-images-idx3-ubyte.gz"], 2051, 4)
    y_train = _read_idx(paths["train-labels-idx1-ubyte.gz"], 2049, 2)
    x_test = _read_idx(paths["t10k-images-idx3-ubyte.gz"], 2051, 4)
    y_test = _read_idx(paths["t10k-labels-idx1-ubyte.gz"], 2049, 2)
    return (x_train, y_train), (x_test, y_test)


def california_from_raw(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's eight features and target (in $100k) from StatLib's nine raw columns."""
    longitude, latitude, age, rooms, bedrooms, population, households, income, value = raw.T
    x = np.column_stack(
        [
            income,
            age,
            rooms / households,
            bedrooms / households,
            population,
            population / households,
            latitude,
            longitude,
        ]
    )
    return x, value / 100000.0


def load_california_housing(
    data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` as ``fetch_california_housing(return_X_y=True)``: features in ``CALIFORNIA_FEATURES`` order."""
    paths = _find_files([CAL_HOUSING_FILE], CALIFORNIA_SUBDIR, data_dir)
    if paths is not None:
        raw = np.loadtxt(verify(paths[CAL_HOUSING_FILE], CAL_HOUSING_SHA256), delimiter=",")
        return california_from_raw(raw)
    try:
        from sklearn.datasets import fetch_california_housing

        # Reads scikit-learn's own cache first; downloads only when allowed.
        x, y = fetch_california_housing(return_X_y=True, download_if_missing=download)
        return np.asarray(x), np.asarray(y)
    except Exception as exc:  # OSError when the cache is missing, URLError when offline
        reason = "downloads disabled" if not download else f"download failed: {type(exc).__name__}"
        raise _not_found("California Housing", CALIFORNIA_SUBDIR, data_dir, reason) from exc
