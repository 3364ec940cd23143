"""Reliability of the estimator: validation, numerics, warnings, reproducibility.

Every check runs on small synthetic data and a tiny network, so a whole fit
takes a fraction of a second. Checkpoints and resuming are in
tests/test_checkpoint.py, the command line in tests/test_cli.py.
"""

import random
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec import datasets, validation
from numpy_dec.dec import DEC, dec_step
from numpy_dec.formulas import kl_divergence, soft_assignment, target_distribution
from numpy_dec.optim import SGD
from numpy_dec.storage import StorageError
from numpy_dec.validation import check_array, check_labels

from helpers import blobs

TINY = dict(hidden_sizes=(8, 8), embedding_size=3, pretrain_epochs=2,
            finetune_epochs=3, kmeans_n_init=2, max_iter=40, update_interval=10,
            batch_size=16)


def fit(X, n_clusters=3, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return DEC(n_clusters=n_clusters, **{**TINY, **kwargs}).fit(X)


def assert_finite_fit(model, X):
    Q = model.predict_proba(X)
    assert np.isfinite(Q).all() and (Q >= 0).all()
    assert_allclose(Q.sum(axis=1), 1.0, rtol=1e-5)
    assert np.isfinite(model.cluster_centers_).all()
    assert model.labels_.shape == (len(X),)
    losses = [x for pair in model.history_["pretrain"] for x in pair]
    losses += model.history_["finetune"] + [r["kl_per_point"] for r in
                                            model.history_["dec"]]
    assert np.isfinite(losses).all()


# validation at the entry points, before any work


BAD_X = [
    (np.zeros(10), ValueError, r"2-D.*reshape\(-1, 1\)"),
    (np.zeros((3, 28, 28)), ValueError, r"flattened with X.reshape\(len\(X\), -1\)"),
    (np.zeros((3, 1, 4, 4)), ValueError, r"\(3, 16\)"),
    (np.zeros((0, 4)), ValueError, "empty"),
    (np.zeros((4, 0)), ValueError, "empty"),
    (np.array([[0.5, np.nan]] * 12), ValueError, "12 NaN or infinite.*row 0, column 1"),
    (np.array([[0.5, 0.1]] * 11 + [[np.inf, 0.0]]), ValueError, "row 11, column 0"),
    (np.full((12, 2), 1e39), ValueError, "too large for float32"),
    (np.full((12, 784), 1e30, dtype=np.float32), ValueError,
     r"values up to 1e\+30: squared distances .* overflow float32"),
    (np.full((12, 2), -1e30), ValueError, "values up to 1e\\+30"),
    (np.array([["a", "b"]] * 12), TypeError, "numbers"),
    (np.ones((12, 2), dtype=complex), TypeError, "real"),
    (np.array([[object()]] * 12), TypeError, "numbers"),
]


@pytest.mark.parametrize("X, error, match", BAD_X, ids=lambda x: getattr(x, "shape", x))
def test_fit_rejects_bad_X_before_building_anything(monkeypatch, X, error, match):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was built before the input was checked")

    monkeypatch.setattr("numpy_dec.dec.StackedDenoisingAutoencoder", no_network)
    with pytest.raises(error, match=match):
        DEC(n_clusters=2).fit(X)


BAD_SETTINGS = [
    ("n_clusters", 0, ValueError), ("n_clusters", 61, ValueError),
    ("n_clusters", 2.5, TypeError), ("n_clusters", True, TypeError),
    ("preset", "nope", ValueError), ("hidden_sizes", 5, TypeError),
    ("hidden_sizes", (8, 0), ValueError), ("hidden_sizes", (8.0,), TypeError),
    ("embedding_size", 0, ValueError), ("hidden_activation", "tanh", ValueError),
    ("output_activation", 3, ValueError), ("drop_prob", 1.0, ValueError),
    ("drop_prob", -0.1, ValueError), ("drop_prob", "0.2", TypeError),
    ("update_interval", 0, ValueError), ("update_interval", 2.5, TypeError),
    ("update_interval", True, TypeError), ("max_iter", 0, ValueError),
    ("batch_size", 0, ValueError), ("kmeans_n_init", 0, ValueError),
    ("pretrain_epochs", -1, ValueError), ("finetune_epochs", 1.5, TypeError),
    ("pretrain_lr_step", -1, ValueError), ("alpha", 0.0, ValueError),
    ("alpha", float("nan"), ValueError), ("eta0", float("inf"), ValueError),
    ("dec_lr", -1.0, ValueError), ("input_scale", 0, ValueError),
    ("dec_momentum", 1.0, ValueError), ("weight_decay", -1e-3, ValueError),
    ("tol", -0.1, ValueError), ("tol", 2.0, ValueError),
    ("init", "uniform", ValueError),
    ("dtype", "float16", ValueError), ("pretrain_optimizer", "rmsprop", ValueError),
    ("dec_method", "sideways", ValueError), ("random_state", -1, ValueError),
    ("random_state", 1.5, TypeError),
]


@pytest.mark.parametrize("name, value, error", BAD_SETTINGS)
def test_fit_rejects_bad_settings_before_building_anything(monkeypatch, name, value,
                                                           error):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was built before the settings were checked")

    monkeypatch.setattr("numpy_dec.dec.StackedDenoisingAutoencoder", no_network)
    with pytest.raises(error, match=name if name != "preset" else "preset"):
        DEC(**{"n_clusters": 3, name: value}).fit(blobs())


def test_unknown_keywords():
    with pytest.raises(TypeError):
        DEC(bogus=1)
    with pytest.raises(ValueError, match="unknown parameter"):
        DEC().set_params(bogus=1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(checkpoint_every=0), "checkpoint_every"),
    (dict(checkpoint_every=1.5), "checkpoint_every"),
    (dict(resume=True), "checkpoint_dir"),
])
def test_fit_rejects_bad_checkpoint_options(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        DEC(n_clusters=3).fit(blobs(), **kwargs)


def test_predict_with_another_number_of_features():
    model = fit(blobs())
    with pytest.raises(ValueError, match="X has 5 features, but DEC was fitted with 6"):
        model.predict(np.zeros((4, 5), dtype=np.float32))


def test_labels_of_the_wrong_length():
    with pytest.raises(ValueError, match="3 entries but the data has 4 samples"):
        check_labels(np.arange(3), 4)


def test_one_scale_threshold_for_estimator_and_loaders():
    assert datasets.scale_hint is validation.scale_hint
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_array(np.full((3, 2), 5.1))  # the paper's scale: no warning
    with pytest.warns(RuntimeWarning, match="scale it to about"):
        check_array(np.full((3, 2), 255.0))


# numerics: no NaN or inf in float32 or float64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["one cluster", "one per point", "duplicates"])
def test_edge_cases_stay_finite(dtype, case):
    X = blobs(n=24, dtype=dtype)
    n_clusters = {"one cluster": 1, "one per point": len(X)}.get(case, 3)
    if case == "duplicates":
        X[12:] = X[:12]
    model = fit(X, n_clusters=n_clusters, dtype=dtype)
    assert model.predict_proba(X).dtype == np.dtype(dtype)
    assert_finite_fit(model, X)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("preset", ["spec", "paper"])
def test_unscaled_pixels_warn_and_stay_finite(dtype, preset):
    X = np.round(blobs(n=24, dtype=dtype) * 255)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = DEC(n_clusters=3, preset=preset, dtype=dtype, **TINY).fit(X)
        assert_finite_fit(model, X)
    assert any("scale it to about [0, 1] first" in str(w.message) for w in record)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identical_points_warn_and_stay_finite(dtype):
    X = np.full((20, 6), 0.5, dtype=dtype)
    with pytest.warns(RuntimeWarning) as record:
        model = DEC(n_clusters=3, dtype=dtype, **TINY).fit(X)
    messages = " ".join(str(w.message) for w in record)
    assert "embedding has collapsed" in messages
    assert "only 1 distinct centroids for n_clusters=3" in messages
    assert_finite_fit(model, X)


def _encoder(dtype):
    model = DEC(n_clusters=2, dtype=dtype, **TINY)
    s = model.settings()
    model._build(6, s, np.random.default_rng(0))
    return model.autoencoder_.encoder


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["far centroid", "identical centroids",
                                  "one-hot target"])
def test_dec_step_stays_finite(dtype, case):
    encoder = _encoder(dtype)
    X = blobs(n=16, dtype=dtype)
    Z = encoder.forward(X)
    C = Z[:3].copy()
    alpha = 10.0
    if case == "far centroid":
        C[2] += 1e30
    elif case == "identical centroids":
        C[1] = C[0]
    Q = soft_assignment(Z, C, alpha)
    P = target_distribution(Q)
    if case == "one-hot target":
        P = np.eye(3, dtype=dtype)[Q.argmax(axis=1)]
    if case == "far centroid":
        # the far centroid's kernel underflows: q = 0 and f_j = 0, so p = 0
        assert (Q[:, 2] == 0).all() and (P[:, 2] == 0).all()
    new_C, kl = dec_step(encoder, SGD(encoder.parameters(), momentum=0.9), X, P, C,
                         eta=1.0, lr=0.01, alpha=alpha)
    assert np.isfinite(new_C).all() and np.isfinite(kl) and kl >= 0
    for layer, key in encoder.parameters():
        assert np.isfinite(layer.params[key]).all()


def test_log_of_zero_is_never_taken():
    P = np.array([[1.0, 0.0], [0.5, 0.5]])
    Q = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert np.isfinite(kl_divergence(P, Q))
    assert kl_divergence(P, P) == 0.0


# warnings


def test_warns_when_max_iter_stops_dec_before_tol():
    with pytest.warns(RuntimeWarning, match="DEC stopped at max_iter=40 before"):
        model = DEC(n_clusters=3, tol=0.0, **TINY).fit(blobs())
    assert model.history_["converged"] is False
    assert model.history_["dec"][-1]["iteration"] == 40


def test_no_warning_when_dec_converges():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = DEC(n_clusters=3, tol=1.0, **TINY).fit(blobs())
    assert model.history_["converged"] is True
    assert not [w for w in record if "max_iter" in str(w.message)]


def test_centroids_move_during_dec():
    seen = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # the paper's kernel and steps scaled to this tiny network: the spec
        # preset's encoder rate is tuned for batches of 256 in 10 dimensions
        model = DEC(n_clusters=3, tol=0.0, alpha=1.0, eta0=1.0, dec_lr=0.01,
                    **TINY).fit(
            blobs(), callback=lambda it, Z, C: seen.setdefault(it, C.copy())
        )
    assert sorted(seen) == [0, 10, 20, 30, 40]
    assert_array_equal(seen[40], model.cluster_centers_)
    updates = sorted(seen)
    moves = [np.abs(seen[b] - seen[a]).max() for a, b in zip(updates, updates[1:])]
    assert min(moves) > 0


# reproducibility


def _all_outputs(model, X):
    history = {k: v for k, v in model.history_.items() if k != "seconds"}
    params = [p.copy() for _, layer, key in
              model.autoencoder_.autoencoder.named_parameters()
              for p in [layer.params[key]]]
    return (model.labels_, model.kmeans_labels_, model.cluster_centers_,
            model.predict_proba(X), history, params)


def test_same_random_state_is_bit_identical_whatever_the_global_state():
    X = blobs()
    np.random.seed(1)
    random.seed(1)
    first = _all_outputs(fit(X, random_state=7), X)
    np.random.seed(2)
    random.seed(2)
    second = _all_outputs(fit(X, random_state=7), X)
    for a, b in zip(first[:4], second[:4]):
        assert_array_equal(a, b)
    assert first[4] == second[4]
    for a, b in zip(first[5], second[5]):
        assert_array_equal(a, b)


def test_fit_leaves_the_global_generators_alone():
    before_np, before_py = np.random.get_state(), random.getstate()
    fit(blobs())
    after_np = np.random.get_state()
    assert before_np[0] == after_np[0] and np.array_equal(before_np[1], after_np[1])
    assert random.getstate() == before_py


def test_another_random_state_changes_the_weights_and_dropout():
    X = blobs()
    a, b = fit(X, random_state=0), fit(X, random_state=1)
    assert a.history_["pretrain"] != b.history_["pretrain"]
    first_a = a.autoencoder_.encoder.layers[0].params["W"]
    first_b = b.autoencoder_.encoder.layers[0].params["W"]
    assert not np.array_equal(first_a, first_b)


# saved models


def test_save_load_round_trip_with_numpy_scalars(tmp_path):
    X = blobs()
    model = fit(X, n_clusters=np.int64(3), alpha=np.float32(1.0),
                hidden_sizes=[np.int64(8), 8])
    model.save(tmp_path / "model.npz")
    loaded = DEC.load(tmp_path / "model.npz")
    assert_array_equal(loaded.predict(X), model.predict(X))
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.get_params()["hidden_sizes"] == (8, 8)


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(cluster_centers=a["cluster_centers"][:2]), "cluster_centers"),
    (lambda a: a.update({"ae.0.W": a["ae.0.W"].astype(np.float64)}), r"ae\.0\.W"),
    (lambda a: a.pop("ae.0.b"), r"missing \['ae\.0\.b'\]"),
    (lambda a: a.update(header=np.array('{"format_version": 99}')), "format 99"),
    (lambda a: a.update(header=np.array("[1, 2]")), "not a JSON object"),
])
def test_load_rejects_inconsistent_models(tmp_path, change, match):
    fit(blobs()).save(tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz") as archive:
        arrays = dict(archive)
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(StorageError, match=match):
        DEC.load(tmp_path / "bad.npz")


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        DEC.load(tmp_path / "nothing.npz")
