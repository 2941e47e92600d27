"""The Optuna methods: the contract every method honours, ASHA's rungs and budget, and the missing extra."""

import os
import sys

import numpy as np
import optuna
import pytest
import test_methods as contract

from tuning.errors import TuningError, UnsupportedOptionError
from tuning.execution import Execution
from tuning.methods import Budget, Status
from tuning.methods.optuna_search import OptunaASHA, OptunaTPE
from tuning.space import Categorical, Space, to_optuna

# The contract and failure tests of tests/test_methods.py cover these two through the registry.


def test_the_space_is_translated_to_optuna_distributions():
    study = optuna.create_study()
    trial = study.ask()
    values = to_optuna(contract.SPACE, trial)
    assert list(values) == contract.SPACE.names
    assert trial.distributions == {
        "learning_rate_scale": optuna.distributions.FloatDistribution(0.3, 3.0, log=True),
        "units": optuna.distributions.IntDistribution(8, 9),
        "optimizer": optuna.distributions.CategoricalDistribution(["adam", "rmsprop"]),
        "batch_size": optuna.distributions.CategoricalDistribution([128, 256]),
        "lr_schedule": optuna.distributions.CategoricalDistribution(["cosine", "constant"]),
    }


def test_plans_without_training():
    # 108 epochs of 9-epoch trials: 12 full trials for TPE, 4 of them random; ASHA's rungs
    # are halving's (1, 3, 9 epochs) and it spends the budget itself.
    tpe = OptunaTPE().plan(contract.SPACE, Budget(108, 9))
    assert tpe.settings == {"n_trials": 12, "n_startup_trials": 4} and tpe.planned_epochs == 108 and tpe.note == ""
    asha = OptunaASHA().plan(contract.SPACE, Budget(108, 9))
    assert asha.settings == {
        "n_startup_trials": 4,
        "reduction_factor": 3,
        "min_resource": 1,
        "rungs": [1, 3, 9],
        "max_trials": 108,
    }
    assert asha.planned_epochs == 108 and asha.note == ""
    assert OptunaASHA().plan(contract.SPACE, Budget(20, 10)).settings["rungs"] == [5, 10]
    for method in (OptunaTPE(), OptunaASHA()):
        with pytest.raises(UnsupportedOptionError, match="holdout split only"):
            method.plan(contract.SPACE, Budget(108, 9), folds=3)


def test_asha_prunes_and_its_winner_is_a_full_trial(california_split):
    problem = contract._problem(california_split, False)
    budget = Budget(24, 3)  # room for several trials, so that some meet a better one at the first rung
    result = OptunaASHA().search(problem, contract.SPACE, budget, seed=contract.SEED)
    full = budget.epochs_per_trial
    pruned = [t for t in result.trials if t.fidelity < full]
    assert pruned and all(t.ok and t.epochs == t.fidelity and np.isfinite(t.val_score) for t in pruned)
    # Stopped at a rung below the top, except a last trial that the budget ran out on.
    assert all(t.fidelity in result.plan.settings["rungs"] for t in pruned if t is not result.trials[-1])
    assert result.epochs_trained == budget.total_epochs
    winner = [t for t in result.trials if t.params == result.best_params]
    assert [t.fidelity for t in winner] == [full] and winner[0].val_score == result.best_val_score


def test_asha_stops_the_trial_the_budget_runs_out_on(california_split):
    problem = contract._problem(california_split, False)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    levels_during = []
    try:
        # The first trial always reaches the top rung (3 epochs); the second has 1 epoch left.
        result = OptunaASHA().search(
            problem,
            contract.SPACE,
            Budget(4, 3),
            seed=contract.SEED,
            on_trial=lambda trial: levels_during.append(optuna.logging.get_verbosity()),
        )
        # Optuna's per-trial INFO logging is silenced during the search, and the caller's level is back after it.
        assert levels_during == [optuna.logging.WARNING] * 2
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(verbosity)
    assert [(t.fidelity, t.epochs, t.status) for t in result.trials] == [(3, 3, Status.OK), (1, 1, Status.OK)]
    assert result.epochs_trained == result.plan.planned_epochs == 4


def test_asha_ends_a_search_whose_every_trial_fails_before_training(california_split):
    problem = contract._problem(california_split, False)
    result = OptunaASHA().search(problem, Space([Categorical("n_layers", (5,))]), Budget(6, 2), seed=0)
    assert result.n_evaluations == result.plan.settings["max_trials"] == result.n_failed
    assert result.epochs_trained == 0 and result.best_params == {}


def test_tpe_runs_trials_in_parallel_as_it_would_one_at_a_time(california_split):
    problem = contract._problem(california_split, False)
    budget = Budget(4, 2)
    parallel = OptunaTPE().search(problem, contract.SPACE, budget, seed=contract.SEED, execution=Execution(jobs=2))
    serial = OptunaTPE().search(problem, contract.SPACE, budget, seed=contract.SEED)
    assert [t.number for t in parallel.trials] == [0, 1] and parallel.epochs_trained == 4
    assert all(t.worker_pid != os.getpid() for t in parallel.trials)
    # Both trials are TPE's random start, so each is the same configuration with the same score.
    assert [t.params for t in parallel.trials] == [t.params for t in serial.trials]
    np.testing.assert_allclose([t.val_score for t in parallel.trials], [t.val_score for t in serial.trials], rtol=1e-6)
    with pytest.raises(UnsupportedOptionError, match="optuna_asha runs one trial at a time"):
        OptunaASHA().search(problem, contract.SPACE, budget, execution=Execution(jobs=2))


@pytest.mark.parametrize("method", [OptunaTPE, OptunaASHA])
def test_naming_an_optuna_method_without_optuna_says_how_to_install_it(method, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # what `import optuna` finds when it is not installed
    with pytest.raises(TuningError, match=r"needs Optuna: pip install 'tuning\[optuna\]'$"):
        method()
