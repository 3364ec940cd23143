"""Checkpoints: a fit stopped anywhere and resumed equals an uninterrupted fit.

Stops are made deterministic: Ctrl-C is a SIGINT the process sends itself at a
chosen epoch or DEC iteration, a crash is a KeyboardInterrupt raised where no
checkpoint can be saved (so only the periodic ones on disk remain), and the
callback may raise KeyboardInterrupt at a target update.
"""

import json
import os
import signal

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import numpy_dec.dec as dec_module
from numpy_dec import fitting
from numpy_dec.checkpoint import CHECKPOINT_FILE, Interrupted
from numpy_dec.dec import DEC
from numpy_dec.storage import StorageError

from helpers import blobs, fit_outputs, sigint_before_call

TINY = dict(hidden_sizes=(8, 8), embedding_size=3, pretrain_epochs=2,
            finetune_epochs=3, kmeans_n_init=2, max_iter=40, update_interval=10,
            batch_size=16, tol=0.0, pretrain_lr_step=3, finetune_lr_step=5,
            alpha=1.0)
N_EPOCHS = 3 * TINY["pretrain_epochs"] + TINY["finetune_epochs"]

pytestmark = pytest.mark.filterwarnings("ignore:DEC stopped at max_iter")


X = blobs()


def outputs(model):
    return fit_outputs(model, X)


def assert_same(a, b):
    assert a["history"] == b["history"]
    for key in ("labels", "kmeans", "centres", "Q"):
        assert_array_equal(a[key], b[key], err_msg=key)
    for p, q in zip(a["params"], b["params"]):
        assert_array_equal(p, q)


@pytest.fixture(scope="module", params=["float32", "float64"])
def reference(request):
    """The uninterrupted fit, per dtype."""
    dtype = request.param
    return dtype, outputs(DEC(n_clusters=3, dtype=dtype, **TINY).fit(X))


def resume(folder, dtype, **kwargs):
    model = DEC(n_clusters=3, dtype=dtype, **TINY, **kwargs)
    return outputs(model.fit(X, checkpoint_dir=folder, resume=True))


def sigint_at(monkeypatch, module, name, call, times=1):
    """Send SIGINT to this process ``times`` times before the call-th call."""
    monkeypatch.setattr(
        module, name, sigint_before_call(getattr(module, name), call, times)
    )


@pytest.fixture(autouse=True)
def default_sigint():
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not have Python's default handler here")
    yield
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("epoch", range(1, N_EPOCHS + 1))
def test_ctrl_c_in_any_epoch_then_resume(tmp_path, monkeypatch, reference, epoch):
    dtype, expected = reference
    sigint_at(monkeypatch, fitting, "train_epoch", epoch)
    with pytest.raises(Interrupted) as stop:
        DEC(n_clusters=3, dtype=dtype, **TINY).fit(X, checkpoint_dir=tmp_path,
                                                   checkpoint_every=100)
    assert stop.value.path == tmp_path / CHECKPOINT_FILE
    assert "epochs done" in stop.value.where or "k-means" in stop.value.where
    monkeypatch.undo()
    assert_same(resume(tmp_path, dtype), expected)


@pytest.mark.parametrize("step", [1, 7, 10, 11, 25, 40])
def test_ctrl_c_in_any_dec_iteration_then_resume(tmp_path, monkeypatch, reference,
                                                 step):
    dtype, expected = reference
    sigint_at(monkeypatch, dec_module, "dec_step", step)
    with pytest.raises(Interrupted) as stop:
        DEC(n_clusters=3, dtype=dtype, **TINY).fit(X, checkpoint_dir=tmp_path)
    assert stop.value.where == f"DEC iteration {step} of at most 40"
    monkeypatch.undo()
    assert_same(resume(tmp_path, dtype), expected)


@pytest.mark.parametrize("iteration", [0, 10, 40])
def test_keyboard_interrupt_from_the_callback(tmp_path, reference, iteration):
    dtype, expected = reference

    def callback(it, Z, centroids):
        if it == iteration:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match=f"DEC iteration {iteration} "):
        DEC(n_clusters=3, dtype=dtype, **TINY).fit(X, callback=callback,
                                                   checkpoint_dir=tmp_path)
    assert_same(resume(tmp_path, dtype), expected)


@pytest.mark.parametrize("step", [3, 23])
def test_crash_resumes_from_the_last_periodic_checkpoint(tmp_path, monkeypatch,
                                                         reference, step):
    # a KeyboardInterrupt raised inside a step saves nothing, as after SIGKILL
    dtype, expected = reference
    original, count = dec_module.dec_step, [0]

    def crashing(*args, **kwargs):
        count[0] += 1
        if count[0] == step:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(dec_module, "dec_step", crashing)
    with pytest.raises(KeyboardInterrupt) as stop:
        DEC(n_clusters=3, dtype=dtype, **TINY).fit(X, checkpoint_dir=tmp_path,
                                                   checkpoint_every=1)
    assert not isinstance(stop.value, Interrupted)
    with np.load(tmp_path / CHECKPOINT_FILE) as archive:
        header = json.loads(str(archive["header"]))
    assert header["phase"] == "dec" and header["iteration"] == 10 * (step // 10)
    monkeypatch.undo()
    assert_same(resume(tmp_path, dtype), expected)


def test_second_ctrl_c_stops_at_once_and_keeps_the_last_checkpoint(tmp_path,
                                                                   monkeypatch):
    expected = outputs(DEC(n_clusters=3, **TINY).fit(X))
    sigint_at(monkeypatch, fitting, "train_epoch", 5, times=2)
    with pytest.raises(KeyboardInterrupt) as stop:
        DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=tmp_path, checkpoint_every=1)
    assert not isinstance(stop.value, Interrupted)
    monkeypatch.undo()
    assert_same(resume(tmp_path, "float32"), expected)


def test_an_interrupted_refit_leaves_no_stale_results():
    model = DEC(n_clusters=3, **TINY).fit(X)

    def stop(*args):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(X, callback=stop)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(X)


def test_resume_without_a_checkpoint_starts_from_the_beginning(tmp_path):
    expected = outputs(DEC(n_clusters=3, **TINY).fit(X))
    assert_same(resume(tmp_path / "empty", "float32"), expected)


def test_resume_a_finished_fit_trains_nothing(tmp_path, monkeypatch):
    expected = outputs(DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=tmp_path))

    def no_training(*args, **kwargs):
        raise AssertionError("a finished fit was trained again")

    monkeypatch.setattr(fitting, "train_epoch", no_training)
    monkeypatch.setattr(fitting, "kmeans", no_training)
    assert_same(resume(tmp_path, "float32", verbose=0), expected)


@pytest.mark.parametrize("change, match", [
    (dict(alpha=2.0), "alpha: 1.0 there, 2.0 here"),
    (dict(random_state=1), "random_state: 0 there, 1 here"),
    (dict(n_clusters=4), "n_clusters: 3 there, 4 here"),
])
def test_resume_refuses_other_settings(tmp_path, change, match):
    DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=tmp_path)
    kwargs = {**TINY, "n_clusters": 3, **change}
    with pytest.raises(StorageError, match=match):
        DEC(**kwargs).fit(X, checkpoint_dir=tmp_path, resume=True)


def test_resume_refuses_other_data(tmp_path):
    DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=tmp_path)
    with pytest.raises(StorageError, match="written for other data"):
        DEC(n_clusters=3, **TINY).fit(blobs(seed=1), checkpoint_dir=tmp_path,
                                      resume=True)


def test_checkpoint_contents(tmp_path):
    DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_FILE]  # no temporary left
    with np.load(tmp_path / CHECKPOINT_FILE, allow_pickle=False) as archive:
        header = json.loads(str(archive["header"]))
        names = set(archive.files)
    assert header["format"] == "numpy_dec checkpoint"
    assert header["phase"] == "done" and header["where"] == "the end of training"
    assert set(header["rng"]) == {"init", "order", "kmeans"}
    for state in header["rng"].values():
        assert state["bit_generator"] == "PCG64"
    assert header["params"]["alpha"] == 1.0 and header["params"]["n_clusters"] == 3
    assert "verbose" not in header["params"]
    assert {"centroids", "P", "previous", "kmeans_labels", "order"} <= names


@pytest.mark.parametrize("field, value, match", [
    ("phase", "sleeping", "unknown phase"),
    ("position", 10_000, "impossible position"),
    ("format_version", 2, "format 1"),
    ("rng", {"init": {"bit_generator": "MT19937"}, "order": 0, "kmeans": 0},
     "generator state"),
])
def test_resume_refuses_inconsistent_checkpoints(tmp_path, field, value, match):
    DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT_FILE
    with np.load(path) as archive:
        arrays = dict(archive)
    header = json.loads(str(arrays["header"]))
    header[field] = value
    arrays["header"] = np.array(json.dumps(header))
    np.savez(path, **arrays)
    with pytest.raises(StorageError, match=match):
        DEC(n_clusters=3, **TINY).fit(X, checkpoint_dir=tmp_path, resume=True)


def test_a_custom_sigint_handler_is_left_alone(tmp_path):
    calls = []
    previous = signal.signal(signal.SIGINT, lambda *args: calls.append(args))
    try:
        DEC(n_clusters=3, **TINY).fit(
            X, checkpoint_dir=tmp_path,
            callback=lambda *args: os.kill(os.getpid(), signal.SIGINT),
        )
        assert len(calls) == 5
    finally:
        signal.signal(signal.SIGINT, previous)
