"""Reading a user's data matrix, and labels, from .npy, .npz or .csv files.

Nothing is unpickled. Every loader checks what it read: a 2-D finite numeric
matrix, and integer labels, one per row. Errors name the file and say what was
expected, so the command line can print them as one line.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np

from numpy_dec.validation import UNREADABLE_FILE_ERRORS, counted, existing_file

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with entries, an empty one
DATA_KEYS = ("X", "x", "data")
LABEL_KEYS = ("y", "labels")
LABEL_COLUMNS = ("label", "labels", "y")
MATRIX_SUFFIXES = (".npy", ".npz", ".csv")


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
        optional header row, where a column named "label", "labels" or "y"
        (in any case) holds labels.
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
    Files are never unpickled (``allow_pickle=False``). A .npy header, and
    that of every .npz array read, must promise exactly the bytes that follow
    it; this is checked before the array is allocated. The first line of a
    CSV is a header when none of its fields is a number: a header of purely
    numeric column names is read as a data row, and a first line that mixes
    numbers and words is an error (a data row with a typo is never dropped).
    """
    path = existing_file(path, "data file")
    X, y = _read_table(path, DATA_KEYS, LABEL_KEYS, "data")
    X = _check_matrix(X, str(path))

    # Labels may come with the data or from their own file, not both.
    source = str(path)
    if labels_path is not None:
        if y is not None:
            raise ValueError(
                f"{path} already holds labels; give separate labels (labels_path, "
                "--labels-file) only for data files without them"
            )
        y, source = _load_labels_file(labels_path), str(labels_path)
    if y is not None:
        y = _check_labels(y, len(X), source)
    return X, y


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
    """Load a .npy array without unpickling, once its header matches the file."""
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
        if head.startswith(ZIP_MAGIC):
            raise ValueError(
                f"{path} looks like an .npz archive (a zip file of arrays), not a "
                "single .npy array; give it the .npz extension"
            )
        if head != NPY_MAGIC:
            raise ValueError(
                f"{path} is not a .npy file: it does not start with the NumPy "
                "magic bytes (pickled files are never loaded)"
            )
        f.seek(0)
        _check_npy_size(f, os.fstat(f.fileno()).st_size, str(path))
    try:
        return np.load(path, allow_pickle=False)
    except UNREADABLE_FILE_ERRORS as exc:
        raise ValueError(_np_load_message(path, exc)) from exc


def _check_npy_size(f: BinaryIO, n_bytes: int, source: str) -> None:
    """Check that the data behind a .npy header are as long as it promises.

    Only the header is read, so a damaged header claiming a huge shape is
    refused before np.load allocates that shape.

    Parameters
    ----------
    f : binary file
        Positioned at the NumPy magic bytes; left just after the header.
    n_bytes : int
        Length of the whole .npy content, header included.
    source : str
        The file, or the archive member, named in errors.
    """
    try:
        version = np.lib.format.read_magic(f)
        # format 3.0 is 2.0 with a UTF-8 header; the shape reads the same
        if version[0] == 1:
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except UNREADABLE_FILE_ERRORS as exc:
        raise ValueError(_np_load_message(source, exc)) from exc
    # np.load refuses an object array before reading its (pickled) data
    if dtype.hasobject:
        return

    promised = math.prod(shape) * dtype.itemsize
    present = n_bytes - f.tell()
    if present < promised:
        raise ValueError(
            f"{source} is truncated: its header promises shape {shape}, dtype "
            f"{dtype}, {promised} data bytes, but only {present} follow"
        )
    if present > promised:
        raise ValueError(
            f"{source} has {counted(present - promised, 'byte')} more than its "
            f"header promises (shape {shape}, dtype {dtype}, {promised} data bytes); "
            "the file is damaged"
        )


def _np_load_message(path: Path | str, exc: Exception) -> str:
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

    # A known key wins; otherwise the archive's only remaining array. Two known
    # keys for the same role would leave the choice to this list's order.
    with archive:
        keys = list(archive.files)
        for role, known in ((what, data_keys), ("labels", label_keys)):
            found = [k for k in known if k in keys]
            if len(found) > 1:
                raise ValueError(
                    f"{path} holds {len(found)} arrays that may be the {role}, "
                    f"{found}; keep one of them"
                )
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
        main = _read_npz_member(archive, main_key, path)
        y = None if label_key is None else _read_npz_member(archive, label_key, path)
    return main, y


def _read_npz_member(archive: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """Read one array of an open .npz archive, once its header matches its size."""
    # np.load lists the zip entry "X.npy" as "X"
    name = key if key in archive.zip.namelist() else key + ".npy"
    try:
        member = archive.zip.open(name)
    except UNREADABLE_FILE_ERRORS as exc:
        raise ValueError(_np_load_message(path, exc)) from exc
    with member:
        _check_npy_size(
            member, archive.zip.getinfo(name).file_size, f"{path} (array {key!r})"
        )
    try:
        return archive[key]
    except UNREADABLE_FILE_ERRORS as exc:
        raise ValueError(_np_load_message(path, exc)) from exc


def _load_csv(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a numeric CSV table, splitting off a label column (LABEL_COLUMNS)."""
    # The first non-blank line is a header when no field is a number.
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
    # A header names every column: a first line mixing numbers and words is a
    # data row with a typo, not a header to drop
    has_header = not any(_is_number(s) for s in names)
    try:
        with warnings.catch_warnings():
            # loadtxt warns about a header without rows, refused below
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
        # NumPy counts rows and columns its own ways; name the file's line
        reason = _first_bad_line(path, n_skip if has_header else 0)
        if reason is not None and reason.startswith(f"line {n_skip},"):
            hint += ("; a header row must name every column, with no number "
                     "among the names")
        if reason is None:
            reason = str(exc).split("; use `usecols`")[0].rstrip(".")
        raise ValueError(f"{path} is not a table of numbers: {reason}{hint}") from exc
    if not has_header:
        return table, None
    if table.shape[0] == 0:
        raise ValueError(
            f"{path} holds a header of {len(names)} columns but no data rows; "
            "expected comma-separated numbers below it"
        )

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
            "keep one column named 'label', 'labels' or 'y'"
        )
    if not label_cols:
        return table, None
    if table.shape[1] == 1:
        raise ValueError(
            f"{path} holds only the label column {names[label_cols[0]]!r}; "
            "expected feature columns beside it"
        )
    return np.delete(table, label_cols[0], axis=1), table[:, label_cols[0]]


def _first_bad_line(path: Path, skip: int) -> str | None:
    """Where a CSV table first fails to parse, in the file's own terms.

    Lines and fields are counted from 1, as an editor shows them; blank lines
    count as lines but hold no row. None when no line looks wrong.
    """
    width = None
    with open(path, encoding="utf-8-sig", newline="") as f:
        for number, line in enumerate(f, start=1):
            # NumPy skips empty lines only; a line of spaces is a row
            if number <= skip or not line.strip("\r\n"):
                continue
            fields = line.rstrip("\r\n").split(",")
            for position, field in enumerate(fields, start=1):
                if not _is_number(field.strip()):
                    return (f"line {number}, field {position}: {field.strip()!r} "
                            "is not a number")
            if width is not None and len(fields) != width:
                return (f"line {number} has {len(fields)} fields, the lines "
                        f"before it {width}")
            width = len(fields)
    return None


def _is_number(text: str) -> bool:
    """True when text parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _load_labels_file(labels_path: str | os.PathLike[str]) -> np.ndarray:
    """Load labels from their own .npy, .npz or one-column .csv file."""
    path = existing_file(labels_path, "labels file")
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
            f"{X[row, col]} at row {row}, column {col} (counted from 0)"
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
