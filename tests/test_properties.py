"""Properties of the DEC formulas on random inputs (hypothesis).

Q and P are distributions, KL(P || Q) is a divergence, Q depends only on the
differences z_i - mu_j and follows the order of the centroids, and the gradients
of equation 4 are finite and match central differences.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

from numpy_dec.formulas import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    target_distribution,
)
from numpy_dec.gradcheck import numerical_gradient

FAST = settings(max_examples=40, deadline=None)
DTYPES = st.sampled_from([np.float32, np.float64])
ALPHAS = st.floats(0.1, 20.0)


@st.composite
def points_and_centroids(draw, dtype=None, bound=1e3, max_n=8, max_k=5):
    """(Z (N, E), centroids (K, E)) of one dtype, entries in [-bound, bound]."""
    dtype = draw(DTYPES) if dtype is None else dtype
    n, k, e = draw(st.integers(1, max_n)), draw(st.integers(1, max_k)), draw(
        st.integers(1, 4)
    )
    values = st.floats(-bound, bound, allow_nan=False, width=32)
    Z = draw(arrays(dtype, (n, e), elements=values))
    C = draw(arrays(dtype, (k, e), elements=values))
    return Z, C


@st.composite
def distributions(draw, n, k, dtype=np.float64):
    """An (N, K) array of rows that sum to 1, zeros allowed."""
    weights = draw(arrays(dtype, (n, k), elements=st.floats(0.0, 1.0, width=32)))
    weights[np.arange(n), draw(st.integers(0, k - 1))] += 1.0
    return weights / weights.sum(axis=1, keepdims=True)


def _tol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


@FAST
@given(points_and_centroids(), ALPHAS)
def test_q_rows_are_distributions(data, alpha):
    Z, C = data
    Q = soft_assignment(Z, C, alpha)
    assert Q.dtype == Z.dtype and Q.shape == (len(Z), len(C))
    assert np.isfinite(Q).all() and (Q >= 0).all()
    assert_allclose(Q.sum(axis=1), 1.0, atol=_tol(Z.dtype) * len(C))


@FAST
@given(points_and_centroids(), ALPHAS)
def test_p_rows_are_distributions(data, alpha):
    Z, C = data
    P = target_distribution(soft_assignment(Z, C, alpha))
    assert np.isfinite(P).all() and (P >= 0).all()
    assert_allclose(P.sum(axis=1), 1.0, atol=_tol(Z.dtype) * len(C))


@FAST
@given(st.data(), st.integers(1, 6), st.integers(1, 5))
def test_kl_is_non_negative_and_zero_on_itself(data, n, k):
    P = data.draw(distributions(n, k))
    Q = data.draw(distributions(n, k))
    # rows summing to 1 within rounding: allow the rounding of the sum
    assert kl_divergence(P, Q) >= -1e-12 * n
    assert abs(kl_divergence(P, P)) <= 1e-12 * n


@FAST
@given(points_and_centroids(bound=1e6), ALPHAS, st.data())
def test_gradients_are_finite(data, alpha, draw):
    Z, C = data
    P = draw.draw(distributions(len(Z), len(C), Z.dtype))
    dZ, dC = kl_gradients(Z, C, P, alpha)
    assert dZ.shape == Z.shape and dC.shape == C.shape
    assert np.isfinite(dZ).all() and np.isfinite(dC).all()
    assert np.isfinite(kl_divergence(P, soft_assignment(Z, C, alpha)))


@FAST
@given(points_and_centroids(dtype=np.float64, bound=10.0), ALPHAS,
       arrays(np.float64, 4, elements=st.floats(-10, 10)))
def test_translation_leaves_q_unchanged(data, alpha, shift):
    Z, C = data
    t = shift[: Z.shape[1]]
    # the expanded distances lose about |x|^2 * eps, hence the absolute tolerance
    assert_allclose(soft_assignment(Z + t, C + t, alpha), soft_assignment(Z, C, alpha),
                    rtol=1e-9, atol=1e-9)


@FAST
@given(points_and_centroids(), ALPHAS, st.randoms(use_true_random=False))
def test_permuting_centroids_permutes_columns(data, alpha, random):
    Z, C = data
    order = np.array(random.sample(range(len(C)), len(C)))
    Q = soft_assignment(Z, C, alpha)
    assert_allclose(soft_assignment(Z, C[order], alpha), Q[:, order],
                    rtol=0, atol=_tol(Z.dtype))


@settings(max_examples=25, deadline=None)
@given(points_and_centroids(dtype=np.float64, bound=3.0, max_n=5, max_k=4),
       st.floats(0.2, 5.0), st.data())
def test_gradients_match_finite_differences(data, alpha, draw):
    Z, C = (a.copy() for a in data)
    P = draw.draw(distributions(len(Z), len(C)))
    dZ, dC = kl_gradients(Z, C, P, alpha)

    def loss():
        return kl_divergence(P, soft_assignment(Z, C, alpha))

    assert_allclose(dZ, numerical_gradient(loss, Z), rtol=1e-5, atol=1e-7)
    assert_allclose(dC, numerical_gradient(loss, C), rtol=1e-5, atol=1e-7)
