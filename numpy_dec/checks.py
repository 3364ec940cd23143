"""The registered finite-difference checks: one for every derivative in the package.

Each check builds a small float64 problem with a seeded generator and returns
the comparison of the analytic gradient with central differences (the formula
and the pass rule are in ``numpy_dec.gradcheck``). Run them with
``python -m numpy_dec gradcheck``; ``tests/test_gradcheck.py`` asserts each one.
"""

from __future__ import annotations

import functools

import numpy as np

from numpy_dec.gradcheck import GradCheckResult, check_gradients, check_model, register
from numpy_dec.layers import (
    Dense,
    Dropout,
    Identity,
    ReLU,
    Sequential,
    Sigmoid,
    make_activation,
)
from numpy_dec.losses import mse_loss


@register("dense")
def _check_dense() -> list[GradCheckResult]:
    rng = np.random.default_rng(0)
    layer = Dense(4, 3, rng, dtype=np.float64)
    layer.params["b"][...] = rng.standard_normal(3)
    return check_model(layer, rng.standard_normal((5, 4)), rng)


@register("relu")
def _check_relu() -> list[GradCheckResult]:
    # every |x| >= 0.1, far beyond h = 1e-5, so x +- h never crosses the kink
    # at 0, where the central difference would average the two slopes
    rng = np.random.default_rng(1)
    sign = rng.choice([-1.0, 1.0], size=(5, 4))
    x = sign * (0.1 + rng.random((5, 4)))
    return check_model(ReLU(), x, rng)


@register("sigmoid")
def _check_sigmoid() -> list[GradCheckResult]:
    rng = np.random.default_rng(2)
    return check_model(Sigmoid(), 2 * rng.standard_normal((5, 4)), rng)


@register("identity")
def _check_identity() -> list[GradCheckResult]:
    rng = np.random.default_rng(3)
    return check_model(Identity(), rng.standard_normal((5, 4)), rng)


@register("dropout (frozen mask)")
def _check_dropout() -> list[GradCheckResult]:
    rng = np.random.default_rng(4)
    layer = Dropout(0.4, rng)
    layer.frozen = True
    return check_model(layer, rng.standard_normal((6, 5)), rng, training=True)


@register("mse_loss")
def _check_mse() -> list[GradCheckResult]:
    rng = np.random.default_rng(5)
    pred, target = rng.standard_normal((2, 5, 3))
    _, dpred = mse_loss(pred, target)
    return check_gradients(
        lambda: mse_loss(pred, target)[0], {"pred": pred}, {"pred": dpred}
    )


@register("sequential 6-5-4-5-6 + mse")
def _check_sequential() -> list[GradCheckResult]:
    rng = np.random.default_rng(6)
    sizes = [6, 5, 4, 5, 6]
    layers = []
    for d, h, act in zip(sizes, sizes[1:], ["relu", "sigmoid", "relu", "linear"]):
        layers += [Dense(d, h, rng, dtype=np.float64), make_activation(act)]
    model = Sequential(layers)
    x, target = rng.standard_normal((2, 7, 6))
    return check_model(model, x, rng, loss=lambda out: mse_loss(out, target))


def _check_kl(alpha: float) -> list[GradCheckResult]:
    from numpy_dec.formulas import (
        kl_divergence,
        kl_gradients,
        soft_assignment,
        target_distribution,
    )

    # P is the target distribution of the starting Q, then held fixed
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((8, 3))
    C = rng.standard_normal((4, 3))
    P = target_distribution(soft_assignment(Z, C, alpha))

    dZ, dC = kl_gradients(Z, C, P, alpha)
    return check_gradients(
        lambda: kl_divergence(P, soft_assignment(Z, C, alpha)),
        {"Z": Z, "centroids": C},
        {"Z": dZ, "centroids": dC},
    )


for _alpha in (0.5, 1.0, 2.0, 10.0):
    register(f"kl alpha={_alpha:g}")(functools.partial(_check_kl, _alpha))
del _alpha


def _small_autoencoder(rng: np.random.Generator, embedding: str, output: str):
    from numpy_dec.autoencoder import StackedDenoisingAutoencoder

    ae = StackedDenoisingAutoencoder(
        (6, 5, 4, 3), rng, embedding_activation=embedding,
        output_activation=output, dtype=np.float64,
    )

    # non-zero biases keep every ReLU input away from its kink at 0, and larger
    # weights spread the embedding so that the DEC gradients are not tiny
    for layer in ae.autoencoder.layers:
        if isinstance(layer, Dense):
            layer.params["W"] *= 2.0
            layer.params["b"][...] = 0.5 * rng.standard_normal(layer.params["b"].shape)
    return ae


@register("autoencoder 6-5-4-3 + mirror, mse (sigmoid)")
def _check_autoencoder_sigmoid() -> list[GradCheckResult]:
    rng = np.random.default_rng(8)
    ae = _small_autoencoder(rng, "sigmoid", "sigmoid")
    x = rng.uniform(0.0, 1.0, (7, 6))
    target = x.copy()  # held fixed while x is perturbed
    return check_model(ae.autoencoder, x, rng, loss=lambda out: mse_loss(out, target))


@register("autoencoder 6-5-4-3 + mirror, mse (linear)")
def _check_autoencoder_linear() -> list[GradCheckResult]:
    rng = np.random.default_rng(9)
    ae = _small_autoencoder(rng, "linear", "linear")
    x = rng.uniform(0.0, 5.1, (7, 6))
    target = x.copy()  # held fixed while x is perturbed
    return check_model(ae.autoencoder, x, rng, loss=lambda out: mse_loss(out, target))


@register("denoising pair (frozen masks), mse to the clean input")
def _check_denoising_pair() -> list[GradCheckResult]:
    rng = np.random.default_rng(10)
    ae = _small_autoencoder(rng, "sigmoid", "sigmoid")
    pair = ae.pairs[0]
    x = rng.uniform(0.0, 1.0, (7, 6))
    target = x.copy()  # the clean input, held fixed while x is perturbed

    # draw the masks once, then hold them fixed for the finite differences
    pair.forward(x, training=True)
    for layer in pair.layers:
        if isinstance(layer, Dropout):
            layer.frozen = True
    return check_model(
        pair, x, rng, loss=lambda out: mse_loss(out, target), training=True
    )


def _check_dec_through_encoder(embedding: str) -> list[GradCheckResult]:
    from numpy_dec.formulas import (
        kl_divergence,
        kl_gradients,
        soft_assignment,
        target_distribution,
    )

    # L(theta, mu) = KL(P || Q(f_theta(X), mu)) with P fixed
    rng = np.random.default_rng(11)
    encoder = _small_autoencoder(rng, embedding, "sigmoid").encoder
    X = rng.uniform(0.0, 1.0, (9, 6))
    C = encoder.forward(X)[:4] + 0.1 * rng.standard_normal((4, 3))
    alpha = 1.0
    P = target_distribution(soft_assignment(encoder.forward(X), C, alpha))

    dZ, dC = kl_gradients(encoder.forward(X), C, P, alpha)
    encoder.backward(dZ)
    named = encoder.named_parameters()
    arrays = {name: layer.params[key] for name, layer, key in named}
    analytic = {name: layer.grads[key].copy() for name, layer, key in named}
    arrays["centroids"], analytic["centroids"] = C, dC
    return check_gradients(
        lambda: kl_divergence(P, soft_assignment(encoder.forward(X), C, alpha)),
        arrays,
        analytic,
    )


for _embedding in ("sigmoid", "linear"):
    register(f"DEC loss through the encoder ({_embedding})")(
        functools.partial(_check_dec_through_encoder, _embedding)
    )
del _embedding


@register("DEC loss + gamma * reconstruction, direct form")
def _check_dec_with_reconstruction() -> list[GradCheckResult]:
    from numpy_dec.formulas import kl_divergence, soft_assignment, target_distribution
    from numpy_dec.iteration import dec_gradients

    # J = KL(P || Q(f(X), mu)) + gamma * MSE(g(f(X)), X), P fixed; with this
    # seed no ReLU layer is dead and every gradient is well above the round-off
    # of the differences
    rng = np.random.default_rng(28)
    ae = _small_autoencoder(rng, "sigmoid", "sigmoid")
    encoder, decoder = ae.encoder, ae.decoder
    X = rng.uniform(0.0, 1.0, (9, 6))
    C = encoder.forward(X)[:4] + 0.1 * rng.standard_normal((4, 3))
    alpha, gamma = 1.0, 0.7
    P = target_distribution(soft_assignment(encoder.forward(X), C, alpha))

    # the analytic gradients are those the DEC step itself computes
    dC, _ = dec_gradients(encoder, X, P, C, 1.0, alpha, "direct", gamma, decoder)
    named = ae.autoencoder.named_parameters()
    arrays = {name: layer.params[key] for name, layer, key in named}
    analytic = {name: layer.grads[key].copy() for name, layer, key in named}
    arrays["centroids"], analytic["centroids"] = C, dC

    def objective():
        Z = encoder.forward(X)
        kl = kl_divergence(P, soft_assignment(Z, C, alpha))
        return kl + gamma * mse_loss(decoder.forward(Z), X)[0]

    return check_gradients(objective, arrays, analytic)
