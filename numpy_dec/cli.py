"""Command line: ``python -m numpy_dec run | gradcheck``.

Bad input ends the program with one line on standard error and exit code 2;
progress goes to standard error; the results table goes to standard output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from numpy_dec.presets import PRESETS, get_preset

EXIT_BAD_INPUT = 2


def _parse_setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as JSON where it parses (numbers, null)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, list):
        value = tuple(value)
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m numpy_dec",
        description="Deep Embedded Clustering in NumPy, gradients written by hand.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="pretrain, cluster and report (main job)")
    run.add_argument("--dataset", choices=("mnist-test", "mnist"), default="mnist-test",
                     help="mnist-test: the 10,000 embedded test images (default); "
                          "mnist: the 70,000 images in --data-dir")
    run.add_argument("--data-dir", help="folder with the four original MNIST files")
    run.add_argument("--data-file", help="your own matrix: .npy, .npz or .csv")
    run.add_argument("--labels-file", help="labels for --data-file (.npy or .csv)")
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

    grad = commands.add_parser("gradcheck", help="finite-difference check of every "
                                                 "derivative in the package")
    grad.add_argument("--only", nargs="*", help="names of the checks to run")
    return parser


def _load_data(args, scale: float):
    """(X, y or None, description) from the command line's data options."""
    from numpy_dec.datasets import load_matrix, load_mnist
    from numpy_dec.validation import check_labels

    if args.data_file:
        if args.data_dir:
            raise ValueError("give either --data-file or --data-dir, not both")
        X, y = load_matrix(args.data_file, labels_path=args.labels_file)
        source = f"file {args.data_file}"
    elif args.labels_file:
        raise ValueError("--labels-file goes with --data-file")
    elif args.dataset == "mnist" or args.data_dir:
        if not args.data_dir:
            raise ValueError("--dataset mnist needs --data-dir DIR with the MNIST files")
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


def _new_run_dir(args) -> Path:
    if args.out:
        out = Path(args.out)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{stamp}-{args.preset}-seed{args.seed}"
        suffix = 1
        while out.exists():
            suffix += 1
            out = Path("runs") / f"{stamp}-{args.preset}-seed{args.seed}-{suffix}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _scores(y, labels) -> dict | None:
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


def run(args) -> int:
    from numpy_dec import plots
    from numpy_dec.dec import DEC
    from numpy_dec.kmeans import kmeans
    from numpy_dec.metrics import contingency_matrix
    from numpy_dec.reporting import Reporter

    # everything that can be wrong with the input is found before training
    overrides = dict(args.overrides)
    settings = get_preset(args.preset)
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; valid: {sorted(settings)}")
    model = DEC(n_clusters=args.n_clusters, preset=args.preset,
                random_state=args.seed, verbose=0 if args.quiet else 1, **overrides)
    settings = model.settings()
    model._check_settings(settings)
    if args.pixel_restarts < 1:
        raise ValueError(f"--pixel-restarts must be >= 1; got {args.pixel_restarts}")
    X, y, source = _load_data(args, float(settings["input_scale"]))
    from numpy_dec.validation import check_array, check_n_clusters

    X = check_array(X, dtype=settings["dtype"])
    check_n_clusters(args.n_clusters, X.shape[0])
    out = _new_run_dir(args)
    reporter = Reporter(0 if args.quiet else 1)
    reporter.phase("data", f"{source}; writing to {out}")

    # baseline: k-means on the raw inputs
    start = time.perf_counter()
    reporter.phase("kmeans-pixels", f"{args.pixel_restarts} restarts on the inputs")
    pixel_rng = np.random.default_rng(np.random.SeedSequence(args.seed).spawn(4)[3])
    _, pixel_labels, _ = kmeans(X, args.n_clusters, pixel_rng,
                                n_init=args.pixel_restarts)
    pixel_seconds = time.perf_counter() - start

    model.fit(X)
    Q = model.predict_proba(X)
    seconds = {"kmeans_pixels": pixel_seconds, **model.history_["seconds"]}

    results = {
        "kmeans_pixels": _scores(y, pixel_labels),
        "kmeans_embedding": _scores(y, model.kmeans_labels_),
        "dec": _scores(y, model.labels_),
        "seed": args.seed,
        "preset": args.preset,
        "data": source,
        "settings": {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in settings.items()},
        "dec_iterations": model.history_["dec"][-1]["iteration"],
        "converged": model.history_["converged"],
        "seconds": seconds,
    }
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    model.save(out / "model.npz")

    plots.plot_reconstruction(model.history_, out / "reconstruction_loss.png")
    plots.plot_dec(model.history_, out / "dec_loss.png")
    plots.plot_confident_images(X, Q, out / "confident_images.png")
    if y is not None:
        table = contingency_matrix(y, model.labels_)
        plots.plot_confusion(_matched_columns(table), out / "confusion_matrix.png",
                             "DEC confusion matrix")

    _print_table(results, seconds)
    print(f"\nresults in {out}")
    return 0


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
    from numpy_dec.gradcheck import format_table, run_all

    results = run_all(args.only or None)
    print(format_table(results))
    failed = [r for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("default")
    try:
        if args.command == "run":
            return run(args)
        return gradcheck(args)
    except (ValueError, TypeError, FileNotFoundError, IsADirectoryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
