"""Search methods behind one interface: ``get_method(name).search(problem, space, budget)``.

The method names are known without importing any method, so that a command line can check
its arguments before Keras, scikit-learn and Keras Tuner load (seconds). Everything else
here is imported on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tuning.errors import TuningError

if TYPE_CHECKING:
    from tuning.methods.base import Budget, Plan, SearchMethod, SearchProblem, SearchResult, Status, Trial
    from tuning.methods.hyperband import HyperbandSearch
    from tuning.methods.keras_tuner_search import KerasTunerBayes, KerasTunerGrid, KerasTunerRandom
    from tuning.methods.optuna_search import OptunaASHA, OptunaTPE
    from tuning.methods.sklearn_search import BayesSearch, GridSearch, HalvingRandomSearch, RandomSearch

    METHODS: dict[str, type[SearchMethod]]

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "METHOD_NAMES",
    "KerasTunerBayes",
    "KerasTunerGrid",
    "KerasTunerRandom",
    "BayesSearch",
    "Budget",
    "GridSearch",
    "HalvingRandomSearch",
    "HyperbandSearch",
    "OptunaASHA",
    "OptunaTPE",
    "Plan",
    "RandomSearch",
    "SearchMethod",
    "SearchProblem",
    "SearchResult",
    "Status",
    "Trial",
    "get_method",
]

# Each method's name (its class's ``name``; tests/test_compare.py holds them equal) and
# where its class lives, in the order reports list the methods.
_METHOD_CLASSES = {
    "grid": ("sklearn_search", "GridSearch"),
    "random": ("sklearn_search", "RandomSearch"),
    "bayes": ("sklearn_search", "BayesSearch"),
    "hyperband": ("hyperband", "HyperbandSearch"),
    "kt_random": ("keras_tuner_search", "KerasTunerRandom"),
    "kt_bayes": ("keras_tuner_search", "KerasTunerBayes"),
    "kt_grid": ("keras_tuner_search", "KerasTunerGrid"),
    "halving": ("sklearn_search", "HalvingRandomSearch"),
    "optuna_tpe": ("optuna_search", "OptunaTPE"),
    "optuna_asha": ("optuna_search", "OptunaASHA"),
}
METHOD_NAMES = tuple(_METHOD_CLASSES)
# The four methods the standard comparison runs; the others join with --methods all.
DEFAULT_METHODS = ("grid", "random", "bayes", "hyperband")

# Every other public name, and the module that defines it.
_LAZY_NAMES = {
    **{name: "base" for name in ("Budget", "Plan", "SearchMethod", "SearchProblem", "SearchResult", "Status", "Trial")},
    **{class_name: module for module, class_name in _METHOD_CLASSES.values()},
}


def __getattr__(name: str) -> Any:
    if name == "METHODS":
        value: Any = {method: _method_class(method) for method in METHOD_NAMES}
    elif name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups find it without coming here
    return value


def _method_class(name: str) -> type[SearchMethod]:
    module, class_name = _METHOD_CLASSES[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), class_name)


def get_method(name: str) -> SearchMethod:
    """A new instance of the method called ``name``; a ``TuningError`` for an unknown name."""
    if name not in _METHOD_CLASSES:
        raise TuningError(f"unknown method {name!r}; choose from {sorted(METHOD_NAMES)}")
    return _method_class(name)()
