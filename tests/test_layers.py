import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.layers import (
    Dense,
    Dropout,
    Identity,
    ReLU,
    Sequential,
    Sigmoid,
    make_activation,
)


def _layers(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [
        Dense(4, 3, rng, dtype=dtype),
        ReLU(),
        Sigmoid(),
        Identity(),
        Dropout(0.5, rng),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("init", ["glorot_uniform", "gaussian"])
def test_dense_init_shapes_and_dtypes(dtype, init):
    layer = Dense(7, 5, np.random.default_rng(0), dtype=dtype, init=init)
    assert layer.params["W"].shape == (7, 5)
    assert layer.params["b"].shape == (5,)
    for key in ("W", "b"):
        assert layer.params[key].dtype == dtype
        assert layer.grads[key].shape == layer.params[key].shape
        assert layer.grads[key].dtype == dtype
    assert_array_equal(layer.params["b"], 0)

    out = layer.forward(np.ones((3, 7), dtype=dtype))
    assert out.shape == (3, 5)
    assert out.dtype == dtype


def test_dense_glorot_bound_and_gaussian_std():
    rng = np.random.default_rng(1)
    glorot = Dense(300, 200, rng, dtype=np.float64)
    limit = np.sqrt(6.0 / 500)
    assert np.abs(glorot.params["W"]).max() <= limit
    assert np.abs(glorot.params["W"]).max() > 0.99 * limit

    gauss = Dense(300, 200, rng, dtype=np.float64, init="gaussian", init_std=0.05)
    assert_allclose(gauss.params["W"].std(), 0.05, rtol=0.02)
    assert_allclose(gauss.params["W"].mean(), 0.0, atol=1e-3)


def test_dense_forward_backward_formulas():
    rng = np.random.default_rng(2)
    layer = Dense(4, 3, rng, dtype=np.float64)
    layer.params["b"][...] = [0.5, -1.0, 2.0]
    x = rng.standard_normal((5, 4))
    dout = rng.standard_normal((5, 3))

    out = layer.forward(x)
    assert_allclose(out, x @ layer.params["W"] + layer.params["b"], rtol=1e-12)

    old_grads = dict(layer.grads)
    dx = layer.backward(dout)
    assert_allclose(dx, dout @ layer.params["W"].T, rtol=1e-12)
    assert_allclose(layer.grads["W"], x.T @ dout, rtol=1e-12)
    assert_allclose(layer.grads["b"], dout.sum(axis=0), rtol=1e-12)
    assert layer.grads["W"] is not old_grads["W"]
    assert layer.grads["b"] is not old_grads["b"]


def test_dense_validation():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="in_features"):
        Dense(0, 3, rng)
    with pytest.raises(ValueError, match="init"):
        Dense(2, 3, rng, init="xavier")
    with pytest.raises(ValueError, match="init_std"):
        Dense(2, 3, rng, init="gaussian", init_std=0.0)
    with pytest.raises(TypeError, match="Generator"):
        Dense(2, 3, 42)
    with pytest.raises(TypeError, match="floating"):
        Dense(2, 3, rng, dtype=np.int32)

    layer = Dense(2, 3, rng, dtype=np.float32)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        layer.forward(np.ones((4, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        layer.forward(np.ones((4, 2), dtype=np.float64))
    with pytest.raises(RuntimeError, match="before forward"):
        Dense(2, 3, rng).backward(np.ones((4, 3), dtype=np.float32))


@pytest.mark.parametrize("index", range(5))
def test_backward_does_not_modify_dout_or_input(index):
    layer = _layers()[index]
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 4))
    x_copy = x.copy()
    out = layer.forward(x, training=True)
    dout = rng.standard_normal(out.shape)
    dout_copy = dout.copy()

    layer.backward(dout)
    assert_array_equal(dout, dout_copy)
    assert_array_equal(x, x_copy)


def test_relu_and_sigmoid_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    dout = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])

    relu = ReLU()
    assert_array_equal(relu.forward(x), [[0.0, 0.0, 0.0, 0.5, 3.0]])
    assert_array_equal(relu.backward(dout), [[0.0, 0.0, 0.0, 4.0, 5.0]])

    sig = Sigmoid()
    s = 1 / (1 + np.exp(-x))
    assert_allclose(sig.forward(x), s, rtol=1e-15)
    assert_allclose(sig.backward(dout), dout * s * (1 - s), rtol=1e-15)


def test_sigmoid_is_stable_for_large_inputs():
    x = np.array([[-1000.0, -50.0, 50.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = Sigmoid().forward(x)
    assert np.all(np.isfinite(out))
    assert_allclose(out, [[0.0, 1.9287498479639178e-22, 1.0, 1.0]], rtol=1e-12)


def test_activations_keep_float32():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    dropout = Dropout(0.3, np.random.default_rng(0))
    for layer in (ReLU(), Sigmoid(), Identity(), dropout):
        out = layer.forward(x, training=True)
        assert out.dtype == np.float32
        assert layer.backward(np.ones_like(out)).dtype == np.float32


def test_dropout_keeps_and_freezes_its_mask():
    layer = Dropout(0.5, np.random.default_rng(5))
    x = np.ones((20, 10))
    out = layer.forward(x, training=True)
    mask = layer.mask
    assert set(np.unique(mask)) == {0.0, 2.0}
    assert_array_equal(out, x * mask)

    dout = np.arange(200.0).reshape(20, 10)
    assert_array_equal(layer.backward(dout), dout * mask)

    # a frozen layer reuses the mask; an unfrozen one draws a new one
    layer.frozen = True
    layer.forward(x, training=True)
    assert layer.mask is mask
    layer.frozen = False
    layer.forward(x, training=True)
    assert not np.array_equal(layer.mask, mask)

    # a frozen mask of the wrong shape is replaced
    layer.frozen = True
    layer.forward(np.ones((3, 10)), training=True)
    assert layer.mask.shape == (3, 10)


def test_dropout_eval_is_identity():
    layer = Dropout(0.7, np.random.default_rng(6))
    x = np.random.default_rng(7).standard_normal((8, 5))
    assert_array_equal(layer.forward(x, training=False), x)
    dout = np.ones((8, 5))
    assert_array_equal(layer.backward(dout), dout)


def test_dropout_inverted_scaling_preserves_mean():
    layer = Dropout(0.3, np.random.default_rng(8))
    x = np.ones((1000, 1000))
    out = layer.forward(x, training=True)

    # mean of 1e6 elements: standard error sqrt(0.3 / 0.7) / 1000 ~ 6.5e-4
    assert_allclose(out.mean(), 1.0, atol=5e-3)
    assert_allclose((out == 0).mean(), 0.3, atol=5e-3)


def test_dropout_zero_probability_keeps_everything():
    layer = Dropout(0.0, np.random.default_rng(9))
    x = np.random.default_rng(10).standard_normal((4, 3))
    assert_array_equal(layer.forward(x, training=True), x)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(p, np.random.default_rng(0))


def test_dropout_rejects_non_generator():
    with pytest.raises(TypeError, match="Generator"):
        Dropout(0.2, None)


def _small_net(rng):
    return Sequential([
        Dense(3, 4, rng, dtype=np.float64),
        ReLU(),
        Dense(4, 2, rng, dtype=np.float64),
        Sigmoid(),
    ])


def test_sequential_forward_backward_matches_manual_chain():
    rng = np.random.default_rng(11)
    net = _small_net(rng)
    x = rng.standard_normal((5, 3))
    dout = rng.standard_normal((5, 2))

    out = net.forward(x)
    h = x
    for layer in net.layers:
        h = layer.forward(h)
    assert_allclose(out, h, rtol=1e-15)

    dx = net.backward(dout)
    g = dout
    for layer in reversed(net.layers):
        g = layer.backward(g)
    assert_allclose(dx, g, rtol=1e-15)


def test_relu_keeps_its_output_and_backward_uses_it():
    relu = ReLU()
    x = np.array([[-1.5, 0.0, 2.0], [3.0, -0.5, 0.25]])
    out = relu.forward(x)
    assert relu.cache is out
    dout = np.arange(1.0, 7.0).reshape(2, 3)
    assert_array_equal(relu.backward(dout), dout * (x > 0))


def test_predict_matches_forward_and_keeps_no_cache():
    rng = np.random.default_rng(12)
    inner = _small_net(rng)
    net = Sequential([inner, Dropout(0.5, rng), Dense(2, 3, rng, dtype=np.float64)])
    x = rng.standard_normal((6, 3))

    expected = net.forward(x, training=False)
    assert_array_equal(net.predict(x), expected)
    leaves = inner.layers + net.layers[1:]
    assert all(layer.cache is None for layer in leaves)
    with pytest.raises(RuntimeError):
        net.backward(np.ones((6, 3)))


def test_sequential_parameter_names_and_order():
    rng = np.random.default_rng(12)
    net = _small_net(rng)
    names = [name for name, _, _ in net.named_parameters()]
    assert names == ["0.W", "0.b", "2.W", "2.b"]
    assert net.parameters() == [
        (net[0], "W"), (net[0], "b"), (net[2], "W"), (net[2], "b")
    ]

    nested = Sequential([Dense(2, 3, rng), Sequential([ReLU(), Dense(3, 1, rng)])])
    names = [name for name, _, _ in nested.named_parameters()]
    assert names == ["0.W", "0.b", "1.1.W", "1.1.b"]
    assert len(nested) == 2


def test_sequential_validation():
    with pytest.raises(ValueError, match="at least one"):
        Sequential([])
    with pytest.raises(TypeError, match="forward/backward"):
        Sequential([ReLU(), "relu"])


def test_make_activation():
    assert isinstance(make_activation("relu"), ReLU)
    assert isinstance(make_activation("sigmoid"), Sigmoid)
    assert isinstance(make_activation("linear"), Identity)
    assert make_activation("relu") is not make_activation("relu")
    with pytest.raises(ValueError, match="'relu', 'sigmoid', 'linear'"):
        make_activation("tanh")


@pytest.mark.parametrize("which", ["autoencoder", "encoder", "pair 0", "pair 2"])
def test_backward_without_input_grad_sets_the_same_grads(which):
    rng = np.random.default_rng(0)
    ae = StackedDenoisingAutoencoder((6, 5, 4, 3), rng, dtype=np.float64)
    model = {"autoencoder": ae.autoencoder, "encoder": ae.encoder,
             "pair 0": ae.pairs[0], "pair 2": ae.pairs[2]}[which]
    x = rng.standard_normal((7, 4 if which == "pair 2" else 6))
    out = model.forward(x, training=True)
    for layer in model.layers:
        layer.frozen = True  # dropout keeps its mask; other layers ignore it
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()

    dx = model.backward(dout)
    full = {name: layer.grads[key] for name, layer, key in model.named_parameters()}
    for _, layer, key in model.named_parameters():
        layer.grads[key] = None  # each one must be set again
    model.forward(x, training=True)
    assert model.backward(dout, input_grad=False) is None
    assert dx.shape == x.shape
    assert_array_equal(dout, dout_before)
    for name, layer, key in model.named_parameters():
        assert_array_equal(layer.grads[key], full[name])


def test_backward_without_input_grad_nested_and_parameter_free():
    rng = np.random.default_rng(1)
    net = Sequential([
        ReLU(),
        Sequential([Dense(3, 4, rng, dtype=np.float64), ReLU()]),
        Dense(4, 2, rng, dtype=np.float64),
    ])
    x, dout = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    net.forward(x)
    net.backward(dout)
    full = {name: layer.grads[key] for name, layer, key in net.named_parameters()}
    for _, layer, key in net.named_parameters():
        layer.grads[key] = None  # each one must be set again
    net.forward(x)
    assert net.backward(dout, input_grad=False) is None
    for name, layer, key in net.named_parameters():
        assert_array_equal(layer.grads[key], full[name])
    assert Sequential([ReLU()]).backward(dout, input_grad=False) is None
