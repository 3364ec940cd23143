"""Minibatch training of a network on the reconstruction error.

The same loop trains one denoising pair during layer-wise pretraining and the
whole stacked autoencoder during fine-tuning: shuffle, cut into minibatches,
forward in training mode, MSE against the clean input, backward, optimizer step.
"""

from __future__ import annotations

import numpy as np

from numpy_dec.layers import Sequential
from numpy_dec.losses import mse_loss
from numpy_dec.optim import SGD, Adam, ConstantLR, StepDecay
from numpy_dec.reporting import Reporter

OPTIMIZERS = ("sgd", "adam")


def make_optimizer(
    name: str,
    model: Sequential,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
) -> SGD | Adam:
    """Build the named optimizer over every parameter of ``model``.

    Parameters
    ----------
    name : {"sgd", "adam"}
        SGD with momentum (``momentum`` used) or Adam (``momentum`` ignored).
    model : Sequential
        The network whose parameters the optimizer updates.
    momentum, weight_decay : float
        Passed to the optimizer.
    """
    if name == "sgd":
        return SGD(model.parameters(), momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return Adam(model.parameters(), weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected one of: {OPTIMIZERS}")


def make_schedule(lr: float, step_size: int | None) -> ConstantLR | StepDecay:
    """A constant rate (``step_size`` None or 0), or the paper's x0.1 every
    ``step_size`` iterations."""
    if not step_size:
        return ConstantLR(lr)
    return StepDecay(lr, step_size, factor=0.1)


def minibatches(n_samples: int, batch_size: int, rng: np.random.Generator):
    """Yield index arrays covering a fresh permutation of ``range(n_samples)``."""
    order = rng.permutation(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start : start + batch_size]


def reconstruction_step(
    model: Sequential, batch: np.ndarray, optimizer: SGD | Adam, lr: float
) -> float:
    """One minibatch step on the reconstruction error; return the batch loss.

    Parameters
    ----------
    model : Sequential
        Maps (N, D) to (N, D); run in training mode, so dropout is active.
    batch : ndarray of shape (N, D)
        Clean inputs, which are also the targets.
    optimizer : SGD or Adam
        Built over ``model.parameters()``; takes one step at rate ``lr``.

    Returns
    -------
    float
        ``mse_loss`` of the output before the step.
    """
    # forward with dropout on, reconstruct the clean batch
    output = model.forward(batch, training=True)
    loss, dout = mse_loss(output, batch)

    # backward without the input gradient (the data need none), then one step
    model.backward(dout, input_grad=False)
    optimizer.step(lr)
    return loss


def train_reconstruction(
    model: Sequential,
    X: np.ndarray,
    epochs: int,
    batch_size: int,
    optimizer: SGD | Adam,
    schedule,
    rng: np.random.Generator,
    reporter: Reporter,
    lower: Sequential | None = None,
) -> list[float]:
    """Train ``model`` to reproduce ``X``; return the mean loss of each epoch.

    Parameters
    ----------
    model : Sequential
        Maps (N, D) to (N, D). Dropout layers inside it are active.
    X : ndarray of shape (N, D)
        The clean inputs, which are also the targets.
    epochs, batch_size : int
        Passes over the data and minibatch size (the last batch may be smaller).
    optimizer : SGD or Adam
        Built over ``model.parameters()``.
    schedule : callable
        Iteration number t = 1, 2, ... -> learning rate.
    rng : numpy.random.Generator
        Draws the minibatch order (dropout masks use the layers' own generators).
    reporter : Reporter
        Receives one progress call per epoch.
    lower : Sequential, optional
        Frozen layers run in evaluation mode on every minibatch of X; ``model``
        then reproduces their output instead of X. Layer-wise pretraining
        trains a pair this way on the clean encoding of the pairs below it.

    Returns
    -------
    list of float
        Per epoch, the mean over minibatches of ``mse_loss``, each weighted by
        its size, so it equals the loss over the epoch's samples.
    """
    history = []
    t = 0
    for epoch in range(1, epochs + 1):
        total = 0.0
        for index in minibatches(X.shape[0], batch_size, rng):
            t += 1
            batch = X[index]
            if lower is not None:
                # encoding one minibatch at a time, not all N rows up front,
                # keeps memory independent of N: the input of the last pair on
                # 70,000 images would be a (70000, 2000) array, 2.7 times the
                # size of the float32 data
                batch = lower.forward(batch, training=False)
            loss = reconstruction_step(model, batch, optimizer, schedule(t))
            total += loss * len(index)

        history.append(total / X.shape[0])
        reporter.progress(epoch, epochs, loss=history[-1])
        if not np.isfinite(history[-1]):
            raise FloatingPointError(
                f"reconstruction loss became {history[-1]} at epoch {epoch}; "
                "lower the learning rate or check the input scale"
            )
    return history
