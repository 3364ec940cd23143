"""Tests for numpy_dec.kmeans."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec.kmeans import _Centred, _lloyd, kmeans

BLOB_CENTRES = np.array(
    [[0.0, 0.0], [20.0, 0.0], [0.0, 20.0], [20.0, 20.0], [10.0, 40.0]]
)


def _blobs(seed: int, per_blob: int = 40, dtype=np.float64):
    """Five well-separated Gaussian blobs (std 0.5), shuffled."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(BLOB_CENTRES)), per_blob)
    X = BLOB_CENTRES[y] + 0.5 * rng.standard_normal((y.size, 2))
    order = rng.permutation(y.size)
    return X[order].astype(dtype), y[order]


def _inertia(X, centroids, labels) -> float:
    return float(((X - centroids[labels]) ** 2).sum())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recovers_separated_blobs(dtype):
    X, y = _blobs(0, dtype=dtype)
    centroids, labels, inertia = kmeans(X, 5, np.random.default_rng(1), n_init=3)
    assert centroids.dtype == dtype
    assert centroids.shape == (5, 2)

    # Every blob is one cluster, and different blobs are different clusters.
    mapping = {int(c): int(labels[y == c][0]) for c in range(5)}
    assert sorted(mapping.values()) == [0, 1, 2, 3, 4]
    assert_array_equal(labels, [mapping[int(c)] for c in y])

    # The centroids are the blob means, and the inertia is theirs.
    for c, j in mapping.items():
        assert_allclose(centroids[j], X[y == c].mean(axis=0), rtol=1e-5, atol=1e-5)
    assert inertia == pytest.approx(_inertia(X, centroids, labels), rel=1e-4)


def test_labels_are_nearest_centroids():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 4))
    centroids, labels, inertia = kmeans(X, 6, np.random.default_rng(3), n_init=2)
    d = ((X[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    assert_array_equal(labels, d.argmin(axis=1))
    assert inertia == pytest.approx(d.min(axis=1).sum(), rel=1e-10)


def test_same_seed_same_result():
    X = np.random.default_rng(4).standard_normal((200, 3))
    first = kmeans(X, 4, np.random.default_rng(5), n_init=4)
    second = kmeans(X, 4, np.random.default_rng(5), n_init=4)
    assert_array_equal(first[0], second[0])
    assert_array_equal(first[1], second[1])
    assert first[2] == second[2]


def test_keeps_the_lowest_inertia_restart():
    # The restarts draw from the generator one after another, so n_init single
    # runs on one generator replay them.
    X = np.random.default_rng(6).uniform(size=(150, 2))
    _, _, best = kmeans(X, 8, np.random.default_rng(7), n_init=6)
    replay = np.random.default_rng(7)
    inertias = [kmeans(X, 8, replay, n_init=1)[2] for _ in range(6)]
    assert len(set(inertias)) > 1
    assert best == min(inertias)


def test_one_cluster():
    X = np.random.default_rng(8).standard_normal((50, 3))
    centroids, labels, inertia = kmeans(X, 1, np.random.default_rng(9))
    assert_allclose(centroids, X.mean(axis=0, keepdims=True), rtol=1e-12)
    assert_array_equal(labels, 0)
    assert inertia == pytest.approx(((X - X.mean(axis=0)) ** 2).sum(), rel=1e-12)


def test_one_cluster_per_point():
    X = np.random.default_rng(10).standard_normal((12, 2))
    centroids, labels, inertia = kmeans(X, 12, np.random.default_rng(11), n_init=2)
    assert sorted(labels.tolist()) == list(range(12))
    assert_allclose(centroids[labels], X, atol=1e-12)
    assert inertia == pytest.approx(0.0, abs=1e-12)


def test_integer_input_gives_float64():
    X = np.array([[0, 0], [0, 1], [10, 0], [10, 1]])
    centroids, labels, inertia = kmeans(X, 2, np.random.default_rng(12))
    assert centroids.dtype == np.float64
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert inertia == pytest.approx(1.0)


def test_empty_cluster_moves_to_farthest_point():
    # The second seed is far from every point, so the first assignment leaves
    # it empty; it moves to the point farthest from its centroid, (10, 0).
    X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    seeds = np.array([[0.0, 0.5], [100.0, 100.0]])
    Xc = _Centred(X)
    centroids, labels, inertia, converged = _lloyd(Xc, seeds - Xc.mean, 10, 0.0)
    assert converged
    assert_array_equal(labels, [0, 0, 1, 1])
    assert_allclose(centroids + Xc.mean, [[0.0, 0.5], [10.0, 0.5]])
    assert inertia == pytest.approx(1.0)


def test_warns_on_fewer_distinct_points_than_clusters():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 4, axis=0)
    with pytest.warns(RuntimeWarning, match="distinct centroids"):
        centroids, labels, inertia = kmeans(X, 5, np.random.default_rng(13), n_init=2)
    assert np.isfinite(centroids).all()
    assert inertia == pytest.approx(0.0, abs=1e-12)
    assert np.unique(centroids, axis=0).shape[0] == 3


def test_warns_when_stopped_at_max_iter():
    X = np.random.default_rng(14).uniform(size=(200, 2))
    with pytest.warns(RuntimeWarning, match="max_iter"):
        kmeans(X, 8, np.random.default_rng(15), n_init=1, max_iter=1)


@pytest.mark.parametrize("n_clusters", [0, -1, 11])
def test_validation_n_clusters_range(n_clusters):
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(X, n_clusters, np.random.default_rng(0))


@pytest.mark.parametrize("n_clusters", [2.5, True, "3"])
def test_validation_n_clusters_type(n_clusters):
    X = np.zeros((10, 2))
    with pytest.raises(TypeError, match="n_clusters"):
        kmeans(X, n_clusters, np.random.default_rng(0))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"X": np.zeros(10)}, ValueError, "2-D"),
        ({"X": np.zeros((0, 2))}, ValueError, "empty"),
        ({"X": np.full((10, 2), np.nan)}, ValueError, "NaN"),
        ({"X": np.where(np.eye(10, 2) > 0, -np.inf, 1.0)}, ValueError, "infinite"),
        ({"X": np.where(np.eye(10, 2) > 0, np.nan, 1.0)}, ValueError, "NaN"),
        ({"X": np.zeros((10, 2), dtype=complex)}, TypeError, "real numbers"),
        ({"rng": 0}, TypeError, "Generator"),
        ({"rng": np.random.RandomState(0)}, TypeError, "Generator"),
        ({"n_init": 0}, ValueError, "n_init"),
        ({"n_init": 1.5}, TypeError, "n_init"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"tol": -1.0}, ValueError, "tol"),
        ({"tol": np.nan}, ValueError, "tol"),
        ({"tol": "small"}, TypeError, "tol"),
    ],
)
def test_validation_arguments(kwargs, error, match):
    arguments = {"X": np.zeros((10, 2)), "rng": np.random.default_rng(0)}
    arguments.update(kwargs)
    X = arguments.pop("X")
    with pytest.raises(error, match=match):
        kmeans(X, 2, **arguments)
