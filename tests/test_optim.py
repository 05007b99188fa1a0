"""Optimizer and loss choices: the defaults are the original's, the others are what their flags say."""

import keras
import numpy as np
import pytest

from quant_snn.errors import UserError
from quant_snn.optim import SmoothedSparseCrossentropy, check_optimizer, make_loss, make_optimizer

pytestmark = pytest.mark.backends  # make test runs this file on TensorFlow, JAX and PyTorch


def test_default_is_plain_adam_and_sparse_crossentropy():
    optimizer = make_optimizer("adam", 1e-3)
    assert isinstance(optimizer, keras.optimizers.Adam) and optimizer.weight_decay is None
    assert isinstance(make_loss(0.0), keras.losses.SparseCategoricalCrossentropy)


def test_sgd_is_nesterov_with_momentum():
    optimizer = make_optimizer("sgd", 0.1, weight_decay=5e-4)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.nesterov and optimizer.momentum == pytest.approx(0.9)
    assert optimizer.weight_decay == pytest.approx(5e-4)


def test_weight_decay_spares_batchnorm_and_shrinks_kernels():
    bn = keras.layers.BatchNormalization()
    dense = keras.layers.Dense(3, use_bias=False)
    model = keras.Sequential([keras.Input((4,)), dense, bn])
    optimizer = make_optimizer("sgd", 0.1, weight_decay=0.5)
    kernel_before = keras.ops.convert_to_numpy(dense.kernel).copy()
    zeros = [keras.ops.zeros(tuple(v.shape)) for v in model.trainable_variables]
    optimizer.apply_gradients(zip(zeros, model.trainable_variables))
    # zero gradients: only the decay moves anything (w -= lr * wd * w); gamma and beta stay put
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense.kernel), kernel_before * (1 - 0.1 * 0.5), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.gamma), 1.0)


def test_label_smoothing_matches_the_formula():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5)).astype("float32")
    labels = rng.integers(0, 5, size=6)
    eps = 0.1
    target = np.full((6, 5), eps / 5) + (1 - eps) * np.eye(5)[labels]
    log_softmax = logits - logits.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    expected = -(target * log_softmax).sum(1).mean()
    got = float(keras.ops.convert_to_numpy(SmoothedSparseCrossentropy(eps)(labels, logits)))
    assert got == pytest.approx(expected, rel=1e-5)
    plain = float(keras.ops.convert_to_numpy(make_loss(0.0)(labels, logits)))
    assert plain != pytest.approx(got, rel=1e-3)  # smoothing changes the loss


@pytest.mark.parametrize("args, message", [
    (("rmsprop", 0.0, 0.0), "unknown --optimizer"),
    (("adam", -1e-4, 0.0), "--weight_decay"),
    (("adam", 0.0, 1.0), "--label_smoothing"),
])
def test_bad_choices_are_refused(args, message):
    with pytest.raises(UserError, match=message):
        check_optimizer(*args)
