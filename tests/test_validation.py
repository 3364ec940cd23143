"""Tests for numpy_dec.validation: reading --set values and the sigmoid-range
message (the other checks are exercised through the estimator and the loaders
in test_reliability.py)."""

import numpy as np
import pytest

from numpy_dec.validation import output_range_message, read_setting_value


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


# output_range_message


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, 5.1), (-0.5, 0.5)])
def test_sigmoid_output_outside_its_range_is_named(low, high):
    X = np.array([[low, 0.5], [0.25, high]])
    message = output_range_message(X, "sigmoid")
    assert message.startswith(f"the input spans [{low:g}, {high:g}]")
    assert "output_activation='linear'" in message


@pytest.mark.parametrize("X, activation", [
    (np.array([[0.0, 1.0], [0.5, 0.25]]), "sigmoid"),
    (np.array([[0.0, 1.0 + 1e-7]]), "sigmoid"),
    (np.array([[-1.0, 5.1]]), "linear"),
    (np.array([[0.0, 255.0]]), "sigmoid"),  # check_array's scale warning says it
])
def test_output_range_message_is_quiet_otherwise(X, activation):
    assert output_range_message(X, activation) is None
