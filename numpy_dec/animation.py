"""Animated GIF of the embedding and the centroids during the DEC iterations.

``DEC.fit(X, callback=recorder)`` calls the recorder at every target update
with the embedding Z (N, E) and the centroids (K, E). ``write_embedding_gif``
projects every recorded frame to 2-D with one principal component analysis,
fitted on a single frame (the final one by default) so that the axes stay put
and the motion between frames is the motion of the points. Points are coloured
by their cluster, argmax_j q_ij, which is the nearest centroid; no labels are
needed. The GIF is written by matplotlib's ``PillowWriter``; Pillow is one of
matplotlib's own required dependencies, so nothing else has to be installed.

Example::

    recorder = FrameRecorder(max_points=2000)
    model = DEC(n_clusters=10).fit(X, callback=recorder)
    write_embedding_gif(recorder.frames, "dec.gif")
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.animation import PillowWriter
from matplotlib.figure import Figure

from numpy_dec.formulas import squared_distances


@dataclasses.dataclass(frozen=True)
class Frame:
    """The state of DEC at one target update.

    Attributes
    ----------
    iteration : int
        DEC iteration at which the target distribution was recomputed.
    Z : ndarray of shape (N, E)
        The embedding of the (recorded) points.
    centroids : ndarray of shape (K, E)
        The cluster centres.
    """

    iteration: int
    Z: np.ndarray
    centroids: np.ndarray


class FrameRecorder:
    """A ``DEC.fit`` callback that keeps a copy of every frame.

    Parameters
    ----------
    max_points : int, optional
        Keep at most this many points per frame, the same evenly spaced rows
        of Z in every frame. None keeps all N points.

    Attributes
    ----------
    frames : list of Frame
        One per call, in call order.
    """

    def __init__(self, max_points: int | None = None) -> None:
        if max_points is not None:
            if isinstance(max_points, bool) or not isinstance(
                max_points, (int, np.integer)
            ):
                raise TypeError(
                    f"max_points must be an int or None, got {max_points!r}"
                )
            if max_points < 1:
                raise ValueError(f"max_points must be >= 1, got {max_points}")
        self.max_points = None if max_points is None else int(max_points)
        self.frames: list[Frame] = []

    def __call__(self, iteration: int, Z: np.ndarray, centroids: np.ndarray) -> None:
        """Store copies of Z (N, E) and centroids (K, E) for this iteration."""
        Z = np.asarray(Z)
        rows = np.arange(Z.shape[0])
        if self.max_points is not None and Z.shape[0] > self.max_points:
            rows = np.linspace(0, Z.shape[0] - 1, self.max_points).round().astype(int)
        self.frames.append(
            Frame(int(iteration), Z[rows].copy(), np.array(centroids, copy=True))
        )


def pca_projection(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and first two principal axes of Z, by a singular value decomposition.

    Parameters
    ----------
    Z : ndarray of shape (N, E)
        Points, E >= 2 and N >= 2.

    Returns
    -------
    mean : ndarray of shape (E,)
    components : ndarray of shape (E, 2)
        Orthonormal columns: the directions of largest and second largest
        variance. The sign of each column is fixed so that its entry of
        largest magnitude is positive, which makes the result deterministic.

    Notes
    -----
    With the centred data C = Z - mean = U S V^T, the principal axes are the
    first two rows of V^T, and a point z projects to (z - mean) @ components.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] < 2 or Z.shape[1] < 2:
        raise ValueError(
            f"a 2-D projection needs Z of shape (N, E) with N >= 2 and E >= 2, "
            f"got {Z.shape}"
        )
    mean = Z.mean(axis=0)
    _, _, vt = np.linalg.svd(Z - mean, full_matrices=False)
    components = vt[:2].T.copy()

    # fix the arbitrary sign of each singular vector
    top = np.abs(components).argmax(axis=0)
    components *= np.sign(components[top, [0, 1]])
    return mean, components


def _as_frames(frames: Sequence) -> list[Frame]:
    """Validate frames given as Frame objects or (iteration, Z, centroids)."""
    if len(frames) == 0:
        raise ValueError("no frames to draw; pass the frames recorded during fit")
    out = []
    for i, frame in enumerate(frames):
        if not isinstance(frame, Frame):
            iteration, Z, centroids = frame
            frame = Frame(int(iteration), np.asarray(Z), np.asarray(centroids))
        if frame.Z.ndim != 2 or frame.centroids.ndim != 2:
            raise ValueError(
                f"frame {i}: Z and centroids must be 2-D, got shapes "
                f"{frame.Z.shape} and {frame.centroids.shape}"
            )
        first = out[0] if out else frame
        same_shapes = (
            frame.centroids.shape[1] == frame.Z.shape[1]
            and frame.Z.shape[1] == first.Z.shape[1]
            and frame.centroids.shape == first.centroids.shape
        )
        if not same_shapes:
            raise ValueError(
                f"frame {i}: Z {frame.Z.shape} and centroids {frame.centroids.shape} "
                f"do not match frame 0 (Z {first.Z.shape}, centroids "
                f"{first.centroids.shape}); every frame needs the same E and K"
            )
        out.append(frame)
    return out


def cluster_colors(n_clusters: int) -> np.ndarray:
    """One RGBA colour per cluster, ndarray of shape (K, 4)."""
    if n_clusters <= 10:
        return colormaps["tab10"](np.arange(n_clusters))
    if n_clusters <= 20:
        return colormaps["tab20"](np.arange(n_clusters))
    return colormaps["hsv"](np.linspace(0.0, 1.0, n_clusters, endpoint=False))


def _limits(points: list[np.ndarray], centres: list[np.ndarray]) -> np.ndarray:
    """Axis limits (2, 2) holding 99 % of the points and every centroid."""
    all_points = np.concatenate(points)
    low = np.percentile(all_points, 0.5, axis=0)
    high = np.percentile(all_points, 99.5, axis=0)
    all_centres = np.concatenate(centres)
    low = np.minimum(low, all_centres.min(axis=0))
    high = np.maximum(high, all_centres.max(axis=0))
    margin = 0.05 * np.maximum(high - low, 1e-12)
    return np.stack([low - margin, high + margin], axis=1)


def write_embedding_gif(
    frames: Sequence,
    path: str | Path,
    fit_on: str = "final",
    fps: float = 4.0,
    dpi: int = 80,
    figsize: tuple[float, float] = (4.5, 4.5),
) -> Path:
    """Write the recorded DEC frames as an animated GIF.

    Parameters
    ----------
    frames : sequence of Frame or of (iteration, Z, centroids)
        Z of shape (N, E) and centroids of shape (K, E), the same E and K in
        every frame; ``FrameRecorder.frames`` is such a sequence.
    path : str or Path
        Output file; its name must end in ``.gif``. Parent folders are created.
    fit_on : {"final", "first"}, default "final"
        The frame whose embedding fits the PCA. "final" shows the directions
        along which the clusters end up separated; "first" those of the
        k-means initialisation. Either way one projection is used for all
        frames.
    fps : float, default 4.0
        Frames per second.
    dpi : int, default 80
    figsize : (float, float), default (4.5, 4.5)
        Figure size in inches.

    Returns
    -------
    path : Path
        The file written.
    """
    frames = _as_frames(frames)
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"the animation is a GIF; path must end in .gif, got {path}")
    if fit_on not in ("final", "first"):
        raise ValueError(f"fit_on must be 'final' or 'first', got {fit_on!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")

    # one projection for every frame, and the clusters as nearest centroids
    mean, components = pca_projection(frames[-1 if fit_on == "final" else 0].Z)
    points = [(f.Z - mean) @ components for f in frames]
    centres = [(f.centroids - mean) @ components for f in frames]
    labels = [squared_distances(f.Z, f.centroids).argmin(axis=1) for f in frames]
    colors = cluster_colors(frames[0].centroids.shape[0])
    limits = _limits(points, centres)

    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi):
        for frame, xy, mu, lab in zip(frames, points, centres, labels):
            ax.clear()
            ax.scatter(xy[:, 0], xy[:, 1], s=3, c=colors[lab], alpha=0.6,
                       linewidths=0)
            ax.scatter(mu[:, 0], mu[:, 1], s=90, c=colors, marker="X",
                       edgecolors="black", linewidths=1.0)
            ax.set(xlim=limits[0], ylim=limits[1], xlabel="PC 1", ylabel="PC 2",
                   title=f"DEC iteration {frame.iteration}")
            fig.tight_layout()
            writer.grab_frame()
    return path
