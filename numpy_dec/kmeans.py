"""k-means clustering: k-means++ seeding, Lloyd iterations, restarts.

DEC initialises its centroids with k-means on the embedded points, and k-means
on the raw inputs is the baseline it is compared with. Shapes use N points,
D features and K clusters.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np

from numpy_dec.validation import check_n_clusters


def _check_data(X) -> np.ndarray:
    """Return X as a finite, non-empty 2-D floating array (integers to float64)."""
    X = np.asarray(X)
    if np.issubdtype(X.dtype, np.integer) or X.dtype == np.bool_:
        X = X.astype(np.float64)
    elif not np.issubdtype(X.dtype, np.floating):
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (N, D), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must not be empty, got shape {X.shape}")
    # min and max propagate NaN and show inf without a boolean copy of X
    # (52 MiB for 70,000 x 784 values)
    if not (np.isfinite(X.min()) and np.isfinite(X.max())):
        raise ValueError("X contains NaN or infinite values")
    return X


def _check_count(name: str, value, minimum: int) -> int:
    """Return value as an int >= minimum, or raise."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


class _Centred:
    """The data centred at its mean, X - mean, without a centred copy of X.

    k-means works on centred data, which lowers the rounding of
    |x|^2 - 2 x c^T + |c|^2 and changes nothing else. A centred copy of
    70,000 x 784 float32 pixels would add 210 MiB (as much as the data), so
    the products below are rewritten in terms of X and the mean, and the row
    norms and cluster sums are computed on 4096 centred rows at a time.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    """

    block = 4096

    # Rows per product. On 2 threads OpenBLAS's buffers grow with the rows of
    # this thin product and stay resident: one product over 70,000 rows left
    # 60 MiB behind, blocks of 8,192 rows 16 MiB, with the same results
    # and speed (blocks of 4,096 rows or fewer run on one thread, 2.4x slower).
    product_rows = 8192

    def __init__(self, X: np.ndarray):
        self.X = X
        self.mean = X.mean(axis=0)
        self.shape, self.dtype = X.shape, X.dtype
        self.sq_norms = np.empty(X.shape[0], dtype=X.dtype)
        for start in range(0, X.shape[0], self.block):
            rows = slice(start, start + self.block)
            centred = X[rows] - self.mean
            self.sq_norms[rows] = np.einsum("nd,nd->n", centred, centred)

    def rows(self, index) -> np.ndarray:
        """The centred rows ``index``, (len(index), D)."""
        return self.X[index] - self.mean

    def products(self, C: np.ndarray) -> np.ndarray:
        """(X - mean) C^T of shape (N, K), for centroids C (K, D) centred too.

        Computed as X C^T - mean C^T: subtracting the mean from every block of
        X first costs an extra pass over all N x D values per product (k-means
        with 10 restarts on the 10,000 pixel images, one BLAS thread: 16.8 s
        that way, 13.1 s this way).
        """
        # A contiguous (D, K) right operand keeps the product on the fast BLAS path.
        Ct = np.ascontiguousarray(C.T)
        out = np.empty((self.shape[0], Ct.shape[1]), dtype=np.result_type(self.X, Ct))
        for start in range(0, self.shape[0], self.product_rows):
            rows = slice(start, start + self.product_rows)
            np.matmul(self.X[rows], Ct, out=out[rows])
        out -= self.mean @ Ct
        return out

    def sums(self, labels: np.ndarray, n_clusters: int) -> np.ndarray:
        """sum of x_i - mean over the points i with label k, (K, D).

        A block of rows at a time: each cluster's rows in the block are
        gathered, centred and summed in row order, O(N D) in all. Centring
        before summing keeps the means exact when the spread is far below
        |mean|.
        """
        sums = np.zeros((n_clusters, self.shape[1]), dtype=self.dtype)
        for start in range(0, self.shape[0], self.block):
            block_labels = labels[start : start + self.block]
            for k in range(n_clusters):
                members = start + np.flatnonzero(block_labels == k)
                if members.size == 0:
                    continue
                centred = self.X[members]
                centred -= self.mean
                sums[k] += centred.sum(axis=0)
        return sums


def _distances(X: _Centred, C: np.ndarray) -> np.ndarray:
    """|x|^2 - 2 x c^T + |c|^2 of shape (N, K) by one product, clipped at 0."""
    d = X.products(C)
    d *= -2.0
    d += X.sq_norms[:, None]
    d += np.einsum("kd,kd->k", C, C)[None, :]
    np.maximum(d, 0.0, out=d)
    return d


def _assign(X: _Centred, C: np.ndarray):
    """Nearest centroid of every point and the squared distance to it.

    |x_i|^2 is the same for every centroid, so the argmin runs on
    |c|^2 - 2 x c^T and |x_i|^2 is added to the minimum only.
    """
    partial = X.products(C)
    partial *= -2.0
    partial += np.einsum("kd,kd->k", C, C)[None, :]
    labels = partial.argmin(axis=1)
    min_dist = partial[np.arange(X.shape[0]), labels] + X.sq_norms
    return labels, np.maximum(min_dist, 0.0, out=min_dist)


def _kmeans_plus_plus(X: _Centred, n_clusters: int, rng: np.random.Generator):
    """Greedy k-means++ seeds of shape (K, D).

    Each new seed is drawn with probability proportional to the squared
    distance to the nearest seed so far; 2 + floor(ln K) candidates are drawn
    and the one that lowers the total squared distance most is kept.
    """
    n_samples = X.shape[0]
    n_trials = 2 + int(math.log(n_clusters))
    chosen = [int(rng.integers(n_samples))]
    closest = _distances(X, X.rows(chosen))[:, 0]

    for _ in range(1, n_clusters):
        # Draw candidates by inverting the cumulative distribution; points that
        # coincide with a seed have zero width and cannot be drawn.
        cumulative = np.cumsum(closest, dtype=np.float64)
        if cumulative[-1] > 0:
            draws = rng.random(n_trials) * cumulative[-1]
            candidates = np.searchsorted(cumulative, draws, side="right")
            candidates = np.minimum(candidates, n_samples - 1)
        else:
            candidates = rng.integers(n_samples, size=n_trials)

        # Keep the candidate with the lowest total squared distance.
        d = _distances(X, X.rows(candidates))
        np.minimum(d, closest[:, None], out=d)
        best = int(d.sum(axis=0, dtype=np.float64).argmin())
        chosen.append(int(candidates[best]))
        closest = d[:, best]
    return X.rows(chosen)


def _update(X: _Centred, labels, min_dist, n_clusters: int) -> np.ndarray:
    """Means of the clusters; an empty cluster moves to a far point.

    The points farthest from their current centroid re-seed the empty
    clusters, one point each.
    """
    counts = np.bincount(labels, minlength=n_clusters)
    centroids = X.sums(labels, n_clusters)

    filled = counts > 0
    centroids[filled] /= counts[filled, None]
    empty = np.flatnonzero(~filled)
    if empty.size:
        farthest = np.argsort(-min_dist, kind="stable")[: empty.size]
        centroids[empty] = X.rows(farthest)
    return centroids


def _lloyd(X: _Centred, centroids, max_iter: int, tol: float):
    """Lloyd iterations from the given centroids.

    Stops when the labels no longer change or the total squared centroid
    movement is <= tol. Returns (centroids, labels, inertia, converged), the
    labels and inertia being those of the returned centroids.
    """
    labels, min_dist = _assign(X, centroids)
    converged = False
    for _ in range(max_iter):
        new = _update(X, labels, min_dist, centroids.shape[0])
        shift = float(((new - centroids) ** 2).sum())
        centroids = new

        new_labels, min_dist = _assign(X, centroids)
        unchanged = np.array_equal(new_labels, labels)
        labels = new_labels
        if unchanged or shift <= tol:
            converged = True
            break
    return centroids, labels, float(min_dist.sum(dtype=np.float64)), converged


def kmeans(
    X: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    n_init: int = 20,
    max_iter: int = 300,
    tol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, float]:
    """k-means clustering with k-means++ seeding and restarts.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Data points. float32 stays float32; integers become float64.
    n_clusters : int
        Number of clusters K, 1 <= K <= N.
    rng : numpy.random.Generator
        Source of randomness for the seeding; the restarts draw from it one
        after another, so the result is determined by its state.
    n_init : int, default 20
        Number of restarts; the one with the lowest inertia is kept (the first
        of equal ones).
    max_iter : int, default 300
        Maximum number of Lloyd iterations per restart.
    tol : float, default 1e-4
        Convergence threshold on the total squared movement of the centroids
        in one iteration, relative to the mean variance of the features.

    Returns
    -------
    centroids : ndarray of shape (K, D)
        Cluster centres, dtype of X.
    labels : ndarray of shape (N,)
        Index of the nearest centroid of every point.
    inertia : float
        sum_i |x_i - mu_{labels_i}|^2.

    Raises
    ------
    TypeError
        If X does not hold real numbers, rng is not a numpy.random.Generator
        or a count is not an int.
    ValueError
        If X is not a finite non-empty 2-D array, n_clusters is outside 1..N,
        n_init or max_iter is < 1, or tol is negative.

    Warns
    -----
    RuntimeWarning
        When the result has fewer distinct centroids than n_clusters (X has
        fewer than K distinct points), or when the kept restart stopped at
        max_iter before converging.

    Notes
    -----
    Minimises the inertia sum_i min_j |x_i - mu_j|^2. Each restart seeds with
    greedy k-means++ (2 + floor(ln K) candidates per seed), then alternates

        labels_i = argmin_j d_ij,    mu_j = mean of the points with label j,

    until the labels repeat or sum_j |mu_j_new - mu_j|^2 <= tol * mean_d var(X_d).
    Distances use d_ij = |x_i|^2 - 2 x_i . mu_j + |mu_j|^2 by one matrix product,
    clipped at 0, on X centred at its mean (which reduces rounding and changes
    nothing else), one block of rows at a time. An empty cluster is re-seeded
    with the point farthest from its centroid. Memory is O(N K) besides X.
    """
    X = _check_data(X)
    n_samples = X.shape[0]
    n_clusters = check_n_clusters(n_clusters, n_samples)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    n_init = _check_count("n_init", n_init, 1)
    max_iter = _check_count("max_iter", max_iter, 1)
    if isinstance(tol, bool) or not isinstance(tol, Real):
        raise TypeError(f"tol must be a real number, got {tol!r}")
    if not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol}")

    # The threshold is relative to the data's spread: the mean per-feature
    # variance, from the centred row norms (no float64 copy of X).
    Xc = _Centred(X)
    tol_abs = float(tol) * float(Xc.sq_norms.sum(dtype=np.float64)) / X.size

    best = None
    for _ in range(n_init):
        seeds = _kmeans_plus_plus(Xc, n_clusters, rng)
        result = _lloyd(Xc, seeds, max_iter, tol_abs)
        if best is None or result[2] < best[2]:
            best = result
    centroids, labels, inertia, converged = best

    n_distinct = np.unique(centroids, axis=0).shape[0]
    if n_distinct < n_clusters:
        warnings.warn(
            f"k-means found only {n_distinct} distinct centroids for "
            f"n_clusters={n_clusters}: X has fewer distinct points than "
            "clusters, or nearly all its points coincide (as in a collapsed "
            "embedding)",
            RuntimeWarning,
            stacklevel=2,
        )
    if not converged:
        warnings.warn(
            f"k-means stopped at max_iter={max_iter} before the centroids moved "
            f"less than tol={tol}; increase max_iter",
            RuntimeWarning,
            stacklevel=2,
        )
    return centroids + Xc.mean, labels, inertia
