"""Where a trial's time goes: wall clocks around each phase of the recipe, and JAX's compile events.

Every trial of every method, trained by the recipe (``tuning.training``) or through the
wrappers, is split into the same phases:

* ``reset``: clearing Keras' session and seeding it;
* ``build``: the builder making and compiling the Keras model;
* ``compile``: JAX tracing, lowering and compiling programs, or loading them from the persistent
  cache, wherever it happens (the first call of a step compiles it, inside ``fit`` or ``predict``);
* ``train``: ``Model.fit``, less its compiling;
* ``score``: predicting the validation split and scoring it, less its compiling.

The rest of a trial's wall time, from the method's request to the score coming back, is the
method's and the toolkit's bookkeeping. ``programs`` counts the programs JAX lowered (each is
then compiled or loaded): the steps of a new model, and the small programs of Keras' eager
operations on new shapes. The clock is the process's, so trials in one process must run one
at a time, as every method here runs them (parallel trials run in processes of their own).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["PHASES", "PhaseClock", "CLOCK"]

PHASES = ("reset", "build", "compile", "train", "score")
# JAX's events for the work of making a program: tracing, lowering, and compiling it or loading
# it from the persistent cache (the last event's time includes the cache's). Each is reported
# for the outermost program only, once it is done.
_LOWER = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_COMPILE_EVENTS = frozenset(
    {"/jax/core/compile/jaxpr_trace_duration", _LOWER, "/jax/core/compile/backend_compile_duration"}
)


class PhaseClock:
    """Seconds per phase (and programs lowered) since the last ``take``."""

    def __init__(self) -> None:
        self._seconds = dict.fromkeys(PHASES, 0.0)
        self._programs = 0
        self._open: list[str] = []
        self._listening = False

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as ``name``; compiling inside it counts as ``compile``, and a phase
        inside it as that phase, instead."""
        self._listen()
        self._open.append(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self._seconds[name] += elapsed
            self._open.pop()
            if self._open:
                self._seconds[self._open[-1]] -= elapsed

    def take(self) -> dict[str, float]:
        """The seconds of each phase (``<phase>_s``) and ``programs``, and a fresh start."""
        taken = {f"{name}_s": seconds for name, seconds in self._seconds.items()}
        taken["programs"] = float(self._programs)
        self._seconds = dict.fromkeys(PHASES, 0.0)
        self._programs = 0
        return taken

    def _listen(self) -> None:
        if self._listening:
            return
        import jax

        jax.monitoring.register_event_duration_secs_listener(self._on_event)
        self._listening = True

    def _on_event(self, event: str, duration: float, **kwargs: Any) -> None:
        if event not in _COMPILE_EVENTS or not self._open:
            return
        self._seconds["compile"] += duration
        self._seconds[self._open[-1]] -= duration
        if event == _LOWER:
            self._programs += 1


# The process's clock: the recipe and the wrappers time their phases on it.
CLOCK = PhaseClock()
