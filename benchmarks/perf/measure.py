"""The measurements of ``python -m benchmarks.perf``, each a job of the engine.

Every measurement but the matmul bound runs in a child process: Keras fixes its backend at
import, and a fresh process measures a cold start honestly.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tuning.execution import SINGLE_THREAD_ENV, Execution

BACKENDS = ("tensorflow", "jax", "torch")
BATCH_SIZES = (64, 128, 256)
# The default 784-256-10 MLP, and the standard profile's typical two-layer model.
MODELS = {"784-256-10": (256,), "784-256-256-10": (256, 256)}
MATMUL_N = 2048


def matmul_gflops(repeats: int = 10) -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * MATMUL_N**3 / best / 1e9


def _weights(hidden: Sequence[int], n_in: int = 784, n_out: int = 10) -> int:
    sizes = [n_in, *hidden, n_out]
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


# ---------------------------------------------------------------- in a child process per backend


def _epoch_worker(quick: bool) -> list[dict[str, Any]]:
    import keras
    import numpy as np

    from tuning.datasets import load_fashion_mnist
    from tuning.models import build_model

    (x, y), _ = load_fashion_mnist()
    x = x[:50000].reshape(50000, -1).astype(np.float32)
    y = y[:50000].astype(np.int64)
    steady_epochs = 1 if quick else 3
    rows = []
    for name, hidden in MODELS.items():
        for batch in BATCH_SIZES:
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            units = {f"units_{i + 1}": u for i, u in enumerate(hidden)}
            model = build_model(n_features=784, n_classes=10, n_layers=len(hidden), input_scale=255.0, **units)
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            first = time.perf_counter() - start
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=steady_epochs, verbose=0)
            steady = (time.perf_counter() - start) / steady_epochs
            rows.append(
                {
                    "model": name,
                    "batch_size": batch,
                    "first_epoch_s": first,
                    "steady_epoch_s": steady,
                    "weights": _weights(hidden),
                    "samples": len(x),
                }
            )
    return rows


def _run_child(kind: str, backend: str, quick: bool, extra_env: dict[str, str] | None = None) -> Any:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", **(extra_env or {})}
    command = [sys.executable, "-m", "benchmarks.perf", "--child", kind] + (["--quick"] if quick else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child on {backend} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- toolkit overhead, memory, jobs


class KerasTimer:
    """Accumulates wall time spent inside Keras Model.fit, predict and evaluate.

    Only the outermost call counts: ``fit`` with validation data calls ``evaluate`` itself,
    and counting both made Keras time exceed the search's own wall time.
    """

    def __init__(self) -> None:
        import keras

        self.seconds = 0.0
        self._depth = 0
        self._model = keras.Model
        self._originals = {name: getattr(keras.Model, name) for name in ("fit", "predict", "evaluate")}

    def __enter__(self) -> KerasTimer:
        for name, original in self._originals.items():
            setattr(self._model, name, self._timed(original))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._originals.items():
            setattr(self._model, name, original)

    def _timed(self, original: Any) -> Any:
        timer = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            timer._depth += 1
            try:
                return original(*args, **kwargs)
            finally:
                timer._depth -= 1
                if timer._depth == 0:
                    timer.seconds += time.perf_counter() - start

        return wrapper


def _california_problem(fraction: float):
    from benchmarks.definitions import DATASETS
    from tuning.methods import SearchProblem

    dataset = DATASETS["california_housing"]
    split, fixed = dataset.prepare(dataset.split(dataset.load(), 0, fraction=fraction))
    return dataset, SearchProblem.from_split(split, classification=False, fixed=fixed)


def _overhead_worker(quick: bool) -> list[dict[str, Any]]:
    from tuning.methods import METHODS, Budget, get_method

    dataset, problem = _california_problem(0.25)
    rows = []
    for name in METHODS:
        budget = Budget(24 if quick else 60, 4 if quick else 10)
        with KerasTimer() as timer:
            start = time.perf_counter()
            result = get_method(name).search(problem, dataset.space, budget, seed=0)
            total = time.perf_counter() - start
        rows.append(
            {
                "method": name,
                "search_s": total,
                "keras_s": timer.seconds,
                "trials": result.n_evaluations,
                "overhead_share": (total - timer.seconds) / total,
            }
        )
    return rows


def _memory_worker(quick: bool) -> list[dict[str, Any]]:
    import gc

    import psutil

    from tuning.wrappers import make_estimator

    _, problem = _california_problem(0.1)
    process = psutil.Process()
    estimator = make_estimator(
        False, random_state=0, n_layers=2, units_1=64, units_2=64, epochs=1, batch_size=256, **problem.fixed
    )
    rows = []
    for i in range(20 if quick else 100):
        estimator.fit(problem.x_train, problem.y_train)
        gc.collect()
        rows.append({"fit": i + 1, "rss_mb": process.memory_info().rss / 2**20})
    return rows


def _jobs_worker(quick: bool) -> list[dict[str, Any]]:
    from tuning.methods import Budget, get_method

    dataset, problem = _california_problem(1.0)
    budget = Budget(48 if quick else 160, 8 if quick else 20)
    rows = []
    # joblib keeps its worker processes between searches: the first --jobs 2 search pays for
    # starting them (each imports TensorFlow, JAX and Keras), later ones in the same run do not.
    for jobs, pool in ((1, "none"), (2, "cold"), (2, "warm")):
        start = time.perf_counter()
        result = get_method("random").search(problem, dataset.space, budget, seed=0, execution=Execution(jobs=jobs))
        seconds = time.perf_counter() - start
        rows.append(
            {
                "jobs": jobs,
                "worker_pool": pool,
                "seconds": seconds,
                "trials": result.n_evaluations,
                "epochs": result.epochs_trained,
                "epochs_per_s": result.epochs_trained / seconds,
            }
        )
    return rows


CHILDREN = {"epochs": _epoch_worker, "overhead": _overhead_worker, "memory": _memory_worker, "jobs": _jobs_worker}


def matmul_worker(quick: bool) -> list[dict[str, Any]]:
    return [{"gflops": matmul_gflops()}]


def installed_backends() -> list[str]:
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


@dataclass(frozen=True)
class Measurement:
    """One group of measurements: what, under which backend, with how many threads per process."""

    kind: str
    backend: str = ""
    threads: str = ""

    @property
    def name(self) -> str:
        return "/".join(part.replace(" ", "-") for part in (self.kind, self.backend, self.threads) if part)

    def run(self, quick: bool) -> list[dict[str, Any]]:
        if self.kind == "matmul":
            found = matmul_worker(quick)
        else:
            found = _run_child(
                self.kind, self.backend, quick, SINGLE_THREAD_ENV if self.threads == ONE_THREAD else None
            )
        labels = {"measure": self.kind, "backend": self.backend, "threads": self.threads}
        return [{**labels, **row} for row in found]


ONE_THREAD = "1 per process"


def measurements(default_backend: str) -> list[Measurement]:
    """Everything one run measures: the bound, epochs per installed backend, then the default backend's costs."""
    return [
        Measurement("matmul"),
        *(Measurement("epochs", backend) for backend in installed_backends()),
        Measurement("overhead", default_backend),
        Measurement("memory", default_backend),
        *(Measurement("jobs", default_backend, threads) for threads in ("default", ONE_THREAD)),
    ]
