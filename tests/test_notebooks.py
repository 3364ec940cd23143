"""The teaching notebooks run from top to bottom at tiny settings.

Each notebook's first code cell is tagged "parameters". The test replaces that
cell with small values, executes the notebook with nbclient in a fresh kernel
(working directory notebooks/), and checks the outputs that matter.
"""

import ast
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
Image = pytest.importorskip("PIL.Image")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _parameter_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    assert cells[0] is next(c for c in nb.cells if c.cell_type == "code"), (
        "the parameters cell must be the first code cell"
    )
    return cells[0]


def run_notebook(name: str, parameters: dict, timeout: int = 120):
    """Execute notebooks/<name> with ``parameters`` injected; return the notebook."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = _parameter_cell(nb)

    # only names the notebook really has may be overridden
    assigned = {
        target.id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
    }
    unknown = set(parameters) - assigned
    assert not unknown, f"{name} has no parameters {sorted(unknown)}"
    cell.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())

    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return nb


def _texts(nb) -> str:
    """Everything the code cells printed, as one string."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output["text"])
            elif output.get("output_type") == "error":
                parts.append("\n".join(output["traceback"]))
    return "".join(parts)


def _images(nb, mime: str) -> int:
    return sum(
        mime in output.get("data", {})
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )


def test_every_notebook_has_a_parameters_cell():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == ["dec_on_mnist.ipynb", "formulas_by_hand.ipynb"]
    for name in names:
        _parameter_cell(nbformat.read(NOTEBOOKS / name, as_version=4))


def test_committed_notebooks_hold_outputs_without_errors():
    # the notebooks are read on GitHub as they are: `make notebooks` refreshes them
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), f"{path.name} not run"
        outputs = [o for c in code for o in c.get("outputs", [])]
        assert outputs, f"{path.name} has no outputs"
        assert not [o for o in outputs if o.get("output_type") == "error"], path.name


def test_formulas_by_hand_runs_and_checks_its_gradients():
    nb = run_notebook("formulas_by_hand.ipynb", {"ALPHA": 2.0, "ETA": 0.25})
    text = _texts(nb)

    # the injected values were used
    assert "alpha = 2, eta = 0.25" in text
    assert "2 eta / (N E) = 0.0500" in text

    # every formula printed, and the gradients agreed with finite differences
    for heading in ("d, shape (N, K)", "Q:", "P:", "L = ", "sum of the terms"):
        assert heading in text
    worst = re.search(r"largest relative error of equation 4 against finite "
                      r"differences: ([0-9.e+-]+)", text)
    assert worst, text[-2000:]
    assert float(worst.group(1)) < 1e-7
    assert len(re.findall(r"relative error [0-9.e+-]+", text)) >= 3


def test_dec_on_mnist_runs_and_draws_everything(tmp_path):
    parameters = {
        "N_SAMPLES": 300, "HIDDEN_SIZES": (32, 32, 64), "PRETRAIN_EPOCHS": 1,
        "FINETUNE_EPOCHS": 3, "MAX_ITER": 40, "UPDATE_INTERVAL": 10,
        "KMEANS_N_INIT": 2, "OUTPUT_DIR": str(tmp_path),
    }
    nb = run_notebook("dec_on_mnist.ipynb", parameters)
    text = _texts(nb)

    # the fit used the tiny settings and recorded its target updates
    updates = int(re.search(r"s of CPU time, (\d+) target updates", text).group(1))
    assert 2 <= updates <= 5
    assert "X: (300, 784) float32" in text

    # curves, embedding, confident images and confusion matrix, then the GIF
    assert _images(nb, "image/png") >= 5
    assert _images(nb, "image/gif") == 1
    gif = tmp_path / "dec_embedding.gif"
    with Image.open(gif) as image:
        assert image.format == "GIF"
        assert image.n_frames == updates

    # one row of scores per method, each score a number
    for method in ("k-means on pixels", "k-means on the embedding", "DEC"):
        row = re.search(rf"^{method}\s+(-?[0-9.]+)\s+(-?[0-9.]+)\s+(-?[0-9.]+)$",
                        text, flags=re.MULTILINE)
        assert row, f"no scores for {method}"
        acc, nmi, ari = map(float, row.groups())
        assert 0.0 < acc <= 1.0 and 0.0 <= nmi <= 1.0 and -1.0 <= ari <= 1.0
