"""The contract every search method honours, as one check a new method can be run through.

tests/test_methods.py runs every built-in method through ``check_method_contract`` on small
slices of both datasets; a method of your own gets the same suite in one call::

    from tuning.testing import check_method_contract

    check_method_contract(MyMethod(), problem, space, Budget(total_epochs=12, epochs_per_trial=3))

Each failed expectation raises an ``AssertionError`` that says which.
"""

from __future__ import annotations

import math
from unittest import mock

import numpy as np

from tuning.methods.base import BUDGET_TOLERANCE, Budget, SearchMethod, SearchResult, Status, Trial, TrialRecorder
from tuning.phases import PHASES
from tuning.space import Space
from tuning.training import SearchProblem, fit_on_problem, score

__all__ = ["check_method_contract"]


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def check_method_contract(
    method: SearchMethod, problem: SearchProblem, space: Space, budget: Budget, *, seed: int = 0
) -> SearchResult:
    """Search once and check the result against the contract; returns the result.

    Checked: every trial built by the search's ``TrialRecorder`` and reported once, as it
    finished, with the whole record and its phases; the method's proposal time; the winner
    being the best full-fidelity trial; the budget spent as planned, within 5%; the data left
    unchanged; and the winner's refit by the recipe scoring exactly what its trial scored.
    Every trial is expected to succeed, so give the search a problem its configurations train on.
    """
    seen: list[Trial] = []
    built: list[Trial] = []
    record = TrialRecorder.record

    def recording(self: TrialRecorder, *args: object, **kwargs: object) -> Trial:
        trial = record(self, *args, **kwargs)
        built.append(trial)
        return trial

    arrays = (problem.x_train, problem.y_train, problem.x_val, problem.y_val)
    before = [a.copy() for a in arrays]
    with mock.patch.object(TrialRecorder, "record", recording):
        result = method.search(problem, space, budget, seed=seed, on_trial=seen.append)

    trials = list(result.trials)
    _expect(result.method == method.name, f"the result names {result.method!r}, not {method.name!r}")
    _expect(trials == seen, "the trials reported as they finished differ from the result's")
    _expect(trials == built, "a trial was not built by the search's TrialRecorder (tuning.methods.base)")
    _expect([t.number for t in trials] == list(range(len(trials))), "trials are not numbered 0, 1, 2, ...")
    for t in trials:
        _expect(set(t.params) <= set(space.names), f"trial {t.number} has parameters outside the space")
        _expect(t.status == Status.OK and t.error == "", f"trial {t.number} failed: {t.error}")
        _expect(1 <= t.fidelity <= budget.epochs_per_trial, f"trial {t.number}'s fidelity {t.fidelity}")
        _expect(t.epochs == t.fidelity, f"trial {t.number} trained {t.epochs} epochs at fidelity {t.fidelity}")
        _expect(t.started_at <= t.finished_at, f"trial {t.number} finished before it started")
        _expect(math.isfinite(t.val_score), f"trial {t.number} has no score")
        phases = {f"{phase}_s" for phase in PHASES} | {"programs"}
        _expect(set(t.phases) == phases, f"trial {t.number}'s phases are {sorted(t.phases)}")
    starts = [t.started_at for t in trials]
    _expect(starts == sorted(starts), "trials are not reported in the order they started")
    _expect(
        0 < result.proposal_seconds < result.finished_at - result.started_at,
        f"proposal time {result.proposal_seconds} is not a part of the search's",
    )

    full = [t for t in trials if t.fidelity == budget.epochs_per_trial]
    _expect(bool(full), "no trial reached full fidelity")
    best = (max if problem.metric.greater_is_better else min)(t.val_score for t in full)
    _expect(result.best_val_score == best, "the winner is not the best full-fidelity trial")

    _expect(result.n_failed == 0 and result.epochs_trained == result.plan.planned_epochs, "the plan was not spent")
    _expect(
        abs(result.epochs_trained - budget.total_epochs) <= BUDGET_TOLERANCE * budget.total_epochs,
        f"spent {result.epochs_trained} epochs of a budget of {budget.total_epochs}",
    )
    _expect(all(np.array_equal(a, b) for a, b in zip(before, arrays, strict=True)), "the search changed its data")

    fitted = fit_on_problem(problem, result.best_params, epochs=budget.epochs_per_trial, seed=seed)
    rescored = score(fitted.model, problem.x_val, problem.y_val, problem.metric)
    _expect(rescored == result.best_val_score, f"the winner's refit scores {rescored}, its trial {best}")
    return result
