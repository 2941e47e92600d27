"""What ``python -m benchmarks.perf`` makes of its measurements: the targets, perf.csv's derived columns, perf.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common.store import write_bytes_atomically
from benchmarks.perf.measure import MATMUL_N
from benchmarks.report.render import md_table

__all__ = ["TARGETS", "derive", "summary", "write_markdown"]

# figure: (target, whether higher is better, how to print it)
TARGETS = {
    "steady_fraction_of_bound": (0.70, True, "{:.0%}"),
    "warmup_share_of_trial": (0.05, False, "{:.1%}"),
    "toolkit_overhead": (0.03, False, "{:.1%}"),
    "rss_growth_mb_100_fits": (100.0, False, "{:.1f}"),
    "jobs2_speedup": (1.6, True, "{:.2f}"),
}


def derive(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each epoch measurement against the hardware bound ``6 x samples x weights / GFLOP/s``."""
    gflops = next(r["gflops"] for r in rows if r["measure"] == "matmul")
    derived = []
    for r in rows:
        if r["measure"] == "epochs":
            bound = 6 * r["samples"] * r["weights"] / (gflops * 1e9)
            r = {
                **r,
                "bound_s": bound,
                "fraction_of_bound": bound / r["steady_epoch_s"],
                "warmup_s": max(0.0, r["first_epoch_s"] - r["steady_epoch_s"]),
            }
        derived.append(r)
    return derived


def summary(
    rows: list[dict[str, Any]], default_backend: str, standard_batch: int, trial_epochs: int
) -> dict[str, float]:
    frame = pd.DataFrame(rows)
    epochs = frame[(frame.measure == "epochs") & (frame.backend == default_backend)]
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
    frame = pd.DataFrame(rows)
    gflops = float(frame[frame.measure == "matmul"].gflops.iloc[0])
    targets = []
    for key, (target, higher, fmt) in TARGETS.items():
        value = figures[key]
        met = value >= target if higher else value <= target
        targets.append(
            [key, fmt.format(value), ("≥ " if higher else "≤ ") + fmt.format(target), "yes" if met else "no"]
        )
    epochs = [
        [
            *(r.backend, r.model, r.batch_size, f"{r.steady_epoch_s:.2f}"),
            *(f"{r.fraction_of_bound:.0%}", f"{r.first_epoch_s:.2f}", f"{r.warmup_s:.2f}"),
        ]
        for r in frame[frame.measure == "epochs"].itertuples()
    ]
    overhead = [
        [r.method, r.trials, f"{r.search_s:.1f}", f"{r.keras_s:.1f}", f"{r.overhead_share:.1%}"]
        for r in frame[frame.measure == "overhead"].itertuples()
    ]
    jobs = [
        [r.threads, r.jobs, r.worker_pool, f"{r.seconds:.1f}", f"{r.epochs_per_s:.2f}"]
        for r in frame[frame.measure == "jobs"].itertuples()
    ]
    memory = frame[frame.measure == "memory"].rss_mb.to_numpy()
    sections = [
        "# Performance",
        "\n".join(
            [
                f"- **Command:** `{command}`",
                f"- **Date:** {datetime.now(UTC).isoformat(timespec='seconds')}",
                f"- **Machine:** {info['machine_cpus']} CPUs ({info['machine_cpu_model']}), "
                f"{info['machine_ram_gb']} GiB RAM",
                "- **Versions:** " + ", ".join(f"{k} {v}" for k, v in info.items() if not k.startswith("machine")),
                f"- **Default backend:** {default_backend}",
                f"- **Hardware bound:** float32 matmul {gflops:.0f} GFLOP/s (numpy, {MATMUL_N}², best of 10)",
            ]
        ),
        "## Targets",
        md_table(["figure", "measured", "target", "met"], targets),
        "## Epoch time (Fashion-MNIST, 50,000 samples)",
        md_table(["backend", "model", "batch", "steady s/epoch", "% of bound", "first fit s", "warm-up s"], epochs),
        "## Toolkit overhead (California Housing, 25% slice)",
        md_table(["method", "trials", "search s", "inside Keras s", "outside Keras"], overhead),
        "## Parallel trials (California Housing random search)",
        "The first `--jobs 2` search starts joblib's worker processes (cold); the second reuses them (warm), "
        "as every later search of a `benchmarks.compare` run does.",
        md_table(["threads per process", "jobs", "worker pool", "seconds", "epochs/s"], jobs),
        "## Memory",
        f"RSS after fit 5: {memory[min(4, len(memory) - 1)]:.0f} MB; after fit "
        f"{len(memory)}: {memory[-1]:.0f} MB (growth {figures['rss_growth_mb_100_fits']:.0f} MB).",
    ]
    write_bytes_atomically(("\n\n".join(sections) + "\n").encode(), path)
