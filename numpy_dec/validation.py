"""Input checks shared by the estimator, the command line and the loaders.

Every check runs before any expensive work and raises ``ValueError`` or
``TypeError`` with a message that says what was wrong and what is expected.
"""

from __future__ import annotations

import warnings

import numpy as np


def check_array(X, dtype="float32", name: str = "X") -> np.ndarray:
    """Return X as a finite 2-D array of ``dtype``, shape (N, D).

    Copies only when the dtype or the memory layout has to change.
    """
    if isinstance(X, np.ndarray):
        array = X
    else:
        try:
            array = np.asarray(X)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be array-like of numbers: {error}") from None

    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise TypeError(f"{name} must hold numbers; got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real; got dtype {array.dtype}")
    if array.ndim != 2:
        hint = ""
        if array.ndim > 2:
            flat = int(np.prod(array.shape[1:]))
            hint = (
                f"; images of shape {array.shape} can be flattened with "
                f"X.reshape(len(X), -1) to shape ({array.shape[0]}, {flat})"
            )
        elif array.ndim == 1:
            hint = "; a single feature can be reshaped with X.reshape(-1, 1)"
        raise ValueError(
            f"{name} must be 2-D (samples x features); got {array.ndim}-D "
            f"with shape {array.shape}{hint}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {array.shape}")

    array = np.ascontiguousarray(array, dtype=dtype)
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)
        raise ValueError(
            f"{name} holds {len(bad)} NaN or infinite values (first at row "
            f"{bad[0][0]}, column {bad[0][1]}); remove or impute them"
        )
    if float(np.abs(array).max()) > 50.0:
        warnings.warn(
            f"{name} has values up to {float(np.abs(array).max()):.4g}; scale the "
            "inputs first (pixels / 255, or x 0.02 for the paper's preset), "
            "otherwise training may be slow or unstable",
            RuntimeWarning,
            stacklevel=3,
        )
    return array


def check_n_clusters(n_clusters, n_samples: int) -> int:
    """Return n_clusters as an int in 1..n_samples, or raise."""
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise TypeError(f"n_clusters must be an int; got {n_clusters!r}")
    if not 1 <= n_clusters <= n_samples:
        raise ValueError(
            f"n_clusters must be between 1 and the number of samples "
            f"({n_samples}); got {n_clusters}"
        )
    return int(n_clusters)


def check_labels(y, n_samples: int, name: str = "labels") -> np.ndarray:
    """Return y as a 1-D integer array of length n_samples, or raise."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {labels.shape}")
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {labels.shape[0]} entries but the data has "
            f"{n_samples} samples"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(
            np.isfinite(labels) & (labels == np.round(labels))
        ):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"{name} must be integers; got dtype {labels.dtype}")
    return labels
