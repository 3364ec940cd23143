"""Speed and memory figures of numpy_dec, printed in one run: ``make bench``.

1. The float32 GEMM peak of this machine (square products, best round).
2. One training step of the 784-500-500-2000-10 autoencoder + mirror (batch
   256, SGD momentum 0.9) in numpy_dec and, when it is installed, in PyTorch
   CPU eager mode with the same threads: samples/s, ratio, fraction of peak.
3. One DEC step (Q, P, KL, both gradients) over N = 1e3..1e5 and K = 5..100,
   the fitted log-log slopes in N and in K, and a plot in benchmarks/out/;
   with threadpoolctl, the grid again with numpy's BLAS on one thread.
4. Peak resident memory of the main job's data path and DEC on 70,000 x 784
   float32 synthetic data, as a multiple of the data size.

Every time is the best of several rounds (the machine is shared); the median
is printed beside it as a sign of the noise. Nothing here is a test: no figure
can fail, the targets are printed for comparison only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ae_step  # noqa: E402
import dec_scaling  # noqa: E402
import memory  # noqa: E402
from timing import median, time_rounds  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
TARGET_RATIO, TARGET_SLOPE, TARGET_MEMORY = 1.10, 1.05, 1.5


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_info() -> tuple[str, int]:
    """(description of numpy's BLAS, its thread count) from threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to report it)", os.cpu_count() or 1
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    ours = next((p for p in pools if "numpy" in p["filepath"]), None)
    ours = ours or (pools[0] if pools else None)
    if ours is None:
        return "none found by threadpoolctl", os.cpu_count() or 1
    kernel = ours.get("architecture") or "?"
    text = (
        f"{ours['internal_api']} {ours['version']}, kernel {kernel}, "
        f"{ours['num_threads']} threads ({ours.get('threading_layer', '?')})"
    )
    if len(pools) > 1:
        text += f"; {len(pools)} BLAS libraries loaded (only numpy's is called here)"
    return text, int(ours["num_threads"])


def cpu_seconds() -> tuple[float, float, float]:
    """(busy, total) CPU seconds of the whole machine, and this process's own.

    From /proc/stat (user, nice, system, irq, softirq count as busy); the
    difference over the run shows how much other processes took.
    """
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:8]]
    except OSError:
        return float("nan"), float("nan"), 0.0
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    own = os.times()
    mine = own.user + own.system + own.children_user + own.children_system
    return busy / tick, (busy + fields[3] + fields[4]) / tick, mine


def square_product(n: int):
    """(call, FLOPs) of one float32 product of two n x n matrices."""
    rng = np.random.default_rng(n)
    A = rng.random((n, n), dtype=np.float32)
    B = rng.random((n, n), dtype=np.float32)
    return (lambda: A @ B), 2.0 * n**3


def gemm_peak(repeat: int) -> float:
    """Best float32 GFLOP/s of square products, n = 1024, 2048 and 3072."""
    best = 0.0
    for n in (1024, 2048, 3072):
        product, flops = square_product(n)
        product()
        best = max(best, flops / min(time_rounds(product, 2, repeat)) / 1e9)
    return best


def bench_ae(repeat: int, number: int, threads: int, skip_torch: bool) -> dict:
    """Alternating rounds of the numpy_dec and PyTorch steps; best of each.

    The matrix products of a step alone, and a 2048 x 2048 product for the
    GEMM peak, take their turns in the same rounds, so that every figure
    sees the same machine.
    """
    step, model, batches = ae_step.make_numpy_step()
    flops = ae_step.step_flops(model)
    steps = {"numpy_dec": step}
    torch, torch_text = (None, "skipped (--skip-torch)")
    if not skip_torch:
        torch, torch_text = ae_step.torch_status()
    if torch is not None:
        steps["pytorch"] = ae_step.make_torch_step(torch, model, batches, threads)
    steps["matrix products alone"] = ae_step.matmul_only(model, batches[0])
    square, square_flops = square_product(2048)

    # warm up, then alternate rounds so that load changes hit every entry alike;
    # the pause lets the other library's spinning worker threads go to sleep
    for fn in steps.values():
        time_rounds(fn, 10, 1)
    rounds = {name: [] for name in steps}
    square_best = float("inf")
    for _ in range(repeat):
        for name, fn in steps.items():
            time.sleep(0.1)
            rounds[name] += time_rounds(fn, number, 1)
        square_best = min(square_best, *time_rounds(square, 1, 2))
    return {
        "flops": flops,
        "torch": torch_text,
        "gemm_gflops": square_flops / square_best / 1e9,
        "best": {name: min(r) for name, r in rounds.items()},
        "median": {name: median(r) for name, r in rounds.items()},
    }


def report_ae(ae: dict, peak: float) -> list[str]:
    lines = [
        f"  network 784-500-500-2000-10 + mirror, batch {ae_step.BATCH_SIZE}, float32,"
        f" {ae['flops'] / 1e9:.2f} GFLOP of matrix products per step"
    ]
    for name, best in ae["best"].items():
        rate = ae_step.BATCH_SIZE / best
        frac = ae["flops"] / best / 1e9 / peak
        lines.append(
            f"  {name:22s} {best * 1e3:7.2f} ms/step "
            f"(median {ae['median'][name] * 1e3:6.2f})"
            f"  {rate:8.0f} samples/s  {frac:5.1%} of peak"
        )
    if "pytorch" in ae["best"]:
        ratio = ae["best"]["pytorch"] / ae["best"]["numpy_dec"]
        lines.append(f"  throughput numpy_dec / PyTorch = {ratio:.3f} "
                     f"(target >= {TARGET_RATIO:.2f})")
    else:
        lines.append(f"  PyTorch: {ae['torch']}")
    return lines


def _grid(n_values, k_values, times: np.ndarray) -> dict:
    return {
        "n": list(n_values), "k": list(k_values), "seconds": times.tolist(),
        "slope_n": {k: dec_scaling.slope(n_values, times[:, b])
                    for b, k in enumerate(k_values)},
        "slope_k": {n: dec_scaling.slope(k_values, times[a, :])
                    for a, n in enumerate(n_values)},
    }


def bench_dec(quick: bool) -> dict:
    """The grid with numpy's BLAS as configured and, when threadpoolctl is
    installed, again with BLAS on one thread (to show what its threads cost)."""
    n_values = dec_scaling.N_VALUES[:4] if quick else dec_scaling.N_VALUES
    k_values = dec_scaling.K_VALUES
    times = dec_scaling.time_grid(n_values, k_values)
    single = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        with threadpool_limits(1, user_api="blas"):
            single = dec_scaling.time_grid(n_values, k_values)
    dec_scaling.plot(n_values, k_values, times, OUT / "dec_scaling.png", single)
    result = _grid(n_values, k_values, times)
    result["one_thread"] = None if single is None else _grid(n_values, k_values, single)
    return result


def report_dec(dec: dict, label: str) -> list[str]:
    k_values = dec["k"]
    header = "".join(f"{'K=' + str(k):>10s}" for k in k_values)
    lines = [f"  {label}", "  ms per step" + header + "   slope in K"]
    for a, n in enumerate(dec["n"]):
        cells = "".join(f"{t * 1e3:10.2f}" for t in dec["seconds"][a])
        lines.append(f"  N={n:<9,d}" + cells + f"   {dec['slope_k'][n]:6.3f}")
    slopes = "".join(f"{dec['slope_n'][k]:10.3f}" for k in k_values)
    lines.append("  slope in N " + slopes)
    worst_n, worst_k = max(dec["slope_n"].values()), max(dec["slope_k"].values())
    lines.append(f"  largest slope: in N {worst_n:.3f}, in K {worst_k:.3f} "
                 f"(target <= {TARGET_SLOPE:.2f})")
    return lines


def report_memory(mem: dict) -> list[str]:
    data_mib = mem["data_bytes"] / 2**20
    base_mib = mem["baseline_kib"] / 1024
    n, d = mem["shape"]
    lines = [
        f"  data {n:,} x {d} float32 = {data_mib:.1f} MiB; baseline (python with "
        f"numpy imported) {base_mib:.1f} MiB"
    ]
    for name, hwm in mem["phases"]:
        excess = (hwm / 1024 - base_mib) / data_mib
        lines.append(
            f"  {name:44s} peak {hwm / 1024:8.1f} MiB  excess {excess:5.2f} x data"
        )
    top = max(hwm for _, hwm in mem["phases"]) / 1024
    mem["excess"] = (top - base_mib) / data_mib
    lines.append(
        f"  peak above baseline: {top - base_mib:.1f} MiB = {mem['excess']:.2f} x "
        f"the data (target <= {TARGET_MEMORY:.1f})"
    )
    if not mem["resettable"]:
        lines.append("  (VmHWM could not be reset: each phase shows the peak so far)")
    lines.append("  (a phase's window runs from its progress line to the next one's)")
    return lines


def _step_cell(ae: dict, name: str, peak: float) -> str:
    best = ae["best"][name]
    return (
        f"{ae_step.BATCH_SIZE / best:.0f} samples/s ({best * 1e3:.1f} ms, "
        f"{ae['flops'] / best / 1e9 / peak:.0%} of peak)"
    )


def markdown(env: dict, peak: float, ae: dict, dec, mem) -> list[str]:
    """The results as a Markdown table, headed by the machine description."""
    best = ae["best"]
    rows = [
        "| figure | measured | target |",
        "| --- | --- | --- |",
        f"| float32 GEMM peak | {peak:.0f} GFLOP/s | |",
        f"| AE step, numpy_dec | {_step_cell(ae, 'numpy_dec', peak)} | |",
    ]
    if "pytorch" in best:
        ratio = best["pytorch"] / best["numpy_dec"]
        rows.append(
            f"| AE step, PyTorch {env['torch_version']} eager | "
            f"{_step_cell(ae, 'pytorch', peak)} | |"
        )
        rows.append(
            f"| throughput ratio numpy_dec / PyTorch | {ratio:.2f} | "
            f">= {TARGET_RATIO:.2f} |"
        )
    if dec is not None:
        n_max, k_max = dec["n"][-1], dec["k"][-1]
        rows.append(
            f"| DEC step, N={n_max:,}, K={k_max} | "
            f"{dec['seconds'][-1][-1] * 1e3:.0f} ms | |"
        )
        rows.append(
            f"| DEC step, largest log-log slope in N / in K | "
            f"{max(dec['slope_n'].values()):.2f} / "
            f"{max(dec['slope_k'].values()):.2f} | <= {TARGET_SLOPE:.2f} |"
        )
        one = dec["one_thread"]
        if one is not None:
            rows.append(
                f"| the same, BLAS on 1 thread | "
                f"{max(one['slope_n'].values()):.2f} / "
                f"{max(one['slope_k'].values()):.2f} | |"
            )
    if mem is not None:
        rows.append(
            f"| peak RSS above baseline, main job on 70,000 x 784 | "
            f"{mem['excess']:.2f} x data | <= {TARGET_MEMORY:.1f} x |"
        )
    head = [
        f"Command: `make bench`; {env['date']}; machine: {env['nproc']} cores "
        f"(`nproc`), {env['cpu']}; numpy {env['numpy']}, BLAS {env['blas']}; "
        f"load average at start {env['load']}; other processes took "
        f"{env['others']} of the CPU time during the run.",
        "",
    ]
    return head + rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds, smaller grid"
    )
    parser.add_argument("--skip-torch", action="store_true")
    parser.add_argument("--skip-dec", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    repeat, number = (3, 10) if args.quick else (25, 5)
    start = time.perf_counter()
    cpu_start = cpu_seconds()

    blas, threads = blas_info()
    _, torch_text = (None, "skipped") if args.skip_torch else ae_step.torch_status()
    env = {
        "date": datetime.date.today().isoformat(), "nproc": os.cpu_count(),
        "cpu": cpu_model(), "numpy": np.__version__, "blas": blas,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "torch_version": torch_text.split(",")[0].replace("torch ", ""),
    }
    print(f"numpy_dec benchmark, {env['date']}, python {platform.python_version()}")
    print(f"  machine: {env['nproc']} cores, {env['cpu']}; load average {env['load']}")
    print(f"  numpy {env['numpy']}, BLAS {blas}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS"):
        print(f"  {var}={os.environ.get(var, '(unset)')}")
    print(f"  PyTorch: {torch_text}")

    ae = bench_ae(repeat, number, threads, args.skip_torch)
    peak = max(gemm_peak(repeat), ae["gemm_gflops"])
    print(f"\nfloat32 GEMM peak: {peak:.0f} GFLOP/s on {threads} threads "
          "(best square product, n = 1024..3072)")

    print("\nautoencoder training step (forward + backward + SGD momentum step)")
    print("\n".join(report_ae(ae, peak)))

    dec = None
    if not args.skip_dec:
        print("\nDEC step: soft_assignment, target_distribution, kl_divergence, "
              f"kl_gradients, E = {dec_scaling.EMBEDDING_SIZE}, float32")
        dec = bench_dec(args.quick)
        print("\n".join(report_dec(dec, f"BLAS on {threads} threads")))
        if dec["one_thread"] is not None:
            print("\n".join(report_dec(dec["one_thread"], "BLAS on 1 thread")))
        print(f"  plot: {OUT / 'dec_scaling.png'}")

    mem = None
    if not args.skip_memory:
        print("\npeak resident memory, main job's data path + DEC (fresh interpreter)")
        mem = memory.measure()
        print("\n".join(report_memory(mem)))

    # the share of the machine that other processes took during the run
    busy, total, mine = (b - a for a, b in zip(cpu_start, cpu_seconds()))
    env["others"] = f"{max(busy - mine, 0.0) / total:.0%}" if total > 0 else "?"
    print(f"\nother processes used {env['others']} of the machine's CPU time "
          "during the run; figures from a busy machine are pessimistic")

    table = markdown(env, peak, ae, dec, mem)
    print("\nMarkdown for the README:\n")
    print("\n".join(table))
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"env": env, "gemm_peak_gflops": peak, "ae": ae, "dec": dec,
               "memory": mem}
    path = OUT / "results.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\ntotal {time.perf_counter() - start:.0f} s; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
