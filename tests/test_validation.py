"""Tests for numpy_dec.validation: reading --set values (the other checks are
exercised through the estimator and the loaders in test_reliability.py)."""

import pytest

from numpy_dec.validation import read_setting_value


@pytest.mark.parametrize("raw, expected", [
    # JSON
    ("0.5", 0.5), ("1e-3", 1e-3), ("3", 3), ("true", True), ("false", False),
    ("[500, 500, 2000]", (500, 500, 2000)), ('"text"', "text"), ("null", None),
    # what JSON refuses but people type
    ("True", True), ("FALSE", False), (".5", 0.5), ("5.", 5.0), ("+1", 1),
    ("-.25", -0.25),
    # anything else stays a string
    ("regression", "regression"), ("abc", "abc"), ("", ""),
])
def test_read_setting_value(raw, expected):
    value = read_setting_value(raw)
    assert value == expected
    assert type(value) is type(expected)
