"""One training step of DEC's autoencoder, in numpy_dec and in PyTorch.

The network is the specification's 784-500-500-2000-10 encoder with its mirrored
decoder (ReLU inside, sigmoid embedding and output), trained on the MSE with
SGD, momentum 0.9, on float32 minibatches of 256 rows. Both implementations
start from the same weights and see the same batches.
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.layers import Dense, Identity, ReLU, Sigmoid
from numpy_dec.optim import SGD
from numpy_dec.training import reconstruction_step

LAYER_SIZES = (784, 500, 500, 2000, 10)
BATCH_SIZE = 256
N_BATCHES = 8
LR = 0.01
MOMENTUM = 0.9
TORCH_PIN = "torch==2.13.0"


def step_flops(model, batch_size: int = BATCH_SIZE) -> float:
    """Floating-point operations of one step's matrix products.

    2 N D_in H per dense layer for the forward pass, for dW and for dx, except
    dx of the first layer: the data need no gradient, and neither
    implementation computes it.
    """
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    sizes = [layer.params["W"].size for layer in dense]
    return 2.0 * batch_size * (3 * sum(sizes) - sizes[0])


def make_numpy_step(seed: int = 0):
    """Return (step, model, batches): ``step()`` runs one numpy_dec step.

    The step is ``numpy_dec.training.reconstruction_step``, the one the
    training loop calls: forward, MSE, backward, SGD update.
    """
    rng = np.random.default_rng(seed)
    model = StackedDenoisingAutoencoder(LAYER_SIZES, rng).autoencoder
    optimizer = SGD(model.parameters(), momentum=MOMENTUM)
    batches = rng.random((N_BATCHES, BATCH_SIZE, LAYER_SIZES[0]), dtype=np.float32)
    cycle = itertools.cycle(batches)

    def step() -> float:
        return reconstruction_step(model, next(cycle), optimizer, LR)

    return step, model, batches


def matmul_only(model, batch: np.ndarray) -> Callable[[], None]:
    """The matrix products of one step alone, as ``step_flops`` counts them."""
    weights = [layer.params["W"] for layer in model.layers if isinstance(layer, Dense)]
    inputs, h = [], batch
    for W in weights:
        inputs.append(h)
        h = h @ W
    dout = np.ones_like(h)

    def run() -> None:
        h = batch
        for W in weights:
            h = h @ W
        g = dout
        for i in reversed(range(len(weights))):
            inputs[i].T @ g
            if i > 0:
                g = g @ weights[i].T

    return run


def torch_status() -> tuple[object | None, str]:
    """(the torch module or None, a one-line description or install hint)."""
    try:
        import torch
    except ImportError:
        return None, (
            f"not installed; for this row: .venv/bin/python -m pip install {TORCH_PIN}"
            " (or make bench, which installs requirements-bench.txt)"
        )
    capability = torch.backends.cpu.get_cpu_capability()
    return torch, f"torch {torch.__version__}, CPU capability {capability}"


def make_torch_step(torch, model, batches: np.ndarray, threads: int):
    """Return ``step()`` for the same network in PyTorch CPU eager mode.

    Weights are copied from the numpy_dec ``model``; ``torch.optim.SGD`` with
    the same learning rate and momentum, ``mse_loss`` with mean reduction.
    """
    torch.set_num_threads(threads)
    layers = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            linear = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                linear.bias.copy_(torch.from_numpy(layer.params["b"]))
            layers.append(linear)
        elif isinstance(layer, ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(layer, Sigmoid):
            layers.append(torch.nn.Sigmoid())
        elif isinstance(layer, Identity):
            layers.append(torch.nn.Identity())
        else:
            raise TypeError(f"no PyTorch counterpart for {type(layer).__name__}")
    net = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    cycle = itertools.cycle([torch.from_numpy(b) for b in batches])
    mse = torch.nn.functional.mse_loss

    def step() -> float:
        batch = next(cycle)
        optimizer.zero_grad(set_to_none=True)
        loss = mse(net(batch), batch)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step
