"""Command line: ``python -m numpy_dec run | experiment | gradcheck``.

Bad input (options, settings, data files, a checkpoint that does not fit) ends
the program with one line on standard error and exit code 2, before training
starts; progress goes to standard error; the results table goes to standard
output. A run keeps its options in ``run.json`` and a checkpoint in its output
folder; Ctrl-C saves the checkpoint (exit code 130) and
``python -m numpy_dec run --resume DIR`` continues it, bit for bit.
``experiment`` fits a grid of settings over several seeds and tabulates means
and spreads (``numpy_dec.experiment``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from numpy_dec.checkpoint import CHECKPOINT_FILE, Interrupted, check_checkpoint_data
from numpy_dec.presets import PRESETS, get_preset
from numpy_dec.run_folder import (
    STORED_OPTIONS,
    check_same_labels,
    mark_diverged,
    new_run_dir,
    record_environment,
    resume_command,
    stored_args,
    write_run_file,
)
from numpy_dec.storage import (
    StorageError,
    read_archive,
    read_header,
    save_archive,
    write_atomic,
)
from numpy_dec.validation import (
    check_set_once,
    null_setting_message,
    read_setting_value,
)

DATASETS = ("mnist-test", "mnist")
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
PIXELS_FILE = "kmeans_pixels.npz"


def _parse_setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE``, VALUE read by ``validation.read_setting_value``."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    value = read_setting_value(raw)
    if value is None:
        raise argparse.ArgumentTypeError(null_setting_message(key.strip()))
    return key.strip(), value


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors take one line of standard error, with
    exit code 2, as every other bad input does (``--help`` shows the usage)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="python -m numpy_dec",
        description="Deep Embedded Clustering in NumPy, gradients written by hand.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run_options(
        commands.add_parser("run", help="pretrain, cluster and report (main job)")
    )
    from numpy_dec.experiment import add_options as add_experiment_options

    add_experiment_options(commands.add_parser(
        "experiment", help="a grid of settings over several seeds: means and spreads"
    ))
    grad = commands.add_parser("gradcheck", help="finite-difference check of every "
                                                 "derivative in the package")
    grad.add_argument("--only", nargs="+", help="names of the checks to run")
    return parser


def _add_run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--dataset", choices=DATASETS,
                     help="mnist-test: the 10,000 embedded test images (the "
                          "default without --data-dir or --data-file); mnist: "
                          "the 70,000 images in --data-dir")
    run.add_argument("--data-dir", help="folder with the four original MNIST files")
    run.add_argument("--data-file", help="your own matrix: .npy, .npz or .csv")
    run.add_argument("--labels-file",
                     help="labels for --data-file (.npy, .npz or .csv)")
    run.add_argument("--n-samples", type=int, default=None,
                     help="use only the first N samples (quick experiments)")
    run.add_argument("--n-clusters", type=int, default=10)
    run.add_argument("--preset", choices=sorted(PRESETS), default="spec")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     type=_parse_setting, metavar="KEY=VALUE",
                     help="override one preset setting, e.g. --set alpha=0.5")
    run.add_argument("--pixel-restarts", type=int, default=10,
                     help="k-means restarts for the raw-pixel baseline (default 10)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", help="output folder (default: a new one under runs/)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--animation", action="store_true",
                     help="also write dec_embedding.gif: the embedding at every "
                          "target update, projected to 2-D")
    run.add_argument("--resume", metavar="DIR",
                     help="continue the run in DIR from its last checkpoint, with "
                          "the options stored in DIR/run.json")
    run.add_argument("--checkpoint-every", type=int, default=10, metavar="N",
                     help="checkpoint every N epochs and every N DEC target updates "
                          "(default 10); also at the end of each phase and on Ctrl-C")


def _typed_options(argv: list[str]) -> set[str]:
    """The run options written on the command line ``argv``, defaults aside."""
    unset = object()
    probe = argparse.ArgumentParser(add_help=False)
    _add_run_options(probe)
    names = (*STORED_OPTIONS, "out", "quiet", "resume", "checkpoint_every")
    namespace = argparse.Namespace(**{name: unset for name in names})
    namespace.overrides = []
    probe.parse_known_args(argv, namespace=namespace)
    return {k for k, v in vars(namespace).items() if v is not unset and v != []}


def load_data(args, scale: float):
    """(X, y or None, description) from the data options of run and experiment."""
    from numpy_dec.datasets import load_mnist
    from numpy_dec.matrix_files import load_matrix
    from numpy_dec.validation import check_labels

    for name in ("data_dir", "data_file", "labels_file"):
        if getattr(args, name) == "":
            # an unset shell variable, say; it must not mean "no such option"
            raise ValueError(f"--{name.replace('_', '-')} is empty; name a "
                             f"{'folder' if name == 'data_dir' else 'file'}")

    # --dataset None: the embedded test set, unless a folder or a file is named
    if args.data_file:
        if args.data_dir:
            raise ValueError("give either --data-file or --data-dir, not both")
        if args.dataset is not None:
            raise ValueError(
                f"--dataset {args.dataset} and --data-file name two data sets; "
                "give one of them"
            )
        X, y = load_matrix(args.data_file, labels_path=args.labels_file)
        source = f"file {args.data_file}"
    elif args.labels_file:
        raise ValueError("--labels-file goes with --data-file")
    elif args.dataset == "mnist-test" and args.data_dir:
        raise ValueError(
            "--dataset mnist-test is the embedded test set, and --data-dir names "
            "another; give --dataset mnist (or no --dataset) with --data-dir"
        )
    elif args.dataset == "mnist" or args.data_dir:
        if not args.data_dir:
            raise ValueError(
                "--dataset mnist needs --data-dir DIR with the MNIST files"
            )
        if not Path(args.data_dir).is_dir():
            raise FileNotFoundError(f"--data-dir {args.data_dir} is not an existing "
                                    "folder")
        X, y = load_mnist(args.data_dir, scale=scale)
        source = f"MNIST from {args.data_dir}"
    else:
        X, y = load_mnist(None, scale=scale)
        source = "embedded MNIST test set"

    if args.n_samples is not None:
        if not 1 <= args.n_samples <= X.shape[0]:
            raise ValueError(
                f"--n-samples must be between 1 and {X.shape[0]}; got {args.n_samples}"
            )
        X = X[: args.n_samples]
        y = None if y is None else y[: args.n_samples]
    if y is not None:
        y = check_labels(y, X.shape[0])
    return X, y, f"{source}, {X.shape[0]} x {X.shape[1]}"


def check_scale_applies(args, overrides: dict) -> None:
    """Refuse ``--set input_scale=...`` with ``--data-file``, where it would be
    recorded without effect: the scale multiplies the MNIST pixels as they are
    loaded, while a user's matrix is used as given."""
    if args.data_file and "input_scale" in overrides:
        raise ValueError(
            "input_scale multiplies the MNIST pixels as they are loaded; "
            "--data-file is used as given, so scale the file's data instead"
        )


def score_labels(y, labels) -> dict | None:
    """ACC, NMI and ARI of ``labels`` against the classes ``y``; None without y."""
    from numpy_dec.metrics import (
        adjusted_rand_index,
        cluster_accuracy,
        normalized_mutual_info,
    )

    if y is None:
        return None
    return {
        "acc": cluster_accuracy(y, labels),
        "nmi": normalized_mutual_info(y, labels),
        "ari": adjusted_rand_index(y, labels),
    }


def _absolute_paths(args) -> None:
    """Make the data paths absolute, so that a resumed run finds the same files."""
    for name in ("data_dir", "data_file", "labels_file"):
        if getattr(args, name):
            setattr(args, name, str(Path(getattr(args, name)).resolve()))


def _prepare(args, argv: list[str]) -> SimpleNamespace:
    """Everything that can be wrong with the input, found before any training.

    Raises ValueError, TypeError or OSError (a missing file, an unusable
    --out); ``run`` reports those as bad input.
    """
    from numpy_dec.dec import DEC
    from numpy_dec.validation import check_array, check_int, check_n_clusters

    resume = args.resume is not None
    if resume:
        args = stored_args(args, _typed_options(argv))
    else:
        _absolute_paths(args)
    check_set_once([key for key, _ in args.overrides])
    overrides = dict(args.overrides)
    check_scale_applies(args, overrides)
    valid = get_preset(args.preset)
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        # the estimator's own parameters have options of their own
        options = {"preset": "--preset", "random_state": "--seed",
                   "n_clusters": "--n-clusters"}
        hint = "".join(f"; use {options[k]} for {k}" for k in unknown if k in options)
        raise ValueError(f"unknown setting(s) {unknown}{hint}; valid: {sorted(valid)}")
    check_int("--seed", args.seed, 0)
    model = DEC(n_clusters=args.n_clusters, preset=args.preset,
                random_state=args.seed, verbose=0 if args.quiet else 1, **overrides)
    settings = model.settings()
    model._check_settings(settings)
    check_int("--pixel-restarts", args.pixel_restarts, 1)
    check_int("--checkpoint-every", args.checkpoint_every, 1)

    X, y, source = load_data(args, float(settings["input_scale"]))
    X = check_array(X, dtype=settings["dtype"])
    check_n_clusters(args.n_clusters, X.shape[0])
    out = Path(args.out) if resume else new_run_dir(args)
    if resume:
        # other data or labels are refused before the folder changes
        check_checkpoint_data(out / CHECKPOINT_FILE, X)
        check_same_labels(out, y)
    else:
        write_run_file(args, out, y)
    record_environment(out, resume)
    return SimpleNamespace(args=args, model=model, settings=settings, X=X, y=y,
                           source=source, out=out, resume=resume)


def _pixel_baseline(job, reporter) -> tuple[np.ndarray, float]:
    """k-means on the raw inputs; a resumed run reads the labels it stored."""
    from numpy_dec.checkpoint import fingerprint
    from numpy_dec.kmeans import kmeans

    args, path, data = job.args, job.out / PIXELS_FILE, fingerprint(job.X)
    if job.resume and path.is_file():
        try:
            header, arrays = read_archive(path, "k-means baseline")
            labels, seconds = arrays["labels"], float(header["seconds"])
            if (header["data"] == data and labels.shape == (job.X.shape[0],)
                    and labels.dtype.kind == "i" and labels.min() >= 0
                    and labels.max() < args.n_clusters):
                return labels, seconds
        except (StorageError, KeyError, TypeError, ValueError):
            pass
    start = time.perf_counter()
    reporter.phase("kmeans-pixels", f"{args.pixel_restarts} restarts on the inputs")
    pixel_rng = np.random.default_rng(np.random.SeedSequence(args.seed).spawn(4)[3])
    _, labels, _ = kmeans(job.X, args.n_clusters, pixel_rng, n_init=args.pixel_restarts)
    seconds = time.perf_counter() - start
    save_archive(path, {"seconds": seconds, "data": data}, {"labels": labels})
    return labels, seconds


def _train_and_report(job) -> int:
    """Baseline, DEC fit (checkpointed in the run folder), metrics, figures."""
    from numpy_dec import plots
    from numpy_dec.animation import FrameRecorder, write_embedding_gif
    from numpy_dec.metrics import contingency_matrix
    from numpy_dec.reporting import Reporter
    from numpy_dec.validation import scale_checked

    args, model, X, y, out = job.args, job.model, job.X, job.y, job.out
    recorder = FrameRecorder(max_points=2000) if args.animation else None
    reporter = Reporter(0 if args.quiet else 1)
    reporter.phase("data", f"{job.source}; writing to {out}")
    pixel_labels, pixel_seconds = _pixel_baseline(job, reporter)
    # a diverging fit is reported once, by the FloatingPointError the training
    # loops raise on a non-finite loss or embedding; NumPy's overflow warnings
    # on the way there would add a dozen lines
    with scale_checked(), np.errstate(over="ignore", invalid="ignore"):
        model.fit(X, callback=recorder, checkpoint_dir=out,
                  checkpoint_every=args.checkpoint_every, resume=job.resume)
        Q = model.predict_proba(X)

    # metrics.json is identical for identical runs; the timings go apart
    results = {
        "kmeans_pixels": score_labels(y, pixel_labels),
        "kmeans_embedding": score_labels(y, model.kmeans_labels_),
        "dec": score_labels(y, model.labels_),
        "seed": args.seed,
        "preset": args.preset,
        "data": job.source,
        "settings": {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in job.settings.items()},
        "dec_iterations": model.history_["dec"][-1]["iteration"],
        "converged": model.history_["converged"],
    }
    seconds = {"kmeans_pixels": pixel_seconds, **model.history_["seconds"]}
    for name, content in (("metrics.json", results), ("timings.json", seconds)):
        text = json.dumps(content, indent=2) + "\n"
        write_atomic(out / name, lambda f, text=text: f.write(text.encode("utf-8")))
    model.save(out / "model.npz")

    plots.plot_reconstruction(model.history_, out / "reconstruction_loss.png")
    plots.plot_dec(model.history_, out / "dec_loss.png")
    plots.plot_confident_images(X, Q, out / "confident_images.png")
    if y is not None:
        table = contingency_matrix(y, model.labels_)
        plots.plot_confusion(_matched_columns(table), out / "confusion_matrix.png",
                             "DEC confusion matrix")
    if recorder is not None and recorder.frames:
        write_embedding_gif(recorder.frames, out / "dec_embedding.gif")

    _print_table(results, seconds)
    print(f"\nresults in {out}")
    return 0


def run(args, argv: list[str]) -> int:
    """The ``run`` command: exit code 0, 2 for bad input, 130 after Ctrl-C.

    ``argv`` holds the command line after ``run``, to tell which options were
    written out.
    """
    out = None
    try:
        job = _prepare(args, argv)
        out = job.out
        return _train_and_report(job)
    except (ValueError, TypeError, OSError) as error:
        # bad input is found before training; later, only a checkpoint that
        # does not fit is the user's to fix, the rest is a genuine failure
        if out is not None and not isinstance(error, StorageError):
            raise
        return report_bad_input(error)
    except FloatingPointError as error:
        # a diverging run: the settings, not the program, are at fault; its
        # folder would diverge again on --resume, which keeps the settings,
        # so it is marked as neither resumable nor reusable
        where = ""
        if out is not None:
            mark_diverged(out, str(error))
            where = f" and another --out (or delete {out})"
        return report_bad_input(f"{error}; start a new run with other settings{where}")
    except Interrupted as stop:
        print(f"\ninterrupted: checkpoint saved at {stop.where} ({stop.path})\n"
              f"continue with: {resume_command(out)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(_interrupted_message(out), file=sys.stderr)
        return EXIT_INTERRUPTED


def _interrupted_message(out: Path | None) -> str:
    """What Ctrl-C without a fresh checkpoint left behind, and how to go on."""
    if out is None:
        return "\ninterrupted before the run started; nothing was written"
    path = out / CHECKPOINT_FILE
    try:
        where = read_header(path).get("where", "an earlier point")
    except (OSError, ValueError):
        return (f"\ninterrupted before the first checkpoint; start the run again "
                f"with: {resume_command(out)}")
    return (f"\ninterrupted without saving; the last checkpoint ({where}) is kept\n"
            f"continue with: {resume_command(out)}")


def report_bad_input(error: Exception) -> int:
    """Report bad input on one line of standard error; return exit code 2."""
    print(f"error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _matched_columns(table: np.ndarray) -> np.ndarray:
    """Reorder the cluster columns so matched clusters sit on the diagonal."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-table)
    order = list(cols[np.argsort(rows)])
    order += [j for j in range(table.shape[1]) if j not in order]
    return table[:, order]


def _print_table(results: dict, seconds: dict) -> None:
    rows = [("k-means on pixels", "kmeans_pixels", seconds["kmeans_pixels"]),
            ("k-means on embedding", "kmeans_embedding",
             seconds["pretrain"] + seconds["finetune"] + seconds["kmeans_embedding"]),
            ("DEC", "dec", seconds["dec"])]
    print(f"{'method':<22}{'ACC':>8}{'NMI':>8}{'ARI':>8}{'seconds':>10}")
    for title, key, secs in rows:
        score = results[key]
        if score is None:
            print(f"{title:<22}{'-':>8}{'-':>8}{'-':>8}{secs:>10.1f}")
        else:
            print(f"{title:<22}{score['acc']:>8.4f}{score['nmi']:>8.4f}"
                  f"{score['ari']:>8.4f}{secs:>10.1f}")


def gradcheck(args) -> int:
    from numpy_dec.gradcheck import format_table, registered_names, run_all

    unknown = sorted(set(args.only or ()) - set(registered_names()))
    if unknown:
        return report_bad_input(ValueError(
            f"unknown gradient checks {unknown}; registered: {registered_names()}"
        ))
    # a name given twice is checked once, in the order first given
    results = run_all(list(dict.fromkeys(args.only)) if args.only else None)
    print(format_table(results))
    failed = [r for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("default")
    # a warning is one line for the user, without the package's source line
    original_format = warnings.formatwarning
    warnings.formatwarning = _format_warning
    try:
        return _dispatch(args, argv)
    finally:
        warnings.formatwarning = original_format


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def _dispatch(args, argv: list[str] | None) -> int:
    if args.command == "run":
        argv = sys.argv[1:] if argv is None else list(argv)
        return run(args, argv[argv.index("run") + 1:])
    if args.command == "experiment":
        from numpy_dec.experiment import main as experiment

        return experiment(args)
    try:
        return gradcheck(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
