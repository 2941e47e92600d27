"""The report: its statistics on small tables with a known answer, and whole builds on real and made-up records."""

import json
import math
import re
import shutil
import struct
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmarks import report
from benchmarks.report.agreement import agreements, check_text, describe, split_half_tau, withheld
from benchmarks.report.analysis import analyse
from benchmarks.report.answer import (
    NO_DIFFERENCE,
    REPLAY_MISSED,
    REPLAY_UNCHECKED,
    answer_rows,
    answer_text,
    evidence_text,
    target_lines,
)
from benchmarks.report.document import header
from benchmarks.report.findings import pooled_verdict, verdict
from benchmarks.report.records import CELL, load
from benchmarks.report.render import Document, Paragraph, Section, Table, other_reports, write_html
from benchmarks.report.significance import compare_methods, min_blocks
from benchmarks.report.statistics import (
    budget_to_reach,
    final_summary,
    incumbents,
    mean_ranks,
    median_band,
    normalized_regret,
    read_at,
    reference_scores,
)
from tuning.errors import TuningError

FIXTURE = Path(__file__).parent / "fixtures" / "harness"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SPACE = [
    {"name": "learning_rate", "kind": "Float", "low": 1e-4, "high": 1e-1, "log": True},
    {"name": "optimizer", "kind": "Categorical", "choices": ["adam", "sgd"]},
]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------- made-up records in the harness's shape


def trial_rows(dataset, method, seed, scores, *, epochs=5, fidelities=None, failed=()):
    """One cell's trials: ``scores[i]`` is trial i's validation score, at full fidelity unless ``fidelities`` says."""
    fidelities = fidelities or [epochs] * len(scores)
    rows, spent = [], 0
    for i, (score, fidelity) in enumerate(zip(scores, fidelities, strict=True)):
        spent += fidelity
        params = {"learning_rate": 10 ** -(1 + i % 3), "optimizer": ["adam", "sgd"][i % 2]}
        rows.append(
            {
                "dataset": dataset,
                "method": method,
                "seed": seed,
                "trial": i,
                "status": "failed" if i in failed else "ok",
                "val_score": np.nan if i in failed else score,
                "epochs": fidelity,
                "fidelity": fidelity,
                "cumulative_epochs": spent,
                "elapsed_s": 2.0 * spent,
                "error": "diverged: non-finite training loss" if i in failed else np.nan,
                "worker_pid": 1,
                "params": json.dumps(params),
                **{f"param_{k}": v for k, v in params.items()},
            }
        )
    return rows


def cell_row(dataset, method, seed, trials, *, metric, budget, epochs=5):
    ok = [t for t in trials if t["status"] == "ok" and t["fidelity"] == epochs]
    scores = [t["val_score"] for t in ok]
    best = (max if metric == "accuracy" else min)(scores) if scores else np.nan
    return {
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "metric": metric,
        "val_score": best,
        "refit_val_score": best,
        "test_score": best - 0.01 if scores else np.nan,
        "best_params": json.dumps({"learning_rate": 0.01, "optimizer": "adam"} if scores else {}),
        "wall_time_s": 2.0 * budget + 3.0,
        "search_time_s": 2.0 * budget,
        "refit_time_s": 3.0,
        "proposal_time_s": 0.5,
        "n_evaluations": len(trials),
        "epochs_trained": trials[-1]["cumulative_epochs"],
        "budget_epochs": budget,
        "epochs_per_trial": epochs,
        "n_failed_trials": sum(t["status"] != "ok" for t in trials),
        "refit_epochs": 7,
        "space": json.dumps(SPACE),
        "error": "" if scores else "every trial failed, so there is no winner to refit",
        "started_at": "2026-11-23T10:00:00+00:00",
        "finished_at": "2026-11-23T10:05:00+00:00",
        "profile": "test",
        "command": "python -m benchmarks.compare --profile test",
        "git_commit": "abc1234",
        "python": "3.11.7",
    }


def write_records(directory: Path, cells: dict) -> Path:
    """``cells`` maps (dataset, method, seed) to trial rows; writes comparison.csv and trials.csv."""
    directory.mkdir(parents=True, exist_ok=True)
    trials = [row for rows in cells.values() for row in rows]
    comparison = [
        cell_row(d, m, s, rows, metric="accuracy" if d.startswith("acc") else "rmse", budget=30)
        for (d, m, s), rows in cells.items()
    ]
    pd.DataFrame(comparison).to_csv(directory / "comparison.csv", index=False)
    pd.DataFrame(trials).to_csv(directory / "trials.csv", index=False)
    return directory


def separated_records(directory: Path, *, seeds: int = 6, shifts: dict[str, float] | None = None) -> Path:
    """Two datasets × ``seeds`` seeds, in which ``good`` beats ``random`` and ``hyperband`` in every block
    (each method's score ``shifts`` above a seed's common base).

    hyperband's low-fidelity trials score better than anything, but must never count. A third
    dataset, ``rmse_dead``, has only failed trials.
    """
    rng = np.random.default_rng(0)
    shifts = shifts or {"good": 0.1, "random": 0.0, "hyperband": 0.06}
    cells = {}
    for dataset, sign in (("acc_set", 1.0), ("rmse_set", -1.0)):
        for seed in range(seeds):
            base = 0.5 + 0.05 * rng.random(6)
            for method, shift in shifts.items():
                scores = list(base + sign * shift)
                fidelities = None
                if method == "hyperband":
                    scores[:3] = [0.5 + sign * 0.4] * 3
                    fidelities = [1, 1, 1, 5, 5, 5]
                cells[dataset, method, seed] = trial_rows(dataset, method, seed, scores, fidelities=fidelities)
    for method in ("good", "random"):
        cells["rmse_dead", method, 0] = trial_rows("rmse_dead", method, 0, [1.0, 1.0], failed=(0, 1))
    return write_records(directory, cells)


# ---------------------------------------------------------------- statistics on hand-made tables


def table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["ok"] = frame.status == "ok"
    frame["full_fidelity"] = frame.fidelity == 5
    frame["budget_fraction"] = frame.cumulative_epochs / 30
    frame["greater_is_better"] = frame.task.str.startswith("acc")
    return frame


def small_trials() -> pd.DataFrame:
    rows = []
    for task in ("acc", "rmse"):
        for method, scores, fidelities, failed in (
            ("a", [0.6, 0.9, 0.7], [5, 5, 5], ()),
            ("b", [0.99, 0.8, 0.5], [1, 5, 5], (2,)),  # the 0.99 is a lower rung: it must never count
        ):
            for row in trial_rows(task, method, 0, scores, fidelities=fidelities, failed=failed):
                rows.append({**row, "task": task})
    return table(rows)


def test_incumbent_counts_only_successful_full_fidelity_trials():
    steps = incumbents(small_trials(), "budget_fraction").set_index(["task", "method"])
    assert steps.loc[("acc", "a")].incumbent.tolist() == [0.6, 0.9, 0.9]
    assert steps.loc[("rmse", "a")].incumbent.tolist() == [0.6, 0.6, 0.6]
    # b's first trial was a lower rung and its third failed: the incumbent is the 0.8 all along.
    acc_b = steps.loc[("acc", "b")]
    assert np.isnan(acc_b.incumbent.iloc[0]) and acc_b.incumbent.iloc[1:].tolist() == [0.8, 0.8]
    assert acc_b.x.tolist() == [1 / 30, 6 / 30, 11 / 30]


def test_incumbent_is_read_as_a_step_function_of_the_budget():
    trials = small_trials()
    steps = incumbents(trials, "budget_fraction")
    cells = pd.MultiIndex.from_tuples([("acc", "a", 0), ("acc", "b", 0), ("acc", "absent", 0)], names=CELL)
    values = read_at(steps, cells, np.array([0.1, 5 / 30, 0.5, 1.0]))
    # Before its first trial a cell has nothing; a trial counts from the budget it ends at; then it holds.
    assert values.loc[("acc", "a", 0)].tolist()[1:] == [0.6, 0.9, 0.9] and np.isnan(values.iloc[0, 0])
    assert np.isnan(values.loc[("acc", "b", 0)].tolist()[1]) and values.loc[("acc", "b", 0)].tolist()[2:] == [0.8, 0.8]
    assert values.loc[("acc", "absent", 0)].isna().all()


def test_regret_is_zero_for_the_best_one_for_the_median_and_mirrored_for_rmse():
    trials = small_trials()
    references = reference_scores(trials)
    # Full-fidelity successes: a's 0.6, 0.9, 0.7 and b's 0.8: best 0.9 (acc) or 0.6 (rmse), median 0.75.
    assert references.loc[("acc", 0)].tolist() == pytest.approx([0.9, 0.75])
    assert references.loc[("rmse", 0)].tolist() == pytest.approx([0.6, 0.75])
    index = pd.MultiIndex.from_tuples(
        [("acc", "a", 0), ("acc", "b", 0), ("rmse", "a", 0), ("rmse", "b", 0)], names=CELL
    )
    scores = pd.DataFrame({1.0: [0.9, 0.75, 0.6, np.nan]}, index=index)
    regret = normalized_regret(scores, references)[1.0]
    assert regret.tolist() == [0.0, 1.0, 0.0, np.inf]


def test_regret_has_no_scale_when_the_median_trial_is_the_best():
    index = pd.MultiIndex.from_tuples([("acc", "a", 0)], names=CELL)
    references = pd.DataFrame({"best_known": [0.9], "reference": [0.9]}, index=pd.MultiIndex.from_tuples([("acc", 0)]))
    assert normalized_regret(pd.DataFrame({1.0: [0.9]}, index=index), references)[1.0].isna().all()


def regret_blocks(methods: dict[str, list[float]], tasks=("x", "y"), seeds=6) -> pd.DataFrame:
    index = pd.MultiIndex.from_product([tasks, range(seeds)], names=["task", "seed"])
    return pd.DataFrame(methods, index=index)


def test_a_method_better_in_all_twelve_blocks_is_picked():
    rng = np.random.default_rng(1)
    noise = rng.random(12)
    blocks = regret_blocks({"best": 0.01 * noise, "other": 0.5 + noise, "third": 0.4 + noise[::-1]})
    comparison = compare_methods(blocks)
    assert comparison.pick == "best" and not comparison.untestable
    # Exact two-sided Wilcoxon, 12 wins of 12: p = 2/2¹²; Holm over 3 pairs multiplies the smallest by 3.
    assert stats.wilcoxon(blocks.best, blocks.other).pvalue == pytest.approx(2 / 2**12)
    assert comparison.p_values.loc["best", "other"] == pytest.approx(3 * 2 / 2**12)
    assert comparison.wins.loc["best", "other"] == 12 and comparison.wins.loc["other", "best"] == 0
    assert verdict(comparison, n_tasks=2)[0].startswith("**Pick best**")


def test_a_separated_pair_whose_win_counts_tie_has_no_direction():
    # a wins 15 blocks by a little and loses 15 by a lot: Wilcoxon separates them, the win counts do not order them.
    small, large = list(0.01 * (1 + np.arange(15) / 100)), list(1.0 + np.arange(15) / 100)
    comparison = compare_methods(regret_blocks({"a": [0.0] * 30, "b": small + [-x for x in large]}, seeds=15))
    assert comparison.separated("a", "b") and comparison.wins.loc["a", "b"] == comparison.wins.loc["b", "a"] == 15
    assert comparison.ordered_pairs == [] and not comparison.better("a", "b") and not comparison.better("b", "a")
    assert answer_text(comparison) == (
        f"{NO_DIFFERENCE} among the best: the tests show only pairs whose win counts tie, which singles out no "
        "best method or group"
    )


def test_identical_methods_are_not_separated():
    values = list(np.linspace(0, 1, 12))
    comparison = compare_methods(regret_blocks({"a": values, "b": values, "c": values}))
    assert comparison.pick is None and comparison.friedman_p == 1.0
    assert comparison.p_values.to_numpy().min() == 1.0
    assert sorted([comparison.best_ranked, *comparison.indistinguishable_from_best]) == ["a", "b", "c"]
    words = " ".join(verdict(comparison, n_tasks=2))
    assert "indistinguishable at this budget" in words and "Pick" not in words


def test_one_seed_ranks_nothing():
    blocks = regret_blocks({"best": [0.0] * 12, "other": [1.0] * 12}, tasks=[f"t{i}" for i in range(12)], seeds=1)
    comparison = compare_methods(blocks)
    assert comparison.pick is None and comparison.p_values is None
    assert "single seed per dataset ranks nothing" in comparison.untestable
    words = " ".join(verdict(comparison, n_tasks=12))
    assert "cannot rank the methods" in words and "Pick" not in words


def test_too_few_blocks_skips_the_tests_and_says_what_would_separate():
    comparison = compare_methods(regret_blocks({"a": [0.0] * 4, "b": [1.0] * 4, "c": [2.0] * 4}, seeds=2))
    assert comparison.pick is None and "at least 7" in comparison.untestable
    assert "at least 4 seeds per dataset (7 blocks over 2 datasets)" in " ".join(verdict(comparison, n_tasks=2))


def test_min_blocks_is_where_scipys_exact_test_first_can_separate():
    for n_methods in (2, 3, 8, 10):
        pairs = n_methods * (n_methods - 1) // 2
        needed = min_blocks(n_methods)
        # One method better in every block: the smallest p the exact test gives, times Holm's first factor.
        smallest = [pairs * stats.wilcoxon(np.ones(n), method="exact").pvalue for n in (needed - 1, needed)]
        assert smallest[0] >= 0.05 > smallest[1]
    assert [min_blocks(k) for k in (2, 3, 8)] == [6, 7, 11]


def test_a_method_without_an_answer_loses_and_two_without_tie():
    blocks = regret_blocks({"found": list(np.linspace(0, 1, 12)), "none": [np.inf] * 12, "none2": [np.inf] * 12})
    comparison = compare_methods(blocks)
    assert comparison.pick == "found"
    assert comparison.p_values.loc["none", "none2"] == 1.0


def test_mean_ranks_share_ties():
    index = pd.MultiIndex.from_tuples([("x", "a", 0), ("x", "b", 0), ("x", "c", 0)], names=CELL)
    ranks = mean_ranks(pd.DataFrame({0.5: [0.1, 0.1, np.inf]}, index=index))
    assert ranks.loc[0.5].tolist() == [1.5, 1.5, 3.0]


def test_budget_to_reach_uses_a_tolerance_and_any_reference_method():
    reference = 0.8
    rows = []
    for method, scores in (
        ("grid", [0.7, reference, 0.75]),  # the reference method: reaches its own final at 2/3 of the budget
        ("noise", [reference * (1 - 1e-9), 0.1, 0.1]),  # float noise below the reference: reached at once
        ("short", [reference - 1e-3, 0.1, 0.1]),  # a real miss
    ):
        rows += [{**r, "task": "acc"} for r in trial_rows("acc", method, 0, scores, epochs=10)]
    trials = table(rows).assign(full_fidelity=True)
    cells = trials.drop_duplicates(CELL)[[*CELL, "greater_is_better"]]
    reached = budget_to_reach(incumbents(trials, "budget_fraction"), cells, reference_method="grid").set_index("method")
    assert reached.loc["grid", "median_fraction"] == pytest.approx(2 / 3)
    assert reached.loc["noise", "median_fraction"] == pytest.approx(1 / 3)
    assert reached.loc["short", "median_fraction"] == np.inf and reached.loc["short", "seeds_reached"] == 0
    assert (reached.reference_score == reference).all()


def test_median_band_brackets_the_median_and_needs_two_rows():
    values = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, np.inf], [4.0, np.inf]])
    median, low, high = median_band(values)
    assert median.tolist() == [2.5, np.inf] and low[0] <= 2.5 <= high[0]
    assert np.isnan(median_band(values[:1])[1]).all()


def test_final_summary_reports_refit_epochs_as_trained_search_and_proposal_time():
    cells = pd.DataFrame(
        {
            "task": "acc",
            "method": "a",
            "seed": [0, 1, 2],
            "test_score": [0.8, 0.9, 0.7],
            "search_time_s": [10.0, 30.0, 20.0],
            "proposal_time_s": [1.0, 3.0, 2.5],
            "n_evaluations": 3,
            "epochs_trained": [30, 30, 27],
            "budget_epochs": 30,
            "refit_epochs": [7, 30, 9],
            "n_failed_trials": [0, 1, 0],
        }
    )
    row = final_summary(cells).iloc[0]
    assert (row.refit_epochs, row.search_time_s, row.proposal_time_s) == (9, 20.0, 2.5)
    assert (row.test_median, row.failed_trials) == (0.8, 1)


def test_modes_are_kept_apart(tmp_path):
    source = separated_records(tmp_path / "in")
    for name in ("comparison", "trials"):
        frame = pd.read_csv(source / f"{name}.csv")
        pd.concat([frame.assign(mode="real"), frame.assign(mode="replay")]).to_csv(source / f"{name}.csv", index=False)
    records = load(source)
    assert records.modes == ["real", "replay"]
    assert records.tasks == [f"{d} [{m}]" for d in ("acc_set", "rmse_dead", "rmse_set") for m in ("real", "replay")]
    # Each trial joins the cell of its own mode only.
    assert len(records.trials) == len(pd.read_csv(source / "trials.csv"))


def test_the_header_names_every_machine_and_version_the_runs_had(tmp_path):
    source = separated_records(tmp_path)
    comparison = pd.read_csv(source / "comparison.csv")
    on_amd = comparison.dataset == "acc_set"
    comparison = comparison.assign(machine_cpus=2, machine_ram_gb=23.5, keras="3.15.1", python="3.11.7")
    comparison["machine_cpu_model"] = np.where(on_amd, "AMD EPYC", "Intel Xeon")
    comparison.loc[on_amd, "keras"] = "3.14.0"
    # acc_set's run, another command, started 10 minutes later and its cells took 1 minute each.
    comparison.loc[on_amd, "command"] = "python -m benchmarks.compare --datasets acc_set"
    comparison.loc[on_amd, ["started_at", "finished_at"]] = ["2026-11-23T10:10:00+00:00", "2026-11-23T10:11:00+00:00"]
    comparison.to_csv(source / "comparison.csv", index=False)
    fields = dict(header(load(source), "python -m benchmarks.report"))
    # 18 cells of 60 s one at a time; 5 minutes' cells of the other, 6000 s in all: shared out over 2, 4 and 8
    # machines, never less than the longest cell.
    assert fields["Run time"] == (
        "acc_set: 1 min 0 s, 1080 s in cells, 1 at a time (the longest 60 s); on 2/4/8 such machines about 9/4/2 min; "
        "rmse_dead, rmse_set: 5 min 0 s, 6000 s in cells, 1 at a time (the longest 300 s); on 2/4/8 such machines "
        "about 50/25/12 min"
    )
    assert fields["Machine"] == (
        "2 CPUs (AMD EPYC), 23.5 GiB RAM for acc_set; 2 CPUs (Intel Xeon), 23.5 GiB RAM for rmse_dead, rmse_set"
    )
    assert "python 3.11.7" in fields["Versions"] and "keras 3.14.0/3.15.1" in fields["Versions"]
    comparison.assign(machine_cpu_model="Intel Xeon").to_csv(source / "comparison.csv", index=False)
    assert dict(header(load(source), "x"))["Machine"] == "2 CPUs (Intel Xeon), 23.5 GiB RAM"


def test_a_replay_beside_its_real_runs_is_checked_against_them(tmp_path):
    real = separated_records(tmp_path / "real")
    replay = separated_records(tmp_path / "replay")
    for name in ("comparison", "trials"):
        frame = pd.read_csv(replay / f"{name}.csv")
        frame.assign(mode="replay").to_csv(replay / f"{name}.csv", index=False)
    analysis = analyse(load(real, replay))
    found = {a.dataset: a for a in agreements(analysis)}
    # rmse_dead has no winner in any seed: nothing to compare.
    assert sorted(found) == ["acc_set", "rmse_set"]
    same = found["acc_set"]
    assert same.kendall_tau == pytest.approx(1.0) and same.real_seeds == list(range(6)) == same.replay_seeds
    # The same records in both modes rank alike at every budget fraction the rank tests use.
    assert list(same.kendall_by_fraction) == [0.25, 0.5, 1.0]
    assert all(tau == pytest.approx(1.0) for tau, _ in same.kendall_by_fraction.values())
    assert same.table.loc["good", ["real_regret", "replay_regret"]].tolist() == [0.0, 0.0]
    assert same.real.separated_pairs == same.replay_on_real_seeds.separated_pairs
    stale = tmp_path / "out" / "figures" / "parameters_an_earlier_dataset.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    out, _, _ = built_report([real, replay], tmp_path / "out")
    assert not stale.exists()
    text = (out / "README.md").read_text()
    # The header names the command that writes this report again.
    assert f"- **Report command:** python -m benchmarks.report --in {real} --in {replay} --out {out}\n" in text
    assert (
        "## Replay against real training" in text
        and "Kendall's tau between the real mean ranks and replay's on all its seeds" in text
    )
    assert "at 25% of the budget 1.00" in text and "at 50% of the budget 1.00" in text
    # Six seeds of one dataset cannot separate three methods, so the text claims no agreement.
    assert "so whether replay reproduces them is not shown by this run" in text
    # The same records pass the check at every share of the budget, so replay answers beside the real runs.
    answer = text.split("## Run details")[0]
    assert "| acc_set | real | 100% |" in answer and "| acc_set | replay | 100% |" in answer
    assert "replay passed its check against real runs (Kendall's tau 1.00)" in answer
    assert REPLAY_MISSED not in answer and "| acc_set | replay | – |" not in answer
    # rmse_dead has no winner to check, so its replay is not used.
    assert f"| rmse_dead | replay | – | {REPLAY_UNCHECKED} |" in answer
    # A replay with no real runs beside it is not used, and says so.
    alone = analyse(load(replay))
    assert ["acc_set", "replay", "–", REPLAY_UNCHECKED, "–", "–", "–"] in answer_rows(alone, agreements(alone))
    with pytest.raises(TuningError, match=r"cell acc_set/good/seed0 \(real\) is in more than one of"):
        load(real, real)


# ---------------------------------------------------------------- whole builds


def built_report(source: Path, out: Path) -> tuple[Path, list[Path], float]:
    started = time.perf_counter()
    written = report.build(source, out)
    return out, written, time.perf_counter() - started


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    return built_report(FIXTURE, tmp_path_factory.mktemp("committed"))


@pytest.fixture(scope="module")
def separated(tmp_path_factory):
    source = separated_records(tmp_path_factory.mktemp("separated-in"))
    # Values the page must escape, in the places a user's text reaches.
    comparison = pd.read_csv(source / "comparison.csv")
    comparison.loc[0, "best_params"] = '{"optimizer": "<script>alert(1)</script>"}'
    comparison["command"] = "python -m benchmarks.compare <b>bold</b>"
    comparison.loc[1, "refit_val_score"] += 0.01  # a refit that did not reproduce its trial
    comparison.to_csv(source / "comparison.csv", index=False)
    trials = pd.read_csv(source / "trials.csv").astype({"error": object})
    trials.loc[0, ["status", "val_score", "error"]] = ["failed", np.nan, "<img src=x onerror=alert(2)>"]
    trials.to_csv(source / "trials.csv", index=False)
    return built_report(source, tmp_path_factory.mktemp("separated"))


def check_written(out: Path, written: list[Path]) -> None:
    assert written[:2] == [out / "README.md", out / "report.html"]
    text = (out / "README.md").read_text()
    for path in written[2:]:
        width, height = png_size(path)
        assert width >= 600 and height >= 300
        assert f"figures/{path.name}" in text


def test_committed_records_build_quickly_and_rank_nothing(committed):
    out, written, seconds = committed
    check_written(out, written)
    assert seconds < 30  # generous: CI machines are shared; a build takes about 5 s of CPU
    text = (out / "README.md").read_text()
    assert "**The data cannot rank the methods**: a single seed per dataset ranks nothing" in text
    assert "at least 6 seeds per dataset (11 blocks over 2 datasets) for 8 methods" in text
    # Too few blocks for a test: the diagrams join every method in one group, as the data do.
    assert "Pick" not in text and (out / "figures" / "critical_difference.png") in written
    # The legacy multi-fidelity runs never reached the full 40 epochs on California housing.
    assert "hyperband has no successful trial at full fidelity (40 epochs) in any seed" in text
    assert "python -m benchmarks.compare --methods all --fresh" in text
    assert "9 trials failed (bayes: 1, halving: 4, hyperband: 1, kt_random: 1, random: 2)" in text


def test_cheapest_is_by_search_time_and_refit_epochs_as_recorded(committed):
    out, _, _ = committed
    text = (out / "README.md").read_text()
    cells = pd.read_csv(FIXTURE / "comparison.csv")
    fashion = cells[cells.dataset == "fashion_mnist"].set_index("method")
    fastest = fashion.search_time_s.idxmin()
    seconds = fashion.search_time_s.min()
    assert f"Shortest search (search time, refit excluded, median over seeds): {fastest} ({seconds:.0f} s)" in text
    row = fashion.loc["bayes"]
    assert f"| fashion_mnist | bayes | 1 | {row.test_score:.4f} |" in text
    assert f"| {row.refit_epochs} | 0 |" in text


def test_separated_methods_are_picked_and_low_fidelity_never_counts(separated):
    out, written, seconds = separated
    check_written(out, written)
    assert seconds < 30  # generous: CI machines are shared; a build takes about 5 s of CPU
    text = (out / "README.md").read_text()
    assert "**Pick good** for these datasets and this budget: with the whole budget spent it has lower regret" in text
    assert (out / "figures" / "critical_difference.png") in written
    assert "The refit did not reproduce the winning trial's validation score in 1 of 18 searches" in text
    # hyperband's lower rungs scored best of all; had they counted, hyperband would lead.
    assert "| 100% | 12 |" in text and "good 1.00, hyperband 2.00, random 3.00" in text


def test_values_are_escaped_in_html(separated):
    out, _, _ = separated
    page = (out / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<script" not in page and "http" not in page  # no JavaScript, nothing fetched from elsewhere


def test_a_dataset_whose_every_trial_failed_is_reported(separated):
    out, _, _ = separated
    text = (out / "README.md").read_text()
    assert "**rmse_dead: no successful trial.** All 4 trials of every method failed" in text
    assert "“diverged: non-finite training loss” (4×)" in text
    # The other datasets' blocks still give a verdict.
    assert "**acc_set** (accuracy, higher is better; 6 seeds)" in text and "**Pick good**" in text


def test_missing_records_are_a_one_line_error(tmp_path, capsys):
    assert report.main(["--in", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no harness record" in err and len(err.strip().splitlines()) == 1


def test_records_of_an_older_harness_name_the_missing_column(tmp_path, capsys):
    shutil.copy(FIXTURE / "comparison.csv", tmp_path / "comparison.csv")
    pd.read_csv(FIXTURE / "trials.csv").drop(columns="fidelity").to_csv(tmp_path / "trials.csv", index=False)
    assert report.main(["--in", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "lacks column 'fidelity'" in err and len(err.splitlines()) == 1


def test_a_commit_of_digits_alone_is_read_as_written(tmp_path):
    # Read as a number, 0123456 would lose its zero and 1234e56 become a float.
    shutil.copy(FIXTURE / "trials.csv", tmp_path / "trials.csv")
    for commit in ("0123456", "1234e56"):
        pd.read_csv(FIXTURE / "comparison.csv").assign(git_commit=commit).to_csv(
            tmp_path / "comparison.csv", index=False
        )
        assert set(load(tmp_path).cells.git_commit) == {commit}


def test_cli_answers_a_bad_argument_in_one_line_without_heavy_imports():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.report", "--no-such-option"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "unrecognized arguments" in done.stderr
    probe = (
        "import sys\nfrom benchmarks.report import main\ntry:\n    main(['--no-such-option'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'matplotlib', 'scipy', 'scikit_posthocs') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)")
def test_html_renders_in_headless_chromium(separated, tmp_path):
    out, written, _ = separated
    page = (out / "report.html").read_text()
    # The report needs no JavaScript; this probe, added to a copy only, reads what the browser laid out.
    probe = (
        "<script>window.onload=()=>{const s=[...document.images].map(i=>i.naturalWidth+'x'+i.naturalHeight);"
        "document.body.setAttribute('data-images',s.join(','));}</script>"
    )
    copy = tmp_path / "probe.html"
    copy.write_text(page.replace("</body>", probe + "</body>"))
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            copy.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<h1>Which search method should I use?" in done.stdout
    sizes = done.stdout.split('data-images="')[1].split('"')[0].split(",")
    assert len(sizes) == len(written) - 2
    assert all(int(w) > 0 and int(h) > 0 for w, h in (s.split("x") for s in sizes))


# ---------------------------------------------------------------- the answer on the first screen

# A method's shift per seed: the shifts alone order the methods within a seed (see shifted_cells).
PICKED = {"good": [0.1] * 8, "fair": [0.06] * 8, "poor": [0.0] * 8}
# Regret per block: a and b take turns ahead, and both beat c in every block.
GROUP_REGRET = {"a": [0.0, 0.1] * 6, "b": [0.1, 0.0] * 6, "c": list(1.0 + 0.01 * np.arange(12))}
# 18 blocks: a beats c in every block; b leads all in half the blocks and trails all in the other half,
# so the tests tell b from no one, and nothing puts b among the best.
LONE_MEMBER = {"a": list(0.01 * np.arange(18)), "b": [2.0, -0.5] * 9, "c": list(1.0 + 0.01 * np.arange(18))}


def shifted_cells(dataset: str, shifts: dict[str, list[float]]) -> dict:
    """One dataset's cells, a seed per entry of ``shifts[method]``: in seed s every trial of a method
    scores the seed's base scores made better by ``shifts[method][s]``."""
    rng = np.random.default_rng(0)
    sign = 1.0 if dataset.startswith("acc") else -1.0
    cells = {}
    for seed in range(len(next(iter(shifts.values())))):
        base = 0.5 + 0.05 * rng.random(6)
        for method, shift in shifts.items():
            cells[dataset, method, seed] = trial_rows(dataset, method, seed, list(base + sign * shift[seed]))
    return cells


def test_each_answer_is_given_only_where_its_statistics_hold():
    noise = np.random.default_rng(1).random(12)
    blocks = {
        "pick": regret_blocks({"best": 0.01 * noise, "other": 0.5 + noise, "third": 0.4 + noise[::-1]}),
        "group": regret_blocks(GROUP_REGRET),
        "lone member": regret_blocks(LONE_MEMBER, tasks=("x", "y", "z")),
        "identical": regret_blocks({m: list(np.linspace(0, 1, 12)) for m in "abc"}),
        "too few": regret_blocks({"a": [0.0, 0.1, 0.2], "b": [1.0] * 3, "c": [2.0] * 3}, tasks=("x",), seeds=3),
        "two alike": regret_blocks({"a": list(np.linspace(0, 1, 12)), "b": list(np.linspace(1, 0, 12))}),
    }
    comparisons = {kind: compare_methods(table) for kind, table in blocks.items()}
    said = {kind: answer_text(comparison) for kind, comparison in comparisons.items()}
    assert said == {
        "pick": "Pick best",
        "group": "indistinguishable best: a, b",
        "lone member": f"{NO_DIFFERENCE} among the best: the tests show only a better than c, which singles out no "
        "best method or group",
        "identical": f"{NO_DIFFERENCE}: the Friedman test finds no difference",
        "too few": f"{NO_DIFFERENCE}: 3 seeds: too few for any test; 7 needed",
        "two alike": f"{NO_DIFFERENCE}: the Wilcoxon test does not separate the two methods",
    }
    lone = comparisons["lone member"]
    # The case the group rule exists for: the Friedman test rejects and a pair is separated, yet no group.
    assert lone.friedman_rejects and lone.better("a", "c") and lone.indistinguishable_from_best == ["b"]
    for kind, comparison in comparisons.items():
        assert said[kind].startswith("Pick") == (comparison.pick is not None), kind
        assert said[kind].startswith("indistinguishable best") == bool(comparison.best_group), kind
        assert said[kind].startswith(NO_DIFFERENCE) == (comparison.pick is None and not comparison.best_group), kind
    assert evidence_text(comparisons["pick"]).startswith("12 seeds as blocks; Friedman p = ")
    # 12 wins of 12: exact p = 2/2¹², times 3 for Holm's first step.
    assert evidence_text(comparisons["pick"]).endswith("Holm-corrected Wilcoxon p ≤ 0.00146 against each other method")
    assert evidence_text(comparisons["group"]).endswith(
        "each shown better than another method at Holm-corrected Wilcoxon p ≤ 0.00146"
    )
    assert evidence_text(comparisons["too few"]) == "3 seeds as blocks; no test run"


def test_within_the_variation_is_said_only_where_no_pair_is_separated():
    separated_pair = compare_methods(regret_blocks(GROUP_REGRET))
    assert separated_pair.separated_pairs and separated_pair.pick is None
    words = " ".join(verdict(separated_pair, n_tasks=2))
    assert "within the variation between blocks" not in words
    assert "they show it better than c" in words and "the gaps of the 1 pair the tests do not separate" in words
    identical = compare_methods(regret_blocks({m: list(np.linspace(0, 1, 12)) for m in "abc"}))
    assert not identical.separated_pairs
    assert "within the variation between blocks" in " ".join(verdict(identical, n_tasks=2))


def test_pairwise_tests_separate_nothing_where_the_friedman_test_does_not_reject():
    # c trails a by a hair in every block, among three methods of noise: the Wilcoxon test alone would
    # separate them, but over five methods the ranks differ too little for the Friedman test.
    values = np.random.default_rng(3).random((4, 12))
    noise = dict(zip("bde", values[1:], strict=True))
    comparison = compare_methods(regret_blocks({"a": values[0], "c": values[0] + 1e-3, **noise}))
    assert comparison.p_values.loc["a", "c"] < comparison.alpha and not comparison.friedman_rejects
    assert not comparison.separated("a", "c") and not comparison.separated_pairs
    assert comparison.best_group == [] and answer_text(comparison).startswith(NO_DIFFERENCE)
    assert "within the variation between blocks" in " ".join(verdict(comparison, n_tasks=2))


def test_an_answer_row_gives_the_picks_tests_cost_and_test_score(tmp_path):
    source = write_records(tmp_path, shifted_cells("acc_one", PICKED))
    analysis = analyse(load(source))
    rows = answer_rows(analysis, agreements(analysis))
    assert [row[:4] for row in rows] == [["acc_one", "real", f, "Pick good"] for f in ("25%", "50%", "100%")]
    # The same order in all 8 seeds: χ² = 16 on 2 degrees of freedom; 8 wins of 8, Holm over 3 pairs.
    assert rows[-1][4] == (
        "8 seeds as blocks; Friedman p = 0.000335; Holm-corrected Wilcoxon p ≤ 0.0234 against each other method"
    )
    # Records from before CPU seconds and host were recorded.
    assert rows[-1][5] == "wall 63 s, CPU n/a on machine not recorded"
    cells = pd.read_csv(source / "comparison.csv")
    found = re.fullmatch(r"accuracy (\S+) \((\S+)–(\S+)\)", rows[-1][6])
    median, low, high = (float(v) for v in found.groups())
    assert median == pytest.approx(cells[cells.method == "good"].test_score.median(), abs=5e-5)
    assert low < median < high
    cells.assign(cpu_time_s=40.0, machine_cpu_model="AMD EPYC", host="node1").to_csv(
        source / "comparison.csv", index=False
    )
    assert answer_rows(analyse(load(source)), [])[-1][5] == "wall 63 s, CPU 40 s on AMD EPYC (host node1)"


def test_datasets_are_pooled_only_where_their_tests_agree(tmp_path):
    flipped = {"good": PICKED["poor"][:6], "poor": PICKED["good"][:6]}
    agreeing = {"good": PICKED["good"][:6], "poor": PICKED["poor"][:6]}
    source = write_records(tmp_path / "a", {**shifted_cells("acc_one", agreeing), **shifted_cells("acc_two", flipped)})
    analysis = analyse(load(source))
    assert [answer_rows(analysis, [])[i][3] for i in (2, 5)] == ["Pick good", "Pick poor"]
    said = " ".join(pooled_verdict(analysis, "real"))
    assert said.startswith("**Not pooled: the datasets disagree** (good better than poor on acc_one but worse on")
    assert "Pick" not in said
    source = write_records(tmp_path / "b", {**shifted_cells("acc_one", agreeing), **shifted_cells("acc_two", agreeing)})
    assert pooled_verdict(analyse(load(source)), "real")[0].startswith("**Pick good** for these datasets")


def test_quality_targets_are_judged_in_the_metrics_direction_and_never_rounded(tmp_path):
    source = write_records(
        tmp_path, {**shifted_cells("acc_one", PICKED), **shifted_cells("california_housing", PICKED)}
    )
    cells = pd.read_csv(source / "comparison.csv")
    best = cells.groupby(["dataset", "method"]).test_score.median()
    accuracy, rmse = float(best["acc_one"].max()), float(best["california_housing"].min())

    def lines(targets: dict[str, float]) -> list[str]:
        cells.assign(quality_target=cells.dataset.map(targets)).to_csv(source / "comparison.csv", index=False)
        return target_lines(analyse(load(source)))

    assert lines({"acc_one": 0.5, "california_housing": 0.45}) == [
        f"**acc_one** (test): target ≥ 0.500 test accuracy: met (best method's median test score: good {accuracy:.4f})",
        f"**california_housing** (test): target ≤ 0.450 test RMSE ($100k): met (best method's median test score: "
        f"good {rmse:.4f})",
    ]
    missed = lines({"acc_one": 0.8875, "california_housing": rmse - 0.01})
    assert missed[0].startswith("**acc_one** (test): target ≥ 0.8875 test accuracy: not met")
    assert f"target ≤ {rmse - 0.01!r} test RMSE ($100k): not met" in missed[1]
    assert (
        lines({"acc_one": np.nan, "california_housing": np.nan})[0] == "**acc_one** (test): the profile sets no target"
    )
    cells.to_csv(source / "comparison.csv", index=False)  # no quality_target column: an older harness
    assert target_lines(analyse(load(source))) == [
        "**acc_one** (test): no target recorded",
        "**california_housing** (test): no target recorded",
    ]


def test_the_first_screen_holds_the_answer_and_the_cost_quality_figure(committed):
    out, written, _ = committed
    lines = (out / "README.md").read_text().splitlines()
    first = "\n".join(lines[:40])
    assert lines[2] == "## The answer" and lines.index("## Run details") > 2
    assert "| dataset | mode | budget | answer | evidence |" in first
    assert "](figures/cost_quality.png)" in first and (out / "figures" / "cost_quality.png") in written
    assert "**How to read it**: regret is 0 for the best validation score" in first
    assert (
        "| california_housing | real | 100% | no difference shown: 1 seed: too few for any test; 11 needed "
        "| 1 seed as blocks; no test run | – | – |"
    ) in first
    # The committed records predate the quality_target column.
    assert "- **fashion_mnist** (standard): no target recorded" in first
    # RMSE on California housing is in units of $100,000.
    assert "**california_housing** (RMSE ($100k), lower is better; 1 seed)" in "\n".join(lines)


def test_target_means_only_the_quality_target(separated):
    out, _, _ = separated
    text = (out / "README.md").read_text()
    assert "## Budget to reach the reference score, random's median final validation score" in text
    assert "| dataset | method | reference score |" in text
    assert [line for line in text.splitlines() if "target" in line] == [
        f"- **{d}** (test): no target recorded" for d in ("acc_set", "rmse_dead", "rmse_set")
    ]


def test_split_half_tau_is_how_well_one_half_of_the_seeds_ranks_the_methods_as_the_other_half():
    same = pd.DataFrame([[0.0, 0.5, 1.0]] * 6, columns=list("abc"))
    assert split_half_tau(same) == pytest.approx(1.0)
    # Two seeds that rank the methods in opposite orders: each half predicts the other backwards.
    assert split_half_tau(pd.DataFrame([[0.0, 0.5, 1.0], [1.0, 0.5, 0.0]], columns=list("abc"))) == pytest.approx(-1.0)
    assert math.isnan(split_half_tau(same.iloc[:1]))
    # Every split counts once: with 5 blocks the 10 ways to choose 2 against the other 3; with 4, the 3 ways
    # to pair blocks (a half and its complement are one split), so 3 splits are enough to enumerate them.
    five = pd.DataFrame(np.random.default_rng(2).random((5, 4)), columns=list("abcd"))
    by_hand = []
    for chosen in combinations(range(5), 2):
        rest = [i for i in range(5) if i not in chosen]
        ranks = five.rank(axis=1)
        by_hand.append(stats.kendalltau(ranks.iloc[list(chosen)].mean(), ranks.iloc[rest].mean()).statistic)
    assert split_half_tau(five, max_splits=10) == pytest.approx(np.mean(by_hand))
    assert split_half_tau(five.iloc[:4], max_splits=3) == split_half_tau(five.iloc[:4], max_splits=6)
    # Beyond max_splits the halves are drawn at random, reproducibly.
    noisy = pd.DataFrame(np.random.default_rng(0).random((15, 4)), columns=list("abcd"))
    assert split_half_tau(noisy, max_splits=50) == split_half_tau(noisy, max_splits=50)
    assert -1.0 <= split_half_tau(noisy, max_splits=50) <= 1.0


def replay_beside_real(tmp_path, replay_shifts, *, test_shift=0.0):
    """Eight real seeds in which the tests separate good from the others, and a replay of them."""
    real = separated_records(tmp_path / "real", seeds=8)
    replay = separated_records(tmp_path / "replay", seeds=8, shifts=replay_shifts)
    for name in ("comparison", "trials"):
        frame = pd.read_csv(replay / f"{name}.csv").assign(mode="replay")
        if name == "comparison":
            frame["test_score"] += test_shift
        frame.to_csv(replay / f"{name}.csv", index=False)
    analysis = analyse(load(real, replay))
    return analysis, {a.dataset: a for a in agreements(analysis)}


def test_the_check_lets_a_replay_answer_only_where_it_reproduces_the_real_runs(tmp_path):
    analysis, found = replay_beside_real(tmp_path, {"good": 0.1, "random": 0.0, "hyperband": 0.06})
    check = found["acc_set"].checks[1.0]
    assert check.passed and check.tau == pytest.approx(1.0) and check.split_half_tau == pytest.approx(1.0)
    assert check.reversed_pairs == [] and check.outside_interval == [] and not check.pairs_untested
    assert found["acc_set"].checks[0.25].outside_interval == []
    assert found["acc_set"].real.separated_pairs, "eight seeds must separate good from the others"
    rows = [row for row in answer_rows(analysis, list(found.values())) if row[:2] == ["acc_set", "replay"]]
    assert [row[2] for row in rows] == ["25%", "50%", "100%"]
    assert rows[-1][3] == "Pick good" and "replay passed its check" in rows[-1][4]
    assert "simulated wall" in rows[-1][5]


def test_a_replay_that_reverses_a_separated_pair_does_not_answer(tmp_path):
    # Replay puts random above good, which every real seed puts below it.
    analysis, found = replay_beside_real(tmp_path, {"good": 0.0, "random": 0.1, "hyperband": 0.06})
    check = found["acc_set"].checks[1.0]
    assert not check.passed and ("good", "random") in check.reversed_pairs
    failures = "; ".join(check.failures)
    assert "reversed: good over hyperband, good over random, hyperband over random" in failures
    assert "Kendall's tau -1.00 below the real runs' split-half tau 1.00 less 0.1" in failures
    rows = [row for row in answer_rows(analysis, list(found.values())) if row[:3] == ["acc_set", "replay", "100%"]]
    assert rows == [["acc_set", "replay", "100%", REPLAY_MISSED, check_text(check), "–", "–"]]
    assert "Pick" not in " ".join(rows[0])


def test_a_replay_whose_test_scores_miss_the_real_interval_does_not_answer(tmp_path):
    # The same ranks, but every replayed search scores 0.2 better on the test set than real training did.
    analysis, found = replay_beside_real(tmp_path, {"good": 0.1, "random": 0.0, "hyperband": 0.06}, test_shift=0.2)
    check = found["acc_set"].checks[1.0]
    assert check.tau == pytest.approx(1.0) and not check.reversed_pairs
    assert sorted(check.outside_interval) == ["good", "hyperband", "random"]
    assert check.failures == ["3 median test scores outside the real 95% interval (good, hyperband, random)"]
    # The test scores are whole searches', shown in every row: they are held at every share of the budget.
    assert found["acc_set"].checks[0.5].outside_interval == check.outside_interval
    # The section shows each method's two medians and the real interval, so the miss's size and direction read off it.
    shown = found["acc_set"].table
    assert (shown.replay_test_score - shown.real_test_score).to_numpy() == pytest.approx([0.2] * 3)
    assert (shown.real_test_low <= shown.real_test_score).all() and (
        shown.real_test_score <= shown.real_test_high
    ).all()
    methods = next(
        block for block in describe(found["acc_set"]) if isinstance(block, Table) and "method" in block.header
    )
    good = shown.loc["good"]
    interval = f"{good.real_test_score:.4f} ({good.real_test_low:.4f}–{good.real_test_high:.4f})"
    assert [interval, f"{good.replay_test_score:.4f}"] in [row[-2:] for row in methods.rows if row[0] == "good"]
    by_budget = {
        row[2]: row[3] for row in answer_rows(analysis, list(found.values())) if row[:2] == ["acc_set", "replay"]
    }
    assert set(by_budget.values()) == {REPLAY_MISSED}


def test_a_replay_that_misses_its_check_adds_nothing_to_the_pooled_verdict_or_rank_tests(tmp_path):
    analysis, found = replay_beside_real(tmp_path, {"good": 0.0, "random": 0.1, "hyperband": 0.06})
    assert not any(check.passed for agreement in found.values() for check in agreement.checks.values())
    missed = "replay missed its check against real runs on acc_set, rmse_set: not used"
    assert withheld(analysis, list(found.values())) == dict.fromkeys((0.25, 0.5, 1.0), missed)
    out, _, _ = built_report([tmp_path / "real", tmp_path / "replay"], tmp_path / "out")
    text = (out / "README.md").read_text()
    assert f"- **replay runs**: {missed}\n" in text
    verdict_section = text.split("## Verdict, datasets pooled")[1].split("\n## ")[0]
    assert "**real runs**: **Pick good**" in verdict_section
    assert "Pick random" not in verdict_section and "**replay runs**: **" not in verdict_section
    for fraction in ("25%", "50%", "100%"):
        assert f"| replay | {fraction} | 16 | {missed} | – | – | – |" in text


def test_five_real_seeds_check_no_pair_for_reversal_and_say_so(tmp_path):
    real = separated_records(tmp_path / "real", seeds=5)
    replay = separated_records(tmp_path / "replay", seeds=5)
    for name in ("comparison", "trials"):
        pd.read_csv(replay / f"{name}.csv").assign(mode="replay").to_csv(replay / f"{name}.csv", index=False)
    agreement = next(a for a in agreements(analyse(load(real, replay))) if a.dataset == "acc_set")
    check = agreement.checks[1.0]
    # Three methods need 7 blocks before Holm-corrected Wilcoxon can separate a pair.
    assert check.pairs_untested.startswith("5 blocks cannot reach p < 0.05") and check.reversed_pairs == []
    assert check.passed and check_text(check) == (
        "yes (no pair could be checked for reversal: the real tests could not run)"
    )
    checks = next(block for block in describe(agreement) if isinstance(block, Table) and "budget" in block.header)
    assert checks.rows[-1][3] == f"not checked: {check.pairs_untested}"


def test_a_replay_is_not_held_to_real_runs_of_another_budget(tmp_path):
    real = separated_records(tmp_path / "real")
    replay = separated_records(tmp_path / "replay")
    for name in ("comparison", "trials"):
        frame = pd.read_csv(replay / f"{name}.csv").assign(mode="replay")
        if name == "comparison":
            frame["budget_epochs"] = 120
        frame.to_csv(replay / f"{name}.csv", index=False)
    with pytest.raises(
        TuningError, match=r"acc_set: the real runs' budget_epochs \[30\] differ from the replay's \[120\]"
    ):
        agreements(analyse(load(real, replay)))


def test_the_real_interval_reads_only_the_seeds_the_check_compares(tmp_path):
    # Seeds 8-15 of the real runs hold good alone, 0.2 better on the test set: no block, so no part of the check.
    real = separated_records(tmp_path / "real", seeds=16)
    for name in ("comparison", "trials"):
        frame = pd.read_csv(real / f"{name}.csv")
        frame = frame[(frame.seed < 8) | (frame.method == "good")]
        if name == "comparison":
            frame.loc[frame.seed >= 8, "test_score"] += 0.2
        frame.to_csv(real / f"{name}.csv", index=False)
    replay = separated_records(tmp_path / "replay", seeds=8)
    for name in ("comparison", "trials"):
        pd.read_csv(replay / f"{name}.csv").assign(mode="replay").to_csv(replay / f"{name}.csv", index=False)
    found = {a.dataset: a for a in agreements(analyse(load(real, replay)))}
    assert found["acc_set"].real_seeds == list(range(8))
    assert found["acc_set"].checks[1.0].outside_interval == []


def test_every_report_links_the_others_under_the_same_reports_directory(tmp_path):
    root = tmp_path / "reports"
    for name in ("README.md", "perf.md", "replay/README.md", "replay/budget_4x/README.md", "study/ofat/README.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("#\n")
    links = other_reports(root / "replay" / "README.md").text
    assert links == (
        "**Other reports**: [reports](../README.md), [reports/perf.md](../perf.md), "
        "[reports/replay/budget_4x](budget_4x/README.md), [reports/study/ofat](../study/ofat/README.md)."
    )
    # A report outside a reports/ directory (a user's --out elsewhere) links nothing.
    assert other_reports(tmp_path / "elsewhere" / "README.md") is None
    # In the HTML page a relative link is a link; anything else stays text.
    page = write_html(
        Document("t", [], [Section("s", [Paragraph(links + " [x](javascript:alert)")])]), tmp_path / "p.html"
    )
    text = page.read_text()
    assert '<a href="../perf.md">reports/perf.md</a>' in text and 'href="javascript' not in text
