import json
import math

import keras_tuner
import numpy as np
import pytest
from scipy import stats
from sklearn.model_selection import ParameterGrid, ParameterSampler
from skopt.space import Categorical as SkoptCategorical
from skopt.space import Integer, Real

from tuning.errors import InvalidSpaceError
from tuning.space import (
    Categorical,
    Float,
    Int,
    Space,
    grid_levels,
    to_keras_tuner,
    to_scipy_distributions,
    to_sklearn_grid,
    to_skopt_dimensions,
)

SPACE = Space(
    [
        Float("learning_rate", 1e-4, 1e-1, log=True, default=1e-3),
        Int("units", 16, 256, log=True),
        Int("depth", 1, 3),
        Categorical("optimizer", ("adam", "sgd", "rmsprop")),
        Float("dropout", 0.0, 0.5),
    ]
)


def test_grid_levels_follow_round_robin_in_declaration_order():
    assert grid_levels(SPACE, 1) == {"learning_rate": 1, "units": 1, "depth": 1, "optimizer": 1, "dropout": 1}
    assert grid_levels(SPACE, 8) == {"learning_rate": 2, "units": 2, "depth": 2, "optimizer": 1, "dropout": 1}
    levels = grid_levels(SPACE, 100)
    assert math.prod(levels.values()) <= 100
    # Int and Categorical never get more levels than they have values.
    assert grid_levels(Space([Int("d", 1, 2), Categorical("c", ("x",))]), 50) == {"d": 2, "c": 1}


def test_grid_uses_defaults_then_bin_midpoints():
    one = to_sklearn_grid(SPACE, 1)
    assert one == {"learning_rate": [1e-3], "units": [64], "depth": [2], "optimizer": ["adam"], "dropout": [0.25]}
    grid = to_sklearn_grid(SPACE, 8, name=lambda n: f"model__{n}")
    # Two log bins over [1e-4, 1e-1] have geometric midpoints 10^-3.25 and 10^-1.75.
    np.testing.assert_allclose(grid["model__learning_rate"], [10**-3.25, 10**-1.75])
    # Integers own unit cells: two log bins over [15.5, 256.5] and two linear bins over [0.5, 3.5].
    assert grid["model__units"] == [31, 127]
    assert grid["model__depth"] == [1, 3]
    assert Int("depth", 1, 3).grid(3) == [1, 2, 3]
    assert Int("narrow", 1, 3, log=True).grid(3) == [1, 2, 3]  # falls back to linear bins
    assert len(ParameterGrid(grid)) == 8


def test_from_unit_maps_the_unit_interval_onto_each_parameter_as_random_search_draws_it():
    units = np.linspace(0, 1, 10_000, endpoint=False)
    for parameter in SPACE:
        values = [parameter.from_unit(u) for u in units]
        if isinstance(parameter, Categorical):
            shares = [values.count(c) / len(values) for c in parameter.choices]
            assert shares == pytest.approx([1 / 3] * 3, abs=1e-3)
        else:
            assert parameter.low <= min(values) and max(values) <= parameter.high
    depth = [SPACE["depth"].from_unit(u) for u in units]
    assert [depth.count(d) / len(depth) for d in (1, 2, 3)] == pytest.approx([1 / 3] * 3, abs=1e-3)
    # Log scales: the geometric middle at one half; every integer reached.
    assert SPACE["learning_rate"].from_unit(0.5) == pytest.approx(math.sqrt(1e-4 * 1e-1))
    assert {SPACE["units"].from_unit(u) for u in units} == set(range(16, 257))
    assert isinstance(SPACE["units"].from_unit(0.3), int) and isinstance(SPACE["dropout"].from_unit(0.3), float)


def test_scipy_distributions_sample_valid_values():
    dists = to_scipy_distributions(SPACE)
    assert isinstance(dists["depth"], type(stats.randint(1, 4)))
    assert isinstance(dists["optimizer"], list)
    samples = list(ParameterSampler(dists, n_iter=300, random_state=0))
    units = [s["units"] for s in samples]
    assert all(isinstance(u, int) and 16 <= u <= 256 for u in units)
    assert min(units) < 32 and max(units) > 128  # log-uniform reaches both ends
    assert all(1e-4 <= s["learning_rate"] <= 1e-1 for s in samples)
    assert np.median([s["learning_rate"] for s in samples]) < 1e-2  # log scale, not linear
    assert {s["optimizer"] for s in samples} == {"adam", "sgd", "rmsprop"}
    assert {s["depth"] for s in samples} == {1, 2, 3}


def test_skopt_dimensions_keep_bounds_and_priors():
    dims = to_skopt_dimensions(SPACE, name=lambda n: f"model__{n}")
    lr, units, depth, opt, dropout = (dims[f"model__{n}"] for n in SPACE.names)
    assert isinstance(lr, Real) and lr.prior == "log-uniform" and lr.bounds == (1e-4, 1e-1)
    assert isinstance(units, Integer) and units.prior == "log-uniform" and units.bounds == (16, 256)
    assert isinstance(depth, Integer) and depth.prior == "uniform"
    assert isinstance(opt, SkoptCategorical) and list(opt.categories) == ["adam", "sgd", "rmsprop"]
    assert isinstance(dropout, Real) and dropout.prior == "uniform"
    assert lr.name == "model__learning_rate"


def test_keras_tuner_declares_every_parameter_with_defaults():
    hp = keras_tuner.HyperParameters()
    values = to_keras_tuner(SPACE, hp)
    assert values == {"learning_rate": 1e-3, "units": 64, "depth": 2, "optimizer": "adam", "dropout": 0.25}
    lr = hp.get_config()["space"][0]["config"]
    assert (lr["min_value"], lr["max_value"], lr["sampling"]) == (1e-4, 1e-1, "log")
    assert hp.space[1].sampling == "log" and hp.space[2].sampling == "linear"
    assert hp.space[3].values == ["adam", "sgd", "rmsprop"]


def test_single_value_ranges_translate_everywhere():
    fixed = Space([Float("lr", 0.1, 0.1, log=True), Int("units", 8, 8)])
    assert to_sklearn_grid(fixed, 10) == {"lr": [0.1], "units": [8]}
    assert list(ParameterSampler(to_scipy_distributions(fixed), n_iter=1, random_state=0)) == [{"lr": 0.1, "units": 8}]
    dims = to_skopt_dimensions(fixed)
    assert list(dims["lr"].categories) == [0.1] and list(dims["units"].categories) == [8]
    assert to_keras_tuner(fixed, keras_tuner.HyperParameters()) == {"lr": 0.1, "units": 8}


def test_space_is_a_read_only_sequence():
    assert SPACE.names == ["learning_rate", "units", "depth", "optimizer", "dropout"]
    assert SPACE["depth"].high == 3
    assert len(SPACE) == 5
    with pytest.raises(KeyError):
        SPACE["missing"]


def test_a_space_survives_json_and_bad_declarations_name_their_parameter():
    space = Space(
        [Int("units", 8, 64, log=True, default=16), Float("rate", 0.0, 0.5), Categorical("act", ("relu", "tanh"))]
    )
    assert list(Space.from_dicts(json.loads(json.dumps(space.to_dicts())))) == list(space)
    with pytest.raises(InvalidSpaceError, match=r"^'units': kind must be one of \['Int', 'Float', 'Categorical'\]"):
        Space.from_dicts([{"kind": "Integer", "name": "units", "low": 1, "high": 2}])
    with pytest.raises(InvalidSpaceError, match=r"^'rate': .*unexpected keyword argument 'hi'"):
        Space.from_dicts([{"kind": "Float", "name": "rate", "low": 0.0, "hi": 1.0}])
    with pytest.raises(InvalidSpaceError, match=r"rate: low <= high must hold, got \(1\.0, 0\.5\)"):
        Space.from_dicts([{"kind": "Float", "name": "rate", "low": 1.0, "high": 0.5}])
