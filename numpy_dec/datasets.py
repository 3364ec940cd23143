"""Loading data: IDX files, the packaged MNIST test set, and plain matrices.

The package ships the 10,000 MNIST test images in ``numpy_dec/data/`` (see the
README there for the attribution and licence). :func:`load_mnist` reads them
by default, or the full 70,000 images from a folder holding the four original
files. :func:`load_matrix` reads any other data set from .npy, .npz or .csv.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import warnings
import zlib
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import DTypeLike

from numpy_dec.validation import UNREADABLE_FILE_ERRORS
from numpy_dec.validation import scale_hint  # noqa: F401  (public here too)

GZIP_MAGIC = b"\x1f\x8b"
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with entries, an empty one
IDX_UBYTE = 0x08
IDX_LABELS_MAGIC = 0x00000801
IDX_IMAGES_MAGIC = 0x00000803
_EXPECTED_MAGIC = "0x00000801 (labels, 1-D) or 0x00000803 (images, 3-D)"

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
DATA_KEYS = ("X", "x", "data")
LABEL_KEYS = ("y", "labels")
LABEL_COLUMNS = ("label", "y")
MATRIX_SUFFIXES = (".npy", ".npz", ".csv")

_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a uint8 array.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip is recognised by its magic bytes (1f 8b), not by name.

    Returns
    -------
    ndarray of uint8
        Shape (N,) for a labels file (magic 0x00000801) or (N, rows, cols) for
        an images file (magic 0x00000803); writable.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        On a bad magic number, a dtype code other than 0x08 (unsigned byte), a
        truncated header, a payload shorter or longer than the header
        promises, or a gzip stream that does not decompress.
    """
    path = _existing_file(path, "IDX file")
    with open(path, "rb") as f:
        array, _ = _read_idx_stream(f, str(path))
    return array


def _read_idx_stream(f: BinaryIO, name: str) -> tuple[np.ndarray, bytearray]:
    """Parse an open IDX file; return the array and all decompressed bytes."""
    # Recognise gzip by its magic bytes, whatever the file is called.
    is_gzip = f.read(2) == GZIP_MAGIC
    f.seek(0)
    try:
        if is_gzip:
            with gzip.GzipFile(fileobj=f, mode="rb") as stream:
                return _parse_idx(stream, name)
        return _parse_idx(f, name)
    except (OSError, EOFError, zlib.error) as exc:
        if not is_gzip:
            raise
        raise ValueError(
            f"{name} starts with the gzip magic bytes but does not decompress "
            f"({exc}); the file is damaged or not really gzip"
        ) from exc


def _parse_idx(stream: BinaryIO, name: str) -> tuple[np.ndarray, bytearray]:
    """Validate the IDX header and payload read from a binary stream."""
    # Magic number: two zero bytes, the dtype code, the number of dimensions.
    magic = stream.read(4)
    if not magic:
        raise ValueError(f"{name} is empty; expected an IDX file")
    if len(magic) < 4:
        raise ValueError(
            f"{name} is truncated: {len(magic)} bytes, too short for the "
            "4-byte IDX magic number"
        )
    code = int.from_bytes(magic, "big")
    if magic[:2] != b"\x00\x00":
        raise ValueError(
            f"{name} is not an IDX file: magic number 0x{code:08X}, expected "
            f"{_EXPECTED_MAGIC}"
        )
    if magic[2] != IDX_UBYTE:
        raise ValueError(
            f"{name} has IDX dtype code 0x{magic[2]:02X}; only 0x08 (unsigned "
            "byte) is supported"
        )
    ndim = magic[3]
    if ndim not in (1, 3):
        raise ValueError(
            f"{name} has {ndim} dimensions (magic 0x{code:08X}); expected "
            f"{_EXPECTED_MAGIC}"
        )

    # One big-endian uint32 per dimension.
    dim_bytes = stream.read(4 * ndim)
    if len(dim_bytes) < 4 * ndim:
        raise ValueError(
            f"{name} is truncated inside its header: {ndim} dimension sizes "
            f"need {4 * ndim} bytes, found {len(dim_bytes)}"
        )
    shape = struct.unpack(f">{ndim}I", dim_bytes)
    n_payload = math.prod(shape)

    # Read in chunks, so a corrupt header cannot ask for a huge allocation.
    buf = bytearray(magic + dim_bytes)
    missing = n_payload
    while missing:
        chunk = stream.read(min(missing, _CHUNK))
        if not chunk:
            break
        buf += chunk
        missing -= len(chunk)
    if missing:
        raise ValueError(
            f"{name} is truncated: its header promises shape {shape}, "
            f"{n_payload} data bytes, but only {n_payload - missing} follow"
        )

    # Anything after the payload means the header and the file disagree.
    extra = 0
    while chunk := stream.read(_CHUNK):
        extra += len(chunk)
    if extra:
        raise ValueError(
            f"{name} has {extra} bytes more than its header promises (shape "
            f"{shape}, {n_payload} data bytes); the header or the file is wrong"
        )
    array = np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim)
    return array.reshape(shape), buf


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
            array, raw = _read_idx_stream(f, f"packaged file {filename}")
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
    """Return the first existing spelling of an MNIST file name, or None."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            if (folder / (name + suffix)).is_file():
                return folder / (name + suffix)
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


def load_matrix(
    path: str | os.PathLike[str], labels_path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a data matrix, and labels when available, from .npy, .npz or .csv.

    Parameters
    ----------
    path : str or path-like
        A .npy file with a 2-D array; a .npz archive with the data under "X",
        "x" or "data" (or as its only non-label array) and optional labels
        under "y" or "labels"; or a comma-separated .csv of numbers with an
        optional header row, where a column named "label" or "y" holds labels.
    labels_path : str, path-like or None
        A separate labels file (.npy, .npz or a one-column .csv), only when
        ``path`` carries no labels itself.

    Returns
    -------
    X : ndarray of shape (N, D)
        Floating arrays keep their dtype; integers become float64.
    y : ndarray of int64, shape (N,), or None

    Notes
    -----
    Files are never unpickled (``allow_pickle=False``). A CSV header is
    recognised only when one of its fields is not a number, so a header of
    purely numeric column names is read as a data row.
    """
    path = _existing_file(path, "data file")
    X, y = _read_table(path, DATA_KEYS, LABEL_KEYS, "data")
    X = _check_matrix(X, str(path))

    # Labels may come with the data or from their own file, not both.
    source = str(path)
    if labels_path is not None:
        if y is not None:
            raise ValueError(
                f"{path} already holds labels; pass labels_path only for data "
                "files without them"
            )
        y, source = _load_labels_file(labels_path), str(labels_path)
    if y is not None:
        y = _check_labels(y, len(X), source)
    return X, y


def _existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """Return path as a Path, raising FileNotFoundError when it is missing."""
    path = Path(os.fspath(path))
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _read_table(
    path: Path, data_keys: tuple[str, ...], label_keys: tuple[str, ...], what: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an array and the labels stored with it, by file extension."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _load_npy(path), None
    if suffix == ".npz":
        return _load_npz(path, data_keys, label_keys, what)
    if suffix == ".csv":
        return _load_csv(path)
    raise ValueError(
        f"{path}: unsupported extension {suffix or '(none)'!r}; supported are "
        f"{', '.join(MATRIX_SUFFIXES)}"
    )


def _load_npy(path: Path) -> np.ndarray:
    """Load a .npy array without unpickling."""
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if head != NPY_MAGIC:
        raise ValueError(
            f"{path} is not a .npy file: it does not start with the NumPy magic "
            "bytes (pickled files are never loaded)"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except UNREADABLE_FILE_ERRORS as exc:
        raise ValueError(_np_load_message(path, exc)) from exc

    # Anything after the data means the header and the file disagree.
    extra = path.stat().st_size - _npy_data_offset(path) - array.nbytes
    if extra > 0:
        raise ValueError(
            f"{path} has {extra} bytes more than its header promises (shape "
            f"{array.shape}, dtype {array.dtype}); the file is damaged"
        )
    return array


def _npy_data_offset(path: Path) -> int:
    """Where the data of a .npy file start: after the magic, version and header."""
    with open(path, "rb") as f:
        head = f.read(12)
    if head[6] == 1:
        return 10 + int.from_bytes(head[8:10], "little")
    return 12 + int.from_bytes(head[8:12], "little")


def _np_load_message(path: Path, exc: Exception) -> str:
    """Explain why np.load refused a file."""
    if "Object arrays" in str(exc) or "pickle" in str(exc):
        return (
            f"{path} holds an array of Python objects, which is never loaded "
            "(that would need unpickling); save a plain numeric array instead"
        )
    return f"{path} is not a readable NumPy file: {exc}"


def _load_npz(
    path: Path, data_keys: tuple[str, ...], label_keys: tuple[str, ...], what: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load the main array and the optional labels from a .npz archive."""
    with open(path, "rb") as f:
        start = f.read(len(NPY_MAGIC))
    if start.startswith(NPY_MAGIC):
        raise ValueError(f"{path} is a single .npy array; give it the .npy extension")
    # an .npz file is a zip archive; np.load's message for anything else is
    # about pickles
    if not start.startswith(ZIP_MAGIC):
        raise ValueError(f"{path} is not an .npz archive (a zip file of arrays)")
    # opened here, so that the file is closed even when np.load fails on it
    with open(path, "rb") as f:
        return _read_npz(f, path, data_keys, label_keys, what)


def _read_npz(
    f: BinaryIO, path: Path, data_keys: tuple[str, ...], label_keys: tuple[str, ...],
    what: str,
) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        archive = np.load(f, allow_pickle=False)
    except UNREADABLE_FILE_ERRORS as exc:
        raise ValueError(_np_load_message(path, exc)) from exc

    # A known key wins; otherwise the archive's only remaining array.
    with archive:
        keys = list(archive.files)
        candidates = [k for k in keys if k not in label_keys]
        main_key = next((k for k in data_keys if k in keys), None)
        if main_key is None and len(candidates) == 1:
            main_key = candidates[0]
        if main_key is None:
            raise ValueError(
                f"{path}: cannot tell which array holds the {what}; keys found: "
                f"{keys}; store it under one of {list(data_keys)}"
            )
        label_key = next((k for k in label_keys if k in keys), None)
        try:
            main = archive[main_key]
            y = archive[label_key] if label_key is not None else None
        except UNREADABLE_FILE_ERRORS as exc:
            raise ValueError(_np_load_message(path, exc)) from exc
    return main, y


def _load_csv(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a numeric CSV table, splitting off a "label" or "y" column."""
    # The first non-blank line is a header when a field is not a number.
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for n_skip, first in enumerate(f, start=1):
                if first.strip():
                    break
            else:
                raise ValueError(f"{path} is empty; expected comma-separated numbers")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "expected comma-separated numbers"
        ) from None
    names = [s.strip().strip("\"'") for s in first.split(",")]
    has_header = not all(_is_number(s) for s in names)
    try:
        with warnings.catch_warnings():
            # A header-only file is reported as empty by the matrix check.
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(
                path,
                delimiter=",",
                skiprows=n_skip if has_header else 0,
                ndmin=2,
                encoding="utf-8-sig",
            )
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "expected comma-separated numbers"
        ) from None
    except ValueError as exc:
        hint = ""
        if ";" in first or "\t" in first:
            hint = (
                "; its first line holds ';' or tabs, but the values must be "
                "separated by commas, with '.' as the decimal point"
            )
        # NumPy's advice to pass `usecols` is for its own API, not for a file
        reason = str(exc).split("; use `usecols`")[0].rstrip(".")
        raise ValueError(f"{path} is not a table of numbers: {reason}{hint}") from exc
    if not has_header or table.shape[0] == 0:
        return table, None

    # Split off the label column named in the header, if any.
    if table.shape[1] != len(names):
        raise ValueError(
            f"{path}: the header names {len(names)} columns but the rows have "
            f"{table.shape[1]} values"
        )
    label_cols = [i for i, n in enumerate(names) if n.lower() in LABEL_COLUMNS]
    if len(label_cols) > 1:
        raise ValueError(
            f"{path} has several label columns {[names[i] for i in label_cols]}; "
            "keep one column named 'label' or 'y'"
        )
    if not label_cols:
        return table, None
    return np.delete(table, label_cols[0], axis=1), table[:, label_cols[0]]


def _is_number(text: str) -> bool:
    """True when text parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_labels_file(labels_path: str | os.PathLike[str]) -> np.ndarray:
    """Load labels from their own .npy, .npz or one-column .csv file."""
    path = _existing_file(labels_path, "labels file")
    table, labels = _read_table(path, LABEL_KEYS, (), "labels")
    return table if labels is None else labels


def _check_matrix(X: np.ndarray, source: str) -> np.ndarray:
    """Check X is a non-empty, finite, numeric 2-D array; ints become float64."""
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{source} holds non-numeric data (dtype {X.dtype})")
    if X.ndim != 2:
        hint = "; reshape a single feature to (N, 1)" if X.ndim == 1 else ""
        if X.ndim > 2:
            hint = "; flatten images with X.reshape(len(X), -1)"
        raise ValueError(
            f"{source} holds an array of shape {X.shape}; expected a 2-D array "
            f"of shape (N, D){hint}"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{source} is empty (shape {X.shape}); expected at least one sample "
            "and one feature"
        )
    if X.dtype.kind != "f":
        X = X.astype(np.float64)

    # Count the non-finite entries and locate the first, row-major.
    bad = ~np.isfinite(X)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        row, col = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise ValueError(
            f"{source} contains {n_bad} NaN or infinite values; the first is "
            f"{X[row, col]} at row {row}, column {col} (0-based)"
        )
    return X


def _check_labels(y: np.ndarray, n_samples: int, source: str) -> np.ndarray:
    """Check labels are N finite integers and return them as int64."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"labels in {source} have shape {y.shape}; expected (N,)")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"labels in {source} are not numbers (dtype {y.dtype})")
    if len(y) != n_samples:
        raise ValueError(
            f"{source} has {len(y)} labels but the data has {n_samples} samples"
        )
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise ValueError(f"labels in {source} must be whole numbers")
    return y.astype(np.int64)
