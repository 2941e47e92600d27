"""The benchmark harness: ``python -m benchmarks.compare`` and its presets."""

import os

# JAX was measured about 2-4x faster per epoch than TensorFlow on these 2-core machines
# (reports/perf.md); a user's KERAS_BACKEND still wins. Must be set before keras imports.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# JAX's persistent compilation cache: trials that repeat an architecture (grid levels,
# reruns, refits, worker processes) reuse its compiled steps instead of compiling again.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tuning", "jax"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
