"""Reconstruction loss used to train the autoencoder."""

from __future__ import annotations

import numpy as np


def mse_loss(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all elements, and its gradient.

    Parameters
    ----------
    pred : ndarray of shape (N, D)
        Model output.
    target : ndarray of shape (N, D)
        Values to reconstruct.

    Returns
    -------
    loss : float
        L = (1 / (N D)) * sum_{n,d} (pred_nd - target_nd)^2.
    dpred : ndarray of shape (N, D)
        dL/dpred = 2 (pred - target) / (N D), in the dtype of pred - target.

    Notes
    -----
    This is the only MSE convention of the package: the mean over all N * D
    elements, not over the N samples alone. Training, logging and the gradient
    checks all call this function, so the reported loss and the propagated
    gradient always belong to the same quantity.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target must have the same shape, got {pred.shape} "
            f"and {target.shape}"
        )
    if pred.size == 0:
        raise ValueError("mse_loss needs at least one element, got empty arrays")

    # residual (integer inputs give a float64 one), then its mean square
    diff = pred - target
    if not np.issubdtype(diff.dtype, np.inexact):
        diff = diff.astype(np.float64)
    loss = float(np.mean(diff * diff))

    # gradient of the mean: each element contributes 2 * diff / (N D); diff is
    # a new array, so it is scaled in place and returned
    diff *= 2.0 / diff.size
    return loss, diff
