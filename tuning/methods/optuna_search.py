"""Optuna methods: its TPE sampler at full fidelity, or with asynchronous successive halving.

Optuna proposes configurations through its ask-and-tell interface on an in-memory study
that ends with the search: trials are reported through ``RunOptions.on_trial`` like every
other method's, and Optuna's study is never a second record. Each trial is trained and
scored by the problem's trainer (``tuning.training.Trainer``: the project's recipe) on the
holdout split, and Optuna is told that score. A failed trial is told as failed, so TPE
never models it as a number.

Optuna is an optional extra (``pip install 'tuning[optuna]'``), imported only when a
method is created or run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from joblib import effective_n_jobs

from tuning.errors import TuningError, UnsupportedOptionError
from tuning.methods.base import Budget, Plan, RunOptions, SearchMethod, SearchProblem, Trial
from tuning.methods.planning import halving_rungs, initial_random_points, n_trials_plan
from tuning.space import Space, to_optuna
from tuning.stopwatch import Stopwatch

__all__ = ["OptunaASHA", "OptunaMethod", "OptunaTPE", "require_optuna"]


def require_optuna(method: str) -> ModuleType:
    """The ``optuna`` module; a one-line ``TuningError`` saying how to install it when it is missing."""
    try:
        import optuna
    except ImportError:
        raise TuningError(f"method {method!r} needs Optuna: pip install 'tuning[optuna]'") from None
    return optuna


@contextmanager
def _quiet(optuna: ModuleType) -> Iterator[None]:
    """Optuna logs every study and trial at INFO; the search reports its trials itself.

    The caller's verbosity comes back afterwards: Optuna's level is global to the process.
    """
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _tell(optuna: ModuleType, study: Any, trial: Any, recorded: Trial, *, stopped_early: bool) -> None:
    """Tell Optuna how a trial ended: failed, stopped early (its last reported score stands), or its score."""
    if not recorded.ok:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    elif stopped_early:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, recorded.val_score)


class OptunaMethod(SearchMethod):
    """A search driven by Optuna's TPE sampler; creating one without Optuna installed is a ``TuningError``."""

    def __init__(self) -> None:
        require_optuna(self.name)

    def n_startup_trials(self, budget: Budget) -> int:
        """The random trials TPE starts with: ``initial_random_points`` of the full trials ``budget`` pays for.

        Optuna's default, 10, would leave TPE nothing to guide on the budgets compared here.
        """
        n, _, _ = n_trials_plan(budget, 1, self.name)
        return initial_random_points(n)

    def _study(
        self, optuna: ModuleType, problem: SearchProblem, plan: Plan, options: RunOptions, *, pruner: Any = None
    ) -> Any:
        """An in-memory study: it ends with the search, whose trials ``options.on_trial`` records.

        Without ``pruner`` Optuna's default is set but never consulted: trials that report nothing are never pruned.
        """
        # multivariate and constant_liar are Optuna 5's defaults, stated; the constant liar
        # makes asking for several trials before telling any (parallel trials) sound.
        sampler = optuna.samplers.TPESampler(
            n_startup_trials=plan.settings["n_startup_trials"],
            multivariate=True,
            constant_liar=True,
            seed=options.sampler_seed,
        )
        direction = "maximize" if problem.metric.greater_is_better else "minimize"
        return optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)


class OptunaTPE(OptunaMethod):
    """TPE with ``n_trials`` = the full trials the budget pays for; ``n_jobs`` trials at a time through joblib."""

    name = "optuna_tpe"

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_holdout(folds)
        n, planned, note = n_trials_plan(budget, folds, "Optuna TPE")
        return Plan({"n_trials": n, "n_startup_trials": self.n_startup_trials(budget)}, planned, note)

    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> float:
        optuna = require_optuna(self.name)
        proposing = Stopwatch()
        n_trials = plan.settings["n_trials"]
        # As the scikit-learn methods do: one batch per round of joblib's workers (or Dask's).
        n_jobs = options.execution.n_jobs
        batch = max(1, effective_n_jobs(n_jobs))
        with _quiet(optuna):
            study = self._study(optuna, problem, plan, options)
            for start in range(0, n_trials, batch):
                with proposing.running():
                    asked = [study.ask() for _ in range(min(batch, n_trials - start))]
                    params = [to_optuna(space, trial) for trial in asked]
                recorded = options.trials.evaluate_batch(params, epochs=options.epochs_per_trial, n_jobs=n_jobs)
                for trial, result in zip(asked, recorded, strict=True):
                    with proposing.running():
                        _tell(optuna, study, trial, result, stopped_early=False)
        return proposing.seconds


class _Rungs:
    """Reports each epoch's validation score to the trial; stops it where the pruner or the budget ends it."""

    def __init__(self, trial: Any, *, epochs_left: int) -> None:
        self.trial = trial
        self.epochs_left = epochs_left
        # Epochs trained when the fit was stopped early; 0 while it runs to the end.
        self.stopped_at = 0

    def __call__(self, trained: int, value: float) -> bool:
        # The step is the epochs trained: the resource the pruner's rungs are counted in.
        self.trial.report(value, trained)
        if trained >= self.epochs_left or self.trial.should_prune():
            self.stopped_at = trained
        return bool(self.stopped_at)


class OptunaASHA(OptunaMethod):
    """TPE with Optuna's ``SuccessiveHalvingPruner`` (ASHA), rungs ending on a full trial, until the budget is spent.

    Every trial is a fit of ``epochs_per_trial`` epochs that reports its validation score
    after each epoch; the pruner stops it at a rung (``halving_rungs``: the same rungs as
    ``halving``) unless it ranks in the top 1/factor of the trials that reached that rung.
    A stopped trial is an ordinary low-fidelity evaluation. Trials are asked for until the
    budget is spent, and the trial running when it runs out is stopped at its last paid
    epoch, so the search trains exactly ``total_epochs`` unless trials fail (then fewer):
    ``planned_epochs`` is the budget itself. ``max_trials``, the trials the budget pays for
    if each stops at the first rung, is never reached then; it ends a search whose trials
    all fail before training.

    Not ``HyperbandPruner``: it splits the trials among brackets and TPE learns in each
    bracket from that bracket's trials only, too few on these budgets; ``hyperband`` is
    already compared. One trial runs at a time, because the pruner ranks a trial against
    those that reported before it, in this process.
    """

    name = "optuna_asha"

    def plan(self, space: Space, budget: Budget, *, folds: int = 1) -> Plan:
        self.check_holdout(folds)
        factor, first, n_rungs = halving_rungs(budget.epochs_per_trial)
        settings = {
            # As many random trials as optuna_tpe starts with: the two differ only in pruning.
            "n_startup_trials": self.n_startup_trials(budget),
            "reduction_factor": factor,
            "min_resource": first,
            "rungs": [first * factor**k for k in range(n_rungs)],
            "max_trials": math.ceil(budget.total_epochs / first),
        }
        return Plan(settings, budget.total_epochs)

    def _run(self, problem: SearchProblem, space: Space, plan: Plan, options: RunOptions) -> float:
        n_jobs = options.execution.n_jobs
        if n_jobs > 1:
            raise UnsupportedOptionError(
                f"{self.name} runs one trial at a time (its pruner ranks trials as they report), "
                f"got n_jobs={n_jobs}; optuna_tpe runs trials in parallel"
            )
        optuna = require_optuna(self.name)
        settings = plan.settings
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=settings["min_resource"], reduction_factor=settings["reduction_factor"]
        )
        spent = 0
        proposing = Stopwatch()
        with _quiet(optuna):
            study = self._study(optuna, problem, plan, options, pruner=pruner)
            for _ in range(settings["max_trials"]):
                if spent >= plan.planned_epochs:
                    break
                with proposing.running():
                    trial = study.ask()
                    params = to_optuna(space, trial)
                rungs = _Rungs(trial, epochs_left=plan.planned_epochs - spent)
                recorded = options.trials.evaluate(params, epochs=options.epochs_per_trial, after_epoch=rungs)
                spent += recorded.epochs
                with proposing.running():
                    _tell(optuna, study, trial, recorded, stopped_early=bool(rungs.stopped_at))
        return proposing.seconds
