"""Keras Tuner methods: one recording tuner and one driver; each method names its oracle and plan.

Every method runs Keras Tuner's public ``Tuner`` with one of its public oracles (random,
Bayesian, grid, Hyperband), which choose the configurations. Each trial is trained and
scored by the problem's trainer (``tuning.training.Trainer``, the project's one recipe): the
model as trained, at its last epoch, scored with the problem's metric, which is also the
value the oracle sees (Keras Tuner on its own would rank trials by their best epoch).
Hyperband's promoted trials train their rung from scratch, like scikit-learn's halving, so
that a score at a fidelity is a function of (configuration, epochs, seed) only; Keras
Tuner's resumed trials would also restart Adam's moments under Keras 3.
"""

from __future__ import annotations

import math
import os
import tempfile
from abc import abstractmethod
from typing import Any

import keras_tuner

from tuning.compat.keras_tuner import BoundedBayesianOptimizationOracle, DeclaredSpaceTuner, failure_message
from tuning.methods.base import Budget, Plan, RunOptions, SearchMethod, SearchProblem
from tuning.methods.planning import grid_plan, initial_random_points, n_trials_plan
from tuning.space import Space
from tuning.stopwatch import Stopwatch
from tuning.training import Evaluation
from tuning.wrappers import SpaceHyperModel

__all__ = ["KerasTunerMethod"]

# Keras Tuner stops a search after this many failures in a row; a failed trial must not.
NEVER_GIVE_UP = 10**9
# What run_trial returns and the oracle optimises: the recipe's validation score.
OBJECTIVE = "val_score"


def _error_line(message: str | None, status: Any) -> str:
    """The exception line of Keras Tuner's traceback, in the form the other methods record."""
    lines = (message or "").strip().splitlines()
    if not lines:
        return str(status)
    kind, _, text = lines[-1].partition(": ")
    kind = kind.rsplit(".", 1)[-1]
    # A failure raised on purpose (divergence) carries its reason; anything else keeps its type.
    return text if kind == "FailedTrialError" else f"{kind}: {text}".rstrip(": ")


class _RecipeTuner(DeclaredSpaceTuner):
    """Trains every trial by the recipe, through the search's ``TrialRecorder``, which records it as it ends."""

    def __init__(self, *args: Any, problem: SearchProblem, space: Space, options: RunOptions, **kw: Any):
        super().__init__(*args, **kw)
        self._problem = problem
        self._space_names = set(space.names)
        self._options = options
        self._evaluated: set[str] = set()

    def _params(self, trial: Any) -> dict[str, Any]:
        return {k: v for k, v in trial.hyperparameters.values.items() if k in self._space_names}

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        # Hyperband names each trial's rung; every other oracle proposes full trials.
        epochs = int(trial.hyperparameters.values.get("tuner/epochs", self._options.epochs_per_trial))
        recorded = self._options.trials.evaluate(self._params(trial), epochs=epochs)
        self._evaluated.add(trial.trial_id)
        if not recorded.ok:
            raise keras_tuner.errors.FailedTrialError(recorded.error)
        return {OBJECTIVE: recorded.val_score}

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)
        if trial.trial_id in self._evaluated:
            self._evaluated.discard(trial.trial_id)
            return
        # Keras Tuner failed the trial before it trained: recorded with its reason, having trained nothing.
        now = self._problem.trainer.clock()
        failed = Evaluation(math.nan, 0, _error_line(failure_message(trial), trial.status), now, now, os.getpid())
        self._options.trials.record(self._params(trial), failed, fidelity=0)


class KerasTunerMethod(SearchMethod):
    """A search run by a Keras Tuner oracle; subclasses give the oracle, its arguments and the plan."""

    oracle_class: type

    @abstractmethod
    def oracle_arguments(self, plan: Plan) -> dict[str, Any]:
        """Keyword arguments of ``oracle_class`` that carry the plan (trials, brackets, initial points)."""

    def hypermodel_arguments(self, plan: Plan) -> dict[str, Any]:
        return {}

    def configure(self, oracle: Any, plan: Plan) -> None:
        """Plan settings an oracle takes as attributes rather than arguments; none by default."""

    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> float:
        if options.execution.tuner_workers > 0:
            from tuning.methods.tuner_workers import run_on_local_workers

            run_on_local_workers(self.name, problem, space, plan, options)
            return math.nan  # the oracle works in the chief's process
        with tempfile.TemporaryDirectory(prefix=f"tuning-{self.name}-") as directory:
            return self.search_with_tuner(problem, space, plan, options, directory)

    def search_with_tuner(
        self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions, directory: str
    ) -> float:
        """Build the oracle and the recording tuner and search; also what each chief or worker process runs.

        Returns the seconds the oracle spent creating, updating and ending trials.
        """
        hypermodel = SpaceHyperModel(
            space,
            input_shape=problem.input_shape,
            n_classes=problem.n_classes,
            fixed=problem.fixed,
            build=problem.build,
            seed=options.seed,
            **self.hypermodel_arguments(plan),
        )
        direction = "max" if problem.metric.greater_is_better else "min"
        oracle = self.oracle_class(
            objective=keras_tuner.Objective(OBJECTIVE, direction),
            seed=options.sampler_seed,
            max_consecutive_failed_trials=NEVER_GIVE_UP,
            **self.oracle_arguments(plan),
        )
        self.configure(oracle, plan)
        proposing = Stopwatch()
        for name in ("create_trial", "update_trial", "end_trial"):
            setattr(oracle, name, proposing.timed(getattr(oracle, name)))
        tuner = _RecipeTuner(
            oracle=oracle,
            hypermodel=hypermodel,
            directory=directory,
            project_name=self.name,
            # The directory is always new; in chief/worker mode every process must find the others' state.
            overwrite=False,
            problem=problem,
            space=space,
            options=options,
        )
        tuner.search(problem.x_train, problem.y_train, verbose=0)
        return proposing.seconds


class KerasTunerRandom(KerasTunerMethod):
    """Keras Tuner's random search with ``max_trials`` = the full trials the budget pays for."""

    name = "kt_random"
    oracle_class = keras_tuner.oracles.RandomSearchOracle

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_holdout(folds)
        n, planned, note = n_trials_plan(budget, folds, "Keras Tuner random search")
        return Plan({"max_trials": n}, planned, note)

    def oracle_arguments(self, plan: Plan) -> dict[str, Any]:
        return {"max_trials": plan.settings["max_trials"]}


class KerasTunerBayes(KerasTunerRandom):
    """Keras Tuner's Bayesian optimisation (Gaussian process) with ``max_trials`` as for random search."""

    name = "kt_bayes"
    oracle_class = BoundedBayesianOptimizationOracle

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        plan = super().plan(space, budget, folds=folds)
        settings = {**plan.settings, "num_initial_points": initial_random_points(plan.settings["max_trials"])}
        return Plan(settings, plan.planned_epochs, plan.note)

    def oracle_arguments(self, plan: Plan) -> dict[str, Any]:
        return {**super().oracle_arguments(plan), "num_initial_points": plan.settings["num_initial_points"]}


class KerasTunerGrid(KerasTunerMethod):
    """Keras Tuner's grid search over the same grid as ``grid`` (``tuning.methods.planning.grid_plan``)."""

    name = "kt_grid"
    oracle_class = keras_tuner.oracles.GridSearchOracle

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_holdout(folds)
        return grid_plan(space, budget, folds)

    def oracle_arguments(self, plan: Plan) -> dict[str, Any]:
        return {"max_trials": plan.settings["n_points"]}

    def hypermodel_arguments(self, plan: Plan) -> dict[str, Any]:
        return {"grid_points": plan.settings["max_points"]}
