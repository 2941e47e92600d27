"""The harness through its real command line, on the smoke profile's slices of the real data."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.compare import main

REPO = Path(__file__).resolve().parents[1]
COMPARISON_COLUMNS = {
    "dataset",
    "method",
    "seed",
    "metric",
    "val_score",
    "test_score",
    "best_params",
    "wall_time_s",
    "search_time_s",
    "refit_time_s",
    "n_evaluations",
    "epochs_trained",
    "n_failed_trials",
    "peak_rss_mb",
    "python",
    "tensorflow",
    "keras",
    "keras-tuner",
    "scikit-learn",
    "scikit-optimize",
    "scikeras",
    "benchmark_version",
    "budget_epochs",
    "budget_note",
    "test_evaluations",
    "command",
    "profile",
}
TRIAL_COLUMNS = {
    "dataset",
    "method",
    "seed",
    "trial",
    "status",
    "val_score",
    "epochs",
    "started_at",
    "finished_at",
    "elapsed_s",
    "error",
    "params",
}


def compare(*args: str, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    command = [sys.executable, "-m", "benchmarks.compare", *args]
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    if popen:
        return subprocess.Popen(command, cwd=REPO, env=env, text=True, **popen)
    return subprocess.run(command, cwd=REPO, env=env, text=True, capture_output=True, timeout=900)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    done = compare("--profile", "smoke", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def test_smoke_profile_end_to_end(smoke_run):
    out, done = smoke_run
    rows = pd.read_csv(out / "comparison.csv")
    assert set(rows.columns) >= COMPARISON_COLUMNS
    assert len(rows) == 8 and set(rows.method) == {"grid", "random", "bayes", "hyperband"}
    assert set(rows.dataset) == {"fashion_mnist", "california_housing"}
    assert (rows.test_evaluations == 1).all() and rows.test_score.notna().all()
    assert rows.loc[rows.dataset == "fashion_mnist", "metric"].eq("accuracy").all()
    assert rows.loc[rows.dataset == "california_housing", "metric"].eq("rmse").all()
    # Budget: within 10% of it, or the row says why.
    within = (rows.epochs_trained - rows.budget_epochs).abs() <= 0.1 * rows.budget_epochs
    assert (within | rows.budget_note.fillna("").ne("")).all()
    assert all(isinstance(json.loads(p), dict) and json.loads(p) for p in rows.best_params)
    assert (rows.command == "python -m benchmarks.compare --profile smoke --out " + str(out)).all()

    trials = pd.read_csv(out / "trials.csv")
    assert set(trials.columns) >= TRIAL_COLUMNS
    per_cell = trials.groupby(["dataset", "method", "seed"])
    assert (per_cell.size().values == rows.sort_values(["dataset", "method", "seed"]).n_evaluations.values).all()
    assert (per_cell.epochs.sum().values == rows.sort_values(["dataset", "method", "seed"]).epochs_trained.values).all()

    # The summary table and the paths written.
    assert "test_median" in done.stdout and f"wrote {out / 'comparison.csv'}" in done.stdout


def test_same_seed_same_scores(smoke_run, tmp_path):
    out, _ = smoke_run
    again = compare(
        "--profile", "smoke", "--datasets", "california_housing", "--methods", "bayes,hyperband", "--out", str(tmp_path)
    )
    assert again.returncode == 0, again.stderr[-3000:]
    first = pd.read_csv(out / "comparison.csv").set_index(["dataset", "method", "seed"])
    second = pd.read_csv(tmp_path / "comparison.csv").set_index(["dataset", "method", "seed"])
    for key in second.index:
        assert second.loc[key, "best_params"] == first.loc[key, "best_params"]
        assert second.loc[key, "val_score"] == pytest.approx(first.loc[key, "val_score"], rel=1e-6)
        assert second.loc[key, "test_score"] == pytest.approx(first.loc[key, "test_score"], rel=1e-6)


def test_resume_after_kill_reruns_only_the_cell_in_flight(smoke_run, tmp_path):
    args = [
        "--profile",
        "smoke",
        "--datasets",
        "california_housing",
        "--methods",
        "grid,random,bayes",
        "--out",
        str(tmp_path),
    ]
    process = compare(*args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    comparison = tmp_path / "comparison.csv"
    deadline = time.time() + 300
    while not comparison.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)  # into the second cell
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = pd.read_csv(comparison)
    assert 1 <= len(finished) < 3

    rerun = compare(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.stderr.count("finished earlier, skipped") == len(finished)
    rows = pd.read_csv(comparison)
    assert len(rows) == 3
    # The cells finished before the kill are untouched.
    before = finished.set_index("method")
    for method in before.index:
        assert rows.set_index("method").loc[method, "finished_at"] == before.loc[method, "finished_at"]
    # The cell in flight was rerun from scratch: its trials appear exactly once.
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert not trials.duplicated(["method", "trial"]).any()
    assert (trials.groupby("method").size() == rows.set_index("method").n_evaluations).all()
    # The store is intact, and the results equal an uninterrupted run with the same seed.
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    uninterrupted = pd.read_csv(smoke_run[0] / "comparison.csv").set_index(["dataset", "method", "seed"])
    for key, row in rows.set_index(["dataset", "method", "seed"]).iterrows():
        assert row.best_params == uninterrupted.loc[key, "best_params"]
        assert row.test_score == pytest.approx(uninterrupted.loc[key, "test_score"], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--datasets", "mnist"], "unknown dataset 'mnist'"),
        (["--methods", "grid,annealing"], "unknown method 'grid,annealing'"),
        (["--profile", "huge"], "invalid choice: 'huge'"),
        (["--budget", "0"], "expected a positive integer, got '0'"),
        (["--budget", "-5"], "expected a positive integer, got '-5'"),
        (["--seeds", "0"], "expected a positive integer, got '0'"),
        (["--jobs", "0"], "expected a positive integer, got '0'"),
        (["--cv", "1"], "expected 'holdout' or a number of folds >= 2, got '1'"),
        (["--budget", "1"], "cannot pay for one trial"),
        (["--methods", "hyperband", "--cv", "3"], "holdout split only"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("results")
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(main(["--profile", "smoke", *args, "--out", str(out)]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_unusable_output_paths(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["--profile", "smoke", "--out", str(a_file)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert a_file.read_text() == "x"
    # /proc refuses new files even to root, so this case holds in CI too.
    assert main(["--profile", "smoke", "--out", "/proc/tuning-results"]) == 2
    assert "'/proc/tuning-results' is not writable" in capsys.readouterr().err


def test_corrupt_data_file_is_exit_2_and_changes_nothing(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data" / "california_housing"
    data.mkdir(parents=True)
    (data / "cal_housing.data").write_text("-122.23,37.88,41,880,129,322,126,8.3252,452600\n")
    monkeypatch.setenv("TUNING_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "out"
    assert main(["--profile", "smoke", "--datasets", "california_housing", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch for" in err and "cal_housing.data" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_malformed_store_is_exit_2_and_left_alone(tmp_path, capsys):
    (tmp_path / "results.sqlite").write_bytes(b"not a database at all" * 100)
    assert (
        main(["--profile", "smoke", "--datasets", "california_housing", "--methods", "grid", "--out", str(tmp_path)])
        == 2
    )
    assert "is not a valid store" in capsys.readouterr().err
    assert (tmp_path / "results.sqlite").read_bytes() == b"not a database at all" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]
