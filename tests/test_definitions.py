"""The benchmark definition itself: honest budgets, one space for every method, tabular preprocessing."""

import math

import numpy as np
import pytest

from benchmarks.definitions import DATASETS
from tuning.comparison import PROFILES
from tuning.methods import METHODS, Budget, get_method
from tuning.methods.base import BUDGET_TOLERANCE


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_method_plans_every_profile_within_the_budget(profile):
    for dataset in DATASETS:
        setting = DATASETS[dataset].setting(profile)
        budget = Budget(setting.budget_epochs, setting.epochs_per_trial)
        assert budget.total_epochs % budget.epochs_per_trial == 0, "budgets are whole numbers of full trials"
        for name in METHODS:
            plan = get_method(name).plan(DATASETS[dataset].space, budget)
            assert abs(plan.planned_epochs - budget.total_epochs) <= BUDGET_TOLERANCE * budget.total_epochs, name
            assert plan.note == "", (profile, dataset, name, plan.note)


def test_the_full_profile_repeats_enough_to_rank():
    assert PROFILES["full"].seeds >= 10


def test_no_method_gets_hand_picked_defaults():
    # A grid holds what it cannot vary at the middle of a range or a categorical's first
    # choice; a `default=` would hand it a value the other methods must search for.
    for dataset in DATASETS.values():
        assert all(getattr(p, "default", None) is None for p in dataset.space)


def test_california_features_are_quantile_normal_and_the_target_standardised(california_data):
    dataset = DATASETS["california_housing"]
    raw = dataset.split(california_data, 0, fraction=0.2)
    prepared, fixed = dataset.prepare(raw)
    # Fitted on the training rows: their features are close to standard normal, outliers included.
    assert np.all(np.abs(np.median(prepared.x_train, axis=0)) < 0.05)
    assert np.all(np.abs(prepared.x_train) < 6)
    # Validation and test rows go through the same (training) transform; targets are untouched.
    assert prepared.x_test.shape == raw.x_test.shape and prepared.x_test.dtype == np.float32
    np.testing.assert_array_equal(prepared.y_test, raw.y_test)
    assert fixed["output_mean"] == pytest.approx(float(raw.y_train.mean()))
    assert fixed["output_scale"] == pytest.approx(float(raw.y_train.std()))
    assert math.isfinite(fixed["output_scale"]) and fixed["output_scale"] > 0
