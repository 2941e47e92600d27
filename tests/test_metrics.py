"""The metric registry, and a metric on class probabilities scored alike by every method family."""

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_absolute_error

from tuning.errors import TuningError
from tuning.methods import Budget, SearchProblem, get_method
from tuning.metrics import ACCURACY, LOG_LOSS, MAE, METRICS, RMSE, Metric, get_metric, register_metric
from tuning.space import Categorical, Float, Space
from tuning.training import fit_on_problem, score


def test_the_registry_holds_each_metric_with_its_direction_and_task():
    assert set(METRICS) >= {"accuracy", "log_loss", "rmse", "mae"}
    assert [get_metric(n).greater_is_better for n in ("accuracy", "log_loss", "rmse", "mae")] == [1, 0, 0, 0]
    assert [get_metric(n).classification for n in ("accuracy", "log_loss", "rmse", "mae")] == [1, 1, 0, 0]
    assert get_metric(MAE) is MAE
    with pytest.raises(TuningError, match="unknown metric 'r2'; choose from"):
        get_metric("r2")


def test_each_metric_computes_its_score_and_its_no_skill_baseline():
    y = np.array([0, 1, 1, 2])
    assert ACCURACY(y, np.array([0, 1, 2, 2])) == 0.75
    assert ACCURACY.no_skill(y) == 0.5
    probabilities = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.4, 0.3], [0.1, 0.1, 0.8]])
    assert LOG_LOSS(y, probabilities) == pytest.approx(log_loss(y, probabilities))
    assert LOG_LOSS.no_skill(y) == pytest.approx(log_loss(y, np.tile([0.25, 0.5, 0.25], (4, 1))))
    target = np.array([1.0, 2.0, 4.0, 9.0])
    assert MAE(target, target + 1) == 1.0 and MAE.no_skill(target) == mean_absolute_error(target, np.full(4, 3.0))
    assert RMSE(target, target - 2) == 2.0 and RMSE.no_skill(target) == pytest.approx(np.std(target))
    assert RMSE.keras_metric().name == "rmse" and type(MAE.keras_metric()).__name__ == "MeanAbsoluteError"


def test_a_user_registers_a_metric_by_name():
    def max_error(y_true, y_pred):
        return float(np.max(np.abs(y_true - y_pred)))

    worst = Metric("max_error", max_error, False, False, lambda y: np.full(len(y), np.median(y)), "MeanAbsoluteError")
    assert register_metric(worst) is worst and get_metric("max_error") is worst
    register_metric(worst)  # the same metric again is harmless
    with pytest.raises(TuningError, match="a different metric is already registered as 'rmse'"):
        register_metric(Metric("rmse", max_error, False, False, np.mean, "MeanAbsoluteError"))
    with pytest.raises(TuningError, match=r"takes a tuning\.metrics\.Metric"):
        register_metric("max_error")


@pytest.mark.parametrize("name", ["random", "kt_random"])
def test_log_loss_is_scored_on_probabilities_by_every_method_family(name, fashion_split):
    problem = SearchProblem.from_split(fashion_split, metric="log_loss", fixed={"n_layers": 1, "input_scale": 255.0})
    space = Space([Float("learning_rate_scale", 0.5, 2.0, log=True), Categorical("units", (8,))])
    result = get_method(name).search(problem, space, Budget(4, 2), seed=3)

    assert result.metric is LOG_LOSS and len(result.trials) == 2
    assert all(0 < t.val_score < 2 * LOG_LOSS.no_skill(problem.y_val) for t in result.trials)
    assert result.best_val_score == min(t.val_score for t in result.trials)
    # The recipe's own scoring of the winner (class probabilities) gives the trial's score.
    fitted = fit_on_problem(problem, result.best_params, epochs=2, seed=3)
    rescored = score(fitted.model, problem.x_val, problem.y_val, LOG_LOSS)
    assert math.isclose(rescored, result.best_val_score, rel_tol=1e-6)
