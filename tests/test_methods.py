"""The contract every search method honours, on small slices of both real datasets."""

import math
from dataclasses import replace

import keras_tuner
import numpy as np
import pytest

from tuning.errors import InvalidBudgetError, TuningError, UnsupportedOptionError
from tuning.methods import METHODS, Budget, SearchProblem, get_method
from tuning.methods.base import Trial, sampler_seed
from tuning.methods.hyperband import hyperband_schedule
from tuning.methods.planning import halving_rungs
from tuning.methods.sklearn_search import halving_epochs
from tuning.models import build_cnn
from tuning.space import Categorical, Float, Int, Space
from tuning.testing import check_method_contract
from tuning.wrappers import SpaceHyperModel

SPACE = Space(
    [
        Float("learning_rate_scale", 0.3, 3.0, log=True),
        # Two widths only: every distinct architecture is one more XLA compilation (minutes on a cold cache).
        Int("units", 8, 9),
        Categorical("optimizer", ("adam", "rmsprop")),
        Categorical("batch_size", (128, 256)),
        # A schedule, so that every method is seen to search it (a one-level grid takes "cosine").
        Categorical("lr_schedule", ("cosine", "constant")),
    ]
)
# Three-epoch trials: halving and Hyperband run a one-epoch rung below each full trial.
BUDGET = Budget(total_epochs=12, epochs_per_trial=3)
FIXED = {"n_layers": 1}
SEED = 7


def _problem(split, classification):
    scale = (
        {"input_scale": 255.0}
        if classification
        else {"input_mean": split.x_train.mean(0), "input_scale": split.x_train.std(0)}
    )
    return SearchProblem.from_split(split, metric="accuracy" if classification else "rmse", fixed={**FIXED, **scale})


def small_regressor(*, input_shape, n_classes, units=8, learning_rate=0.01):
    """A user's own builder, as a user would write it: no toolkit code, its own loss."""
    import keras

    assert n_classes is None
    model = keras.Sequential(
        [keras.Input(input_shape), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.Adam(learning_rate), "mean_absolute_error")
    return model


USER_SPACE = Space(
    [
        Float("learning_rate", 1e-3, 1e-2, log=True),
        Int("units", 8, 9),
        Categorical("batch_size", (128, 256)),
    ]
)


def _standardised(split):
    mean, sd = split.x_train.mean(0), split.x_train.std(0)
    return replace(split, x_train=(split.x_train - mean) / sd, x_val=(split.x_val - mean) / sd)


# Two filter counts only, as for the MLP's widths: every architecture compiles anew.
CNN_SPACE = Space(
    [
        Float("learning_rate_scale", 0.3, 3.0, log=True),
        Int("filters", 2, 3),
        Categorical("batch_size", (128, 256)),
    ]
)


# Every method on the built-in MLP, on both datasets. A user's builder and the CNN reach one
# method of each method module: the builder and the metric pass through a module's code, the
# same for all its methods, and every case costs tens of seconds of compilation on a cold cache.
ONE_PER_MODULE = ("random", "hyperband", "kt_random", "optuna_asha")
CONTRACT_CASES = [(problem, name) for problem in ("fashion", "california") for name in sorted(METHODS)] + [
    (problem, name) for problem in ("user_mae", "cnn") for name in ONE_PER_MODULE
]


@pytest.fixture
def case(request, fashion_split, california_split):
    """A problem and the space searched on it: the built-in MLP on both datasets, a user's
    builder scored by MAE, and the built-in CNN on Fashion-MNIST's images."""
    if request.param == "fashion":
        return _problem(fashion_split, True), SPACE
    if request.param == "california":
        return _problem(california_split, False), SPACE
    if request.param == "cnn":
        fixed = {"n_blocks": 1, "dense_units": 0, "input_scale": 255.0}
        return SearchProblem.from_split(fashion_split, metric="accuracy", fixed=fixed, build=build_cnn), CNN_SPACE
    return SearchProblem.from_split(_standardised(california_split), metric="mae", build=small_regressor), USER_SPACE


@pytest.mark.parametrize(
    ("case", "name"), CONTRACT_CASES, indirect=["case"], ids=[f"{p}-{m}" for p, m in CONTRACT_CASES]
)
def test_method_contract(case, name, request):
    problem, space = case
    method = get_method(name)
    result = check_method_contract(method, problem, space, BUDGET, seed=SEED)
    for t in result.trials:
        assert 0 < t.val_score < (1 if problem.classification else 10) and t.phases["train_s"] > 0
    assert result.plan.note == "" and result.metric == problem.metric

    # Reproducible: the same seed gives the same trials and scores. A method's seeding does not
    # depend on the problem, so this runs once per method, on the cheapest problem.
    if request.node.callspec.params["case"] != "california":
        return
    again = method.search(problem, space, BUDGET, seed=SEED)
    assert [t.params for t in again.trials] == [t.params for t in result.trials]
    np.testing.assert_allclose([t.val_score for t in again.trials], [t.val_score for t in result.trials], rtol=1e-6)


def test_the_contract_catches_a_method_that_builds_its_own_trials(california_split):
    """A method that reports trials it built itself, beside the recorder, fails the contract by name."""

    class OwnTrials(type(get_method("random"))):
        def _run(self, problem, space, plan, options):
            proposal = super()._run(problem, space, plan, options)
            options.trials.on_trial(Trial(0, {}, 1.0, 1, 1, 0.0, 0.0))  # past the recorder
            return proposal

    problem = _problem(california_split, False)
    with pytest.raises(AssertionError, match="not built by the search's TrialRecorder"):
        check_method_contract(OwnTrials(), problem, SPACE, BUDGET, seed=SEED)


def test_every_method_has_its_own_random_stream(california_split):
    # Shared streams made random and halving draw the same first candidates, and kt_random
    # and hyperband the same winner.
    seeds = {name: sampler_seed(name, SEED) for name in METHODS}
    assert len(set(seeds.values())) == len(METHODS)
    assert sampler_seed("random", SEED) != sampler_seed("random", SEED + 1)
    problem = _problem(california_split, False)
    first = {
        name: get_method(name).search(problem, SPACE, BUDGET, seed=SEED).trials[0].params
        for name in ("random", "halving")
    }
    assert first["random"] != first["halving"]


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
    assert result.n_evaluations == 2 and all(t.epochs == 6 and t.fidelity == 2 for t in result.trials)
    with pytest.raises(UnsupportedOptionError, match="holdout split only"):
        get_method("hyperband").search(problem, SPACE, Budget(12, 2), cv=3)


def test_hyperband_schedule_arithmetic_without_training():
    # max_epochs 9, factor 3, every rung trained from scratch, most exploratory bracket first.
    # Bracket 2: 9 x 1, 3 x 3, 1 x 9; bracket 1: 5 x 3, 2 x 9; bracket 0: 3 x 9.
    assert hyperband_schedule(9) == [1] * 9 + [3] * 3 + [9] + [3] * 5 + [9] * 2 + [9] * 3
    assert sum(hyperband_schedule(9)) == 87 and hyperband_schedule(9, iterations=2) == hyperband_schedule(9) * 2
    assert hyperband_schedule(1) == [1]
    # The top rung is a full trial; the budget is met by where the oracle stops, not by shrinking it.
    plan = get_method("hyperband").plan(SPACE, Budget(108, 9))
    assert plan.settings["max_epochs"] == 9 and plan.planned_epochs == 105 and plan.note == ""
    assert sum(hyperband_schedule(9, iterations=2)[: plan.settings["max_trials"]]) == 105
    with pytest.raises(InvalidBudgetError, match="first full trial ends after 27 epochs"):
        get_method("hyperband").plan(SPACE, Budget(18, 9))


def test_halving_rungs_end_on_a_full_trial():
    assert halving_rungs(9) == (3, 1, 3) and halving_rungs(27) == (3, 1, 4)
    assert halving_rungs(8) == (2, 1, 4) and halving_rungs(10) == (2, 5, 2) and halving_rungs(1) == (3, 1, 1)
    plan = get_method("halving").plan(SPACE, Budget(108, 9))
    # 36 candidates x 1 epoch, 12 x 3, 4 x 9: every rung a third of the budget, the top one full.
    assert plan.settings == {"n_candidates": 36, "factor": 3, "min_epochs": 1, "max_epochs": 9}
    assert plan.planned_epochs == 108 == halving_epochs(36, 1, 9, 3)
    # Too small for the lowest rung's candidates: it is dropped, never the top one.
    small = get_method("halving").plan(SPACE, Budget(20, 9))
    assert small.settings["max_epochs"] == 9 and small.settings["min_epochs"] == 3


def test_grid_plan_explains_an_unspent_budget():
    plan = get_method("grid").plan(SPACE, Budget(30, 2))
    # 15 points allowed; the largest product grid is 3 x 2 x 2 = 12.
    assert plan.planned_epochs == 24 and "spends 24 of 30 epochs" in plan.note
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
    bayes = get_method("kt_bayes").search(problem, SPACE, budget, seed=5)
    assert len(bayes.trials) == 5
    # With Keras Tuner's default start (3 random points per hyperparameter, 15 here) all five
    # trials were random draws; now the Gaussian process picks the last three, which a
    # random oracle seeded with kt_bayes's own stream would not.
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("val_score", "min"), max_trials=5, seed=bayes.sampler_seed
    )
    SpaceHyperModel(SPACE, input_shape=(8,), n_classes=None).declare_hyperparameters(oracle.hyperparameters)
    random_draws = [oracle.populate_space(str(i))["values"] for i in range(5)]
    assert [t.params for t in bayes.trials[:2]] == [{k: d[k] for k in SPACE.names} for d in random_draws[:2]]
    assert [t.params for t in bayes.trials[2:]] != [{k: d[k] for k in SPACE.names} for d in random_draws[2:]]
