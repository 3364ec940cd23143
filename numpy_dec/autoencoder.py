"""The stacked denoising autoencoder of DEC.

With layer sizes ``s_0, s_1, ..., s_L`` (784-500-500-2000-10 by default) the
network is built from L denoising pairs. Pair p maps s_p -> s_{p+1} -> s_p::

    dropout(drop_prob) -> dense(s_p, s_{p+1}) -> g1 -> dropout(drop_prob)
        -> dense(s_{p+1}, s_p) -> g2

and is trained with the MSE to reproduce its clean input, which is the data for
the first pair and the previous pairs' encoding for the others. g1 and g2 are
ReLU except g1 of the last pair (the embedding) and g2 of the first pair (the
reconstruction of the data), sigmoid in the specification and linear in the
original paper.

After pretraining, the pairs' first dense layers are stacked into the encoder
f and their second dense layers, in reverse order, into the mirrored decoder,
both without dropout, and the whole autoencoder is fine-tuned end to end on the
reconstruction error. See ``derivations/backpropagation.md``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from numpy_dec.layers import Dense, Dropout, Sequential, make_activation
from numpy_dec.reporting import Reporter
from numpy_dec.training import make_optimizer, make_schedule, train_reconstruction


class StackedDenoisingAutoencoder:
    """Layer-wise pretrained, end-to-end fine-tuned autoencoder.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(D, H_1, ..., E)``: input size, hidden sizes, embedding size.
    rng : numpy.random.Generator
        Draws the initial weights and, through the dropout layers, the masks.
    hidden_activation, embedding_activation, output_activation : str
        ``"relu"``, ``"sigmoid"`` or ``"linear"``.
    drop_prob : float
        Dropout probability in the pretraining pairs, in [0, 1).
    init : {"glorot_uniform", "gaussian"}
        Weight initialisation; ``init_std`` is the Gaussian's standard deviation.
    dtype : numpy dtype
        The one dtype the network computes in.

    Attributes
    ----------
    pairs : list of Sequential
        The L denoising pairs, sharing their dense layers with the stack.
    encoder, decoder : Sequential
        f: (N, D) -> (N, E) and its mirror (N, E) -> (N, D), no dropout.
    autoencoder : Sequential
        ``encoder`` followed by ``decoder``.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        rng: np.random.Generator,
        hidden_activation: str = "relu",
        embedding_activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        drop_prob: float = 0.2,
        init: str = "glorot_uniform",
        init_std: float = 0.01,
        dtype=np.float32,
    ):
        sizes = [int(size) for size in layer_sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(
                "layer_sizes needs at least an input and an embedding size, all "
                f">= 1; got {tuple(layer_sizes)}"
            )
        self.layer_sizes = tuple(sizes)
        self.dtype = np.dtype(dtype)
        n_pairs = len(sizes) - 1

        encoder_layers, decoder_layers, self.pairs = [], [], []
        for p in range(n_pairs):
            g1 = embedding_activation if p == n_pairs - 1 else hidden_activation
            g2 = output_activation if p == 0 else hidden_activation
            dense_in = Dense(sizes[p], sizes[p + 1], rng, self.dtype, init, init_std)
            dense_out = Dense(sizes[p + 1], sizes[p], rng, self.dtype, init, init_std)
            act_in, act_out = make_activation(g1), make_activation(g2)

            # the pair trains the very layer objects the stack will use
            self.pairs.append(
                Sequential(
                    [
                        Dropout(drop_prob, rng),
                        dense_in,
                        act_in,
                        Dropout(drop_prob, rng),
                        dense_out,
                        act_out,
                    ]
                )
            )
            encoder_layers += [dense_in, act_in]
            decoder_layers = [dense_out, act_out] + decoder_layers

        self.encoder = Sequential(encoder_layers)
        self.decoder = Sequential(decoder_layers)
        self.autoencoder = Sequential(encoder_layers + decoder_layers)

    def lower_pairs(self, p: int) -> Sequential | None:
        """The encoder layers of pairs 0 .. p-1, whose output pair p reproduces.

        None for the first pair, which reproduces the data itself.
        """
        return Sequential(self.encoder.layers[: 2 * p]) if p else None

    def pretrain(
        self,
        X: np.ndarray,
        epochs: int,
        batch_size: int,
        optimizer: str,
        lr: float,
        rng: np.random.Generator,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        lr_step: int | None = None,
        reporter: Reporter | None = None,
    ) -> list[list[float]]:
        """Greedy layer-wise training of the denoising pairs.

        Parameters
        ----------
        X : ndarray of shape (N, D)
            Training inputs in the network's dtype.
        epochs : int
            Epochs per pair.
        optimizer, lr, momentum, weight_decay, lr_step
            A fresh optimizer of this kind per pair; ``lr_step`` iterations
            between x0.1 decays, or None for a constant rate.
        rng : numpy.random.Generator
            Minibatch order.

        Returns
        -------
        list of list of float
            For each pair, its mean reconstruction loss per epoch.
        """
        reporter = reporter or Reporter(verbose=0)
        history = []
        for p, pair in enumerate(self.pairs):
            reporter.phase(
                f"pretrain {p + 1}/{len(self.pairs)}",
                f"pair {self.layer_sizes[p]}-{self.layer_sizes[p + 1]}"
                f"-{self.layer_sizes[p]}, {epochs} epochs",
            )
            opt = make_optimizer(optimizer, pair, momentum, weight_decay)
            history.append(
                train_reconstruction(
                    pair, X, epochs, batch_size, opt, make_schedule(lr, lr_step),
                    rng, reporter, self.lower_pairs(p),
                )
            )
        return history

    def finetune(
        self,
        X: np.ndarray,
        epochs: int,
        batch_size: int,
        optimizer: str,
        lr: float,
        rng: np.random.Generator,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        lr_step: int | None = None,
        reporter: Reporter | None = None,
    ) -> list[float]:
        """Train the stacked autoencoder end to end; return the loss per epoch.

        Parameters are those of ``pretrain``; there is no dropout here.
        """
        reporter = reporter or Reporter(verbose=0)
        reporter.phase("finetune", f"{epochs} epochs")
        opt = make_optimizer(optimizer, self.autoencoder, momentum, weight_decay)
        return train_reconstruction(
            self.autoencoder, X, epochs, batch_size, opt,
            make_schedule(lr, lr_step), rng, reporter,
        )

    def encode(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """The embedding f(X), ndarray of shape (N, E)."""
        return _batched_forward(self.encoder, X, batch_size)

    def reconstruct(self, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """The reconstruction of X, ndarray of shape (N, D)."""
        return _batched_forward(self.autoencoder, X, batch_size)


def _batched_forward(model: Sequential, X: np.ndarray, batch_size: int):
    """Evaluation-mode forward pass over X in chunks, written into one array."""
    if X.shape[0] == 0:
        raise ValueError("cannot run the network on an empty array")
    first = model.predict(X[:batch_size])
    # filling one preallocated array holds the output once; stacking a list
    # of chunks would hold it twice at the moment of np.concatenate
    out = np.empty((X.shape[0],) + first.shape[1:], dtype=first.dtype)
    out[: first.shape[0]] = first
    for start in range(batch_size, X.shape[0], batch_size):
        out[start : start + batch_size] = model.predict(X[start : start + batch_size])
    return out
