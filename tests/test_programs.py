"""Compiled programs shared between twin models: the same scores to the last bit, and nothing compiled twice."""

import contextlib

import jax
import keras
import pytest

from tuning import programs
from tuning.methods import METHODS, Budget, SearchProblem, get_method
from tuning.space import Categorical, Float, Int, Space
from tuning.training import fit_configuration, score

SPACE = Space(
    [
        Float("learning_rate_scale", 0.3, 3.0, log=True),
        Int("units", 8, 9),
        Categorical("batch_size", (128, 256)),
        Categorical("lr_schedule", ("cosine", "constant")),
    ]
)
BUDGET = Budget(total_epochs=8, epochs_per_trial=2)
SEED = 3


@contextlib.contextmanager
def compilations():
    """The programs JAX lowers while the block runs: every program compiled, or loaded from the
    persistent cache, is lowered first (Keras' shape inference traces, but lowers nothing)."""
    lowered = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            lowered.append(kwargs.get("fun_name", "?"))

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield lowered
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


@pytest.fixture
def problem(california_split):
    x = california_split.x_train
    fixed = {"n_layers": 1, "input_mean": x.mean(0), "input_scale": x.std(0)}
    return SearchProblem.from_split(california_split, metric="rmse", fixed=fixed)


@pytest.fixture
def sharing(monkeypatch):
    """Turns sharing on or off for the rest of the test, with an empty store either way."""

    def switch(on: bool) -> None:
        monkeypatch.setenv(programs.REUSE_SWITCH, "1" if on else "0")
        programs.STORE.clear()

    yield switch
    programs.STORE.clear()


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_scores_the_same_with_programs_shared_or_not(name, problem, sharing):
    scores = {}
    for on in (False, True):
        sharing(on)
        result = get_method(name).search(problem, SPACE, BUDGET, seed=SEED)
        scores[on] = [(t.params, t.fidelity, t.val_score) for t in result.trials]
    assert scores[True] == scores[False]


def _dense(units: int, *, schedule: str = "constant", layer=None):
    from tuning.keras_schedules import learning_rate_for

    first = [] if layer is None else [layer]
    model = keras.Sequential(
        [keras.Input((8,)), *first, keras.layers.Dense(units, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.Adam(learning_rate_for(schedule, 1e-2)), "mean_squared_error")
    return model


def _fit(problem, build, epochs=1, seed=0):
    keras.backend.clear_session(free_memory=False)
    fitted = fit_configuration(build, problem.x_train, problem.y_train, epochs=epochs, seed=seed, batch_size=128)
    return score(fitted.model, problem.x_val, problem.y_val, problem.metric)


def test_the_second_model_of_a_configuration_compiles_nothing(problem, sharing):
    sharing(True)
    first = _fit(problem, lambda: _dense(8))
    with compilations() as traced:
        second = _fit(problem, lambda: _dense(8))
    assert traced == [] and second == first
    with compilations() as traced:
        _fit(problem, lambda: _dense(9))
    assert traced, "a new width is a new program"


def test_a_schedule_of_another_length_is_another_program(problem, sharing):
    """A schedule's length is a constant of the compiled step: fits of 1 and 2 epochs must not share it."""
    found = {}
    for on in (False, True):
        sharing(on)
        found[on] = [_fit(problem, lambda: _dense(8, schedule="cosine"), epochs=epochs) for epochs in (1, 2, 1)]
    assert found[True] == found[False]


@keras.saving.register_keras_serializable(package="test_programs")
class Scale(keras.layers.Layer):
    """A user's layer whose constant is a constructor argument: Keras' config carries it."""

    def __init__(self, factor: float, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Factor:
    """A plain Python object, which Keras cannot serialise."""

    def __init__(self, value: float):
        self.value = value


class Opaque(keras.layers.Layer):
    """A user's layer whose config Keras cannot serialise: its models compile their own programs."""

    def __init__(self, table: Factor, **kwargs):
        super().__init__(**kwargs)
        self.table = table

    def call(self, x):
        return x * self.table.value

    def get_config(self):
        return {**super().get_config(), "table": self.table}


def test_custom_layers_share_only_what_their_config_says_is_the_same(problem, sharing):
    results = {}
    for on in (False, True):
        sharing(on)
        results[on] = [_fit(problem, lambda f=factor: _dense(8, layer=Scale(f))) for factor in (0.5, 2.0, 0.5)]
    assert results[True] == results[False]
    assert results[True][0] != results[True][1] and results[True][0] == results[True][2]

    model = _dense(8, layer=Opaque(Factor(0.5)))
    assert programs.program_key(model) is None
    assert programs.program_key(_dense(8, layer=Scale(0.5))) != programs.program_key(_dense(8, layer=Scale(2.0)))


def test_a_full_store_clears_itself_and_jax(problem, sharing):
    sharing(True)
    store = programs.ProgramStore(limit=2)
    made = []
    for units in (8, 9, 10):
        model = _dense(units)
        store.function(programs.program_key(model), model, "predict", lambda: made.append(1) or (lambda s, i: None))
    assert len(store) == 1 and store.made == len(made) == 3
