"""Loading data: the packaged MNIST test set, MNIST from a folder, any matrix.

The package ships the 10,000 MNIST test images in ``numpy_dec/data/`` (see the
README there for the attribution and licence). :func:`load_mnist` reads them
by default, or the full 70,000 images from a folder holding the four original
files, through the IDX reader of ``numpy_dec.idx``. :func:`load_matrix` (from
``numpy_dec.matrix_files``) reads any other data set from .npy, .npz or .csv.
"""

from __future__ import annotations

import hashlib
import math
import os
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

# read_idx, load_matrix and scale_hint are public here too, beside load_mnist
from numpy_dec.idx import (  # noqa: F401
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    read_idx,
    read_idx_stream,
)
from numpy_dec.matrix_files import load_matrix  # noqa: F401
from numpy_dec.validation import counted, scale_hint  # noqa: F401

EMBEDDED_IMAGES = "t10k-images-idx3-ubyte.gz"
EMBEDDED_LABELS = "t10k-labels-idx1-ubyte.gz"
EMBEDDED_SHA256 = {
    EMBEDDED_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    EMBEDDED_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _read_embedded(filename: str) -> np.ndarray:
    """Read one packaged MNIST file and check its SHA-256."""
    ref = resources.files("numpy_dec") / "data" / filename
    if not ref.is_file():
        raise FileNotFoundError(
            f"the packaged MNIST file {filename} is missing ({ref}); reinstall "
            "numpy_dec together with its package data"
        )
    with ref.open("rb") as f:
        try:
            array, raw = read_idx_stream(f, f"packaged file {filename}")
        except ValueError as exc:
            raise ValueError(f"the packaged file {filename} is corrupt: {exc}") from exc

    # The digest covers the decompressed bytes, header included.
    digest = hashlib.sha256(raw).hexdigest()
    if digest != EMBEDDED_SHA256[filename]:
        raise ValueError(
            f"the packaged file {filename} is corrupt: the SHA-256 of its "
            f"decompressed bytes is {digest}, expected "
            f"{EMBEDDED_SHA256[filename]}; reinstall numpy_dec"
        )
    return array


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    scale: float = 1 / 255,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST as a float matrix of flattened images and its labels.

    Parameters
    ----------
    data_dir : str, path-like or None
        None reads the packaged test set (10,000 images, checked against
        ``EMBEDDED_SHA256``). A folder must hold the four original files
        (train-images-idx3-ubyte, train-labels-idx1-ubyte,
        t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz, the
        dotted spelling train-images.idx3-ubyte also accepted); training then
        test images are returned, 70,000 in all.
    scale : float
        Positive factor applied to the pixel bytes: 1/255 maps them to [0, 1],
        0.02 is the DEC paper's preset (values in [0, 5.1]).
    dtype : floating dtype
        Dtype of X (float32 or float64).

    Returns
    -------
    X : ndarray of shape (N, D)
        D = rows * cols = 784 for MNIST, pixels in row-major order.
    y : ndarray of int64, shape (N,)
        The digit labels.

    Notes
    -----
    The bytes are cast to ``dtype`` once and scaled in place, so no second
    float array of shape (N, D) is created.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating type such as float32; got {dtype}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)):
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")
    if not 0 < scale < math.inf:
        raise ValueError(f"scale must be a positive finite number; got {scale!r}")

    if data_dir is None:
        images = _read_embedded(EMBEDDED_IMAGES)
        labels = _read_embedded(EMBEDDED_LABELS)
        _check_pair(images, labels, EMBEDDED_IMAGES, EMBEDDED_LABELS)
        X = images.reshape(len(images), -1).astype(dtype)
        y = labels.astype(np.int64)
    else:
        X, y = _load_mnist_folder(data_dir, dtype)

    # Scale in place: no temporary float array.
    np.multiply(X, scale, out=X)
    return X, y


def _find_mnist_file(folder: Path, stem: str) -> Path | None:
    """Return the one existing spelling of an MNIST file name, or None.

    The spellings are the dashed and the dotted name, each raw or .gz. Two
    of them side by side are refused: which one to read would be a guess.
    """
    spellings = [
        folder / (name + suffix)
        for name in (stem, stem.replace("-idx", ".idx"))
        for suffix in (".gz", "")
    ]
    found = [path for path in spellings if path.is_file()]
    if len(found) > 1:
        raise ValueError(
            f"{folder} holds the MNIST file {stem} under {len(found)} names, "
            f"{' and '.join(path.name for path in found)}; keep one of them"
        )
    if found:
        return found[0]

    # A folder under the file's name is not a missing file.
    for path in spellings:
        if path.is_dir():
            raise ValueError(
                f"{path} is a folder, not a file; expected the MNIST file {stem} "
                "there, raw or gzip-compressed (.gz)"
            )
    return None


def _load_mnist_folder(
    data_dir: str | os.PathLike[str], dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Read the four original MNIST files and stack train then test."""
    if not os.fspath(data_dir):
        raise ValueError("data_dir is empty; pass None for the packaged test set")
    folder = Path(os.fspath(data_dir))
    if not folder.is_dir():
        raise FileNotFoundError(f"data_dir {folder} is not an existing folder")

    # Locate every file first, so one error names all the missing ones.
    found = {stem: _find_mnist_file(folder, stem) for stem in MNIST_FILES}
    missing = [stem for stem, path in found.items() if path is None]
    if missing:
        raise FileNotFoundError(
            f"{', '.join(missing)} not found in {folder}. The folder must hold "
            f"the four original MNIST files {', '.join(MNIST_FILES)}, each raw "
            "or gzip-compressed (.gz); the dotted spelling such as "
            "train-images.idx3-ubyte is accepted too"
        )
    splits = []
    for split in ("train", "t10k"):
        images_path = found[f"{split}-images-idx3-ubyte"]
        labels_path = found[f"{split}-labels-idx1-ubyte"]
        images, labels = read_idx(images_path), read_idx(labels_path)
        _check_pair(images, labels, str(images_path), str(labels_path))
        splits.append((images, labels))
    (train, train_labels), (test, test_labels) = splits
    if train.shape[1:] != test.shape[1:]:
        raise ValueError(
            f"training images are {train.shape[1:]} pixels but test images are "
            f"{test.shape[1:]}; both splits must have the same image size"
        )

    # Cast each split straight into one preallocated array.
    n_train = len(train)
    X = np.empty((n_train + len(test), math.prod(train.shape[1:])), dtype=dtype)
    X[:n_train] = train.reshape(n_train, -1)
    X[n_train:] = test.reshape(len(test), -1)
    y = np.concatenate([train_labels, test_labels]).astype(np.int64)
    return X, y


def _check_pair(images: np.ndarray, labels: np.ndarray, ipath: str, lpath: str) -> None:
    """Check an images array and a labels array belong together."""
    if images.ndim != 3:
        raise ValueError(
            f"{ipath} holds shape {images.shape}, not images: expected an IDX "
            f"file with magic 0x{IDX_IMAGES_MAGIC:08X} (3 dimensions)"
        )
    if labels.ndim != 1:
        raise ValueError(
            f"{lpath} holds shape {labels.shape}, not labels: expected an IDX "
            f"file with magic 0x{IDX_LABELS_MAGIC:08X} (1 dimension)"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{ipath} has {len(images)} images but {lpath} has {len(labels)} "
            "labels; the counts must agree"
        )
    if len(images) == 0 or images.shape[1] * images.shape[2] == 0:
        raise ValueError(
            f"{ipath} holds no pixels (shape {images.shape}); expected at least "
            "one image of at least one pixel"
        )

    # read_idx gives unsigned bytes; a damaged or foreign labels file would
    # otherwise add classes silently
    above = labels > 9
    if above.any():
        first = int(np.argmax(above))
        count = int(above.sum())
        raise ValueError(
            f"{lpath} holds {counted(count, 'label')} above 9 (the "
            f"first is {labels[first]}, at position {first}, counting from 0); "
            "MNIST labels are the digits 0 to 9"
        )
