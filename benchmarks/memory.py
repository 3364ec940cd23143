"""Peak resident memory of the main job's data path and DEC, phase by phase.

``measure`` writes synthetic MNIST-format files (70,000 random 28 x 28 images,
raw IDX) into a temporary folder and runs this file as a fresh interpreter on
them. The child does what ``python -m numpy_dec run --data-dir DIR`` does up to
the results: ``load_mnist``, ``check_array``, k-means on the pixels,
``DEC.fit`` and ``predict_proba``. Each pretraining pair and the fine-tuning
train one epoch over all N rows (a pair encodes its input one minibatch at a
time) and DEC runs 20 iterations: every kind of step of the full run, each
holding what it holds there, in the same order.

The peak of each phase is the kernel's high-water mark of the resident set
(VmHWM in /proc/self/status), reset between phases by writing 5 to
/proc/self/clear_refs. Inside ``DEC.fit`` the phases are the estimator's own
progress phases (pretrain 1/4, ..., finetune, kmeans, dec), found by wrapping
``Reporter.phase``. No allocation tracer runs, so the numbers are the process's
real footprint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

N_TRAIN, N_TEST, SIDE = 60_000, 10_000, 28


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (magic 0x0000080N, big-endian sizes)."""
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with open(path, "wb") as f:
        f.write(header)
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_synthetic_mnist(folder: Path, seed: int = 0) -> None:
    """The four MNIST files with random pixels and labels, 70,000 images."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = rng.integers(0, 256, size=(n, SIDE, SIDE), dtype=np.uint8)
        _write_idx(folder / f"{split}-images-idx3-ubyte", images)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        _write_idx(folder / f"{split}-labels-idx1-ubyte", labels)


def measure() -> dict:
    """Run the child on synthetic data; return its JSON report as a dict."""
    with tempfile.TemporaryDirectory(prefix="numpy_dec_mem_") as tmp:
        write_synthetic_mnist(Path(tmp))
        done = subprocess.run(
            [sys.executable, __file__, tmp],
            capture_output=True, text=True, check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(data_dir: str) -> dict:
    """Measure the phases in this (fresh) interpreter; see the module docstring."""
    baseline = _status_kib("VmHWM")
    resettable = _reset_peak()
    phases: list[tuple[str, int]] = []
    current = {"name": "import numpy_dec"}

    def close_phase(next_name: str) -> None:
        phases.append((current["name"], _status_kib("VmHWM")))
        current["name"] = next_name
        _reset_peak()

    from numpy_dec import reporting
    from numpy_dec.datasets import load_mnist
    from numpy_dec.dec import DEC
    from numpy_dec.kmeans import kmeans
    from numpy_dec.validation import check_array

    # every progress phase of the estimator closes the previous one
    original_phase = reporting.Reporter.phase
    prefix = {"text": "DEC.fit: "}

    def phase(self, name, message=""):
        close_phase(prefix["text"] + name)
        return original_phase(self, name, message)

    reporting.Reporter.phase = phase

    close_phase("load_mnist")
    X, y = load_mnist(data_dir, scale=1 / 255)
    close_phase("check_array")
    X = check_array(X, dtype="float32")
    close_phase("k-means on the pixels")
    kmeans(X, 10, np.random.default_rng(0), n_init=1, max_iter=10)

    close_phase("DEC.fit: build")
    model = DEC(
        n_clusters=10, preset="spec", pretrain_epochs=1, finetune_epochs=1,
        kmeans_n_init=1, max_iter=20, update_interval=10,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    close_phase("predict_proba")
    model.predict_proba(X)
    close_phase("end")

    return {
        "baseline_kib": baseline,
        "resettable": resettable,
        "data_bytes": int(X.nbytes),
        "shape": list(X.shape),
        "phases": phases,
    }


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1])))
