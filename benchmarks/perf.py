"""Performance benchmark: how close trials run to the hardware, and what the toolkit adds.

    python -m benchmarks.perf [--out reports/] [--quick]

Writes ``perf.csv`` (one row per measurement) and ``perf.md``. Measures, in one run:

1. float32 matrix-multiply GFLOP/s (numpy), the hardware bound;
2. epoch time of MLPs on Fashion-MNIST (50,000 samples) per installed Keras backend and
   batch size, steady state and first fit (compile and warm-up) separately, against the
   bound ``6 x samples x weights / GFLOP/s``;
3. toolkit overhead: the share of a small search's wall time spent outside Keras
   ``fit``/``predict``/``evaluate``, per method;
4. memory: RSS after each of 100 sequential fits through the wrappers;
5. parallel trials: a California Housing random search at ``--jobs 1`` and ``--jobs 2``.

Each backend runs in its own process, because Keras fixes its backend at import.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cli import OneLineParser

BACKENDS = ("tensorflow", "jax", "torch")
BATCH_SIZES = (64, 128, 256)
# The default 784-256-10 MLP, and the standard profile's typical two-layer model.
MODELS = {"784-256-10": (256,), "784-256-256-10": (256, 256)}
MATMUL_N = 2048
# figure: (target, whether higher is better, how to print it)
TARGETS = {
    "steady_fraction_of_bound": (0.70, True, "{:.0%}"),
    "warmup_share_of_trial": (0.05, False, "{:.1%}"),
    "toolkit_overhead": (0.03, False, "{:.1%}"),
    "rss_growth_mb_100_fits": (100.0, False, "{:.1f}"),
    "jobs2_speedup": (1.6, True, "{:.2f}"),
}


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
        result = get_method("random").search(problem, dataset.space, budget, seed=0, n_jobs=jobs)
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


# ---------------------------------------------------------------- the report


def machine() -> dict[str, Any]:
    from benchmarks.cell import machine as machine_info
    from benchmarks.cell import versions

    return {**machine_info(), **{k: v for k, v in versions().items() if k != "keras_backend"}}


def installed_backends() -> list[str]:
    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


def measure(quick: bool, default_backend: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    gflops = matmul_gflops()
    rows.append({"measure": "matmul", "gflops": gflops})
    for backend in installed_backends():
        for r in _run_child("epochs", backend, quick):
            bound = 6 * r["samples"] * r["weights"] / (gflops * 1e9)
            rows.append(
                {
                    "measure": "epoch",
                    "backend": backend,
                    **r,
                    "bound_s": bound,
                    "fraction_of_bound": bound / r["steady_epoch_s"],
                    "warmup_s": max(0.0, r["first_epoch_s"] - r["steady_epoch_s"]),
                }
            )
    for r in _run_child("overhead", default_backend, quick):
        rows.append({"measure": "overhead", "backend": default_backend, **r})
    for r in _run_child("memory", default_backend, quick):
        rows.append({"measure": "memory", "backend": default_backend, **r})
    single_thread = {
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        "OMP_NUM_THREADS": "1",
    }
    for threads, env in (("default", None), ("1 per process", single_thread)):
        for r in _run_child("jobs", default_backend, quick, env):
            rows.append({"measure": "jobs", "backend": default_backend, "threads": threads, **r})
    return rows


def summary(
    rows: list[dict[str, Any]], default_backend: str, standard_batch: int, trial_epochs: int
) -> dict[str, float]:
    import pandas as pd

    frame = pd.DataFrame(rows)
    epochs = frame[(frame.measure == "epoch") & (frame.backend == default_backend)]
    typical = epochs[(epochs.model == "784-256-256-10") & (epochs.batch_size == standard_batch)].iloc[0]
    memory = frame[frame.measure == "memory"].rss_mb.to_numpy()
    jobs = frame[frame.measure == "jobs"]
    speedups = {}
    for threads, g in jobs.groupby("threads"):
        single = g[g.jobs == 1].epochs_per_s.iloc[0]
        for pool in ("cold", "warm"):
            speedups[f"{threads} {pool}"] = float(g[g.worker_pool == pool].epochs_per_s.iloc[0] / single)
    return {
        "steady_fraction_of_bound": float(typical.fraction_of_bound),
        "warmup_share_of_trial": float(typical.warmup_s / (typical.warmup_s + trial_epochs * typical.steady_epoch_s)),
        "toolkit_overhead": float(frame[frame.measure == "overhead"].overhead_share.max()),
        "rss_growth_mb_100_fits": float(memory[-1] - memory[min(4, len(memory) - 1)]),
        # The figure a long run sees: workers started once and reused for every later search.
        "jobs2_speedup": max(v for k, v in speedups.items() if k.endswith("warm")),
        **{f"jobs2_speedup_threads_{k.replace(' ', '_')}": v for k, v in speedups.items()},
    }


def write_markdown(
    path: Path,
    rows: list[dict[str, Any]],
    figures: dict[str, float],
    info: dict[str, Any],
    command: str,
    default_backend: str,
) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows)
    gflops = float(frame[frame.measure == "matmul"].gflops.iloc[0])
    lines = [
        "# Performance",
        "",
        f"- **Command:** `{command}`",
        f"- **Date:** {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- **Machine:** {info['machine_cpus']} CPUs ({info['machine_cpu_model']}), {info['machine_ram_gb']} GiB RAM",
        "- **Versions:** " + ", ".join(f"{k} {v}" for k, v in info.items() if not k.startswith("machine")),
        f"- **Default backend:** {default_backend}",
        f"- **Hardware bound:** float32 matmul {gflops:.0f} GFLOP/s (numpy, {MATMUL_N}², best of 10)",
        "",
        "## Targets",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
    ]
    for key, (target, higher, fmt) in TARGETS.items():
        value = figures[key]
        met = value >= target if higher else value <= target
        goal = ("≥ " if higher else "≤ ") + fmt.format(target)
        lines.append(f"| {key} | {fmt.format(value)} | {goal} | {'yes' if met else 'no'} |")
    epochs = frame[frame.measure == "epoch"]
    lines += [
        "",
        "## Epoch time (Fashion-MNIST, 50,000 samples)",
        "",
        "| backend | model | batch | steady s/epoch | % of bound | first fit s | warm-up s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in epochs.itertuples():
        lines.append(
            f"| {r.backend} | {r.model} | {r.batch_size} | {r.steady_epoch_s:.2f} | {r.fraction_of_bound:.0%} "
            f"| {r.first_epoch_s:.2f} | {r.warmup_s:.2f} |"
        )
    overhead = frame[frame.measure == "overhead"]
    lines += [
        "",
        "## Toolkit overhead (California Housing, 25% slice)",
        "",
        "| method | trials | search s | inside Keras s | outside Keras |",
        "|---|---|---|---|---|",
    ]
    for r in overhead.itertuples():
        lines.append(f"| {r.method} | {r.trials} | {r.search_s:.1f} | {r.keras_s:.1f} | {r.overhead_share:.1%} |")
    jobs = frame[frame.measure == "jobs"]
    lines += [
        "",
        "## Parallel trials (California Housing random search)",
        "",
        "The first `--jobs 2` search starts joblib's worker processes (cold); the second reuses them (warm), "
        "as every later search of a `benchmarks.compare` run does.",
        "",
        "| threads per process | jobs | worker pool | seconds | epochs/s |",
        "|---|---|---|---|---|",
    ]
    for r in jobs.itertuples():
        lines.append(f"| {r.threads} | {r.jobs} | {r.worker_pool} | {r.seconds:.1f} | {r.epochs_per_s:.2f} |")
    memory = frame[frame.measure == "memory"].rss_mb.to_numpy()
    lines += [
        "",
        "## Memory",
        "",
        f"RSS after fit 5: {memory[min(4, len(memory) - 1)]:.0f} MB; after fit "
        f"{len(memory)}: {memory[-1]:.0f} MB (growth {figures['rss_growth_mb_100_fits']:.0f} MB).",
        "",
    ]
    path.write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmarks.perf", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where perf.csv and perf.md go")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and fits, for a smoke check")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.quick)))
        return 0

    import pandas as pd

    from benchmarks.definitions import DATASETS, PROFILES
    from benchmarks.store import write_csv_atomically

    default_backend = os.environ.get("KERAS_BACKEND", "jax")
    # A typical standard-profile Fashion-MNIST trial: the space's default batch size, the profile's epochs.
    standard_batch = DATASETS["fashion_mnist"].space["batch_size"].center
    trial_epochs = PROFILES["standard"].settings["fashion_mnist"].epochs_per_trial
    rows = measure(args.quick, default_backend)
    figures = summary(rows, default_backend, standard_batch, trial_epochs)
    info = machine()
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv_atomically(pd.DataFrame([{**r, **info} for r in rows]), args.out / "perf.csv")
    command = "python -m benchmarks.perf " + " ".join(argv if argv is not None else sys.argv[1:])
    write_markdown(args.out / "perf.md", rows, figures, info, command.strip(), default_backend)
    print(json.dumps(figures, indent=2))
    print(f"wrote {args.out / 'perf.csv'}\nwrote {args.out / 'perf.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
