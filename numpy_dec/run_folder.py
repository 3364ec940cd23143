"""The output folder of a run: its options, its environment, how to resume it.

``python -m numpy_dec run`` writes into one folder per run: ``run.json`` holds
the options that define the run, so that ``--resume DIR`` can continue it with
the same ones; ``environment.json`` holds the versions, the cores and the BLAS
thread variables of the session that started it and of every resumption, since
the thread count decides whether two runs match bit for bit. ``experiment``
keeps the same ``environment.json`` in its own folder.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import warnings
from pathlib import Path

import numpy as np

from numpy_dec.checkpoint import CHECKPOINT_FILE, fingerprint
from numpy_dec.storage import read_header, write_atomic

RUN_FILE = "run.json"
ENV_FILE = "environment.json"
# the variables that set the BLAS thread count; a resume command repeats them
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
RUN_FORMAT = "numpy_dec run 1"
# written when training diverged: the folder can be neither resumed nor reused
DIVERGED_FILE = "diverged.txt"
# The options that define a run; --resume reads them back from run.json.
STORED_OPTIONS = ("dataset", "data_dir", "data_file", "labels_file", "n_samples",
                  "n_clusters", "preset", "overrides", "pixel_restarts", "seed")

EMPTY_OUT = ("--out is empty; name a folder, or leave --out out for a new one "
             "under runs/")


def make_folder(out: Path) -> None:
    """Create the output folder ``out`` and its parents, or say why not."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"cannot create --out {out}: a file of that name, or of "
                         "one of its parent folders, exists") from None
    except OSError as error:
        raise ValueError(f"cannot create --out {out}: {error.strerror}") from None


def new_run_dir(args) -> Path:
    """The folder for a new run: ``args.out`` when given (refused when it holds
    a run or other files), else a new folder under runs/ named by the time,
    the preset and the seed. The folder is created."""
    if args.out == "":
        raise ValueError(EMPTY_OUT)
    if args.out:
        out = Path(args.out)
        checkpoint = out / CHECKPOINT_FILE
        if (out / DIVERGED_FILE).is_file():
            raise ValueError(
                f"--out {out} holds a run that diverged; choose another --out, or "
                "delete that folder first"
            )
        if checkpoint.exists() and phase_of(checkpoint) != "done":
            raise ValueError(
                f"--out {out} holds an unfinished run; continue it with "
                f"--resume {out}, or choose another --out"
            )
        if (out / "metrics.json").exists():
            raise ValueError(
                f"--out {out} holds a finished run; choose another --out, or "
                "delete that folder first"
            )
        # a run writes metrics.json, model.npz, plots...: never over a folder
        # of other files
        refuse_foreign_folder(out, ours=(out / RUN_FILE).exists())
    else:
        out = timestamped_folder(f"{args.preset}-seed{args.seed}")
    make_folder(out)
    return out


def refuse_foreign_folder(out: Path, ours: bool, alternative: str = "") -> None:
    """Refuse ``--out`` when it is a file, or a folder holding other files than
    the command's own (``ours`` False); ``alternative`` ends the advice."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; --out names a folder")
    if out.is_dir() and not ours and any(out.iterdir()):
        raise ValueError(
            f"--out {out} is a folder with other files in it; name a new or "
            f"empty folder{alternative}"
        )


def timestamped_folder(name: str) -> Path:
    """A path under runs/ that does not exist yet: the time, then ``name``,
    then -2, -3, ... when two folders are named in the same second."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out, suffix = Path("runs") / f"{stamp}-{name}", 1
    while out.exists():
        suffix += 1
        out = Path("runs") / f"{stamp}-{name}-{suffix}"
    return out


def phase_of(checkpoint: Path) -> str | None:
    """The phase stored in a checkpoint file, or None when it is unreadable."""
    try:
        return read_header(checkpoint).get("phase")
    except (OSError, ValueError):
        return None


def stored_args(args, typed: set[str]) -> argparse.Namespace:
    """The options of the run in ``args.resume``, read from its run.json.

    ``typed`` names the options given on the command line; those that the run
    folder defines may not be given again.
    """
    given = sorted(typed & {*STORED_OPTIONS, "out"})
    if given:
        # the option's flag, which for the overrides is --set
        flag = {"overrides": "set"}
        flags = ", ".join("--" + flag.get(name, name).replace("_", "-")
                          for name in given)
        raise ValueError(
            f"--resume continues with the settings stored in the run folder; drop "
            f"{flags} (only --quiet, --checkpoint-every and --animation may be "
            "given with it)"
        )
    if not args.resume:
        raise ValueError("--resume is empty; name the folder of the run to continue")
    folder = Path(args.resume)
    path = folder / RUN_FILE
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--resume {folder} is a file; name the folder of a run")
    if not folder.is_dir():
        raise FileNotFoundError(f"--resume {folder}: no such folder")
    if (folder / DIVERGED_FILE).is_file():
        raise ValueError(
            f"--resume {folder}: that run diverged, and resuming it would repeat "
            "the same computation; start a new run with other settings"
        )
    if path.is_dir():
        raise ValueError(f"--resume {folder}: its {RUN_FILE} is a folder, not a "
                         "run file")
    if not path.is_file():
        raise FileNotFoundError(
            f"--resume {folder}: no {RUN_FILE} there, so it is not a folder written "
            "by 'python -m numpy_dec run'"
        )
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict):
            stored = {}
        options = stored.get("options")
        if (stored.get("format") != RUN_FORMAT or not isinstance(options, dict)
                or set(options) != set(STORED_OPTIONS)
                or not isinstance(options["overrides"], dict)):
            raise ValueError(f"expected format {RUN_FORMAT!r} with the options "
                             f"{list(STORED_OPTIONS)}")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path} is damaged or not a run file: {error}") from None
    if options["dataset"] == "mnist-test" and (options["data_file"]
                                               or options["data_dir"]):
        # folders written while --dataset defaulted to mnist-test stored it
        # beside the file or folder that the run actually read
        options["dataset"] = None

    resumed = argparse.Namespace(**vars(args))
    for name in STORED_OPTIONS:
        setattr(resumed, name, options[name])
    resumed.overrides = [(k, tuple(v) if isinstance(v, list) else v)
                         for k, v in options["overrides"].items()]
    resumed.out = str(folder)
    return resumed


def write_run_file(args, out: Path, y: np.ndarray | None) -> None:
    """Store the options of a new run in ``out/run.json``, paths made absolute,
    with the fingerprint of its labels y (N,), or null without labels."""
    options = {name: getattr(args, name) for name in STORED_OPTIONS}
    options["overrides"] = dict(args.overrides)
    labels = None if y is None else fingerprint(y)
    text = json.dumps({"format": RUN_FORMAT, "options": options, "labels": labels},
                      indent=2) + "\n"
    try:
        write_atomic(out / RUN_FILE, lambda f: f.write(text.encode("utf-8")))
    except OSError as error:
        # the first file of a run: a folder that exists but takes no files
        raise ValueError(f"cannot write into --out {out}: {error.strerror}") from None


def check_same_labels(out: Path, y: np.ndarray | None) -> None:
    """Refuse to resume the run in ``out`` with labels y (N,) other than those
    it started with: its scores would mix the two. A run.json written before
    runs kept the labels' fingerprint has none to compare."""
    stored = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    if "labels" not in stored:
        return
    current = None if y is None else fingerprint(y)
    if stored["labels"] != current:
        raise ValueError(
            f"--resume {out}: the labels differ from those the run started with "
            f"(then {_described_labels(stored['labels'])}, now "
            f"{_described_labels(current)}); restore them, or start a new run"
        )


def _described_labels(labels: dict | None) -> str:
    """A labels fingerprint for a message: none, or shape and digest."""
    if labels is None:
        return "none"
    return f"shape {labels['shape']}, SHA-256 {labels['sha256'][:12]}..."


def environment() -> dict:
    """What decides the numbers besides the settings: versions, BLAS, threads.

    OpenBLAS runs one thread per available core unless OPENBLAS_NUM_THREADS
    or OMP_NUM_THREADS sets the number, and results match bit for bit only
    at the same thread count; a variable that is not set is stored as null.
    """
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas['name']} {blas['version']}"
    except (TypeError, KeyError):
        blas = "unknown (numpy.show_config has no dicts mode before numpy 1.26)"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "machine": platform.machine(),
        "cores_available": cores,
        **{name: os.environ.get(name) for name in THREAD_VARIABLES},
    }


def record_environment(out: Path, resume: bool) -> None:
    """Store the environment in ``out/environment.json``: the one the run (or
    experiment) started in under "started", every resumption's under "resumed".

    A resumption whose environment differs from the start's (another BLAS
    thread count, say) gives other numbers than an uninterrupted run; it is
    allowed, with a warning that names the differences.
    """
    path, now = out / ENV_FILE, environment()
    record = {"started": now, "resumed": []}
    if resume:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            started = record["started"]
            record["resumed"] = list(record.get("resumed", []))
        except (OSError, ValueError, KeyError, TypeError):
            record, started = {"started": None, "resumed": []}, None
        if started is None:
            warnings.warn(
                f"{path} is missing or unreadable, so this resumption cannot be "
                "checked against the environment the run started in",
                RuntimeWarning, stacklevel=2,
            )
        else:
            changed = [f"{key}: {started.get(key)!r} then, {value!r} now"
                       for key, value in now.items() if started.get(key) != value]
            if changed:
                warnings.warn(
                    f"{out} was started in another environment ("
                    + "; ".join(changed) + "); what is computed from here on "
                    "will not match an uninterrupted run bit for bit. Set the "
                    "same thread variables to resume exactly",
                    RuntimeWarning, stacklevel=2,
                )
        record["resumed"].append(now)
    text = json.dumps(record, indent=2) + "\n"
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def resume_command(out: Path) -> str:
    """The command that continues the run in ``out``, with this interpreter.

    The interpreter is named by its path (relative when it lies below the
    current folder, as make's .venv/bin/python does), so that the command
    works pasted into a shell where that virtual environment is not active.
    The BLAS thread variables set now are repeated in front of it: the same
    thread count is what makes the resumed run match an uninterrupted one.
    """
    python = Path(sys.executable)
    try:
        python = python.relative_to(Path.cwd())
    except ValueError:
        pass
    variables = "".join(f"{name}={shlex.quote(os.environ[name])} "
                        for name in THREAD_VARIABLES if name in os.environ)
    return (f"{variables}{shlex.quote(str(python))} -m numpy_dec run --resume "
            f"{shlex.quote(str(out))}")


def mark_diverged(out: Path, message: str) -> None:
    """Record in ``out`` that its training diverged, with the error message."""
    write_atomic(out / DIVERGED_FILE, lambda f: f.write((message + "\n").encode()))
