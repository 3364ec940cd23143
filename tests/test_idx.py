"""Tests for numpy_dec.idx: reading and validating IDX files."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from numpy_dec.datasets import EMBEDDED_SHA256
from numpy_dec.idx import read_idx

from helpers import idx_bytes, packaged_bytes

TRAIN_LABELS = Path(__file__).parent / "data" / "train-labels-idx1-ubyte.gz"


@pytest.mark.parametrize("filename", sorted(EMBEDDED_SHA256))
def test_read_idx_raw_and_gzip_agree(tmp_path, filename):
    raw = packaged_bytes(filename)
    # Names deliberately contradict the content: detection is by magic bytes.
    (tmp_path / "raw.gz").write_bytes(raw)
    (tmp_path / "packed.bin").write_bytes(gzip.compress(raw))
    a = read_idx(tmp_path / "raw.gz")
    b = read_idx(str(tmp_path / "packed.bin"))
    assert a.dtype == np.uint8
    assert a.shape == ((10000, 28, 28) if "images" in filename else (10000,))
    assert_array_equal(a, b)


def test_read_idx_returns_writable_array(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(6, dtype=np.uint8)))
    labels = read_idx(path)
    labels[0] = 9
    assert_array_equal(labels, [9, 1, 2, 3, 4, 5])


def test_real_training_labels_file():
    labels = read_idx(TRAIN_LABELS)
    digest = hashlib.sha256(gzip.decompress(TRAIN_LABELS.read_bytes())).hexdigest()
    assert digest == (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    )
    assert labels.shape == (60000,)
    assert_array_equal(labels[:8], [5, 0, 4, 1, 9, 2, 1, 3])


def _good_images() -> bytes:
    return idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))


BAD_IDX = {
    "bad magic": (b"\x12\x34" + _good_images()[2:], "not an IDX file: magic"),
    "wrong dtype code": (
        idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8), dtype_code=0x0D),
        "dtype code 0x0D; only 0x08",
    ),
    "two dimensions": (idx_bytes(np.zeros((2, 3), np.uint8)), "2 dimensions"),
    "truncated payload": (_good_images()[:-1], "truncated: .* 18 data bytes.* 17"),
    "oversized payload": (_good_images() + b"\x00\x00", "2 bytes more than"),
    "truncated header": (_good_images()[:9], "truncated inside its header"),
    "shorter than magic": (b"\x00\x00", "too short for the 4-byte IDX magic"),
    "random bytes": (
        b"\xab" + np.random.default_rng(0).bytes(300),
        "not an IDX file",
    ),
    "empty file": (b"", "is empty"),
    "gzip of garbage": (b"\x1f\x8b" + b"garbage" * 20, "does not decompress"),
    "gzipped random bytes": (
        gzip.compress(b"\xab" + np.random.default_rng(1).bytes(300)),
        "not an IDX file",
    ),
    "gzip cut short": (gzip.compress(_good_images())[:-12], "does not decompress"),
    "gzip oversized": (
        gzip.compress(_good_images() + b"\x07"),
        "has 1 byte more than",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_IDX))
def test_read_idx_rejects_bad_files(tmp_path, case):
    content, message = BAD_IDX[case]
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_read_idx_message_names_file(tmp_path):
    path = tmp_path / "named-file"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="named-file"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope-idx1-ubyte"):
        read_idx(tmp_path / "nope-idx1-ubyte")
