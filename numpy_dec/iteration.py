"""One DEC iteration on a minibatch: the gradients and the step.

The DEC loss of a minibatch is L = KL(P || Q), P held fixed. ``dec_gradients``
sets dL/dtheta on the encoder's layers, either by regressing f(x) onto the moved
points y = z - eta * dL/dz with the MSE (the specification's trick) or by
backpropagating dL/dz itself, and returns dL/dmu; ``dec_step`` adds the
optimizer step on the network and the plain gradient step on the centroids.
``DEC`` (``numpy_dec.dec``) calls ``dec_step`` once per iteration.
"""

from __future__ import annotations

import numpy as np

from numpy_dec.formulas import kl_divergence, kl_gradients, soft_assignment
from numpy_dec.layers import Sequential
from numpy_dec.losses import mse_loss

DEC_METHODS = ("regression", "direct")


def dec_gradients(
    encoder: Sequential,
    X_batch: np.ndarray,
    P_batch: np.ndarray,
    centroids: np.ndarray,
    eta: float,
    alpha: float,
    method: str = "regression",
    gamma: float = 0.0,
    decoder: Sequential | None = None,
) -> tuple[np.ndarray, float]:
    """The gradients of one DEC iteration on a minibatch, set on the layers.

    Parameters
    ----------
    encoder : Sequential
        f: (N, D) -> (N, E); ``backward`` sets its parameter gradients.
    X_batch : ndarray of shape (N, D)
    P_batch : ndarray of shape (N, K)
        The rows of the fixed target distribution for these samples.
    centroids : ndarray of shape (K, E)
    eta : float
        The step eta_t on the embedded points (regression form only).
    alpha : float
        Degrees of freedom of the Student's t kernel.
    method : {"regression", "direct"}
        ``"regression"`` regresses f(x) onto the moved points y = z - eta * g
        with the MSE (y held constant); ``"direct"`` backpropagates g = dL/dz.
    gamma : float, default 0.0
        Weight of the reconstruction error kept in the DEC phase; 0 is plain
        DEC, and leaves ``decoder`` untouched.
    decoder : Sequential, optional
        h: (N, E) -> (N, D); needed when gamma > 0, and then its parameter
        gradients are set too.

    Returns
    -------
    dcentroids : ndarray of shape (K, E)
        dL/dmu, L = KL(P_batch || Q_batch).
    kl : float
        KL(P_batch || Q_batch) at the current parameters.

    Notes
    -----
    With z = f(x), g = dL/dz (equation 4) and R(z) = MSE(h(z), x), the mean
    over N*D elements, the gradient reaching z is

        direct:      dJ/dz = g + gamma * dR/dz
        regression:  dJ/dz = 2 (z - y) / (N E) + gamma * dR/dz,  y = z - eta g

    and the decoder receives gamma * dR/dtheta_dec. The direct form is the
    gradient of J = KL(P || Q) + gamma * MSE(h(f(x)), x), the KL summed over the
    N points of the batch and P held fixed (its gradient with respect to the
    centroids is dL/dmu: R does not depend on them); the regression form
    that of J = MSE(f(x), y) + gamma * MSE(h(f(x)), x) with y held constant,
    which at the current parameters equals (2 eta / (N E)) * KL + gamma * R in
    its gradient. The two forms weigh the terms differently: the regression
    form at (lr, gamma) moves the network exactly as the direct form at
    (lr * 2 eta / (N E), gamma * N E / (2 eta)). See
    ``derivations/regression_step.md`` for gamma = 0.
    """
    Z = encoder.forward(X_batch, training=True)
    if not (np.isfinite(Z).all() and np.isfinite(centroids).all()):
        raise FloatingPointError(
            "DEC diverged: the embedding or the centroids became NaN or "
            "infinite; lower dec_lr or eta0, or gamma and weight_decay when "
            "they are set"
        )
    dZ, dcentroids = kl_gradients(Z, centroids, P_batch, alpha)
    kl = kl_divergence(P_batch, soft_assignment(Z, centroids, alpha))

    if method == "regression":
        target = Z - eta * dZ
        _, dout = mse_loss(Z, target)
    elif method == "direct":
        dout = dZ
    else:
        raise ValueError(f"unknown DEC method {method!r}; expected {DEC_METHODS}")

    # the reconstruction term, backpropagated through the decoder to z
    if gamma > 0:
        if decoder is None:
            raise ValueError("gamma > 0 needs the decoder of the autoencoder")
        _, drecon = mse_loss(decoder.forward(Z, training=True), X_batch)
        dout = dout + decoder.backward(gamma * drecon)

    # the gradient with respect to the input x is not needed
    encoder.backward(dout, input_grad=False)
    return dcentroids, kl


def dec_step(
    encoder: Sequential,
    optimizer,
    X_batch: np.ndarray,
    P_batch: np.ndarray,
    centroids: np.ndarray,
    eta: float,
    lr: float,
    alpha: float,
    method: str = "regression",
    gamma: float = 0.0,
    decoder: Sequential | None = None,
) -> tuple[np.ndarray, float]:
    """One DEC iteration on a minibatch; return the new centroids and batch KL.

    Parameters
    ----------
    encoder : Sequential
        f: (N, D) -> (N, E), updated in place by ``optimizer``.
    optimizer : SGD or Adam
        Built over ``encoder.parameters()``, or over the whole autoencoder's
        parameters (encoder, then decoder) when gamma > 0.
    X_batch : ndarray of shape (N, D)
    P_batch : ndarray of shape (N, K)
        The rows of the fixed target distribution for these samples.
    centroids : ndarray of shape (K, E)
        Not modified; the updated copy is returned.
    eta : float
        The step eta_t on the embedded points and the centroids.
    lr : float
        The optimizer's learning rate for the network.
    alpha : float
        Degrees of freedom of the Student's t kernel.
    method : {"regression", "direct"}
        See ``dec_gradients``.
    gamma : float, default 0.0
        Weight of the reconstruction error MSE(h(f(x)), x); 0 is plain DEC.
    decoder : Sequential, optional
        h: (N, E) -> (N, D), needed when gamma > 0.

    Returns
    -------
    centroids : ndarray of shape (K, E)
        mu - eta * dL/dmu.
    kl : float
        KL(P_batch || Q_batch) before the step.

    Notes
    -----
    The step: the gradients of ``dec_gradients``, one optimizer step at rate
    ``lr`` on the network, and mu <- mu - eta * dL/dmu for the centroids (no
    optimizer; the reconstruction term does not depend on mu). With gamma = 0
    and mse_loss the mean over N*E elements, the regression step backpropagates
    dMSE/dz = 2 (z - y) / (N E) = (2 eta / (N E)) g, so it equals the direct
    step at learning rate lr * 2 eta / (N E). See ``derivations/regression_step.md``.
    """
    dcentroids, kl = dec_gradients(
        encoder, X_batch, P_batch, centroids, eta, alpha, method, gamma, decoder
    )
    optimizer.step(lr)
    return centroids - eta * dcentroids, kl
