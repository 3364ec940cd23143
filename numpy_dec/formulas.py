"""The clustering layer of DEC: soft assignment, target distribution, KL loss.

Equation numbers refer to Xie, Girshick and Farhadi, "Unsupervised Deep Embedding
for Clustering Analysis", ICML 2016. Shapes use N points, E embedding size and
K clusters. Every function keeps the dtype of its first array argument
(integers become float64), and a call costs O(N K E) time and O(N K) memory.
"""

import math
from numbers import Real

import numpy as np

# Largest deviation of a row sum of P from 1 that kl_gradients accepts.
_ROW_SUM_ATOL = 1e-4

# soft_assignment and kl_gradients work through Z a block of rows at a time,
# each block's (rows, K) arrays holding about this many entries (64 KiB in
# float32), so that their half-dozen temporaries stay in cache. At N = 100,000
# and K = 100 a full DEC step (Q, P, KL and both gradients) took 432 ms this
# way against 624 ms on whole arrays (one BLAS thread, a busy 2-core machine).
_BLOCK_ENTRIES = 16384


def _row_blocks(n_rows: int, n_cols: int) -> list[slice]:
    """Slices of consecutive rows, about _BLOCK_ENTRIES / n_cols rows each."""
    step = max(1, _BLOCK_ENTRIES // n_cols)
    return [slice(start, start + step) for start in range(0, n_rows, step)]


def _as_float_matrix(name: str, x) -> np.ndarray:
    """Return `x` as a finite, non-empty 2-D floating array."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        x = x.astype(np.float64)
    elif not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _check_points(Z, centroids) -> tuple[np.ndarray, np.ndarray]:
    """Validate Z (N, E) and centroids (K, E); cast centroids to the dtype of Z."""
    Z = _as_float_matrix("Z", Z)
    centroids = _as_float_matrix("centroids", centroids)
    if centroids.shape[1] != Z.shape[1]:
        raise ValueError(
            "Z and centroids must have the same number of columns E, got "
            f"Z {Z.shape} and centroids {centroids.shape}"
        )
    return Z, centroids.astype(Z.dtype, copy=False)


def _check_distribution(name: str, x) -> np.ndarray:
    """Validate a non-negative 2-D array of assignment probabilities."""
    x = _as_float_matrix(name, x)
    if (x < 0).any():
        raise ValueError(f"{name} must be non-negative, got a minimum of {x.min()}")
    return x


def _check_alpha(alpha) -> float:
    """Return alpha as a float after checking it is a finite number > 0."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real):
        raise TypeError(f"alpha must be a real number, got {type(alpha).__name__}")
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
    return alpha


def _product_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """|a|^2 - 2 a b^T + |b|^2 clipped at 0; inf or NaN where a square overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        a_sq = np.einsum("ne,ne->n", A, A)
        b_sq = np.einsum("ke,ke->k", B, B)
        d = a_sq[:, None] - 2.0 * (A @ B.T) + b_sq[None, :]
        np.maximum(d, 0.0, out=d)
    return d


def _scaled_distances(Z: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, int]:
    """Squared distances divided by 4**k, where 2**k bounds every |entry|.

    Dividing by a power of two is exact, so the scaled problem has entries in
    (-1, 1) and its squares cannot overflow; the true distances are
    4**k times the returned ones.
    """
    top = max(np.abs(Z).max(), np.abs(centroids).max())
    k = int(np.frexp(top)[1])
    return _product_distances(np.ldexp(Z, -k), np.ldexp(centroids, -k)), k


def _log1p_distances(Z: np.ndarray, centroids: np.ndarray, alpha: float) -> np.ndarray:
    """L_ij = log(1 + d_ij / alpha) of shape (N, K), finite for all finite inputs."""
    d = _product_distances(Z, centroids)
    with np.errstate(over="ignore"):
        L = np.log1p(d / alpha)

    # Where d overflowed, use log(1 + d / alpha) = logaddexp(0, log d - log alpha)
    # with log d taken from the scaled distances.
    bad = ~np.isfinite(L)
    if bad.any():
        scaled, k = _scaled_distances(Z, centroids)
        with np.errstate(divide="ignore"):
            log_d = np.log(scaled[bad]) + 2 * k * math.log(2.0)
        L[bad] = np.logaddexp(0.0, log_d - math.log(alpha))
    return L


def _assignment_from_log(L: np.ndarray, alpha: float) -> np.ndarray:
    """Q from L = log(1 + d / alpha): the kernel in log space, row max removed."""
    log_kernel = -0.5 * (alpha + 1.0) * L
    log_kernel -= log_kernel.max(axis=1, keepdims=True)
    kernel = np.exp(log_kernel)
    return kernel / kernel.sum(axis=1, keepdims=True)


def squared_distances(Z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between points and centroids.

    Parameters
    ----------
    Z : ndarray of shape (N, E)
        Points z_i.
    centroids : ndarray of shape (K, E)
        Centroids mu_j.

    Returns
    -------
    d : ndarray of shape (N, K)
        d_ij = |z_i - mu_j|^2, dtype of Z.

    Raises
    ------
    TypeError
        If an input does not hold real numbers.
    ValueError
        If an input is not a finite non-empty 2-D array or the E differ.

    Notes
    -----
    d_ij = |z_i|^2 - 2 z_i . mu_j + |mu_j|^2, computed for all pairs by one
    matrix product Z @ centroids.T and clipped at 0 (rounding can make the
    expanded form slightly negative). Its derivatives are

        dd_ij/dz_i = 2 (z_i - mu_j),    dd_ij/dmu_j = -2 (z_i - mu_j).

    The expanded form loses relative precision when a distance is much smaller
    than |z_i|^2 + |mu_j|^2 (points far from the origin but close to a
    centroid); centre the data first when that matters. Entries whose squares
    overflow are recomputed on copies scaled by a power of two, so an entry is
    inf only when the distance itself exceeds the range of the dtype. See
    derivations/soft_assignment.md.
    """
    Z, centroids = _check_points(Z, centroids)
    d = _product_distances(Z, centroids)

    # An intermediate square overflowed: redo those entries on scaled copies.
    bad = ~np.isfinite(d)
    if bad.any():
        scaled, k = _scaled_distances(Z, centroids)
        with np.errstate(over="ignore"):
            d[bad] = np.ldexp(scaled[bad], 2 * k)
    return d


def soft_assignment(
    Z: np.ndarray, centroids: np.ndarray, alpha: float = 1.0
) -> np.ndarray:
    """Student's t soft assignment of points to centroids (DEC equation 1).

    Parameters
    ----------
    Z : ndarray of shape (N, E)
        Embedded points z_i.
    centroids : ndarray of shape (K, E)
        Cluster centres mu_j.
    alpha : float, default 1.0
        Degrees of freedom of the Student's t kernel, > 0 (the paper uses 1).

    Returns
    -------
    Q : ndarray of shape (N, K)
        q_ij >= 0, each row summing to 1, dtype of Z.

    Raises
    ------
    TypeError
        If an input does not hold real numbers or alpha is not a number.
    ValueError
        If an input is not a finite non-empty 2-D array, the E differ or
        alpha <= 0.

    Notes
    -----
    With d_ij = |z_i - mu_j|^2 and the kernel k_ij = (1 + d_ij / alpha)^(-(alpha+1)/2),

        q_ij = k_ij / sum_j' k_ij'.

    The kernel is evaluated as log k_ij = -(alpha+1)/2 * log(1 + d_ij / alpha)
    minus its row maximum before exp, which is the same q but never 0 / 0: a
    centroid so far away that its kernel underflows gets q = 0, and the
    nearest centroid of each row has kernel 1. Derivative, with
    w_ij = (1 + d_ij / alpha)^-1 and g_ij = dlog k_ij/dz_i:

        g_ij = -(alpha+1)/alpha * w_ij (z_i - mu_j),
        dq_ij/dz_i = q_ij (g_ij - sum_j' q_ij' g_ij'),
        dlog k_ij/dmu_j = -g_ij.

    See derivations/soft_assignment.md.
    """
    Z, centroids = _check_points(Z, centroids)
    alpha = _check_alpha(alpha)
    Q = np.empty((Z.shape[0], centroids.shape[0]), dtype=Z.dtype)
    for rows in _row_blocks(*Q.shape):
        Q[rows] = _assignment_from_log(_log1p_distances(Z[rows], centroids, alpha),
                                       alpha)
    return Q


def target_distribution(Q: np.ndarray) -> np.ndarray:
    """Auxiliary target distribution P computed from Q (DEC equation 3).

    Parameters
    ----------
    Q : ndarray of shape (N, K)
        Soft assignments, non-negative, each row with a positive entry (rows of
        `soft_assignment` sum to 1).

    Returns
    -------
    P : ndarray of shape (N, K)
        p_ij >= 0, each row summing to 1, dtype of Q.

    Raises
    ------
    TypeError
        If Q does not hold real numbers.
    ValueError
        If Q is not a finite non-empty 2-D array, has a negative entry, or has
        a row whose weights q_ij^2 / f_j are all 0.

    Notes
    -----
    With the soft cluster frequencies f_j = sum_i q_ij,

        p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j').

    Squaring sharpens each row, and dividing by f_j keeps large clusters from
    dominating. A column with f_j = 0 gets p = 0 instead of 0 / 0. q_ij^2 / f_j
    is computed as q_ij * (q_ij / f_j) <= q_ij, so it cannot overflow.

    DEC holds P constant while it differentiates the loss, so no gradient flows
    through this function. For reference, with u_ij = q_ij^2 / f_j and
    U_i = sum_j u_ij:

        dp_ij/du_ij' = (delta_jj' - p_ij) / U_i,
        du_ij/dq_ij = 2 q_ij / f_j - q_ij^2 / f_j^2,
        du_ij/dq_lj = -q_ij^2 / f_j^2   (l != i).

    See derivations/target_distribution.md.
    """
    Q = _check_distribution("Q", Q)

    # Cluster frequencies f_j; an empty column gets weight 0 instead of 0 / 0.
    f = Q.sum(axis=0)
    ratio = np.divide(Q, f, out=np.zeros_like(Q), where=f > 0)

    # Row-normalise u_ij = q_ij * (q_ij / f_j).
    u = Q * ratio
    total = u.sum(axis=1, keepdims=True)
    if not (total > 0).all():
        raise ValueError(
            "every row of Q needs a positive entry in a column with f_j > 0; "
            f"rows {np.flatnonzero(total[:, 0] <= 0)[:5].tolist()} have none"
        )
    return u / total


def kl_divergence(P: np.ndarray, Q: np.ndarray) -> float:
    """KL divergence L = KL(P || Q), summed over points (DEC equation 2).

    Parameters
    ----------
    P : ndarray of shape (N, K)
        Target distribution, non-negative.
    Q : ndarray of shape (N, K)
        Soft assignments, non-negative.

    Returns
    -------
    L : float
        The summed divergence; >= 0 when the rows of P and Q sum to 1.

    Raises
    ------
    TypeError
        If an input does not hold real numbers.
    ValueError
        If an input is not a finite non-empty 2-D array, has a negative entry,
        or P and Q differ in shape.

    Notes
    -----
        L = sum_i sum_j p_ij log(p_ij / q_ij),    dL/dq_ij = -p_ij / q_ij.

    The sum over points (not the mean) is the reduction the gradients of
    `kl_gradients` differentiate. 0 log 0 = 0, and q is clipped at the smallest
    positive normal number of the dtype inside the log only, so a p_ij > 0
    facing q_ij = 0 gives a large finite term instead of inf. The terms are
    accumulated in float64. See derivations/kl_gradients.md.
    """
    P = _check_distribution("P", P)
    Q = _check_distribution("Q", Q)
    if P.shape != Q.shape:
        raise ValueError(
            f"P and Q must have the same shape, got {P.shape} and {Q.shape}"
        )
    dtype = np.result_type(P, Q)
    P = P.astype(dtype, copy=False)
    Q = Q.astype(dtype, copy=False)

    # only the entries with p_ij > 0 contribute: 0 log 0 = 0 and 0 log q = 0
    positive = P > 0
    p = P[positive]
    q = np.maximum(Q[positive], np.finfo(dtype).tiny)
    terms = p * np.log(p) - p * np.log(q)
    return float(terms.sum(dtype=np.float64))


def kl_gradients(
    Z: np.ndarray, centroids: np.ndarray, P: np.ndarray, alpha: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of L = KL(P || Q) for points and centroids (DEC equation 4).

    Parameters
    ----------
    Z : ndarray of shape (N, E)
        Embedded points z_i.
    centroids : ndarray of shape (K, E)
        Cluster centres mu_j.
    P : ndarray of shape (N, K)
        Target distribution, held constant; each row must sum to 1 (within
        1e-4), as equation 4 assumes.
    alpha : float, default 1.0
        Degrees of freedom of the Student's t kernel, > 0.

    Returns
    -------
    dZ : ndarray of shape (N, E)
        dL/dz_i, dtype of Z.
    dcentroids : ndarray of shape (K, E)
        dL/dmu_j, dtype of Z.

    Raises
    ------
    TypeError
        If an input does not hold real numbers or alpha is not a number.
    ValueError
        If an input is not a finite non-empty 2-D array, the E differ, P is
        not (N, K), non-negative with rows summing to 1, or alpha <= 0.

    Notes
    -----
    Q = soft_assignment(Z, centroids, alpha) is computed inside. With
    w_ij = (1 + d_ij / alpha)^-1 and L the summed divergence of `kl_divergence`:

        dL/dz_i  =  (alpha+1)/alpha * sum_j w_ij (p_ij - q_ij) (z_i - mu_j),
        dL/dmu_j = -(alpha+1)/alpha * sum_i w_ij (p_ij - q_ij) (z_i - mu_j).

    With W = w * (P - Q) of shape (N, K) both sums are matrix products:

        dZ = (alpha+1)/alpha * (W.sum(1)[:, None] * Z - W @ centroids),
        dcentroids = -(alpha+1)/alpha * (W.T @ Z - W.sum(0)[:, None] * centroids).

    They are evaluated for blocks of consecutive rows of Z, P and W, the sum
    over i in dcentroids adding up block by block. Like the distances, this
    expanded form loses relative precision when the coordinates are large
    compared with the distances between points and centroids. See
    derivations/kl_gradients.md.
    """
    Z, centroids = _check_points(Z, centroids)
    alpha = _check_alpha(alpha)
    P = _check_distribution("P", P).astype(Z.dtype, copy=False)
    expected = (Z.shape[0], centroids.shape[0])
    if P.shape != expected:
        raise ValueError(f"P must have shape (N, K) = {expected}, got {P.shape}")
    deviation = float(np.abs(P.sum(axis=1) - 1.0).max())
    if deviation > _ROW_SUM_ATOL:
        raise ValueError(
            f"each row of P must sum to 1 (equation 4 assumes it), got a row "
            f"sum off by {deviation:.3g}"
        )

    coef = (alpha + 1.0) / alpha
    dZ = np.empty_like(Z)
    dcentroids = np.zeros_like(centroids)
    for rows in _row_blocks(*P.shape):
        z = Z[rows]

        # Soft assignment and W_ij = w_ij (p_ij - q_ij), w_ij = (1 + d_ij / alpha)^-1.
        L = _log1p_distances(z, centroids, alpha)
        Q = _assignment_from_log(L, alpha)
        W = np.exp(-L) * (P[rows] - Q)

        # Sums over j (for dZ) and over i (for dcentroids) of W_ij (z_i - mu_j);
        # the sum over i adds up block by block.
        dZ[rows] = coef * (W.sum(axis=1, keepdims=True) * z - W @ centroids)
        dcentroids -= coef * (W.T @ z - W.sum(axis=0)[:, None] * centroids)
    return dZ, dcentroids
