"""The process environment a benchmark command runs in, set before Keras is imported."""

from __future__ import annotations

import os

__all__ = ["use_benchmark_environment"]


def use_benchmark_environment() -> None:
    """Defaults only: a variable the user has set wins.

    Each command calls this first thing in ``main``, so that importing a benchmark module
    (a test, a user's script) changes nothing.
    """
    # JAX was measured about 2-4x faster per epoch than TensorFlow on these 2-core machines
    # (reports/perf.md).
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # JAX's persistent compilation cache: trials that repeat an architecture (grid levels,
    # reruns, refits, worker processes) reuse its compiled steps instead of compiling again.
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tuning", "jax")
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", cache)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
