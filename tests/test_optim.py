import math
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec.layers import Dense
from numpy_dec.optim import SGD, Adam, ConstantLR, InverseSqrtLR, StepDecay


def _param(values, grads):
    """A stand-in layer with one parameter "w" and a fixed gradient."""
    return SimpleNamespace(
        params={"w": np.array(values, dtype=np.float64)},
        grads={"w": np.array(grads, dtype=np.float64)},
    )


def test_sgd_momentum_weight_decay_two_steps():
    layer = _param([1.0, -2.0], [0.5, 0.5])
    opt = SGD([(layer, "w")], momentum=0.9, weight_decay=0.01)

    # step 1: g = [0.5, 0.5] + 0.01 * [1, -2] = [0.51, 0.48], v = g,
    # p = [1, -2] - 0.1 * v = [0.949, -2.048]
    opt.step(0.1)
    assert_allclose(layer.params["w"], [0.949, -2.048], rtol=1e-14)

    # step 2: g = [0.5, 0.5] + 0.01 * p = [0.50949, 0.47952],
    # v = 0.9 * [0.51, 0.48] + g = [0.96849, 0.91152], p = p - 0.1 * v
    opt.step(0.1)
    assert_allclose(layer.params["w"], [0.852151, -2.139152], rtol=1e-14)
    assert_allclose(opt.state_dict()["velocity.0"], [0.96849, 0.91152], rtol=1e-14)
    assert opt.t == 2


def test_sgd_plain_and_grads_untouched():
    layer = _param([1.0, 2.0], [0.25, -0.5])
    grad_before = layer.grads["w"].copy()
    param_array = layer.params["w"]
    SGD([(layer, "w")]).step(0.2)

    assert_allclose(layer.params["w"], [0.95, 2.1], rtol=1e-15)
    assert layer.params["w"] is param_array
    assert_array_equal(layer.grads["w"], grad_before)


def test_adam_first_step():
    layer = _param([1.0, -2.0], [0.5, -0.25])
    opt = Adam([(layer, "w")])
    opt.step(0.01)

    # m = 0.1 g, v = 0.001 g^2, so m_hat = g and v_hat = g^2 at t = 1:
    # p -= 0.01 * g / (|g| + 1e-8)
    expected = [1.0 - 0.01 * 0.5 / (0.5 + 1e-8), -2.0 + 0.01 * 0.25 / (0.25 + 1e-8)]
    assert_allclose(layer.params["w"], expected, rtol=1e-15)
    state = opt.state_dict()
    assert_allclose(state["m.0"], [0.05, -0.025], rtol=1e-14)
    assert_allclose(state["v.0"], [0.00025, 0.0000625], rtol=1e-12)
    assert int(state["step"]) == 1


def test_adam_first_step_with_weight_decay():
    layer = _param([2.0], [0.1])
    Adam([(layer, "w")], weight_decay=0.5).step(0.1)

    # g = 0.1 + 0.5 * 2 = 1.1; the first step moves by lr * g / (|g| + eps)
    assert_allclose(layer.params["w"], [2.0 - 0.1 * 1.1 / (1.1 + 1e-8)], rtol=1e-15)


def test_adam_second_step_matches_formula():
    layer = _param([0.3], [0.2])
    opt = Adam([(layer, "w")], beta1=0.8, beta2=0.9, eps=1e-6)
    opt.step(0.05)
    layer.grads["w"] = np.array([-0.4])
    opt.step(0.05)

    m = 0.8 * (0.2 * 0.2) + 0.2 * -0.4
    v = 0.9 * (0.1 * 0.04) + 0.1 * 0.16
    p1 = 0.3 - 0.05 * 0.2 / (0.2 + 1e-6)
    p2 = p1 - 0.05 * (m / (1 - 0.8**2)) / (math.sqrt(v / (1 - 0.9**2)) + 1e-6)
    assert_allclose(layer.params["w"], [p2], rtol=1e-14)


def test_adam_in_row_blocks_equals_one_block(monkeypatch):
    # the step works on blocks of rows; their size must not change a single bit
    rng = np.random.default_rng(3)
    values = rng.standard_normal((37, 11)).astype(np.float32)
    grads = [rng.standard_normal((37, 11)).astype(np.float32) for _ in range(3)]

    def train(block_entries):
        monkeypatch.setattr("numpy_dec.optim._BLOCK_ENTRIES", block_entries)
        layer = SimpleNamespace(params={"w": values.copy()}, grads={})
        opt = Adam([(layer, "w")], weight_decay=1e-2)
        for g in grads:
            layer.grads["w"] = g
            opt.step(1e-2)
        return layer.params["w"], opt.state["m"][0], opt.state["v"][0]

    whole = train(values.size)
    for block_entries in (1, 30, 100):
        for a, b in zip(train(block_entries), whole):
            assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, momentum=0.9, weight_decay=1e-3),
    lambda p: Adam(p, weight_decay=1e-3),
])
def test_state_dict_round_trip(make):
    def model():
        return Dense(3, 2, np.random.default_rng(0), dtype=np.float64)

    def set_grads(layer, seed):
        g = np.random.default_rng(seed)
        layer.grads = {"W": g.standard_normal((3, 2)), "b": g.standard_normal(2)}

    a = model()
    opt_a = make([(a, "W"), (a, "b")])
    for seed in (1, 2):
        set_grads(a, seed)
        opt_a.step(0.01)
    state = opt_a.state_dict()
    assert all(isinstance(k, str) for k in state)
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert int(state["step"]) == 2

    # a fresh optimizer on an identical copy continues exactly like the original
    b = model()
    b.params = {k: v.copy() for k, v in a.params.items()}
    opt_b = make([(b, "W"), (b, "b")])
    opt_b.load_state_dict(state)
    assert opt_b.t == 2
    for opt, layer in ((opt_a, a), (opt_b, b)):
        set_grads(layer, 3)
        opt.step(0.01)
    for key in ("W", "b"):
        assert_array_equal(a.params[key], b.params[key])

    # the state dict is a copy, not a view of the optimizer's buffers
    saved = opt_a.state_dict()
    first = next(k for k in saved if k != "step")
    saved[first][...] = 123.0
    assert not np.any(opt_a.state_dict()[first] == 123.0)


def test_load_state_dict_validation():
    layer = _param([1.0, 2.0], [0.1, 0.1])
    opt = SGD([(layer, "w")], momentum=0.5)
    state = opt.state_dict()
    with pytest.raises(ValueError, match="missing"):
        opt.load_state_dict({"step": state["step"]})
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict({"step": state["step"], "velocity.0": np.zeros(3)})


def test_optimizer_validation():
    layer = _param([1.0], [0.1])
    with pytest.raises(ValueError, match="empty"):
        SGD([])
    with pytest.raises(ValueError, match="no parameter"):
        SGD([(layer, "W")])
    with pytest.raises(ValueError, match="repeats"):
        SGD([(layer, "w"), (layer, "w")])
    with pytest.raises(ValueError, match="momentum"):
        SGD([(layer, "w")], momentum=-0.1)
    with pytest.raises(ValueError, match="weight_decay"):
        Adam([(layer, "w")], weight_decay=-1.0)
    with pytest.raises(ValueError, match="beta1"):
        Adam([(layer, "w")], beta1=1.0)
    for opt in (SGD([(layer, "w")]), Adam([(layer, "w")])):
        with pytest.raises(ValueError, match="lr"):
            opt.step(0.0)
        with pytest.raises(ValueError, match="lr"):
            opt.step(float("nan"))


def test_step_decay_values():
    schedule = StepDecay(1.0, step_size=3)
    values = [schedule(t) for t in range(1, 11)]
    expected = [1.0] * 3 + [0.1] * 3 + [0.01] * 3 + [0.001]
    assert_allclose(values, expected, rtol=1e-12)

    half = StepDecay(0.5, step_size=1, factor=0.5)
    assert_allclose([half(t) for t in (1, 2, 3)], [0.5, 0.25, 0.125], rtol=1e-15)


def test_inverse_sqrt_values():
    schedule = InverseSqrtLR(0.5)
    assert_allclose(
        [schedule(t) for t in (1, 4, 16, 100)], [0.5, 0.25, 0.125, 0.05], rtol=1e-15
    )


def test_constant_values():
    schedule = ConstantLR(0.01)
    assert [schedule(t) for t in (1, 2, 1000)] == [0.01, 0.01, 0.01]


def test_schedule_validation():
    for schedule in (ConstantLR(0.1), StepDecay(0.1, 5), InverseSqrtLR(0.1)):
        with pytest.raises(ValueError, match="from 1"):
            schedule(0)
        with pytest.raises(TypeError):
            schedule(1.5)
    with pytest.raises(ValueError, match="lr"):
        ConstantLR(0.0)
    with pytest.raises(ValueError, match="lr0"):
        StepDecay(-1.0, 5)
    with pytest.raises(ValueError, match="step_size"):
        StepDecay(0.1, 0)
    with pytest.raises(ValueError, match="factor"):
        StepDecay(0.1, 5, factor=0.0)
    with pytest.raises(ValueError, match="eta0"):
        InverseSqrtLR(-0.5)


def test_schedule_step_zero_or_none_is_a_constant_rate():
    from numpy_dec.training import make_schedule

    for step in (None, 0):
        schedule = make_schedule(0.1, step)
        assert isinstance(schedule, ConstantLR) and schedule(10**6) == 0.1
    assert isinstance(make_schedule(0.1, 5), StepDecay)
