"""Tests for numpy_dec.animation: frame recording, PCA projection, GIF output."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from numpy_dec import DEC
from numpy_dec.animation import (
    Frame,
    FrameRecorder,
    cluster_colors,
    pca_projection,
    write_embedding_gif,
)
from numpy_dec.datasets import load_mnist


def _moving_blobs(n_frames=4, n=120, k=3, e=5, seed=0):
    """Frames whose points contract towards k fixed centroids, (N, E) each."""
    rng = np.random.default_rng(seed)
    centroids = 3.0 * rng.standard_normal((k, e))
    members = np.arange(n) % k
    noise = rng.standard_normal((n, e))
    return [
        (10 * t, centroids[members] + (1.0 - t / n_frames) * noise, centroids)
        for t in range(n_frames)
    ]


def _gif_frames(path):
    """The frames of a GIF as RGB arrays."""
    with Image.open(path) as image:
        assert image.format == "GIF"
        frames = []
        for index in range(image.n_frames):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
    return frames


def test_gif_has_one_image_per_frame(tmp_path):
    frames = _moving_blobs(n_frames=5)
    path = write_embedding_gif(frames, tmp_path / "sub" / "dec.gif", dpi=50,
                               figsize=(3, 2))
    images = _gif_frames(path)
    assert len(images) == 5
    assert images[0].shape == (100, 150, 3)
    # the points move, so the first and the last image differ
    assert np.abs(images[0].astype(int) - images[-1].astype(int)).sum() > 0


def test_pca_recovers_the_axes_of_an_elongated_cloud():
    rng = np.random.default_rng(1)
    R, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    Z = (rng.standard_normal((500, 4)) * [10.0, 3.0, 0.5, 0.1]) @ R.T + 7.0
    mean, components = pca_projection(Z)
    assert_allclose(mean, Z.mean(axis=0))
    assert_allclose(components.T @ components, np.eye(2), atol=1e-12)

    # same axes as the top eigenvectors of the covariance, up to sign
    _, vectors = np.linalg.eigh(np.cov(Z.T))
    top = vectors[:, ::-1][:, :2]
    assert_allclose(np.abs(top.T @ components), np.eye(2), atol=1e-6)

    # the projection has zero mean and decreasing variance
    xy = (Z - mean) @ components
    assert_allclose(xy.mean(axis=0), 0.0, atol=1e-10)
    assert xy[:, 0].var() > xy[:, 1].var() > 0.5 * 3.0**2


def test_pca_sign_is_deterministic():
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((50, 3)) * [5.0, 2.0, 1.0]
    _, a = pca_projection(Z)
    _, b = pca_projection(Z[::-1] * 1.0)
    assert_allclose(a, b, atol=1e-10)
    top = np.abs(a).argmax(axis=0)
    assert (a[top, [0, 1]] > 0).all()


def test_fit_on_first_and_final_give_different_projections(tmp_path):
    rng = np.random.default_rng(3)
    C = np.zeros((2, 3))
    first = rng.standard_normal((60, 3)) * [5.0, 1.0, 0.2]
    final = rng.standard_normal((60, 3)) * [0.2, 1.0, 5.0]
    frames = [(0, first, C), (30, final, C)]
    a = _gif_frames(write_embedding_gif(frames, tmp_path / "a.gif", fit_on="final",
                                        dpi=40))
    b = _gif_frames(write_embedding_gif(frames, tmp_path / "b.gif", fit_on="first",
                                        dpi=40))
    assert np.abs(a[0].astype(int) - b[0].astype(int)).sum() > 0


def test_recorder_copies_and_subsamples():
    recorder = FrameRecorder(max_points=4)
    Z = np.arange(20.0).reshape(10, 2)
    C = np.zeros((3, 2))
    recorder(0, Z, C)
    Z[:] = -1.0
    C[:] = -1.0
    recorder(30, Z, C)

    first, second = recorder.frames
    assert isinstance(first, Frame) and first.iteration == 0
    assert first.Z.shape == (4, 2)
    # the same evenly spaced rows, first and last included, copied at the call
    assert_array_equal(first.Z[:, 0], [0.0, 6.0, 12.0, 18.0])
    assert_array_equal(first.centroids, 0.0)
    assert_array_equal(second.Z, -1.0)


def test_cluster_colors_are_distinct():
    for k in (1, 3, 10, 15, 25):
        colors = cluster_colors(k)
        assert colors.shape == (k, 4)
        assert len({tuple(c) for c in colors}) == k


@pytest.mark.parametrize(
    "frames, path, kwargs, match",
    [
        ([], "a.gif", {}, "no frames"),
        ([(0, np.zeros((5, 3)), np.zeros((2, 4)))], "a.gif", {}, "same E"),
        ([(0, np.zeros((5, 3)), np.zeros((2, 3))),
          (1, np.zeros((5, 3)), np.zeros((4, 3)))], "a.gif", {}, "same E and K"),
        ([(0, np.zeros(5), np.zeros((2, 3)))], "a.gif", {}, "2-D"),
        (_moving_blobs(2), "a.png", {}, r"\.gif"),
        (_moving_blobs(2), "a.gif", {"fit_on": "middle"}, "fit_on"),
        (_moving_blobs(2), "a.gif", {"fps": 0}, "fps"),
        ([(0, np.zeros((5, 1)), np.zeros((2, 1)))], "a.gif", {}, "E >= 2"),
    ],
)
def test_bad_input_is_rejected(tmp_path, frames, path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_embedding_gif(frames, tmp_path / path, **kwargs)


def test_recorder_rejects_bad_max_points():
    with pytest.raises(ValueError, match=">= 1"):
        FrameRecorder(max_points=0)
    with pytest.raises(TypeError, match="int"):
        FrameRecorder(max_points=2.5)


def test_records_every_target_update_of_a_fit(tmp_path):
    X, _ = load_mnist()
    recorder = FrameRecorder(max_points=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = DEC(
            n_clusters=4, hidden_sizes=(16, 16, 32), embedding_size=3,
            pretrain_epochs=1, finetune_epochs=2, kmeans_n_init=2, max_iter=20,
            update_interval=5, tol=0.0, random_state=0,
        ).fit(X[:200], callback=recorder)

    iterations = [r["iteration"] for r in model.history_["dec"]]
    assert [f.iteration for f in recorder.frames] == iterations
    assert iterations == [0, 5, 10, 15, 20]
    assert all(f.Z.shape == (100, 3) for f in recorder.frames)
    # the last frame holds the final centroids
    assert_allclose(recorder.frames[-1].centroids, model.cluster_centers_)
    assert len(_gif_frames(write_embedding_gif(recorder.frames, tmp_path / "d.gif",
                                               dpi=40))) == 5
