"""The toolkit's Keras model builders. Every builder takes ``input_shape`` (one sample's shape)
and ``n_classes`` (None for regression) beside its hyperparameters, and returns a compiled model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tuning.errors import TuningError

__all__ = ["MAX_LAYERS", "OPTIMIZERS", "REFERENCE_LEARNING_RATES", "SCHEDULES", "build_model"]

MAX_LAYERS = 4
# Keras' own default rate for each optimizer. A search over ``learning_rate_scale`` moves
# every optimizer around its own working range: one absolute range that suits Adam makes
# SGD with momentum diverge at its top and crawl at its bottom.
REFERENCE_LEARNING_RATES = {"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3}
OPTIMIZERS = tuple(REFERENCE_LEARNING_RATES)
SGD_MOMENTUM = 0.9
# The learning-rate schedules of tuning.schedules, by name; named here so that choosing one needs no Keras.
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup_cosine")
ADAMW_WEIGHT_DECAY = 1e-4


def _optimizer(name: str, learning_rate: Any, momentum: float):
    # ``name`` was checked against REFERENCE_LEARNING_RATES by the builder.
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=ADAMW_WEIGHT_DECAY)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum)
    return keras.optimizers.RMSprop(learning_rate)


def _per_feature(value: float | Sequence[float] | np.ndarray, n_features: int, what: str) -> np.ndarray:
    array = np.broadcast_to(np.asarray(value, dtype=np.float32), (n_features,))
    if what == "input_scale" and np.any(array <= 0):
        raise TuningError(f"input_scale must be positive, got {value!r}")
    return np.array(array)


def build_model(
    *,
    input_shape: Sequence[int],
    n_classes: int | None = None,
    n_layers: int = 2,
    units_1: int = 256,
    units_2: int = 256,
    units_3: int = 256,
    units_4: int = 256,
    units: int | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    optimizer: str = "adam",
    learning_rate: float | None = None,
    learning_rate_scale: float = 1.0,
    lr_schedule: str = "constant",
    momentum: float = SGD_MOMENTUM,
    input_mean: float | Sequence[float] | np.ndarray = 0.0,
    input_scale: float | Sequence[float] | np.ndarray = 1.0,
    output_mean: float = 0.0,
    output_scale: float = 1.0,
):
    """A compiled MLP: ``(x - input_mean) / input_scale``, ``n_layers`` dense blocks, one head.

    Inputs of more than one dimension (images) are flattened first; ``input_mean`` and
    ``input_scale`` are scalars or one value per flattened feature.

    ``units`` gives every hidden layer the same width (a search space without dead
    dimensions); otherwise layer i has ``units_i``. The optimizer's rate is ``learning_rate``
    (default: its ``REFERENCE_LEARNING_RATES`` entry) times ``learning_rate_scale``.
    ``n_classes=None`` builds a regressor (one linear output, MSE loss, ``rmse`` metric)
    whose output is ``output_mean + output_scale * z``, a fixed layer: with the training
    target's mean and SD the network learns a standardised target and predicts in the
    target's own units. Otherwise a softmax classifier with sparse categorical
    cross-entropy and ``accuracy``.
    Batch size and epochs are fit-level and belong to ``Model.fit``, not here.
    ``lr_schedule`` is one of ``SCHEDULES`` (``tuning.schedules``), stretched over each fit; ``momentum``
    applies to ``sgd`` only (0 is plain SGD).
    """
    import keras

    from tuning.schedules import learning_rate_for

    if not 1 <= n_layers <= MAX_LAYERS:
        raise TuningError(f"n_layers must be in [1, {MAX_LAYERS}], got {n_layers!r}")
    if not 0.0 <= dropout < 1.0:
        raise TuningError(f"dropout must be in [0, 1), got {dropout!r}")
    if l2 < 0:
        raise TuningError(f"l2 must be >= 0, got {l2!r}")
    if not 0.0 <= momentum < 1.0:
        raise TuningError(f"momentum must be in [0, 1), got {momentum!r}")
    if optimizer not in REFERENCE_LEARNING_RATES:
        raise TuningError(f"unknown optimizer {optimizer!r}; choose one of {list(OPTIMIZERS)}")
    if not learning_rate_scale > 0:
        raise TuningError(f"learning_rate_scale must be > 0, got {learning_rate_scale!r}")
    if not output_scale > 0:
        raise TuningError(f"output_scale must be > 0, got {output_scale!r}")
    base_rate = REFERENCE_LEARNING_RATES[optimizer] if learning_rate is None else learning_rate
    rate = learning_rate_for(lr_schedule, base_rate * learning_rate_scale)
    widths = (units_1, units_2, units_3, units_4) if units is None else (units,) * MAX_LAYERS
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None

    input_shape = tuple(int(d) for d in input_shape)
    n_features = int(np.prod(input_shape))
    mean = _per_feature(input_mean, n_features, "input_mean")
    scale = _per_feature(input_scale, n_features, "input_scale")
    layers = [keras.Input(input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    layers.append(keras.layers.Normalization(mean=mean, variance=scale**2))
    for width in widths[:n_layers]:
        layers.append(keras.layers.Dense(int(width), activation=activation, kernel_regularizer=regularizer))
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout))
    if n_classes is None:
        layers += [keras.layers.Dense(1), keras.layers.Rescaling(scale=output_scale, offset=output_mean)]
        loss, metrics = "mean_squared_error", [keras.metrics.RootMeanSquaredError(name="rmse")]
    else:
        layers.append(keras.layers.Dense(n_classes, activation="softmax"))
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    model = keras.Sequential(layers)
    model.compile(optimizer=_optimizer(optimizer, rate, momentum), loss=loss, metrics=metrics)
    return model
