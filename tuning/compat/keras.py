"""Keras internals: the learning rate an optimizer was built with, and the JAX trainer's step loop.

Written against Keras 3.15.1. Keras 3's JAX trainer runs ``steps_per_execution`` steps as a
Python loop around the compiled step, so a small model spends most of an epoch dispatching
steps (measured on 2 cores: California's MLP at batch 64, 207 steps, 0.110 s per epoch in
Keras' loop, 0.024 s scanned; ``python -m benchmarks.perf`` has the full table).
``scan_steps`` replaces that loop with one compiled loop over each
``STEPS_PER_CALL`` batches; it relies on the trainer calling ``train_function(state, iterator)``
and ``test_function(state, iterator)`` once per ``steps_per_execution`` batches, and on
``train_step(state, data)`` and ``test_step(state, data)`` being pure (the documented way
to customise ``fit`` under JAX). tests/test_compat.py checks that a fit's history is the
same with and without it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tuning.compat import PrivateName, check_private_api

__all__ = [
    "PRIVATE_API",
    "SCANNED_LAYERS",
    "all_layers",
    "check",
    "learning_rate_as_given",
    "scan_steps",
    "seeds_of_its_own",
]

LIBRARY = "keras"
WRITTEN_AGAINST = "3.15.1"
PRIVATE_API = (
    PrivateName("keras.optimizers", "Optimizer._learning_rate"),
    # What makes every model function of the JAX trainer: ``function(state, iterator)``, the
    # convention ``scan_steps`` and ``tuning.programs`` write their functions to.
    PrivateName("keras.src.backend.jax.trainer", "JAXTrainer._make_function", ("step_function",)),
    # Where Keras draws the default seeds of layers, initializers and seed generators: Python's ``random``.
    PrivateName("keras.src.random.seed_generator", "python_random"),
)
# Batches per compiled call. Measured on 2 cores (Fashion-MNIST's 784-256-10 at batch 64-256,
# California's MLP at 64 and 256): 16-32 were fastest; a whole epoch per call was slower at
# Fashion-MNIST's sizes, its stacked batches (160 MB) far larger than the caches. Callbacks'
# batch hooks run once per call, as Keras documents for steps_per_execution.
STEPS_PER_CALL = 32
# The layers whose steps were measured as fast inside a compiled loop as outside it. Others stay
# in Keras' loop: a 2-block CNN (16 filters, batch 128, 12,500 Fashion-MNIST images) took 35 s
# per epoch scanned against 10 s in Keras' loop on 2 cores (2026-11-30); XLA's CPU convolutions
# lose their speed inside a loop.
SCANNED_LAYERS = ("InputLayer", "Dense", "Dropout", "Normalization", "Rescaling", "Flatten", "Reshape", "Activation")


def check() -> None:
    """An ``IncompatibleLibraryError`` for the first name of ``PRIVATE_API`` that the installed Keras lacks."""
    check_private_api(__name__, LIBRARY, WRITTEN_AGAINST, PRIVATE_API)


def learning_rate_as_given(optimizer: Any) -> Any:
    """The optimizer's ``LearningRateSchedule``, or the variable of a constant rate; None if it has neither.

    Keras 3 keeps what it was given on a private attribute: ``optimizer.learning_rate``
    is the current rate, computed from the schedule.
    """
    return getattr(optimizer, "_learning_rate", None)


def scan_steps(model: Any) -> None:
    """Under JAX, train (and evaluate) a compiled model ``STEPS_PER_CALL`` steps per compiled call.

    Same steps, same order, same results as Keras' own loop; nothing changes under the other
    backends, for a model that runs eagerly or is distributed, or for one with a layer outside
    ``SCANNED_LAYERS``.
    """
    import keras

    if keras.backend.backend() != "jax" or model.run_eagerly or keras.distribution.distribution() is not None:
        return
    if not all(type(layer).__name__ in SCANNED_LAYERS for layer in all_layers(model)):
        return
    model.steps_per_execution = STEPS_PER_CALL
    model.train_function = _scanned(model.train_step)
    model.test_function = _scanned(model.test_step)


def all_layers(model: Any) -> Iterator[Any]:
    """Every layer of ``model``, those of nested models included."""
    for layer in model.layers:
        yield from all_layers(layer) if hasattr(layer, "layers") else (layer,)


def _scanned(step: Callable[[Any, Any], tuple[Any, Any]]) -> Callable[[Any, Iterator[Any]], tuple[Any, Any]]:
    """``step`` over every batch the iterator has left, one compiled program per batch shape.

    Full batches go through one compiled loop over ``STEPS_PER_CALL`` stacked batches, the
    epoch's last, shorter chunk padded to that length and its padding never stepped: the
    trip count is an argument, not a shape, so every chunk of a fit (and of every fit with
    the same architecture and batch size, through JAX's persistent cache) reuses one
    program. A short last batch is stepped on its own.
    """
    import jax
    import numpy as np

    def loop(state: Any, batches: Any, count: Any) -> tuple[Any, Any]:
        def batch_at(index: Any) -> Any:
            return jax.tree.map(lambda leaves: jax.lax.dynamic_index_in_dim(leaves, index, keepdims=False), batches)

        def body(index: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
            _, state = carry
            return step(state, batch_at(index))

        # The loop starts from logs of the step's shapes, not from a first step taken outside
        # it: the program then holds the step once. A trial of new shapes compiles 17% less
        # (six California configurations, 25.9 s -> 21.5 s in all, 2026-12-01), same scores.
        logs_shapes, _ = jax.eval_shape(body, 0, (None, state))
        logs = jax.tree.map(lambda leaf: jax.numpy.zeros(leaf.shape, leaf.dtype), logs_shapes)
        return jax.lax.fori_loop(0, count, body, (logs, state))

    loop_jit = jax.jit(loop, donate_argnums=0)
    step_jit = jax.jit(step, donate_argnums=0)

    def shapes(batch: Any) -> list[tuple[int, ...]]:
        return [np.shape(leaf) for leaf in jax.tree.leaves(batch)]

    def stacked(batches: list[Any]) -> Any:
        padded = batches + [batches[-1]] * (STEPS_PER_CALL - len(batches))
        return jax.tree.map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *padded)

    def run(state: Any, iterator: Iterator[Any]) -> tuple[Any, Any]:
        logs = None
        # Every batch but the last has the batch size; the last may be shorter.
        runs = [list(run) for _, run in itertools.groupby(itertools.islice(iterator, STEPS_PER_CALL), key=shapes)]
        for index, batches in enumerate(runs):
            if len(batches) == 1 and index > 0:
                logs, state = step_jit(state, batches[0])
            else:
                logs, state = loop_jit(state, stacked(batches), np.int32(len(batches)))
        if logs is None:
            raise StopIteration
        return logs, state

    return run


@contextmanager
def seeds_of_its_own(seed: int) -> Iterator[None]:
    """Keras draws its default seeds from a generator of its own, seeded with ``seed``.

    Keras draws the default seeds of layers, initializers and seed generators from Python's
    global ``random``, which other threads of the process may draw from at any moment (a Dask
    worker's: a cell on a worker then trained differently from run to run). Seeded as
    ``keras.utils.set_random_seed(seed)`` seeds the global one, the generator gives the same
    seeds a process with no other threads drew.
    """
    from keras.src.random import seed_generator

    shared = seed_generator.python_random
    seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        seed_generator.python_random = shared
