"""Every private name that tuning.compat relies on is still in the installed libraries, and used only there."""

import importlib
import importlib.metadata
import math
import re
from pathlib import Path

import pytest

from tuning.compat import PrivateName
from tuning.errors import IncompatibleLibraryError

LIBRARIES = ("sklearn", "skopt", "scikeras", "keras_tuner", "keras", "joblib_dask")
REPO = Path(__file__).resolve().parents[1]
COMPAT = REPO / "tuning" / "compat"


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_installed_library_still_has_every_private_name_relied_on(library):
    importlib.import_module(f"tuning.compat.{library}").check()


def _check_fails_naming(library: str, private: str) -> None:
    """``tuning.compat.<library>.check()`` raises, in one line, that the installed version lacks ``private``."""
    compat = importlib.import_module(f"tuning.compat.{library}")
    installed = importlib.metadata.version(compat.LIBRARY)
    message = (
        f"{compat.LIBRARY} {installed} no longer has {private}, which tuning.compat.{library} relies on "
        f"(written against {compat.WRITTEN_AGAINST})"
    )
    with pytest.raises(IncompatibleLibraryError, match=f"^{re.escape(message)}$"):
        compat.check()


def test_a_missing_method_fails_the_check_naming_it(monkeypatch):
    monkeypatch.delattr("sklearn.model_selection._search.BaseSearchCV._check_refit_for_multimetric")
    _check_fails_naming("sklearn", "sklearn.model_selection._search.BaseSearchCV._check_refit_for_multimetric(scores)")


def test_a_changed_signature_fails_the_check_naming_the_parameters(monkeypatch):
    monkeypatch.setattr("skopt.BayesSearchCV._run_search", lambda self, evaluate, callback_ctx: None)
    _check_fails_naming("skopt", "skopt.BayesSearchCV._run_search(evaluate_candidates)")


def test_a_local_function_that_is_gone_fails_the_check(monkeypatch):
    monkeypatch.setattr("sklearn.model_selection._search.BaseSearchCV.fit", lambda self, X, y=None: self)
    local = "BaseSearchCV.fit.<locals>.evaluate_candidates(candidate_params, cv, more_results)"
    _check_fails_naming("sklearn", f"sklearn.model_selection._search.{local}")


def test_an_instance_attribute_no_longer_assigned_fails_the_check(monkeypatch):
    monkeypatch.setattr("joblib._dask.DaskDistributedBackend.start_call", lambda self: None)
    _check_fails_naming("joblib_dask", "joblib._dask.DaskDistributedBackend.call_data_futures")


def _private_parts(private: PrivateName) -> set[str]:
    """What code that touches ``private`` writes: each part of its name that starts with ``_``, its private module."""
    parts = {part for part in private.name.split(".") if part.startswith("_")}
    if any(part.startswith("_") for part in private.module.split(".")):
        parts.add(private.module)
    return parts


def test_no_private_name_is_touched_outside_tuning_compat():
    """Neither the library nor the harness touches a declared private name but through tuning.compat."""
    parts = set()
    for library in LIBRARIES:
        for private in importlib.import_module(f"tuning.compat.{library}").PRIVATE_API:
            parts |= _private_parts(private)
    touches = [
        f"{path.relative_to(REPO)}: {part}"
        for package in ("tuning", "benchmarks")
        for path in sorted((REPO / package).rglob("*.py"))
        if not path.is_relative_to(COMPAT)
        for part in sorted(parts)
        if re.search(rf"(?<!\w){re.escape(part)}(?!\w)", path.read_text())
    ]
    assert touches == []


@pytest.mark.parametrize("lr_schedule", ["constant", "warmup_cosine"])
def test_scanned_steps_train_exactly_as_keras_own_loop(california_split, lr_schedule):
    import keras

    from tuning.compat.keras import STEPS_PER_CALL, scan_steps
    from tuning.keras_schedules import ScheduleClock
    from tuning.models import build_model

    s = california_split
    # 661 rows in batches of 16: 42 batches an epoch, so under JAX one call scans 32 full
    # batches, the next scans 9 and steps through the last one, of 5 rows, on its own.
    fit = {"batch_size": 16, "epochs": 3, "verbose": 0, "validation_data": (s.x_val, s.y_val)}
    histories, calls = [], []
    for scanned in (False, True):
        keras.utils.set_random_seed(7)
        model = build_model(input_shape=s.x_train.shape[1:], n_layers=2, units_1=16, units_2=8, lr_schedule=lr_schedule)
        if scanned:
            scan_steps(model)
        # Batch hooks run once per call of the trainer's step function.
        count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs, calls=calls: calls.append(batch))
        histories.append(model.fit(s.x_train, s.y_train, callbacks=[ScheduleClock(), count], **fit).history)
    batches = math.ceil(len(s.x_train) / 16)
    scanned_calls = math.ceil(batches / STEPS_PER_CALL) if keras.backend.backend() == "jax" else batches
    assert len(s.x_train) % 16 and len(calls) == 3 * batches + 3 * scanned_calls
    keras_loop, scanned = histories
    assert scanned.keys() == keras_loop.keys() == {"loss", "rmse", "val_loss", "val_rmse"}
    for name, values in keras_loop.items():
        assert scanned[name] == pytest.approx(values, rel=1e-5), name


def test_models_with_other_layers_keep_keras_own_loop():
    import keras

    from tuning.compat.keras import STEPS_PER_CALL, scan_steps
    from tuning.models import build_cnn, build_model

    mlp, cnn = build_model(input_shape=(8,)), build_cnn(input_shape=(28, 28), n_classes=3, filters=2, n_blocks=1)
    keras_loop = cnn.make_train_function()
    for model in (mlp, cnn):
        scan_steps(model)
    scanning = keras.backend.backend() == "jax"
    assert mlp.steps_per_execution == (STEPS_PER_CALL if scanning else 1)
    # Convolutions run several times slower inside a compiled loop (SCANNED_LAYERS).
    assert cnn.steps_per_execution == 1 and cnn.make_train_function() is keras_loop


def test_keras_tuners_bayesian_oracle_keeps_integers_inside_their_range(tmp_path):
    import keras_tuner

    from tuning.compat.keras_tuner import BoundedBayesianOptimizationOracle

    hp = keras_tuner.HyperParameters()
    hp.Int("units", 32, 512, sampling="log")
    # Why the oracle is wrapped: a probability of exactly 1, which its bounded search reaches, is 513.
    assert hp.space[0].prob_to_value(1.0) == 513

    class MoreUnitsScoreBetter(keras_tuner.Tuner):
        def run_trial(self, trial, *args, **kwargs):
            return {"score": float(trial.hyperparameters.get("units"))}

    def build(hp):
        hp.Int("units", 32, 512, sampling="log")
        return None

    oracle = BoundedBayesianOptimizationOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=8, num_initial_points=3, seed=0
    )
    tuner = MoreUnitsScoreBetter(oracle=oracle, hypermodel=build, directory=tmp_path, project_name="bounded")
    tuner.search(verbose=0)
    proposed = [t.hyperparameters.get("units") for t in tuner.oracle.trials.values()]
    assert max(proposed) == 512 and min(proposed) >= 32


def test_keras_default_seeds_ignore_what_other_threads_draw_from_random():
    """A Dask worker's threads draw from Python's global random at any moment; a model's initial
    weights and dropout seeds must not depend on it."""
    import random

    import keras

    from tuning.compat.keras import seeds_of_its_own

    def weights(draws_between: int) -> list:
        keras.utils.set_random_seed(5)
        with seeds_of_its_own(5):
            for _ in range(draws_between):
                random.random()  # what another thread may do while the model is built
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5)])
        return [w.tolist() for w in model.get_weights()] + [model.layers[-1].seed_generator.state.numpy().tolist()]

    keras.utils.set_random_seed(5)
    alone = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dropout(0.5)])
    expected = [w.tolist() for w in alone.get_weights()] + [alone.layers[-1].seed_generator.state.numpy().tolist()]
    assert weights(0) == weights(7) == expected
