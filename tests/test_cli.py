"""The command line: bad input, outputs, reproducibility, Ctrl-C and --resume.

Most runs are in-process on a small synthetic data file, so each takes well
under a second; the runs that are killed are real subprocesses on 300 MNIST
images with a small network.
"""

import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import numpy_dec.dec as dec_module
from numpy_dec import cli, fitting, run_folder
from numpy_dec.datasets import MNIST_FILES
from numpy_dec.dec import DEC
from numpy_dec.metrics import cluster_accuracy

from helpers import sigint_before_call

TINY = ["--n-clusters", "3", "--pixel-restarts", "2", "--quiet",
        "--set", "hidden_sizes=[8,8]", "--set", "embedding_size=3",
        "--set", "pretrain_epochs=2", "--set", "finetune_epochs=3",
        "--set", "kmeans_n_init=2", "--set", "batch_size=16",
        "--set", "update_interval=5", "--set", "max_iter=30", "--set", "tol=0.5"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = rng.integers(3, size=60)
    centres = rng.uniform(0.2, 0.8, size=(3, 6))
    X = np.clip(centres[y] + rng.normal(0, 0.05, size=(60, 6)), 0, 1)
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    np.savez(path, X=X.astype(np.float32), y=y)
    return path


def run(*argv):
    return cli.main(["run", *map(str, argv)])


@pytest.fixture(scope="module")
def reference(data_file, tmp_path_factory):
    """An uninterrupted run: its folder and its metrics.json bytes."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert run("--data-file", data_file, *TINY, "--out", out) == 0
    return out, (out / "metrics.json").read_bytes()


# bad input: one line on standard error, exit code 2, nothing trained


def _files(folder: Path) -> dict:
    np.save(folder / "three_d.npy", np.zeros((4, 2, 2)))
    np.save(folder / "nan.npy", np.array([[0.5, np.nan]] * 4))
    np.save(folder / "short.npy", np.arange(3))
    np.save(folder / "x_only.npy", np.full((60, 6), 0.5))
    (folder / "corrupt.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    (folder / "mnist_dir").mkdir(exist_ok=True)
    for name in MNIST_FILES:
        (folder / "mnist_dir" / name).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    (folder / "damaged").mkdir(exist_ok=True)
    (folder / "damaged" / "run.json").write_text("{not json")
    return {name: str(folder / name) for name in
            ("three_d.npy", "nan.npy", "short.npy", "x_only.npy", "corrupt.npy",
             "mnist_dir", "damaged", "missing.npy", "missing")}


BAD_INPUT = [
    (["--set", "nope=1"], "unknown setting"),
    (["--set", "preset=paper"], "use --preset for preset"),
    (["--set", "random_state=3"], "use --seed for random_state"),
    (["--set", "alpha=abc"], "alpha must be a real number; got the text 'abc'"),
    (["--set", 'alpha="0.5"'], "alpha must be a real number; got the text '0.5'"),
    (["--set", "alpha=0.5", "--set", "alpha=1"],
     r"--set gives \['alpha'\] more than once"),
    # .5 is read as a number (alpha is checked before tol)
    (["--set", "alpha=.5", "--set", "tol=2"],
     r"tol must be a finite number in \[0, 1\]; got 2"),
    (["--set", "hidden_sizes=5"], "hidden_sizes must be a list of ints"),
    (["--set", "drop_prob=1"], r"drop_prob must be a finite number in \[0, 1\)"),
    (["--set", "update_interval=2.5"], "update_interval must be an int"),
    (["--set", "hidden_activation=tanh"], "unknown activation 'tanh'"),
    (["--n-clusters", "0"], "n_clusters must be between 1"),
    (["--seed", "-1"], "--seed must be an int >= 0"),
    (["DATA", "--n-clusters", "61"], r"between 1 and the number of samples \(60\)"),
    (["--n-samples", "0"], "--n-samples must be between 1 and 10000"),
    (["--pixel-restarts", "0"], "--pixel-restarts must be an int >= 1"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be an int >= 1"),
    (["--data-file", "missing.npy"], "data file not found"),
    (["--data-file", "corrupt.npy"], "not a readable NumPy file"),
    (["--data-file", "three_d.npy"], "flatten images"),
    (["--data-file", "nan.npy"], "NaN or infinite"),
    (["--data-file", "x_only.npy", "--labels-file", "short.npy"],
     "3 labels but the data has 60"),
    (["--labels-file", "short.npy"], "--labels-file goes with --data-file"),
    (["--dataset", "mnist"], "needs --data-dir"),
    (["--data-dir", "missing"], "--data-dir .*missing is not an existing folder"),
    (["--data-dir", "mnist_dir"], "truncated"),
    (["DATA", "--dataset", "mnist"], "--dataset mnist and --data-file name two"),
    (["DATA", "--dataset", "mnist-test"], "--dataset mnist-test and --data-file"),
    (["--dataset", "mnist-test", "--data-dir", "mnist_dir"],
     "--dataset mnist-test is the embedded test set, and --data-dir names another"),
    (["DATA", "--set", "input_scale=0.5"],
     "input_scale multiplies the MNIST pixels as they are loaded"),
    (["--data-dir", ""], "--data-dir is empty; name a folder"),
    (["--data-file", ""], "--data-file is empty; name a file"),
    (["DATA", "--labels-file", ""], "--labels-file is empty; name a file"),
    (["--resume", "missing"], "no such folder"),
    (["--resume", "three_d.npy"], "three_d.npy is a file; name the folder of a run"),
    (["--resume", ""], "--resume is empty"),
    (["--resume", "mnist_dir"], "no run.json there"),
    (["--resume", "damaged"], "damaged or not a run file"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys,
                                               data_file, argv, message):
    files = _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = [files.get(a, a) for a in argv]
    if argv[0] == "DATA":
        argv = ["--data-file", str(data_file)] + argv[1:]
    assert run(*argv) == cli.EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists()


def test_unknown_gradient_check(capsys):
    assert cli.main(["gradcheck", "--only", "nope"]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error: unknown gradient checks")


def test_a_gradient_check_named_twice_runs_once(capsys):
    assert cli.main(["gradcheck", "--only", "relu", "sigmoid", "relu"]) == 0
    assert capsys.readouterr().out.endswith("\n2 passed, 0 failed\n")


def test_resume_of_a_folder_whose_run_file_is_a_folder(tmp_path, capsys):
    (tmp_path / run_folder.RUN_FILE).mkdir()
    assert run("--resume", tmp_path) == 2
    assert "its run.json is a folder, not a run file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["run", "--bogus"], ["run", "--preset", "nope"],
                                  ["run", "--n-clusters", "x"], ["gradcheck", "--only"],
                                  []])
def test_argparse_errors_exit_2(argv):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2


@pytest.mark.parametrize("command", ["run", "experiment"])
def test_set_null_is_refused_with_the_reason(capsys, command):
    with pytest.raises(SystemExit) as stop:
        cli.main([command, "--set", "pretrain_lr_step=null"])
    assert stop.value.code == 2
    assert "null would mean the preset's own value" in capsys.readouterr().err


@pytest.mark.parametrize("error", [ValueError, TypeError, OSError])
def test_errors_during_training_are_not_disguised_as_bad_input(tmp_path, monkeypatch,
                                                               data_file, error):
    def broken(*args, **kwargs):
        raise error("a genuine failure inside training")

    monkeypatch.setattr(fitting, "train_epoch", broken)
    with pytest.raises(error, match="genuine failure"):
        run("--data-file", data_file, *TINY, "--out", tmp_path / "run")


def test_resume_refuses_other_options(tmp_path, capsys, reference):
    out, _ = reference
    for typed, flag in ((["--preset", "spec"], "--preset"), (["--see", "3"], "--seed"),
                        (["--set", "alpha=2"], "--set")):
        assert run("--resume", out, *typed) == cli.EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert "--resume continues with the settings stored" in err
        assert f"drop {flag} (only" in err


def test_resume_refuses_changed_data(tmp_path, capsys, data_file):
    data = tmp_path / "data.npz"
    data.write_bytes(data_file.read_bytes())
    out = tmp_path / "run"
    assert run("--data-file", data, *TINY, "--out", out) == 0
    with np.load(data) as archive:
        np.savez(data, X=archive["X"][::-1], y=archive["y"][::-1])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run("--resume", out) == cli.EXIT_BAD_INPUT
    assert "was written for other data" in capsys.readouterr().err
    # refused before anything in the folder changed
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_resume_refuses_changed_labels(tmp_path, capsys, data_file):
    with np.load(data_file) as archive:
        np.save(tmp_path / "x.npy", archive["X"])
        np.save(tmp_path / "y.npy", archive["y"])
    out = tmp_path / "run"
    assert run("--data-file", tmp_path / "x.npy", "--labels-file", tmp_path / "y.npy",
               *TINY, "--out", out) == 0
    np.save(tmp_path / "y.npy", np.zeros(60, dtype=np.int64))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run("--resume", out) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "the labels differ from those the run started with" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_run_file_of_an_earlier_version_still_resumes(tmp_path, data_file, reference):
    # --dataset used to default to mnist-test, and run.json stored it beside
    # the --data-file that the run actually read
    out = tmp_path / "run"
    path = out / run_folder.RUN_FILE
    assert run("--data-file", data_file, *TINY, "--out", out) == 0
    stored = json.loads(path.read_text())
    assert stored["options"]["dataset"] is None
    stored["options"]["dataset"] = "mnist-test"
    del stored["labels"]  # nor did it keep the labels' fingerprint
    path.write_text(json.dumps(stored))
    (out / "metrics.json").unlink()
    assert run("--resume", out) == 0
    assert (out / "metrics.json").read_bytes() == reference[1]


def test_out_with_an_unfinished_run_is_refused(tmp_path, monkeypatch, capsys,
                                               data_file):
    out = tmp_path / "run"
    monkeypatch.setattr(dec_module, "dec_step",
                        sigint_before_call(dec_module.dec_step, 3))
    assert run("--data-file", data_file, *TINY, "--out", out) == cli.EXIT_INTERRUPTED
    monkeypatch.undo()
    capsys.readouterr()
    assert run("--data-file", data_file, *TINY, "--out", out) == cli.EXIT_BAD_INPUT
    assert f"holds an unfinished run; continue it with --resume {out}" in (
        capsys.readouterr().err)


# outputs and reproducibility


def test_outputs(reference, data_file):
    out, metrics_bytes = reference
    metrics = json.loads(metrics_bytes)
    for key in ("kmeans_pixels", "kmeans_embedding", "dec"):
        assert set(metrics[key]) == {"acc", "nmi", "ari"}
    assert metrics["seed"] == 0 and metrics["settings"]["hidden_sizes"] == [8, 8]
    assert "seconds" not in metrics
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) == {"kmeans_pixels", "pretrain", "finetune",
                            "kmeans_embedding", "dec"}
    assert json.loads((out / "run.json").read_text())["options"]["data_file"] == str(
        data_file.resolve())
    env = json.loads((out / "environment.json").read_text())
    assert env["resumed"] == []
    env = env["started"]
    assert env["numpy"] == np.__version__ and env["cores_available"] >= 1
    # make test sets one BLAS thread; the run records the variable as it was
    assert env["OPENBLAS_NUM_THREADS"] == os.environ.get("OPENBLAS_NUM_THREADS")

    # the saved model gives the labels that were scored
    with np.load(data_file) as archive:
        X, y = archive["X"], archive["y"]
    labels = DEC.load(out / "model.npz").predict(X)
    assert cluster_accuracy(y, labels) == metrics["dec"]["acc"]


def test_same_seed_same_metrics_and_model(tmp_path, reference, data_file):
    out, metrics_bytes = reference
    assert run("--data-file", data_file, *TINY, "--out", tmp_path / "again") == 0
    assert (tmp_path / "again" / "metrics.json").read_bytes() == metrics_bytes
    again = tmp_path / "again" / "model.npz"
    with np.load(out / "model.npz") as a, np.load(again) as b:
        assert a.files == b.files
        for name in a.files:
            assert np.array_equal(a[name], b[name])


def test_another_seed_another_model(tmp_path, reference, data_file):
    out, _ = reference
    assert run("--data-file", data_file, *TINY, "--seed", 1,
               "--out", tmp_path / "other") == 0
    other = tmp_path / "other" / "model.npz"
    with np.load(out / "model.npz") as a, np.load(other) as b:
        assert not np.array_equal(a["ae.0.W"], b["ae.0.W"])


# Ctrl-C and --resume, in-process


@pytest.mark.parametrize("where, call, times, message", [
    ("train_epoch", 1, 1,
     "interrupted: checkpoint saved at pretraining pair 1 of 3, 1 of 2 epochs done"),
    ("train_epoch", 8, 1, "interrupted: checkpoint saved at fine-tuning, 2 of 3"),
    ("dec_step", 4, 1, "interrupted: checkpoint saved at DEC iteration 4 of at most"),
    ("train_epoch", 5, 2, "interrupted without saving; the last checkpoint"),
])
def test_ctrl_c_then_resume_gives_the_same_metrics(tmp_path, monkeypatch, capsys,
                                                   reference, data_file, where,
                                                   call, times, message):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not have Python's default handler here")
    module = fitting if where == "train_epoch" else dec_module
    monkeypatch.setattr(module, where, sigint_before_call(getattr(module, where), call,
                                                    times))
    out = tmp_path / "run"
    code = run("--data-file", data_file, *TINY, "--out", out, "--checkpoint-every", 1)
    assert code == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert message in err
    assert f"-m numpy_dec run --resume {out}" in err
    assert not (out / "metrics.json").exists()
    monkeypatch.undo()

    # the pixel baseline is read back, not computed again
    def no_pixel_kmeans(*args, **kwargs):
        raise AssertionError("the pixel baseline was computed again")

    monkeypatch.setattr("numpy_dec.kmeans.kmeans", no_pixel_kmeans)
    assert run("--resume", out, "--quiet") == 0
    assert (out / "metrics.json").read_bytes() == reference[1]


def test_ctrl_c_before_the_first_checkpoint(tmp_path, monkeypatch, capsys, reference,
                                            data_file):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("numpy_dec.kmeans.kmeans", interrupted)
    out = tmp_path / "run"
    assert run("--data-file", data_file, *TINY, "--out", out) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted before the first checkpoint; start the run again with: " in err
    assert f"-m numpy_dec run --resume {out}" in err
    monkeypatch.undo()
    assert run("--resume", out, "--quiet") == 0
    assert (out / "metrics.json").read_bytes() == reference[1]


# killed subprocesses: a real SIGKILL or Ctrl-C (SIGINT), then --resume

MNIST_TINY = ["--n-samples", "300", "--n-clusters", "5", "--pixel-restarts", "2",
              "--quiet", "--checkpoint-every", "1", "--set", "hidden_sizes=[32,32,64]",
              "--set", "pretrain_epochs=3", "--set", "finetune_epochs=10",
              "--set", "kmeans_n_init=2", "--set", "max_iter=300",
              "--set", "update_interval=20", "--set", "tol=0"]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

# A child that sends itself SIGKILL before its STEP-th DEC step.
SELF_KILL = """
import os, signal, sys
import numpy_dec.dec as dec_module
from numpy_dec import cli
step, count, original = int(sys.argv[1]), [0], dec_module.dec_step
def dec_step(*args, **kwargs):
    count[0] += 1
    if count[0] == step:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
dec_module.dec_step = dec_step
sys.exit(cli.main(sys.argv[2:]))
"""


def _python(*argv, **kwargs):
    return subprocess.Popen([sys.executable, *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV, text=True, **kwargs)


def _resume_in_subprocess(out: Path) -> bytes:
    process = _python("-m", "numpy_dec", "run", "--resume", out, "--quiet")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return (out / "metrics.json").read_bytes()


@pytest.fixture(scope="module")
def mnist_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist") / "whole"
    process = _python("-m", "numpy_dec", "run", *MNIST_TINY, "--out", out)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return (out / "metrics.json").read_bytes()


def test_sigkill_at_a_random_dec_step_then_resume(tmp_path, mnist_reference):
    step = random.Random().randint(1, 300)
    out = tmp_path / "run"
    process = _python("-c", SELF_KILL, step, "run", *MNIST_TINY, "--out", out)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, f"not killed at step {step}"
    assert not (out / "metrics.json").exists()
    assert _resume_in_subprocess(out) == mnist_reference, f"killed at step {step}"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "int"])
def test_signal_from_outside_then_resume(tmp_path, mnist_reference, sig):
    out = tmp_path / "run"
    process = _python("-m", "numpy_dec", "run", *MNIST_TINY, "--out", out)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.npz").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    if sig == signal.SIGINT:
        assert process.returncode == cli.EXIT_INTERRUPTED, err
        assert "Traceback" not in err
        assert f"-m numpy_dec run --resume {out}" in err
    else:
        assert process.returncode == -signal.SIGKILL
    assert _resume_in_subprocess(out) == mnist_reference


def test_bad_input_in_a_subprocess_has_no_traceback():
    process = subprocess.run([sys.executable, "-m", "numpy_dec", "run",
                              "--n-clusters", "0"], capture_output=True, text=True,
                             env=ENV, timeout=120)
    assert process.returncode == 2
    assert process.stderr.startswith("error: n_clusters must be between 1")
    assert "Traceback" not in process.stderr


def test_warnings_in_a_subprocess_are_one_line_each(tmp_path, data_file):
    data = np.load(data_file)
    np.savez(tmp_path / "raw.npz", X=data["X"] * 255, y=data["y"])
    process = subprocess.run(
        [sys.executable, "-m", "numpy_dec", "run", "--data-file",
         str(tmp_path / "raw.npz"), *TINY, "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env=ENV, timeout=300,
    )
    assert process.returncode == 0, process.stderr
    lines = process.stderr.splitlines()
    scale = [line for line in lines if "the input reaches" in line]
    assert len(scale) == 1 and scale[0].startswith("warning: X: the input reaches")
    # no file:line prefix and no quoted source line of the package
    assert not [line for line in lines if "numpy_dec/" in line or ".py:" in line]


def test_out_holding_a_finished_run_is_refused(data_file, reference, capsys):
    out, before = reference
    assert run("--data-file", data_file, *TINY, "--out", out) == 2
    assert "holds a finished run" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == before


@pytest.mark.parametrize("settings, message", [
    (["dec_lr=1e30"], "DEC diverged"),
    (["pretrain_optimizer=\"sgd\"", "pretrain_lr=1e6"], "reconstruction loss became"),
], ids=["dec", "pretraining"])
def test_diverging_fit_is_one_line_and_exit_2(data_file, tmp_path, capsys, settings,
                                              message):
    options = [word for setting in settings for word in ("--set", setting)]
    with warnings.catch_warnings(record=True) as caught:
        code = run("--data-file", data_file, *TINY, *options,
                   "--out", tmp_path / "diverged")
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    # NumPy's overflow warnings on the way are not shown as well
    assert not [w for w in caught if "overflow" in str(w.message)
                or "invalid value" in str(w.message)]
    # --resume would diverge again: the message says how to start afresh, and
    # the folder is refused both for resuming and as the --out of a new run
    assert f"another --out (or delete {tmp_path / 'diverged'})" in err
    assert run("--resume", tmp_path / "diverged") == 2
    assert "that run diverged, and resuming it" in capsys.readouterr().err
    assert run("--data-file", data_file, *TINY, "--out", tmp_path / "diverged") == 2
    assert "holds a run that diverged" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["run", "--n-clusters", "2.5"], "argument --n-clusters: invalid int value"),
    (["run", "--set", "alpha"], "expected KEY=VALUE, got 'alpha'"),
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["experiment", "--seeds", "x"], "argument --seeds"),
    ([], "the following arguments are required: command"),
])
def test_option_errors_are_one_line_and_exit_code_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert stop.value.code == cli.EXIT_BAD_INPUT
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert message in err and "--help)" in err


def test_resume_of_a_missing_folder_says_so(tmp_path, capsys):
    assert run("--resume", tmp_path / "nowhere") == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("content", [{"format": run_folder.RUN_FORMAT}, [1, 2]])
def test_run_file_without_options_is_named_damaged(tmp_path, capsys, content):
    (tmp_path / run_folder.RUN_FILE).write_text(json.dumps(content))
    assert run("--resume", tmp_path) == 2
    err = capsys.readouterr().err
    assert "is damaged or not a run file: expected format" in err
    assert "'dataset', 'data_dir'" in err


def test_out_must_not_be_a_file_or_a_folder_of_other_files(data_file, tmp_path,
                                                           capsys):
    (tmp_path / "afile").write_text("mine\n")
    assert run("--data-file", data_file, *TINY, "--out", tmp_path / "afile") == 2
    assert "is a file; --out names a folder" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "model.npz").write_text("a file of the user's\n")
    assert run("--data-file", data_file, *TINY, "--out", busy) == 2
    assert "is a folder with other files in it" in capsys.readouterr().err
    assert (busy / "model.npz").read_text() == "a file of the user's\n"
    assert sorted(p.name for p in busy.iterdir()) == ["model.npz"]
    # an empty --out is refused, not taken as "no --out"
    assert run("--data-file", data_file, *TINY, "--out", "") == 2
    assert "--out is empty" in capsys.readouterr().err
    # a folder that cannot be made is named
    assert run("--data-file", data_file, *TINY, "--out", tmp_path / "afile" / "x") == 2
    assert "cannot create --out" in capsys.readouterr().err
    # an empty folder is fine
    (tmp_path / "empty").mkdir()
    assert run("--data-file", data_file, *TINY, "--out", tmp_path / "empty") == 0


def test_resume_command_names_this_interpreter_and_the_thread_variables(
        monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    command = run_folder.resume_command(Path("some run"))
    assert command.endswith("-m numpy_dec run --resume 'some run'")
    words = shlex.split(command)
    assert words[0] == "OPENBLAS_NUM_THREADS=1"
    python = Path(words[1])
    assert (python if python.is_absolute() else Path.cwd() / python).samefile(
        sys.executable)


def test_resume_in_another_environment_warns_and_is_recorded(tmp_path, monkeypatch,
                                                              data_file):
    # the variable only names the thread count here: BLAS read it at start-up
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not have Python's default handler here")
    out = tmp_path / "run"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setattr(fitting, "train_epoch",
                        sigint_before_call(fitting.train_epoch, 8))
    code = run("--data-file", data_file, *TINY, "--out", out, "--checkpoint-every", 1)
    assert code == cli.EXIT_INTERRUPTED
    monkeypatch.undo()

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with pytest.warns(RuntimeWarning, match="OPENBLAS_NUM_THREADS: '1' then, '2' now"):
        assert run("--resume", out, "--quiet") == 0
    record = json.loads((out / "environment.json").read_text())
    assert record["started"]["OPENBLAS_NUM_THREADS"] == "1"
    assert [r["OPENBLAS_NUM_THREADS"] for r in record["resumed"]] == ["2"]


def test_unscaled_input_is_warned_about_once(tmp_path, data_file):
    # 0-255 values: the loader's check warns; fit and predict do not repeat it
    data = np.load(data_file)
    raw = tmp_path / "raw.npz"
    np.savez(raw, X=data["X"] * 255, y=data["y"])
    with pytest.warns(RuntimeWarning, match="the input reaches") as caught:
        assert run("--data-file", raw, *TINY, "--out", tmp_path / "run") == 0
    scale = [w for w in caught if "the input reaches" in str(w.message)]
    assert len(scale) == 1


def test_out_that_takes_no_files_is_named(data_file, tmp_path, monkeypatch, capsys):
    def refuse(path, write):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(run_folder, "write_atomic", refuse)
    out = tmp_path / "locked"
    assert run("--data-file", data_file, *TINY, "--out", out) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot write into --out {out}: Permission denied\n"
