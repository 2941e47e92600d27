"""Hyperband through Keras Tuner, on the same builder and space as the other methods."""

from __future__ import annotations

import math
import os
import tempfile
import time
from typing import Any

import keras
import keras_tuner
import numpy as np

from tuning.errors import InvalidBudgetError, UnsupportedOptionError
from tuning.methods.base import (
    BUDGET_TOLERANCE,
    FAILED,
    OK,
    Budget,
    Plan,
    RunOptions,
    SearchMethod,
    SearchProblem,
    Trial,
    TrialCallback,
)
from tuning.space import Space
from tuning.wrappers import SpaceHyperModel

__all__ = ["HyperbandSearch", "hyperband_epochs"]

FACTOR = 3
# Keras Tuner stops a search after this many failures in a row; a failed trial must not.
NEVER_GIVE_UP = 10**9


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


class _RecordingHyperband(keras_tuner.Hyperband):
    """Keras Tuner's Hyperband that reports every finished trial through its public hooks."""

    def __init__(self, *args: Any, on_trial: TrialCallback, space: Space, val_metric: str, **kw: Any):
        super().__init__(*args, **kw)
        self._on_trial = on_trial
        self._space_names = set(space.names)
        self._val_metric = val_metric
        self._started: dict[str, float] = {}
        self._epochs: dict[str, int] = {}
        self._last_logs: dict[str, dict] = {}
        self._count = 0

    def _populate_initial_space(self) -> None:
        # Keras Tuner's hook for tuners whose space is known up front. The default builds
        # the default configuration to discover the space, which would turn one invalid
        # configuration into a fatal error; a Space has no conditional scopes to discover.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def on_trial_begin(self, trial: Any) -> None:
        super().on_trial_begin(trial)
        self._started[trial.trial_id] = time.time()
        self._epochs[trial.trial_id] = 0

    def on_epoch_end(self, trial: Any, model: Any, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(trial, model, epoch, logs)
        self._epochs[trial.trial_id] += 1
        self._last_logs[trial.trial_id] = dict(logs or {})

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        histories = super().run_trial(trial, *args, **kwargs)
        losses = [v for h in histories for v in h.history.get("loss", [])]
        if not np.all(np.isfinite(losses)):
            raise keras_tuner.errors.FailedTrialError("diverged: non-finite training loss")
        return histories

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)
        ok = trial.status == keras_tuner.engine.trial.TrialStatus.COMPLETED
        logs = self._last_logs.get(trial.trial_id, {})
        # The score of the model as trained, like every other method (not Keras Tuner's best epoch).
        score = float(logs.get(self._val_metric, math.nan)) if ok else math.nan
        message = (trial.message or "").strip().splitlines()
        self._on_trial(
            Trial(
                number=self._count,
                params={k: v for k, v in trial.hyperparameters.values.items() if k in self._space_names},
                val_score=score,
                epochs=self._epochs[trial.trial_id],
                started_at=self._started[trial.trial_id],
                finished_at=time.time(),
                status=OK if ok else FAILED,
                error="" if ok else (message[-1] if message else str(trial.status)),
                worker_pid=os.getpid(),
            )
        )
        self._count += 1


class HyperbandSearch(SearchMethod):
    """Keras Tuner ``Hyperband`` with ``max_epochs`` and iterations chosen to spend the budget."""

    name = "hyperband"

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        if folds != 1:
            raise UnsupportedOptionError("hyperband scores on the holdout split only; Keras Tuner has no k-fold mode")
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

    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> None:
        if options.tuner_workers > 0:
            from tuning.methods.tuner_workers import run_on_local_workers

            run_on_local_workers(problem, space, plan, options)
            return
        with tempfile.TemporaryDirectory(prefix="tuning-hyperband-") as directory:
            search_with_tuner(problem, space, plan, options.seed, directory, options.on_trial)


def search_with_tuner(
    problem: SearchProblem, space: Space, plan: Plan, seed: int, directory: str, on_trial: TrialCallback
) -> None:
    """Build the recording Hyperband tuner and search; also what each chief or worker process runs."""
    metric = problem.metric
    val_metric = f"val_{metric.name}"
    hypermodel = SpaceHyperModel(
        space, n_features=problem.n_features, n_classes=problem.n_classes, fixed=problem.fixed, seed=seed
    )
    tuner = _RecordingHyperband(
        hypermodel,
        objective=keras_tuner.Objective(val_metric, "max" if metric.greater_is_better else "min"),
        max_epochs=plan.settings["max_epochs"],
        factor=plan.settings["factor"],
        hyperband_iterations=plan.settings["hyperband_iterations"],
        seed=seed,
        max_consecutive_failed_trials=NEVER_GIVE_UP,
        directory=directory,
        project_name="hyperband",
        # The directory is always new; in chief/worker mode every process must find the others' checkpoints.
        overwrite=False,
        on_trial=on_trial,
        space=space,
        val_metric=val_metric,
    )
    tuner.search(
        problem.x_train,
        problem.y_train,
        validation_data=(problem.x_val, problem.y_val),
        callbacks=[keras.callbacks.TerminateOnNaN()],
        verbose=0,
    )
