"""The derivations in derivations/*.md: their references and their numbers.

Every ``path::name`` reference in a derivation must name an existing file and a
function, class, method or constant defined in it; definitions are found with
``ast``, nothing is imported. Every number a derivation quotes from a
measurement is recomputed here, and must appear in the text as printed.
"""

import ast
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.formulas import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    target_distribution,
)
from numpy_dec.gradcheck import numerical_gradient
from numpy_dec.losses import mse_loss
from numpy_dec.optim import SGD, Adam

ROOT = Path(__file__).resolve().parents[1]
DERIVATIONS = ROOT / "derivations"
EXPECTED = [
    "backpropagation.md",
    "cost.md",
    "kl_gradients.md",
    "regression_step.md",
    "soft_assignment.md",
    "target_distribution.md",
]
REFERENCE = re.compile(
    r"((?:[\w.-]+/)*[\w.-]+\.py)::([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
)


def _text(name: str) -> str:
    return (DERIVATIONS / name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _defined_names(path: Path) -> frozenset:
    """Top-level functions, classes, constants and Class.method names of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield prefix + node.name
            elif isinstance(node, ast.ClassDef):
                yield prefix + node.name
                yield from walk(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.Assign) and not prefix:
                yield from (t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                yield prefix + node.target.id

    return frozenset(walk(tree.body, ""))


def missing_references(text: str) -> list[str]:
    """The ``path::name`` references of a text that name nothing real."""
    problems = []
    for file, name in REFERENCE.findall(text):
        path = ROOT / file
        if not path.is_file():
            problems.append(f"{file}::{name}: no such file")
        elif name not in _defined_names(path):
            problems.append(f"{file}::{name}: {file} defines no {name}")
    return problems


# References


def test_every_expected_derivation_exists():
    present = sorted(p.name for p in DERIVATIONS.glob("*.md") if p.name != "README.md")
    assert present == EXPECTED


@pytest.mark.parametrize("name", EXPECTED + ["README.md"])
def test_references_name_real_code(name):
    text = _text(name)
    assert REFERENCE.search(text), f"{name} references no code at all"
    problems = missing_references(text)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", EXPECTED)
def test_each_derivation_names_an_implementation_and_a_test(name):
    text = _text(name)
    assert "## Implemented by / Checked by" in text
    section = text.split("## Implemented by / Checked by", 1)[1]
    files = [file for file, _ in REFERENCE.findall(section)]
    assert any(f.startswith("numpy_dec/") for f in files), f"{name}: no implementation"
    assert any(f.startswith("tests/") for f in files), f"{name}: no test"
    assert "## Where the specification notes were loose" in text


def test_readme_indexes_every_derivation():
    readme = _text("README.md")
    for name in EXPECTED:
        assert f"({name})" in readme, f"README.md does not link {name}"


def test_derivations_named_in_the_package_exist():
    named = set()
    for path in sorted((ROOT / "numpy_dec").glob("*.py")):
        named |= set(re.findall(r"derivations/(\w+\.md)", path.read_text("utf-8")))
    assert named, "no docstring points to a derivation"
    assert not named - set(EXPECTED), f"missing derivations: {named - set(EXPECTED)}"


def test_reference_check_reports_what_is_missing():
    text = (
        "`numpy_dec/formulas.py::kl_gradients`, `numpy_dec/layers.py::Dense.backward`"
        " exist; `numpy_dec/formulas.py::kl_hessian`, "
        "`numpy_dec/layers.py::Dense.jump` and `tests/test_nothing.py::test_x` do not."
    )
    assert missing_references(text) == [
        "numpy_dec/formulas.py::kl_hessian: numpy_dec/formulas.py defines no "
        "kl_hessian",
        "numpy_dec/layers.py::Dense.jump: numpy_dec/layers.py defines no Dense.jump",
        "tests/test_nothing.py::test_x: no such file",
    ]


def _row(*cells) -> str:
    """A Markdown table row, as the derivations print it."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _assert_rows(name: str, rows: list[str]) -> None:
    """Every row appears in the derivation, spaces aside."""
    text = re.sub(r"\s+", "", _text(name))
    absent = [row for row in rows if re.sub(r"\s+", "", row) not in text]
    assert not absent, f"{name} lacks the recomputed rows:\n" + "\n".join(absent)


# soft_assignment.md


def _kernel(d, alpha):
    return (1.0 + d / alpha) ** (-(alpha + 1.0) / 2.0)


def cube_measurements(scale: float) -> dict[str, float]:
    """Q, P and gradients for 10 tight clusters in [0, 1]^10, scaled by `scale`."""
    rng = np.random.default_rng(0)
    n, k, e = 1000, 10, 10
    centroids = rng.uniform(0.1, 0.9, (k, e))
    members = np.arange(n) % k
    Z = np.clip(centroids[members] + 0.05 * rng.standard_normal((n, e)), 0.0, 1.0)
    Q = soft_assignment(scale * Z, scale * centroids)
    P = target_distribution(Q)
    dZ, dC = kl_gradients(scale * Z, scale * centroids, P)
    return {
        "correct": float(np.mean(Q.argmax(axis=1) == members)),
        "max_q": float(Q.max(axis=1).mean()),
        "max_p": float(P.max(axis=1).mean()),
        "kl": kl_divergence(P, Q) / n,
        "grad_z": float(np.linalg.norm(dZ, axis=1).mean()),
        "grad_mu": float(np.linalg.norm(dC, axis=1).mean()),
    }


def test_soft_assignment_numbers():
    # the kernel against the distance r; alpha -> infinity gives exp(-r^2 / 2)
    r = np.array([1.0, 2.0, 3.0, 5.0, 10.0])
    rows = [
        _row(f"$\\alpha = {alpha:g}$", *(f"{v:.3g}" for v in _kernel(r**2, alpha)))
        for alpha in (0.5, 1.0, 10.0, 100.0)
    ]
    gauss = np.exp(-(r**2) / 2)
    rows.append(_row("Gaussian $e^{-r^2/2}$", *(f"{v:.3g}" for v in gauss)))
    assert np.abs(_kernel(r**2, 1e6) - gauss).max() < 1e-5

    # the inverse square law: r^2 k(r) = r^2 / (1 + r^2) at alpha = 1
    rows.append(_row("$r^2 k(r)$", *(f"{v:.3g}" for v in r**2 * _kernel(r**2, 1.0))))

    # odds of the nearer centroid for a point at -R, centroids at 0 and 2
    for R in (1.0, 5.0, 20.0):
        d = np.array([R**2, (R + 2.0) ** 2])
        t, g = _kernel(d, 1.0), np.exp(-d / 2)
        rows.append(_row(f"{R:g}", f"{t[0] / t[1]:.3g}", f"{g[0] / g[1]:.3g}"))

    # sigmoid embedding: the bound on q, and tight clusters in the cube
    Z = np.zeros((1, 10))
    C = np.vstack([np.zeros(10), np.ones((9, 10))])
    assert soft_assignment(Z, C)[0, 0] == pytest.approx(11 / 20, rel=1e-12)
    for scale in (1.0, 3.0, 10.0):
        m = cube_measurements(scale)
        assert m["correct"] == 1.0
        keys = ("max_q", "max_p", "kl", "grad_z", "grad_mu")
        rows.append(_row(f"{scale:g}", *(f"{m[key]:.3g}" for key in keys)))
    _assert_rows("soft_assignment.md", rows)


# target_distribution.md

HAND_Q = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.5, 0.5], [0.2, 0.8]])


def test_target_distribution_table():
    P = target_distribution(HAND_Q)
    expected = np.array(
        [[54 / 55, 1 / 55], [32 / 35, 3 / 35], [0.6, 0.4], [0.4, 0.6], [0.04, 0.96]]
    )
    np.testing.assert_allclose(P, expected, rtol=1e-14)

    # u = q^2 / f, P, and squaring alone without the division by f_j
    U = HAND_Q**2 / HAND_Q.sum(axis=0)
    squared = HAND_Q**2 / (HAND_Q**2).sum(axis=1, keepdims=True)
    rows = [
        _row(i + 1, *(f"{v:g}" for v in HAND_Q[i]), *(f"{v:.4f}" for v in U[i]),
             *(f"{v:.4f}" for v in P[i]), *(f"{v:.4f}" for v in squared[i]))
        for i in range(len(HAND_Q))
    ]
    rows.append(_row("sum", *(f"{v:g}" for v in HAND_Q.sum(axis=0)), "", "",
                     *(f"{v:.4f}" for v in P.sum(axis=0)),
                     *(f"{v:.4f}" for v in squared.sum(axis=0))))

    # the pull p - q of a two-cluster row with equal frequencies
    for q in (0.5, 0.6, 0.75, 0.9, 0.99):
        p = target_distribution(np.array([[q, 1 - q], [1 - q, q]]))[0, 0]
        rows.append(_row(f"{q:g}", f"{p:.4f}", f"{p - q:.4f}"))
    _assert_rows("target_distribution.md", rows)


# kl_gradients.md


def _gradients_from(Gk, Z, C, alpha):
    """Gradients for Z and C of a loss whose gradient for log k_ij is Gk (N, K)."""
    d = ((Z[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
    W = Gk / (1.0 + d / alpha)
    coef = (alpha + 1.0) / alpha
    dZ = -coef * (W.sum(axis=1, keepdims=True) * Z - W @ C)
    dC = coef * (W.T @ Z - W.sum(axis=0)[:, None] * C)
    return dZ, dC


def equation_4(Z, C, P, alpha):
    """Equation 4 as written, for any P (kl_gradients insists on rows summing to 1)."""
    return _gradients_from(-(P - soft_assignment(Z, C, alpha)), Z, C, alpha)


def missing_row_sum_term(Z, C, P, alpha):
    """What equation 4 leaves out when s_i = sum_j p_ij differs from 1."""
    Q = soft_assignment(Z, C, alpha)
    s = P.sum(axis=1, keepdims=True)
    return _gradients_from((s - 1.0) * Q, Z, C, alpha)


def through_target_term(Z, C, alpha):
    """The part of the gradient that flows through P = target_distribution(Q)."""
    Q = soft_assignment(Z, C, alpha)
    P = target_distribution(Q)
    f = Q.sum(axis=0)
    U = (Q**2 / f).sum(axis=1, keepdims=True)
    G = np.log(P / Q) + 1.0
    Gu = (G - (P * G).sum(axis=1, keepdims=True)) / U
    Gq = Gu * 2.0 * Q / f - (Gu * Q**2).sum(axis=0) / f**2
    Gk = Q * (Gq - (Q * Gq).sum(axis=1, keepdims=True))
    return _gradients_from(Gk, Z, C, alpha)


def _rel(a, n):
    return float(np.abs(a - n).max() / max(np.abs(a).max(), np.abs(n).max()))


def _cos(a, b):
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


def _error_cells(analytic, numeric) -> list[str]:
    """Relative errors, then cosines, for (dZ, dC) against finite differences."""
    pairs = list(zip(analytic, numeric))
    return [f"{_rel(a, n):.2f}" for a, n in pairs] + [
        f"{_cos(a, n):.3f}" for a, n in pairs
    ]


def _small_problem():
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 2)), rng.standard_normal((3, 2)), 1.0


def test_equation_4_is_exact_with_p_fixed_and_normalised():
    Z, C, alpha = _small_problem()
    P = target_distribution(soft_assignment(Z, C, alpha))
    dZ, dC = kl_gradients(Z, C, P, alpha)
    np.testing.assert_allclose(equation_4(Z, C, P, alpha)[0], dZ, rtol=1e-12)
    np.testing.assert_allclose(equation_4(Z, C, P, alpha)[1], dC, rtol=1e-12)

    def loss():
        return kl_divergence(P, soft_assignment(Z, C, alpha))

    assert _rel(dZ, numerical_gradient(loss, Z)) < 1e-9
    assert _rel(dC, numerical_gradient(loss, C)) < 1e-9


def test_gradients_are_translation_invariant():
    # L depends on z_i - mu_j only, so shifting everything by one vector changes
    # nothing: sum_i dL/dz_i + sum_j dL/dmu_j = 0
    Z, C, alpha = _small_problem()
    P = target_distribution(soft_assignment(Z, C, alpha))
    dZ, dC = kl_gradients(Z, C, P, alpha)
    assert np.abs(dZ.sum(axis=0) + dC.sum(axis=0)).max() < 1e-14
    assert np.abs(dZ).max() > 1e-3


def test_equation_4_with_p_recomputed_from_q():
    Z, C, alpha = _small_problem()
    P = target_distribution(soft_assignment(Z, C, alpha))
    eq4 = equation_4(Z, C, P, alpha)
    extra = through_target_term(Z, C, alpha)

    def loss():
        Q = soft_assignment(Z, C, alpha)
        return kl_divergence(target_distribution(Q), Q)

    numeric = (numerical_gradient(loss, Z), numerical_gradient(loss, C))
    for a, b, n in zip(eq4, extra, numeric):
        assert _rel(a, n) > 1.0
        assert _rel(a + b, n) < 1e-8
    rows = [_row("recomputed from $Q$", *_error_cells(eq4, numeric), "< 1e-8")]

    # a step against equation 4 sharpens Q, one against the full gradient flattens it
    def sharpness(Z, C):
        return float(soft_assignment(Z, C, alpha).max(axis=1).mean())

    full = [a + b for a, b in zip(eq4, extra)]
    before = sharpness(Z, C)
    after_eq4 = sharpness(Z - 0.1 * eq4[0], C - 0.1 * eq4[1])
    after_full = sharpness(Z - 0.1 * full[0], C - 0.1 * full[1])
    assert after_full < before < after_eq4
    rows += [_row("(no step)", f"{before:.3f}"), _row("equation 4", f"{after_eq4:.3f}"),
             _row("the gradient with $P$ recomputed", f"{after_full:.3f}")]
    _assert_rows("kl_gradients.md", rows)


def test_equation_4_with_rows_of_p_not_summing_to_one():
    Z, C, alpha = _small_problem()
    Q = soft_assignment(Z, C, alpha)
    U = Q**2 / Q.sum(axis=0)  # the target before its rows are normalised
    eq4 = equation_4(Z, C, U, alpha)
    extra = missing_row_sum_term(Z, C, U, alpha)

    def loss():
        return kl_divergence(U, soft_assignment(Z, C, alpha))

    numeric = (numerical_gradient(loss, Z), numerical_gradient(loss, C))
    for a, b, n in zip(eq4, extra, numeric):
        assert _rel(a, n) > 0.5
        assert _rel(a + b, n) < 1e-8
    sums = U.sum(axis=1)
    setting = f"rows summing to {sums.min():.3f} ... {sums.max():.3f}"
    _assert_rows("kl_gradients.md",
                 [_row(setting, *_error_cells(eq4, numeric), "< 1e-8")])


# regression_step.md

N_REG, D_REG, K_REG = 16, 8, 3


def _encoder():
    rng = np.random.default_rng(1)
    return StackedDenoisingAutoencoder((D_REG, 6, 4), rng, dtype=np.float64).encoder


def _regression_setup():
    X = np.random.default_rng(0).uniform(size=(N_REG, D_REG))
    encoder = _encoder()
    C = encoder.forward(X)[:K_REG].copy()
    P = target_distribution(soft_assignment(encoder.forward(X), C))
    return X, C, P


def _flat(encoder):
    return np.concatenate([layer.params[key].ravel() for layer, key in
                           encoder.parameters()])


def parameter_change(method, make_optimizer, etas, lrs, inner=1):
    """Total parameter change after len(etas) DEC iterations on one batch.

    ``regression`` fits f(X) to the fixed y = Z - eta g with ``inner`` MSE
    steps per iteration; ``direct`` backpropagates g, recomputed at every step.
    """
    X, C, P = _regression_setup()
    encoder = _encoder()
    optimizer = make_optimizer(encoder.parameters())
    start = _flat(encoder)
    for eta, lr in zip(etas, lrs):
        Z = encoder.forward(X, training=True)
        target = Z - eta * kl_gradients(Z, C, P)[0]
        for _ in range(inner):
            Z = encoder.forward(X, training=True)
            if method == "regression":
                dout = mse_loss(Z, target)[1]
            else:
                dout = kl_gradients(Z, C, P)[0]
            encoder.backward(dout)
            optimizer.step(lr)
    return _flat(encoder) - start


def _gap(etas, regression_lrs, direct_lrs, optimizer=SGD, inner=1) -> float:
    """|regression change - direct change| / |direct change|."""
    a = parameter_change("regression", optimizer, etas, regression_lrs, inner)
    b = parameter_change("direct", optimizer, etas, direct_lrs, inner)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _gap_cell(gap: float, exact: bool, below: str) -> str:
    """"< below" for a gap that must vanish, the gap itself for one that must not."""
    assert gap < float(below) if exact else gap > 1e-2
    return f"< {below}" if exact else f"{gap:.3g}"


def test_regression_step_numbers():
    def c(eta):  # the constant 2 eta / (N E), E = 4
        return 2.0 * eta / (N_REG * 4)

    # several inner steps on the same target y, eta = 0.5, learning rate 5
    rows = [_row(inner, _gap_cell(_gap([0.5], [5.0], [5.0 * c(0.5)], inner=inner),
                                  inner == 1, "1e-9"))
            for inner in (1, 2, 5, 50)]

    # momentum carried over five iterations, eta constant or eta0 / sqrt(t)
    def momentum(params):
        return SGD(params, momentum=0.9)

    schedules = (("$0.5$", [0.5] * 5),
                 ("$1/\\sqrt{t}$", [1.0 / np.sqrt(t) for t in range(1, 6)]))
    for label, etas in schedules:
        gap = _gap(etas, [5.0] * 5, [5.0 * c(x) for x in etas], momentum)
        rows.append(_row(label, _gap_cell(gap, label == "$0.5$", "1e-9")))

    # Adam: a constant factor 2 eta / (N E) cancels, up to eps
    for eps in (1e-8, 1e-14):
        def adam(params, eps=eps):
            return Adam(params, eps=eps)

        for label, etas in schedules:
            same = _gap(etas, [1e-3] * 5, [1e-3] * 5, adam)
            scaled = _gap(etas, [1e-3] * 5, [1e-3 * c(x) for x in etas], adam)
            assert scaled > 10.0
            exact = eps < 1e-12 and label == "$0.5$"
            rows.append(_row(f"{eps:g}", label, _gap_cell(same, exact, "1e-4"),
                             f"{scaled:.3g}"))
    _assert_rows("regression_step.md", rows)


# cost.md


def test_parameter_counts():
    ae = StackedDenoisingAutoencoder((784, 500, 500, 2000, 10),
                                     np.random.default_rng(0))

    def count(model):
        return sum(layer.params[key].size for layer, key in model.parameters())

    counts = [count(ae.encoder), count(ae.decoder), count(ae.autoencoder)]
    counts += [count(pair) for pair in ae.pairs]
    assert counts[2] == counts[0] + counts[1] == sum(counts[3:])

    # numbers cached for the backward pass, per sample of a minibatch; an array
    # two layers cache (a ReLU's output, the next dense layer's input) counts once
    ae.autoencoder.forward(np.zeros((1, 784), dtype=np.float32), training=True)
    cached = {id(layer.cache): layer.cache.size for layer in ae.autoencoder.layers
              if layer.cache is not None}
    counts.append(sum(cached.values()))
    text = _text("cost.md")
    absent = [f"{c:,}" for c in counts if f"{c:,}" not in text]
    assert not absent, f"cost.md does not quote the counts {absent}"
