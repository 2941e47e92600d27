"""Hyperband through Keras Tuner's ``HyperbandOracle``, its top rung a full trial, cut to the budget."""

from __future__ import annotations

import itertools
import math
from typing import Any

import keras_tuner

from tuning.errors import InvalidBudgetError
from tuning.methods.base import BUDGET_TOLERANCE, Budget, Plan
from tuning.methods.keras_tuner_search import KerasTunerMethod
from tuning.methods.planning import budget_note
from tuning.space import Space

__all__ = ["HyperbandSearch", "hyperband_schedule"]

FACTOR = 3


def _brackets(max_epochs: int, factor: int) -> int:
    # Mirrors keras_tuner's HyperbandOracle._get_num_brackets.
    epochs, brackets = max_epochs, 0
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    return brackets


def hyperband_schedule(max_epochs: int, factor: int = FACTOR, iterations: int = 1) -> list[int]:
    """The epochs of each trial, in the order ``HyperbandOracle`` proposes them when every trial succeeds.

    Brackets run from the most exploratory (many one-rung trials) to the last (only full
    trials), round by round, with the oracle's sizes and rungs; every trial trains its rung
    from scratch (``tuning.methods.keras_tuner_search``).
    """
    end_size0 = math.ceil(1 + math.log(max_epochs, factor))
    epochs = []
    for _ in range(iterations):
        for bracket in reversed(range(_brackets(max_epochs, factor))):
            end_size = end_size0 / (bracket + 1)
            for round_ in range(bracket + 1):
                size = math.ceil(end_size * factor ** (bracket - round_))
                epochs += [math.ceil(max_epochs / factor ** (bracket - round_))] * size
    return epochs


class HyperbandSearch(KerasTunerMethod):
    """Keras Tuner's Hyperband with ``max_epochs`` = a full trial, and as many trials as the budget pays for.

    The top rung is never shrunk to fit a budget: whole iterations run while the budget
    lasts, and the oracle stops after the trial whose cumulative epochs come closest to it
    (at least one full-fidelity trial, which is where winners come from).
    """

    name = "hyperband"
    oracle_class = keras_tuner.oracles.HyperbandOracle

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_holdout(folds)
        max_epochs, target = budget.epochs_per_trial, budget.total_epochs
        one_iteration = sum(hyperband_schedule(max_epochs))
        iterations = max(1, math.ceil(target / one_iteration))
        spent = list(itertools.accumulate(hyperband_schedule(max_epochs, FACTOR, iterations)))
        first_full = hyperband_schedule(max_epochs).index(max_epochs) + 1
        if spent[first_full - 1] > (1 + BUDGET_TOLERANCE) * target:
            raise InvalidBudgetError(
                f"a budget of {target} epochs is too small for Hyperband with {max_epochs}-epoch trials: "
                f"its first full trial ends after {spent[first_full - 1]} epochs"
            )
        n_trials = min(range(first_full, len(spent) + 1), key=lambda n: (abs(spent[n - 1] - target), n))
        planned = spent[n_trials - 1]
        settings = {
            "max_epochs": max_epochs,
            "factor": FACTOR,
            "hyperband_iterations": iterations,
            "max_trials": n_trials,
        }
        return Plan(settings, planned, budget_note(planned, target, f"Hyperband cut after {n_trials} trials"))

    def oracle_arguments(self, plan: Plan) -> dict[str, Any]:
        return {key: plan.settings[key] for key in ("max_epochs", "factor", "hyperband_iterations")}

    def configure(self, oracle: Any, plan: Plan) -> None:
        # HyperbandOracle takes no max_trials argument, but its base Oracle stops creating
        # trials at max_trials (a public attribute) like every other oracle.
        oracle.max_trials = plan.settings["max_trials"]
