"""The per-step learning-rate schedules: the Keras class against the plain formula, and the shapes promised."""

import math

import keras
import numpy as np
import pytest

from quant_snn.errors import UserError
from quant_snn.schedules import SCHEDULES, StepSchedule, schedule_value

pytestmark = pytest.mark.backends  # make test runs this file on TensorFlow, JAX and PyTorch


def curve(name, peak=0.01, total=50, warmup=5):
    schedule = StepSchedule(name, peak, total, warmup)
    keras_values = [float(keras.ops.convert_to_numpy(schedule(step))) for step in range(total + 3)]
    python_values = [schedule_value(name, step, peak, total, warmup) for step in range(total + 3)]
    return np.array(keras_values), np.array(python_values)


@pytest.mark.parametrize("name", SCHEDULES)
def test_keras_schedule_follows_the_formula_at_every_step(name):
    keras_values, python_values = curve(name)
    np.testing.assert_allclose(keras_values, python_values, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", ["cosine", "onecycle"])
def test_a_restart_follows_the_formula_and_keeps_the_first_cycle_exact(name):
    restarted = StepSchedule(name, 0.01, 80, 5, restart_step=50, restart_peak=0.004)
    values = np.array([float(keras.ops.convert_to_numpy(restarted(step))) for step in range(83)])
    expected = [schedule_value(name, step, 0.01, 80, 5, 50, 0.004) for step in range(83)]
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-9)
    first, _ = curve(name, peak=0.01, total=50, warmup=5)
    np.testing.assert_array_equal(values[:50], first[:50])  # bit for bit: a finished run can be extended
    assert values[55] == pytest.approx(0.004) and values[80] == pytest.approx(0.0, abs=1e-9)
    if name == "cosine":
        np.testing.assert_allclose(values[50:55], 0.004 * np.arange(1, 6) / 5, rtol=1e-5)  # warms up again


def test_cosine_warms_up_linearly_then_decays_to_zero():
    values, _ = curve("cosine", peak=0.01, total=50, warmup=5)
    np.testing.assert_allclose(values[:5], 0.01 * np.arange(1, 6) / 5, rtol=1e-5)  # reaches the peak at the end
    assert values[5] == pytest.approx(0.01)
    assert np.all(np.diff(values[5:51]) <= 1e-9)  # never rises after the warm-up
    assert values[30] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 25 / 45)), rel=1e-5)
    assert values[50] == pytest.approx(0.0, abs=1e-9) and values[52] == pytest.approx(0.0, abs=1e-9)


def test_onecycle_rises_from_a_tenth_and_falls_linearly_to_zero():
    values, _ = curve("onecycle", peak=0.1, total=40, warmup=10)
    assert values[0] == pytest.approx(0.01)
    assert int(np.argmax(values)) == 10 and values[10] == pytest.approx(0.1)
    np.testing.assert_allclose(np.diff(values[10:41]), -0.1 / 30, rtol=1e-4)
    assert values[40] == pytest.approx(0.0, abs=1e-8)


def test_constant_is_the_peak_everywhere():
    values, _ = curve("constant", peak=1e-3)
    np.testing.assert_allclose(values, 1e-3, rtol=1e-6)


def test_schedule_serializes():
    schedule = StepSchedule("onecycle", 0.05, 100, 10, 60, 0.02)
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert clone.get_config() == schedule.get_config()


@pytest.mark.parametrize("args, message", [
    (("linear", 0.1, 10, 0), "unknown --schedule"),
    (("cosine", 0.0, 10, 0), "must be positive"),
    (("cosine", 0.1, 10, 10), "warmup"),
    (("cosine", 0.1, 10, 2, 9, 0.1), "each cycle"),
    (("cosine", 0.1, 10, 2, 5, None), "restart_learning_rate"),
    (("constant", 0.1, 10, 0, 5, 0.1), "needs --schedule"),
])
def test_bad_schedules_are_refused(args, message):
    with pytest.raises(UserError, match=message):
        StepSchedule(*args)
