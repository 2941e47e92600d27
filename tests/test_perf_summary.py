"""What benchmarks.perf makes of its measurements: derived columns, target figures and perf.md.

Measuring needs minutes of training; the arithmetic and the document are checked here on
rows of the shape the measuring children return.
"""

import math

import pytest

from benchmarks.perf.summary import TARGETS, derive, summary, write_markdown

GFLOPS = 100.0
INFO = {"machine_cpus": 2, "machine_cpu_model": "test CPU", "machine_ram_gb": 24, "python": "3.11", "keras": "3"}


def epoch_row(model, batch, loop, steady, *, samples=50_000, weights=203_530, first=None, cold=None):
    first = steady + 1.0 if first is None else first
    return {
        "measure": "epochs",
        "backend": "jax",
        "threads": "",
        "model": model,
        "batch_size": batch,
        "loop": loop,
        "samples": samples,
        "weights": weights,
        "steady_epoch_s": steady,
        "first_epoch_s": first,
        "first_epoch_cold_s": first + 4.0 if cold is None else cold,
    }


def rows():
    bound = 6 * 50_000 * 203_530 / (GFLOPS * 1e9)  # 0.61 s
    measured = [{"measure": "matmul", "backend": "", "threads": "", "gflops": GFLOPS}]
    for batch, scanned in ((64, 1.0), (128, 0.8), (256, 0.7)):
        measured += [
            epoch_row("784-256-10", batch, "keras", 1.2),
            epoch_row("784-256-10", batch, "scanned", scanned),
            epoch_row("784-256-10", batch, "hand_written", 0.7),
        ]
    measured += [
        epoch_row("784-256-256-10", 128, "scanned", 1.0, weights=269_322, first=1.5),
        epoch_row("8-64-64-1", 64, "scanned", 0.03, samples=13_210, weights=4_801),
        epoch_row("8-64-64-1", 64, "hand_written", 0.02, samples=13_210, weights=4_801),
    ]
    for method, keras_s, proposal_s in (("random", 9.5, 0.1), ("bayes", 6.0, 3.5)):
        measured.append(
            {
                "measure": "overhead",
                "backend": "jax",
                "threads": "",
                "method": method,
                "search_s": 10.0,
                "keras_s": keras_s,
                "proposal_s": proposal_s,
                "trials": 6,
                "proposal_share": proposal_s / 10.0,
                "overhead_share": (10.0 - keras_s - proposal_s) / 10.0,
            }
        )
    measured += [
        {"measure": "memory", "backend": "jax", "threads": "", "fit": i + 1, "rss_mb": 900.0 + (i >= 4) * 5.0}
        for i in range(10)
    ]
    for threads in ("default", "1 per process"):
        for jobs, run, rate in ((1, "first", 2.0), (2, "first", 3.0), (1, "again", 10.0), (2, "again", 17.0)):
            measured.append(
                {
                    "measure": "jobs",
                    "backend": "jax",
                    "threads": threads,
                    "jobs": jobs,
                    "run": run,
                    "seconds": 160 / rate,
                    "epochs_per_s": rate,
                }
            )
    for run, rate in (("first", 4.0), ("again", 15.0)):
        measured.append(
            {
                "measure": "dask",
                "backend": "jax",
                "threads": "",
                "jobs": 2,
                "run": run,
                "seconds": 160 / rate,
                "epochs_per_s": rate,
            }
        )
    for cells, rate in ((1, 10.0), (2, 18.0)):
        measured.append(
            {
                "measure": "cells",
                "backend": "jax",
                "threads": "",
                "cells": cells,
                "epochs": 1296,
                "seconds": 1296 / rate,
                "epochs_per_s": rate,
            }
        )
    measured += anatomy_rows()
    return measured, bound


PHASES = {"reset_s": 0.001, "build_s": 0.01, "compile_s": 0.0, "score_s": 0.002, "programs": 0}


def anatomy_rows():
    """California's typical trial (batch 64: steady 0.2 s, kept 0.24 s, rung 0.03 s, new 1.7 s of which
    1.4 s compiling; batch 128 better everywhere), and four cells of the anatomy and the user comparison."""
    measured = []
    for batch, scale in ((64, 1.0), (128, 0.5)):
        for case, wall, compile_s in (
            ("new program", 1.7, 1.4),
            ("program kept", 0.24, 0.0),
            ("one-epoch rung, program kept", 0.03, 0.0),
            ("steady training", 0.2, math.nan),
        ):
            measured.append(
                {
                    **{"measure": "anatomy", "backend": "jax", "threads": "", "part": "trial", "case": case},
                    **{"batch_size": batch, "epochs": 27, "wall_s": wall * scale, "train_s": wall * scale},
                    **PHASES,
                    "compile_s": compile_s * scale,
                }
            )
    cells = (
        # dataset, method, wall, proposal, compile, train
        ("california_housing", "random", 30.0, 0.0, 20.0, 4.0),  # bound 0 + 6 + 20 = 26: 1.15x
        ("fashion_mnist", "random", 60.0, 0.0, 10.0, 50.0),  # 1.2x training
        ("fashion_mnist", "hyperband", 90.0, 0.0, 20.0, 60.0),  # 1.5x
    )
    for measure, cache in (("anatomy", "empty at the start"), ("user", "warm")):
        for dataset, method, wall, proposal, compile_s, train in cells:
            measured.append(
                {
                    **{"measure": measure, "backend": "jax", "threads": "", "part": "cell", "cache": cache},
                    **{"dataset": dataset, "method": method, "trials": 12, "wall_s": wall, "proposal_s": proposal},
                    **{"reset_s": 0.1, "build_s": 0.5, "compile_s": compile_s, "train_s": train, "score_s": 0.2},
                    **{"records_s": 0.1, "programs": 40, "median_trial_s": 2.0, "median_fidelity": 9},
                    **{f"median_{k}": 0.1 for k in ("reset_s", "build_s", "compile_s", "train_s", "score_s")},
                    "median_programs": 3,
                }
            )
    measured.append({"measure": "user", "backend": "jax", "threads": "", "part": "user comparison", "cache": "warm"})
    measured[-1].update({"wall_s": 25.0, "trials": 60})
    return measured


def test_figures_against_the_bound_the_hand_written_loop_and_the_method_proposals(tmp_path):
    measured, bound = rows()
    derived = derive(measured)
    figures = summary(derived, "jax", {"fashion": (128, 9), "california": (64, 27)})

    assert figures["fashion_fraction_of_bound"] == pytest.approx(bound / 0.8)
    assert figures["fashion_worst_vs_hand_written"] == pytest.approx(1.0 / 0.7)
    assert figures["california_vs_hand_written"] == pytest.approx(1.5)
    assert figures["fashion_warmup_share_of_trial"] == pytest.approx(0.5 / (0.5 + 9 * 1.0))
    assert figures["fashion_new_architecture_warmup_share"] == pytest.approx(4.5 / (4.5 + 9 * 1.0))
    assert figures["california_warmup_share_of_trial"] == pytest.approx(1.0 / (1.0 + 27 * 0.03))
    assert figures["california_new_architecture_warmup_share"] == pytest.approx(5.0 / (5.0 + 27 * 0.03))
    # Toolkit overhead is what is neither training nor the method's own proposals: bayes'
    # Gaussian process is its cost, not the toolkit's.
    assert figures["toolkit_overhead"] == pytest.approx(0.05)
    assert figures["rss_growth_mb_100_fits"] == pytest.approx(0.0)
    assert figures["jobs2_speedup"] == pytest.approx(1.7)
    # Against one job of the default threads, run again: the same warm state.
    assert figures["dask2_speedup"] == pytest.approx(1.5) and figures["cells2_speedup"] == pytest.approx(1.8)
    assert set(TARGETS) <= set(figures)
    # The trial anatomy: kept programs against steady training, a new one less its compiling.
    assert figures["california_kept_trial_vs_training"] == pytest.approx(1.2)
    assert figures["california_kept_rung_s"] == pytest.approx(0.03)
    assert figures["california_new_program_vs_training"] == pytest.approx((1.7 - 1.4) / 0.2)
    assert figures["california_worst_cell_vs_bound"] == pytest.approx(30.0 / (0.0 + 1.5 * 4.0 + 20.0))
    assert figures["fashion_worst_full_trial_cell_vs_training"] == pytest.approx(1.2)
    assert figures["fashion_worst_multi_fidelity_cell_vs_training"] == pytest.approx(1.5)
    assert figures["user_comparison_warm_s"] == pytest.approx(25.0)

    path = tmp_path / "perf.md"
    write_markdown(
        path, derived, figures, INFO, "python -m benchmarks.perf", "jax", commit="abc1234", run_time="1 min 0 s"
    )
    text = path.read_text()
    assert "`python -m benchmarks.perf`" in text and "100 GFLOP/s" in text and "**Commit:** abc1234" in text
    assert "| new program | 64 | 27 | 1.700 |" in text and "## Trial anatomy" in text
    assert "| bayes | 6 | 10.0 | 6.0 | 3.5 | 35.0% | 5.0% |" in text
    met = [line for line in text.splitlines() if line.startswith("| the worst method")]
    assert len(met) == 1 and met[0].endswith("| 5.0% | ≤ 3.0% | no |")
    assert "| 2 | 1296 | 72.0 | 18.00 |" in text and "| 1 per process, local Dask cluster | 2 | again |" in text
    assert not any(math.isnan(v) for v in figures.values())
