"""PNG figures of a run, drawn with matplotlib's non-interactive backend."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_reconstruction(history: dict, path: Path) -> None:
    """Loss per epoch of each pretraining pair and of fine-tuning."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for p, losses in enumerate(history["pretrain"]):
        left.plot(range(1, len(losses) + 1), losses, label=f"pair {p + 1}")
    left.set(title="layer-wise pretraining", xlabel="epoch", ylabel="MSE")
    if history["pretrain"] and any(history["pretrain"]):
        left.set_yscale("log")
        left.legend()

    finetune = history["finetune"]
    right.plot(range(1, len(finetune) + 1), finetune, color="black")
    right.set(title="end-to-end fine-tuning", xlabel="epoch", ylabel="MSE")
    if finetune:
        right.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_dec(history: dict, path: Path) -> None:
    """KL(P || Q) per point and the fraction of changed labels per update."""
    records = history["dec"]
    iterations = [r["iteration"] for r in records]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(iterations, [r["kl_per_point"] for r in records], marker=".")
    left.set(title="KL(P || Q) per point at each target update",
             xlabel="iteration", ylabel="KL / N")

    right.plot(iterations[1:], [r["changed"] for r in records[1:]], marker=".")
    right.set(title="fraction of assignments changed", xlabel="iteration",
              ylabel="fraction")
    if len(records) > 1 and min(r["changed"] for r in records[1:]) > 0:
        right.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(table: np.ndarray, path: Path, title: str) -> None:
    """A (classes x clusters) count table as an annotated heat map."""
    n_classes, n_clusters = table.shape
    fig, ax = plt.subplots(figsize=(1 + 0.55 * n_clusters, 1 + 0.5 * n_classes))
    ax.imshow(table, cmap="Blues")
    for (i, j), count in np.ndenumerate(table):
        color = "white" if count > table.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set(title=title, xlabel="cluster (matched to classes)", ylabel="true class",
           xticks=range(table.shape[1]), yticks=range(table.shape[0]))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confident_images(
    X: np.ndarray, Q: np.ndarray, path: Path, per_cluster: int = 10
) -> bool:
    """For each cluster, the images with the highest q_ij (the paper's figure 2).

    Returns False (and draws nothing) when a row of X is not a square image.
    """
    side = int(round(math.sqrt(X.shape[1])))
    if side * side != X.shape[1]:
        return False
    K = Q.shape[1]
    labels = Q.argmax(axis=1)
    fig, axes = plt.subplots(K, per_cluster, figsize=(per_cluster * 0.6, K * 0.6))
    axes = np.atleast_2d(axes)
    for j in range(K):
        members = np.flatnonzero(labels == j)
        best = members[np.argsort(-Q[members, j], kind="stable")[:per_cluster]]
        for col in range(per_cluster):
            ax = axes[j, col]
            ax.axis("off")
            if col < len(best):
                ax.imshow(X[best[col]].reshape(side, side), cmap="gray_r")
        axes[j, 0].set_title(f"{j}", fontsize=6, loc="left")
    fig.suptitle("most confident members of each cluster", fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
