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
    "proposal_time_s",
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


def test_resume_after_kill_reruns_only_the_cell_in_flight(smoke_run, tmp_path):
    args = [
        "--profile",
        "smoke",
        "--datasets",
        "california_housing",
        "--methods",
        "grid,hyperband",
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
    assert len(finished) == 1

    rerun = compare(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.stderr.count("finished earlier, skipped") == len(finished)
    rows = pd.read_csv(comparison)
    assert len(rows) == 2
    # The cells finished before the kill are untouched.
    before = finished.set_index("method")
    for method in before.index:
        assert rows.set_index("method").loc[method, "finished_at"] == before.loc[method, "finished_at"]
    # The cell in flight was rerun from scratch: its trials appear exactly once.
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert not trials.duplicated(["method", "trial"]).any()
    assert (trials.groupby("method").size() == rows.set_index("method").n_evaluations).all()
    # The store is intact, and the results equal an uninterrupted run with the same seed, in
    # another process: the same winners with the same scores.
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    uninterrupted = pd.read_csv(smoke_run[0] / "comparison.csv").set_index(["dataset", "method", "seed"])
    for key, row in rows.set_index(["dataset", "method", "seed"]).iterrows():
        assert row.best_params == uninterrupted.loc[key, "best_params"]
        for column in ("val_score", "test_score"):
            assert row[column] == pytest.approx(uninterrupted.loc[key, column], rel=1e-6)


def test_every_trial_of_every_method_is_tracked_and_fresh_keeps_tracking(tmp_path):
    tensorboard = tmp_path / "tb"
    done = compare(
        "--profile", "smoke", "--datasets", "california_housing", "--methods", "grid,kt_random", "--out",
        str(tmp_path), "--tensorboard", str(tensorboard), "--mlflow",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    trials = pd.read_csv(tmp_path / "trials.csv")
    logged = sorted(str(p.relative_to(tensorboard)) for p in tensorboard.glob("*/*/*/trial-*"))
    expected = sorted(f"{r.dataset}/{r.method}/seed{r.seed}/trial-{r.trial:04d}" for r in trials.itertuples())
    assert logged == expected and len(expected) >= 6

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    events = EventAccumulator(str(tensorboard / expected[0]))
    events.Reload()
    session = metadata.parse_session_start_info_plugin_data(
        events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    )
    params = json.loads(trials.iloc[0]["params"])
    assert {"method", "dataset", "seed", *params} <= set(session.hparams)
    assert events.Tensors("val_rmse")

    mlflow = pytest.importorskip("mlflow", reason="the optional 'mlflow' extra is not installed")
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("benchmarks.compare")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert sorted(r.info.run_name for r in runs) == expected
    assert {r.data.params["method"] for r in runs} == {"grid", "kt_random"}

    # --fresh used to delete the store MLflow had just opened: every trial then failed to log.
    again = compare(
        "--profile", "smoke", "--datasets", "california_housing", "--methods", "grid", "--out", str(tmp_path),
        "--mlflow", "--fresh",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert set(trials.method) == {"grid"} and (trials.status == "ok").all()
    # Read the new file directly: MLflow keeps this process's connection to the deleted one.
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        names = [name for (name,) in db.execute("SELECT name FROM runs")]
    assert sorted(names) == sorted(f"california_housing/grid/seed0/trial-{t:04d}" for t in trials.trial)


def test_the_method_names_known_without_importing_are_the_methods_own():
    from tuning.methods import DEFAULT_METHODS, METHOD_NAMES, METHODS

    assert list(METHODS) == list(METHOD_NAMES) and set(DEFAULT_METHODS) <= set(METHOD_NAMES)
    assert all(method.name == name for name, method in METHODS.items())
