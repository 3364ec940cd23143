"""Files of numpy_dec: .npz archives written atomically and read safely.

An archive holds named numeric arrays plus one JSON header. It is written to a
temporary file that ``os.replace`` then moves onto the real name, so a crash
never leaves half a file there, and read with ``allow_pickle=False``, so a file
can never run code. Fitted models (``DEC.save`` / ``DEC.load``) and training
checkpoints (``numpy_dec.checkpoint``) are such archives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from numpy_dec.validation import UNREADABLE_FILE_ERRORS

MODEL_FORMAT = 1
# the "format" field of a checkpoint (numpy_dec.checkpoint); models have none
CHECKPOINT_KIND = "numpy_dec checkpoint"


class StorageError(ValueError):
    """A model or checkpoint file that cannot be used.

    It is damaged or incomplete, of another format version, or (a checkpoint)
    written for other settings or other data.
    """


def to_json(value: Any) -> Any:
    """NumPy scalars, dtypes and tuples in a value, as plain JSON-ready Python."""
    if isinstance(value, np.generic):
        return value.item()
    if is_dtype_like(value):
        return np.dtype(value).name
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def is_dtype_like(value: Any) -> bool:
    """Whether value is a NumPy dtype or scalar type, such as np.float32."""
    return isinstance(value, np.dtype) or (
        isinstance(value, type) and issubclass(value, np.generic)
    )


def _params_from_json(params: dict) -> dict:
    """Constructor keywords read back from JSON: lists become tuples again."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def write_atomic(path: str | os.PathLike, write: Callable) -> None:
    """Call ``write(file)`` on a temporary file, then move it onto ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {path}: the folder {path.parent} does not exist"
        )
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; name a file")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_archive(path: str | os.PathLike, header: dict, arrays: dict) -> None:
    """Write a JSON header and named arrays to an .npz file, atomically."""
    text = np.array(json.dumps(to_json(header)))
    write_atomic(path, lambda f: np.savez(f, header=text, **arrays))


def read_archive(path: str | os.PathLike, what: str) -> tuple[dict, dict]:
    """Read an archive written by ``save_archive``; return (header, arrays).

    Raises FileNotFoundError when the file is missing and StorageError when
    it is not a readable archive of that kind. Nothing is unpickled.
    """
    return _read(path, what, header_only=False)


def read_header(path: str | os.PathLike, what: str = "numpy_dec archive") -> dict:
    """The JSON header of an archive, without reading its arrays."""
    return _read(path, what, header_only=True)[0]


def _read(path, what: str, header_only: bool) -> tuple[dict, dict]:
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"{path} is a folder, not a {what}")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    with open(path, "rb") as f:
        start = f.read(4)
    # an .npz file is a zip archive; anything else would reach np.load, whose
    # message for it is about pickles
    if start != b"PK\x03\x04":
        raise StorageError(f"{path} is not a {what}: it is not an .npz archive")
    try:
        # opened here, so that the file is closed even when np.load fails on it
        with open(path, "rb") as f:
            archive = np.load(f, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an .npz archive")
            with archive:
                if "header" not in archive.files:
                    raise ValueError("no header")
                names = [] if header_only else archive.files
                arrays = {name: archive[name] for name in names}
                text = archive["header"]
        arrays.pop("header", None)
        if text.shape != () or text.dtype.kind != "U":
            raise ValueError("the header is not a string")
        header = json.loads(str(text))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (*UNREADABLE_FILE_ERRORS, KeyError) as error:
        raise StorageError(
            f"{path} is not a {what}, or is damaged ({type(error).__name__}: "
            f"{error})"
        ) from None
    return header, arrays


def save_model(model, path: str | os.PathLike) -> None:
    """Write a fitted DEC to ``path`` (.npz): parameters, centroids and the
    keywords it was fitted with."""
    arrays = {
        f"ae.{name}": layer.params[key]
        for name, layer, key in model.autoencoder_.autoencoder.named_parameters()
    }
    header = {
        "format_version": MODEL_FORMAT,
        "params": model._fitted_params,
        "n_features_in": int(model.n_features_in_),
    }
    save_archive(path, header, {"cluster_centers": model.cluster_centers_, **arrays})


def load_model(cls, path: str | os.PathLike):
    """Read a model written by ``save_model``; checks version, shapes and dtypes."""
    header, arrays = read_archive(path, "numpy_dec model")
    # both files lie in every run folder
    if header.get("format") == CHECKPOINT_KIND:
        raise StorageError(
            f"{path} is the checkpoint of a fit, not a model: load the model.npz "
            "beside it, or continue the fit with --resume"
        )
    if "format_version" not in header:
        raise StorageError(
            f"{path} is not a numpy_dec model: its header has no model format "
            "(the model of a run is the model.npz in its folder)"
        )
    if header.get("format_version") != MODEL_FORMAT:
        raise StorageError(
            f"{path} has model format {header.get('format_version')!r}; this "
            f"version of numpy_dec reads format {MODEL_FORMAT}"
        )
    try:
        model = cls(**_params_from_json(header["params"]))
        s = model.settings()
        model._check_settings(s)
        model._build(int(header["n_features_in"]), s, np.random.default_rng(0))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise StorageError(f"{path} holds unusable settings: {error}") from None

    model._fitted_params = model.get_params()
    named = model.autoencoder_.autoencoder.named_parameters()
    copy_parameters(arrays, "ae.", named, path)
    E = int(s["embedding_size"])
    centers = checked_array(arrays, "cluster_centers", (model.n_clusters, E),
                     model.autoencoder_.dtype, path)
    model.cluster_centers_ = centers.copy()
    return model


def checked_array(arrays: dict, name: str, shape: tuple, dtype, path) -> np.ndarray:
    """The stored array ``name``, checked for its shape, dtype and finiteness."""
    if name not in arrays:
        raise StorageError(f"{path} has no array {name!r}")
    stored = arrays[name]
    if stored.shape != tuple(shape) or stored.dtype != np.dtype(dtype):
        raise StorageError(
            f"{path}: {name} has shape {stored.shape} and dtype {stored.dtype}; "
            f"expected {tuple(shape)} {np.dtype(dtype)}"
        )
    if stored.dtype.kind == "f" and not np.isfinite(stored).all():
        raise StorageError(
            f"{path}: {name} holds NaN or infinite values; the file is damaged "
            "or was written from a fit that diverged"
        )
    return stored


def copy_parameters(arrays: dict, prefix: str, named: list, path) -> None:
    """Copy every stored parameter into the network, after checking them all."""
    expected = {prefix + name for name, _, _ in named}
    found = {k for k in arrays if k.startswith(prefix)}
    if found != expected:
        raise StorageError(
            f"{path} does not match this network: missing "
            f"{sorted(expected - found)}, unexpected {sorted(found - expected)}"
        )
    stored = [
        checked_array(arrays, prefix + name, layer.params[key].shape,
               layer.params[key].dtype, path)
        for name, layer, key in named
    ]
    for (_, layer, key), value in zip(named, stored):
        layer.params[key][...] = value
