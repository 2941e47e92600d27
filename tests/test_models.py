import keras
import numpy as np
import pytest

from tuning.errors import TuningError
from tuning.models import OPTIMIZERS, REFERENCE_LEARNING_RATES, build_cnn, build_model


def test_classifier_and_regressor_heads():
    clf = build_model(input_shape=(784,), n_classes=10, n_layers=3, units_1=64, units_2=32, units_3=16, dropout=0.2)
    dense = [layer for layer in clf.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [64, 32, 16, 10]
    assert dense[-1].activation.__name__ == "softmax"
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in clf.layers) == 3
    assert clf.loss == "sparse_categorical_crossentropy"

    reg = build_model(input_shape=(8,), n_layers=1, units_1=32, l2=1e-3)
    dense = [layer for layer in reg.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [32, 1] and dense[-1].activation.__name__ == "linear"
    assert dense[0].kernel_regularizer is not None
    assert reg.loss == "mean_squared_error"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_and_its_learning_rate(name):
    model = build_model(input_shape=(4,), n_classes=3, optimizer=name, learning_rate=0.0123)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0123)
    if name == "sgd":
        assert model.optimizer.momentum == pytest.approx(0.9)
    # Without an absolute rate, the scale moves each optimizer around its own default.
    scaled = build_model(input_shape=(4,), n_classes=3, optimizer=name, learning_rate_scale=3.0)
    assert float(scaled.optimizer.learning_rate) == pytest.approx(3.0 * REFERENCE_LEARNING_RATES[name])


def test_one_width_for_every_layer():
    model = build_model(input_shape=(4,), n_classes=3, n_layers=3, units=24, units_1=99)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [24, 24, 24, 3]


def test_the_regressor_learns_a_standardised_target_and_predicts_in_its_units():
    model = build_model(input_shape=(2,), n_layers=1, units=4, output_mean=2.0, output_scale=1.5)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    x = np.array([[0.5, -1.0]], dtype=np.float32)
    head = np.asarray(dense[-1](dense[0](model.layers[0](x))))
    np.testing.assert_allclose(np.asarray(model(x)), 2.0 + 1.5 * head, rtol=1e-5)


def test_input_scaling_is_part_of_the_model():
    mean, scale = np.array([1.0, -2.0], dtype=np.float32), np.array([2.0, 4.0], dtype=np.float32)
    model = build_model(input_shape=(2,), input_mean=mean, input_scale=scale)
    normalize = model.layers[0]
    out = normalize(np.array([[3.0, 2.0]], dtype=np.float32))
    np.testing.assert_allclose(np.asarray(out), [[1.0, 1.0]], rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_layers": 0}, "n_layers must be in [1, 4], got 0"),
        ({"n_layers": 5}, "n_layers must be in [1, 4], got 5"),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
        ({"l2": -1.0}, "l2 must be >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0"),
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'"),
        ({"learning_rate_scale": 0.0}, "learning_rate_scale must be > 0"),
        ({"output_scale": -1.0}, "output_scale must be > 0"),
        ({"input_scale": 0.0}, "input_scale must be positive"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(TuningError) as info:
        build_model(input_shape=(3,), **kwargs)
    assert message in str(info.value)


def _layers_of(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


@pytest.mark.parametrize(("n_blocks", "filters", "side"), [(1, [8], 14), (2, [8, 16], 7), (3, [8, 16, 32], 3)])
def test_cnn_blocks_double_their_filters_and_halve_the_map(n_blocks, filters, side):
    model = build_cnn(input_shape=(28, 28, 1), n_classes=10, filters=8, n_blocks=n_blocks, dense_units=32, l2=1e-4)
    convs = _layers_of(model, keras.layers.Conv2D)
    assert [c.filters for c in convs] == filters
    assert all(c.kernel_size == (3, 3) and c.padding == "same" and c.kernel_regularizer is not None for c in convs)
    assert len(_layers_of(model, keras.layers.MaxPooling2D)) == n_blocks
    assert _layers_of(model, keras.layers.Flatten)[0].output.shape == (None, side * side * filters[-1])
    dense = _layers_of(model, keras.layers.Dense)
    assert [d.units for d in dense] == [32, 10] and dense[-1].activation.__name__ == "softmax"
    assert model.loss == "sparse_categorical_crossentropy"


def test_cnn_without_a_hidden_dense_layer_still_applies_dropout():
    model = build_cnn(input_shape=(28, 28), n_classes=10, filters=4, n_blocks=1, dense_units=0, dropout=0.3)
    assert [d.units for d in _layers_of(model, keras.layers.Dense)] == [10]
    assert isinstance(model.layers[-2], keras.layers.Dropout) and model.layers[-2].rate == 0.3


@pytest.mark.parametrize("shape", [(784,), (28, 28), (28, 28, 1)])
def test_cnn_sees_flat_and_2d_images_as_one_channel_images(shape):
    model = build_cnn(input_shape=shape, n_classes=10, filters=4, n_blocks=1, input_mean=10.0, input_scale=255.0)
    assert model.input_shape == (None, *shape)
    assert _layers_of(model, keras.layers.Conv2D)[0].input.shape == (None, 28, 28, 1)
    assert len(_layers_of(model, keras.layers.Reshape)) == (shape != (28, 28, 1))
    rescale = model.layers[0]
    out = np.asarray(rescale(np.full((1, *shape), 265.0, dtype=np.float32)))
    np.testing.assert_allclose(out, 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (783,)}, "got (783,)"),
        ({"input_shape": (1, 28, 28, 1)}, "got (1, 28, 28, 1)"),
        ({"n_blocks": 0}, "n_blocks must be in [1, 3], got 0"),
        ({"n_blocks": 4}, "n_blocks must be in [1, 3], got 4"),
        ({"input_shape": (4, 4), "n_blocks": 3}, "n_blocks=3 pools a 4x4 image to nothing"),
        ({"filters": 0}, "filters must be >= 1"),
        ({"dense_units": -1}, "dense_units must be >= 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
        ({"l2": -1.0}, "l2 must be >= 0"),
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'"),
        ({"learning_rate_scale": 0.0}, "learning_rate_scale must be > 0"),
        ({"input_scale": 0.0}, "input_scale must be positive"),
        ({"input_scale": [1.0, 2.0]}, "input_mean and input_scale must be scalars"),
    ],
)
def test_cnn_bad_shapes_and_hyperparameters_are_named(kwargs, message):
    with pytest.raises(TuningError) as info:
        build_cnn(**{"input_shape": (28, 28), **kwargs})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_cnn_regressor_and_its_optimizer():
    model = build_cnn(input_shape=(8, 8), filters=4, n_blocks=1, optimizer="sgd", learning_rate_scale=2.0)
    head = _layers_of(model, keras.layers.Dense)[-1]
    assert head.units == 1 and head.activation.__name__ == "linear"
    assert model.loss == "mean_squared_error" and model.output_shape == (None, 1)
    assert float(model.optimizer.learning_rate) == pytest.approx(2.0 * REFERENCE_LEARNING_RATES["sgd"])
    assert model.optimizer.momentum == pytest.approx(0.9)


def test_cnn_fits_an_epoch_of_images_and_predicts_class_probabilities():
    from tuning.training import prepare_fit

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(256, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=256)
    model = build_cnn(input_shape=x.shape[1:], n_classes=10, filters=4, n_blocks=2, dense_units=16, input_scale=255.0)
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=prepare_fit(model))
    assert np.isfinite(history.history["loss"]).all()
    probabilities = np.asarray(model.predict(x[:5], verbose=0))
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
