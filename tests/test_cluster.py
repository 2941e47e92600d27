"""Trials on a local Dask cluster (loopback only), through joblib's Dask backend."""

import os
import time

import pytest

from benchmarks.compare import main
from tuning.cluster import dask_backend
from tuning.errors import TuningError
from tuning.methods import Budget, SearchProblem, get_method
from tuning.space import Categorical, Float, Space

distributed = pytest.importorskip("distributed", reason="the optional 'dask' extra is not installed")

SPACE = Space([Float("learning_rate", 1e-3, 3e-2, log=True), Categorical("units_1", (8, 16))])
FIXED = {"n_layers": 1, "batch_size": 256}


@pytest.fixture(scope="module")
def problem(california_split):
    s = california_split
    scale = {"input_mean": s.x_train.mean(0), "input_scale": s.x_train.std(0)}
    return SearchProblem.from_split(s, classification=False, fixed={**FIXED, **scale})


def test_grid_search_runs_on_two_dask_workers(problem):
    budget = Budget(12, 2)  # a 2 x 2 grid plus room: 4 trials of 2 epochs
    local = get_method("grid").search(problem, SPACE, budget, seed=3)
    with dask_backend("local", n_workers=2) as slots:
        assert slots == 2
        remote = get_method("grid").search(problem, SPACE, budget, seed=3, n_jobs=slots)
    pids = {t.worker_pid for t in remote.trials}
    assert len(pids) > 1 and os.getpid() not in pids
    assert [t.params for t in remote.trials] == [t.params for t in local.trials]
    assert [t.epochs for t in remote.trials] == [t.epochs for t in local.trials]
    assert all(t.ok for t in remote.trials) and remote.n_evaluations == local.n_evaluations


def test_unreachable_scheduler_fails_fast_with_one_line(tmp_path, capsys):
    started = time.monotonic()
    unreachable = r"cannot reach the Dask scheduler 'tcp://127\.0\.0\.1:9' within 2 s"
    with pytest.raises(TuningError, match=unreachable), dask_backend("tcp://127.0.0.1:9", timeout_s=2):
        pass
    assert time.monotonic() - started < 30
    code = main(["--profile", "smoke", "--methods", "grid", "--cluster", "tcp://127.0.0.1:9", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_keras_tuner_chief_and_one_worker_complete_a_hyperband(problem):
    budget = Budget(8, 2)
    local = get_method("hyperband").search(problem, SPACE, budget, seed=1)
    seen = []
    remote = get_method("hyperband").search(problem, SPACE, budget, seed=1, tuner_workers=1, on_trial=seen.append)
    assert remote.n_evaluations == local.n_evaluations and remote.epochs_trained == local.epochs_trained
    assert [t.number for t in remote.trials] == list(range(remote.n_evaluations)) and list(remote.trials) == seen
    assert {t.worker_pid for t in remote.trials} - {os.getpid()} and all(t.ok for t in remote.trials)
