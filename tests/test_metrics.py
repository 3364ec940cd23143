"""Tests for numpy_dec.metrics against values computed by hand."""

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from numpy_dec.metrics import (
    adjusted_rand_index,
    cluster_accuracy,
    contingency_matrix,
    normalized_mutual_info,
)

# Two classes of three points, split into three clusters of two:
#
#              cluster 0  cluster 1  cluster 2 | a_r
#   class 0        2          1          0     |  3
#   class 1        0          1          2     |  3
#   -------------------------------------------+----
#   b_c            2          2          2     |  N = 6
Y_TRUE = [0, 0, 0, 1, 1, 1]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_contingency_matrix_by_hand():
    table = contingency_matrix(Y_TRUE, Y_PRED)
    assert_array_equal(table, [[2, 1, 0], [0, 1, 2]])
    assert table.dtype == np.int64


def test_contingency_matrix_orders_arbitrary_labels_by_value():
    # classes sorted (-3, 10), clusters sorted (7, 100):
    #   class -3: cluster 7 -> 0, cluster 100 -> 2
    #   class 10: cluster 7 -> 1, cluster 100 -> 1
    y_true = [10, -3, -3, 10]
    y_pred = [7, 100, 100, 100]
    assert_array_equal(contingency_matrix(y_true, y_pred), [[0, 2], [1, 1]])


def test_accuracy_more_clusters_than_classes():
    # Best matching on the table above: class 0 -> cluster 0 (2 points), class 1
    # -> cluster 2 (2 points); cluster 1 is unmatched, its 2 points are wrong.
    # acc = 4 / 6.
    assert cluster_accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6, rel=1e-15)


def test_accuracy_more_classes_than_clusters():
    #              cluster 5  cluster 7
    #   class 0        1          0
    #   class 1        1          0
    #   class 2        0          2
    # Matching: class 0 (or 1) -> cluster 5 (1 point), class 2 -> cluster 7
    # (2 points); acc = 3 / 4.
    assert cluster_accuracy([0, 1, 2, 2], [5, 5, 7, 7]) == pytest.approx(0.75)


def test_permuted_labels_are_perfect():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, size=200)
    renaming = np.array([40, -1, 7, 3, 12])
    y_pred = renaming[y_true]
    assert cluster_accuracy(y_true, y_pred) == 1.0
    assert normalized_mutual_info(y_true, y_pred) == pytest.approx(1.0, abs=1e-12)
    assert adjusted_rand_index(y_true, y_pred) == pytest.approx(1.0, abs=1e-12)


def test_nmi_by_hand():
    # From the table above: H(true) = log 2, H(pred) = log 3.
    # I = sum_rc (n_rc / N) log(N n_rc / (a_r b_c)):
    #   cells with n = 2: 2 * (2/6) log(6 * 2 / (3 * 2)) = (2/3) log 2
    #   cells with n = 1: 2 * (1/6) log(6 * 1 / (3 * 2)) = 0
    # NMI = (2/3) log 2 / ((log 2 + log 3) / 2) = 4 log 2 / (3 log 6) = 0.51580...
    expected = 4 * math.log(2) / (3 * math.log(6))
    assert normalized_mutual_info(Y_TRUE, Y_PRED) == pytest.approx(expected, rel=1e-12)


def test_nmi_second_example_by_hand():
    # y_true = (0, 0, 1, 1), y_pred = (0, 0, 1, 2):
    #              cluster 0  cluster 1  cluster 2 | a_r
    #   class 0        2          0          0     |  2
    #   class 1        0          1          1     |  2
    # H(true) = log 2, H(pred) = -(1/2 log 1/2 + 2 (1/4) log 1/4) = 1.5 log 2,
    # I = (2/4) log(4*2/(2*2)) + 2 (1/4) log(4*1/(2*1)) = log 2,
    # NMI = log 2 / (2.5 log 2 / 2) = 0.8.
    assert normalized_mutual_info([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(0.8)


def test_ari_by_hand():
    # From the table above, with C(n) = n (n - 1) / 2:
    #   index = C(2) + C(1) + C(1) + C(2) = 2, A = 2 C(3) = 6, B = 3 C(2) = 3,
    #   C(N) = C(6) = 15, expected = 6 * 3 / 15 = 1.2, maximum = (6 + 3) / 2 = 4.5,
    #   ARI = (2 - 1.2) / (4.5 - 1.2) = 8 / 33.
    assert adjusted_rand_index(Y_TRUE, Y_PRED) == pytest.approx(8 / 33, rel=1e-12)


def test_ari_second_example_by_hand():
    # y_true = (0, 0, 1, 1), y_pred = (0, 0, 1, 2), table [[2, 0, 0], [0, 1, 1]]:
    #   index = 1, A = 1 + 1 = 2, B = 1, C(4) = 6, expected = 2 / 6 = 1/3,
    #   maximum = 1.5, ARI = (1 - 1/3) / (1.5 - 1/3) = 4 / 7.
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)


def test_single_cluster_against_two_classes():
    # Table [[2], [2]]: acc = 2 / 4; I = 0 so NMI = 0;
    # index = 2, A = 2, B = C(4) = 6, expected = 2 * 6 / 6 = 2, maximum = 4,
    # ARI = (2 - 2) / (4 - 2) = 0.
    y_true, y_pred = [0, 0, 1, 1], [3, 3, 3, 3]
    assert cluster_accuracy(y_true, y_pred) == 0.5
    assert normalized_mutual_info(y_true, y_pred) == 0.0
    assert adjusted_rand_index(y_true, y_pred) == 0.0


@pytest.mark.parametrize(
    "y_true, y_pred",
    [
        ([4, 4, 4], [9, 9, 9]),  # one cluster on both sides: 0 / 0 cases
        ([0, 1, 2], [2, 0, 1]),  # all singletons: ARI's 0 / 0 case
        ([5], [8]),  # a single point
    ],
)
def test_identical_partitions_score_one(y_true, y_pred):
    assert cluster_accuracy(y_true, y_pred) == 1.0
    assert normalized_mutual_info(y_true, y_pred) == pytest.approx(1.0)
    assert adjusted_rand_index(y_true, y_pred) == 1.0


def test_arbitrary_label_values():
    # Same partition as Y_TRUE / Y_PRED under other names.
    y_true = [-7, -7, -7, 1000, 1000, 1000]
    y_pred = [3, 3, -2, -2, 50, 50]
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert normalized_mutual_info(y_true, y_pred) == pytest.approx(
        normalized_mutual_info(Y_TRUE, Y_PRED), rel=1e-14
    )
    assert adjusted_rand_index(y_true, y_pred) == pytest.approx(8 / 33)


def test_integral_float_labels_are_accepted():
    assert cluster_accuracy(np.array(Y_TRUE, float), Y_PRED) == pytest.approx(4 / 6)


@pytest.mark.parametrize(
    "metric",
    [cluster_accuracy, normalized_mutual_info, adjusted_rand_index, contingency_matrix],
)
def test_validation(metric):
    with pytest.raises(ValueError, match="entries"):
        metric([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="1-D"):
        metric([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="1-D"):
        metric([0, 1], [[0, 1]])
    with pytest.raises(TypeError, match="integers"):
        metric([0.5, 1.0], [0, 1])
