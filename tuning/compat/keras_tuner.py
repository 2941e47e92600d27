"""Keras Tuner's private hook and trial attribute. Written against keras-tuner 1.4.8."""

from __future__ import annotations

from typing import Any

import keras_tuner

from tuning.compat import PrivateName, check_private_api

__all__ = ["PRIVATE_API", "BoundedBayesianOptimizationOracle", "DeclaredSpaceTuner", "check", "failure_message"]

LIBRARY = "keras-tuner"
WRITTEN_AGAINST = "1.4.8"
PRIVATE_API = (
    PrivateName("keras_tuner", "Tuner._populate_initial_space"),
    PrivateName("keras_tuner.engine.trial", "Trial.message"),
)


def check() -> None:
    """An ``IncompatibleLibraryError`` for the first name of ``PRIVATE_API`` that the installed Keras Tuner lacks."""
    check_private_api(__name__, LIBRARY, WRITTEN_AGAINST, PRIVATE_API)


class DeclaredSpaceTuner(keras_tuner.Tuner):
    """A ``Tuner`` whose hypermodel declares its whole space: ``declare_hyperparameters(hp)``."""

    def _populate_initial_space(self) -> None:
        # Keras Tuner's hook for tuners whose space is known up front. The default builds
        # the default configuration to discover the space, which would turn one invalid
        # configuration into a fatal error; a declared space has no conditional scopes to discover.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)


class BoundedBayesianOptimizationOracle(keras_tuner.oracles.BayesianOptimizationOracle):
    """Keras Tuner's Gaussian-process oracle, its integers kept inside their declared range.

    Its acquisition search runs over probabilities in [0, 1], bounds included, but
    ``Int.prob_to_value`` expects [0, 1) and maps exactly 1 to ``max_value + 1`` (keras-tuner
    1.4.8): a Gaussian process whose optimum lay on the upper bound proposed units=513 of [32, 512].
    """

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        proposal = super().populate_space(trial_id)
        values = proposal.get("values")
        for hp in self.hyperparameters.space if values else ():
            if isinstance(hp, keras_tuner.engine.hyperparameters.Int) and hp.name in values:
                values[hp.name] = min(max(values[hp.name], hp.min_value), hp.max_value)
        return proposal


def failure_message(trial: Any) -> str | None:
    """The traceback Keras Tuner keeps of a failed trial; None when it has none."""
    return trial.message
