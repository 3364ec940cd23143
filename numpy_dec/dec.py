"""Deep Embedded Clustering as an estimator in scikit-learn's conventions.

``DEC.fit`` runs the whole method: layer-wise pretraining of the denoising
pairs, end-to-end fine-tuning, k-means on the embedding for the initial
centroids, then the DEC iterations, which minimise L = KL(P || Q) over the
encoder's parameters and the centroids with P held fixed between updates.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
import warnings
from typing import Any

import numpy as np

from numpy_dec import fitting
from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.checkpoint import RNG_NAMES, Checkpointer, fingerprint, unpack_state
from numpy_dec.formulas import kl_divergence, soft_assignment, target_distribution
from numpy_dec.iteration import DEC_METHODS, dec_step
from numpy_dec.presets import get_preset
from numpy_dec.reporting import Reporter
from numpy_dec.storage import is_dtype_like, load_model, save_model
from numpy_dec.validation import (
    check_array,
    check_choice,
    check_int,
    check_n_clusters,
    check_real,
    check_settings,
    output_range_message,
)


class DEC:
    """Deep Embedded Clustering (Xie, Girshick and Farhadi, ICML 2016).

    Parameters
    ----------
    n_clusters : int
        K, the number of clusters.
    preset : {"spec", "paper", "quick", "long"}
        Where every setting left as None comes from (``numpy_dec.presets``).
    random_state : int
        Seeds every random source: weights, dropout masks, minibatch order and
        k-means. The same value gives bit-identical results.
    verbose : int or bool
        0 (False) is silent; 1 (True) reports progress on standard error, at
        most one line every 2 seconds per phase; 2 reports every epoch and
        every target update.
    **settings
        Any key of a preset (``alpha``, ``finetune_epochs``, ``eta0``, ...), as
        keywords; None means "take the preset's value". Two of them switch
        parts of the method off or on: ``layerwise_pretrain=False`` skips the
        denoising pairs (the autoencoder is only fine-tuned end to end, from its
        initial weights), and ``gamma > 0`` keeps the reconstruction error in
        the DEC phase with that weight, updating the decoder too (see
        ``dec_gradients``; ``gamma=0`` is plain DEC).

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
        of changed assignments), ``seconds`` (per phase, summed over the sessions
        of a resumed fit), ``converged``.
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
        layerwise_pretrain: bool | None = None,
        gamma: float | None = None,
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
        if isinstance(resolved["hidden_sizes"], (list, tuple)):
            resolved["hidden_sizes"] = tuple(resolved["hidden_sizes"])
        dtype = resolved["dtype"]
        if is_dtype_like(dtype) or isinstance(dtype, str):
            # np.float64, np.dtype("float64") and "f8" all name "float64"; the
            # settings check refuses any other name, and text NumPy cannot read
            try:
                resolved["dtype"] = np.dtype(dtype).name
            except TypeError:
                pass
        return resolved

    def _check_settings(self, s: dict[str, Any]) -> None:
        """Raise TypeError or ValueError for any unusable setting or keyword."""
        check_settings(s)
        check_choice("dec_method", s["dec_method"], DEC_METHODS)
        if not isinstance(s["layerwise_pretrain"], (bool, np.bool_)):
            raise TypeError(
                f"layerwise_pretrain must be True or False; got "
                f"{s['layerwise_pretrain']!r}"
            )
        check_real("gamma", s["gamma"], 0.0, low_open=False)
        check_int("random_state", self.random_state, 0)
        if not isinstance(self.verbose, (bool, np.bool_)):
            check_int("verbose", self.verbose, 0)

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

    def fit(
        self,
        X: np.ndarray,
        y: None = None,
        callback=None,
        *,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
    ) -> "DEC":
        """Pretrain, fine-tune, initialise by k-means and run DEC on X.

        Parameters
        ----------
        X : array-like of shape (N, D)
            Finite numeric data, already scaled (pixels / 255 for "spec").
        y : ignored
            Present for API consistency; clustering never sees labels.
        callback : callable, optional
            Called at every target update as ``callback(iteration, Z, centroids)``
            with the embedding Z (N, E) and the centroids (K, E); for plots and
            animations. Its return value is ignored.
        checkpoint_dir : str or path-like, optional
            Folder for ``checkpoint.npz``, written at the end of every phase
            (and of every pretraining pair), every ``checkpoint_every`` epochs or
            DEC target updates, and when Ctrl-C is pressed.
        checkpoint_every : int, default 10
            Epochs of pretraining or fine-tuning, or DEC target updates, between
            two periodic checkpoints.
        resume : bool, default False
            Continue from the checkpoint in ``checkpoint_dir``, which must have
            been written with the same resolved settings, ``n_clusters`` and
            ``random_state``, and for the same X; the result is bit-identical to
            an uninterrupted fit. Without a checkpoint there yet, the fit starts
            from the beginning.

        Raises
        ------
        numpy_dec.checkpoint.Interrupted
            A KeyboardInterrupt, raised after Ctrl-C once the checkpoint has been
            saved at the end of the current epoch or DEC iteration (or when
            ``callback`` raises KeyboardInterrupt). Without ``checkpoint_dir``,
            Ctrl-C raises KeyboardInterrupt as usual.
        numpy_dec.storage.StorageError
            A ValueError: the checkpoint to resume is damaged or does not match.
        FloatingPointError
            Training diverged (NaN or inf); lower the learning rates. Invalid
            settings or X are found before anything changes, so an earlier fit
            survives them; once the network is built (for training, or to load
            a checkpoint), the earlier fit is gone, and after an error the
            estimator is unfitted.
        """
        s = self.settings()
        self._check_settings(s)
        # the keywords of this fit, kept for predict and save: set_params
        # after fit takes effect at the next fit only
        params = copy.deepcopy(self.get_params())
        X = check_array(X, dtype=s["dtype"], name="X")
        check_n_clusters(self.n_clusters, X.shape[0])
        outside = output_range_message(X, s["output_activation"])
        if outside is not None:
            warnings.warn(f"X: {outside}", RuntimeWarning, stacklevel=2)
        check_int("checkpoint_every", checkpoint_every, 1)
        if callback is not None and not callable(callback):
            raise TypeError(
                f"callback must be callable (or None); got {type(callback).__name__}"
            )
        if resume and checkpoint_dir is None:
            raise ValueError("resume=True needs the checkpoint_dir to resume from")

        # a fit stopped half-way must not leave an earlier fit's results behind
        for name in ("cluster_centers_", "labels_", "kmeans_labels_", "history_",
                     "_fitted_params"):
            self.__dict__.pop(name, None)
        seeds = np.random.SeedSequence(self.random_state).spawn(len(RNG_NAMES))
        rngs = dict(zip(RNG_NAMES, (np.random.default_rng(q) for q in seeds)))
        self._build(X.shape[1], s, rngs["init"])
        run = fitting.Run(s, rngs, self.autoencoder_, Reporter(self.verbose), callback)
        if checkpoint_dir is not None:
            # what determines the result: the resolved settings, K, the seed
            params = {**s, "n_clusters": self.n_clusters,
                      "random_state": self.random_state}
            identity = {"params": params, "data": fingerprint(X)}
            run.saver = Checkpointer(checkpoint_dir, checkpoint_every, identity)
            if resume:
                self._resume(run, X)

        with run.saver or contextlib.nullcontext():
            fitting.pretrain(X, run)
            fitting.finetune(X, run)
            fitting.init_centroids(X, self.n_clusters, run)
            self._run_dec(X, run)

        state = run.state
        self._fitted_params = params
        self.history_ = state.history
        self.kmeans_labels_ = state.kmeans_labels
        self.cluster_centers_ = state.centroids
        self.labels_ = state.previous
        return self

    def _resume(self, run: fitting.Run, X: np.ndarray) -> None:
        """Load the checkpoint of ``run.saver`` into the network and the state."""
        loaded = run.saver.load()
        if loaded is None:
            run.reporter.phase(
                "resume", f"no checkpoint in {run.saver.directory} yet; starting "
                "from the beginning"
            )
            return
        header, arrays = loaded
        run.state = unpack_state(
            header, arrays, self.autoencoder_, run.rngs, X.shape[0],
            self.n_clusters, run.saver.path,
        )
        run.reporter.phase(
            "resume", f"continuing from {run.saver.path}: "
            f"{run.state.describe(run.s)}"
        )

    def _run_dec(self, X: np.ndarray, run: fitting.Run) -> None:
        """The DEC iterations, from ``run.state.iteration`` on."""
        state, s, ae = run.state, run.s, self.autoencoder_
        if state.phase != "dec":
            return
        run.start_clock("dec")
        alpha, eta0 = float(s["alpha"]), float(s["eta0"])
        interval, max_iter = int(s["update_interval"]), int(s["max_iter"])
        batch_size, n_samples = int(s["batch_size"]), X.shape[0]
        # with the reconstruction term the decoder is trained as well
        gamma = float(s["gamma"])
        optimizer = run.make_optimizer(ae.autoencoder if gamma > 0 else ae.encoder,
                                       "dec")
        run.reporter.phase(
            "dec", f"at most {max_iter} iterations, target every {interval}"
        )
        first = state.iteration

        for iteration in range(first, max_iter + 1):
            state.iteration = iteration
            if iteration > first:
                run.boundary(due=iteration % (interval * run.every) == 0)

            # recompute the target P on all data, and test for convergence
            if iteration % interval == 0 or iteration == max_iter:
                if self._target_update(X, run, iteration):
                    break

            # one minibatch step; a new permutation when the last one is used up
            if state.order is None or state.position >= n_samples:
                state.order = run.rngs["order"].permutation(n_samples)
                state.position = 0
            index = state.order[state.position : state.position + batch_size]
            state.position += index.size
            eta = eta0 / float(np.sqrt(iteration + 1))
            state.centroids, _ = dec_step(
                ae.encoder, optimizer, X[index], state.P[index], state.centroids, eta,
                float(s["dec_lr"]), alpha, s["dec_method"], gamma, ae.decoder,
            )

        run.end_phase("done")
        if not state.history["converged"]:
            warnings.warn(
                f"DEC stopped at max_iter={max_iter} before the fraction of changed "
                f"assignments fell below tol={s['tol']} (last: "
                f"{state.history['dec'][-1]['changed']:.4g})",
                RuntimeWarning,
                stacklevel=3,
            )

    def _target_update(self, X: np.ndarray, run: fitting.Run, iteration: int) -> bool:
        """Recompute P from all data and record it; True when DEC should stop.

        DEC stops (converged) when fewer than ``tol`` of the assignments changed
        since the last update, or at ``max_iter``.
        """
        state, s = run.state, run.s
        Z = self.autoencoder_.encode(X)
        if run.callback is not None:
            try:
                run.callback(iteration, Z, state.centroids)
            except KeyboardInterrupt:
                if run.saver is None:
                    raise
                run.saver.requested = True
                run.boundary(due=True)

        Q = soft_assignment(Z, state.centroids, float(s["alpha"]))
        state.P = target_distribution(Q)
        labels = Q.argmax(axis=1)
        changed = (
            1.0 if state.previous is None else float(np.mean(labels != state.previous))
        )
        record = {
            "iteration": iteration,
            "kl_per_point": kl_divergence(state.P, Q) / X.shape[0],
            "changed": changed,
        }
        state.history["dec"].append(record)
        run.reporter.progress(iteration, int(s["max_iter"]), kl=record["kl_per_point"],
                              changed=changed)
        state.previous = labels
        state.history["converged"] = iteration > 0 and changed < s["tol"]
        return state.history["converged"] or iteration == int(s["max_iter"])

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

    def fitted_settings(self) -> dict[str, Any]:
        """The resolved settings of the last fit (or of the loaded model).

        Unlike ``settings()``, which follows ``set_params``, these are the
        ones the network and the centroids were trained with; ``predict``,
        ``predict_proba`` and ``save`` use them.
        """
        self._check_fitted()
        return type(self)(**self._fitted_params).settings()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The soft assignment Q, ndarray of shape (N, K)."""
        alpha = float(self.fitted_settings()["alpha"])
        return soft_assignment(self.transform(X), self.cluster_centers_, alpha)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Hard assignments argmax_j q_ij, ndarray of shape (N,)."""
        return self.predict_proba(X).argmax(axis=1)

    def fit_predict(self, X: np.ndarray, y: None = None) -> np.ndarray:
        """Fit on X and return ``labels_``."""
        return self.fit(X).labels_

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to a ``.npz`` file (no pickled objects)."""
        self._check_fitted()
        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DEC":
        """Read a model written by ``save``; validates version, shapes and dtypes.

        Raises FileNotFoundError when the file is missing and
        ``numpy_dec.storage.StorageError`` (a ValueError) when it is
        damaged or not a numpy_dec model.
        """
        return load_model(cls, path)

