"""The default backend is JAX; the TensorFlow backend must work too (Keras Tuner needs tensorboard there)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, keras
from tuning.datasets import load_california_housing
from tuning.splits import split_arrays
from tuning.methods import Budget, SearchProblem, get_method
from tuning.space import Categorical, Float, Space

split = split_arrays(load_california_housing(download=False), 0, fraction=0.05)
problem = SearchProblem.from_split(split, metric="rmse", fixed={
    "n_layers": 1, "units_1": 8, "input_mean": split.x_train.mean(0), "input_scale": split.x_train.std(0)})
space = Space([Float("learning_rate", 1e-3, 1e-2, log=True), Categorical("batch_size", (256,))])
out = {"backend": keras.backend.backend()}
for name in ("random", "hyperband"):
    result = get_method(name).search(problem, space, Budget(4, 2), seed=0)
    out[name] = [t.status for t in result.trials]
print(json.dumps(out))
"""


def test_methods_run_under_the_tensorflow_backend():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backend"] == "tensorflow"
    assert out["random"] == ["ok", "ok"] and out["hyperband"] and set(out["hyperband"]) == {"ok"}


def test_tensorflow_starts_without_a_word_on_the_terminal():
    # Keras and scikeras import TensorFlow under every backend; its native start-up lines
    # bypass its own logging, so tuning._quiet_tensorflow silences the stderr descriptor
    # while it loads, and only then.
    code = "import tuning, scikeras.wrappers, sys; print('after', file=sys.stderr)"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stderr == "after\n"
