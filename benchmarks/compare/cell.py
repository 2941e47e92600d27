"""One benchmark cell: search on (train, validation), refit the winner by the trial recipe, score the test set once."""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import psutil

from benchmarks.common.provenance import iso
from tuning.comparison import Dataset, Setting
from tuning.execution import Execution
from tuning.methods import Budget, Trial, get_method
from tuning.methods.base import BUDGET_TOLERANCE
from tuning.training import TestScorer

if TYPE_CHECKING:
    from benchmarks.curves.replay import Replay

__all__ = ["Cell", "TestSet", "run_cell"]


@dataclass(frozen=True)
class Cell:
    task: Dataset
    method: str
    seed: int
    profile: str
    setting: Setting
    cv: int | None
    # "real": trials train; "replay": they are answered from the dataset's curve table.
    mode: str = "real"

    @property
    def dataset(self) -> str:
        return self.task.name

    @property
    def config(self) -> dict[str, Any]:
        """What, beside the dataset, method and seed, makes a cell's results reusable by a resumed run."""
        return {
            "benchmark_version": self.task.version,
            "mode": self.mode,
            "profile": self.profile,
            "cv": "holdout" if self.cv is None else self.cv,
            "keras_backend": keras.backend.backend(),
            "space": json.dumps(self.task.space.to_dicts()),
            "builder": self.task.builder_name,
            # The quality target judges results; it does not change them.
            **{k: v for k, v in asdict(self.setting).items() if k != "target"},
        }

    @property
    def key(self) -> str:
        digest = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.dataset}/{self.method}/seed{self.seed}/{digest}"

    @property
    def budget(self) -> Budget:
        return Budget(self.setting.budget_epochs, self.setting.epochs_per_trial)

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.method}/seed{self.seed}"


class TestSet:
    """The held-out test set, which allows exactly one evaluation."""

    __test__ = False  # not a pytest test class

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self._x, self._y = x, y
        self.evaluations = 0

    def score(self, final_model: TestScorer) -> float:
        if self.evaluations:
            raise RuntimeError("the test set was already scored once for this cell")
        self.evaluations += 1
        return final_model(self._x, self._y)


@contextmanager
def peak_rss() -> Iterator[Callable[[], float]]:
    """Samples this process's resident memory; yields a function returning the peak in MB."""
    process = psutil.Process()
    peak = [process.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], process.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: max(peak[0], process.memory_info().rss) / 2**20
    finally:
        stop.set()
        thread.join()


def trial_row(cell: Cell, trial: Trial, search_started: float, cumulative_epochs: int) -> dict[str, Any]:
    return {
        "dataset": cell.dataset,
        "method": cell.method,
        "seed": cell.seed,
        "mode": cell.mode,
        "trial": trial.number,
        "status": trial.status,
        "val_score": trial.val_score,
        "epochs": trial.epochs,
        "fidelity": trial.fidelity,
        "cumulative_epochs": cumulative_epochs,
        "started_at": iso(trial.started_at),
        "finished_at": iso(trial.finished_at),
        "elapsed_s": round(trial.finished_at - search_started, 3),
        "error": trial.error,
        "worker_pid": trial.worker_pid,
        # From the method's request to the score coming back, and its phases (tuning.phases).
        "trial_s": round(trial.finished_at - trial.started_at, 4),
        **{f"phase_{name}": round(value, 4) for name, value in trial.phases.items()},
        "params": json.dumps(trial.params, sort_keys=True),
        **{f"param_{k}": v for k, v in sorted(trial.params.items())},
    }


def run_cell(
    cell: Cell,
    data: Any,
    *,
    execution: Execution | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
    replay: Replay | None = None,
) -> dict[str, Any]:
    """Run one cell end to end and return its comparison row; with ``replay``, every trial and the
    refit are answered from the dataset's curve table instead of trained."""
    execution = execution or Execution()
    dataset = cell.task
    setting = cell.setting
    problem, split = dataset.problem(data, cell.seed, setting.fraction)
    if replay is not None:
        problem = replay.problem(problem)
    test_set = TestSet(split.x_test, split.y_test)
    budget = cell.budget
    spent = [0]

    clock = problem.trainer.clock
    started = clock()
    cpu_started = time.process_time()

    def record(trial: Trial) -> None:
        spent[0] += trial.epochs
        if on_trial is not None:
            on_trial(trial_row(cell, trial, started, spent[0]))

    with peak_rss() as peak_mb:
        result = get_method(cell.method).search(
            problem,
            dataset.space,
            budget,
            seed=cell.seed,
            cv=cell.cv,
            execution=execution,
            on_trial=record,
        )
        searched = clock()
        error = ""
        test_score, refit_val_score, refit_epochs = math.nan, math.nan, 0
        if result.best_params:
            # The trial recipe again: the final model is the configuration the search selected.
            refit, final_model = problem.trainer.refit(
                problem, result.best_params, epochs=setting.epochs_per_trial, seed=cell.seed
            )
            refit_epochs = refit.epochs
            if refit.ok:
                refit_val_score = refit.val_score
                test_score = test_set.score(final_model)
            else:
                error = f"the refit of the winner failed: {refit.error}"
        else:
            error = "every trial failed at full fidelity, so there is no winner to refit"
        finished = clock()
        cpu_seconds = time.process_time() - cpu_started
        peak = peak_mb()

    deviation = (result.epochs_trained - budget.total_epochs) / budget.total_epochs
    budget_note = result.plan.note
    if abs(deviation) > BUDGET_TOLERANCE and not budget_note:
        budget_note = f"spent {result.epochs_trained} of {budget.total_epochs} epochs ({result.n_failed} failed trials)"
    return {
        "dataset": cell.dataset,
        "method": cell.method,
        "seed": cell.seed,
        "metric": problem.metric.name,
        "greater_is_better": problem.metric.greater_is_better,
        "val_score": result.best_val_score,
        "refit_val_score": refit_val_score,
        "test_score": test_score,
        "best_params": json.dumps(result.best_params, sort_keys=True),
        "wall_time_s": round(finished - started, 3),
        "search_time_s": round(searched - started, 3),
        "refit_time_s": round(finished - searched, 3),
        "proposal_time_s": round(result.proposal_seconds, 3),
        # CPU seconds of this process (every thread) over the cell: its cost whatever else shared the machine.
        "cpu_time_s": round(cpu_seconds, 3),
        "n_evaluations": result.n_evaluations,
        "epochs_trained": result.epochs_trained,
        "budget_epochs": budget.total_epochs,
        "planned_epochs": result.plan.planned_epochs,
        "budget_deviation": round(deviation, 4),
        "budget_note": budget_note,
        "n_failed_trials": result.n_failed,
        "refit_epochs": refit_epochs,
        "test_evaluations": test_set.evaluations,
        "method_settings": json.dumps(result.plan.settings, sort_keys=True, default=str),
        "sampler_seed": result.sampler_seed,
        "peak_rss_mb": round(peak, 1),
        "error": error,
        **cell.config,
        # The test score the profile asks of the best method (benchmarks/definitions.py).
        "quality_target": setting.target,
        "n_train": len(split.x_train),
        "n_val": len(split.x_val),
        "n_test": len(split.x_test),
        **execution.describe(),
    }
