"""Keras Tuner methods: one recording mixin and one driver; each method names its tuner and plan.

Every tuner gets the same ``SpaceHyperModel`` (the shared builder and space), reports each
finished trial through Keras Tuner's public hooks, and records a trial's score as the
validation score of the model as trained, like every other method (Keras Tuner itself
ranks trials by their best epoch).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from abc import abstractmethod
from typing import Any

import keras
import keras_tuner
import numpy as np

from tuning.errors import UnsupportedOptionError
from tuning.methods._sklearn import GridSearch
from tuning.methods.base import (
    FAILED,
    OK,
    Budget,
    Plan,
    RunOptions,
    SearchMethod,
    SearchProblem,
    Trial,
    TrialCallback,
    initial_random_points,
    n_trials_plan,
)
from tuning.space import Space
from tuning.wrappers import SpaceHyperModel

__all__ = ["KerasTunerMethod", "search_with_tuner"]

# Keras Tuner stops a search after this many failures in a row; a failed trial must not.
NEVER_GIVE_UP = 10**9


def _error_line(message: str | None, status: Any) -> str:
    """The exception line of Keras Tuner's traceback, in the form the other methods record."""
    lines = (message or "").strip().splitlines()
    if not lines:
        return str(status)
    kind, _, text = lines[-1].partition(": ")
    kind = kind.rsplit(".", 1)[-1]
    # A failure raised on purpose (divergence) carries its reason; anything else keeps its type.
    return text if kind == "FailedTrialError" else f"{kind}: {text}".rstrip(": ")


class _Recording:
    """Reports every finished trial of a Keras Tuner tuner through the tuner's public hooks."""

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

    def _try_build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        # Keras Tuner's own version clears the session with a full gc.collect() twice per
        # trial: 40% of a small kt_random search here (py-spy; reports/perf.md). Reference
        # counting frees the previous model, as in tuning.wrappers, where RSS stays flat.
        # Its other checks (a Model came back; max_model_size) do not apply: SpaceHyperModel
        # always builds a Model, and no tuner here sets a size limit.
        keras.backend.clear_session(free_memory=False)
        return self._build_hypermodel(hp)

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
        self._on_trial(
            Trial(
                number=self._count,
                params={k: v for k, v in trial.hyperparameters.values.items() if k in self._space_names},
                val_score=score,
                epochs=self._epochs[trial.trial_id],
                started_at=self._started[trial.trial_id],
                finished_at=time.time(),
                status=OK if ok else FAILED,
                error="" if ok else _error_line(trial.message, trial.status),
                worker_pid=os.getpid(),
            )
        )
        self._count += 1


class KerasTunerMethod(SearchMethod):
    """A search run by a Keras Tuner tuner; subclasses give the tuner, its arguments and the plan."""

    tuner_class: type

    @abstractmethod
    def tuner_arguments(self, plan: Plan) -> dict[str, Any]:
        """Keyword arguments of ``tuner_class`` that carry the plan (trials, epochs, brackets)."""

    def fixed_for(self, plan: Plan) -> dict[str, Any]:
        """Values every trial gets besides the searched ones; by default, the plan's epochs."""
        return {"epochs": plan.settings["epochs"]}

    def hypermodel_arguments(self, plan: Plan) -> dict[str, Any]:
        return {}

    def check_folds(self, folds: int) -> None:
        if folds != 1:
            raise UnsupportedOptionError(
                f"{self.name} scores on the holdout split only; Keras Tuner has no k-fold mode"
            )

    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> None:
        if options.tuner_workers > 0:
            from tuning.methods.tuner_workers import run_on_local_workers

            run_on_local_workers(self, problem, space, plan, options)
            return
        with tempfile.TemporaryDirectory(prefix=f"tuning-{self.name}-") as directory:
            search_with_tuner(self, problem, space, plan, options.seed, directory, options.on_trial)


def search_with_tuner(
    method: KerasTunerMethod,
    problem: SearchProblem,
    space: Space,
    plan: Plan,
    seed: int,
    directory: str,
    on_trial: TrialCallback,
) -> None:
    """Build the recording tuner and search; also what each chief or worker process runs."""
    metric = problem.metric
    val_metric = f"val_{metric.name}"
    hypermodel = SpaceHyperModel(
        space,
        n_features=problem.n_features,
        n_classes=problem.n_classes,
        fixed={**problem.fixed, **method.fixed_for(plan)},
        seed=seed,
        **method.hypermodel_arguments(plan),
    )
    tuner_class = type(f"Recording{method.tuner_class.__name__}", (_Recording, method.tuner_class), {})
    tuner = tuner_class(
        hypermodel,
        objective=keras_tuner.Objective(val_metric, "max" if metric.greater_is_better else "min"),
        seed=seed,
        max_consecutive_failed_trials=NEVER_GIVE_UP,
        directory=directory,
        project_name=method.name,
        # The directory is always new; in chief/worker mode every process must find the others' checkpoints.
        overwrite=False,
        on_trial=on_trial,
        space=space,
        val_metric=val_metric,
        **method.tuner_arguments(plan),
    )
    tuner.search(
        problem.x_train,
        problem.y_train,
        validation_data=(problem.x_val, problem.y_val),
        callbacks=[keras.callbacks.TerminateOnNaN()],
        verbose=0,
    )


class KerasTunerRandom(KerasTunerMethod):
    """Keras Tuner ``RandomSearch`` with ``max_trials = budget // epochs per trial``."""

    name = "kt_random"
    tuner_class = keras_tuner.RandomSearch

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_folds(folds)
        n, planned, note = n_trials_plan(budget, folds, "Keras Tuner random search")
        return Plan({"epochs": budget.epochs_per_trial, "max_trials": n}, planned, note)

    def tuner_arguments(self, plan: Plan) -> dict[str, Any]:
        return {"max_trials": plan.settings["max_trials"]}


class KerasTunerBayes(KerasTunerRandom):
    """Keras Tuner ``BayesianOptimization`` (Gaussian process) with ``max_trials`` as for random search."""

    name = "kt_bayes"
    tuner_class = keras_tuner.BayesianOptimization

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        plan = super().plan(space, budget, folds=folds)
        settings = {**plan.settings, "num_initial_points": initial_random_points(plan.settings["max_trials"])}
        return Plan(settings, plan.planned_epochs, plan.note)

    def tuner_arguments(self, plan: Plan) -> dict[str, Any]:
        return {**super().tuner_arguments(plan), "num_initial_points": plan.settings["num_initial_points"]}


class KerasTunerGrid(KerasTunerMethod):
    """Keras Tuner ``GridSearch`` over the same grid as ``grid`` (see ``tuning.space``)."""

    name = "kt_grid"
    tuner_class = keras_tuner.GridSearch

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_folds(folds)
        grid = GridSearch().plan(space, budget)
        n_points = math.prod(grid.settings["levels"].values())
        return Plan({**grid.settings, "max_trials": n_points}, grid.planned_epochs, grid.note)

    def tuner_arguments(self, plan: Plan) -> dict[str, Any]:
        return {"max_trials": plan.settings["max_trials"]}

    def hypermodel_arguments(self, plan: Plan) -> dict[str, Any]:
        return {"grid_points": plan.settings["max_points"]}
