"""Tests for numpy_dec.datasets: the packaged MNIST test set, MNIST folders."""

import gzip
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec import datasets
from numpy_dec.datasets import EMBEDDED_SHA256, load_mnist, scale_hint

from helpers import idx_bytes, packaged_bytes

TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


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


@pytest.mark.parametrize("second", [
    "t10k-images-idx3-ubyte.gz", "t10k-images.idx3-ubyte",
])
def test_data_dir_two_spellings_of_one_file_are_refused(tmp_path, second):
    stem = "t10k-images-idx3-ubyte"
    write_mnist_folder(tmp_path, NAMINGS["raw"])
    other = idx_bytes(np.zeros((3, 4, 4), dtype=np.uint8))
    (tmp_path / second).write_bytes(
        gzip.compress(other) if second.endswith(".gz") else other
    )
    with pytest.raises(ValueError) as info:
        load_mnist(tmp_path)
    start = f"{tmp_path} holds the MNIST file {stem} under 2 names, "
    end = "; keep one of them"
    message = str(info.value)
    assert message.startswith(start) and message.endswith(end)
    listed = message[len(start):-len(end)].split(" and ")
    assert sorted(listed) == sorted([stem, second])


def test_data_dir_folder_in_place_of_a_file(tmp_path):
    stem = "t10k-labels-idx1-ubyte"
    write_mnist_folder(tmp_path, {s: s for s in STEMS if s != stem})
    (tmp_path / stem).mkdir()
    with pytest.raises(ValueError, match=f"{stem} is a folder, not a file"):
        load_mnist(tmp_path)


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


def test_data_dir_labels_must_be_digits(tmp_path):
    write_mnist_folder(tmp_path, NAMINGS["raw"])
    labels = np.array([0, 3, 12, 1, 10], dtype=np.uint8)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(ValueError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert "train-labels-idx1-ubyte holds 2 labels above 9" in message
    assert "(the first is 12, at position 2, counting from 0)" in message
    assert "MNIST labels are the digits 0 to 9" in message


def test_data_dir_swapped_files(tmp_path):
    write_mnist_folder(tmp_path, NAMINGS["raw"])
    test_images = (tmp_path / "t10k-images-idx3-ubyte").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(test_images)
    with pytest.raises(ValueError, match="not labels"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("shape", [(0, 4, 4), (3, 0, 4)])
def test_data_dir_without_pixels(tmp_path, shape):
    write_mnist_folder(tmp_path, {s: s for s in STEMS})
    images = np.zeros(shape, dtype=np.uint8)
    (tmp_path / STEMS[0]).write_bytes(idx_bytes(images))
    (tmp_path / STEMS[1]).write_bytes(idx_bytes(np.zeros(shape[0], np.uint8)))
    with pytest.raises(ValueError, match="holds no pixels"):
        load_mnist(tmp_path)


def test_data_dir_image_size_mismatch(tmp_path):
    write_mnist_folder(tmp_path, NAMINGS["raw"])
    small = idx_bytes(np.zeros((3, 2, 2), dtype=np.uint8))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(small)
    with pytest.raises(ValueError, match="same image size"):
        load_mnist(tmp_path)


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
