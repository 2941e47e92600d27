"""Compiled training, evaluation and prediction programs, shared by models that would compile the same ones.

Under JAX every new Keras model traces, lowers and compiles (or loads from the persistent
cache) its own steps, though a model built from the same configuration compiles exactly the
same program; for a small model that costs several times its training. Keras' JAX trainer
keeps a model's state outside its steps (``train_function(state, iterator)``, pure in
``state``), so a new model can run an earlier twin's functions on its own state, with the
same results to the last bit (tests/test_programs.py).

Two models are twins when their keys are equal: the model's serialised configuration (its
layers and their constants), its compile configuration (loss, metrics, steps per execution),
the optimizer's configuration without its learning rate, the backend's float type, and the
Python classes of the model, its layers, its optimizer and a loss given as a function (two
classes or functions of one name are two keys). A constant learning rate is a variable, an
input of the step, so twins may differ in it; a learning-rate schedule is part of the program
and joins the key when the function is first called, after the fit's callbacks have begun
(``tuning.keras_schedules.ScheduleClock`` sets its length). A model whose configuration cannot be
serialised to JSON gets its own functions, as it would without this module. A custom layer
must say in ``get_config`` everything its computation depends on, as Keras' saving needs too.

``PROGRAM_LIMIT`` bounds what a process keeps. ``TUNING_REUSE_PROGRAMS=0`` in the environment
turns sharing off: every model then compiles its own functions, and JAX's caches are cleared
before each model (``tuning.training.fresh_keras_state``).
"""

from __future__ import annotations

import json
import os
import types
import weakref
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "FUNCTION_KINDS",
    "PROGRAM_LIMIT",
    "REUSE_SWITCH",
    "ProgramStore",
    "program_key",
    "reuse_enabled",
    "share_programs",
]

# The environment variable that turns sharing off ("0"); anything else, or nothing, leaves it on.
REUSE_SWITCH = "TUNING_REUSE_PROGRAMS"
# How many program keys' functions one process keeps before it drops them all. Dropping only
# the oldest would free nothing: JAX's tracing caches keep every function alive until
# ``jax.clear_caches()``, which drops every compiled function at once. Each entry holds its
# programs, their traces and its first model (reports/perf.md's memory curve shows what 8 cost),
# so memory stays bounded over any number of architectures.
PROGRAM_LIMIT = 8
# The model functions Keras' trainers call, by the name of their ``make_*_function``.
FUNCTION_KINDS = ("train", "test", "predict")

StepFunction = Callable[[Any, Iterator[Any]], tuple[Any, Any]]


def reuse_enabled() -> bool:
    """Whether models share compiled programs (``REUSE_SWITCH`` unset or not "0")."""
    return os.environ.get(REUSE_SWITCH, "1") != "0"


def _schedule(model: Any) -> Any:
    """The optimizer's learning-rate schedule (part of the program), or None for a constant rate."""
    import keras

    from tuning.compat.keras import learning_rate_as_given

    given = learning_rate_as_given(model.optimizer)
    return given if isinstance(given, keras.optimizers.schedules.LearningRateSchedule) else None


def _classes(model: Any) -> tuple[type, ...]:
    from tuning.compat.keras import all_layers

    classes = [type(model), type(model.optimizer), *(type(layer) for layer in all_layers(model))]
    if isinstance(model.loss, types.FunctionType):
        # Serialised, a function is its name; two functions of one name are two losses.
        classes.append(model.loss)  # type: ignore[arg-type]
    return tuple(classes)


def program_key(model: Any) -> tuple[str, tuple[Any, ...]] | None:
    """What makes two compiled models' steps the same program, but for their learning-rate
    schedules (``ProgramStore.function`` adds those); None if it cannot be said.

    Taken before a fit: during one, Keras' JAX trainer has moved the variables' values out.
    """
    import keras

    if not model.compiled or model.optimizer is None:
        return None
    try:
        compile_config = dict(model.get_compile_config())
        compile_config.pop("optimizer", None)
        optimizer = dict(model.optimizer.get_config())
        # A constant rate lives in a variable, an input of the step; a schedule is keyed when the fit has begun.
        optimizer.pop("learning_rate", None)
        material = {
            "model": model.get_config(),
            "compile": compile_config,
            "optimizer": optimizer,
            "floatx": keras.config.floatx(),
        }
        text = json.dumps(material, sort_keys=True, default=_refuse)
    except Exception:  # whatever stops a configuration from being said (a user's layer), no twin shares it
        return None
    return text, _classes(model)


def _refuse(value: Any) -> Any:
    raise TypeError(f"not serialisable: {type(value).__name__}")


class ProgramStore:
    """Step functions of up to ``limit`` program keys, each made by its first model; a new key
    beyond the limit clears the store and JAX's caches first."""

    def __init__(self, limit: int = PROGRAM_LIMIT) -> None:
        self.limit = limit
        self._entries: dict[Any, dict[str, StepFunction]] = {}
        # How many functions were made (not taken from the store) since the process started.
        self.made = 0

    def __len__(self) -> int:
        return len(self._entries)

    def function(self, key: Any, model: Any, kind: str, make: Callable[[], StepFunction]) -> StepFunction:
        """``model``'s ``kind`` function: a twin's kept one, or ``make()``'s, kept for later twins.

        ``key`` is ``program_key(model)``, taken before the fit; None makes the model's own.
        """
        if key is None:
            self.made += 1
            return make()
        schedule = _schedule(model)
        key = (key, None if schedule is None else (type(schedule), json.dumps(schedule.get_config(), sort_keys=True)))
        if key not in self._entries and len(self._entries) >= self.limit:
            self.clear()
        entry = self._entries.setdefault(key, {})
        if kind not in entry:
            self.made += 1
            entry[kind] = make()
        return entry[kind]

    def clear(self) -> None:
        """Drop every kept function, and JAX's caches, which would otherwise keep them alive."""
        import jax

        self._entries.clear()
        jax.clear_caches()


# The process's store: every model trained through ``tuning.training.prepare_fit`` uses it.
STORE = ProgramStore()


def share_programs(model: Any) -> None:
    """Give ``model`` functions that, when first called, become a twin's or the model's own.

    The model's own are those it has now (``tuning.compat.keras.scan_steps``'s) or else the
    ones Keras' ``make_*_function`` makes. Nothing changes when sharing is off (``REUSE_SWITCH``),
    under another backend than JAX, or for a model that runs eagerly or is distributed.
    """
    import keras

    if not reuse_enabled() or keras.backend.backend() != "jax" or model.run_eagerly or not model.jit_compile:
        return
    if keras.distribution.distribution() is not None:
        return  # sharded steps carry their model's layout
    key = program_key(model)
    for kind in FUNCTION_KINDS:
        setattr(model, f"{kind}_function", _Placeholder(model, key, kind, getattr(model, f"{kind}_function")))


class _Placeholder:
    """A model function not yet chosen: the first call chooses it, installs it on the model and runs it.

    It holds its model weakly, so that a kept function never keeps a placeholder's model alive.
    """

    def __init__(self, model: Any, key: Any, kind: str, own: StepFunction | None) -> None:
        self._model, self._key, self._kind, self._own = weakref.ref(model), key, kind, own

    def _make(self, model: Any) -> StepFunction:
        if self._own is not None:
            return self._own
        getattr(model, f"make_{self._kind}_function")(force=True)
        return getattr(model, f"{self._kind}_function")

    def __call__(self, state: Any, iterator: Iterator[Any]) -> tuple[Any, Any]:
        model = self._model()
        function = STORE.function(self._key, model, self._kind, lambda: self._make(model))
        setattr(model, f"{self._kind}_function", function)
        return function(state, iterator)
