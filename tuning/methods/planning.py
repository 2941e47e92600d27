"""How a method turns a budget into a plan: the arithmetic the methods share."""

from __future__ import annotations

import math

from tuning.errors import InvalidBudgetError
from tuning.methods.base import BUDGET_TOLERANCE, Budget, Plan
from tuning.space import Space, grid_levels

__all__ = ["budget_note", "grid_plan", "halving_rungs", "initial_random_points", "n_trials_plan"]


def initial_random_points(n_trials: int) -> int:
    """How many random trials a Bayesian method starts with: a third of its trials, at least 2.

    The libraries' defaults (skopt: 10; Keras Tuner: 3 per hyperparameter, 24 for the
    benchmark's space) would spend all or nearly all of a 12-trial budget before the model
    guides a single trial: Keras Tuner's Bayesian search then equals its random search.
    """
    return max(2, n_trials // 3)


def n_trials_plan(budget: Budget, folds: int, what: str) -> tuple[int, int, str]:
    """The number of full trials closest to the budget, the epochs they spend, and a note if that misses it."""
    per_trial = budget.epochs_per_trial * folds
    n = max(1, round(budget.total_epochs / per_trial))
    if per_trial > (1 + BUDGET_TOLERANCE) * budget.total_epochs:
        raise InvalidBudgetError(
            f"a budget of {budget.total_epochs} epochs cannot pay for one {folds}-fold trial of {per_trial} epochs"
        )
    planned = n * per_trial
    return n, planned, budget_note(planned, budget.total_epochs, f"{what} of {n} trials x {per_trial} epochs")


def budget_note(planned: int, budget: int, plan: str) -> str:
    """Why a plan misses its budget by more than the tolerance, or "" when it does not."""
    if abs(planned - budget) <= BUDGET_TOLERANCE * budget:
        return ""
    return f"{plan} spends {planned} of {budget} epochs, the closest this method's schedule allows"


def grid_plan(space: Space, budget: Budget, folds: int) -> Plan:
    """The largest product grid whose full trials the budget pays for (the rule is in ``tuning.space``).

    Shared by every grid method, so that they all search the same points.
    """
    max_points, _, _ = n_trials_plan(budget, folds, "grid")
    levels = grid_levels(space, max_points)
    n_points = math.prod(levels.values())
    planned = n_points * budget.epochs_per_trial * folds
    note = budget_note(planned, budget.total_epochs, f"the largest product grid within {max_points} points")
    return Plan({"max_points": max_points, "n_points": n_points, "levels": levels}, planned, note)


def halving_rungs(epochs_per_trial: int) -> tuple[int, int, int]:
    """(factor, epochs of the first rung, number of rungs) of a successive-halving schedule ending on a full trial.

    scikit-learn's halving reaches its ``max_resources`` only when it is the first rung's
    resources times a power of the factor, so the rungs are ``epochs_per_trial / factor^k``
    ... ``epochs_per_trial``: factor 3 when 3 divides the trial's epochs, else its smallest
    prime factor (8 epochs: 1, 2, 4, 8; 10 epochs: 5, 10; 9 epochs: 1, 3, 9).
    """
    divisors = [f for f in range(2, epochs_per_trial + 1) if epochs_per_trial % f == 0]
    factor = 3 if epochs_per_trial % 3 == 0 or not divisors else divisors[0]
    first, rungs = epochs_per_trial, 1
    while first % factor == 0:
        first //= factor
        rungs += 1
    return factor, first, rungs
