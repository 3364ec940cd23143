"""Tests for numpy_dec.datasets: IDX reading, MNIST loading, matrix files."""

import gc
import gzip
import hashlib
import pickle
import re
import struct
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec import datasets
from numpy_dec.datasets import (
    EMBEDDED_SHA256,
    load_matrix,
    load_mnist,
    read_idx,
    scale_hint,
)

TRAIN_LABELS = Path(__file__).parent / "data" / "train-labels-idx1-ubyte.gz"
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray, dtype_code: int = 0x08) -> bytes:
    """Encode a uint8 array as IDX bytes: magic, sizes, payload."""
    header = bytes([0, 0, dtype_code, array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def packaged_bytes(filename: str) -> bytes:
    """The decompressed bytes of a packaged MNIST file."""
    ref = resources.files("numpy_dec") / "data" / filename
    return gzip.decompress(ref.read_bytes())


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


# The packaged MNIST test set


def test_embedded_shape_and_dtype(mnist):
    X, y = mnist
    assert X.shape == (10000, 784)
    assert X.dtype == np.float32
    assert y.shape == (10000,)
    assert y.dtype == np.int64
    assert X.flags.c_contiguous


def test_embedded_known_facts(mnist):
    X, y = mnist
    assert_array_equal(np.bincount(y, minlength=10), TEST_LABEL_COUNTS)
    assert_array_equal(y[:8], [7, 2, 1, 0, 4, 1, 4, 9])
    assert_allclose(X.mean(dtype=np.float64), 0.13251, atol=5e-6)
    assert_allclose(X.std(dtype=np.float64), 0.31048, atol=5e-6)
    assert X.min() == 0.0
    assert_allclose(X.max(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("filename", sorted(EMBEDDED_SHA256))
def test_embedded_sha256(filename):
    digest = hashlib.sha256(packaged_bytes(filename)).hexdigest()
    assert digest == EMBEDDED_SHA256[filename]


def test_embedded_readme_has_attribution():
    text = (resources.files("numpy_dec") / "data" / "README.md").read_text("utf-8")
    for phrase in ("LeCun", "Cortes", "Burges", "Attribution-Share Alike 3.0"):
        assert phrase in text


def test_embedded_checksum_mismatch_is_reported(monkeypatch):
    monkeypatch.setitem(EMBEDDED_SHA256, datasets.EMBEDDED_LABELS, "0" * 64)
    with pytest.raises(ValueError, match="packaged file .* is corrupt"):
        load_mnist()


def test_paper_scale_and_float64(mnist):
    X, _ = load_mnist(scale=0.02, dtype=np.float64)
    assert X.dtype == np.float64
    assert_allclose(X.max(), 5.1, rtol=1e-12)
    assert_allclose(X, mnist[0].astype(np.float64) * 5.1, rtol=1e-6, atol=1e-6)


def test_float32_paper_scale():
    X, _ = load_mnist(scale=0.02)
    assert X.dtype == np.float32
    assert_allclose(X.max(), 5.1, rtol=1e-6)


@pytest.mark.parametrize(
    "scale", [0, -1.0, float("nan"), float("inf"), "0.02", True, None]
)
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale must be a positive finite number"):
        load_mnist(scale=scale)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, bool])
def test_non_float_dtype(dtype):
    with pytest.raises(TypeError, match="dtype must be a floating type"):
        load_mnist(dtype=dtype)


# read_idx


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
        "1 bytes more than",
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


# load_mnist from a folder of original files


def write_mnist_folder(folder: Path, names: dict, n_train=5, n_test=3) -> tuple:
    """Write small synthetic MNIST files; names maps stem -> file name."""
    rng = np.random.default_rng(42)
    train = rng.integers(0, 256, size=(n_train, 4, 4), dtype=np.uint8)
    test = rng.integers(0, 256, size=(n_test, 4, 4), dtype=np.uint8)
    train_y = np.arange(n_train, dtype=np.uint8) % 10
    test_y = (np.arange(n_test, dtype=np.uint8) + 7) % 10
    content = {
        "train-images-idx3-ubyte": idx_bytes(train),
        "train-labels-idx1-ubyte": idx_bytes(train_y),
        "t10k-images-idx3-ubyte": idx_bytes(test),
        "t10k-labels-idx1-ubyte": idx_bytes(test_y),
    }
    for stem, name in names.items():
        data = content[stem]
        (folder / name).write_bytes(
            gzip.compress(data) if name.endswith(".gz") else data
        )
    return np.concatenate([train, test]), np.concatenate([train_y, test_y])


STEMS = datasets.MNIST_FILES
NAMINGS = {
    "raw": {s: s for s in STEMS},
    "gzip": {s: s + ".gz" for s in STEMS},
    "dotted": {s: s.replace("-idx", ".idx") for s in STEMS},
    "mixed": {
        STEMS[0]: STEMS[0].replace("-idx", ".idx") + ".gz",
        STEMS[1]: STEMS[1],
        STEMS[2]: STEMS[2] + ".gz",
        STEMS[3]: STEMS[3].replace("-idx", ".idx"),
    },
}


@pytest.mark.parametrize("naming", sorted(NAMINGS))
def test_data_dir_concatenates_train_then_test(tmp_path, naming):
    images, labels = write_mnist_folder(tmp_path, NAMINGS[naming])
    X, y = load_mnist(tmp_path, scale=0.5, dtype=np.float64)
    assert X.shape == (8, 16)
    assert X.dtype == np.float64
    assert_allclose(X, images.reshape(8, 16) * 0.5)
    assert_array_equal(y, labels)
    assert y.dtype == np.int64


def test_data_dir_missing_file_is_named(tmp_path):
    names = {s: s + ".gz" for s in STEMS if s != "t10k-labels-idx1-ubyte"}
    write_mnist_folder(tmp_path, names)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(str(tmp_path))
    message = str(info.value)
    assert message.startswith("t10k-labels-idx1-ubyte not found in")
    assert str(tmp_path) in message
    for stem in STEMS:
        assert stem in message


def test_data_dir_not_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an existing folder"):
        load_mnist(tmp_path / "absent")


def test_data_dir_empty_string():
    with pytest.raises(ValueError, match="pass None for the packaged test set"):
        load_mnist("")


def test_data_dir_count_mismatch(tmp_path):
    write_mnist_folder(tmp_path, NAMINGS["raw"])
    labels = idx_bytes(np.zeros(4, dtype=np.uint8))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(labels)
    with pytest.raises(ValueError, match="has 5 images but .* has 4 labels"):
        load_mnist(tmp_path)


def test_data_dir_swapped_files(tmp_path):
    write_mnist_folder(tmp_path, NAMINGS["raw"])
    test_images = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(test_images)
    with pytest.raises(ValueError, match="not labels"):
        load_mnist(tmp_path)


def test_data_dir_image_size_mismatch(tmp_path):
    write_mnist_folder(tmp_path, NAMINGS["raw"])
    small = idx_bytes(np.zeros((3, 2, 2), dtype=np.uint8))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(small)
    with pytest.raises(ValueError, match="same image size"):
        load_mnist(tmp_path)


# load_matrix: formats


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(6, 4)), np.array([0, 1, 2, 0, 1, 2])


def test_npy_without_labels(tmp_path, data):
    np.save(tmp_path / "x.npy", data[0])
    X, y = load_matrix(tmp_path / "x.npy")
    assert_array_equal(X, data[0])
    assert y is None


def test_npy_with_labels_path(tmp_path, data):
    np.save(tmp_path / "x.npy", data[0].astype(np.float32))
    np.save(tmp_path / "y.npy", data[1])
    X, y = load_matrix(tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    assert X.dtype == np.float32
    assert_array_equal(y, data[1])
    assert y.dtype == np.int64


@pytest.mark.parametrize(
    "x_key, y_key", [("X", "y"), ("x", "labels"), ("data", "y"), ("features", None)]
)
def test_npz_keys(tmp_path, data, x_key, y_key):
    arrays = {x_key: data[0]}
    if y_key is not None:
        arrays[y_key] = data[1]
    np.savez(tmp_path / "d.npz", **arrays)
    X, y = load_matrix(tmp_path / "d.npz")
    assert_array_equal(X, data[0])
    if y_key is None:
        assert y is None
    else:
        assert_array_equal(y, data[1])


def test_npz_with_labels_path(tmp_path, data):
    np.savez(tmp_path / "d.npz", X=data[0])
    np.savez(tmp_path / "l.npz", targets=data[1])
    _, y = load_matrix(tmp_path / "d.npz", labels_path=tmp_path / "l.npz")
    assert_array_equal(y, data[1])


def test_csv_without_header(tmp_path, data):
    np.savetxt(tmp_path / "d.csv", data[0], delimiter=",")
    X, y = load_matrix(tmp_path / "d.csv")
    assert_allclose(X, data[0], rtol=1e-15)
    assert y is None


def test_csv_with_header_and_label_column(tmp_path, data):
    table = np.column_stack([data[0][:, :2], data[1], data[0][:, 2:]])
    np.savetxt(
        tmp_path / "d.csv", table, delimiter=",", header="a,b,Label,c,d", comments=""
    )
    X, y = load_matrix(tmp_path / "d.csv")
    assert_allclose(X, data[0], rtol=1e-15)
    assert_array_equal(y, data[1])


def test_csv_with_header_and_labels_file(tmp_path, data):
    np.savetxt(
        tmp_path / "d.csv", data[0], delimiter=",", header="a,b,c,d", comments=""
    )
    np.savetxt(tmp_path / "y.csv", data[1], fmt="%d", header="class", comments="")
    X, y = load_matrix(tmp_path / "d.csv", labels_path=tmp_path / "y.csv")
    assert X.shape == (6, 4)
    assert_array_equal(y, data[1])


def test_csv_with_bom_and_leading_blank_lines(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"\xef\xbb\xbf\n\nf1,y\r\n0.5,1\r\n1.5,0\r\n")
    X, y = load_matrix(tmp_path / "d.csv")
    assert_allclose(X, [[0.5], [1.5]])
    assert_array_equal(y, [1, 0])


def test_csv_bom_without_header(tmp_path):
    (tmp_path / "d.csv").write_bytes(b"\xef\xbb\xbf1,2\n3,4\n")
    X, y = load_matrix(tmp_path / "d.csv")
    assert_allclose(X, [[1, 2], [3, 4]])
    assert y is None


def test_integer_matrix_becomes_float64(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(12, dtype=np.int16).reshape(3, 4))
    X, _ = load_matrix(tmp_path / "x.npy")
    assert X.dtype == np.float64


# load_matrix: validation


def test_matrix_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.npy"):
        load_matrix(tmp_path / "absent.npy")


def test_matrix_unknown_extension(tmp_path):
    (tmp_path / "d.parquet").write_bytes(b"1,2\n")
    with pytest.raises(ValueError, match=r"'\.parquet'.*\.npy, \.npz, \.csv"):
        load_matrix(tmp_path / "d.parquet")


@pytest.mark.parametrize(
    "shape, hint", [((5,), "single feature"), ((2, 3, 4), "reshape(len(X), -1)")]
)
def test_matrix_not_2d(tmp_path, shape, hint):
    np.save(tmp_path / "x.npy", np.zeros(shape))
    pattern = f"{re.escape(str(shape))}.*2-D.*{re.escape(hint)}"
    with pytest.raises(ValueError, match=pattern):
        load_matrix(tmp_path / "x.npy")


def test_matrix_non_numeric_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="non-numeric data"):
        load_matrix(tmp_path / "x.npy")


def test_matrix_non_numeric_csv(tmp_path):
    (tmp_path / "d.csv").write_text("1,2\n3,four\n")
    with pytest.raises(ValueError, match="not a table of numbers"):
        load_matrix(tmp_path / "d.csv")


@pytest.mark.parametrize("text", ["a;b\n0.1;0.2\n", "0,1;0,2\n0,3;0,4\n",
                                  "0.1\t0.2\n0.3\t0.4\n"],
                         ids=["semicolons", "decimal commas", "tabs"])
def test_csv_with_other_separators_says_commas_are_expected(tmp_path, text):
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(ValueError, match="must be separated by commas"):
        load_matrix(tmp_path / "d.csv")


def test_matrix_ragged_csv(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(ValueError, match="not a table of numbers") as error:
        load_matrix(tmp_path / "d.csv")
    assert "usecols" not in str(error.value)


@pytest.mark.parametrize(
    "content", ["", "\n", "a,b,label\n"], ids=["empty", "blank", "header only"]
)
def test_matrix_empty_csv(tmp_path, content):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(ValueError, match="empty"):
        load_matrix(tmp_path / "d.csv")


@pytest.mark.parametrize("shape", [(0, 4), (4, 0)])
def test_matrix_empty_npy(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape))
    with pytest.raises(ValueError, match="is empty"):
        load_matrix(tmp_path / "x.npy")


def test_matrix_nan_and_inf_are_located(tmp_path, data):
    X = data[0].copy()
    X[2, 3] = np.nan
    X[4, 1] = np.inf
    X[5, 0] = -np.inf
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ValueError, match=r"3 NaN or infinite.*row 2, column 3"):
        load_matrix(tmp_path / "x.npy")


def test_matrix_nan_in_csv(tmp_path):
    (tmp_path / "d.csv").write_text("1,2\n3,nan\n")
    with pytest.raises(ValueError, match=r"1 NaN or infinite.*row 1, column 1"):
        load_matrix(tmp_path / "d.csv")


def test_labels_length_mismatch(tmp_path, data):
    np.save(tmp_path / "x.npy", data[0])
    np.save(tmp_path / "y.npy", data[1][:5])
    with pytest.raises(ValueError, match="5 labels but the data has 6 samples"):
        load_matrix(tmp_path / "x.npy", labels_path=tmp_path / "y.npy")


def test_labels_length_mismatch_in_npz(tmp_path, data):
    np.savez(tmp_path / "d.npz", X=data[0], y=data[1][:4])
    with pytest.raises(ValueError, match="4 labels but the data has 6"):
        load_matrix(tmp_path / "d.npz")


def test_labels_not_whole_numbers(tmp_path, data):
    np.savez(tmp_path / "d.npz", X=data[0], y=data[1] + 0.5)
    with pytest.raises(ValueError, match="whole numbers"):
        load_matrix(tmp_path / "d.npz")


def test_labels_given_twice(tmp_path, data):
    np.savez(tmp_path / "d.npz", X=data[0], y=data[1])
    np.save(tmp_path / "y.npy", data[1])
    with pytest.raises(ValueError, match="already holds labels"):
        load_matrix(tmp_path / "d.npz", labels_path=tmp_path / "y.npy")


def test_labels_file_missing(tmp_path, data):
    np.save(tmp_path / "x.npy", data[0])
    with pytest.raises(FileNotFoundError, match="labels file not found"):
        load_matrix(tmp_path / "x.npy", labels_path=tmp_path / "y.npy")


def test_npz_ambiguous_keys_are_listed(tmp_path, data):
    np.savez(tmp_path / "d.npz", first=data[0], second=data[0], y=data[1])
    with pytest.raises(ValueError, match=r"keys found: \['first', 'second', 'y'\]"):
        load_matrix(tmp_path / "d.npz")


def test_npz_labels_file_ambiguous(tmp_path, data):
    np.save(tmp_path / "x.npy", data[0])
    np.savez(tmp_path / "l.npz", a=data[1], b=data[1])
    with pytest.raises(ValueError, match=r"holds the labels; keys found: \['a', 'b'\]"):
        load_matrix(tmp_path / "x.npy", labels_path=tmp_path / "l.npz")


def test_object_array_npy_is_not_unpickled(tmp_path):
    array = np.empty((2, 2), dtype=object)
    array[:] = [[1, "a"], [None, 2.0]]
    np.save(tmp_path / "x.npy", array, allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects, which is never loaded"):
        load_matrix(tmp_path / "x.npy")


def test_object_array_npz_is_not_unpickled(tmp_path):
    array = np.empty((2, 2), dtype=object)
    np.savez(tmp_path / "d.npz", X=array)
    with pytest.raises(ValueError, match="Python objects, which is never loaded"):
        load_matrix(tmp_path / "d.npz")


def test_plain_pickle_named_npy_is_refused(tmp_path):
    (tmp_path / "x.npy").write_bytes(pickle.dumps([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="not a .npy file"):
        load_matrix(tmp_path / "x.npy")


def test_garbage_npz_is_refused_and_closed(tmp_path):
    # a zip header with nothing behind it; np.load would leave the file open
    (tmp_path / "d.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    message = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            load_matrix(tmp_path / "d.npz")
        except ValueError as error:
            message = str(error)
        # the traceback is gone here; an unclosed file would now be reported
        gc.collect()
    assert "not a readable NumPy file" in message
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, pickle.dumps([[1.0]])],
                         ids=["random bytes", "a pickle"])
def test_npz_that_is_not_a_zip_file_is_named_so(tmp_path, content):
    (tmp_path / "d.npz").write_bytes(content)
    with pytest.raises(ValueError, match=r"is not an \.npz archive"):
        load_matrix(tmp_path / "d.npz")


def test_npy_named_npz_is_refused(tmp_path):
    np.save(tmp_path / "d.npy", np.zeros((3, 2)))
    (tmp_path / "d.npy").rename(tmp_path / "d.npz")
    with pytest.raises(ValueError, match="single .npy array"):
        load_matrix(tmp_path / "d.npz")


# scale_hint


def test_scale_hint_flags_raw_pixels():
    message = scale_hint(np.array([[0, 128], [255, 3]], dtype=np.uint8))
    assert message is not None
    assert "255" in message


@pytest.mark.parametrize(
    "X", [np.zeros((2, 2)), np.full((2, 2), 5.1), np.empty((0, 3))], ids=str
)
def test_scale_hint_accepts_scaled_input(X):
    assert scale_hint(X) is None


def test_scale_hint_on_loaded_mnist(mnist):
    assert scale_hint(mnist[0]) is None
    assert scale_hint(mnist[0] * 255) is not None
