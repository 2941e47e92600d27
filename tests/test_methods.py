"""The contract every search method honours, on small slices of both real datasets."""

import math

import numpy as np
import pytest

from tuning.errors import InvalidBudgetError, TuningError, UnsupportedOptionError
from tuning.methods import METHODS, Budget, SearchProblem, get_method
from tuning.methods.base import Trial
from tuning.methods.hyperband import hyperband_epochs
from tuning.space import Categorical, Float, Int, Space

SPACE = Space(
    [
        Float("learning_rate", 1e-3, 3e-2, log=True, default=1e-2),
        Int("units_1", 8, 32, log=True, default=16),
        Categorical("optimizer", ("adam", "rmsprop")),
        Categorical("batch_size", (128, 256)),
        # A schedule, so that every method is seen to search it (a one-level grid takes "cosine").
        Categorical("lr_schedule", ("cosine", "constant")),
    ]
)
BUDGET = Budget(total_epochs=6, epochs_per_trial=2)
FIXED = {"n_layers": 1}


def _problem(split, classification):
    scale = (
        {"input_scale": 255.0}
        if classification
        else {"input_mean": split.x_train.mean(0), "input_scale": split.x_train.std(0)}
    )
    return SearchProblem.from_split(split, classification=classification, fixed={**FIXED, **scale})


@pytest.fixture(params=["fashion", "california"])
def problem(request, fashion_split, california_split):
    if request.param == "fashion":
        return _problem(fashion_split, True)
    return _problem(california_split, False)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_contract(name, problem):
    method = get_method(name)
    seen: list[Trial] = []
    arrays_before = [a.copy() for a in (problem.x_train, problem.y_train, problem.x_val, problem.y_val)]

    result = method.search(problem, SPACE, BUDGET, seed=7, on_trial=seen.append)

    # Schema: every trial reported once, as it finished, with the whole record.
    assert result.method == name and list(result.trials) == seen
    assert [t.number for t in result.trials] == list(range(len(result.trials)))
    for t in result.trials:
        assert set(t.params) <= set(SPACE.names) and t.status == "ok" and t.error == ""
        assert t.epochs >= 1 and t.started_at <= t.finished_at
        assert 0 < t.val_score < (1 if problem.classification else 10)
    starts = [t.started_at for t in result.trials]
    assert starts == sorted(starts)
    assert result.best_val_score == (max if problem.classification else min)(t.val_score for t in result.trials)
    assert set(result.best_params) == set(result.trials[0].params)
    assert result.metric.name == ("accuracy" if problem.classification else "rmse")

    # Budget: the plan is spent exactly when nothing fails, and stays within 10% of the budget.
    assert result.n_evaluations == len(seen) and result.n_failed == 0
    assert result.epochs_trained == result.plan.planned_epochs
    assert result.epochs_trained <= 1.1 * BUDGET.total_epochs
    assert result.plan.note or result.epochs_trained >= 0.9 * BUDGET.total_epochs

    # The search saw train and validation only, and changed neither.
    assert not hasattr(problem, "x_test")
    for before, after in zip(
        arrays_before, (problem.x_train, problem.y_train, problem.x_val, problem.y_val), strict=False
    ):
        np.testing.assert_array_equal(before, after)

    # Reproducible: the same seed gives the same trials and scores.
    again = method.search(problem, SPACE, BUDGET, seed=7)
    assert [t.params for t in again.trials] == [t.params for t in result.trials]
    np.testing.assert_allclose([t.val_score for t in again.trials], [t.val_score for t in result.trials], rtol=1e-6)


BAD_SPACE = Space(
    [
        # n_layers 5 is beyond the builder's limit (it raises), and SGD at a learning rate of
        # 1e4 diverges: both must be recorded as failed while the search goes on.
        Categorical("n_layers", (5, 1)),
        Categorical("optimizer", ("sgd",)),
        Float("learning_rate", 1e4, 1e4),
    ]
)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_failed_trials_are_recorded_and_the_search_goes_on(name, california_split):
    problem = _problem(california_split, False)
    result = get_method(name).search(problem, BAD_SPACE, Budget(6, 2), seed=0)
    assert result.n_evaluations >= 2 and result.n_failed == result.n_evaluations
    errors = {t.error for t in result.trials}
    assert any("n_layers must be in [1, 4], got 5" in e for e in errors), errors
    assert any("diverged" in e for e in errors), errors
    assert all(math.isnan(t.val_score) for t in result.trials)
    assert result.best_params == {} and math.isnan(result.best_val_score)


def test_kfold_cv_uses_every_fold(fashion_split):
    problem = _problem(fashion_split, True)
    result = get_method("random").search(problem, SPACE, Budget(12, 2), seed=0, cv=3)
    # 12 epochs / (2 epochs x 3 folds) = 2 trials, each trained on 3 folds.
    assert result.n_evaluations == 2 and all(t.epochs == 6 for t in result.trials)
    with pytest.raises(UnsupportedOptionError, match="holdout split only"):
        get_method("hyperband").search(problem, SPACE, Budget(12, 2), cv=3)


def test_hyperband_schedule_arithmetic_without_training():
    # max_epochs 9, factor 3: three brackets. Bracket 0: 3 trials x 9 epochs = 27.
    # Bracket 1: 5 x 3, then 2 promoted trials resume for 9 - 3 = 6 more: 15 + 12 = 27.
    # Bracket 2: 9 x 1, then 3 x (3 - 1), then 1 x (9 - 3): 9 + 6 + 6 = 21.
    assert hyperband_epochs(9) == 27 + 27 + 21
    assert hyperband_epochs(9, iterations=2) == 2 * 75
    assert hyperband_epochs(1) == 1
    plan = get_method("hyperband").plan(SPACE, Budget(480, 40))
    assert abs(plan.planned_epochs - 480) <= 48 and plan.note == ""
    assert (
        hyperband_epochs(plan.settings["max_epochs"], 3, plan.settings["hyperband_iterations"]) == plan.planned_epochs
    )


def test_grid_plan_explains_an_unspent_budget():
    plan = get_method("grid").plan(SPACE, Budget(30, 2))
    # 15 points allowed; the largest product grid is 3 x 2 x 2 = 12.
    assert plan.planned_epochs == 24 and "12" in plan.note
    assert get_method("random").plan(SPACE, Budget(30, 2)).planned_epochs == 30


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Budget(0, 1), InvalidBudgetError, "total_epochs must be a positive integer, got 0"),
        (lambda: Budget(10, -1), InvalidBudgetError, "epochs_per_trial must be a positive integer, got -1"),
        (lambda: Budget(2, 5), InvalidBudgetError, "cannot pay for one trial"),
        (lambda: get_method("annealing"), TuningError, "unknown method 'annealing'"),
        (
            lambda: get_method("grid").plan(SPACE, Budget(4, 2), folds=3),
            InvalidBudgetError,
            "cannot pay for one 3-fold",
        ),
    ],
)
def test_bad_budgets_and_names(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_bayesian_methods_leave_their_random_start_within_the_budget(california_split):
    problem = _problem(california_split, classification=False)
    budget = Budget(total_epochs=10, epochs_per_trial=2)  # 5 trials: 2 random, then 3 guided
    assert get_method("bayes").plan(SPACE, budget).settings["n_initial_points"] == 2
    assert get_method("kt_bayes").plan(SPACE, budget).settings["num_initial_points"] == 2
    random = get_method("kt_random").search(problem, SPACE, budget, seed=5)
    bayes = get_method("kt_bayes").search(problem, SPACE, budget, seed=5)
    assert len(bayes.trials) == len(random.trials) == 5
    # With Keras Tuner's default start (3 random points per hyperparameter, 15 here) both
    # searches were the same five random trials; now the Gaussian process picks the last three.
    assert [t.params for t in bayes.trials[2:]] != [t.params for t in random.trials[2:]]
