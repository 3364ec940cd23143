"""External clustering metrics: accuracy under the best matching, NMI and ARI.

Every function compares the true classes `y_true` with the predicted clusters
`y_pred`, two 1-D integer arrays of the same length N. Labels are arbitrary
integers (not necessarily 0..K-1); floats with integral values are accepted.
Classes and clusters are ordered by increasing label value.
"""

import numpy as np

from numpy_dec.validation import check_labels


def _check_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Validate two label arrays: 1-D, non-empty, integers, same length."""
    n_samples = np.shape(y_true)[0] if np.ndim(y_true) == 1 else -1
    y_true = check_labels(y_true, n_samples, name="y_true")
    if n_samples == 0:
        raise ValueError("y_true and y_pred must not be empty")
    y_pred = check_labels(y_pred, n_samples, name="y_pred")
    return y_true, y_pred


def _entropy(counts: np.ndarray, n_samples: int) -> float:
    """Shannon entropy (natural log) of the partition with these part sizes."""
    p = counts[counts > 0] / n_samples
    return float(-(p * np.log(p)).sum())


def _pairs(counts: np.ndarray) -> int:
    """sum of n (n - 1) / 2 over the counts, as an exact Python int."""
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def contingency_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts of points for every (class, cluster) pair.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class labels, arbitrary integers.
    y_pred : array-like of shape (N,)
        Cluster labels, arbitrary integers.

    Returns
    -------
    table : ndarray of shape (n_classes, n_clusters), dtype int64
        table[r, c] = number of points of the r-th smallest class value placed
        in the c-th smallest cluster value.

    Raises
    ------
    ValueError
        If an input is not 1-D, is empty, or the lengths differ.
    TypeError
        If the labels are not integers.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    classes, class_index = np.unique(y_true, return_inverse=True)
    clusters, cluster_index = np.unique(y_pred, return_inverse=True)

    # One bin per (class, cluster) pair, counted in a single pass.
    flat = class_index * clusters.size + cluster_index
    counts = np.bincount(flat, minlength=classes.size * clusters.size)
    return counts.reshape(classes.size, clusters.size).astype(np.int64)


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Clustering accuracy under the best one-to-one matching of clusters to classes.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class labels, arbitrary integers.
    y_pred : array-like of shape (N,)
        Cluster labels, arbitrary integers.

    Returns
    -------
    acc : float
        In [0, 1]; 1 when the clustering equals the classes up to renaming.

    Raises
    ------
    ValueError
        If an input is not 1-D, is empty, or the lengths differ.
    TypeError
        If the labels are not integers.

    Notes
    -----
        acc = max over one-to-one maps m of (1 / N) sum_i [y_true_i = m(y_pred_i)],

    the unsupervised accuracy of the DEC paper. The best map is found by
    scipy.optimize.linear_sum_assignment on the contingency table (maximising
    the matched counts). When the numbers of clusters and classes differ, only
    min(n_classes, n_clusters) pairs are matched and every point of an
    unmatched cluster counts as wrong.
    """
    # imported here, not at the top: scipy.optimize brings scipy.linalg and a
    # second OpenBLAS, 47 MiB resident, which training never needs
    from scipy.optimize import linear_sum_assignment

    table = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


def normalized_mutual_info(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Normalised mutual information, arithmetic-mean normalisation.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class labels, arbitrary integers.
    y_pred : array-like of shape (N,)
        Cluster labels, arbitrary integers.

    Returns
    -------
    nmi : float
        In [0, 1]; 1 for identical partitions up to renaming.

    Raises
    ------
    ValueError
        If an input is not 1-D, is empty, or the lengths differ.
    TypeError
        If the labels are not integers.

    Notes
    -----
    With n_rc the contingency table, a_r its row sums and b_c its column sums,

        I = sum_rc (n_rc / N) log(N n_rc / (a_r b_c)),
        H(y) = -sum_r (a_r / N) log(a_r / N),
        NMI = I / ((H(y_true) + H(y_pred)) / 2),

    the arithmetic mean of the two entropies in the denominator (the default of
    scikit-learn). Two single-label partitions give 0 / 0 and are defined as
    identical, NMI = 1. Rounding is kept inside [0, 1].
    """
    table = contingency_matrix(y_true, y_pred)
    n_samples = int(table.sum())
    if table.shape == (1, 1):
        return 1.0

    # Mutual information over the non-zero cells.
    a = table.sum(axis=1)
    b = table.sum(axis=0)
    rows, cols = np.nonzero(table)
    n_rc = table[rows, cols]
    log_ratio = np.log(n_rc) + np.log(n_samples) - np.log(a[rows]) - np.log(b[cols])
    mutual_info = float((n_rc / n_samples * log_ratio).sum())

    # Arithmetic-mean normalisation; the mean is > 0 when a side has two labels.
    mean_entropy = 0.5 * (_entropy(a, n_samples) + _entropy(b, n_samples))
    return float(np.clip(mutual_info / mean_entropy, 0.0, 1.0))


def adjusted_rand_index(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Adjusted Rand index (Hubert and Arabie, 1985).

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class labels, arbitrary integers.
    y_pred : array-like of shape (N,)
        Cluster labels, arbitrary integers.

    Returns
    -------
    ari : float
        1 for identical partitions up to renaming, about 0 for random ones,
        possibly negative.

    Raises
    ------
    ValueError
        If an input is not 1-D, is empty, or the lengths differ.
    TypeError
        If the labels are not integers.

    Notes
    -----
    With C(n) = n (n - 1) / 2 pairs, n_rc the contingency table, a_r and b_c its
    row and column sums,

        index = sum_rc C(n_rc),  A = sum_r C(a_r),  B = sum_c C(b_c),
        expected = A B / C(N),   maximum = (A + B) / 2,
        ARI = (index - expected) / (maximum - expected).

    The denominator is 0 only when both partitions are one single cluster or
    both are all singletons (including N = 1); they are then identical and
    ARI = 1. Pair counts are exact integers.
    """
    table = contingency_matrix(y_true, y_pred)
    n_samples = int(table.sum())

    # Pair counts within cells, classes and clusters.
    index = _pairs(table.ravel())
    pairs_true = _pairs(table.sum(axis=1))
    pairs_pred = _pairs(table.sum(axis=0))
    total = n_samples * (n_samples - 1) // 2

    # Chance-corrected agreement.
    if pairs_true == pairs_pred and pairs_true in (0, total):
        return 1.0
    expected = pairs_true * pairs_pred / total
    maximum = 0.5 * (pairs_true + pairs_pred)
    return float((index - expected) / (maximum - expected))
