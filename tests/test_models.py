import keras
import numpy as np
import pytest

from tuning.errors import TuningError
from tuning.models import OPTIMIZERS, REFERENCE_LEARNING_RATES, build_model


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
