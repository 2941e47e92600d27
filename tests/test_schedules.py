"""Learning-rate schedules against their closed-form formulas, and inside real fits."""

import math

import keras
import numpy as np
import pytest

from tuning.compat.keras import learning_rate_as_given
from tuning.errors import TuningError
from tuning.keras_schedules import EpochSchedule
from tuning.models import build_model
from tuning.schedules import SCHEDULES
from tuning.training import prepare_fit
from tuning.wrappers import make_estimator

LR0 = 0.1
STEPS_PER_EPOCH = 50
EPOCHS = 8
TOTAL = STEPS_PER_EPOCH * EPOCHS


def closed_form(kind: str, epoch: float) -> float:
    """The documented formula at (fractional) ``epoch`` of an ``EPOCHS``-epoch fit, written out independently."""
    p = epoch / EPOCHS
    if kind == "constant":
        return LR0
    if kind == "step":  # halved after epochs 2, 4 and 6 of 8
        return LR0 * 0.5 ** math.floor(epoch / 2)
    if kind == "exponential":
        return LR0 * 0.01**p
    if kind == "cosine":
        return LR0 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p)))
    assert kind == "warmup_cosine"
    if p < 0.1:
        return LR0 * p / 0.1
    q = (p - 0.1) / 0.9
    return LR0 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * q)))


# Epoch boundaries, mid-epoch steps, the warm-up edge (0.8 epochs = 40 steps) and the last step.
STEPS = [0, 1, 25, 39, 40, 41, 50, 99, 100, 150, 199, 200, 275, 300, 350, TOTAL - 1]


@pytest.mark.parametrize("kind", SCHEDULES)
@pytest.mark.parametrize("step", STEPS)
def test_learning_rate_at_step_matches_the_closed_form(kind, step):
    schedule = EpochSchedule(kind, LR0, steps_per_epoch=STEPS_PER_EPOCH, epochs=EPOCHS)
    expected = closed_form(kind, step / STEPS_PER_EPOCH)
    assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_named_points_of_each_schedule():
    at = {kind: EpochSchedule(kind, LR0, steps_per_epoch=STEPS_PER_EPOCH, epochs=EPOCHS) for kind in SCHEDULES}
    assert float(at["step"](STEPS_PER_EPOCH * 2 - 1)) == pytest.approx(LR0)
    assert float(at["step"](STEPS_PER_EPOCH * 2)) == pytest.approx(LR0 / 2)
    assert float(at["step"](STEPS_PER_EPOCH * 7)) == pytest.approx(LR0 / 8)
    assert float(at["cosine"](TOTAL // 2)) == pytest.approx(LR0 * (0.01 + 0.99 / 2))
    assert float(at["exponential"](TOTAL // 2)) == pytest.approx(LR0 * 0.1)
    assert float(at["warmup_cosine"](0)) == 0.0
    assert float(at["warmup_cosine"](TOTAL // 10)) == pytest.approx(LR0)
    # Past the planned end the final rate holds.
    assert float(at["cosine"](TOTAL * 3)) == pytest.approx(LR0 * 0.01)
    assert float(at["step"](TOTAL * 3)) == pytest.approx(LR0 / 8)


def test_a_fit_sets_the_clock_and_ends_at_the_scheduled_rate():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = build_model(input_shape=(4,), n_classes=2, n_layers=1, units_1=4, learning_rate=LR0, lr_schedule="step")
    model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=prepare_fit(model))
    schedule = learning_rate_as_given(model.optimizer)
    assert (schedule.steps_per_epoch, schedule.epochs) == (4, 4)
    assert int(model.optimizer.iterations) == 16
    # After the last of 16 steps the rate stays the last quarter's: lr0 / 8.
    assert float(model.optimizer.learning_rate) == pytest.approx(LR0 / 8)


@pytest.mark.parametrize("kind", SCHEDULES)
def test_every_schedule_trains_through_the_scikit_learn_wrapper(kind, california_split):
    s = california_split
    est = make_estimator(
        False,
        n_layers=1,
        units_1=8,
        lr_schedule=kind,
        learning_rate=1e-2,
        input_mean=s.x_train.mean(0),
        input_scale=s.x_train.std(0),
        epochs=2,
        batch_size=256,
        random_state=0,
    )
    est.fit(s.x_train, s.y_train)
    assert np.isfinite(est.history_["loss"]).all()
    if kind != "constant":
        # The wrapper's fit set the clock: the schedule spans exactly this fit's steps.
        steps = math.ceil(len(s.x_train) / 256)
        schedule = learning_rate_as_given(est.model_.optimizer)
        assert (schedule.steps_per_epoch, schedule.epochs) == (steps, 2)
        total = 2 * steps
        expected = 1e-2 / LR0 * closed_form(kind, EPOCHS * (total - 1) / total)
        assert float(schedule(total - 1)) == pytest.approx(expected, rel=1e-5)


def test_a_resumed_fit_continues_the_schedule_where_its_epoch_lies():
    # Keras Tuner's Hyperband continues a trial with initial_epoch and a fresh optimizer.
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = build_model(input_shape=(4,), n_classes=2, n_layers=1, units_1=4, learning_rate=LR0, lr_schedule="cosine")
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(float(model.optimizer.learning_rate))
    )
    model.fit(x, y, batch_size=16, epochs=8, initial_epoch=6, verbose=0, callbacks=[*prepare_fit(model), record])
    # The optimiser counted 0 steps at epoch 6; the schedule knew it was 6 epochs in.
    assert seen[0] == pytest.approx(closed_form("cosine", 6), rel=1e-5)
    assert seen[1] == pytest.approx(closed_form("cosine", 7), rel=1e-5)


def test_a_schedule_without_the_clock_says_how_to_fix_it():
    model = build_model(input_shape=(2,), n_classes=2, n_layers=1, units_1=2, lr_schedule="cosine")
    x, y = np.zeros((8, 2), "float32"), np.zeros(8, "int64")
    with pytest.raises(TuningError, match=r"pass tuning\.keras_schedules\.ScheduleClock"):
        model.fit(x, y, epochs=1, verbose=0)


def test_bad_schedule_names_and_rates_are_refused():
    with pytest.raises(TuningError, match="unknown lr_schedule 'linear'"):
        build_model(input_shape=(2,), n_classes=2, lr_schedule="linear")
    with pytest.raises(TuningError, match="learning_rate must be > 0"):
        build_model(input_shape=(2,), n_classes=2, lr_schedule="cosine", learning_rate=0.0)
    with pytest.raises(TuningError, match="momentum must be in"):
        build_model(input_shape=(2,), n_classes=2, optimizer="sgd", momentum=1.0)


def test_plain_sgd_has_no_momentum():
    model = build_model(input_shape=(2,), n_classes=2, optimizer="sgd", momentum=0.0)
    assert model.optimizer.momentum == 0.0
