"""The benchmark harness: ``python -m benchmarks.compare`` and its presets."""

import os

# JAX was measured about 2-4x faster per epoch than TensorFlow on these 2-core machines
# (reports/perf.md); a user's KERAS_BACKEND still wins. Must be set before keras imports.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
