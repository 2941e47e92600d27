"""Dask on the loopback: trials through joblib's Dask backend, and the engine's jobs (comparison cells) on a cluster."""

import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import joblib
import pandas as pd
import pytest

import tuning.execution
from benchmarks.common.engine import Engine, Job
from benchmarks.compare import main
from tuning.errors import TuningError
from tuning.execution import SINGLE_THREAD_ENV, Execution, connect, single_thread_settings
from tuning.methods import Budget, SearchProblem, get_method, tuner_workers
from tuning.space import Categorical, Float, Space

distributed = pytest.importorskip("distributed", reason="the optional 'dask' extra is not installed")

SPACE = Space([Float("learning_rate", 1e-3, 3e-2, log=True), Categorical("units_1", (8, 16))])
FIXED = {"n_layers": 1, "batch_size": 256}


@pytest.fixture(scope="module")
def problem(california_split):
    s = california_split
    scale = {"input_mean": s.x_train.mean(0), "input_scale": s.x_train.std(0)}
    return SearchProblem.from_split(s, metric="rmse", fixed={**FIXED, **scale})


def test_grid_search_runs_on_two_dask_workers(problem):
    budget = Budget(12, 2)  # a 3 x 2 grid of 2-epoch trials
    local = get_method("grid").search(problem, SPACE, budget, seed=3)
    assert all(t.ok for t in local.trials), [t.error for t in local.trials]
    with Execution(jobs=2, cluster="local") as execution:
        assert execution.n_jobs == 2
        remote = get_method("grid").search(problem, SPACE, budget, seed=3, execution=execution)
    pids = {t.worker_pid for t in remote.trials}
    assert len(pids) > 1 and os.getpid() not in pids
    assert [t.params for t in remote.trials] == [t.params for t in local.trials]
    assert [t.epochs for t in remote.trials] == [t.epochs for t in local.trials]
    assert all(t.ok for t in remote.trials) and remote.n_evaluations == local.n_evaluations


def test_unreachable_scheduler_fails_fast_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tuning.execution, "CONNECT_TIMEOUT_S", 2.0)
    started = time.monotonic()
    unreachable = r"cannot reach the Dask scheduler 'tcp://127\.0\.0\.1:9' within 2 s"
    with pytest.raises(TuningError, match=unreachable), Execution(cluster="tcp://127.0.0.1:9"):
        pass
    assert time.monotonic() - started < 30
    code = main(["--profile", "smoke", "--methods", "grid", "--cluster", "tcp://127.0.0.1:9", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_keras_tuner_chief_and_workers_complete_a_hyperband(problem):
    budget = Budget(8, 2)
    local = get_method("hyperband").search(problem, SPACE, budget, seed=1)
    seen = []
    execution = Execution(cluster="local")
    assert execution.tuner_workers == 2
    remote = get_method("hyperband").search(problem, SPACE, budget, seed=1, execution=execution, on_trial=seen.append)
    assert remote.n_evaluations == local.n_evaluations and remote.epochs_trained == local.epochs_trained
    assert [t.number for t in remote.trials] == list(range(remote.n_evaluations)) and list(remote.trials) == seen
    assert {t.worker_pid for t in remote.trials} - {os.getpid()} and all(t.ok for t in remote.trials)


@pytest.mark.parametrize("victim", ["chief", "tuner0"])
def test_a_killed_keras_tuner_process_ends_the_search_at_once_naming_it(problem, monkeypatch, victim):
    started: dict[str, subprocess.Popen] = {}

    def start_and_kill_victim(job_dir: Path, tuner_id: str, port: int) -> subprocess.Popen:
        process = started[tuner_id] = start(job_dir, tuner_id, port)
        if tuner_id == victim:
            threading.Timer(1.0, process.kill).start()
        return process

    start = tuner_workers._start
    monkeypatch.setattr(tuner_workers, "_start", start_and_kill_victim)
    try:
        # A dead chief used to leave its workers waiting for it for up to an hour.
        search = get_method("hyperband").search
        out = _in_thread(lambda: search(problem, SPACE, Budget(8, 2), execution=Execution(cluster="local")), 60)
    finally:
        for process in started.values():
            process.kill()
            process.wait(timeout=30)
    error = str(out.get("error"))
    assert isinstance(out.get("error"), RuntimeError), out
    assert error.startswith(f"Keras Tuner {victim} was killed by SIGKILL; its log") and "\n" not in error, error


def _unpicklable_on_trial(seen: list) -> Callable[[object], None]:
    # Like the harness's callback, which writes each trial to SQLite: it cannot be pickled.
    connection = sqlite3.connect(":memory:")

    def on_trial(trial: object) -> None:
        connection.execute("select 1")
        seen.append(trial)

    return on_trial


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scheduler_address(cluster_processes):
    return cluster_processes[0]


@pytest.fixture
def cluster_processes(tmp_path):
    """A scheduler and two single-threaded worker processes, started as on a real cluster: the
    scheduler's address, and the scheduler's process."""
    port = str(_free_port())
    address = f"tcp://127.0.0.1:{port}"
    # The workers must import this checkout's tuning, as the test process does.
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, **SINGLE_THREAD_ENV, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    commands = [
        ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port, "--dashboard-address", ":0"],
        ["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "2", "--no-dashboard"],
    ]
    processes = []
    try:
        for i, command in enumerate(commands):
            with open(tmp_path / f"dask-{i}.log", "w") as log:
                # A session each, so that killing its group also ends the worker processes.
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", *command],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, processes[0]
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_grid_search_on_a_separately_started_scheduler(problem, scheduler_address):
    budget = Budget(12, 2)  # a 3 x 2 grid of 2-epoch trials
    seen: list = []
    with Execution(cluster=scheduler_address) as execution:
        assert execution.n_jobs == 2
        result = get_method("grid").search(
            problem, SPACE, budget, seed=3, execution=execution, on_trial=_unpicklable_on_trial(seen)
        )
    pids = {t.worker_pid for t in result.trials}
    assert len(pids) > 1 and os.getpid() not in pids
    assert result.n_evaluations == 6 and list(result.trials) == seen and all(t.ok for t in result.trials)


def _in_thread(search: Callable[[], object], timeout_s: float) -> dict[str, object]:
    # A search that hangs fails the test instead of the test run.
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["result"] = search()
        except Exception as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), f"the search did not finish within {timeout_s} s"
    return out


def test_killing_a_worker_mid_search_still_finishes_the_search(problem):
    budget = Budget(24, 4)  # 6 random trials, in batches of 2
    killed: list[int] = []
    with Execution(jobs=2, cluster="local") as execution:
        workers = sorted(distributed.get_client().run(os.getpid).values())

        def on_trial(trial: object) -> None:
            # After the first batch: the next one is sent while the scheduler still lists the
            # dead worker, the race that left joblib waiting forever.
            if not killed:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])

        out = _in_thread(
            lambda: get_method("random").search(problem, SPACE, budget, seed=3, execution=execution, on_trial=on_trial),
            90,
        )
    assert killed and "error" not in out, out
    result = out["result"]
    assert result.n_evaluations == 6 and all(t.ok for t in result.trials)
    # The trials after the kill ran on the cluster, not in this process.
    assert os.getpid() not in {t.worker_pid for t in result.trials}


def test_a_task_that_kills_its_workers_fails_the_search_instead_of_hanging():
    import dask

    # One death makes the task a KilledWorker, which joblib's own backend never reported.
    def kill_both_workers() -> object:
        # joblib's backend is per thread: the thread that runs the tasks enters it.
        with execution.joblib_context():
            return joblib.Parallel(n_jobs=2)(joblib.delayed(os._exit)(1) for _ in range(2))

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        Execution(jobs=2, cluster="local") as execution,
    ):
        out = _in_thread(kill_both_workers, 60)
    assert type(out.get("error")).__name__ == "KilledWorker", out


# ---------------------------------------------------------------- cells on a Dask cluster (the engine's jobs)

COMPARED = ["dataset", "method", "seed", "trial", "params", "val_score", "epochs", "fidelity", "status"]


def test_cells_on_a_local_cluster_give_the_rows_of_a_one_process_run(tmp_path):
    """Every method family on the cluster: scikit-learn, Keras Tuner and Optuna; one thread per process either way,
    and a compilation cache of their own, so that no program compiled under other settings is loaded."""
    env = {**os.environ, **single_thread_settings(os.environ), "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache")}
    common = ["--profile", "smoke", "--datasets", "california_housing", "--methods", "random,kt_random,optuna_tpe"]
    for cells in (1, 2):
        command = [sys.executable, "-m", "benchmarks.compare", *common, "--cells", str(cells)]
        done = subprocess.run(
            [*command, "--out", str(tmp_path / str(cells))], env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, done.stderr[-2000:]
    trials = [pd.read_csv(tmp_path / str(c) / "trials.csv").sort_values(COMPARED[:4]) for c in (1, 2)]
    pd.testing.assert_frame_equal(
        trials[0][COMPARED].reset_index(drop=True), trials[1][COMPARED].reset_index(drop=True)
    )
    cells = [pd.read_csv(tmp_path / str(c) / "comparison.csv") for c in (1, 2)]
    assert set(cells[0].jobs_on_host) == {1} and set(cells[1].jobs_on_host) == {2}
    assert (cells[1].cpu_time_s > 0).all() and set(cells[1].host) == {platform.node()}
    assert list(cells[0].sort_values("method").test_score) == list(cells[1].sort_values("method").test_score)


def _dies_once_in_b(marker: Path) -> Callable[[Job, object], dict]:
    def work(job: Job, context: object) -> dict:
        if job.name == "b" and not marker.exists():
            marker.write_text("killed")
            os._exit(1)  # the worker process dies mid-job, as under the OOM killer
        return {"name": job.name, "pid": os.getpid()}

    return work


def test_a_job_whose_worker_dies_runs_again_and_costs_only_that_job(tmp_path):
    jobs = [Job("a/1", "a"), Job("b/1", "b"), Job("c/1", "c")]
    with Engine(tmp_path / "out", command="test", key_column="job_key") as engine:
        rows = engine.run(jobs, _dies_once_in_b(tmp_path / "marker"), workers=2)
    assert (tmp_path / "marker").exists()
    assert [(r["job_key"], r.get("status", "ok"), r.get("name")) for r in rows] == [
        ("a/1", "ok", "a"),
        ("b/1", "ok", "b"),
        ("c/1", "ok", "c"),
    ]


def _kills_the_scheduler_in_b(scheduler_pid: int) -> Callable[[Job, object], dict]:
    def work(job: Job, context: object) -> dict:
        if job.name == "b":
            os.kill(scheduler_pid, signal.SIGKILL)
            time.sleep(5)
        return {"name": job.name}

    return work


def test_a_lost_scheduler_ends_the_run_in_one_line_and_keeps_the_finished_jobs(tmp_path, cluster_processes):
    address, scheduler = cluster_processes
    jobs = [Job("a/1", "a"), Job("b/1", "b"), Job("c/1", "c")]
    out = {}

    def run() -> None:
        with Engine(tmp_path / "out", command="test", key_column="job_key") as engine:
            try:
                with connect(address) as client:
                    engine.run(jobs, _kills_the_scheduler_in_b(scheduler.pid), workers=1, cluster=client)
            except TuningError as exc:
                out["error"] = str(exc)
            out["finished"] = list(engine.rows(jobs).job_key)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(180)
    assert not thread.is_alive(), "the run did not end when its scheduler was lost"
    assert out["error"].startswith("lost the Dask scheduler") and "\n" not in out["error"]
    assert out["finished"] == ["a/1"]
