"""Deep Embedded Clustering as an estimator in scikit-learn's conventions.

``DEC.fit`` runs the whole method: layer-wise pretraining of the denoising
pairs, end-to-end fine-tuning, k-means on the embedding for the initial
centroids, then the DEC iterations, which minimise L = KL(P || Q) over the
encoder's parameters and the centroids with P held fixed between updates.
"""

from __future__ import annotations

import inspect
import json
import time
import warnings
from typing import Any

import numpy as np

from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.formulas import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    target_distribution,
)
from numpy_dec.kmeans import kmeans
from numpy_dec.layers import Sequential
from numpy_dec.losses import mse_loss
from numpy_dec.presets import get_preset
from numpy_dec.reporting import Reporter
from numpy_dec.training import make_optimizer, minibatches
from numpy_dec.validation import check_array, check_n_clusters

DEC_METHODS = ("regression", "direct")
FORMAT_VERSION = 1


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
) -> tuple[np.ndarray, float]:
    """One DEC iteration on a minibatch; return the new centroids and batch KL.

    Parameters
    ----------
    encoder : Sequential
        f: (N, D) -> (N, E), updated in place by ``optimizer``.
    optimizer : SGD or Adam
        Built over ``encoder.parameters()``.
    X_batch : ndarray of shape (N, D)
    P_batch : ndarray of shape (N, K)
        The rows of the fixed target distribution for these samples.
    centroids : ndarray of shape (K, E)
        Not modified; the updated copy is returned.
    eta : float
        The step eta_t on the embedded points and the centroids.
    lr : float
        The optimizer's learning rate for the encoder.
    alpha : float
        Degrees of freedom of the Student's t kernel.
    method : {"regression", "direct"}
        ``"regression"`` regresses f(x) onto the moved points y = z - eta * g
        with the MSE (y held constant); ``"direct"`` backpropagates g = dL/dz.

    Returns
    -------
    centroids : ndarray of shape (K, E)
        mu - eta * dL/dmu.
    kl : float
        KL(P_batch || Q_batch) before the step.

    Notes
    -----
    With mse_loss the mean over N*E elements, the regression step backpropagates
    dMSE/dz = 2 (z - y) / (N E) = (2 eta / (N E)) g, so it equals the direct
    step at learning rate lr * 2 eta / (N E). See ``derivations/regression_step.md``.
    """
    Z = encoder.forward(X_batch, training=True)
    dZ, dcentroids = kl_gradients(Z, centroids, P_batch, alpha)
    kl = kl_divergence(P_batch, soft_assignment(Z, centroids, alpha))

    if method == "regression":
        target = Z - eta * dZ
        _, dout = mse_loss(Z, target)
    elif method == "direct":
        dout = dZ
    else:
        raise ValueError(f"unknown DEC method {method!r}; expected {DEC_METHODS}")

    encoder.backward(dout)
    optimizer.step(lr)
    return centroids - eta * dcentroids, kl


class DEC:
    """Deep Embedded Clustering (Xie, Girshick and Farhadi, ICML 2016).

    Parameters
    ----------
    n_clusters : int
        K, the number of clusters.
    preset : {"spec", "paper", "quick"}
        Where every setting left as None comes from (``numpy_dec.presets``).
    random_state : int
        Seeds every random source: weights, dropout masks, minibatch order and
        k-means. The same value gives bit-identical results.
    verbose : int
        0 is silent; 1 reports progress on standard error.
    **settings
        Any key of a preset (``alpha``, ``finetune_epochs``, ``eta0``, ...), as
        keywords; None means "take the preset's value".

    Attributes
    ----------
    autoencoder_ : StackedDenoisingAutoencoder
    cluster_centers_ : ndarray of shape (K, E)
    labels_ : ndarray of shape (N,)
        Hard assignments of the training data, argmax_j q_ij.
    kmeans_labels_ : ndarray of shape (N,)
        The k-means assignments of the embedding that initialised DEC.
    history_ : dict
        ``pretrain`` (loss per epoch per pair), ``finetune`` (loss per epoch),
        ``dec`` (one record per target update: iteration, KL per point, fraction
        of changed assignments), ``seconds`` (per phase), ``converged``.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_clusters: int = 10,
        preset: str = "spec",
        *,
        hidden_sizes: tuple | None = None,
        embedding_size: int | None = None,
        hidden_activation: str | None = None,
        embedding_activation: str | None = None,
        output_activation: str | None = None,
        input_scale: float | None = None,
        drop_prob: float | None = None,
        init: str | None = None,
        init_std: float | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        pretrain_epochs: int | None = None,
        pretrain_optimizer: str | None = None,
        pretrain_lr: float | None = None,
        pretrain_momentum: float | None = None,
        pretrain_lr_step: int | None = None,
        finetune_epochs: int | None = None,
        finetune_optimizer: str | None = None,
        finetune_lr: float | None = None,
        finetune_momentum: float | None = None,
        finetune_lr_step: int | None = None,
        weight_decay: float | None = None,
        kmeans_n_init: int | None = None,
        alpha: float | None = None,
        eta0: float | None = None,
        dec_method: str | None = None,
        dec_optimizer: str | None = None,
        dec_lr: float | None = None,
        dec_momentum: float | None = None,
        update_interval: int | None = None,
        tol: float | None = None,
        max_iter: int | None = None,
        random_state: int = 0,
        verbose: int = 0,
    ):
        for name, value in locals().items():
            if name != "self":
                setattr(self, name, value)

    # scikit-learn's parameter protocol, without depending on scikit-learn
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keywords and their current values."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> "DEC":
        """Set constructor keywords; unknown names raise ValueError."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"unknown parameter {name!r} for DEC; valid: {sorted(valid)}"
                )
            setattr(self, name, value)
        return self

    def settings(self) -> dict[str, Any]:
        """The resolved settings: the preset with this object's overrides."""
        resolved = get_preset(self.preset)
        for name in resolved:
            value = getattr(self, name)
            if value is not None:
                resolved[name] = value
        resolved["hidden_sizes"] = tuple(int(h) for h in resolved["hidden_sizes"])
        return resolved

    def _check_settings(self, s: dict[str, Any]) -> None:
        if not 0.0 <= float(s["drop_prob"]) < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1); got {s['drop_prob']}")
        for name in ("update_interval", "max_iter", "batch_size", "kmeans_n_init"):
            value = s[name]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int; got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be a positive int; got {value}")
        for name in ("pretrain_epochs", "finetune_epochs"):
            if int(s[name]) < 0:
                raise ValueError(f"{name} must be >= 0; got {s[name]}")
        for name in ("alpha", "eta0", "dec_lr", "pretrain_lr", "finetune_lr"):
            if not float(s[name]) > 0:
                raise ValueError(f"{name} must be > 0; got {s[name]}")
        if not float(s["tol"]) >= 0:
            raise ValueError(f"tol must be >= 0; got {s['tol']}")
        if s["dec_method"] not in DEC_METHODS:
            raise ValueError(
                f"dec_method must be one of {DEC_METHODS}; got {s['dec_method']!r}"
            )
        if s["dtype"] not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {s['dtype']!r}")

    def _build(self, n_features: int, s: dict[str, Any], rng) -> None:
        self.autoencoder_ = StackedDenoisingAutoencoder(
            (n_features, *s["hidden_sizes"], int(s["embedding_size"])),
            rng,
            hidden_activation=s["hidden_activation"],
            embedding_activation=s["embedding_activation"],
            output_activation=s["output_activation"],
            drop_prob=float(s["drop_prob"]),
            init=s["init"],
            init_std=float(s["init_std"]),
            dtype=np.dtype(s["dtype"]),
        )
        self.n_features_in_ = n_features

    def fit(self, X: np.ndarray, y: None = None) -> "DEC":
        """Pretrain, fine-tune, initialise by k-means and run DEC on X.

        Parameters
        ----------
        X : array-like of shape (N, D)
            Finite numeric data, already scaled (pixels / 255 for "spec").
        y : ignored
            Present for API consistency; clustering never sees labels.
        """
        s = self.settings()
        self._check_settings(s)
        X = check_array(X, dtype=s["dtype"], name="X")
        check_n_clusters(self.n_clusters, X.shape[0])
        seeds = np.random.SeedSequence(self.random_state).spawn(3)
        init_rng, order_rng, kmeans_rng = (np.random.default_rng(q) for q in seeds)
        reporter = Reporter(self.verbose)
        seconds = {}

        self._build(X.shape[1], s, init_rng)
        ae = self.autoencoder_
        train = dict(batch_size=int(s["batch_size"]), rng=order_rng,
                     weight_decay=float(s["weight_decay"]), reporter=reporter)

        start = time.perf_counter()
        pretrain = ae.pretrain(
            X, int(s["pretrain_epochs"]), optimizer=s["pretrain_optimizer"],
            lr=float(s["pretrain_lr"]), momentum=float(s["pretrain_momentum"]),
            lr_step=s["pretrain_lr_step"], **train,
        )
        seconds["pretrain"] = time.perf_counter() - start

        start = time.perf_counter()
        finetune = ae.finetune(
            X, int(s["finetune_epochs"]), optimizer=s["finetune_optimizer"],
            lr=float(s["finetune_lr"]), momentum=float(s["finetune_momentum"]),
            lr_step=s["finetune_lr_step"], **train,
        )
        seconds["finetune"] = time.perf_counter() - start

        # initial centroids: k-means on the embedding, lowest inertia kept
        start = time.perf_counter()
        reporter.phase("kmeans", f"{s['kmeans_n_init']} restarts on the embedding")
        Z = ae.encode(X)
        _warn_if_collapsed(Z)
        centroids, self.kmeans_labels_, _ = kmeans(
            Z, self.n_clusters, kmeans_rng, n_init=int(s["kmeans_n_init"])
        )
        seconds["kmeans_embedding"] = time.perf_counter() - start

        start = time.perf_counter()
        dec_history, converged = self._run_dec(X, centroids, s, order_rng, reporter)
        seconds["dec"] = time.perf_counter() - start

        self.history_ = {
            "pretrain": pretrain,
            "finetune": finetune,
            "dec": dec_history,
            "seconds": seconds,
            "converged": converged,
        }
        return self

    def _run_dec(self, X, centroids, s, rng, reporter):
        """The DEC iterations; set cluster_centers_ and labels_."""
        ae = self.autoencoder_
        alpha, eta0 = float(s["alpha"]), float(s["eta0"])
        interval, max_iter, tol = int(s["update_interval"]), int(s["max_iter"]), s["tol"]
        optimizer = make_optimizer(
            s["dec_optimizer"], ae.encoder, float(s["dec_momentum"]),
            float(s["weight_decay"]),
        )
        reporter.phase("dec", f"at most {max_iter} iterations, target every {interval}")
        history, previous, converged = [], None, False
        batches = iter(())
        P = None

        for iteration in range(max_iter + 1):
            # recompute the target P on all data, and test for convergence
            if iteration % interval == 0 or iteration == max_iter:
                Q = soft_assignment(ae.encode(X), centroids, alpha)
                P = target_distribution(Q)
                labels = Q.argmax(axis=1)
                changed = 1.0 if previous is None else float(np.mean(labels != previous))
                record = {
                    "iteration": iteration,
                    "kl_per_point": kl_divergence(P, Q) / X.shape[0],
                    "changed": changed,
                }
                history.append(record)
                reporter.progress(iteration, max_iter, kl=record["kl_per_point"],
                                  changed=changed)
                previous = labels
                if iteration > 0 and changed < tol:
                    converged = True
                    break
                if iteration == max_iter:
                    break

            # one minibatch step; a new permutation when the last one is used up
            index = next(batches, None)
            if index is None:
                batches = minibatches(X.shape[0], int(s["batch_size"]), rng)
                index = next(batches)
            eta = eta0 / float(np.sqrt(iteration + 1))
            centroids, _ = dec_step(
                ae.encoder, optimizer, X[index], P[index], centroids, eta,
                float(s["dec_lr"]), alpha, s["dec_method"],
            )

        if not converged:
            warnings.warn(
                f"DEC stopped at max_iter={max_iter} before the fraction of changed "
                f"assignments fell below tol={tol} (last: {history[-1]['changed']:.4g})",
                RuntimeWarning,
                stacklevel=3,
            )
        self.cluster_centers_ = centroids
        self.labels_ = previous
        return history, converged

    def _check_fitted(self) -> None:
        if not hasattr(self, "cluster_centers_"):
            raise RuntimeError("this DEC instance is not fitted; call fit first")

    def _check_X(self, X) -> np.ndarray:
        self._check_fitted()
        X = check_array(X, dtype=self.autoencoder_.dtype, name="X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but DEC was fitted with "
                f"{self.n_features_in_}"
            )
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The embedding f(X), ndarray of shape (N, E)."""
        X = self._check_X(X)
        return self.autoencoder_.encode(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The soft assignment Q, ndarray of shape (N, K)."""
        alpha = float(self.settings()["alpha"])
        return soft_assignment(self.transform(X), self.cluster_centers_, alpha)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Hard assignments argmax_j q_ij, ndarray of shape (N,)."""
        return self.predict_proba(X).argmax(axis=1)

    def fit_predict(self, X: np.ndarray, y: None = None) -> np.ndarray:
        """Fit on X and return ``labels_``."""
        return self.fit(X).labels_

    def save(self, path) -> None:
        """Write the fitted model to a ``.npz`` file (no pickled objects)."""
        self._check_fitted()
        arrays = {
            f"ae.{name}": layer.params[key]
            for name, layer, key in self.autoencoder_.autoencoder.named_parameters()
        }
        params = self.get_params()
        params["hidden_sizes"] = (
            None if params["hidden_sizes"] is None else list(params["hidden_sizes"])
        )
        header = {
            "format_version": FORMAT_VERSION,
            "params": params,
            "n_features_in": int(self.n_features_in_),
        }
        np.savez(
            path,
            header=np.array(json.dumps(header)),
            cluster_centers=self.cluster_centers_,
            **arrays,
        )

    @classmethod
    def load(cls, path) -> "DEC":
        """Read a model written by ``save``; validates version and shapes."""
        with np.load(path, allow_pickle=False) as archive:
            if "header" not in archive.files:
                raise ValueError(f"{path} is not a numpy_dec model (no header)")
            header = json.loads(str(archive["header"]))
            if header.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"{path} has model format {header.get('format_version')}; "
                    f"this version reads format {FORMAT_VERSION}"
                )
            model = cls(**header["params"])
            s = model.settings()
            model._build(int(header["n_features_in"]), s, np.random.default_rng(0))
            for name, layer, key in model.autoencoder_.autoencoder.named_parameters():
                stored = archive[f"ae.{name}"]
                expected = layer.params[key]
                if stored.shape != expected.shape or stored.dtype != expected.dtype:
                    raise ValueError(
                        f"{path}: parameter {name} has shape {stored.shape} and dtype "
                        f"{stored.dtype}; expected {expected.shape} {expected.dtype}"
                    )
                layer.params[key] = stored.copy()
            model.cluster_centers_ = archive["cluster_centers"].copy()
        return model


def _warn_if_collapsed(Z: np.ndarray) -> None:
    """Warn when the embedding has (almost) no variance left."""
    spread = float(Z.std(axis=0).max())
    if spread < 1e-6:
        warnings.warn(
            f"the embedding has collapsed (largest per-dimension std {spread:.2e}); "
            "clusters will be meaningless. Try a lower learning rate or more epochs",
            RuntimeWarning,
            stacklevel=3,
        )
