"""Tests for numpy_dec.matrix_files: a user's matrix from .npy, .npz or .csv."""

import gc
import io
import math
import pickle
import re
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec.matrix_files import load_matrix


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


@pytest.mark.parametrize("first", ["0.1,abc,0.3", "NA,0.2,0.3"])
def test_csv_first_row_with_a_bad_value_is_not_taken_for_a_header(tmp_path, first):
    (tmp_path / "d.csv").write_text(first + "\n" + "0.4,0.5,0.6\n" * 5)
    with pytest.raises(ValueError, match="line 1, field .* is not a number.*"
                       "a header row must name every column"):
        load_matrix(tmp_path / "d.csv")


@pytest.mark.parametrize("name", ["label", "Labels", "y"])
def test_csv_label_column_names(tmp_path, name):
    (tmp_path / "d.csv").write_text(f"a,{name}\n0.5,1\n1.5,0\n")
    X, y = load_matrix(tmp_path / "d.csv")
    assert_allclose(X, [[0.5], [1.5]])
    assert_array_equal(y, [1, 0])


@pytest.mark.parametrize("keys, role", [
    (("X", "x"), "data"), (("y", "labels"), "labels"),
])
def test_npz_with_two_keys_for_one_role_is_refused(tmp_path, data, keys, role):
    arrays = {"X": data[0], "y": data[1]}
    arrays.update({key: arrays["X" if role == "data" else "y"] for key in keys})
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(ValueError, match=f"2 arrays that may be the {role}"):
        load_matrix(tmp_path / "d.npz")


def test_csv_line_of_spaces_is_named(tmp_path):
    (tmp_path / "d.csv").write_text("1,2\n3,4\n   \n5,6\n")
    with pytest.raises(ValueError, match="line 3, field 1: '' is not a number"):
        load_matrix(tmp_path / "d.csv")


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


@pytest.mark.parametrize("text, where", [
    ("1,2\n3,four\n", "line 2, field 2: 'four' is not a number"),
    # lines as an editor counts them: the header and blank lines included
    ("a,b,c\n1,2,3\n\n4,5,oops\n", "line 4, field 3: 'oops' is not a number"),
    ("a,b,c\n1,2,3\n4,,6\n", "line 3, field 2: '' is not a number"),
])
def test_matrix_non_numeric_csv(tmp_path, text, where):
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(ValueError, match="not a table of numbers") as error:
        load_matrix(tmp_path / "d.csv")
    assert where in str(error.value)


@pytest.mark.parametrize("text", ["a;b\n0.1;0.2\n", "0,1;0,2\n0,3;0,4\n",
                                  "0.1\t0.2\n0.3\t0.4\n"],
                         ids=["semicolons", "decimal commas", "tabs"])
def test_csv_with_other_separators_says_commas_are_expected(tmp_path, text):
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(ValueError, match="must be separated by commas"):
        load_matrix(tmp_path / "d.csv")


def test_matrix_ragged_csv(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8\n")
    with pytest.raises(ValueError, match="not a table of numbers") as error:
        load_matrix(tmp_path / "d.csv")
    assert "line 4 has 2 fields, the lines before it 3" in str(error.value)
    assert "usecols" not in str(error.value)


@pytest.mark.parametrize("content", ["", "\n"], ids=["empty", "blank"])
def test_matrix_empty_csv(tmp_path, content):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(ValueError, match="empty"):
        load_matrix(tmp_path / "d.csv")


@pytest.mark.parametrize("content", ["a,b,c", "a,b,label\n\n"])
def test_csv_header_without_rows(tmp_path, content):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(ValueError) as error:
        load_matrix(tmp_path / "d.csv")
    assert str(error.value) == (
        f"{tmp_path / 'd.csv'} holds a header of 3 columns but no data rows; "
        "expected comma-separated numbers below it"
    )


def test_csv_of_labels_only(tmp_path):
    (tmp_path / "d.csv").write_text("label\n1\n2\n")
    with pytest.raises(ValueError, match="holds only the label column 'label'; "
                                         "expected feature columns beside it"):
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


def test_npz_named_npy_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)))
    (tmp_path / "d.npz").rename(tmp_path / "d.npy")
    with pytest.raises(ValueError, match=r"looks like an \.npz archive.*"
                       r"give it the \.npz extension"):
        load_matrix(tmp_path / "d.npy")


def test_empty_zip_named_npy_is_refused(tmp_path):
    zipfile.ZipFile(tmp_path / "d.npy", "w").close()
    with pytest.raises(ValueError, match=r"looks like an \.npz archive"):
        load_matrix(tmp_path / "d.npy")


# load_matrix: headers that disagree with the data behind them


def npy_bytes(shape: tuple, data: np.ndarray) -> bytes:
    """A .npy header claiming ``shape`` in front of the bytes of ``data``."""
    descr = np.lib.format.dtype_to_descr(data.dtype)
    header = {"shape": shape, "fortran_order": False, "descr": descr}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data.tobytes()


def traced_peak(function, *args) -> tuple:
    """Peak bytes traced while function runs, and the ValueError it raised."""
    tracemalloc.start()
    try:
        function(*args)
        error = None
    except ValueError as caught:
        error = caught
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


# 1000 float32 values, 4,000 bytes, behind headers claiming 3 GB and 37 GiB
HUGE_SHAPES = [(10**6, 784), (10**9, 10)]


@pytest.mark.parametrize("shape", HUGE_SHAPES, ids=str)
def test_npy_header_claiming_a_huge_shape_is_refused_unread(tmp_path, shape):
    path = tmp_path / "x.npy"
    path.write_bytes(npy_bytes(shape, np.zeros(1000, np.float32)))
    peak, error = traced_peak(load_matrix, path)
    assert isinstance(error, ValueError)
    assert str(error) == (
        f"{path} is truncated: its header promises shape {shape}, dtype "
        f"float32, {4 * math.prod(shape)} data bytes, but only 4000 follow"
    )
    assert peak < 1_000_000


@pytest.mark.parametrize("shape", HUGE_SHAPES, ids=str)
def test_npz_member_claiming_a_huge_shape_is_refused_unread(tmp_path, shape):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", npy_bytes(shape, np.zeros(1000, np.float32)))
    peak, error = traced_peak(load_matrix, path)
    assert isinstance(error, ValueError)
    assert str(error).startswith(
        f"{path} (array 'X') is truncated: its header promises shape {shape}"
    )
    assert str(error).endswith("but only 4000 follow")
    assert peak < 1_000_000


def test_npz_member_longer_than_its_header_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X.npy", npy_bytes((2, 3), np.zeros(8, np.float64)))
    expected = (
        "(array 'X') has 16 bytes more than its header promises (shape (2, 3), "
        "dtype float64, 48 data bytes)"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_matrix(path)


def test_npz_member_that_is_not_an_array_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("X", b"some text")
    with pytest.raises(ValueError, match=r"\(array 'X'\) is not a readable NumPy"):
        load_matrix(path)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_good_file_is_read_without_a_second_copy(tmp_path, suffix):
    X = np.random.default_rng(0).normal(size=(1000, 500))
    path = tmp_path / f"x{suffix}"
    if suffix == ".npy":
        np.save(path, X)
    else:
        np.savez(path, X=X)
    peak, error = traced_peak(load_matrix, path)
    assert error is None
    # the array itself, plus the bool mask of the finiteness check
    assert peak < 1.25 * X.nbytes
