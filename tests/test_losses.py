import numpy as np
import pytest
from numpy.testing import assert_allclose

from numpy_dec.losses import mse_loss


def test_mse_hand_example():
    pred = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]])
    target = np.array([[0.0, 2.0], [1.0, 4.0], [0.0, 1.0]])

    # squared residuals 1, 0, 4, 0, 0, 4: sum 9 over N * D = 6 elements
    loss, dpred = mse_loss(pred, target)
    assert isinstance(loss, float)
    assert_allclose(loss, 1.5, rtol=1e-15)
    assert_allclose(dpred, 2 * (pred - target) / 6, rtol=1e-15)


def test_mse_is_mean_over_all_elements():
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((2, 7, 5))
    loss, dpred = mse_loss(pred, target)
    assert_allclose(loss, np.sum((pred - target) ** 2) / 35, rtol=1e-12)
    assert_allclose(dpred, 2 * (pred - target) / 35, rtol=1e-12)


def test_mse_does_not_modify_inputs_and_keeps_float32():
    rng = np.random.default_rng(1)
    pred = rng.standard_normal((4, 3)).astype(np.float32)
    target = rng.standard_normal((4, 3)).astype(np.float32)
    pred_copy, target_copy = pred.copy(), target.copy()

    loss, dpred = mse_loss(pred, target)
    assert dpred.dtype == np.float32
    assert_allclose(loss, np.mean((pred_copy - target_copy) ** 2), rtol=1e-6)
    np.testing.assert_array_equal(pred, pred_copy)
    np.testing.assert_array_equal(target, target_copy)


def test_mse_zero_when_equal():
    x = np.random.default_rng(2).standard_normal((3, 3))
    loss, dpred = mse_loss(x, x.copy())
    assert loss == 0.0
    assert_allclose(dpred, 0.0, atol=0)


def test_mse_validation():
    with pytest.raises(ValueError, match="same shape"):
        mse_loss(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="empty"):
        mse_loss(np.zeros((0, 3)), np.zeros((0, 3)))
