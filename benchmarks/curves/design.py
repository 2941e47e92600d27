"""Which configurations a curve table holds: a scrambled Sobol design, then every point a grid method can visit."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

from tuning.space import Space, to_sklearn_grid

__all__ = ["configurations", "grid_points", "point_key"]


def sobol_points(space: Space, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` configurations of a scrambled Sobol sequence over ``space``: the first ``n`` of
    the smallest power of two, whose balance the prefix nearly keeps."""
    from scipy.stats import qmc

    if n == 0:
        return []
    units = qmc.Sobol(d=len(space), scramble=True, seed=seed).random_base2(max(0, math.ceil(math.log2(n))))[:n]
    return [{p.name: p.from_unit(float(u)) for p, u in zip(space, row, strict=True)} for row in units]


def grid_points(space: Space, max_points: Iterable[int]) -> list[dict[str, Any]]:
    """Every point of the grids of ``max_points`` points each, as the grid methods build them (``tuning.space``)."""
    points = []
    for size in max_points:
        grid = to_sklearn_grid(space, size)
        points += [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    return points


def point_key(point: dict[str, Any]) -> str:
    """A configuration's identity, whatever the order of its parameters."""
    return repr(sorted(point.items()))


def configurations(space: Space, n_design: int, *, seed: int, grid_sizes: Iterable[int] = ()) -> list[dict[str, Any]]:
    """The table's configurations, in a fixed order (design first), each once."""
    unique: dict[str, dict[str, Any]] = {}
    for point in sobol_points(space, n_design, seed) + grid_points(space, grid_sizes):
        unique.setdefault(point_key(point), point)
    return list(unique.values())
