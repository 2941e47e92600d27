"""What benchmarks.perf makes of its measurements: derived columns, target figures and perf.md.

Measuring needs minutes of training; the arithmetic and the document are checked here on
rows of the shape the measuring children return.
"""

import math

import pytest

from benchmarks.perf.report import TARGETS, derive, summary, write_markdown

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
    return measured, bound


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

    path = tmp_path / "perf.md"
    write_markdown(path, derived, figures, INFO, "python -m benchmarks.perf", "jax")
    text = path.read_text()
    assert "`python -m benchmarks.perf`" in text and "100 GFLOP/s" in text
    assert "| bayes | 6 | 10.0 | 6.0 | 3.5 | 35.0% | 5.0% |" in text
    met = [line for line in text.splitlines() if line.startswith("| the worst method")]
    assert len(met) == 1 and met[0].endswith("| 5.0% | ≤ 3.0% | no |")
    assert "| 2 | 1296 | 72.0 | 18.00 |" in text and "| 1 per process, local Dask cluster | 2 | again |" in text
    assert not any(math.isnan(v) for v in figures.values())
