"""Search methods behind one interface: ``get_method(name).search(problem, space, budget)``."""

from __future__ import annotations

from tuning.errors import TuningError
from tuning.methods._sklearn import BayesSearch, GridSearch, RandomSearch
from tuning.methods.base import Budget, Plan, SearchMethod, SearchProblem, SearchResult, Trial
from tuning.methods.hyperband import HyperbandSearch

__all__ = [
    "METHODS",
    "BayesSearch",
    "Budget",
    "GridSearch",
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
    cls.name: cls for cls in (GridSearch, RandomSearch, BayesSearch, HyperbandSearch)
}


def get_method(name: str) -> SearchMethod:
    try:
        return METHODS[name]()
    except KeyError:
        raise TuningError(f"unknown method {name!r}; choose from {sorted(METHODS)}") from None
