"""Replay: every method's real library code, with each trial answered from a curve table's surrogate.

A replayed problem's trainer (``ReplayTrainer``) looks a configuration's learning curve up in
the surrogate (``benchmarks.curves.surrogate``) instead of training it: the validation score
after the trial's epochs, under the cell's seed, with that seed's noise. A trial that a
pruner stops early is told each epoch's score, as a real fit would tell it. The search's
clock is the real clock plus the training time the table recorded for every epoch replayed
(the first epoch's includes building and compiling the model), plus one validation scoring
per score told, less the time the surrogate takes to answer; so the methods' own proposal
work counts at its real cost, and anytime curves keep their meaning.

The searches see the real labels, but each row's features are replaced by its index: the
replayed estimators never read them, and scikit-learn's folds then copy no images.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.curves.surrogate import Surrogate
from benchmarks.curves.table import CurveTable, load_table
from tuning.comparison import Dataset
from tuning.errors import TuningError
from tuning.methods.base import SearchProblem
from tuning.training import AfterEpoch, Evaluation, TestScorer, Trainer

__all__ = ["Replay", "ReplayTrainer", "load_replay"]


# A rung of e epochs is read as the first e epochs of a full curve: that holds only when the
# learning rate does not depend on the fit's length (tuning.schedules tells schedules that length).
CONSTANT_RATE = "constant"


def _refuse_schedules(schedules: set[Any]) -> None:
    if schedules - {CONSTANT_RATE}:
        raise TuningError(
            f"replay reads a shorter trial as the first epochs of a full curve, which holds for a constant "
            f"learning rate only, not lr_schedule {sorted(map(str, schedules - {CONSTANT_RATE}))[0]!r}"
        )


class Replay:
    """A dataset's surrogate, fitted once, and what a replayed epoch costs in time."""

    def __init__(self, table: CurveTable) -> None:
        if "lr_schedule" in table.space.names:
            _refuse_schedules(set(table.space["lr_schedule"].choices))
        self.table = table
        self.surrogate = Surrogate.fit(table.rows, table.space)
        self.scoring_s = float(np.nanmedian(table.rows["val_scoring_s"])) if "val_scoring_s" in table.rows else 0.0

    def problem(self, problem: SearchProblem) -> SearchProblem:
        """``problem`` with a fresh ``ReplayTrainer`` (its clock starts now) and row indices for features."""
        _refuse_schedules({problem.fixed.get("lr_schedule", CONSTANT_RATE)})
        return replace(
            problem,
            x_train=np.arange(len(problem.x_train), dtype=np.float32)[:, None],
            x_val=np.arange(len(problem.x_val), dtype=np.float32)[:, None],
            trainer=ReplayTrainer(self),
        )


class ReplayTrainer(Trainer):
    """Answers each evaluation from the surrogate; its clock adds the replayed training time to the real time."""

    trains_keras_models = False

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.simulated_s = 0.0
        self._curves: dict[tuple[str, int], pd.DataFrame] = {}

    def clock(self) -> float:
        return time.time() + self.simulated_s

    def curve(self, params: Mapping[str, Any], seed: int) -> pd.DataFrame:
        """The configuration's curve under ``seed``, indexed by epoch (computed once per search)."""
        key = (json.dumps(dict(params), sort_keys=True, default=str), seed)
        if key not in self._curves:
            looking_up = time.time()
            self._curves[key] = self.replay.surrogate.curve(params, seed).set_index("epoch")
            # The surrogate's own work is neither training nor the method's, so the clock leaves it out.
            self.simulated_s -= time.time() - looking_up
        return self._curves[key]

    def refit(
        self,
        problem: SearchProblem,
        params: Mapping[str, Any],
        *,
        epochs: int,
        seed: int,
        after_epoch: AfterEpoch | None = None,
    ) -> tuple[Evaluation, TestScorer]:
        started = self.clock()
        curve = self.curve(params, seed)
        if epochs not in curve.index:
            raise TuningError(f"the curve table has epochs 1..{len(curve)}, not a {epochs}-epoch trial")
        trained = epochs
        for epoch in range(1, epochs + 1):
            self.simulated_s += float(curve.epoch_s[epoch])
            if after_epoch is not None and epoch < epochs:
                self.simulated_s += self.replay.scoring_s
                if after_epoch(epoch, float(curve.val_score[epoch])):
                    trained = epoch
                    break
        self.simulated_s += self.replay.scoring_s
        evaluation = Evaluation(float(curve.val_score[trained]), trained, "", started, self.clock(), os.getpid())
        test_score = float(curve.test_score[trained])
        return evaluation, lambda x, y: test_score


def load_replay(curves: Path, dataset: Dataset, profile: str) -> Replay:
    """The replay of ``dataset`` from its table in ``curves/<dataset>``; a ``TuningError`` in one line
    when the table is missing, unreadable or built for another benchmark."""
    return Replay(load_table(curves / dataset.name, dataset, profile))
