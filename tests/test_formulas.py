"""Tests for numpy_dec.formulas: soft assignment, target distribution, KL loss."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec.formulas import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    squared_distances,
    target_distribution,
)

DTYPES = [np.float32, np.float64]
ALPHAS = [0.5, 1.0, 2.0, 10.0]

# Row sums of Q and P are 1 up to a few roundings of the dtype.
ROW_ATOL = {np.float32: 1e-6, np.float64: 1e-12}


def _points(seed: int, n: int = 8, k: int = 4, e: int = 3, dtype=np.float64):
    """Points Z (N, E) and centroids (K, E) drawn from a standard normal."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, e)).astype(dtype)
    centroids = rng.standard_normal((k, e)).astype(dtype)
    return Z, centroids


def _reference_assignment(Z, centroids, alpha):
    """Equation 1 written literally, one pair (i, j) at a time."""
    n, k = Z.shape[0], centroids.shape[0]
    kernel = np.zeros((n, k))
    for i in range(n):
        for j in range(k):
            d = sum((Z[i, e] - centroids[j, e]) ** 2 for e in range(Z.shape[1]))
            kernel[i, j] = (1.0 + d / alpha) ** (-(alpha + 1.0) / 2.0)
    Q = np.zeros((n, k))
    for i in range(n):
        for j in range(k):
            Q[i, j] = kernel[i, j] / sum(kernel[i, jj] for jj in range(k))
    return Q


def _reference_gradients(Z, centroids, P, alpha):
    """Equation 4 written literally, one pair (i, j) at a time."""
    Q = _reference_assignment(Z, centroids, alpha)
    dZ = np.zeros_like(Z)
    dcentroids = np.zeros_like(centroids)
    for i in range(Z.shape[0]):
        for j in range(centroids.shape[0]):
            diff = Z[i] - centroids[j]
            w = 1.0 / (1.0 + np.dot(diff, diff) / alpha)
            term = (alpha + 1.0) / alpha * w * (P[i, j] - Q[i, j]) * diff
            dZ[i] += term
            dcentroids[j] -= term
    return dZ, dcentroids


def _numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences (f(x + h e) - f(x - h e)) / 2h, x perturbed in place."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = f()
        x[index] = old - h
        minus = f()
        x[index] = old
        grad[index] = (plus - minus) / (2.0 * h)
    return grad


def _rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max|a - n| / max(max|a|, max|n|)."""
    scale = max(np.abs(analytic).max(), np.abs(numeric).max())
    return float(np.abs(analytic - numeric).max() / scale)


def _report(name, analytic, numeric) -> str:
    """Name, shape, worst element and its two values of a gradient check."""
    worst = np.unravel_index(np.abs(analytic - numeric).argmax(), analytic.shape)
    return (
        f"{name} {analytic.shape}: rel. error {_rel_error(analytic, numeric):.2e}, "
        f"worst {worst}: analytic {analytic[worst]:.10g}, "
        f"numeric {numeric[worst]:.10g}"
    )


# Soft assignment (equation 1) and distances


def test_squared_distances_match_brute_force():
    Z, centroids = _points(0, n=6, k=5, e=4)
    brute = ((Z[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    assert_allclose(squared_distances(Z, centroids), brute, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_distances_clipped_at_zero(dtype):
    # Points on top of the centroids, far from the origin: the expanded form
    # cancels to about +-eps |z|^2, and must not go below 0.
    rng = np.random.default_rng(1)
    centroids = (1e3 + rng.standard_normal((5, 7))).astype(dtype)
    Z = np.repeat(centroids, 3, axis=0)
    d = squared_distances(Z, centroids)
    assert d.dtype == dtype
    assert (d >= 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_distances_survive_overflowing_squares(dtype):
    # |z|^2 overflows, but the point sits on the first centroid: distance 0,
    # and the second distance exceeds the dtype's range: inf, never NaN.
    big = 1e30 if dtype == np.float32 else 1e200
    Z = np.array([[big, 0.0]], dtype=dtype)
    centroids = np.array([[big, 0.0], [-big, 0.0]], dtype=dtype)
    with np.errstate(all="raise"):
        d = squared_distances(Z, centroids)
    assert d[0, 0] == 0.0
    assert d[0, 1] == np.inf


@pytest.mark.parametrize("alpha", ALPHAS)
def test_soft_assignment_matches_equation_1(alpha):
    Z, centroids = _points(2)
    expected = _reference_assignment(Z, centroids, alpha)
    assert_allclose(soft_assignment(Z, centroids, alpha), expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_soft_assignment_rows_are_distributions(dtype, alpha):
    Z, centroids = _points(3, n=20, k=6, e=5, dtype=dtype)
    Q = soft_assignment(Z, centroids, alpha)
    assert Q.dtype == dtype
    assert Q.shape == (20, 6)
    assert (Q >= 0).all()
    assert_allclose(Q.sum(axis=1), 1.0, rtol=0, atol=ROW_ATOL[dtype])


def test_soft_assignment_dtype_follows_Z():
    Z, centroids = _points(4)
    assert soft_assignment(Z.astype(np.float32), centroids).dtype == np.float32
    assert soft_assignment(Z, centroids.astype(np.float32)).dtype == np.float64
    assert soft_assignment(np.arange(6).reshape(3, 2), centroids[:, :2]).dtype == (
        np.float64
    )


# Target distribution (equation 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_target_distribution_rows_sum_to_one(dtype):
    Z, centroids = _points(5, n=30, k=5, dtype=dtype)
    P = target_distribution(soft_assignment(Z, centroids))
    assert P.dtype == dtype
    assert (P >= 0).all()
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=ROW_ATOL[dtype])


def test_target_distribution_strengthens_predictions():
    # Equal cluster frequencies f = (2, 2), so p_ij is q_ij^2 row-normalised:
    #   (0.9, 0.1) -> (0.81, 0.01) / 0.82 = (81/82, 1/82)
    #   (0.6, 0.4) -> (0.36, 0.16) / 0.52 = (9/13, 4/13)
    # and the last two rows mirror the first two.
    Q = np.array([[0.9, 0.1], [0.6, 0.4], [0.1, 0.9], [0.4, 0.6]])
    P = target_distribution(Q)
    expected = np.array(
        [[81 / 82, 1 / 82], [9 / 13, 4 / 13], [1 / 82, 81 / 82], [4 / 13, 9 / 13]]
    )
    assert_allclose(P, expected, rtol=1e-14)

    # Property 1: every row keeps its argmax, and the argmax gets larger.
    assert_array_equal(P.argmax(axis=1), Q.argmax(axis=1))
    assert (P.max(axis=1) > Q.max(axis=1)).all()


def test_target_distribution_emphasises_confident_points():
    # Property 2: p_i0 / p_i1 = (q_i0 / q_i1)^2 * f_1 / f_0, so with equal f the
    # odds of a point are squared: a confident point's odds grow from 9 to 81
    # (by 9), an uncertain point's from 1.5 to 2.25 (only by 1.5).
    Q = np.array([[0.9, 0.1], [0.6, 0.4], [0.1, 0.9], [0.4, 0.6]])
    P = target_distribution(Q)
    odds_q = Q[:2, 0] / Q[:2, 1]
    odds_p = P[:2, 0] / P[:2, 1]
    assert_allclose(odds_q, [9.0, 1.5], rtol=1e-14)
    assert_allclose(odds_p, [81.0, 2.25], rtol=1e-14)
    gain = odds_p / odds_q
    assert gain[0] > gain[1]


def test_target_distribution_normalises_cluster_frequency():
    # Property 3: cluster 0 is larger, f = (0.9 + 0.9 + 0.5 + 0.2,
    # 0.1 + 0.1 + 0.5 + 0.8) = (2.5, 1.5). The undecided point (0.5, 0.5) gets
    #   (0.25 / 2.5, 0.25 / 1.5) = (1/10, 1/6) -> (3/8, 5/8),
    # pulled towards the smaller cluster.
    Q = np.array([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    P = target_distribution(Q)
    assert_allclose(P[2], [3 / 8, 5 / 8], rtol=1e-14)

    # The big cluster's share of the total mass shrinks: sum_i p_i0 < f_0.
    assert P[:, 0].sum() < Q[:, 0].sum()


@pytest.mark.parametrize("dtype", DTYPES)
def test_target_distribution_empty_column_gets_zero(dtype):
    Q = np.array([[0.0, 0.3, 0.7], [0.0, 1.0, 0.0]], dtype=dtype)
    with np.errstate(all="raise"):
        P = target_distribution(Q)
    assert_array_equal(P[:, 0], 0.0)
    assert np.isfinite(P).all()
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=ROW_ATOL[dtype])


# KL divergence (equation 2)


@pytest.mark.parametrize("seed", range(5))
def test_kl_divergence_is_non_negative(seed):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(4), size=10)
    Q = rng.dirichlet(np.ones(4), size=10)
    assert kl_divergence(P, Q) >= 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_divergence_of_p_with_itself_is_zero(dtype):
    Z, centroids = _points(6, dtype=dtype)
    P = target_distribution(soft_assignment(Z, centroids))
    assert kl_divergence(P, P) == 0.0


def test_kl_divergence_known_value_and_zero_log_zero():
    # Row 1: 1 log(1 / 0.5) + 0 log(0 / 0.5) = log 2; row 2: p = q gives 0, and
    # its 0 log(0 / 0) = 0.
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    Q = np.array([[0.5, 0.5], [0.0, 1.0]])
    assert kl_divergence(P, Q) == pytest.approx(np.log(2.0), rel=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_divergence_finite_when_q_is_zero(dtype):
    P = np.array([[0.5, 0.5]], dtype=dtype)
    Q = np.array([[1.0, 0.0]], dtype=dtype)
    kl = kl_divergence(P, Q)
    assert np.isfinite(kl)
    assert kl > 10.0


# Gradients (equation 4)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_kl_gradients_match_equation_4(alpha):
    Z, centroids = _points(7)
    P = target_distribution(soft_assignment(Z, centroids, alpha))
    dZ, dcentroids = kl_gradients(Z, centroids, P, alpha)
    ref_dZ, ref_dcentroids = _reference_gradients(Z, centroids, P, alpha)
    assert_allclose(dZ, ref_dZ, rtol=1e-10)
    assert_allclose(dcentroids, ref_dcentroids, rtol=1e-10)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_kl_gradients_match_finite_differences(alpha):
    # P is the target distribution of the starting Q, then held fixed.
    Z, centroids = _points(8)
    P = target_distribution(soft_assignment(Z, centroids, alpha))
    dZ, dcentroids = kl_gradients(Z, centroids, P, alpha)

    def loss() -> float:
        return kl_divergence(P, soft_assignment(Z, centroids, alpha))

    num_dZ = _numerical_gradient(loss, Z)
    num_dcentroids = _numerical_gradient(loss, centroids)
    assert _rel_error(dZ, num_dZ) < 1e-7, _report("Z", dZ, num_dZ)
    assert _rel_error(dcentroids, num_dcentroids) < 1e-7, _report(
        "centroids", dcentroids, num_dcentroids
    )


def test_kl_gradients_dtype_follows_Z():
    Z, centroids = _points(9, dtype=np.float32)
    P = target_distribution(soft_assignment(Z, centroids))
    dZ, dcentroids = kl_gradients(Z, centroids, P.astype(np.float64))
    assert dZ.dtype == np.float32
    assert dcentroids.dtype == np.float32


# Numerical edge cases


def _far_centroid(dtype):
    # A centroid so far away that its kernel underflows to 0: f_j = 0.
    Z, centroids = _points(10, dtype=dtype)
    centroids[0] = 1e30 if dtype == np.float32 else 1e200
    return Z, centroids


def _identical_centroids(dtype):
    Z, centroids = _points(11, dtype=dtype)
    centroids[:] = centroids[0]
    return Z, centroids


def _duplicate_points(dtype):
    Z, centroids = _points(12, dtype=dtype)
    Z[:] = Z[0]
    return Z, centroids


def _one_cluster(dtype):
    return _points(13, k=1, dtype=dtype)


def _one_cluster_per_point(dtype):
    Z, _ = _points(14, dtype=dtype)
    return Z, Z.copy()


def _large_magnitude(dtype):
    Z, centroids = _points(15, dtype=dtype)
    scale = 1e30 if dtype == np.float32 else 1e200
    return Z * dtype(scale), centroids * dtype(scale)


def _large_offset(dtype):
    Z, centroids = _points(16, dtype=dtype)
    return Z + dtype(1e4), centroids + dtype(1e4)


def _all_zero(dtype):
    Z, centroids = _points(17, dtype=dtype)
    return np.zeros_like(Z), np.zeros_like(centroids)


EDGE_CASES = [
    _far_centroid,
    _identical_centroids,
    _duplicate_points,
    _one_cluster,
    _one_cluster_per_point,
    _large_magnitude,
    _large_offset,
    _all_zero,
]


@pytest.mark.parametrize("make", EDGE_CASES, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.5, 1.0, 10.0])
def test_edge_cases_stay_finite(make, dtype, alpha):
    Z, centroids = make(dtype)
    Q = soft_assignment(Z, centroids, alpha)
    P = target_distribution(Q)
    kl = kl_divergence(P, Q)
    dZ, dcentroids = kl_gradients(Z, centroids, P, alpha)

    for array in (Q, P, dZ, dcentroids):
        assert array.dtype == dtype
        assert np.isfinite(array).all()
    assert_allclose(Q.sum(axis=1), 1.0, rtol=0, atol=ROW_ATOL[dtype])
    assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=ROW_ATOL[dtype])
    assert np.isfinite(kl)
    assert kl >= -ROW_ATOL[dtype] * Q.size


@pytest.mark.parametrize("dtype", DTYPES)
def test_far_centroid_gets_exactly_zero(dtype):
    Z, centroids = _far_centroid(dtype)
    Q = soft_assignment(Z, centroids)
    P = target_distribution(Q)
    assert_array_equal(Q[:, 0], 0.0)
    assert_array_equal(P[:, 0], 0.0)


def test_large_magnitude_keeps_the_kernel_shape():
    # For d >> alpha the kernel is d^(-(alpha+1)/2): q follows 1 / d at alpha 1.
    Z, centroids = _points(18)
    d = ((Z[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    expected = (1.0 / d) / (1.0 / d).sum(axis=1, keepdims=True)
    Q = soft_assignment(Z * 1e200, centroids * 1e200)
    assert_allclose(Q, expected, rtol=1e-10)


# Validation


def test_validation_shapes():
    Z, centroids = _points(19)
    with pytest.raises(ValueError, match="2-D"):
        soft_assignment(Z[0], centroids)
    with pytest.raises(ValueError, match="same number of columns"):
        soft_assignment(Z, centroids[:, :2])
    with pytest.raises(ValueError, match="empty"):
        soft_assignment(Z[:0], centroids)
    with pytest.raises(ValueError, match="NaN"):
        squared_distances(np.full_like(Z, np.nan), centroids)
    with pytest.raises(TypeError, match="real numbers"):
        soft_assignment(Z.astype(str), centroids)


@pytest.mark.parametrize("alpha", [0.0, -1.0, np.nan, np.inf])
def test_validation_alpha_value(alpha):
    Z, centroids = _points(20)
    P = target_distribution(soft_assignment(Z, centroids))
    with pytest.raises(ValueError, match="alpha"):
        soft_assignment(Z, centroids, alpha)
    with pytest.raises(ValueError, match="alpha"):
        kl_gradients(Z, centroids, P, alpha)


@pytest.mark.parametrize("alpha", ["1", None, True])
def test_validation_alpha_type(alpha):
    Z, centroids = _points(21)
    with pytest.raises(TypeError, match="alpha"):
        soft_assignment(Z, centroids, alpha)


def test_validation_distributions():
    Z, centroids = _points(22)
    Q = soft_assignment(Z, centroids)
    P = target_distribution(Q)
    with pytest.raises(ValueError, match="non-negative"):
        target_distribution(-Q)
    with pytest.raises(ValueError, match="positive entry"):
        target_distribution(np.zeros_like(Q))
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence(P, Q[:, :2])
    with pytest.raises(ValueError, match="non-negative"):
        kl_divergence(P, -Q)
    with pytest.raises(ValueError, match=r"shape \(N, K\)"):
        kl_gradients(Z, centroids, P[:-1])
    with pytest.raises(ValueError, match="sum to 1"):
        kl_gradients(Z, centroids, 2.0 * P)


@pytest.mark.parametrize("dtype", DTYPES)
def test_blocks_of_rows_give_the_results_of_one_block(monkeypatch, dtype):
    from numpy_dec import formulas

    Z, centroids = _points(20, n=11, k=4, dtype=dtype)
    P = target_distribution(soft_assignment(Z, centroids, 2.0))
    Q_one = soft_assignment(Z, centroids, 2.0)
    dZ_one, dC_one = kl_gradients(Z, centroids, P, 2.0)

    # three rows a block: four blocks, the last one with two rows
    monkeypatch.setattr(formulas, "_BLOCK_ENTRIES", 3 * centroids.shape[0])
    assert len(formulas._row_blocks(11, 4)) == 4
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(soft_assignment(Z, centroids, 2.0), Q_one, rtol=rtol)
    dZ, dC = kl_gradients(Z, centroids, P, 2.0)
    assert_allclose(dZ, dZ_one, rtol=rtol)
    assert_allclose(dC, dC_one, rtol=rtol, atol=rtol * np.abs(dC_one).max())
    assert dZ.dtype == dC.dtype == dtype
