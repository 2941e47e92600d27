"""tuning: compare hyperparameter-search methods for Keras models on one builder and one space."""

__version__ = "0.1.0"
