"""Time of one DEC step over a grid of N points and K clusters, and its slopes.

One step is what the DEC loop computes from an embedding: the soft assignment
Q, the target P, the loss KL(P || Q) and both gradients, with E = 10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from numpy_dec.formulas import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    target_distribution,
)
from timing import calls_for, time_rounds

N_VALUES = (1_000, 3_000, 10_000, 30_000, 100_000)
K_VALUES = (5, 10, 20, 50, 100)
EMBEDDING_SIZE = 10


def dec_step(Z: np.ndarray, centroids: np.ndarray, alpha: float = 1.0) -> float:
    """Q, P, KL(P || Q) and (dZ, dcentroids) for Z (N, E), centroids (K, E)."""
    Q = soft_assignment(Z, centroids, alpha)
    P = target_distribution(Q)
    kl = kl_divergence(P, Q)
    kl_gradients(Z, centroids, P, alpha)
    return kl


def time_grid(
    n_values=N_VALUES, k_values=K_VALUES, seconds: float = 0.1, repeat: int = 5
) -> np.ndarray:
    """Best seconds per step, array of shape (len(n_values), len(k_values))."""
    rng = np.random.default_rng(0)
    times = np.empty((len(n_values), len(k_values)))
    for a, n in enumerate(n_values):
        Z = rng.standard_normal((n, EMBEDDING_SIZE)).astype(np.float32)
        for b, k in enumerate(k_values):
            # centroids near data points, so that every cluster gets members
            noise = 0.1 * rng.standard_normal((k, EMBEDDING_SIZE))
            C = (Z[rng.choice(n, k, replace=False)] + noise).astype(np.float32)
            number = calls_for(lambda: dec_step(Z, C), seconds)
            times[a, b] = min(time_rounds(lambda: dec_step(Z, C), number, repeat))
    return times


def slope(sizes, times) -> float:
    """Least-squares slope of log(time) against log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def plot(n_values, k_values, times: np.ndarray, path: Path, single=None) -> None:
    """Log-log plots of the step time against N (per K) and against K (per N).

    ``single``, when given, holds the times with BLAS on one thread, drawn as
    dashed lines in the same colours.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for b, k in enumerate(k_values):
        line = left.loglog(n_values, times[:, b] * 1e3, "o-", label=f"K = {k}")[0]
        if single is not None:
            left.loglog(n_values, single[:, b] * 1e3, "--", color=line.get_color())
    for a, n in enumerate(n_values):
        line = right.loglog(k_values, times[a, :] * 1e3, "o-", label=f"N = {n:,}")[0]
        if single is not None:
            right.loglog(k_values, single[a, :] * 1e3, "--", color=line.get_color())

    # a line of slope 1 through the largest measurement, for reference
    n_ref = np.array([n_values[0], n_values[-1]], dtype=float)
    left.loglog(n_ref, times[-1, -1] * 1e3 * n_ref / n_ref[-1], "k:", label="slope 1")
    k_ref = np.array([k_values[0], k_values[-1]], dtype=float)
    right.loglog(k_ref, times[-1, -1] * 1e3 * k_ref / k_ref[-1], "k:", label="slope 1")

    left.set(xlabel="N points", ylabel="ms per DEC step", title="time against N")
    right.set(xlabel="K clusters", ylabel="ms per DEC step", title="time against K")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    title = f"One DEC step (Q, P, KL, gradients), E = {EMBEDDING_SIZE}, float32"
    if single is not None:
        title += "; dashed: BLAS on one thread"
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
