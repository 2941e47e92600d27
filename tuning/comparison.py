"""What a comparison compares: benchmark tasks on your own Keras model and data, declared.

A ``Dataset`` declares what one benchmark task is: how to load the data, split and prepare
it, which builder makes the model, which ``Space`` it searches, which metric scores it, and
each profile's budget (a ``Setting``). The built-in tasks (benchmarks/definitions.py) and a
definition file given to ``python -m benchmarks.compare --definition FILE`` use the same form;
from Python, the harness runs them with
``benchmarks.compare.compare([task], methods=["random", "bayes"], out="results/")``, for a task
such as ``Dataset("digits", load=lambda: load_digits(return_X_y=True), space=space,
metric="accuracy", build=my_builder, settings={"standard": Setting(1.0, 36, 3)})``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuning.errors import TuningError
from tuning.metrics import Metric, get_metric
from tuning.space import Space
from tuning.splits import Split, split_arrays
from tuning.training import SearchProblem, error_line

if TYPE_CHECKING:
    pass

__all__ = ["PROFILES", "Dataset", "Profile", "Setting", "load_definitions", "no_preparation", "resolve_reference"]


@dataclass(frozen=True)
class Profile:
    """A named kind of run: how many seeds by default; each dataset gives its budget per profile."""

    name: str
    seeds: int
    description: str


PROFILES: Mapping[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("smoke", 1, "a few minutes on tiny slices; the tests run it"),
        Profile("standard", 1, "`make benchmark`: each dataset's standard budget, one seed (which ranks nothing)"),
        Profile("full", 10, "ten seeds and larger budgets, for statistics; about a day on 2 cores for the built-ins"),
    )
}


def _mlp_builder() -> Callable[..., Any]:
    from tuning.models import build_model

    return build_model


def no_preparation(split: Split) -> tuple[Split, dict[str, Any]]:
    """A split used as it is, with no builder values fitted on it."""
    return split, {}


@dataclass(frozen=True)
class Setting:
    """One profile's settings for one dataset. Budgets are epochs of training per cell.

    ``fraction`` of the data is used (every part, test included). ``epochs_per_trial`` is a
    full trial, the trial recipe's fixed length (``tuning.training``) and the final model's;
    with m x 3^k epochs, halving and Hyperband rungs (factor 3) end exactly on it. Budgets
    should be whole numbers of full trials. ``target`` is the test score the best method
    should reach (at least for a score where higher is better, at most otherwise).
    """

    fraction: float
    budget_epochs: int
    epochs_per_trial: int
    target: float | None = None


@dataclass(frozen=True)
class Dataset:
    """A benchmark task: how to load, split, prepare, build, search and score it.

    ``load()`` returns the data; ``split(data, seed, fraction=...)`` turns it into a ``Split``
    (default: ``(x, y)`` arrays, a fixed 20% test set and a seed-dependent 20% of the rest for
    validation); ``prepare(split)`` returns the split the models see and the builder values
    fitted on its training rows (input scaling, say). ``build(input_shape=..., n_classes=...,
    **hyperparameters)`` returns a compiled Keras model (default: ``tuning.models.build_model``,
    an MLP). ``metric`` is a ``Metric`` or a registered metric's name. ``settings`` maps a
    profile name (smoke, standard, full) to its ``Setting``. ``version`` is stored with every
    result: change it when the task changes, so that resumed runs do not mix old results in.
    """

    name: str
    load: Callable[[], Any]
    space: Space
    metric: Metric | str
    settings: Mapping[str, Setting]
    split: Callable[..., Split] = split_arrays
    prepare: Callable[[Split], tuple[Split, dict[str, Any]]] = no_preparation
    build: Callable[..., Any] = field(default_factory=_mlp_builder)
    version: str = "1"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise TuningError(f"a dataset's name must be a Python identifier, got {self.name!r}")
        if not isinstance(self.space, Space):
            raise TuningError(f"dataset {self.name!r}: space must be a tuning.space.Space, got {self.space!r}")
        object.__setattr__(self, "metric", get_metric(self.metric))
        for name in ("load", "split", "prepare", "build"):
            if not callable(getattr(self, name)):
                raise TuningError(f"dataset {self.name!r}: {name} must be callable, got {getattr(self, name)!r}")
        unknown = [p for p in self.settings if p not in PROFILES]
        if unknown or not self.settings:
            raise TuningError(
                f"dataset {self.name!r}: settings must map profiles ({', '.join(PROFILES)}) to a Setting, "
                f"got {sorted(self.settings)}"
            )
        for profile, setting in self.settings.items():
            if not isinstance(setting, Setting):
                raise TuningError(f"dataset {self.name!r}: settings[{profile!r}] is not a Setting: {setting!r}")

    @property
    def classification(self) -> bool:
        return self.metric.classification

    def setting(self, profile: str) -> Setting:
        if profile not in self.settings:
            raise TuningError(
                f"dataset {self.name!r} has no setting for profile {profile!r}; it has {', '.join(self.settings)}"
            )
        return self.settings[profile]

    @property
    def builder_name(self) -> str:
        return f"{getattr(self.build, '__module__', '?')}.{getattr(self.build, '__qualname__', repr(self.build))}"

    def load_data(self) -> Any:
        """``load()``'s data; a loader's failure is a bad input, one line naming the dataset."""
        try:
            return self.load()
        except (TuningError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a user's loader
            raise TuningError(f"dataset {self.name!r} failed to load: {error_line(exc)}") from None

    def problem(self, data: Any, seed: int, fraction: float) -> tuple[SearchProblem, Split]:
        """Seed ``seed``'s search problem (its training and validation rows, prepared) and the
        prepared split it came from, whose test rows only the final model sees."""
        split, fixed = self.prepare(self.split(data, seed, fraction=fraction))
        return SearchProblem.from_split(split, metric=self.metric, fixed=fixed, build=self.build), split

    def check(self, data: Any, fraction: float) -> None:
        """Split, prepare and build seed 0's problem once, so that a bad definition fails before any training."""
        try:
            problem, _ = self.problem(data, 0, fraction)
        except TuningError:
            raise
        except Exception as exc:  # a user's split or prepare
            raise TuningError(f"dataset {self.name!r} failed to split or prepare: {error_line(exc)}") from None
        try:
            problem.check(self.space)
        except TuningError as exc:
            raise TuningError(f"dataset {self.name!r}: {exc}") from None


def resolve_reference(methods: Sequence[str], requested: str | None = None) -> str:
    """The method whose median final score the report's budget-to-target figures race to:
    ``requested`` when given (it must be one of ``methods``), else random if it runs, else the first."""
    if requested is None:
        return "random" if "random" in methods else methods[0]
    if requested not in methods:
        raise TuningError(f"{requested!r} is not one of the methods run ({', '.join(methods)})")
    return requested


def load_definitions(path: str | Path) -> dict[str, Dataset]:
    """The datasets a definition file declares, by name.

    The file is Python; it declares ``DATASETS``, a list (or a mapping) of ``Dataset`` objects,
    as benchmarks/definitions.py does. Its builders and loaders may be used in other processes
    (``jobs``, Dask workers, Keras Tuner workers), so the module is pickled by value there.
    """
    import cloudpickle

    path = Path(path)
    if not path.is_file():
        raise TuningError(f"definition file {str(path)!r} does not exist")
    if path.suffix != ".py":
        raise TuningError(f"definition file {str(path)!r} is not a Python file (.py)")
    name = "tuning_definition_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TuningError(f"definition file {str(path)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by its name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: its failure is a bad input, named
        del sys.modules[name]
        raise TuningError(f"definition file {str(path)!r} failed: {error_line(exc)}") from None
    cloudpickle.register_pickle_by_value(module)
    declared = getattr(module, "DATASETS", None)
    if isinstance(declared, Mapping):
        declared = list(declared.values())
    if not declared:
        raise TuningError(f"definition file {str(path)!r} defines no DATASETS (a list of tuning.comparison.Dataset)")
    datasets: dict[str, Dataset] = {}
    for dataset in declared:
        if not isinstance(dataset, Dataset):
            raise TuningError(f"definition file {str(path)!r}: DATASETS holds {dataset!r}, not a Dataset")
        if dataset.name in datasets:
            raise TuningError(f"definition file {str(path)!r} declares dataset {dataset.name!r} twice")
        datasets[dataset.name] = dataset
    return datasets
