"""The report: its statistics on small tables with a known answer, and whole builds on real and made-up records."""

import json
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmarks import report
from benchmarks.report.agreement import Agreement, agreements
from benchmarks.report.analysis import analyse
from benchmarks.report.document import header
from benchmarks.report.findings import verdict
from benchmarks.report.records import CELL, load
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


def separated_records(directory: Path) -> Path:
    """Two datasets × 6 seeds, in which ``good`` beats ``random`` and ``hyperband`` in every block.

    hyperband's low-fidelity trials score better than anything, but must never count. A third
    dataset, ``rmse_dead``, has only failed trials.
    """
    rng = np.random.default_rng(0)
    cells = {}
    for dataset, sign in (("acc_set", 1.0), ("rmse_set", -1.0)):
        for seed in range(6):
            base = 0.5 + 0.05 * rng.random(6)
            for method, shift in (("good", 0.1), ("random", 0.0), ("hyperband", 0.06)):
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
    target = 0.8
    rows = []
    for method, scores in (
        ("grid", [0.7, target, 0.75]),  # the reference: reaches its own final at 2/3 of the budget
        ("noise", [target * (1 - 1e-9), 0.1, 0.1]),  # float noise below the target: reached at once
        ("short", [target - 1e-3, 0.1, 0.1]),  # a real miss
    ):
        rows += [{**r, "task": "acc"} for r in trial_rows("acc", method, 0, scores, epochs=10)]
    trials = table(rows).assign(full_fidelity=True)
    cells = trials.drop_duplicates(CELL)[[*CELL, "greater_is_better"]]
    reached = budget_to_reach(incumbents(trials, "budget_fraction"), cells, reference_method="grid").set_index("method")
    assert reached.loc["grid", "median_fraction"] == pytest.approx(2 / 3)
    assert reached.loc["noise", "median_fraction"] == pytest.approx(1 / 3)
    assert reached.loc["short", "median_fraction"] == np.inf and reached.loc["short", "seeds_reached"] == 0
    assert (reached.target == target).all()


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
    assert fields["Run time"] == "acc_set: 1 min 0 s, 1080 s in cells; rmse_dead, rmse_set: 5 min 0 s, 6000 s in cells"
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
    assert Agreement.separated_pairs(same.real) == Agreement.separated_pairs(same.replay_on_real_seeds)
    stale = tmp_path / "out" / "figures" / "parameters_an_earlier_dataset.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"")
    out, _, _ = built_report([real, replay], tmp_path / "out")
    assert not stale.exists()
    text = (out / "README.md").read_text()
    # The header names the command that writes this report again.
    assert f"- **Report command:** python -m benchmarks.report --in {real} --in {replay} --out {out}\n" in text
    assert "## Replay against real training" in text and "Kendall's tau between the two modes' mean ranks" in text
    assert "at 25% of the budget 1.00" in text and "at 50% of the budget 1.00" in text
    # Six seeds of one dataset cannot separate three methods, so the text claims no agreement.
    assert "so whether replay reproduces them is not shown by this run" in text
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
