"""The measurements of ``python -m benchmarks.perf``, each a job of the engine.

Every measurement but the matmul bound runs in a child process: Keras fixes its backend at
import, and a fresh process measures a cold start honestly.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tuning.execution import LOCAL, Execution, single_thread_settings

BACKENDS = ("tensorflow", "jax", "torch")
# (model, dataset, hidden layers, batch sizes): the default Fashion-MNIST MLP, the standard
# profile's typical two-layer one, and California's, whose steps are too small to keep a core busy.
EPOCH_MODELS = (
    ("784-256-10", "fashion_mnist", (256,), (64, 128, 256)),
    ("784-256-256-10", "fashion_mnist", (256, 256), (64, 128, 256)),
    ("8-64-64-1", "california_housing", (64, 64), (64,)),
)
# Keras' own fit loop; the toolkit's (tuning.compat.keras.scan_steps: 32 steps per compiled
# call, JAX only); and a hand-written JAX epoch (jit + lax.scan, no Keras), the limit for the model's size.
LOOPS = ("keras", "scanned", "hand_written")
TOOLKIT_LOOP = "scanned"
MATMUL_N = 2048
ADAM = {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}  # Keras' defaults


def matmul_gflops(repeats: int = 10) -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * MATMUL_N**3 / best / 1e9


def _weights(sizes: Sequence[int]) -> int:
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


# ---------------------------------------------------------------- in a child process per backend


def _epoch_data(dataset: str) -> tuple[Any, Any, dict[str, Any]]:
    """Training rows and fixed builder values: 50,000 Fashion-MNIST images, or California's training split."""
    import numpy as np

    if dataset == "fashion_mnist":
        from tuning.datasets import load_fashion_mnist

        (x, y), _ = load_fashion_mnist()
        return x[:50000].reshape(50000, -1).astype(np.float32), y[:50000].astype(np.int64), {"input_scale": 255.0}
    _, problem = _california_problem(1.0)
    return problem.x_train, problem.y_train, dict(problem.fixed)


def _timed_epochs(make: Callable[[], Callable[[int], None]], steady_epochs: int) -> dict[str, float]:
    """Seconds of one-epoch fits and per steady epoch; ``make`` builds a fresh model and returns its ``train(epochs)``.

    The child's compilation cache starts empty: the first model's first fit compiles, as on a
    fresh machine; a second model of the same shapes finds its programs in the cache, as every
    later trial of a search does, and then trains its steady epochs.
    """

    def seconds(train: Callable[[int], None], epochs: int) -> float:
        start = time.perf_counter()
        train(epochs)
        return (time.perf_counter() - start) / epochs

    cold = seconds(make(), 1)
    train = make()
    return {
        "first_epoch_cold_s": cold,
        "first_epoch_s": seconds(train, 1),
        "steady_epoch_s": seconds(train, steady_epochs),
    }


def _keras_epochs(x: Any, y: Any, hidden: Sequence[int], n_classes: int | None, fixed: dict, loop: str) -> Any:
    import keras

    from tuning.compat.keras import scan_steps
    from tuning.models import build_model

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    units = {f"units_{i + 1}": u for i, u in enumerate(hidden)}
    model = build_model(input_shape=x.shape[1:], n_classes=n_classes, n_layers=len(hidden), **fixed, **units)
    if loop == TOOLKIT_LOOP:
        scan_steps(model)
    return lambda batch, epochs: model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)


def _hand_written_epochs(x: Any, y: Any, hidden: Sequence[int], n_classes: int | None, fixed: dict) -> Any:
    """The same MLP, loss and Adam in plain JAX: each epoch one jitted ``lax.scan`` over shuffled batches.

    The input scaling happens once, outside; the last partial batch is dropped.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    sizes = [x.shape[1], *hidden, n_classes or 1]
    rng = np.random.default_rng(0)
    params = [
        (jnp.asarray(rng.normal(0, np.sqrt(2 / a), (a, b)), jnp.float32), jnp.zeros(b, jnp.float32))
        for a, b in itertools.pairwise(sizes)
    ]
    scaled = (x - np.asarray(fixed.get("input_mean", 0.0))) / np.asarray(fixed.get("input_scale", 1.0))
    data = (jnp.asarray(scaled, jnp.float32), jnp.asarray(y))

    def loss(params: Any, xb: Any, yb: Any) -> Any:
        h = xb
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        out = h @ w + b
        if n_classes:
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(out), yb[:, None], axis=1))
        return jnp.mean((out[:, 0] - yb) ** 2)

    def step(carry: Any, rows: Any, data: Any) -> tuple[Any, None]:
        params, m, v, t = carry
        grads = jax.grad(loss)(params, data[0][rows], data[1][rows])
        t = t + 1
        m = jax.tree.map(lambda m, g: ADAM["beta_1"] * m + (1 - ADAM["beta_1"]) * g, m, grads)
        v = jax.tree.map(lambda v, g: ADAM["beta_2"] * v + (1 - ADAM["beta_2"]) * g * g, v, grads)
        rate = ADAM["learning_rate"] * jnp.sqrt(1 - ADAM["beta_2"] ** t) / (1 - ADAM["beta_1"] ** t)
        params = jax.tree.map(lambda p, m, v: p - rate * m / (jnp.sqrt(v) + ADAM["epsilon"]), params, m, v)
        return (params, m, v, t), None

    def epoch(carry: Any, key: Any, data: Any, batch: int) -> Any:
        n = len(x) // batch
        order = jax.random.permutation(key, len(x))[: n * batch].reshape(n, batch)
        carry, _ = jax.lax.scan(lambda c, rows: step(c, rows, data), carry, order)
        return carry

    compiled = jax.jit(epoch, static_argnums=3, donate_argnums=0)
    moments = [jax.tree.map(jnp.zeros_like, params) for _ in range(2)]
    state = {"carry": (params, *moments, jnp.zeros((), jnp.float32)), "key": jax.random.PRNGKey(0)}

    def train(batch: int, epochs: int) -> None:
        for _ in range(epochs):
            state["key"], key = jax.random.split(state["key"])
            state["carry"] = compiled(state["carry"], key, data, batch)
        jax.block_until_ready(state["carry"])

    return train


def _trainer(
    x: Any, y: Any, hidden: Sequence[int], n_classes: int | None, fixed: dict, loop: str, batch: int
) -> Callable[[int], None]:
    """A freshly built model's ``train(epochs)`` for ``loop``."""
    if loop == "hand_written":
        train = _hand_written_epochs(x, y, hidden, n_classes, fixed)
    else:
        train = _keras_epochs(x, y, hidden, n_classes, fixed, loop)
    return lambda epochs: train(batch, epochs)


def _epoch_worker(quick: bool) -> list[dict[str, Any]]:
    import keras

    backend = keras.backend.backend()
    # The toolkit's loop and the hand-written one are JAX's; under another backend the toolkit uses Keras' own.
    loops = LOOPS if backend == "jax" else ("keras",)
    steady_epochs = 1 if quick else 3
    rows = []
    for name, dataset, hidden, batches in EPOCH_MODELS:
        x, y, fixed = _epoch_data(dataset)
        n_classes = 10 if dataset == "fashion_mnist" else None
        for batch, loop in itertools.product(batches, loops):
            rows.append(
                {
                    "model": name,
                    "batch_size": batch,
                    "loop": loop,
                    **_timed_epochs(
                        functools.partial(_trainer, x, y, hidden, n_classes, fixed, loop, batch), steady_epochs
                    ),
                    "weights": _weights([x.shape[1], *hidden, n_classes or 1]),
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
    """Accumulates wall time spent inside Keras: creating weights, ``fit``, ``predict``, ``evaluate``.

    Creating weights is part of a trial: a new architecture's initialisers compile there
    (1.3 s of a 3.5 s first fit in a cProfile on 2 cores). Only the outermost call counts:
    ``fit`` with validation data calls ``evaluate`` itself, and counting both made Keras time
    exceed the search's own wall time.
    """

    def __init__(self) -> None:
        import keras

        self.seconds = 0.0
        self._depth = 0
        self._originals = {
            (owner, name): getattr(owner, name)
            for owner, name in (
                (keras.Layer, "add_weight"),
                (keras.Model, "fit"),
                (keras.Model, "predict"),
                (keras.Model, "evaluate"),
            )
        }

    def __enter__(self) -> KerasTimer:
        for (owner, name), original in self._originals.items():
            setattr(owner, name, self._timed(original))
        return self

    def __exit__(self, *exc: object) -> None:
        for (owner, name), original in self._originals.items():
            setattr(owner, name, original)

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
    return dataset, SearchProblem.from_split(split, metric="rmse", fixed=fixed)


def _overhead_worker(quick: bool) -> list[dict[str, Any]]:
    from tuning.methods import METHODS, Budget, get_method

    dataset, problem = _california_problem(0.25)
    budget = Budget(24 if quick else 60, 4 if quick else 10)
    # The process's first search pays its one-time costs (imports, joblib and Keras' set-up):
    # 14% of a first search of 6 two-epoch trials, 1% of the next (2026-11-30); no method should carry them.
    get_method("random").search(problem, dataset.space, budget, seed=1)
    rows = []
    for name in METHODS:
        with KerasTimer() as timer:
            start = time.perf_counter()
            result = get_method(name).search(problem, dataset.space, budget, seed=0)
            total = time.perf_counter() - start
        rows.append(
            {
                "method": name,
                "search_s": total,
                "keras_s": timer.seconds,
                "proposal_s": result.proposal_seconds,
                "trials": result.n_evaluations,
                "proposal_share": result.proposal_seconds / total,
                # What is neither training (inside Keras) nor the method's own proposal work.
                "overhead_share": (total - timer.seconds - result.proposal_seconds) / total,
            }
        )
    return rows


def _memory_worker(quick: bool) -> list[dict[str, Any]]:
    """Resident memory over one-epoch trials of different configurations, each scored by the
    trial recipe as in a search: a model of new shapes is what would leave compiled programs behind."""
    import gc

    import psutil

    from benchmarks.curves.design import sobol_points

    dataset, problem = _california_problem(0.1)
    process = psutil.Process()
    rows = []
    for i, params in enumerate(sobol_points(dataset.space, 20 if quick else 100, seed=0)):
        problem.trainer.evaluate(problem, params, epochs=1, seed=i)
        gc.collect()
        rows.append({"fit": i + 1, "rss_mb": process.memory_info().rss / 2**20})
    return rows


def _jobs_worker(quick: bool) -> list[dict[str, Any]]:
    from tuning.methods import Budget, get_method

    dataset, problem = _california_problem(1.0)
    budget = Budget(48 if quick else 160, 8 if quick else 20)
    rows = []
    # The first search of each kind starts from an empty compilation cache (and, with 2 jobs,
    # starts joblib's worker processes, each importing TensorFlow, JAX and Keras); the second
    # finds both ready, as every later search of a benchmarks.compare run does.
    for jobs, run in ((1, "first"), (2, "first"), (1, "again"), (2, "again")):
        start = time.perf_counter()
        result = get_method("random").search(problem, dataset.space, budget, seed=0, execution=Execution(jobs=jobs))
        seconds = time.perf_counter() - start
        rows.append(
            {
                "jobs": jobs,
                "run": run,
                "seconds": seconds,
                "trials": result.n_evaluations,
                "epochs": result.epochs_trained,
                "epochs_per_s": result.epochs_trained / seconds,
            }
        )
    return rows


def _dask_worker(quick: bool) -> list[dict[str, Any]]:
    """The jobs measurement's search, its trials on a local Dask cluster of two single-threaded workers."""
    from tuning.methods import Budget, get_method

    dataset, problem = _california_problem(1.0)
    budget = Budget(48 if quick else 160, 8 if quick else 20)
    rows = []
    with Execution(jobs=2, cluster=LOCAL) as execution:
        # The first search starts the workers' imports and compiles; the second finds both ready.
        for run in ("first", "again"):
            start = time.perf_counter()
            result = get_method("random").search(problem, dataset.space, budget, seed=0, execution=execution)
            seconds = time.perf_counter() - start
            rows.append({"jobs": 2, "run": run, "seconds": seconds, "epochs_per_s": result.epochs_trained / seconds})
    return rows


def _cells_worker(quick: bool) -> list[dict[str, Any]]:
    """Whole comparison cells (California random searches, one seed each) as ``benchmarks.compare``
    runs them, one at a time and then two at once (``--cells 2``), each run a fresh command with an
    empty compilation cache. The rate counts the cells' own time, first trial to last finish."""
    import pandas as pd

    rows = []
    for cells in (1, 2):
        with tempfile.TemporaryDirectory(prefix="perf-cells-") as scratch:
            out = os.path.join(scratch, "out")
            command = [sys.executable, "-m", "benchmarks.compare", "--datasets", "california_housing"]
            command += ["--methods", "random", "--seeds", "2" if quick else "4"]
            command += ["--profile", "smoke" if quick else "standard", "--cells", str(cells), "--out", out]
            env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": os.path.join(scratch, "cache")}
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                last_line = (done.stderr.strip().splitlines() or ["no message"])[-1]
                raise RuntimeError(f"benchmarks.compare --cells {cells} failed: {last_line}")
            cells_done = pd.read_csv(os.path.join(out, "comparison.csv"))
            trials = pd.read_csv(os.path.join(out, "trials.csv"))
        # From the first trial's start: with --cells 2, a cell's start also counts its worker's imports.
        started, finished = pd.to_datetime(trials.started_at).min(), pd.to_datetime(cells_done.finished_at).max()
        seconds = (finished - started).total_seconds()
        epochs = int(cells_done.epochs_trained.sum())
        rows.append({"cells": cells, "seconds": seconds, "epochs": epochs, "epochs_per_s": epochs / seconds})
    return rows


# ---------------------------------------------------------------- trial anatomy

# The phases of tuning.phases, as trials.csv names them.
PHASE_COLUMNS = ("phase_reset_s", "phase_build_s", "phase_compile_s", "phase_train_s", "phase_score_s")
# California's typical standard trial (tuning.models.build_model; the space's middle batch size is 128,
# the 64 of reports/perf.md's epoch table is California's slowest).
CALIFORNIA_TRIAL = {"units": 64, "n_layers": 2, "optimizer": "adam", "dropout": 0.0, "learning_rate_scale": 1.0}


def _cell_anatomy(cells: Any, trials: Any, cache: str) -> list[dict[str, Any]]:
    """One row per cell of a comparison's comparison.csv and trials.csv: where its time went,
    and its median trial (by wall time) split into phases."""
    rows = []
    for cell in cells.itertuples():
        own = trials[(trials.dataset == cell.dataset) & (trials.method == cell.method) & (trials.seed == cell.seed)]
        phases = own[list(PHASE_COLUMNS)].sum()
        median = own.iloc[(own.trial_s - own.trial_s.median()).abs().argsort().iloc[0]]
        rows.append(
            {
                "part": "cell",
                "cache": cache,
                "dataset": cell.dataset,
                "method": cell.method,
                "trials": len(own),
                "wall_s": cell.wall_time_s,
                "proposal_s": cell.proposal_time_s,
                **{column.removeprefix("phase_"): float(phases[column]) for column in PHASE_COLUMNS},
                # A trial's time outside its phases: the method's and the toolkit's bookkeeping.
                "records_s": float(own.trial_s.sum() - phases.sum()),
                "programs": int(own.phase_programs.sum()),
                "median_trial_s": float(median.trial_s),
                **{f"median_{c.removeprefix('phase_')}": float(median[c]) for c in PHASE_COLUMNS},
                "median_programs": int(median.phase_programs),
                "median_fidelity": int(median.fidelity),
            }
        )
    return rows


def _timed_trial(problem: Any, params: dict[str, Any], epochs: int) -> dict[str, Any]:
    start = time.perf_counter()
    evaluation = problem.trainer.evaluate(problem, params, epochs=epochs, seed=0)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "epochs": epochs, **{k: v for k, v in evaluation.phases.items()}}


def _trial_anatomy() -> list[dict[str, Any]]:
    """California's typical standard trial (and one of 80 units at batch 128) in one process: new,
    then with its program kept; a one-epoch rung of it; a new width; and its steady training, from
    fits that differ by 26 epochs."""
    dataset, problem = _california_problem(1.0)
    epochs = dataset.setting("standard").epochs_per_trial
    rows = []
    # A width of its own per batch size: every "new program" is new to this process.
    for batch_size, units in ((64, 64), (128, 80)):
        params = {**CALIFORNIA_TRIAL, "units": units, "batch_size": batch_size}
        cases = [
            ("new program", params, epochs),
            ("program kept", params, epochs),
            ("one-epoch rung, program kept", params, 1),
            ("new width", {**params, "units": units + 1}, epochs),
            ("new width, program kept", {**params, "units": units + 1}, epochs),
        ]
        for case, values, trial_epochs in cases:
            rows.append(
                {"part": "trial", "case": case, "batch_size": batch_size, **_timed_trial(problem, values, trial_epochs)}
            )
        # Steady training: the difference between fits of 1 and 27 epochs of the kept program, per 26 epochs.
        short = min(_timed_trial(problem, params, 1)["wall_s"] for _ in range(3))
        long = min(_timed_trial(problem, params, epochs)["wall_s"] for _ in range(3))
        rows.append(
            {
                "part": "trial",
                "case": "steady training",
                "batch_size": batch_size,
                "epochs": epochs,
                "wall_s": (long - short) * epochs / (epochs - 1),
            }
        )
    return rows


def _anatomy_worker(quick: bool) -> list[dict[str, Any]]:
    """Every method on both built-in datasets, one cell at a time, seed 0 of the standard profile
    (smoke with --quick), from this process's empty compilation cache; then California's typical trial."""
    from benchmarks.compare import compare
    from benchmarks.definitions import DATASETS, DEFAULT_DATASETS
    from tuning.methods import METHODS

    rows = _trial_anatomy()
    with tempfile.TemporaryDirectory(prefix="perf-anatomy-") as out:
        result = compare(
            [DATASETS[name] for name in DEFAULT_DATASETS],
            methods=sorted(METHODS),
            profile="smoke" if quick else "standard",
            seeds=1,
            out=out,
        )
    return rows + _cell_anatomy(result.cells, result.trials, "empty at the start")


def user_builder(*, input_shape: tuple[int, ...], n_classes: int | None, units: int = 32, learning_rate: float = 1e-3):
    """A user's own small regression MLP, written as a user would: plain Keras, no toolkit code."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(learning_rate), "mean_squared_error")
    return model


USER_METHODS = ("random", "bayes", "halving", "hyperband", "kt_bayes", "optuna_tpe")


def _user_worker(quick: bool) -> list[dict[str, Any]]:
    """A user's small comparison through the public API: scikit-learn's diabetes data (442 rows,
    standardised), ``user_builder``, six methods, 72-epoch budgets of 9-epoch trials, one seed.
    Timed from ``compare``'s call to its return: imports are not counted, so the methods' libraries
    and the report's are imported first."""
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    import benchmarks.report.figures  # noqa: F401  (matplotlib)
    from benchmarks.compare import compare
    from tuning.comparison import Dataset, Setting
    from tuning.methods import get_method
    from tuning.space import Categorical, Float, Int, Space

    for name in USER_METHODS:
        get_method(name)

    def load() -> tuple[Any, Any]:
        x, y = load_diabetes(return_X_y=True)
        return StandardScaler().fit_transform(x).astype("float32"), (y / 100.0).astype("float32")

    space = Space(
        [
            Int("units", 8, 64, log=True),
            Float("learning_rate", 1e-3, 3e-2, log=True),
            Categorical("batch_size", (16, 32)),
        ]
    )
    diabetes = Dataset(
        "diabetes",
        load=load,
        space=space,
        metric="rmse",
        build=user_builder,
        settings={"standard": Setting(1.0, 24 if quick else 72, 3 if quick else 9)},
    )
    with tempfile.TemporaryDirectory(prefix="perf-user-") as out:
        start = time.perf_counter()
        result = compare([diabetes], methods=list(USER_METHODS), out=out)
        seconds = time.perf_counter() - start
    cells = _cell_anatomy(result.cells, result.trials, "")
    return [{"part": "user comparison", "wall_s": seconds, "trials": int(sum(c["trials"] for c in cells))}, *cells]


CHILDREN = {
    "epochs": _epoch_worker,
    "overhead": _overhead_worker,
    "memory": _memory_worker,
    "jobs": _jobs_worker,
    "dask": _dask_worker,
    "cells": _cells_worker,
    "anatomy": _anatomy_worker,
    "user": _user_worker,
}


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
            # An empty compilation cache of its own: no measurement depends on what earlier runs left there.
            with tempfile.TemporaryDirectory(prefix="perf-jax-cache-") as cache:
                threads = single_thread_settings(os.environ) if self.threads == ONE_THREAD else {}
                env = {"JAX_COMPILATION_CACHE_DIR": cache, **threads}
                found = _run_child(self.kind, self.backend, quick, env)
                if self.kind in RUN_AGAIN_WARM:
                    again = _run_child(self.kind, self.backend, quick, env)
                    found = [{**row, "cache": "empty"} for row in found] + [{**row, "cache": "warm"} for row in again]
        labels = {"measure": self.kind, "backend": self.backend, "threads": self.threads}
        return [{**labels, **row} for row in found]


ONE_THREAD = "1 per process"
# Measurements run a second time in a new process, with the programs the first run cached.
RUN_AGAIN_WARM = ("user",)


def measurements(default_backend: str) -> list[Measurement]:
    """Everything one run measures: the bound, epochs per installed backend, then the default backend's costs."""
    return [
        Measurement("matmul"),
        *(Measurement("epochs", backend) for backend in installed_backends()),
        Measurement("overhead", default_backend),
        Measurement("memory", default_backend),
        *(Measurement("jobs", default_backend, threads) for threads in ("default", ONE_THREAD)),
        *([Measurement("dask", default_backend)] if importlib.util.find_spec("distributed") else []),
        Measurement("cells", default_backend),
        Measurement("anatomy", default_backend),
        Measurement("user", default_backend),
    ]
