"""Helpers shared by several test files: small data, IDX bytes, fit outputs, Ctrl-C."""

import gzip
import os
import signal
import struct
from importlib import resources

import numpy as np


def blobs(n=60, d=6, k=3, seed=0, dtype=np.float32):
    """n points in [0, 1]^d around k centres."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(0, 0.05, size=(n, d))
    return np.clip(X, 0, 1).astype(dtype)


def fit_outputs(model, X=None):
    """Everything a fit produces, timings aside; with X, also its Q."""
    history = {k: v for k, v in model.history_.items() if k != "seconds"}
    params = [layer.params[key].copy() for _, layer, key in
              model.autoencoder_.autoencoder.named_parameters()]
    outputs = dict(labels=model.labels_, kmeans=model.kmeans_labels_,
                   centres=model.cluster_centers_, history=history, params=params)
    if X is not None:
        outputs["Q"] = model.predict_proba(X)
    return outputs


def sigint_before_call(function, call, times=1):
    """Wrap function so that its call-th call first sends SIGINT to this process."""
    count = [0]

    def wrapper(*args, **kwargs):
        count[0] += 1
        if count[0] == call:
            for _ in range(times):
                os.kill(os.getpid(), signal.SIGINT)
        return function(*args, **kwargs)

    return wrapper


def idx_bytes(array: np.ndarray, dtype_code: int = 0x08) -> bytes:
    """Encode a uint8 array as IDX bytes: magic, sizes, payload."""
    header = bytes([0, 0, dtype_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def packaged_bytes(filename: str) -> bytes:
    """The decompressed bytes of a packaged MNIST file."""
    ref = resources.files("numpy_dec") / "data" / filename
    return gzip.decompress(ref.read_bytes())
