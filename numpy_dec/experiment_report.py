"""The tables and the plot of an experiment (``numpy_dec.experiment``).

They are computed from the finished runs alone: ``found`` maps (setting name,
seed) to ``{method: {"acc": ..., "nmi": ..., "ari": ...}, "seconds": {phase:
seconds}}`` for the methods in ``METHODS``. ``write_report`` writes:

results.md, results.csv
    Per setting and method (k-means on the inputs, k-means on the embedding,
    DEC): ACC, NMI and ARI as mean, standard deviation over the finished seeds
    (ddof 1; empty for a single seed), min and max. They hold no timings: the
    same grid, seeds and data give these two files byte for byte.
timings.md, timings.csv
    Per setting, mean and standard deviation of the seconds of each phase
    (k-means on the inputs, pretraining, fine-tuning, k-means on the embedding,
    DEC) and of their total.
per_seed.csv
    The three scores of every (setting, seed, method).
accuracy.png
    The accuracy of every seed, per setting and method, a bar at each mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from numpy_dec.storage import write_atomic

METHODS = {"kmeans_pixels": "k-means on pixels",
           "kmeans_embedding": "k-means on embedding", "dec": "DEC"}
METRICS = ("acc", "nmi", "ari")
PHASES = ("kmeans_pixels", "pretrain", "finetune", "kmeans_embedding", "dec")
STATS = ("mean", "std", "min", "max")


def summarize(values: list[float]) -> dict[str, float | None]:
    """Mean, standard deviation (ddof 1; None for one value), min and max."""
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return {"mean": float(np.mean(values)), "std": std,
            "min": float(np.min(values)), "max": float(np.max(values))}


def _number(x: float | None, digits: int) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def _mean_std(stats: dict, digits: int) -> str:
    spread = "" if stats["std"] is None else f" ± {stats['std']:.{digits}f}"
    return f"{stats['mean']:.{digits}f}{spread}"


def _finished(found: dict, name: str, seeds: list[int]) -> list[tuple[int, dict]]:
    """The (seed, run) pairs of one setting that have finished, in seed order."""
    return [(seed, found[name, seed]) for seed in seeds if (name, seed) in found]


def score_tables(names: list[str], seeds: list[int], found: dict,
                 header: str) -> dict[str, str]:
    """results.md, results.csv and per_seed.csv: scores only, no timings."""
    md = [f"# DEC experiment\n\n{header} Each cell: mean ± standard deviation "
          "over the finished seeds (ddof 1) [min, max].\n",
          "| setting | method | seeds | ACC | NMI | ARI |", "|---|---|---|---|---|---|"]
    csv = ["setting,method,seeds," + ",".join(f"{metric}_{stat}" for metric in METRICS
                                              for stat in STATS)]
    per_seed = ["setting,seed,method," + ",".join(METRICS)]
    for name in names:
        runs = _finished(found, name, seeds)
        if not runs:
            continue
        for method, title in METHODS.items():
            stats = [summarize([run[method][m] for _, run in runs]) for m in METRICS]
            cells = [f"{_mean_std(s, 4)} [{s['min']:.4f}, {s['max']:.4f}]"
                     for s in stats]
            md.append(f"| {name} | {title} | {len(runs)} | {' | '.join(cells)} |")
            numbers = [_number(s[stat], 6) for s in stats for stat in STATS]
            csv.append(f"{name},{method},{len(runs)}," + ",".join(numbers))
            per_seed += [f"{name},{seed},{method}," + ",".join(
                f"{run[method][m]:.6f}" for m in METRICS) for seed, run in runs]
    return {"results.md": "\n".join(md) + "\n", "results.csv": "\n".join(csv) + "\n",
            "per_seed.csv": "\n".join(per_seed) + "\n"}


def timing_tables(names: list[str], seeds: list[int], found: dict,
                  header: str) -> dict[str, str]:
    """timings.md and timings.csv: mean and std of the seconds of each phase."""
    columns = (*PHASES, "total")
    md = [f"# Seconds per phase\n\n{header} Each cell: mean ± standard deviation "
          "over the finished seeds (ddof 1). k-means on pixels runs once per seed "
          "and is shared by all settings.\n",
          "| setting | seeds | " + " | ".join(columns) + " |",
          "|---|---|" + "---|" * len(columns)]
    csv = ["setting,seeds," + ",".join(f"{c}_{stat}" for c in columns
                                       for stat in ("mean", "std"))]
    for name in names:
        runs = _finished(found, name, seeds)
        if not runs:
            continue
        seconds = {p: [run["seconds"].get(p, 0.0) for _, run in runs] for p in PHASES}
        seconds["total"] = [sum(per_phase) for per_phase in zip(*seconds.values())]
        stats = [summarize(seconds[c]) for c in columns]
        md.append(f"| {name} | {len(runs)} | "
                  + " | ".join(_mean_std(s, 1) for s in stats) + " |")
        csv.append(f"{name},{len(runs)}," + ",".join(
            _number(s[stat], 3) for s in stats for stat in ("mean", "std")))
    return {"timings.md": "\n".join(md) + "\n", "timings.csv": "\n".join(csv) + "\n"}


def plot_accuracies(names: list[str], seeds: list[int], found: dict,
                    path: Path) -> None:
    """The ACC of every seed per setting and method, with a bar at each mean."""
    from numpy_dec.plots import plt

    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(names) + 1.5), 4))
    for m, (method, title) in enumerate(METHODS.items()):
        for i, name in enumerate(names):
            acc = [run[method]["acc"] for _, run in _finished(found, name, seeds)]
            x = i + 0.25 * (m - 1)
            ax.scatter([x] * len(acc), acc, s=16, alpha=0.7, color=f"C{m}",
                       label=title if i == 0 else None)
            if acc:
                ax.hlines(np.mean(acc), x - 0.1, x + 0.1, color=f"C{m}")
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set(ylabel="ACC", title=f"accuracy of each seed (bars: means over "
                               f"{len(seeds)} seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_report(out: Path, settings: dict[str, str], seeds: list[int],
                 found: dict, header: str) -> str:
    """Write every table and the plot into ``out``; return the Markdown tables.

    ``settings`` maps each setting's name, in table order, to its description
    (the preset and the overrides), listed under the results table.
    """
    names = list(settings)
    files = {**score_tables(names, seeds, found, header),
             **timing_tables(names, seeds, found, header)}
    files["results.md"] += "\nSettings (preset, then overrides):\n\n" + "".join(
        f"- {name}: {description}\n" for name, description in settings.items())
    for name, text in files.items():
        write_text(out / name, text)
    plot_accuracies(names, seeds, found, out / "accuracy.png")
    return files["results.md"] + "\n" + files["timings.md"]
