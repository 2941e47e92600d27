"""The toolkit's Keras model builders. Every builder takes ``input_shape`` (one sample's shape)
and ``n_classes`` (None for regression) beside its hyperparameters, and returns a compiled model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tuning.errors import TuningError
from tuning.metrics import ACCURACY, RMSE

if TYPE_CHECKING:
    import keras

__all__ = [
    "MAX_BLOCKS",
    "MAX_LAYERS",
    "OPTIMIZERS",
    "REFERENCE_LEARNING_RATES",
    "build_cnn",
    "build_model",
]

MAX_LAYERS = 4
MAX_BLOCKS = 3
# Keras' own default rate for each optimizer. A search over ``learning_rate_scale`` moves
# every optimizer around its own working range: one absolute range that suits Adam makes
# SGD with momentum diverge at its top and crawl at its bottom.
REFERENCE_LEARNING_RATES = {"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3}
OPTIMIZERS = tuple(REFERENCE_LEARNING_RATES)
SGD_MOMENTUM = 0.9
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


def _check_shared(*, dropout: float, l2: float, output_scale: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise TuningError(f"dropout must be in [0, 1), got {dropout!r}")
    if l2 < 0:
        raise TuningError(f"l2 must be >= 0, got {l2!r}")
    if not output_scale > 0:
        raise TuningError(f"output_scale must be > 0, got {output_scale!r}")


def _checked_optimizer(
    name: str, learning_rate: float | None, learning_rate_scale: float, lr_schedule: str, momentum: float
):
    from tuning.keras_schedules import learning_rate_for

    if not 0.0 <= momentum < 1.0:
        raise TuningError(f"momentum must be in [0, 1), got {momentum!r}")
    if name not in REFERENCE_LEARNING_RATES:
        raise TuningError(f"unknown optimizer {name!r}; choose one of {list(OPTIMIZERS)}")
    if not learning_rate_scale > 0:
        raise TuningError(f"learning_rate_scale must be > 0, got {learning_rate_scale!r}")
    base_rate = REFERENCE_LEARNING_RATES[name] if learning_rate is None else learning_rate
    return _optimizer(name, learning_rate_for(lr_schedule, base_rate * learning_rate_scale), momentum)


def _compiled(layers: list[Any], optimizer: Any, n_classes: int | None, output_mean: float, output_scale: float):
    """``layers`` topped with the head for ``n_classes``, compiled."""
    import keras

    # Training reports the score the comparison ranks by, under the same name (tuning.metrics).
    if n_classes is None:
        layers += [keras.layers.Dense(1), keras.layers.Rescaling(scale=output_scale, offset=output_mean)]
        loss, metrics = "mean_squared_error", [RMSE.keras_metric()]
    else:
        layers.append(keras.layers.Dense(n_classes, activation="softmax"))
        loss, metrics = "sparse_categorical_crossentropy", [ACCURACY.keras_metric()]
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


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
    ``lr_schedule`` is one of ``tuning.schedules.SCHEDULES``, stretched over each fit; ``momentum``
    applies to ``sgd`` only (0 is plain SGD).
    """
    import keras

    if not 1 <= n_layers <= MAX_LAYERS:
        raise TuningError(f"n_layers must be in [1, {MAX_LAYERS}], got {n_layers!r}")
    _check_shared(dropout=dropout, l2=l2, output_scale=output_scale)
    optimizer_ = _checked_optimizer(optimizer, learning_rate, learning_rate_scale, lr_schedule, momentum)
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
    return _compiled(layers, optimizer_, n_classes, output_mean, output_scale)


def _image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 1 and shape[0] > 0 and math.isqrt(shape[0]) ** 2 == shape[0]:
        return (math.isqrt(shape[0]),) * 2 + (1,)
    if len(shape) == 2:
        return (*shape, 1)
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    raise TuningError(
        f"build_cnn needs an image: input_shape (side * side,), (height, width) or (height, width, channels), "
        f"got {shape}"
    )


def build_cnn(
    *,
    input_shape: Sequence[int],
    n_classes: int | None = None,
    filters: int = 16,
    n_blocks: int = 2,
    dense_units: int = 64,
    dropout: float = 0.0,
    l2: float = 0.0,
    optimizer: str = "adam",
    learning_rate: float | None = None,
    learning_rate_scale: float = 1.0,
    lr_schedule: str = "constant",
    momentum: float = SGD_MOMENTUM,
    input_mean: float = 0.0,
    input_scale: float = 1.0,
    output_mean: float = 0.0,
    output_scale: float = 1.0,
) -> keras.Model:
    """A compiled small CNN: ``(x - input_mean) / input_scale``, ``n_blocks`` conv blocks, one head.

    The toolkit's splits keep images flat, as the MLP takes them, so a 1-D ``input_shape`` of
    square size (784) is read as a square one-channel image; (height, width) gains a channel.
    Block i is a 3x3 ``relu`` convolution of ``filters * 2**i`` filters and a 2x2 max pooling:
    each block keeps a quarter of the positions and twice the channels. ``dense_units`` (0:
    none) is a hidden layer before the head. ``dropout`` applies once, just before the head, so
    that it acts whatever ``dense_units`` is (no dead dimension in a search); ``l2`` penalises
    every hidden kernel. Head, optimizer, learning rate, schedule and ``output_mean``/``output_scale``
    are ``build_model``'s; ``input_mean`` and ``input_scale`` are scalars (pixel scaling).
    Batch size is fit-level and belongs to ``Model.fit``.
    """
    import keras

    if not 1 <= n_blocks <= MAX_BLOCKS:
        raise TuningError(f"n_blocks must be in [1, {MAX_BLOCKS}], got {n_blocks!r}")
    if not filters >= 1:
        raise TuningError(f"filters must be >= 1, got {filters!r}")
    if not dense_units >= 0:
        raise TuningError(f"dense_units must be >= 0, got {dense_units!r}")
    if not np.ndim(input_mean) == np.ndim(input_scale) == 0:
        raise TuningError(f"input_mean and input_scale must be scalars, got {input_mean!r} and {input_scale!r}")
    if not input_scale > 0:
        raise TuningError(f"input_scale must be positive, got {input_scale!r}")
    _check_shared(dropout=dropout, l2=l2, output_scale=output_scale)
    image = _image_shape(input_shape)
    if min(image[:2]) >> n_blocks < 1:
        raise TuningError(f"n_blocks={n_blocks} pools a {image[0]}x{image[1]} image to nothing")
    optimizer_ = _checked_optimizer(optimizer, learning_rate, learning_rate_scale, lr_schedule, momentum)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None

    input_shape = tuple(int(d) for d in input_shape)
    scale = 1.0 / float(input_scale)
    layers = [keras.Input(input_shape), keras.layers.Rescaling(scale=scale, offset=-float(input_mean) * scale)]
    if image != input_shape:
        layers.append(keras.layers.Reshape(image))
    for block in range(n_blocks):
        layers.append(
            keras.layers.Conv2D(
                int(filters) * 2**block, 3, padding="same", activation="relu", kernel_regularizer=regularizer
            )
        )
        layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.Flatten())
    if dense_units > 0:
        layers.append(keras.layers.Dense(int(dense_units), activation="relu", kernel_regularizer=regularizer))
    if dropout > 0:
        layers.append(keras.layers.Dropout(dropout))
    return _compiled(layers, optimizer_, n_classes, output_mean, output_scale)
