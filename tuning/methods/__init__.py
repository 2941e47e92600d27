"""Search methods behind one interface: ``get_method(name).search(problem, space, budget)``."""

from __future__ import annotations

from tuning.errors import TuningError
from tuning.methods._keras_tuner import KerasTunerBayes, KerasTunerGrid, KerasTunerRandom
from tuning.methods._sklearn import BayesSearch, GridSearch, HalvingRandomSearch, RandomSearch
from tuning.methods.base import Budget, Plan, SearchMethod, SearchProblem, SearchResult, Trial
from tuning.methods.hyperband import HyperbandSearch

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "KerasTunerBayes",
    "KerasTunerGrid",
    "KerasTunerRandom",
    "BayesSearch",
    "Budget",
    "GridSearch",
    "HalvingRandomSearch",
    "HyperbandSearch",
    "Plan",
    "RandomSearch",
    "SearchMethod",
    "SearchProblem",
    "SearchResult",
    "Trial",
    "get_method",
]

METHODS: dict[str, type[SearchMethod]] = {
    cls.name: cls
    for cls in (
        GridSearch,
        RandomSearch,
        BayesSearch,
        HyperbandSearch,
        KerasTunerRandom,
        KerasTunerBayes,
        KerasTunerGrid,
        HalvingRandomSearch,
    )
}
# The four methods the standard comparison runs; the others join with --methods all.
DEFAULT_METHODS = ("grid", "random", "bayes", "hyperband")


def get_method(name: str) -> SearchMethod:
    try:
        return METHODS[name]()
    except KeyError:
        raise TuningError(f"unknown method {name!r}; choose from {sorted(METHODS)}") from None
