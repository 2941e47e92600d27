"""Where a search's trials run: what an Execution accepts and tells, without starting a cluster.

Searches on Dask clusters and Keras Tuner workers: tests/test_cluster.py.
"""

import numpy as np
import pytest

from tuning.errors import TuningError
from tuning.execution import Execution
from tuning.methods import Budget, SearchProblem, get_method
from tuning.space import Float, Space


@pytest.mark.parametrize("jobs", [0, -2, True, 1.5, "2"])
def test_jobs_must_be_a_positive_integer(jobs):
    with pytest.raises(TuningError, match=rf"^jobs must be a positive integer, got {jobs!r}$"):
        Execution(jobs=jobs)


@pytest.mark.parametrize("cluster", ["my-laptop", "tcp://", "dask", 8786])
def test_a_cluster_is_local_or_a_scheduler_address(cluster):
    with pytest.raises(TuningError, match=r"^expected 'local' or a Dask scheduler address tcp://HOST:PORT, got "):
        Execution(cluster=cluster)


def test_on_this_machine_jobs_are_the_trial_slots_and_keras_tuner_runs_in_process():
    execution = Execution(jobs=3)
    expected = {"n_jobs": 3, "tuner_workers": 0, "cluster": ""}
    assert execution.describe() == expected
    with execution as entered, entered.joblib_context():
        assert entered is execution and execution.describe() == expected


def test_a_local_cluster_has_keras_tuner_workers_and_its_slots_only_once_entered():
    execution = Execution(jobs=1, cluster="local")
    assert execution.tuner_workers == 2
    with pytest.raises(TuningError, match=r"has trial slots only while entered"):
        execution.describe()
    assert Execution(jobs=3, cluster="tcp://127.0.0.1:8786").tuner_workers == 0


def test_a_search_takes_only_an_execution():
    x, y = np.zeros((4, 1), np.float32), np.zeros(4, np.float32)
    problem = SearchProblem(x, y, x, y, metric="rmse")
    with pytest.raises(TuningError, match=r"^execution must be a tuning.execution.Execution, got 2$"):
        get_method("random").search(problem, Space([Float("learning_rate", 1e-3, 1e-2)]), Budget(4, 2), execution=2)
