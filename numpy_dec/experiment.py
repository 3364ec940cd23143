"""Reproducible experiments: a grid of settings, each fitted with several seeds.

DEC's accuracy moves by several points from one seed to the next, so a result
is a mean and a spread over seeds. ``python -m numpy_dec experiment`` fits every
setting of a grid with every seed on one data set (the data options of ``run``)
and writes into its output folder the tables and the plot described in
``numpy_dec.experiment_report`` (results.md and results.csv hold no timings and
are reproduced byte for byte; timings.md and timings.csv hold the seconds), and:

runs/SETTING/seedS.json
    One finished fit: what it was fitted with (resolved settings, K, seed,
    data fingerprint), its scores and its seconds. A finished fit is read
    back, never repeated, when the command runs again with the same ``--out``;
    a fit stopped half-way continues from its checkpoint in runs/SETTING/seedS/.
pixels/seedS.json
    k-means on the inputs depends only on the data and the seed, so it runs
    once per seed for all settings, on the data as the "spec" preset scales it
    (pixels / 255; a data file as it is), seeded as ``run`` seeds it.
experiment.json
    The options and resolved settings of the last invocation.

The settings are a named grid (``GRIDS``) crossed with the sweeps of ``--set
KEY=V1,V2,...``; a ``--set`` with one value changes every setting. The key
``preset`` names the preset a setting starts from ("spec" otherwise; a setting
of the default grid is named after the preset that ``--set`` fixes). The
grids:

default
    The "spec" preset.
presets
    "spec" and "paper".
ablations
    "spec", and "spec" with one switch changed; a derived change is computed
    from the setting's other values, those of ``--set`` included, so that
    the grid follows the preset and the sweeps: ``direct`` backpropagates
    dL/dz at the rate that makes its first step equal to the regression
    form's (``direct_lr``; its later steps lack the regression form's
    1/sqrt(t) decay); ``no-layerwise`` skips the denoising pairs;
    ``linear-embedding`` makes the embedding linear (the reconstruction stays
    sigmoid, the inputs being in [0, 1]); ``alpha-x10`` ten times the degrees
    of freedom of the kernel; ``update_interval-x4`` renews P four times less
    often; ``gamma`` keeps the reconstruction error, weighted by
    ``balanced_gamma``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from numpy_dec import experiment_report as report
from numpy_dec.checkpoint import CHECKPOINT_FILE, Interrupted, fingerprint
from numpy_dec.presets import PRESETS, SPEC, get_preset
from numpy_dec.reporting import Reporter
from numpy_dec.storage import StorageError, to_json
from numpy_dec.validation import (
    check_set_once,
    null_setting_message,
    read_setting_value,
)

RECORD_FORMAT = "numpy_dec experiment 1"


def direct_lr(s: dict) -> float:
    """The direct form's rate whose first step equals the regression form's.

    The regression step at rate lr moves the encoder as the direct step at
    lr * 2 eta_t / (N E) does (``numpy_dec.iteration.dec_step``); at t = 1 with full
    batches of N = batch_size that is dec_lr * 2 eta0 / (batch_size E).
    """
    return s["dec_lr"] * 2 * s["eta0"] / (s["batch_size"] * s["embedding_size"])


def balanced_gamma(s: dict) -> float:
    """The gamma whose reconstruction gradient weighs 10 x the batch-mean KL's.

    At the first step (eta_1 = eta0, full batches of N): the regression form
    moves the network along (2 eta0 / E) d(KL / N) + gamma dMSE, the direct
    form along N (d(KL / N) + (gamma / N) dMSE).
    """
    if s["dec_method"] == "direct":
        return 10.0 * s["batch_size"]
    return 10.0 * 2 * s["eta0"] / s["embedding_size"]


# name -> (description, [(setting name, overrides)]); a callable override is
# computed from the setting's other resolved values, after every --set
GRIDS: dict[str, tuple[str, list[tuple[str, dict]]]] = {
    "default": ("the spec preset", [("spec", {})]),
    "presets": ("the spec and paper presets",
                [("spec", {"preset": "spec"}), ("paper", {"preset": "paper"})]),
    "ablations": ("spec, and spec with one switch changed", [
        ("spec", {}),
        ("direct", {"dec_method": "direct", "dec_lr": direct_lr}),
        ("no-layerwise", {"layerwise_pretrain": False}),
        ("linear-embedding", {"embedding_activation": "linear"}),
        ("alpha-x10", {"alpha": lambda s: 10 * s["alpha"]}),
        ("update_interval-x4", {"update_interval": lambda s: 4 * s["update_interval"]}),
        ("gamma", {"gamma": balanced_gamma}),
    ]),
}


def parse_sweep(text: str) -> tuple[str, list[tuple[str, object]]]:
    """``KEY=V1,V2,...`` -> (KEY, [(text, value), ...]), each value read by
    ``validation.read_setting_value``.

    Commas inside brackets do not split: ``hidden_sizes=[32,32],[64,64]`` is
    two values. A value that is not JSON stays a string (``regression``).
    """
    key, _, raw = text.partition("=")
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(raw):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            pieces.append(raw[start:i].strip())
            start = i + 1
    pieces.append(raw[start:].strip())
    if not key.strip() or not all(pieces):
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., got {text!r}")

    values = []
    for piece in pieces:
        value = read_setting_value(piece)
        if value is None:
            raise argparse.ArgumentTypeError(null_setting_message(key.strip()))
        values.append((piece, value))
    return key.strip(), values


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` -> [0, 1, 2]: distinct integers >= 0."""
    try:
        seeds = [int(piece) for piece in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(
            f"expected distinct integers >= 0 separated by commas, got {text!r}")
    return seeds


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m numpy_dec experiment``."""
    parser.add_argument("--dataset", choices=("mnist-test", "mnist"),
                        help="as for run")
    parser.add_argument("--data-dir", help="folder with the four MNIST files")
    parser.add_argument("--data-file", help="your own matrix: .npy, .npz or .csv")
    parser.add_argument("--labels-file",
                        help="labels for --data-file (.npy, .npz or .csv)")
    parser.add_argument("--n-samples", type=int, help="use the first N samples")
    parser.add_argument("--n-clusters", type=int, default=10)
    parser.add_argument("--pixel-restarts", type=int, default=10,
                        help="k-means restarts on the inputs (default 10)")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="default",
                        help="; ".join(f"{k}: {v[0]}" for k, v in GRIDS.items()))
    parser.add_argument("--set", dest="sweeps", action="append", default=[],
                        type=parse_sweep, metavar="KEY=V1,V2",
                        help="sweep a setting over values (or fix it: one value)")
    parser.add_argument("--seeds", type=parse_seeds, default=[0, 1, 2, 3, 4],
                        help="comma-separated seeds (default 0,1,2,3,4)")
    parser.add_argument("--out", help="output folder (default: new, under runs/)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--checkpoint-every", type=int, default=10, metavar="N",
                        help="checkpoint a fit every N epochs or target updates")


def expand(grid: str, sweeps: list) -> list[tuple[str, dict]]:
    """The grid's (name, overrides) crossed with every combination of sweeps."""
    check_set_once([key for key, _ in sweeps])
    fixed = {key: values[0][1] for key, values in sweeps if len(values) == 1}
    swept = [(key, values) for key, values in sweeps if len(values) > 1]

    bases, settings = GRIDS[grid][1], []
    fixed_preset = next((values[0][0] for key, values in sweeps
                         if key == "preset" and len(values) == 1), None)
    for base_name, base in bases:
        # a setting that takes its preset from --set is named after it
        from_set = fixed_preset is not None and "preset" not in base
        if from_set:
            base_name = fixed_preset
        for combination in itertools.product(*(values for _, values in swept)):
            pairs = list(zip((key for key, _ in swept), combination))
            names = [f"{key}={text}" for key, (text, _) in pairs]
            if len(bases) > 1 or not names or from_set:
                names.insert(0, base_name)
            given = {**fixed, **{key: value for key, (_, value) in pairs}}
            settings.append(("+".join(names), {**base, **given, **{
                key: _after(change, key, given[key]) if key in given else change
                for key, change in base.items() if callable(change)}}))
    return settings


def _after(change, key: str, value):
    """A derived change applied to ``value`` given by --set for the same key."""
    return lambda s: change({**s, key: value})


def resolve(overrides: dict, n_clusters: int) -> tuple[str, dict, dict]:
    """(preset, overrides with the callables computed, resolved settings)."""
    from numpy_dec.dec import DEC

    overrides = dict(overrides)
    preset = overrides.pop("preset", "spec")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected {sorted(PRESETS)}")
    unknown = sorted(set(overrides) - set(get_preset(preset)))
    if unknown:
        # the estimator's own parameters have options of their own
        options = {"random_state": "--seeds", "n_clusters": "--n-clusters"}
        hint = "".join(f"; use {options[k]} for {k}" for k in unknown if k in options)
        valid = sorted([*SPEC, "preset"])
        raise ValueError(f"unknown setting(s) {unknown}{hint}; valid: {valid}")

    plain = {k: v for k, v in overrides.items() if not callable(v)}
    model = DEC(n_clusters=n_clusters, preset=preset, **plain)
    derived = {k: v(model.settings()) for k, v in overrides.items() if callable(v)}
    model.set_params(**derived)
    model._check_settings(model.settings())
    return preset, {**plain, **derived}, model.settings()


def _load(args, scale: float, dtype: str) -> SimpleNamespace:
    """The data at one input scale and dtype, with its labels and fingerprint."""
    from numpy_dec.cli import load_data
    from numpy_dec.validation import check_array, check_n_clusters

    X, y, source = load_data(args, scale)
    if y is None:
        raise ValueError("the experiment scores the clusters against labels; give "
                         "them (a 'y' array in the file, or --labels-file)")
    X = check_array(X, dtype=dtype)
    check_n_clusters(args.n_clusters, X.shape[0])
    return SimpleNamespace(X=X, y=y, source=source, id=fingerprint(X),
                           labels_id=fingerprint(y))


def prepare(args) -> SimpleNamespace:
    """Check all of the input before any training; the folder is made last.

    Raises ValueError, TypeError or OSError for bad options, settings or data,
    and for stored results that belong to another experiment.
    """
    from numpy_dec.cli import check_scale_applies
    from numpy_dec.run_folder import ENV_FILE, make_folder, record_environment
    from numpy_dec.validation import check_int

    check_int("--pixel-restarts", args.pixel_restarts, 1)
    check_int("--checkpoint-every", args.checkpoint_every, 1)
    data, settings = {}, []
    for name, overrides in expand(args.grid, args.sweeps):
        check_scale_applies(args, overrides)
        preset, overrides, s = resolve(overrides, args.n_clusters)
        key = (float(s["input_scale"]), s["dtype"])
        data[key] = data.get(key) or _load(args, *key)
        settings.append(SimpleNamespace(
            name=name, folder=re.sub(r"[^A-Za-z0-9._+=,-]", "_", name),
            preset=preset, overrides=overrides, s=s, data=data[key]))
    clashes = {"folder": "would be written to the same folder",
               "s": "resolve to the same settings"}
    for field, clash in clashes.items():
        values = [getattr(setting, field) for setting in settings]
        twins = [st.name for st, v in zip(settings, values) if values.count(v) > 1]
        if twins:
            raise ValueError(f"the settings {twins} {clash}; drop one")

    # every stored result must belong to this experiment
    pixel_key = (float(SPEC["input_scale"]), SPEC["dtype"])
    pixels = data.get(pixel_key) or _load(args, *pixel_key)
    job = SimpleNamespace(args=args, settings=settings, seeds=args.seeds,
                          pixels=pixels, out=_out_folder(args), fitted=0)
    for seed in job.seeds:
        _read_record(*_pixel_record(job, seed))
        for setting in settings:
            _read_record(*_run_record(job, setting, seed))
    make_folder(job.out)
    record_environment(job.out, resume=(job.out / ENV_FILE).exists())
    return job


def _out_folder(args) -> Path:
    """The experiment's folder: --out when given (new, empty, or an earlier
    experiment's folder, which is continued), else a new one under runs/."""
    from numpy_dec.run_folder import (
        EMPTY_OUT,
        ENV_FILE,
        RUN_FILE,
        refuse_foreign_folder,
        timestamped_folder,
    )

    if args.out == "":
        raise ValueError(EMPTY_OUT)
    if not args.out:
        return timestamped_folder(f"experiment-{args.grid}")
    out = Path(args.out)
    continued = ", or an earlier experiment's folder to continue it"
    if (out / RUN_FILE).exists():
        raise ValueError(f"--out {out} holds a run of the run command; name a new "
                         f"or empty folder{continued}")
    # an experiment records its environment first, then keeps its records in
    # runs/ and pixels/
    ours = any((out / name).exists() for name in (ENV_FILE, "runs", "pixels"))
    refuse_foreign_folder(out, ours, continued)
    return out


def _run_record(job, setting, seed: int) -> tuple[Path, dict]:
    """Where a fit's record lives, and what it must have been fitted with."""
    identity = {"settings": setting.s, "n_clusters": job.args.n_clusters,
                "seed": seed, "data": setting.data.id,
                "labels": setting.data.labels_id}
    path = job.out / "runs" / setting.folder / f"seed{seed}.json"
    return path, to_json(identity)


def _pixel_record(job, seed: int) -> tuple[Path, dict]:
    identity = {"data": job.pixels.id, "labels": job.pixels.labels_id,
                "n_clusters": job.args.n_clusters, "seed": seed,
                "restarts": job.args.pixel_restarts}
    return job.out / "pixels" / f"seed{seed}.json", identity


def _read_record(path: Path, identity: dict) -> dict | None:
    """The record at ``path`` when it matches ``identity``; None when absent."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        stored = record["identity"]
        if not (isinstance(stored, dict) and isinstance(record["scores"], dict)):
            raise TypeError("identity and scores must be objects")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is damaged ({error!r}); delete it to redo it")
    if "labels" not in stored:
        # written before records kept the labels' fingerprint: the rest must match
        identity = {k: v for k, v in identity.items() if k != "labels"}
    if stored != identity:
        keys = sorted(k for k in set(stored) | set(identity)
                      if stored.get(k) != identity.get(k))
        raise ValueError(f"{path} was written for another experiment (other "
                         f"{keys}); use another --out or another setting name")
    return record


def _write_json(path: Path, record: dict) -> None:
    text = json.dumps(to_json({"format": RECORD_FORMAT, **record}), indent=2)
    report.write_text(path, text + "\n")


def pixel_kmeans(X: np.ndarray, n_clusters: int, seed: int, n_init: int):
    """k-means labels (N,) of the inputs X (N, D), seeded as ``run`` seeds them."""
    from numpy_dec.kmeans import kmeans

    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    return kmeans(X, n_clusters, rng, n_init=n_init)[1]


def fit_one(job, setting, seed: int, checkpoints: Path) -> dict:
    """Fit one setting with one seed (resumable in ``checkpoints``); its record."""
    from numpy_dec.cli import score_labels
    from numpy_dec.dec import DEC
    from numpy_dec.validation import scale_checked

    model = DEC(n_clusters=job.args.n_clusters, preset=setting.preset,
                random_state=seed, verbose=0 if job.args.quiet else 1,
                **setting.overrides)
    # an interrupted fit continues from its checkpoint; divergence is
    # reported by the FloatingPointError alone, as in run
    resume = (checkpoints / CHECKPOINT_FILE).is_file()
    with scale_checked(), np.errstate(over="ignore", invalid="ignore"):
        model.fit(setting.data.X, checkpoint_dir=checkpoints, resume=resume,
                  checkpoint_every=job.args.checkpoint_every)
    y = setting.data.y
    return {"setting": setting.name,
            "scores": {"kmeans_embedding": score_labels(y, model.kmeans_labels_),
                       "dec": score_labels(y, model.labels_)},
            "dec_iterations": model.history_["dec"][-1]["iteration"],
            "converged": model.history_["converged"],
            "seconds": model.history_["seconds"]}


def run_grid(job, reporter: Reporter) -> None:
    """Fit every (seed, setting) not finished yet, seeds in the outer loop."""
    from numpy_dec.cli import score_labels

    total, count = len(job.seeds) * len(job.settings), 0
    for seed in job.seeds:
        path, identity = _pixel_record(job, seed)
        if _read_record(path, identity) is None:
            reporter.phase("kmeans-pixels", f"seed {seed}")
            start = time.perf_counter()
            labels = pixel_kmeans(job.pixels.X, job.args.n_clusters, seed,
                                  job.args.pixel_restarts)
            _write_json(path, {"identity": identity,
                               "scores": score_labels(job.pixels.y, labels),
                               "seconds": time.perf_counter() - start})

        for setting in job.settings:
            count += 1
            path, identity = _run_record(job, setting, seed)
            if _read_record(path, identity) is not None:
                continue
            reporter.phase("experiment",
                           f"{count}/{total}: {setting.name}, seed {seed}")
            checkpoints = path.with_suffix("")
            record = fit_one(job, setting, seed, checkpoints)
            _write_json(path, {"identity": identity, **record})
            shutil.rmtree(checkpoints, ignore_errors=True)
            job.fitted += 1


def collect(job) -> dict:
    """(setting name, seed) -> {method: scores, "seconds": {phase: seconds}}."""
    found = {}
    for seed in job.seeds:
        pixels = _read_record(*_pixel_record(job, seed))
        for setting in job.settings:
            run = _read_record(*_run_record(job, setting, seed))
            if run is not None and pixels is not None:
                seconds = {"kmeans_pixels": pixels["seconds"], **run["seconds"]}
                found[setting.name, seed] = {"kmeans_pixels": pixels["scores"],
                                             **run["scores"], "seconds": seconds}
    return found


def write_outputs(job) -> str:
    """Write the tables, the plot and experiment.json; return the Markdown."""
    header = (f"Data: {job.settings[0].data.source}; K = {job.args.n_clusters}; "
              f"seeds {', '.join(map(str, job.seeds))}.")
    described = {st.name: f"{st.preset}" + "".join(
        f", {k}={v}" for k, v in to_json(st.overrides).items()) for st in job.settings}
    markdown = report.write_report(job.out, described, job.seeds, collect(job), header)

    # the options and resolved settings, for the record
    options = {k: v for k, v in vars(job.args).items() if k != "command"}
    options["sweeps"] = [f"{k}=" + ",".join(text for text, _ in values)
                         for k, values in job.args.sweeps]
    described = [{"name": st.name, "preset": st.preset, "overrides": st.overrides,
                  "settings": st.s} for st in job.settings]
    _write_json(job.out / "experiment.json",
                {"options": options, "settings": described})
    return markdown


def main(args) -> int:
    """The ``experiment`` command: exit code 0, 2 for bad input, 130 on Ctrl-C."""
    from numpy_dec.cli import EXIT_INTERRUPTED, report_bad_input

    try:
        job = prepare(args)
    except (ValueError, TypeError, OSError) as error:
        return report_bad_input(error)
    try:
        run_grid(job, Reporter(0 if args.quiet else 1))
        # inside the try: Ctrl-C while the tables are written is an interruption
        tables = write_outputs(job)
    except StorageError as error:
        # a checkpoint in the folder that another experiment wrote
        return report_bad_input(error)
    except FloatingPointError as error:
        # a setting whose training diverges; the fits finished before it stay
        write_outputs(job)
        return report_bad_input(f"{error}; the finished runs are kept in "
                                f"{job.out}; remove the diverging setting from "
                                "the grid")
    except KeyboardInterrupt as stop:
        try:
            write_outputs(job)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C; the next call writes the tables
        saved = isinstance(stop, Interrupted)
        where = f" (checkpoint saved at {stop.where})" if saved else ""
        print(f"\ninterrupted{where}; the finished runs are kept in {job.out}\n"
              f"continue with the same command and --out {job.out}", file=sys.stderr)
        return EXIT_INTERRUPTED

    print(tables)
    total = len(job.seeds) * len(job.settings)
    print(f"{total} runs: {job.fitted} fitted now, {total - job.fitted} read back; "
          f"results in {job.out}")
    return 0
