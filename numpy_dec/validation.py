"""Input checks shared by the estimator, the command line and the loaders.

Every check runs before any expensive work and raises ``ValueError`` or
``TypeError`` with a message that says what was wrong and what is expected.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tokenize
import warnings
import zipfile
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from numpy_dec.layers import make_activation
from numpy_dec.training import OPTIMIZERS

# What reading a damaged file can raise inside numpy and zipfile; loaders turn
# these into a ValueError that names the file.
# (RuntimeError covers zipfile's "encrypted" and "not supported" refusals.)
UNREADABLE_FILE_ERRORS = (
    ValueError, EOFError, OSError, zipfile.BadZipFile, RuntimeError,
    SyntaxError, tokenize.TokenError, MemoryError,
)

# Largest |value| still taken as scaled input. Pixels / 255 reach 1 and the
# paper's pixels x 0.02 reach 5.1; raw 0-255 bytes are far above.
SCALE_THRESHOLD = 10.0


def scale_hint(X, threshold: float = SCALE_THRESHOLD) -> str | None:
    """Return a warning message when X looks unscaled, such as 0-255 pixels.

    Parameters
    ----------
    X : array-like of shape (N, D)
    threshold : float
        Largest absolute value still taken as scaled input.

    Returns
    -------
    str or None
        A message naming the largest value and the fix, or None when every
        |x| is at most ``threshold`` (or X is empty or not numeric).
    """
    X = np.asarray(X)
    if X.size == 0 or X.dtype.kind not in "biuf":
        return None
    return _scale_message(_peak(X), threshold)


def _peak(X: np.ndarray) -> float:
    """max |x| over a finite X, by two reductions instead of np.abs(X), which
    would copy the whole array."""
    return max(-float(X.min()), float(X.max()))


def _scale_message(peak: float, threshold: float = SCALE_THRESHOLD) -> str | None:
    """``scale_hint``'s message for data whose largest |x| is ``peak``."""
    if not peak > threshold:
        return None
    return (
        f"the input reaches {peak:g}, which looks like raw 0-255 pixel values "
        "or other unscaled data; scale it to about [0, 1] first (pixels / 255, "
        "as load_mnist does by default, or x 0.02 for the paper's preset), "
        "otherwise training may be slow or diverge"
    )


def output_range_message(X: np.ndarray, output_activation: str) -> str | None:
    """A warning message when a sigmoid output cannot reach X's values.

    A sigmoid reconstruction lies in (0, 1), so data outside [0, 1] (such as
    standardised features, or pixels x 0.02) cannot be reconstructed and the
    autoencoder learns a distorted embedding. None for other outputs, for data
    within [0, 1] (up to 1e-6 for rounding), and for data whose largest |x|
    is above ``SCALE_THRESHOLD``, which ``check_array`` warns about already.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Finite data, as ``check_array`` returns it.
    output_activation : str
        The setting of the same name.
    """
    if output_activation != "sigmoid":
        return None
    low, high = float(X.min()), float(X.max())
    if (low >= -1e-6 and high <= 1 + 1e-6) or max(-low, high) > SCALE_THRESHOLD:
        return None
    return (
        f"the input spans [{low:g}, {high:g}], but the sigmoid output reaches "
        "only (0, 1), so values outside [0, 1] cannot be reconstructed; scale "
        "the data into [0, 1], e.g. (X - X.min()) / (X.max() - X.min()), or "
        "use a linear output (output_activation='linear', --set "
        "output_activation=linear on the command line, as the paper preset does)"
    )


def counted(count: int, noun: str) -> str:
    """``count`` with ``noun`` for a message: "1 byte", "3 bytes"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def null_setting_message(key: str) -> str:
    """Why ``--set KEY=null`` is refused: a setting of None means the preset's."""
    return (f"{key}=null would mean the preset's own value; give a value "
            "(pretrain_lr_step=0 and finetune_lr_step=0 mean a constant rate)")


def check_set_once(keys: list[str]) -> None:
    """Raise ValueError when ``--set`` names a setting more than once."""
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"--set gives {repeated} more than once")


def read_setting_value(raw: str):
    """The value of ``--set KEY=VALUE`` from its text, or None for "null".

    JSON first (0.5, 1e-3, true, [500, 500, 2000], "text"); then the spellings
    people type that JSON refuses: True and False in any case, and numbers such
    as .5, 5. or +1; anything else stays a string (regression). A list becomes
    a tuple.
    """
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
        if raw.strip().lower() in ("true", "false"):
            value = raw.strip().lower() == "true"
        else:
            for number in (int, float):
                try:
                    value = number(raw)
                    break
                except ValueError:
                    pass
    return tuple(value) if isinstance(value, list) else value


@contextlib.contextmanager
def scale_checked():
    """Inside the block, ``check_array`` does not repeat the unscaled-input warning.

    The commands check their data once when they load it, and warn there; the
    estimator's fit and predict, called inside this block, would otherwise
    warn again about the same array.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"[^:]*: the input reaches ", category=RuntimeWarning
        )
        yield


def check_array(X, dtype="float32", name: str = "X") -> np.ndarray:
    """Return X as a finite 2-D array of ``dtype``, shape (N, D).

    Copies only when the dtype or the memory layout has to change. Warns
    (RuntimeWarning) when the values look unscaled (see ``scale_hint``).
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
            hint = ("; reshape it with X.reshape(1, -1) if it is a single sample, "
                    "or with X.reshape(-1, 1) if it holds a single feature")
        raise ValueError(
            f"{name} must be 2-D (samples x features); got {array.ndim}-D "
            f"with shape {array.shape}{hint}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {array.shape}")

    _check_finite(array, name, "NaN or infinite values")
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(array, dtype=dtype)
    if converted is not array:
        _check_finite(converted, name, f"values too large for {np.dtype(dtype)}")

    # the largest |x|, found once for both checks below
    peak = _peak(converted)
    _check_magnitude(converted, name, peak)
    hint = _scale_message(peak)
    if hint is not None:
        warnings.warn(f"{name}: {hint}", RuntimeWarning, stacklevel=3)
    return converted


def _check_magnitude(array: np.ndarray, name: str, peak: float) -> None:
    """Raise ValueError when squared distances between rows could overflow.

    k-means and the MSE sum (x_d - y_d)^2 over the D features, which stays
    finite in the array's dtype while every |x_d| <= sqrt(max / (4 D)): about
    3e17 for float32 and 784 features. ``peak`` is max |x| over the array.
    """
    if array.dtype.kind != "f":
        return
    limit = math.sqrt(np.finfo(array.dtype).max / (4 * array.shape[1]))
    if peak > limit:
        raise ValueError(
            f"{name} holds values up to {peak:.3g}: squared distances between "
            f"rows of {array.shape[1]} such features overflow {array.dtype} (the "
            f"limit is {limit:.3g}); rescale the data, the presets expect values "
            "of about [0, 1]"
        )


def _check_finite(array: np.ndarray, name: str, what: str) -> None:
    """Raise ValueError naming the count and the first non-finite entry."""
    if array.dtype.kind != "f":
        return

    # min and max propagate NaN and show inf without a boolean copy of the data
    if np.isfinite(array.min()) and np.isfinite(array.max()):
        return
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)
        raise ValueError(
            f"{name} holds {len(bad)} {what} (first at row {bad[0][0]}, column "
            f"{bad[0][1]}, counted from 0); remove, impute or rescale them"
        )


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


def check_int(name: str, value, minimum: int = 1) -> int:
    """Return value as an int >= minimum; bools and floats raise TypeError."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int; got {_described(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}")
    return int(value)


def _described(value) -> str:
    """A value for an error message; text is called text, so that a quoted
    number such as "0.5" is not mistaken for the number."""
    if isinstance(value, str):
        return f"the text {value!r}"
    return repr(value)


def check_real(
    name: str, value, low: float = 0.0, high: float = math.inf,
    low_open: bool = True, high_open: bool = True,
) -> float:
    """Return value as a float in the interval from low to high, or raise.

    ``low_open`` and ``high_open`` exclude the bounds themselves.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number; got {_described(value)}")
    value = float(value)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (math.isfinite(value) and above and below):
        interval = (
            f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )
        raise ValueError(f"{name} must be a finite number in {interval}; got {value}")
    return value


def check_choice(name: str, value, choices: tuple) -> Any:
    """Return value when it is one of ``choices``, or raise ValueError."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def check_settings(s: dict[str, Any]) -> None:
    """Check every setting of a preset-shaped dictionary, before any work.

    Parameters
    ----------
    s : dict
        Setting name -> value, with the keys of ``numpy_dec.presets.SPEC``
        (``dec_method`` is checked by the estimator, which defines the methods).

    Raises
    ------
    TypeError
        When a value has the wrong type (a float epoch count, a string rate).
    ValueError
        When a value is out of range or not one of the valid names.
    """
    sizes = s["hidden_sizes"]
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple)):
        raise TypeError(f"hidden_sizes must be a list of ints; got {sizes!r}")
    for size in sizes:
        check_int("each of hidden_sizes", size, 1)
    check_int("embedding_size", s["embedding_size"], 1)
    for name in ("hidden_activation", "embedding_activation", "output_activation"):
        try:
            make_activation(s[name])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: {error}") from None

    for name in ("batch_size", "update_interval", "max_iter", "kmeans_n_init"):
        check_int(name, s[name], 1)
    for name in ("pretrain_epochs", "finetune_epochs"):
        check_int(name, s[name], 0)
    for name in ("pretrain_lr_step", "finetune_lr_step"):
        if s[name] is not None:
            check_int(name, s[name], 0)

    for name in ("input_scale", "init_std", "alpha", "eta0", "pretrain_lr",
                 "finetune_lr", "dec_lr"):
        check_real(name, s[name])
    check_real("drop_prob", s["drop_prob"], 0.0, 1.0, low_open=False)
    for name in ("pretrain_momentum", "finetune_momentum", "dec_momentum"):
        check_real(name, s[name], 0.0, 1.0, low_open=False)
    check_real("weight_decay", s["weight_decay"], 0.0, low_open=False)
    # a fraction of the assignments; above 1 it would stop DEC at once
    check_real("tol", s["tol"], 0.0, 1.0, low_open=False, high_open=False)

    check_choice("init", s["init"], ("glorot_uniform", "gaussian"))
    check_choice("dtype", s["dtype"], ("float32", "float64"))
    for name in ("pretrain_optimizer", "finetune_optimizer", "dec_optimizer"):
        check_choice(name, s[name], OPTIMIZERS)


def existing_file(path: str | os.PathLike[str], what: str) -> Path:
    """Return path as a Path, raising FileNotFoundError when it is missing."""
    path = Path(os.fspath(path))
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path

