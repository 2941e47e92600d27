"""What ``python -m benchmarks.perf`` makes of its measurements: the targets, perf.csv's derived columns, perf.md."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.common.store import write_bytes_atomically
from benchmarks.perf.measure import MATMUL_N, TOOLKIT_LOOP
from benchmarks.report.render import md_table, other_reports

__all__ = ["TARGETS", "derive", "summary", "write_markdown"]

# The methods that evaluate some configurations at fewer epochs than a full trial.
MULTI_FIDELITY = ("hyperband", "halving", "optuna_asha")
# A trial's phases (tuning.phases), as the anatomy rows name them, and as its tables head them.
ANATOMY_PHASES = ("reset_s", "build_s", "compile_s", "train_s", "score_s")
PHASE_HEADERS = tuple(f"{phase.removesuffix('_s')} s" for phase in ANATOMY_PHASES)

# figure: (target, whether higher is better, how to print it)
TARGETS = {
    "fashion_fraction_of_bound": (0.70, True, "{:.0%}"),
    "fashion_worst_vs_hand_written": (1.0, False, "{:.2f}×"),
    "california_vs_hand_written": (1.5, False, "{:.2f}×"),
    "fashion_warmup_share_of_trial": (0.05, False, "{:.1%}"),
    "fashion_new_architecture_warmup_share": (0.05, False, "{:.1%}"),
    "california_warmup_share_of_trial": (0.05, False, "{:.1%}"),
    "california_new_architecture_warmup_share": (0.05, False, "{:.1%}"),
    "toolkit_overhead": (0.03, False, "{:.1%}"),
    "rss_growth_mb_100_fits": (100.0, False, "{:.1f}"),
    "california_kept_trial_vs_training": (1.5, False, "{:.2f}×"),
    "california_kept_rung_s": (0.15, False, "{:.3f} s"),
    "california_new_program_vs_training": (1.5, False, "{:.2f}×"),
    "california_worst_cell_vs_bound": (1.0, False, "{:.2f}×"),
    "fashion_worst_full_trial_cell_vs_training": (1.3, False, "{:.2f}×"),
    "fashion_worst_multi_fidelity_cell_vs_training": (2.0, False, "{:.2f}×"),
    "user_comparison_warm_s": (30.0, False, "{:.1f} s"),
    "jobs2_speedup": (1.6, True, "{:.2f}"),
    "dask2_speedup": (1.6, True, "{:.2f}"),
    "cells2_speedup": (1.6, True, "{:.2f}"),
}
FIGURES = {
    "fashion_fraction_of_bound": "784-256-10 at batch 128: the hardware bound / the toolkit's steady epoch",
    "fashion_worst_vs_hand_written": "784-256-10, the worst batch size: the toolkit's epoch / the hand-written one",
    "california_vs_hand_written": "8-64-64-1 at batch 64: the toolkit's epoch / the hand-written one",
    "fashion_warmup_share_of_trial": "784-256-256-10, a standard trial: its warm-up (programs cached) / the trial",
    "fashion_new_architecture_warmup_share": "the same, a new architecture: its warm-up (compiling) / the trial",
    "california_warmup_share_of_trial": "8-64-64-1, a standard trial: its warm-up (programs cached) / the trial",
    "california_new_architecture_warmup_share": "the same, a new architecture: its warm-up (compiling) / the trial",
    "toolkit_overhead": "the worst method: search time outside Keras and outside the method's proposals / search time",
    "rss_growth_mb_100_fits": "RSS growth from trial 5 to trial 100, each a configuration of its own",
    "california_kept_trial_vs_training": "California's typical 27-epoch trial, its program kept: wall / steady "
    "training (the worse batch size)",
    "california_kept_rung_s": "the same, a one-epoch rung: wall",
    "california_new_program_vs_training": "the same, a new program: (wall − its compile time) / steady training",
    "california_worst_cell_vs_bound": "the worst California cell: wall / (proposal + 1.5 × training + its "
    "compile time)",
    "fashion_worst_full_trial_cell_vs_training": "the worst Fashion-MNIST cell of a full-trial method: wall / training",
    "fashion_worst_multi_fidelity_cell_vs_training": "the worst Fashion-MNIST cell of a multi-fidelity method: "
    "wall / training",
    "user_comparison_warm_s": "the diabetes comparison of six methods, programs cached: compare()'s wall time",
    "jobs2_speedup": "California random search, run again: epochs/s with --jobs 2 / with one job",
    "dask2_speedup": "the same on a local Dask cluster of 2 single-threaded workers / one job",
    "cells2_speedup": "California random-search cells of benchmarks.compare: epochs/s with --cells 2 / one at a time",
}


def derive(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each epoch against the hardware bound ``6 x samples x weights / GFLOP/s``, and against the hand-written loop."""
    gflops = next(r["gflops"] for r in rows if r["measure"] == "matmul")
    hand_written = {
        (r["backend"], r["model"], r["batch_size"]): r["steady_epoch_s"]
        for r in rows
        if r["measure"] == "epochs" and r["loop"] == "hand_written"
    }
    derived = []
    for r in rows:
        if r["measure"] == "epochs":
            bound = 6 * r["samples"] * r["weights"] / (gflops * 1e9)
            limit = hand_written.get((r["backend"], r["model"], r["batch_size"]), math.nan)
            r = {
                **r,
                "bound_s": bound,
                "fraction_of_bound": bound / r["steady_epoch_s"],
                "vs_hand_written": r["steady_epoch_s"] / limit,
                "warmup_s": max(0.0, r["first_epoch_s"] - r["steady_epoch_s"]),
                "cold_warmup_s": max(0.0, r["first_epoch_cold_s"] - r["steady_epoch_s"]),
            }
        derived.append(r)
    return derived


# The model of a typical standard-profile trial of each dataset.
TYPICAL_MODELS = {"fashion": "784-256-256-10", "california": "8-64-64-1"}


def summary(
    rows: list[dict[str, Any]], default_backend: str, standard_trials: Mapping[str, tuple[int, int]]
) -> dict[str, float]:
    """The target figures; ``standard_trials`` maps ``fashion`` and ``california`` to a standard
    trial's (batch size, epochs)."""
    frame = pd.DataFrame(rows)
    epochs = frame[(frame.measure == "epochs") & (frame.backend == default_backend)]
    # What the toolkit's fits use under this backend.
    toolkit = epochs[epochs.loop == (TOOLKIT_LOOP if (epochs.loop == TOOLKIT_LOOP).any() else "keras")]

    def epoch(model: str, batch: int) -> pd.Series:
        return toolkit[(toolkit.model == model) & (toolkit.batch_size == batch)].iloc[0]

    warmups = {}
    for dataset, (batch, trial_epochs) in standard_trials.items():
        typical = epoch(TYPICAL_MODELS[dataset], batch)
        training = trial_epochs * typical.steady_epoch_s
        warmups[f"{dataset}_warmup_share_of_trial"] = float(typical.warmup_s / (typical.warmup_s + training))
        # Most trials of a search build a width never built before: they compile.
        cold = typical.cold_warmup_s
        warmups[f"{dataset}_new_architecture_warmup_share"] = float(cold / (cold + training))
    memory = frame[frame.measure == "memory"].rss_mb.to_numpy()
    jobs = frame[frame.measure == "jobs"]
    speedups = {}
    for (threads, run), g in jobs.groupby(["threads", "run"]):
        single = g[g.jobs == 1].epochs_per_s.iloc[0]
        speedups[f"{threads} {run}"] = float(g[g.jobs == 2].epochs_per_s.iloc[0] / single)
    one_job = jobs[(jobs.threads == "default") & (jobs.jobs == 1) & (jobs.run == "again")].epochs_per_s.iloc[0]
    dask = frame[frame.measure == "dask"]
    dask_again = dask[dask.run == "again"].epochs_per_s if "run" in dask else pd.Series(dtype=float)
    cells = frame[frame.measure == "cells"].set_index("cells").epochs_per_s
    return {
        **_anatomy_figures(frame),
        "fashion_fraction_of_bound": float(epoch("784-256-10", 128).fraction_of_bound),
        "fashion_worst_vs_hand_written": float(toolkit[toolkit.model == "784-256-10"].vs_hand_written.max()),
        "california_vs_hand_written": float(epoch("8-64-64-1", 64).vs_hand_written),
        **warmups,
        "toolkit_overhead": float(frame[frame.measure == "overhead"].overhead_share.max()),
        "rss_growth_mb_100_fits": float(memory[-1] - memory[min(4, len(memory) - 1)]),
        # The figure a long run sees: workers and compiled programs ready for every later search.
        "jobs2_speedup": max(v for k, v in speedups.items() if k.endswith("again")),
        **{f"jobs2_speedup_threads_{k.replace(' ', '_')}": v for k, v in speedups.items()},
        # Without the dask extra, not measured.
        "dask2_speedup": float(dask_again.iloc[0] / one_job) if len(dask_again) else math.nan,
        "cells2_speedup": float(cells[2] / cells[1]),
    }


def _anatomy_figures(frame: pd.DataFrame) -> dict[str, float]:
    trials = frame[(frame.measure == "anatomy") & (frame.part == "trial")]

    def wall(case: str) -> pd.Series:
        return trials[trials.case == case].set_index("batch_size").wall_s

    steady = wall("steady training")
    new = trials[trials.case == "new program"].set_index("batch_size")
    cells = _anatomy_cells(frame)
    california = cells[cells.dataset == "california_housing"]
    bound = california.proposal_s + 1.5 * california.train_s + california.compile_s
    fashion = cells[cells.dataset == "fashion_mnist"].assign(ratio=lambda c: c.wall_s / c.train_s)
    multi = fashion.method.isin(MULTI_FIDELITY)
    user = frame[(frame.measure == "user") & (frame.part == "user comparison") & (frame.cache == "warm")]
    return {
        "california_kept_trial_vs_training": float((wall("program kept") / steady).max()),
        "california_kept_rung_s": float(wall("one-epoch rung, program kept").max()),
        "california_new_program_vs_training": float(((new.wall_s - new.compile_s) / steady).max()),
        "california_worst_cell_vs_bound": float((california.wall_s / bound).max()),
        "fashion_worst_full_trial_cell_vs_training": float(fashion[~multi].ratio.max()),
        "fashion_worst_multi_fidelity_cell_vs_training": float(fashion[multi].ratio.max()),
        "user_comparison_warm_s": float(user.wall_s.iloc[0]) if len(user) else math.nan,
    }


def _anatomy_cells(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.measure.isin(["anatomy", "user"]) & (frame.part == "cell")]


def _anatomy_sections(frame: pd.DataFrame) -> list[str]:
    trials = frame[(frame.measure == "anatomy") & (frame.part == "trial")]
    trial_rows = [
        [
            r.case,
            int(r.batch_size),
            int(r.epochs),
            f"{r.wall_s:.3f}",
            *("" if r.case == "steady training" else f"{getattr(r, c):.3f}" for c in ANATOMY_PHASES),
            "" if r.case == "steady training" else int(r.programs),
        ]
        for r in trials.itertuples()
    ]
    cell_rows = [
        [
            *(r.dataset, r.method, r.cache or "—", int(r.trials), f"{r.wall_s:.1f}", f"{r.proposal_s:.1f}"),
            *(f"{getattr(r, c):.1f}" for c in ANATOMY_PHASES),
            *(f"{r.records_s:.1f}", int(r.programs), f"{r.wall_s / r.train_s:.2f}×"),
            f"{r.median_trial_s:.2f} ({int(r.median_fidelity)} ep.): "
            + " / ".join(f"{getattr(r, 'median_' + c):.2f}" for c in ANATOMY_PHASES)
            + f", {int(r.median_programs)} programs",
        ]
        for r in _anatomy_cells(frame).itertuples()
    ]
    users = frame[(frame.measure == "user") & (frame.part == "user comparison")]
    user_line = "; ".join(f"{r.cache} cache {r.wall_s:.1f} s ({int(r.trials)} trials)" for r in users.itertuples())
    phases = " / ".join(c.removesuffix("_s") for c in ANATOMY_PHASES)
    return [
        "## Trial anatomy",
        "Where a trial's time goes (`tuning.phases`): reset (Keras' session and seed), build (the builder), "
        "compile (JAX tracing, lowering, compiling or loading programs, wherever it happens), train "
        "(`Model.fit` less compiling), score (validation predictions less compiling); records: the rest of "
        "the trial's wall time, from the method's request to its score. Programs: those JAX lowered (a new "
        "model's steps and the small programs of Keras' eager operations on new shapes). Models of one "
        "configuration share compiled programs (`tuning.programs`).",
        "### California's typical standard trial, one process",
        "The MLP 8-64-64-1 (Adam) at batch 64, and 8-80-80-1 at batch 128, each a program new to the process; "
        "a new width adds one unit per layer. Steady training: the difference between the kept program's 1- and "
        "27-epoch fits (best of 3 each), scaled to 27 epochs. The compilation cache starts empty.",
        md_table(["case", "batch", "epochs", "wall s", *PHASE_HEADERS, "programs"], trial_rows),
        "### Cells, one at a time",
        "Every method on both built-in datasets, seed 0 of the standard profile, one after another in one "
        "process whose compilation cache starts empty; then a user's comparison through the public API "
        f"(scikit-learn's diabetes, an MLP of units and learning rate, batch size; 72-epoch budgets of 9-epoch "
        f"trials), run twice in new processes: {user_line}, timed from `compare()`'s call to its return. "
        f"Seconds are sums over a cell's trials; the median trial by wall time, split {phases}.",
        md_table(
            [
                *("dataset", "method", "cache", "trials", "wall s", "proposal s"),
                *PHASE_HEADERS,
                *("records s", "programs", "wall / train", "median trial s"),
            ],
            cell_rows,
        ),
    ]


def write_markdown(
    path: Path,
    rows: list[dict[str, Any]],
    figures: dict[str, float],
    info: dict[str, Any],
    command: str,
    default_backend: str,
    *,
    commit: str,
    run_time: str,
) -> None:
    frame = pd.DataFrame(rows)
    gflops = float(frame[frame.measure == "matmul"].gflops.iloc[0])
    targets = []
    for key, (target, higher, fmt) in TARGETS.items():
        value = figures[key]
        met = value >= target if higher else value <= target
        shown = "n/a" if math.isnan(value) else fmt.format(value)
        targets.append([FIGURES[key], shown, ("≥ " if higher else "≤ ") + fmt.format(target), "yes" if met else "no"])
    epochs = [
        [
            *(r.backend, r.model, int(r.batch_size), r.loop, f"{r.steady_epoch_s:.3f}", f"{r.fraction_of_bound:.0%}"),
            "" if math.isnan(r.vs_hand_written) else f"{r.vs_hand_written:.2f}×",
            *(f"{r.cold_warmup_s:.2f}", f"{r.warmup_s:.2f}"),
        ]
        for r in frame[frame.measure == "epochs"].itertuples()
    ]
    overhead = [
        [
            *(r.method, int(r.trials), f"{r.search_s:.1f}", f"{r.keras_s:.1f}", f"{r.proposal_s:.1f}"),
            *(f"{r.proposal_share:.1%}", f"{r.overhead_share:.1%}"),
        ]
        for r in frame[frame.measure == "overhead"].itertuples()
    ]
    jobs = [
        [r.threads, int(r.jobs), r.run, f"{r.seconds:.1f}", f"{r.epochs_per_s:.2f}"]
        for r in frame[frame.measure == "jobs"].itertuples()
    ]
    jobs += [
        ["1 per process, local Dask cluster", int(r.jobs), r.run, f"{r.seconds:.1f}", f"{r.epochs_per_s:.2f}"]
        for r in frame[frame.measure == "dask"].itertuples()
    ]
    cells = [
        [int(r.cells), int(r.epochs), f"{r.seconds:.1f}", f"{r.epochs_per_s:.2f}"]
        for r in frame[frame.measure == "cells"].itertuples()
    ]
    memory = frame[frame.measure == "memory"].rss_mb.to_numpy()
    sections = [
        "# Performance",
        "\n".join(
            [
                f"- **Command:** `{command}`",
                f"- **Commit:** {commit}; **run time:** {run_time}",
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
        "## Epoch time",
        "Fashion-MNIST MLPs on 50,000 images; California's on its training split. Loops: `keras` is Keras' own "
        "fit loop; `scanned` the toolkit's (every fit here: one compiled loop over each 32 batches, JAX only); "
        "`hand_written` the same MLP, loss and Adam in plain JAX (jit + lax.scan), the limit for the model's size. "
        "Warm-up: a first one-epoch fit less a steady epoch, with an empty compilation cache (a fresh machine) "
        "and with the programs cached (every later trial of that shape).",
        md_table(
            [
                "backend",
                "model",
                "batch",
                "loop",
                "steady s/epoch",
                "% of bound",
                "× hand-written",
                "warm-up s, empty cache",
                "warm-up s, cached",
            ],
            epochs,
        ),
        "## Where a search's time goes (California Housing, 25% slice)",
        "After one untimed warm-up search. Inside Keras: creating weights, `fit`, `evaluate` and `predict`. "
        "Proposing: the method's library choosing candidates "
        "(`SearchResult.proposal_seconds`: skopt's and Keras Tuner's Gaussian processes and oracles, Optuna's "
        "TPE, scikit-learn's samplers and bookkeeping). Toolkit: the rest.",
        md_table(["method", "trials", "search s", "inside Keras s", "proposing s", "proposing", "toolkit"], overhead),
        "## Parallel trials (California Housing random search)",
        "Each search runs twice: the first starts from an empty compilation cache (and, with 2 jobs, starts "
        "joblib's worker processes); the second finds both ready, as every later search of a "
        "`benchmarks.compare` run does.",
        md_table(["threads per process", "jobs", "run", "seconds", "epochs/s"], jobs),
        "## Cells at once (`benchmarks.compare --cells`)",
        "California random searches, one seed each (the standard profile; the smoke profile with --quick), run "
        "by `benchmarks.compare` one at a time in its own process, then two at once, each in a worker process "
        "of its own (one thread each on 2 cores); each run a fresh command with an empty compilation cache. "
        "Seconds: from the first trial's start to the last cell's end.",
        md_table(["cells at once", "epochs", "seconds", "epochs/s"], cells),
        *_anatomy_sections(frame),
        "## Memory",
        "One-epoch trials of California Housing (10% slice) by the trial recipe, each a configuration of "
        "the space's Sobol design, so that models of new shapes follow one another as in a search. "
        f"RSS after trial 5: {memory[min(4, len(memory) - 1)]:.0f} MB; after trial "
        f"{len(memory)}: {memory[-1]:.0f} MB (growth {figures['rss_growth_mb_100_fits']:.0f} MB).",
    ]
    links = other_reports(path)
    sections += [] if links is None else [links.text]
    write_bytes_atomically(("\n\n".join(sections) + "\n").encode(), path)
