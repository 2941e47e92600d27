"""One search-space vocabulary and pure translators to each library's native form.

A space is declared once with ``Int``, ``Float`` and ``Categorical``. The translators
turn it into a scikit-learn grid, scipy distributions, skopt dimensions, Keras Tuner
``hp`` calls or Optuna ``trial.suggest_*`` calls; no other module builds a
library-specific space by hand.

Grid discretisation rule (``to_sklearn_grid``): every parameter starts with one level,
its default. Levels are then added round-robin, in declaration order, to each parameter
that can take another level, as long as the product of level counts stays within
``max_points``. A numeric parameter with ``k >= 2`` levels cuts ``[low, high]`` into ``k``
equal bins (equal in log space when ``log=True``) and takes each bin's midpoint, so that
a grid never sits on the extreme bounds of a wide range; integers are rounded and
de-duplicated (an integer owns the cell ``[i - 0.5, i + 0.5]``). A categorical parameter
with ``k`` levels uses its first ``k`` choices.
Declaration order is therefore priority order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from tuning.errors import InvalidSpaceError

__all__ = [
    "Categorical",
    "Float",
    "Int",
    "Parameter",
    "Space",
    "to_keras_tuner",
    "to_keras_tuner_grid",
    "to_optuna",
    "to_scipy_distributions",
    "to_skopt_dimensions",
    "to_sklearn_grid",
]

NameMap = Callable[[str], str]


def _identity(name: str) -> str:
    return name


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidSpaceError(f"parameter name must be an identifier, got {name!r}")


def _check_bounds(name: str, low: float, high: float, log: bool) -> None:
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidSpaceError(f"{name}: bounds must be finite, got ({low!r}, {high!r})")
    if low > high:
        raise InvalidSpaceError(f"{name}: low <= high must hold, got ({low!r}, {high!r})")
    if log and low <= 0:
        raise InvalidSpaceError(f"{name}: a log scale needs low > 0, got low={low!r}")


def _bin_midpoints(low: float, high: float, n: int, log: bool) -> np.ndarray:
    fractions = (np.arange(n) + 0.5) / n
    if log:
        return np.exp(np.log(low) + fractions * (np.log(high) - np.log(low)))
    return low + fractions * (high - low)


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]``, both ends included."""

    name: str
    low: int
    high: int
    log: bool = False
    default: int | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        for bound in (self.low, self.high):
            if isinstance(bound, bool) or not isinstance(bound, (int, np.integer)):
                raise InvalidSpaceError(f"{self.name}: Int bounds must be integers, got {bound!r}")
        _check_bounds(self.name, self.low, self.high, self.log)
        if self.default is not None and not self.low <= self.default <= self.high:
            raise InvalidSpaceError(f"{self.name}: default {self.default!r} is outside [{self.low}, {self.high}]")

    @property
    def center(self) -> int:
        if self.default is not None:
            return int(self.default)
        mid = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        return round(mid)

    @property
    def n_levels(self) -> float:
        return self.high - self.low + 1

    def grid(self, n: int) -> list[int]:
        if n == 1:
            return [self.center]
        # Integers own unit-wide cells, so bins cover [low - 0.5, high + 0.5]; a log grid
        # too crowded to give n distinct integers falls back to linear bins.
        low, high = max(self.low - 0.5, 1e-9 if self.log else -math.inf), self.high + 0.5
        for log in dict.fromkeys((self.log, False)):
            values = sorted({math.floor(v + 0.5) for v in _bin_midpoints(low, high, n, log)})
            if len(values) == n:
                break
        return [min(max(v, self.low), self.high) for v in values]

    def from_unit(self, u: float) -> int:
        """The integer at ``u`` in [0, 1): each integer owns an equal share of ``[low - 0.5, high + 0.5]``
        (equal in log space with ``log``), as random search draws them."""
        low, high = (max(self.low - 0.5, 1e-9), self.high + 0.5)
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if self.log else low + u * (high - low)
        return min(max(math.floor(value + 0.5), self.low), self.high)

    def scipy(self) -> Any:
        if self.low == self.high:
            return [self.low]
        if self.log:
            return _RoundedLogUniform(self.low, self.high)
        from scipy import stats

        return stats.randint(self.low, self.high + 1)

    def skopt(self, name: str) -> Any:
        from skopt.space import Categorical as SkoptCategorical
        from skopt.space import Integer

        if self.low == self.high:  # skopt rejects empty ranges; a single value is a categorical
            return SkoptCategorical([self.low], name=name)
        return Integer(self.low, self.high, prior="log-uniform" if self.log else "uniform", name=name)

    def keras_tuner(self, hp: Any) -> int:
        return hp.Int(self.name, self.low, self.high, sampling="log" if self.log else "linear", default=self.center)

    def optuna(self, trial: Any) -> int:
        return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)


@dataclass(frozen=True)
class Float:
    """A real number in ``[low, high]``; ``log=True`` samples it on a log scale."""

    name: str
    low: float
    high: float
    log: bool = False
    default: float | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_bounds(self.name, float(self.low), float(self.high), self.log)
        if self.default is not None and not self.low <= self.default <= self.high:
            raise InvalidSpaceError(f"{self.name}: default {self.default!r} is outside [{self.low}, {self.high}]")

    @property
    def center(self) -> float:
        if self.default is not None:
            return float(self.default)
        return math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2

    @property
    def n_levels(self) -> float:
        return math.inf if self.high > self.low else 1

    def grid(self, n: int) -> list[float]:
        if n == 1:
            return [self.center]
        return [float(v) for v in _bin_midpoints(self.low, self.high, n, self.log)]

    def from_unit(self, u: float) -> float:
        """The value at ``u`` in [0, 1) of the range, in log space with ``log``."""
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return float(self.low + u * (self.high - self.low))

    def scipy(self) -> Any:
        from scipy import stats

        if self.low == self.high:
            return [self.low]
        if self.log:
            return stats.loguniform(self.low, self.high)
        return stats.uniform(self.low, self.high - self.low)

    def skopt(self, name: str) -> Any:
        from skopt.space import Categorical as SkoptCategorical
        from skopt.space import Real

        if self.low == self.high:  # skopt rejects empty ranges; a single value is a categorical
            return SkoptCategorical([self.low], name=name)
        return Real(self.low, self.high, prior="log-uniform" if self.log else "uniform", name=name)

    def keras_tuner(self, hp: Any) -> float:
        return hp.Float(self.name, self.low, self.high, sampling="log" if self.log else "linear", default=self.center)

    def optuna(self, trial: Any) -> float:
        return trial.suggest_float(self.name, float(self.low), float(self.high), log=self.log)


@dataclass(frozen=True)
class Categorical:
    """One of a fixed list of choices; the first choice is the default."""

    name: str
    choices: tuple[Any, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise InvalidSpaceError(f"{self.name}: a categorical parameter needs at least one choice")
        if len(set(map(repr, self.choices))) != len(self.choices):
            raise InvalidSpaceError(f"{self.name}: choices must be distinct, got {list(self.choices)!r}")

    @property
    def center(self) -> Any:
        return self.choices[0]

    @property
    def n_levels(self) -> float:
        return len(self.choices)

    def grid(self, n: int) -> list[Any]:
        return list(self.choices[:n])

    def from_unit(self, u: float) -> Any:
        """The choice whose equal share of [0, 1) holds ``u``."""
        return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]

    def scipy(self) -> list[Any]:
        # ParameterSampler draws uniformly from a list, which is exactly a categorical.
        return list(self.choices)

    def skopt(self, name: str) -> Any:
        from skopt.space import Categorical as SkoptCategorical

        return SkoptCategorical(list(self.choices), name=name)

    def keras_tuner(self, hp: Any) -> Any:
        return hp.Choice(self.name, list(self.choices), default=self.center)

    def optuna(self, trial: Any) -> Any:
        return trial.suggest_categorical(self.name, list(self.choices))


Parameter = Int | Float | Categorical


PARAMETER_KINDS = {kind.__name__: kind for kind in (Int, Float, Categorical)}


class _RoundedLogUniform:
    """Integers drawn log-uniformly; scipy has no integer log-uniform distribution."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        from scipy import stats

        # Widen by half a unit each side so that rounding gives every integer its share.
        self._continuous = stats.loguniform(max(low - 0.5, 1e-9), high + 0.5)

    def rvs(self, size: Any = None, random_state: Any = None) -> Any:
        draw = np.clip(np.rint(self._continuous.rvs(size=size, random_state=random_state)), self.low, self.high)
        return int(draw) if size is None else draw.astype(int)

    def __repr__(self) -> str:
        return f"RoundedLogUniform({self.low}, {self.high})"


class Space(Sequence[Parameter]):
    """An ordered, immutable collection of uniquely named parameters."""

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        params = tuple(parameters)
        if not params:
            raise InvalidSpaceError("a search space needs at least one parameter")
        for p in params:
            if not isinstance(p, (Int, Float, Categorical)):
                raise InvalidSpaceError(f"not a search-space parameter: {p!r}")
        names = [p.name for p in params]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InvalidSpaceError(f"duplicate parameter names: {duplicated!r}")
        self._params = params

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str):
            for p in self._params:
                if p.name == index:
                    return p
            raise KeyError(index)
        return self._params[index]

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._params)

    def __repr__(self) -> str:
        return f"Space({list(self._params)!r})"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self._params]

    def to_dicts(self) -> list[dict[str, Any]]:
        """The space as plain, JSON-ready data: each parameter's kind and fields; ``from_dicts`` reads it back."""
        return [{"kind": type(p).__name__, **{f.name: getattr(p, f.name) for f in fields(p)}} for p in self._params]

    @classmethod
    def from_dicts(cls, described: Sequence[dict[str, Any]]) -> Space:
        """A space from ``to_dicts``'s form (as read from JSON or TOML), checked as if declared in code."""
        parameters = []
        for entry in described:
            if not isinstance(entry, dict):
                raise InvalidSpaceError(f"expected a parameter as a table of fields, got {entry!r}")
            settings = dict(entry)
            kind = settings.pop("kind", None)
            if kind not in PARAMETER_KINDS:
                raise InvalidSpaceError(
                    f"{settings.get('name')!r}: kind must be one of {list(PARAMETER_KINDS)}, got {kind!r}"
                )
            try:
                parameters.append(PARAMETER_KINDS[kind](**settings))
            except TypeError as exc:
                raise InvalidSpaceError(f"{settings.get('name')!r}: {exc}") from None
        return cls(parameters)


def grid_levels(space: Space, max_points: int) -> dict[str, int]:
    """How many levels each parameter gets under the round-robin rule in the module docstring."""
    if max_points < 1:
        raise InvalidSpaceError(f"a grid needs max_points >= 1, got {max_points!r}")
    levels = {p.name: 1 for p in space}
    grew = True
    while grew:
        grew = False
        for p in space:
            if levels[p.name] + 1 > p.n_levels:
                continue
            trial = math.prod(levels.values()) // levels[p.name] * (levels[p.name] + 1)
            if trial <= max_points:
                levels[p.name] += 1
                grew = True
    return levels


def to_sklearn_grid(space: Space, max_points: int, name: NameMap = _identity) -> dict[str, list[Any]]:
    """A ``GridSearchCV`` ``param_grid`` with at most ``max_points`` points."""
    levels = grid_levels(space, max_points)
    return {name(p.name): p.grid(levels[p.name]) for p in space}


def to_scipy_distributions(space: Space, name: NameMap = _identity) -> dict[str, Any]:
    """``RandomizedSearchCV`` ``param_distributions``: scipy distributions and lists."""
    return {name(p.name): p.scipy() for p in space}


def to_skopt_dimensions(space: Space, name: NameMap = _identity) -> dict[str, Any]:
    """``BayesSearchCV`` ``search_spaces``: skopt ``Integer``, ``Real`` and ``Categorical``."""
    return {name(p.name): p.skopt(name(p.name)) for p in space}


def to_keras_tuner_grid(space: Space, max_points: int, hp: Any) -> dict[str, Any]:
    """Declare the ``to_sklearn_grid`` grid as Keras Tuner ``hp.Choice`` values, for its ``GridSearch``."""
    grid = to_sklearn_grid(space, max_points)
    return {name: hp.Choice(name, values, default=values[0]) for name, values in grid.items()}


def to_keras_tuner(space: Space, hp: Any) -> dict[str, Any]:
    """Declare every parameter on a Keras Tuner ``HyperParameters`` and return the values it chose."""
    return {p.name: p.keras_tuner(hp) for p in space}


def to_optuna(space: Space, trial: Any) -> dict[str, Any]:
    """Suggest every parameter on an Optuna ``Trial`` and return the values it chose."""
    return {p.name: p.optuna(trial) for p in space}
