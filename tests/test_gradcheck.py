import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec import gradcheck
from numpy_dec.gradcheck import (
    GradCheckResult,
    check_model,
    compare,
    format_table,
    numerical_gradient,
    register,
    registered_names,
    run_all,
)
from numpy_dec.layers import Dense, Dropout

EXPECTED_CHECKS = [
    "dense",
    "relu",
    "sigmoid",
    "identity",
    "dropout (frozen mask)",
    "mse_loss",
    "sequential 6-5-4-5-6 + mse",
    "kl alpha=0.5",
    "kl alpha=1",
    "kl alpha=2",
    "kl alpha=10",
    "autoencoder 6-5-4-3 + mirror, mse (sigmoid)",
    "autoencoder 6-5-4-3 + mirror, mse (linear)",
    "denoising pair (frozen masks), mse to the clean input",
    "DEC loss through the encoder (sigmoid)",
    "DEC loss through the encoder (linear)",
    "DEC loss + gamma * reconstruction, direct form",
]


def test_expected_checks_are_registered():
    assert set(EXPECTED_CHECKS) <= set(registered_names())


@pytest.mark.parametrize("name", registered_names())
def test_registered_check_passes(name):
    results = run_all([name])
    assert results, f"check {name!r} returned no results"
    table = format_table(results)
    for r in results:
        assert r.check == name
        assert r.rel_error < r.threshold, table
        assert r.passed, table


def test_numerical_gradient_of_known_function():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    grad = numerical_gradient(lambda: np.sum(x**3), x)
    assert_allclose(grad, 3 * x**2, rtol=1e-8, atol=1e-10)


def test_numerical_gradient_restores_x_exactly():
    # large values make (x + h) - h differ from x in floating point, so only
    # restoring the saved value gives back the same bits
    rng = np.random.default_rng(1)
    x = 1e3 * rng.standard_normal((4, 3)) + 0.1
    before = x.copy()
    numerical_gradient(lambda: np.sum(np.sin(x)), x)
    assert_array_equal(x, before)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([0.3, 0.7])
    before = x.copy()

    def f():
        if x[0] != before[0]:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert_array_equal(x, before)


def test_numerical_gradient_rejects_float32():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_compare_formula_by_hand():
    analytic = np.array([[1.0, 2.0, 3.0]])
    numeric = np.array([[1.0, 2.5, 3.0]])
    r = compare("w", analytic, numeric, threshold=0.2)

    # max |a - n| = 0.5 at (0, 1); max magnitude 3.0
    assert_allclose(r.rel_error, 0.5 / 3.0, rtol=1e-15)
    assert r.worst_index == (0, 1)
    assert (r.analytic_value, r.numeric_value) == (2.0, 2.5)
    assert r.shape == (1, 3)
    assert r.passed
    assert not compare("w", analytic, numeric, threshold=0.1).passed


def test_compare_edge_cases():
    assert compare("z", np.zeros(3), np.zeros(3)).rel_error == 0.0
    r = compare("nan", np.array([1.0, np.nan]), np.array([1.0, 1.0]))
    assert r.rel_error == float("inf")
    assert not r.passed
    with pytest.raises(ValueError, match="shape"):
        compare("s", np.zeros(3), np.zeros(4))


def test_machinery_detects_a_wrong_gradient():
    rng = np.random.default_rng(2)
    layer = Dense(4, 3, rng, dtype=np.float64)
    x = rng.standard_normal((5, 4))
    dout = rng.standard_normal((5, 3))

    def loss():
        return np.sum(layer.forward(x) * dout)

    numeric = numerical_gradient(loss, layer.params["W"])
    correct = x.T @ dout
    assert compare("W", correct, numeric).rel_error < 1e-7

    # a 1 % scaling error and a forgotten transpose are both caught by far
    assert compare("W", 1.01 * correct, numeric).rel_error > 1e-3
    wrong = (dout.T @ x).T[::-1]
    assert compare("W", wrong, numeric).rel_error > 1e-2


def test_machinery_detects_dropout_that_forgets_its_mask():
    class ForgetfulDropout(Dropout):
        def backward(self, dout):
            return dout

    rng = np.random.default_rng(3)
    layer = ForgetfulDropout(0.5, rng)
    layer.frozen = True
    (result,) = check_model(layer, rng.standard_normal((6, 4)), rng, training=True)
    assert result.rel_error > 0.1
    assert not result.passed


def test_register_and_run(monkeypatch):
    monkeypatch.setattr(gradcheck, "_REGISTRY", dict(gradcheck._REGISTRY))

    @register("toy", threshold=1e-3)
    def toy():
        x = np.array([1.0, 2.0])
        return compare("x", 2 * x, numerical_gradient(lambda: np.sum(x**2), x))

    (result,) = run_all(["toy"])
    assert result.check == "toy"
    assert result.threshold == 1e-3
    assert result.passed
    assert "toy" in registered_names()

    with pytest.raises(ValueError, match="already registered"):
        register("toy")(toy)
    with pytest.raises(ValueError, match="unknown"):
        run_all(["no such check"])


def test_registry_threshold_decides_pass(monkeypatch):
    monkeypatch.setattr(gradcheck, "_REGISTRY", dict(gradcheck._REGISTRY))

    @register("strict", threshold=1e-12)
    def strict():
        return [compare("w", np.array([1.0]), np.array([1.0 + 1e-9]), threshold=1.0)]

    (result,) = run_all(["strict"])
    assert not result.passed
    assert result.threshold == 1e-12


def test_format_table_columns():
    good = GradCheckResult("W", (2, 3), 1e-10, (0, 1), 0.5, 0.5, 1e-7, True, "c1")
    bad = GradCheckResult("b", (3,), 0.3, (2,), 1.0, 0.7, 1e-7, False, "c2")
    table = format_table([good, bad])
    lines = table.splitlines()
    for column in ("check", "parameter", "shape", "worst element", "analytic",
                   "numeric", "rel. error", "threshold", "pass/FAIL"):
        assert column in lines[0]
    assert len(lines) == 4
    assert "c1" in lines[2] and "(2, 3)" in lines[2] and "pass" in lines[2]
    assert "c2" in lines[3] and "(2,)" in lines[3] and "FAIL" in lines[3]
    assert "3.00e-01" in lines[3]
