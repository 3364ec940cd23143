"""Damaged files: random, truncated, oversized and bit-flipped bytes.

Every loader (IDX files, .npy / .npz / .csv matrices, saved models, training
checkpoints) must either read the file or raise a ValueError that names it;
no other exception may escape, and a truncated or oversized file must never be
read as if it were whole.
"""

import gzip
import io
import shutil
import struct
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from numpy_dec.checkpoint import CHECKPOINT_FILE
from numpy_dec.datasets import load_matrix, read_idx
from numpy_dec.dec import DEC
from numpy_dec.storage import StorageError

FUZZ = settings(max_examples=40, deadline=None)
TINY = dict(hidden_sizes=(8, 8), embedding_size=3, pretrain_epochs=1,
            finetune_epochs=2, kmeans_n_init=2, max_iter=20, update_interval=10,
            batch_size=16)


def _blobs(n=60, d=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, size=(3, d))
    X = centres[rng.integers(3, size=n)] + rng.normal(0, 0.03, size=(n, d))
    return np.clip(X, 0, 1).astype(np.float32)


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


IMAGES = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
GOOD = {
    ".idx": _idx(IMAGES),
    ".gz": gzip.compress(_idx(IMAGES)),
    ".npy": _npy(np.linspace(0, 1, 12).reshape(4, 3)),
    ".npz": _npz(X=np.linspace(0, 1, 12).reshape(4, 3), y=np.arange(4)),
}
READERS = {".idx": read_idx, ".gz": read_idx, ".npy": load_matrix, ".npz": load_matrix}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("damaged")


def _outcome(reader, path):
    """The reader's result, or None after the one allowed error (ValueError)."""
    try:
        return reader(path)
    except ValueError as error:
        assert str(path) in str(error) or path.name in str(error)
        return None


def _cut(data: bytes, draw) -> bytes:
    return data[: draw.draw(st.integers(0, len(data) - 1))]


@FUZZ
@given(st.sampled_from(sorted(GOOD)), st.binary(max_size=300))
def test_random_bytes(folder, suffix, data):
    path = folder / f"random{suffix}"
    path.write_bytes(data)
    result = _outcome(READERS[suffix], path)
    if result is not None and suffix in (".idx", ".gz"):
        # only a genuine IDX file can be read, and then as what it says
        assert result.dtype == np.uint8 and result.ndim in (1, 3)


@FUZZ
@given(st.sampled_from(sorted(GOOD)), st.data())
def test_truncated_files_are_refused(folder, suffix, draw):
    path = folder / f"truncated{suffix}"
    path.write_bytes(_cut(GOOD[suffix], draw))
    assert _outcome(READERS[suffix], path) is None


@FUZZ
@given(st.sampled_from([".idx", ".gz", ".npy"]), st.binary(min_size=1, max_size=64))
def test_oversized_files_are_refused(folder, suffix, extra):
    path = folder / f"oversized{suffix}"
    if suffix == ".gz":
        path.write_bytes(gzip.compress(_idx(IMAGES) + extra))
    else:
        path.write_bytes(GOOD[suffix] + extra)
    assert _outcome(READERS[suffix], path) is None


@FUZZ
@given(st.sampled_from(sorted(GOOD)), st.data())
def test_flipped_bytes(folder, suffix, draw):
    data = bytearray(GOOD[suffix])
    data[draw.draw(st.integers(0, len(data) - 1))] ^= draw.draw(st.integers(1, 255))
    path = folder / f"flipped{suffix}"
    path.write_bytes(bytes(data))
    _outcome(READERS[suffix], path)


@FUZZ
@given(st.binary(max_size=200))
def test_csv_of_random_bytes(folder, data):
    path = folder / "random.csv"
    path.write_bytes(data)
    result = _outcome(load_matrix, path)
    if result is not None:
        X, _ = result
        assert X.ndim == 2 and np.isfinite(X).all()


@FUZZ
@given(st.data())
def test_truncated_csv_is_a_smaller_table_or_refused(folder, draw):
    text = b"a,b,label\n0.5,1.5,0\n2.5,3.5,1\n4.5,5.5,0\n"
    path = folder / "truncated.csv"
    path.write_bytes(_cut(text, draw))
    result = _outcome(load_matrix, path)
    if result is not None:
        X, y = result
        full = np.array([[0.5, 1.5], [2.5, 3.5], [4.5, 5.5]])
        assert_array_equal(X, full[: len(X)])


# saved models and checkpoints


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fitted")
    X = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=folder)
    model.save(folder / "model.npz")
    return X, model, folder


def _damage(data: bytes, how: str, draw) -> bytes:
    if how == "truncated":
        return _cut(data, draw)
    if how == "oversized":
        return data + draw.draw(st.binary(min_size=1, max_size=64))
    flipped = bytearray(data)
    flipped[draw.draw(st.integers(0, len(data) - 1))] ^= draw.draw(st.integers(1, 255))
    return bytes(flipped)


@FUZZ
@given(st.sampled_from(["truncated", "oversized", "flipped"]), st.data())
def test_damaged_model_file(fitted, folder, how, draw):
    X, model, source = fitted
    path = folder / "model.npz"
    path.write_bytes(_damage((source / "model.npz").read_bytes(), how, draw))
    try:
        loaded = DEC.load(path)
    except StorageError as error:
        assert how != "oversized" or "not a numpy_dec model" in str(error)
        return
    # the zip format tolerates trailing bytes and unused fields: then the
    # model read back must be the one saved
    assert how != "truncated"
    assert_array_equal(loaded.predict(X), model.predict(X))


@FUZZ
@given(st.sampled_from(["truncated", "oversized", "flipped"]), st.data())
def test_damaged_checkpoint(fitted, folder, how, draw):
    X, model, source = fitted
    resumed = folder / "resume"
    resumed.mkdir(exist_ok=True)
    data = (source / CHECKPOINT_FILE).read_bytes()
    (resumed / CHECKPOINT_FILE).write_bytes(_damage(data, how, draw))
    try:
        again = DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=resumed, resume=True)
    except StorageError:
        return
    assert how != "truncated"
    assert_array_equal(again.labels_, model.labels_)
    assert_array_equal(again.cluster_centers_, model.cluster_centers_)


def test_pickled_model_is_never_unpickled(fitted, folder):
    X, model, source = fitted
    path = folder / "pickled.npz"
    shutil.copy(source / "model.npz", path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["header"] = np.array([{"format_version": 1}], dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(StorageError, match="not a numpy_dec model"):
        DEC.load(path)


def test_a_text_file_or_a_checkpoint_is_not_taken_for_a_model(fitted, folder):
    text = folder / "notes.npz"
    text.write_text("not an archive\n")
    with pytest.raises(StorageError, match="it is not an .npz archive") as caught:
        DEC.load(text)
    assert "pickle" not in str(caught.value)

    _, _, source = fitted
    with pytest.raises(StorageError, match="is the checkpoint of a fit, not a model"):
        DEC.load(source / "checkpoint.npz")
