import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from numpy_dec import DEC
from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.datasets import load_mnist
from numpy_dec.dec import dec_step
from numpy_dec.formulas import soft_assignment, target_distribution
from numpy_dec.metrics import cluster_accuracy
from numpy_dec.optim import SGD

# a small network and budget so that a whole fit takes a few seconds
SMALL = dict(
    hidden_sizes=(64, 64, 128), pretrain_epochs=10, finetune_epochs=40,
    pretrain_lr=3e-3, finetune_lr=3e-3, kmeans_n_init=5, max_iter=150,
    update_interval=20, alpha=0.1, eta0=1e-3, dec_lr=10.0,
)


@pytest.fixture(scope="module")
def mnist_subset():
    X, y = load_mnist()
    return X[:1000], y[:1000]


@pytest.fixture(scope="module")
def fitted(mnist_subset):
    X, _ = mnist_subset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return DEC(n_clusters=10, random_state=0, **SMALL).fit(X)


def _encoder(seed):
    rng = np.random.default_rng(seed)
    return StackedDenoisingAutoencoder((8, 6, 4), rng, dtype=np.float64).encoder


@pytest.mark.parametrize("eta", [0.5, 3.0])
def test_regression_step_equals_direct_step(eta):
    # MSE over N*E elements: dMSE/dz = 2 eta g / (N E), so the direct step
    # needs the learning rate lr * 2 eta / (N E) to move the same way
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(16, 8))
    regression, direct = _encoder(1), _encoder(1)
    C = regression.forward(X)[:3].copy()
    P = target_distribution(soft_assignment(regression.forward(X), C) + 0.05)
    P /= P.sum(axis=1, keepdims=True)
    lr = 50.0
    N, E = X.shape[0], C.shape[1]

    C_reg, _ = dec_step(regression, SGD(regression.parameters()), X, P, C, eta,
                        lr, 1.0, "regression")
    C_dir, _ = dec_step(direct, SGD(direct.parameters()), X, P, C, eta,
                        lr * 2 * eta / (N * E), 1.0, "direct")

    assert_allclose(C_reg, C_dir, rtol=0, atol=1e-12)
    start = _encoder(1)
    for (layer_r, key), (layer_d, _), (layer_0, _) in zip(
        regression.parameters(), direct.parameters(), start.parameters()
    ):
        assert_allclose(layer_r.params[key], layer_d.params[key], rtol=0, atol=1e-10)
        # the step really moved the parameters, so the comparison means something
        assert np.abs(layer_r.params[key] - layer_0.params[key]).max() > 1e-6


def test_dec_step_does_not_modify_centroids_in_place():
    rng = np.random.default_rng(1)
    encoder = _encoder(2)
    X = rng.uniform(size=(10, 8))
    C = encoder.forward(X)[:2].copy()
    before = C.copy()
    P = np.full((10, 2), 0.5)
    dec_step(encoder, SGD(encoder.parameters()), X, P, C, 1.0, 0.1, 1.0)
    assert_array_equal(C, before)


def test_unknown_dec_method():
    encoder = _encoder(3)
    X = np.zeros((4, 8))
    with pytest.raises(ValueError, match="DEC method"):
        dec_step(encoder, SGD(encoder.parameters()), X, np.full((4, 2), 0.5),
                 np.zeros((2, 4)), 1.0, 0.1, 1.0, "sideways")


def test_fit_well_above_chance(fitted, mnist_subset):
    _, y = mnist_subset
    # chance for 10 balanced classes is about 0.11
    assert cluster_accuracy(y, fitted.labels_) > 0.35
    assert cluster_accuracy(y, fitted.kmeans_labels_) > 0.35


def test_fitted_attributes(fitted, mnist_subset):
    X, _ = mnist_subset
    assert fitted.cluster_centers_.shape == (10, 10)
    assert fitted.labels_.shape == (1000,)
    assert fitted.n_features_in_ == 784
    history = fitted.history_
    assert len(history["pretrain"]) == 4
    assert len(history["finetune"]) == SMALL["finetune_epochs"]
    assert history["dec"][0]["iteration"] == 0
    assert set(history["seconds"]) == {"pretrain", "finetune", "kmeans_embedding",
                                       "dec"}
    Q = fitted.predict_proba(X)
    assert_allclose(Q.sum(axis=1), 1.0, rtol=1e-5)
    assert_array_equal(fitted.predict(X), Q.argmax(axis=1))
    assert_array_equal(fitted.predict(X), fitted.labels_)
    assert fitted.transform(X).shape == (1000, 10)


def test_same_seed_same_result(fitted, mnist_subset):
    X, _ = mnist_subset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        again = DEC(n_clusters=10, random_state=0, **SMALL).fit(X)
    assert_array_equal(again.labels_, fitted.labels_)
    assert_array_equal(again.cluster_centers_, fitted.cluster_centers_)
    assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))


def test_save_and_load_round_trip(fitted, mnist_subset, tmp_path):
    X, _ = mnist_subset
    path = tmp_path / "model.npz"
    fitted.save(path)
    loaded = DEC.load(path)
    assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert loaded.get_params() == fitted.get_params()


@pytest.mark.parametrize("change", [
    dict(n_clusters=5), dict(alpha=0.5), dict(dtype="float64"),
    dict(hidden_sizes=(7,)), dict(embedding_activation="linear"),
    dict(preset="paper"),
])
def test_set_params_after_fit_changes_neither_predictions_nor_the_saved_model(
        fitted, mnist_subset, tmp_path, change):
    X, _ = mnist_subset
    model = copy.deepcopy(fitted)
    before = model.predict_proba(X[:50])
    model.set_params(**change)

    # the fitted model predicts as before; the new keywords await the next fit
    assert_array_equal(model.predict_proba(X[:50]), before)
    assert model.fitted_settings() == fitted.settings()
    assert model.get_params()[next(iter(change))] == next(iter(change.values()))

    # and save writes the model that was trained, which loads and agrees
    model.save(tmp_path / "model.npz")
    loaded = DEC.load(tmp_path / "model.npz")
    assert_array_equal(loaded.predict_proba(X[:50]), before)
    assert loaded.get_params() == fitted.get_params()


def test_fitted_settings_needs_a_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        DEC().fitted_settings()


def test_load_of_another_archive_of_numpy_dec_says_it_is_no_model(tmp_path):
    from numpy_dec.storage import save_archive

    # a run folder's k-means baseline is such an archive
    save_archive(tmp_path / "kmeans_pixels.npz", {"seconds": 1.0},
                 {"labels": np.zeros(3, dtype=np.int64)})
    with pytest.raises(ValueError, match="is not a numpy_dec model: its header"):
        DEC.load(tmp_path / "kmeans_pixels.npz")


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a numpy_dec model"):
        DEC.load(path)


def test_get_and_set_params():
    model = DEC(n_clusters=4, alpha=0.5)
    params = model.get_params()
    assert params["n_clusters"] == 4 and params["alpha"] == 0.5
    assert params["eta0"] is None
    assert model.settings()["alpha"] == 0.5
    model.set_params(alpha=2.0, preset="paper")
    assert model.settings()["embedding_activation"] == "linear"
    assert model.settings()["alpha"] == 2.0
    with pytest.raises(ValueError, match="unknown parameter"):
        model.set_params(bogus=1)
    clone = DEC(**copy.deepcopy(model.get_params()))
    assert clone.get_params() == model.get_params()


def test_predict_before_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        DEC().predict(np.zeros((2, 3)))


def test_predict_with_wrong_number_of_features(fitted):
    with pytest.raises(ValueError, match="features"):
        fitted.predict(np.zeros((3, 5), dtype=np.float32))


def test_predict_on_one_sample_as_a_vector_suggests_both_reshapes(fitted):
    with pytest.raises(ValueError, match=r"X\.reshape\(1, -1\) if it is a single "
                                         r"sample, or with X\.reshape\(-1, 1\)"):
        fitted.predict(np.zeros(fitted.n_features_in_, dtype=np.float32))


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros(10), "2-D"),
        (np.zeros((3, 28, 28)), "flatten"),
        (np.zeros((0, 4)), "empty"),
        (np.array([[1.0, np.nan]] * 12), "NaN"),
    ],
)
def test_fit_rejects_bad_X(X, match):
    with pytest.raises(ValueError, match=match):
        DEC(n_clusters=2).fit(X)


def test_fit_rejects_non_numeric_X():
    with pytest.raises(TypeError, match="numbers"):
        DEC(n_clusters=2).fit(np.array([["a", "b"], ["c", "d"]]))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n_clusters=0), ValueError),
        (dict(n_clusters=50), ValueError),
        (dict(n_clusters=2.5), TypeError),
        (dict(n_clusters=2, drop_prob=1.0), ValueError),
        (dict(n_clusters=2, update_interval=0), ValueError),
        (dict(n_clusters=2, update_interval=2.5), TypeError),
        (dict(n_clusters=2, dec_method="sideways"), ValueError),
        (dict(n_clusters=2, preset="nope"), ValueError),
        (dict(n_clusters=2, alpha=0.0), ValueError),
        (dict(n_clusters=2, verbose="yes"), TypeError),
        (dict(n_clusters=2, verbose=-1), ValueError),
    ],
)
def test_fit_rejects_bad_settings(kwargs, error):
    X = np.random.default_rng(0).uniform(size=(20, 4))
    with pytest.raises(error):
        DEC(**kwargs).fit(X)


def test_save_into_a_missing_folder_names_the_folder(fitted, tmp_path):
    target = tmp_path / "missing" / "model.npz"
    with pytest.raises(FileNotFoundError, match="folder .*missing does not exist"):
        fitted.save(target)
    assert not target.parent.exists()


def test_save_onto_a_folder_says_so(fitted, tmp_path):
    with pytest.raises(IsADirectoryError, match="it is a folder; name a file"):
        fitted.save(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fit_warns_when_a_sigmoid_output_cannot_reach_the_data(mnist_subset):
    X = 2 * mnist_subset[0][:200] - 1  # [-1, 1]
    tiny = dict(hidden_sizes=(8, 8, 16), pretrain_epochs=1, finetune_epochs=1,
                kmeans_n_init=1, max_iter=1)
    with pytest.warns(RuntimeWarning, match=r"X: the input spans \[-1, 1\]"):
        DEC(n_clusters=3, random_state=0, **tiny).fit(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DEC(n_clusters=3, random_state=0, output_activation="linear",
            embedding_activation="linear", **tiny).fit(X)
    assert not [w for w in caught if "the input spans" in str(w.message)]


def test_callback_that_cannot_be_called_is_refused_before_training(mnist_subset):
    model = DEC(n_clusters=3, random_state=0, hidden_sizes=(8, 8, 16))
    with pytest.raises(TypeError, match="callback must be callable .*; got int"):
        model.fit(mnist_subset[0][:50], callback=5)
    assert not hasattr(model, "autoencoder_")  # nothing was built or trained


@pytest.mark.parametrize("name", ["cluster_centers", "ae.0.W"])
def test_load_refuses_a_model_holding_nan(fitted, tmp_path, name):
    from numpy_dec.storage import StorageError, read_archive, save_archive

    fitted.save(tmp_path / "model.npz")
    header, arrays = read_archive(tmp_path / "model.npz", "numpy_dec model")
    arrays[name] = arrays[name].copy()
    arrays[name].flat[1] = np.nan
    save_archive(tmp_path / "damaged.npz", header, arrays)
    with pytest.raises(StorageError, match=f"{name} holds NaN or infinite values"):
        DEC.load(tmp_path / "damaged.npz")


@pytest.mark.parametrize("dtype", [np.float64, np.dtype("float64"), "float64", "f8",
                                   "double"])
def test_dtype_as_a_numpy_type_names_the_same_setting(mnist_subset, tmp_path, dtype):
    tiny = dict(hidden_sizes=(8, 8, 16), pretrain_epochs=1, finetune_epochs=1,
                kmeans_n_init=1, max_iter=1)
    X = mnist_subset[0][:60]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = DEC(n_clusters=3, random_state=0, dtype=dtype, **tiny).fit(X)
    assert model.settings()["dtype"] == "float64"
    assert model.transform(X).dtype == np.float64
    model.save(tmp_path / "model.npz")
    loaded = DEC.load(tmp_path / "model.npz")
    assert loaded.settings()["dtype"] == "float64"
    assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("dtype, shown", [(np.int32, "'int32'"), ("f2", "'float16'"),
                                          ("nope", "'nope'")])
def test_dtype_other_than_float32_or_float64_is_refused(dtype, shown):
    with pytest.raises(ValueError, match=f"dtype must be one of .*; got {shown}"):
        DEC(dtype=dtype).fit(np.zeros((5, 2)))


@pytest.mark.parametrize("params", [[], None])
def test_load_refuses_a_model_whose_settings_are_not_an_object(fitted, tmp_path,
                                                               params):
    from numpy_dec.storage import StorageError, read_archive, save_archive

    fitted.save(tmp_path / "model.npz")
    header, arrays = read_archive(tmp_path / "model.npz", "numpy_dec model")
    save_archive(tmp_path / "damaged.npz", {**header, "params": params}, arrays)
    with pytest.raises(StorageError, match="holds unusable settings"):
        DEC.load(tmp_path / "damaged.npz")


def test_load_of_a_folder_says_so(tmp_path):
    from numpy_dec.storage import StorageError

    with pytest.raises(StorageError, match="is a folder, not a numpy_dec model"):
        DEC.load(tmp_path)
