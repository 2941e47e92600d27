"""tuning: compare hyperparameter-search methods for Keras models on one builder and one space."""

from tuning import _quiet_tensorflow

__version__ = "0.1.0"

# Keras and scikeras import TensorFlow under every backend; its start-up lines are noise.
_quiet_tensorflow.install()
