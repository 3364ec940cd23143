"""Experiments over seeds, and the ablation switches they compare.

The command runs in-process on 300 MNIST images with a small network, so a
whole grid of 2 settings x 2 seeds takes a few seconds; the DEC-level tests use
60 synthetic points.
"""

import csv
import io
import json
import re
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import numpy_dec.dec as dec_module
from numpy_dec import cli, experiment, fitting, presets, run_folder
from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.datasets import load_mnist
from numpy_dec.dec import DEC, dec_step
from numpy_dec.formulas import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    target_distribution,
)
from numpy_dec.losses import mse_loss
from numpy_dec.metrics import cluster_accuracy
from numpy_dec.optim import SGD

from helpers import blobs, fit_outputs, sigint_before_call

pytestmark = pytest.mark.filterwarnings("ignore:DEC stopped at max_iter")

NETWORK = ["--set", "hidden_sizes=[32,32,64]", "--set", "pretrain_epochs=1",
           "--set", "finetune_epochs=2", "--set", "kmeans_n_init=2",
           "--set", "max_iter=20", "--set", "update_interval=10", "--set", "tol=0"]
GRID = ["--n-samples", "300", "--n-clusters", "5", "--pixel-restarts", "2",
        "--grid", "presets", "--seeds", "0,1", "--quiet", *NETWORK]
TABLES = ("results.md", "results.csv", "per_seed.csv")


def experiment_command(*argv):
    return cli.main(["experiment", *map(str, argv)])


def table_bytes(out):
    return {name: (out / name).read_bytes() for name in TABLES}


def read_csv(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted grid: its folder and its table files."""
    out = tmp_path_factory.mktemp("experiment") / "grid"
    assert experiment_command(*GRID, "--out", out) == 0
    return out, table_bytes(out)


def test_outputs_hold_mean_std_min_max(reference):
    out, _ = reference
    for name in (*TABLES, "timings.md", "timings.csv", "experiment.json"):
        assert (out / name).is_file(), name
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    rows, per_seed = read_csv(out / "results.csv"), read_csv(out / "per_seed.csv")
    assert [(r["setting"], r["method"]) for r in rows] == [
        (s, m) for s in ("spec", "paper")
        for m in ("kmeans_pixels", "kmeans_embedding", "dec")]
    assert len(per_seed) == 2 * 3 * 2
    for row in rows:
        assert row["seeds"] == "2"
        for metric in ("acc", "nmi", "ari"):
            values = [float(r[metric]) for r in per_seed
                      if (r["setting"], r["method"]) == (row["setting"], row["method"])]
            assert_allclose(float(row[f"{metric}_mean"]), np.mean(values), atol=1e-6)
            assert_allclose(float(row[f"{metric}_std"]), np.std(values, ddof=1),
                            atol=1e-6)
            assert float(row[f"{metric}_min"]) == pytest.approx(min(values), abs=1e-6)
            assert float(row[f"{metric}_max"]) == pytest.approx(max(values), abs=1e-6)

    # the score files hold no timings; the timings files hold every phase
    assert "second" not in (out / "results.csv").read_text()
    header = (out / "timings.csv").read_text().splitlines()[0]
    for phase in ("kmeans_pixels", "pretrain", "finetune", "kmeans_embedding", "dec"):
        assert f"{phase}_mean" in header
    assert re.search(r"\| spec \| DEC \| 2 \| \d\.\d{4} ± \d\.\d{4} \[\d\.\d{4}, "
                     r"\d\.\d{4}\]", (out / "results.md").read_text())


def test_scores_are_those_of_a_plain_fit(reference):
    # the pixel baseline is shared by the settings of a seed, and a run's scores
    # are those of DEC fitted alone with the same settings and seed
    out, _ = reference
    per_seed = {(r["setting"], r["seed"], r["method"]): float(r["acc"])
                for r in read_csv(out / "per_seed.csv")}
    assert per_seed["spec", "1", "kmeans_pixels"] == per_seed["paper", "1",
                                                              "kmeans_pixels"]
    X, y = load_mnist(scale=0.02)
    model = DEC(n_clusters=5, preset="paper", random_state=1, hidden_sizes=(32, 32, 64),
                pretrain_epochs=1, finetune_epochs=2, kmeans_n_init=2, max_iter=20,
                update_interval=10, tol=0).fit(X[:300])
    assert per_seed["paper", "1", "dec"] == pytest.approx(
        cluster_accuracy(y[:300], model.labels_), abs=1e-6)


def test_second_invocation_reads_back_and_gives_the_same_table(reference, tmp_path,
                                                               monkeypatch, capsys):
    out = tmp_path / "grid"
    shutil.copytree(reference[0], out)
    records = sorted((out / "runs").rglob("*.json")) + sorted(out.glob("pixels/*"))
    assert len(records) == 6
    stamps = {path: path.stat().st_mtime_ns for path in records}

    def forbidden(*args, **kwargs):
        raise AssertionError("a finished run was computed again")

    monkeypatch.setattr(DEC, "fit", forbidden)
    monkeypatch.setattr(experiment, "pixel_kmeans", forbidden)
    capsys.readouterr()
    assert experiment_command(*GRID, "--out", out) == 0
    assert "4 runs: 0 fitted now, 4 read back" in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in records} == stamps
    assert table_bytes(out) == reference[1]
    # the environment of the first call, and of the second
    record = json.loads((out / run_folder.ENV_FILE).read_text())
    assert record["started"]["numpy"] == np.__version__
    assert len(record["resumed"]) == 1


def test_interrupted_between_runs_resumes(reference, tmp_path, monkeypatch, capsys):
    # every run is fitted again in a new folder, so the final comparison also
    # shows that the table does not depend on the folder or on the interruption
    out, calls = tmp_path / "grid", []
    original = experiment.fit_one

    def stop_at_third(*args, **kwargs):
        calls.append(args[1].name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(experiment, "fit_one", stop_at_third)
    assert experiment_command(*GRID, "--out", out) == cli.EXIT_INTERRUPTED
    assert f"continue with the same command and --out {out}" in capsys.readouterr().err
    assert len(read_csv(out / "per_seed.csv")) == 2 * 3  # seed 0 of both settings

    calls.clear()
    assert experiment_command(*GRID, "--out", out) == 0
    assert calls == ["spec", "paper"]  # only the two runs of seed 1
    assert table_bytes(out) == reference[1]


def test_ctrl_c_inside_a_fit_resumes_from_its_checkpoint(reference, tmp_path,
                                                         monkeypatch, capsys):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not have Python's default handler here")
    # call 30 is iteration 9 of the second run (paper, seed 0)
    monkeypatch.setattr(
        dec_module, "dec_step", sigint_before_call(dec_module.dec_step, 30)
    )
    out = tmp_path / "grid"
    code = experiment_command(*GRID, "--out", out, "--checkpoint-every", 1)
    assert code == cli.EXIT_INTERRUPTED
    assert "checkpoint saved at DEC iteration 10 of at most 20" in (
        capsys.readouterr().err)
    assert (out / "runs" / "paper" / "seed0" / "checkpoint.npz").is_file()

    monkeypatch.undo()
    assert experiment_command(*GRID, "--out", out) == 0
    assert table_bytes(out) == reference[1]
    assert not (out / "runs" / "paper" / "seed0").exists()


BAD_INPUT = [
    (["--set", "nope=1,2"], "unknown setting"),
    (["--set", "nope=1"], "valid: .*'preset'"),
    (["--set", "alpha=0,1"], "alpha must be a finite number"),
    (["--set", "preset=nope"], "unknown preset 'nope'"),
    (["--set", "n_clusters=3"], "use --n-clusters for n_clusters"),
    (["--set", "random_state=3"], "use --seeds for random_state"),
    (["--set", "gamma=-1"], "gamma must be a finite number in \\[0, inf\\)"),
    (["--set", "alpha=1", "--set", "alpha=2"], "more than once"),
    (["--grid", "presets", "--set", "preset=quick"], "resolve to the same settings"),
    (["--set", "alpha=1,1.0"], "resolve to the same settings"),
    (["--pixel-restarts", "0"], "--pixel-restarts must be an int >= 1"),
    (["--n-samples", "3", "--n-clusters", "5"], "n_clusters must be between 1"),
    (["--data-file", "DATA"], "scores the clusters against labels"),
    (["--data-file", "DATA", "--set", "input_scale=0.5,1"],
     "--data-file is used as given, so scale the file's data instead"),
    (["--dataset", "mnist-test", "--data-file", "DATA"],
     "--dataset mnist-test and --data-file name two data sets"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, argv,
                                               message):
    np.save(tmp_path / "x.npy", np.full((40, 4), 0.5))
    argv = [str(tmp_path / "x.npy") if a == "DATA" else a for a in argv]
    monkeypatch.chdir(tmp_path)
    assert experiment_command("--n-samples", "30", *argv) == cli.EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "runs").exists()


def test_out_that_is_not_an_experiment_folder_is_refused(tmp_path, monkeypatch,
                                                         capsys):
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("mine\n")
    Path("busy").mkdir()
    Path("busy", "notes.txt").write_text("mine\n")
    Path("arun").mkdir()
    Path("arun", run_folder.RUN_FILE).write_text("{}\n")
    cases = [("afile", "is a file"), ("busy", "folder with other files"),
             ("arun", "holds a run of the run command"),
             ("afile/sub", "cannot create --out afile/sub")]
    for out, message in cases:
        code = experiment_command("--n-samples", "30", "--out", out)
        err = capsys.readouterr().err
        assert code == cli.EXIT_BAD_INPUT and message in err, (out, err)
    assert sorted(p.name for p in Path("busy").iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in Path("arun").iterdir()) == [run_folder.RUN_FILE]


def test_results_of_another_experiment_are_refused(reference, tmp_path, capsys):
    out = tmp_path / "grid"
    shutil.copytree(reference[0], out)
    other = [a.replace("max_iter=20", "max_iter=21") for a in GRID]
    assert experiment_command(*other, "--out", out) == cli.EXIT_BAD_INPUT
    assert "was written for another experiment (other ['settings'])" in (
        capsys.readouterr().err)

    # other labels for the same data: their stored scores would be mixed in
    data, labels = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(data, np.random.default_rng(0).random((40, 4)))
    np.save(labels, np.arange(40) % 3)
    small = ["--data-file", data, "--labels-file", labels, "--n-clusters", "3",
             *GRID[4:], "--out", tmp_path / "small"]
    assert experiment_command(*small) == 0
    np.save(labels, np.arange(40) % 2)
    assert experiment_command(*small) == cli.EXIT_BAD_INPUT
    assert "was written for another experiment (other ['labels'])" in (
        capsys.readouterr().err)

    (out / "runs" / "spec" / "seed1.json").write_text('{"identity": [')
    assert experiment_command(*GRID, "--out", out) == cli.EXIT_BAD_INPUT
    assert "seed1.json is damaged" in capsys.readouterr().err


@pytest.mark.parametrize("seeds", ["", "0,0", "-1", "a"])
def test_bad_seeds_are_refused_by_the_parser(seeds):
    with pytest.raises(SystemExit) as stop:
        experiment_command("--seeds", seeds)
    assert stop.value.code == 2


def test_sweeps_and_names():
    assert experiment.parse_sweep("hidden_sizes=[32,32],[64, 64]") == (
        "hidden_sizes", [("[32,32]", (32, 32)), ("[64, 64]", (64, 64))])
    assert experiment.parse_sweep("dec_method=regression,direct")[1] == [
        ("regression", "regression"), ("direct", "direct")]
    assert experiment.parse_sweep("layerwise_pretrain=true,false")[1] == [
        ("true", True), ("false", False)]

    sweeps = [experiment.parse_sweep("alpha=0.5,2"), experiment.parse_sweep("tol=0")]
    settings = experiment.expand("presets", sweeps)
    assert [name for name, _ in settings] == [
        "spec+alpha=0.5", "spec+alpha=2", "paper+alpha=0.5", "paper+alpha=2"]
    assert settings[3][1] == {"preset": "paper", "tol": 0, "alpha": 2}
    assert [name for name, _ in experiment.expand("default", sweeps[:1])] == [
        "alpha=0.5", "alpha=2"]

    # a preset fixed by --set names the settings of the default grid
    paper = [experiment.parse_sweep("preset=paper")]
    assert experiment.expand("default", paper) == [("paper", {"preset": "paper"})]
    assert [name for name, _ in experiment.expand("default", paper + sweeps[:1])] == [
        "paper+alpha=0.5", "paper+alpha=2"]


def test_every_named_grid_resolves():
    for grid in experiment.GRIDS:
        for _, overrides in experiment.expand(grid, []):
            experiment.resolve(overrides, 10)

    # the derived values follow the preset they are applied to
    ablations = dict(experiment.GRIDS["ablations"][1])
    spec = presets.SPEC
    rate = spec["dec_lr"] * 2 * spec["eta0"] / spec["embedding_size"]
    _, overrides, s = experiment.resolve(ablations["direct"], 10)
    assert s["dec_method"] == "direct"
    assert overrides["dec_lr"] == pytest.approx(rate / spec["batch_size"])
    _, overrides, _ = experiment.resolve({**ablations["direct"], "batch_size": 64}, 10)
    assert overrides["dec_lr"] == pytest.approx(rate / 64)
    _, overrides, _ = experiment.resolve(ablations["gamma"], 10)
    assert overrides["gamma"] == pytest.approx(
        10 * 2 * spec["eta0"] / spec["embedding_size"])
    _, overrides, _ = experiment.resolve({**ablations["gamma"], "dec_method": "direct"},
                                         10)
    assert overrides["gamma"] == pytest.approx(10 * spec["batch_size"])

    # a --set of the same key is the value a derived change starts from
    sweeps = [experiment.parse_sweep("update_interval=10")]
    named = dict(experiment.expand("ablations", sweeps))
    for name, expected in (("update_interval-x4", 40), ("spec", 10)):
        assert experiment.resolve(named[name], 10)[2]["update_interval"] == expected


# the ablation switches, on 60 points in 6 dimensions

TINY = dict(n_clusters=3, hidden_sizes=(8, 8), embedding_size=3, pretrain_epochs=2,
            finetune_epochs=3, kmeans_n_init=2, max_iter=40, update_interval=10,
            batch_size=16, tol=0.0)


X = blobs()


def assert_same(a, b):
    assert a["history"] == b["history"]
    for key in ("labels", "kmeans", "centres"):
        assert_array_equal(a[key], b[key], err_msg=key)
    for p, q in zip(a["params"], b["params"], strict=True):
        assert_array_equal(p, q)


def test_layerwise_pretrain_false_skips_the_pairs(monkeypatch):
    epochs, original = [], fitting.train_epoch

    def counting(model, *args, **kwargs):
        epochs.append(model)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(fitting, "train_epoch", counting)
    with_pairs = DEC(**TINY).fit(X)
    assert len(epochs) == 3 * TINY["pretrain_epochs"] + TINY["finetune_epochs"]

    epochs.clear()
    without = DEC(**TINY, layerwise_pretrain=False).fit(X)
    assert len(epochs) == TINY["finetune_epochs"]
    assert all(model is without.autoencoder_.autoencoder for model in epochs)
    assert without.history_["pretrain"] == [] and "pretrain" in without.history_[
        "seconds"]
    assert len(without.history_["finetune"]) == TINY["finetune_epochs"]
    assert not np.array_equal(with_pairs.cluster_centers_, without.cluster_centers_)


def plain_dec_step(encoder, optimizer, X_batch, P_batch, centroids, eta, lr, alpha,
                   method="regression", gamma=0.0, decoder=None):
    """DEC's step without any reconstruction term, written out independently."""
    assert gamma == 0.0
    Z = encoder.forward(X_batch, training=True)
    dZ, dC = kl_gradients(Z, centroids, P_batch, alpha)
    kl = kl_divergence(P_batch, soft_assignment(Z, centroids, alpha))
    dout = mse_loss(Z, Z - eta * dZ)[1] if method == "regression" else dZ
    encoder.backward(dout)
    optimizer.step(lr)
    return centroids - eta * dC, kl


@pytest.mark.parametrize("method", ["regression", "direct"])
def test_gamma_zero_is_plain_dec_bit_for_bit(monkeypatch, method):
    steps, original = [], dec_module.dec_step

    def recording(encoder, optimizer, *args):
        steps.append(len(optimizer.params) == len(encoder.parameters()))
        return original(encoder, optimizer, *args)

    monkeypatch.setattr(dec_module, "dec_step", recording)
    ours = fit_outputs(DEC(**TINY, dec_method=method, gamma=0.0).fit(X))
    assert steps and all(steps)  # the optimizer holds the encoder only

    monkeypatch.setattr(dec_module, "dec_step", plain_dec_step)
    assert_same(ours, fit_outputs(DEC(**TINY, dec_method=method).fit(X)))


def test_gamma_trains_the_decoder_in_the_dec_phase():
    def decoder_params(model):
        return [layer.params[key].copy()
                for _, layer, key in model.autoencoder_.decoder.named_parameters()]

    for gamma, moves in ((0.0, False), (0.5, True)):
        model, before = DEC(**TINY, gamma=gamma), []

        def snapshot(iteration, Z, centroids, model=model, before=before):
            if iteration == 0:
                before += decoder_params(model)

        model.fit(X, callback=snapshot)
        changed = [not np.array_equal(a, b)
                   for a, b in zip(before, decoder_params(model), strict=True)]
        assert all(changed) if moves else not any(changed)


def test_regression_with_gamma_equals_direct_at_scaled_rate_and_weight():
    # regression at (lr, gamma) = direct at (lr c, gamma / c), c = 2 eta / (N E)
    rng = np.random.default_rng(0)
    Xb = rng.uniform(size=(16, 8))
    nets = [StackedDenoisingAutoencoder((8, 6, 4), np.random.default_rng(1),
                                        dtype=np.float64) for _ in range(3)]
    C = nets[0].encoder.forward(Xb)[:3].copy()
    P = target_distribution(soft_assignment(nets[0].encoder.forward(Xb), C) + 0.05)
    P /= P.sum(axis=1, keepdims=True)
    eta, lr, gamma = 0.5, 50.0, 0.3
    c = 2 * eta / (16 * 4)

    reg, direct, start = nets
    C_reg, _ = dec_step(reg.encoder, SGD(reg.autoencoder.parameters()), Xb, P, C, eta,
                        lr, 1.0, "regression", gamma, reg.decoder)
    C_dir, _ = dec_step(direct.encoder, SGD(direct.autoencoder.parameters()), Xb, P,
                        C, eta, lr * c, 1.0, "direct", gamma / c, direct.decoder)
    assert_allclose(C_reg, C_dir, rtol=0, atol=1e-12)
    for (a, key), (b, _), (s, _) in zip(reg.autoencoder.parameters(),
                                        direct.autoencoder.parameters(),
                                        start.autoencoder.parameters()):
        assert_allclose(a.params[key], b.params[key], rtol=0, atol=1e-10)
        assert np.abs(a.params[key] - s.params[key]).max() > 1e-6


def test_gamma_needs_the_decoder():
    net = StackedDenoisingAutoencoder((8, 6, 4), np.random.default_rng(1),
                                      dtype=np.float64)
    with pytest.raises(ValueError, match="needs the decoder"):
        dec_step(net.encoder, SGD(net.encoder.parameters()), np.zeros((4, 8)),
                 np.full((4, 2), 0.5), np.zeros((2, 4)), 1.0, 0.1, 1.0, gamma=0.5)


def test_gamma_fit_resumes_bit_for_bit(tmp_path, monkeypatch):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not have Python's default handler here")
    settings = dict(**TINY, gamma=0.5, dec_optimizer="adam")
    reference = fit_outputs(DEC(**settings).fit(X))
    monkeypatch.setattr(
        dec_module, "dec_step", sigint_before_call(dec_module.dec_step, 15)
    )
    with pytest.raises(KeyboardInterrupt):
        DEC(**settings).fit(X, checkpoint_dir=tmp_path, checkpoint_every=1)
    monkeypatch.undo()
    resumed = DEC(**settings).fit(X, checkpoint_dir=tmp_path, resume=True)
    assert_same(reference, fit_outputs(resumed))


@pytest.mark.parametrize("kwargs, error", [
    (dict(gamma=-0.1), ValueError), (dict(gamma="0.1"), TypeError),
    (dict(layerwise_pretrain="no"), TypeError), (dict(layerwise_pretrain=1), TypeError),
])
def test_bad_switches_are_refused(kwargs, error):
    with pytest.raises(error):
        DEC(n_clusters=2, **kwargs).fit(X)


def test_switches_survive_save_and_load(tmp_path):
    model = DEC(**TINY, gamma=0.25, layerwise_pretrain=False).fit(X)
    model.save(tmp_path / "model.npz")
    loaded = DEC.load(tmp_path / "model.npz")
    assert loaded.settings()["gamma"] == 0.25
    assert loaded.settings()["layerwise_pretrain"] is False
    assert_array_equal(loaded.predict(X), model.predict(X))


def test_presets_keep_the_switches_off_and_document_every_setting():
    for name, preset in presets.PRESETS.items():
        assert preset["layerwise_pretrain"] is True and preset["gamma"] == 0.0, name
        assert set(preset) == set(presets.SPEC), name
    changed = {k for k in presets.SPEC if presets.LONG[k] != presets.SPEC[k]}
    assert changed == {"pretrain_epochs", "finetune_epochs", "max_iter"}
    for key in presets.SPEC:
        assert re.search(rf"^ +{key} ", presets.__doc__, re.MULTILINE), key


def test_a_diverging_setting_is_one_line_keeping_the_finished_runs(tmp_path, capsys):
    out = tmp_path / "grid"
    code = experiment_command(
        "--n-samples", "300", "--n-clusters", "5", "--pixel-restarts", "2",
        "--seeds", "0", "--quiet", *NETWORK, "--set", "dec_lr=1,1e30", "--out", out)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "diverged" in err and f"the finished runs are kept in {out}" in err
    # the setting that finished before the diverging one is in the table
    assert "dec_lr=1 " in (out / "results.md").read_text()


def test_a_first_fit_does_not_report_a_resume(tmp_path, capsys):
    argv = [a for a in GRID if a != "--quiet"]
    argv[argv.index("0,1")] = "0"
    argv[argv.index("presets")] = "default"
    assert experiment_command(*argv, "--out", tmp_path / "exp") == 0
    err = capsys.readouterr().err
    assert "[pretrain" in err  # progress is on
    assert "no checkpoint" not in err and "[resume]" not in err


def test_records_written_before_labels_were_kept_are_read_back(reference, tmp_path,
                                                               capsys):
    out = tmp_path / "grid"
    shutil.copytree(reference[0], out)
    for path in [*out.glob("runs/*/seed*.json"), *out.glob("pixels/seed*.json")]:
        record = json.loads(path.read_text())
        del record["identity"]["labels"]
        path.write_text(json.dumps(record, indent=2) + "\n")
    capsys.readouterr()
    assert experiment_command(*GRID, "--out", out) == 0
    assert table_bytes(out) == reference[1]
    captured = capsys.readouterr()
    assert "0 fitted now, 4 read back" in captured.out + captured.err


def test_ctrl_c_while_the_tables_are_written_is_an_interruption(reference, tmp_path,
                                                                monkeypatch, capsys):
    out = tmp_path / "grid"
    shutil.copytree(reference[0], out)
    calls = []

    def interrupted_once(job):
        calls.append(job)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return original(job)

    original = experiment.write_outputs
    monkeypatch.setattr(experiment, "write_outputs", interrupted_once)
    capsys.readouterr()
    assert experiment_command(*GRID, "--out", out) == cli.EXIT_INTERRUPTED
    assert len(calls) == 2  # the handler wrote the tables after all
    assert f"continue with the same command and --out {out}" in capsys.readouterr().err
    assert table_bytes(out) == reference[1]
