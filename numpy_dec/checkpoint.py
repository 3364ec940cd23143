"""Checkpoints: the state of a fit, saved so that it can continue bit for bit.

A checkpoint is an archive of ``numpy_dec.storage`` holding every parameter of
the autoencoder, the state of the current phase's optimizer, the states of the
three random generators (``bit_generator.state`` as JSON), the phase and its
position (pair and epoch, or DEC iteration), the DEC centroids, target P, last
assignments and minibatch order, and the histories so far. The estimator
writes one at the end of each phase, every ``checkpoint_every`` epochs or target
updates, and when Ctrl-C is pressed (see ``Checkpointer``).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from numpy_dec.storage import (
    CHECKPOINT_KIND,
    StorageError,
    checked_array,
    copy_parameters,
    read_archive,
    read_header,
    save_archive,
    to_json,
)

CHECKPOINT_FORMAT = 1
CHECKPOINT_FILE = "checkpoint.npz"
PHASES = ("pretrain", "finetune", "kmeans", "dec", "done")
RNG_NAMES = ("init", "order", "kmeans")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a fit after a checkpoint was saved.

    Attributes
    ----------
    path : Path
        The checkpoint file.
    where : str
        The point the fit will continue from, in words.
    """

    def __init__(self, path: Path, where: str):
        super().__init__(f"interrupted; checkpoint at {where} saved in {path}")
        self.path = path
        self.where = where


def fingerprint(X: np.ndarray) -> dict:
    """Shape, dtype and SHA-256 of a C-contiguous array, to recognise the data."""
    digest = hashlib.sha256(memoryview(np.ascontiguousarray(X)).cast("B"))
    return {"shape": list(X.shape), "dtype": str(X.dtype), "sha256": digest.hexdigest()}


def new_history() -> dict:
    """Empty histories: per phase losses, DEC records, seconds, convergence."""
    return {"pretrain": [], "finetune": [], "dec": [], "seconds": {},
            "converged": False}


@dataclass
class TrainingState:
    """Where a fit stands, in the terms its loops use.

    Attributes
    ----------
    phase : {"pretrain", "finetune", "kmeans", "dec", "done"}
        The phase to run next (or being run).
    pair, epoch : int
        Pretraining: the pair being trained and its completed epochs;
        fine-tuning: completed epochs.
    iteration, position : int
        DEC: the next iteration, and how many entries of ``order`` the
        minibatches have used.
    history : dict
        As ``DEC.history_``.
    optimizer : dict of str to ndarray, or None
        The optimizer state of an interrupted phase, loaded when its optimizer
        is built again.
    centroids : ndarray of shape (K, E) or None
    P : ndarray of shape (N, K) or None
        The target of the last update.
    previous : ndarray of shape (N,) or None
        The assignments of the last update (the final labels when done).
    kmeans_labels : ndarray of shape (N,) or None
    order : ndarray of shape (N,) or None
        The current minibatch permutation of DEC.
    """

    phase: str = "pretrain"
    pair: int = 0
    epoch: int = 0
    iteration: int = 0
    position: int = 0
    history: dict = field(default_factory=new_history)
    optimizer: dict | None = None
    centroids: np.ndarray | None = None
    P: np.ndarray | None = None
    previous: np.ndarray | None = None
    kmeans_labels: np.ndarray | None = None
    order: np.ndarray | None = None

    def describe(self, s: dict) -> str:
        """The position in words, with the totals taken from the settings ``s``."""
        if self.phase == "pretrain":
            return (
                f"pretraining pair {self.pair + 1} of {len(s['hidden_sizes']) + 1}, "
                f"{self.epoch} of {s['pretrain_epochs']} epochs done"
            )
        if self.phase == "finetune":
            return f"fine-tuning, {self.epoch} of {s['finetune_epochs']} epochs done"
        if self.phase == "kmeans":
            return "k-means on the embedding"
        if self.phase == "dec":
            return f"DEC iteration {self.iteration} of at most {s['max_iter']}"
        return "the end of training"


_STATE_ARRAYS = ("centroids", "P", "previous", "kmeans_labels", "order")


def pack_state(state: TrainingState, autoencoder, optimizer, rngs: dict):
    """The header fields and arrays that describe a fit at a boundary.

    Parameters
    ----------
    state : TrainingState
    autoencoder : StackedDenoisingAutoencoder
    optimizer : SGD, Adam or None
        The optimizer of the current phase, if one is running.
    rngs : dict of str to numpy.random.Generator
        The generators named in ``RNG_NAMES``.
    """
    header = {
        "phase": state.phase, "pair": state.pair, "epoch": state.epoch,
        "iteration": state.iteration, "position": state.position,
        "history": state.history,
        "rng": {name: rngs[name].bit_generator.state for name in RNG_NAMES},
    }
    arrays = {
        f"param.{name}": layer.params[key]
        for name, layer, key in autoencoder.autoencoder.named_parameters()
    }
    if optimizer is not None:
        arrays.update({f"optimizer.{k}": v for k, v in optimizer.state_dict().items()})
    for name in _STATE_ARRAYS:
        if getattr(state, name) is not None:
            arrays[name] = getattr(state, name)
    return header, arrays


def unpack_state(header: dict, arrays: dict, autoencoder, rngs: dict,
                 n_samples: int, n_clusters: int, path) -> TrainingState:
    """Check a checkpoint and load it into the network and the generators.

    Returns the TrainingState to continue from. Raises StorageError when a
    field or an array does not fit; the network and the generators may then be
    partly overwritten, so the caller discards them.
    """
    try:
        state = TrainingState(
            phase=header["phase"], pair=int(header["pair"]),
            epoch=int(header["epoch"]), iteration=int(header["iteration"]),
            position=int(header["position"]), history=header["history"],
        )
        generator_states = [header["rng"][name] for name in RNG_NAMES]
    except (KeyError, TypeError, ValueError) as error:
        raise StorageError(f"{path} has an incomplete header: {error!r}") from None
    _check_position(state, n_samples, path)

    # arrays: every parameter, then the phase's own arrays
    dtype, E = autoencoder.dtype, autoencoder.layer_sizes[-1]
    expected = {"centroids": ((n_clusters, E), dtype),
                "P": ((n_samples, n_clusters), dtype)}
    for name in ("previous", "kmeans_labels", "order"):
        expected[name] = ((n_samples,), np.int64)
    for name in _STATE_ARRAYS:
        if name in arrays:
            stored = checked_array(arrays, name, *expected[name], path)
            setattr(state, name, stored.copy())
    _check_arrays_present(state, arrays, path)
    _check_labels_and_order(state, n_clusters, path)
    optimizer = {k[len("optimizer."):]: v for k, v in arrays.items()
                 if k.startswith("optimizer.")}
    state.optimizer = optimizer or None

    # the network and the generators take the stored values
    copy_parameters(arrays, "param.", autoencoder.autoencoder.named_parameters(), path)
    try:
        for name, value in zip(RNG_NAMES, generator_states):
            rngs[name].bit_generator.state = value
    except (TypeError, ValueError, KeyError) as error:
        raise StorageError(f"{path} has an unusable generator state: {error}")
    return state


def _check_position(state: TrainingState, n_samples: int, path) -> None:
    """The phase name and counters, and the shape of the histories."""
    if state.phase not in PHASES:
        raise StorageError(f"{path}: unknown phase {state.phase!r}")
    counters = (state.pair, state.epoch, state.iteration, state.position)
    if min(counters) < 0 or state.position > n_samples:
        raise StorageError(f"{path}: impossible position {counters}")
    h = state.history
    keys = set(new_history())
    if not isinstance(h, dict) or set(h) != keys:
        raise StorageError(f"{path}: the history needs exactly the keys {keys}")
    if not (isinstance(h["pretrain"], list) and isinstance(h["finetune"], list)
            and isinstance(h["dec"], list) and isinstance(h["seconds"], dict)):
        raise StorageError(f"{path}: the history has the wrong structure")


def _check_arrays_present(state: TrainingState, arrays: dict, path) -> None:
    """DEC needs its centroids; a DEC run past iteration 0 needs the rest."""
    needed = []
    if state.phase in ("dec", "done"):
        needed += ["centroids", "kmeans_labels"]
    if state.phase == "done" or (state.phase == "dec" and state.iteration > 0):
        needed += ["previous"]
    if state.phase == "dec" and state.iteration > 0:
        needed += ["P", "order", "optimizer.step"]
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise StorageError(f"{path}: phase {state.phase} needs arrays {missing}")


def _check_labels_and_order(state: TrainingState, n_clusters: int, path) -> None:
    """Assignments in 0..K-1, and the minibatch order a permutation of 0..N-1."""
    for name in ("previous", "kmeans_labels"):
        labels = getattr(state, name)
        if labels is not None and labels.size and (
            labels.min() < 0 or labels.max() >= n_clusters
        ):
            raise StorageError(f"{path}: {name} outside 0..{n_clusters - 1}")
    if state.order is not None and not np.array_equal(
        np.sort(state.order), np.arange(state.order.size)
    ):
        raise StorageError(f"{path}: the minibatch order is not a permutation")


def load_optimizer(optimizer, stored: dict, path) -> None:
    """Load a stored optimizer state, checking its keys, shapes and dtypes."""
    for key, value in stored.items():
        if key != "step":
            index = key.rsplit(".", 1)[-1]
            if not (index.isdigit() and int(index) < len(optimizer.params)):
                raise StorageError(f"{path}: unexpected optimizer array {key}")
            layer, name = optimizer.params[int(index)]
            if value.dtype != layer.params[name].dtype:
                raise StorageError(
                    f"{path}: optimizer array {key} is {value.dtype}, the "
                    f"parameters are {layer.params[name].dtype}"
                )
    try:
        optimizer.load_state_dict(stored)
    except (ValueError, TypeError) as error:
        raise StorageError(f"{path}: the optimizer state does not fit: {error}")


class Checkpointer:
    """Write and read the checkpoint of one fit, and defer Ctrl-C to a boundary.

    Parameters
    ----------
    directory : str or path-like
        Where ``checkpoint.npz`` lives; created when missing.
    every : int
        Checkpoint every this many epochs (pretraining, fine-tuning) or target
        updates (DEC); one is also written at the end of every phase.
    identity : dict
        What a checkpoint must match to be resumed: the resolved settings with
        K and the seed ("params"), and the data's fingerprint ("data"). Stored
        in every checkpoint.

    Notes
    -----
    Used as a context manager around the training loops (in the main thread,
    when SIGINT has Python's default handler), the first Ctrl-C only sets
    ``requested``; the loops check it at the end of every epoch and DEC
    iteration, save a checkpoint there and raise ``Interrupted``. A second
    Ctrl-C raises KeyboardInterrupt at once, without saving; the last periodic
    checkpoint stays valid, since each is replaced atomically.
    """

    def __init__(self, directory: str | os.PathLike, every: int, identity: dict):
        self.directory = Path(directory)
        self.every = every
        self.identity = to_json(identity)
        self.requested = False
        self._previous_handler = None

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def save(self, fields: dict, arrays: dict) -> Path:
        """Write a checkpoint from ``pack_state``'s header fields and arrays."""
        self.directory.mkdir(parents=True, exist_ok=True)
        header = {"format": CHECKPOINT_KIND, "format_version": CHECKPOINT_FORMAT,
                  **self.identity, **fields}
        save_archive(self.path, header, arrays)
        return self.path

    def load(self) -> tuple[dict, dict] | None:
        """(header, arrays) of the checkpoint, or None when there is none yet.

        Raises StorageError when the file is damaged, of another version, or
        was written for other settings or other data.
        """
        if not self.path.exists():
            return None
        header, arrays = read_archive(self.path, CHECKPOINT_KIND)
        if header.get("format") != CHECKPOINT_KIND or (
            header.get("format_version") != CHECKPOINT_FORMAT
        ):
            raise StorageError(
                f"{self.path} is not a numpy_dec checkpoint of format "
                f"{CHECKPOINT_FORMAT} (found {header.get('format')!r}, "
                f"{header.get('format_version')!r})"
            )
        for key, value in self.identity.items():
            if header.get(key) != value:
                raise StorageError(_mismatch(self.path, key, header.get(key), value))
        return header, arrays

    # Ctrl-C handling
    def __enter__(self) -> "Checkpointer":
        self.requested = False
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous_handler = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None

    def _on_interrupt(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nCtrl-C: saving a checkpoint at the end of the current epoch or DEC "
            "iteration (press Ctrl-C again to stop at once without saving)",
            file=sys.stderr, flush=True,
        )


def check_checkpoint_data(path: Path, X: np.ndarray) -> None:
    """Raise StorageError when the checkpoint at ``path`` was written for other
    data than X (N, D); no checkpoint passes.

    ``Checkpointer.load`` checks the same, but only once training is about to
    start; a resumed run calls this first, so that other data is refused
    before anything in its folder changes.
    """
    if not path.exists():
        return
    stored = read_header(path, CHECKPOINT_KIND).get("data")
    current = to_json(fingerprint(X))
    if stored != current:
        raise StorageError(_mismatch(path, "data", stored, current))


def _mismatch(path: Path, key: str, stored: Any, current: Any) -> str:
    """Explain how a checkpoint differs from the fit that wants to resume it."""
    if key == "params" and isinstance(stored, dict) and isinstance(current, dict):
        names = sorted(k for k in set(stored) | set(current)
                       if stored.get(k) != current.get(k))
        detail = ", ".join(
            f"{k}: {stored.get(k)!r} there, {current.get(k)!r} here" for k in names
        )
        return f"{path} was written with other settings ({detail})"
    if key == "data" and isinstance(stored, dict):
        return (
            f"{path} was written for other data (shape {stored.get('shape')}, "
            f"SHA-256 {stored.get('sha256')}); this fit has shape "
            f"{current['shape']}, SHA-256 {current['sha256']}"
        )
    return f"{path}: {key} is {stored!r} there, {current!r} here"
