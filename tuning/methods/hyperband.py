"""Hyperband through Keras Tuner, with its schedule sized to the budget."""

from __future__ import annotations

import math
from typing import Any

import keras_tuner

from tuning.errors import InvalidBudgetError
from tuning.methods._keras_tuner import KerasTunerMethod
from tuning.methods.base import BUDGET_TOLERANCE, Budget, Plan
from tuning.space import Space

__all__ = ["HyperbandSearch", "hyperband_epochs"]

FACTOR = 3


def _brackets(max_epochs: int, factor: int) -> int:
    # Mirrors keras_tuner's HyperbandOracle._get_num_brackets.
    epochs, brackets = max_epochs, 0
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    return brackets


def hyperband_epochs(max_epochs: int, factor: int = FACTOR, iterations: int = 1) -> int:
    """Epochs Keras Tuner's Hyperband trains when every trial succeeds.

    Follows ``HyperbandOracle``'s bracket sizes and epoch schedule. A promoted trial
    resumes from its parent's checkpoint, so it trains only the difference in epochs.
    """
    end_size0 = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(_brackets(max_epochs, factor)):
        end_size = end_size0 / (bracket + 1)
        previous = 0
        for round_ in range(bracket + 1):
            size = math.ceil(end_size * factor ** (bracket - round_))
            epochs = math.ceil(max_epochs / factor ** (bracket - round_))
            total += size * (epochs - previous)
            previous = epochs
    return total * iterations


class HyperbandSearch(KerasTunerMethod):
    """Keras Tuner ``Hyperband`` with ``max_epochs`` and iterations chosen to spend the budget."""

    name = "hyperband"
    tuner_class = keras_tuner.Hyperband

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_folds(folds)
        target = budget.total_epochs
        best: tuple[float, int, int, int] | None = None
        # Prefer the plan closest to the budget, then max_epochs closest to a full trial.
        for max_epochs in range(max(1, budget.epochs_per_trial // 2), 3 * budget.epochs_per_trial + 1):
            one = hyperband_epochs(max_epochs)
            for iterations in range(1, max(1, target // one) + 2):
                spent = one * iterations
                if spent > (1 + BUDGET_TOLERANCE) * target:
                    break
                key = (abs(spent - target), abs(max_epochs - budget.epochs_per_trial), max_epochs, iterations)
                if best is None or key < best:
                    best = key
        if best is None:
            raise InvalidBudgetError(
                f"a budget of {target} epochs is too small for Hyperband around {budget.epochs_per_trial} epochs"
            )
        _, _, max_epochs, iterations = best
        planned = hyperband_epochs(max_epochs, FACTOR, iterations)
        note = ""
        if abs(planned - target) > BUDGET_TOLERANCE * target:
            note = f"the closest Hyperband schedule spends {planned} of {target} epochs"
        return Plan({"max_epochs": max_epochs, "factor": FACTOR, "hyperband_iterations": iterations}, planned, note)

    def tuner_arguments(self, plan: Plan) -> dict[str, Any]:
        return {key: plan.settings[key] for key in ("max_epochs", "factor", "hyperband_iterations")}

    def fixed_for(self, plan: Plan) -> dict[str, Any]:
        return {}  # Hyperband passes each trial's epochs itself
