"""The phases of ``DEC.fit`` as loops that can stop and continue.

A fit runs pretraining (pair by pair), fine-tuning, k-means on the embedding and
the DEC iterations. Each phase reads and advances one ``TrainingState`` and, at
every boundary (the end of an epoch or of a DEC iteration), hands it to ``Run``,
which writes a checkpoint when one is due or Ctrl-C asked for it. A fit resumed
from a checkpoint enters the same loops at the stored position and repeats the
uninterrupted computation exactly; the DEC iterations themselves live in
``numpy_dec.dec``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from numpy_dec.checkpoint import Interrupted, TrainingState, load_optimizer, pack_state
from numpy_dec.kmeans import kmeans
from numpy_dec.layers import Sequential
from numpy_dec.reporting import Reporter
from numpy_dec.training import make_optimizer, make_schedule, train_reconstruction


class Run:
    """What the phases of one fit share, and the checkpoints they write.

    Parameters
    ----------
    s : dict
        The resolved settings.
    rngs : dict of str to numpy.random.Generator
        ``init`` (weights and dropout masks), ``order`` (minibatch order) and
        ``kmeans``.
    autoencoder : StackedDenoisingAutoencoder
    reporter : Reporter
    callback : callable or None
        See ``DEC.fit``.

    Attributes
    ----------
    state : TrainingState
        Where the fit stands; the phases advance it.
    optimizer : SGD, Adam or None
        The optimizer of the running phase, saved with the checkpoints.
    saver : Checkpointer or None
        Writes the checkpoints; None when the fit keeps none.
    """

    def __init__(self, s, rngs, autoencoder, reporter: Reporter, callback=None):
        self.s, self.rngs, self.autoencoder = s, rngs, autoencoder
        self.reporter, self.callback = reporter, callback
        self.state = TrainingState()
        self.optimizer = None
        self.saver = None
        self._clock = None

    @property
    def every(self) -> int:
        """Epochs or target updates between periodic checkpoints."""
        return self.saver.every if self.saver is not None else 1

    def start_clock(self, name: str) -> None:
        """Start timing a phase; its seconds add up across resumed sessions."""
        self.state.history["seconds"].setdefault(name, 0.0)
        self._clock = (name, time.perf_counter())

    def lap(self) -> None:
        """Add the seconds since the clock started or last lapped to its phase."""
        if self._clock is not None:
            name, start = self._clock
            now = time.perf_counter()
            self.state.history["seconds"][name] += now - start
            self._clock = (name, now)

    def make_optimizer(self, model: Sequential, phase: str):
        """The phase's optimizer over ``model``, with the checkpoint's state if any.

        ``phase`` is the prefix of its settings: "pretrain", "finetune" or "dec".
        """
        s = self.s
        optimizer = make_optimizer(
            s[f"{phase}_optimizer"], model, float(s[f"{phase}_momentum"]),
            float(s["weight_decay"]),
        )
        if self.state.optimizer is not None:
            load_optimizer(optimizer, self.state.optimizer, self.saver.path)
            self.state.optimizer = None
        self.optimizer = optimizer
        return optimizer

    def boundary(self, due: bool) -> None:
        """A point where the state is complete: save when due or after Ctrl-C.

        After Ctrl-C the checkpoint is saved and ``Interrupted`` raised.
        """
        if self.saver is None or not (due or self.saver.requested):
            return
        self.lap()
        fields, arrays = pack_state(self.state, self.autoencoder, self.optimizer,
                                    self.rngs)
        where = self.state.describe(self.s)
        path = self.saver.save({**fields, "where": where}, arrays)
        if self.saver.requested:
            raise Interrupted(path, where)

    def end_phase(self, next_phase: str) -> None:
        """Move the state to the start of ``next_phase`` and checkpoint there."""
        self.optimizer = None
        self.state.phase = next_phase
        self.state.pair = self.state.epoch = self.state.iteration = 0
        self.lap()
        self._clock = None
        self.boundary(due=True)


def train_epoch(model, X, optimizer, schedule, batch_size: int, rng,
                lower: Sequential | None = None) -> float:
    """One epoch of ``train_reconstruction``; return its mean loss.

    The schedule continues from the optimizer's step count, so a phase run one
    epoch at a time (or resumed from a checkpoint) follows the same learning
    rates as a single call over all its epochs.
    """
    done = optimizer.t
    losses = train_reconstruction(
        model, X, 1, batch_size, optimizer, lambda t: schedule(done + t), rng,
        Reporter(verbose=0), lower,
    )
    return losses[0]


def _train_epochs(model, X, phase: str, losses: list, run: Run,
                  lower: Sequential | None = None) -> None:
    """Epochs ``run.state.epoch`` onwards of one reconstruction phase.

    Each epoch appends its mean loss to ``losses``; between two epochs the run
    may write a checkpoint. ``lower`` is passed to ``train_reconstruction``.
    """
    s, state = run.s, run.state
    epochs = int(s[f"{phase}_epochs"])
    optimizer = run.make_optimizer(model, phase)
    schedule = make_schedule(float(s[f"{phase}_lr"]), s[f"{phase}_lr_step"])
    for epoch in range(state.epoch, epochs):
        # train_reconstruction raises FloatingPointError on a non-finite loss
        loss = train_epoch(model, X, optimizer, schedule, int(s["batch_size"]),
                           run.rngs["order"], lower)
        losses.append(loss)
        run.reporter.progress(epoch + 1, epochs, loss=loss)
        state.epoch = epoch + 1
        if state.epoch < epochs:
            run.boundary(due=state.epoch % run.every == 0)


def pretrain(X: np.ndarray, run: Run) -> None:
    """Greedy layer-wise training of the denoising pairs, from the state on.

    Pair p trains on the clean encoding of the first p pairs (computed one
    minibatch at a time), with its own optimizer; a checkpoint follows every
    pair. With the setting ``layerwise_pretrain`` False no pair is trained
    (the pretraining history stays empty) and fine-tuning starts from the
    initial weights.
    """
    state, ae = run.state, run.autoencoder
    if state.phase != "pretrain":
        return
    run.start_clock("pretrain")
    if not run.s["layerwise_pretrain"]:
        run.reporter.phase("pretrain", "skipped (layerwise_pretrain=False)")
        run.end_phase("finetune")
        return
    sizes, epochs = ae.layer_sizes, run.s["pretrain_epochs"]
    for p in range(state.pair, len(ae.pairs)):
        run.reporter.phase(
            f"pretrain {p + 1}/{len(ae.pairs)}",
            f"pair {sizes[p]}-{sizes[p + 1]}-{sizes[p]}, {epochs} epochs",
        )
        if len(state.history["pretrain"]) == p:
            state.history["pretrain"].append([])
        _train_epochs(ae.pairs[p], X, "pretrain", state.history["pretrain"][p],
                      run, ae.lower_pairs(p))

        # the next pair starts from epoch 0 with a fresh optimizer
        if p + 1 < len(ae.pairs):
            run.optimizer = None
            state.pair, state.epoch = p + 1, 0
            run.boundary(due=True)
    run.end_phase("finetune")


def finetune(X: np.ndarray, run: Run) -> None:
    """End-to-end training of the stacked autoencoder, from the state on."""
    if run.state.phase != "finetune":
        return
    run.start_clock("finetune")
    run.reporter.phase("finetune", f"{run.s['finetune_epochs']} epochs")
    _train_epochs(run.autoencoder.autoencoder, X, "finetune",
                  run.state.history["finetune"], run)
    run.end_phase("kmeans")


def init_centroids(X: np.ndarray, n_clusters: int, run: Run) -> None:
    """k-means on the embedding, lowest inertia kept: the initial centroids."""
    state, s = run.state, run.s
    if state.phase != "kmeans":
        return
    run.start_clock("kmeans_embedding")
    run.reporter.phase("kmeans", f"{s['kmeans_n_init']} restarts on the embedding")
    Z = run.autoencoder.encode(X)
    warn_if_collapsed(Z)
    state.centroids, state.kmeans_labels, _ = kmeans(
        Z, n_clusters, run.rngs["kmeans"], n_init=int(s["kmeans_n_init"])
    )
    run.end_phase("dec")


def warn_if_collapsed(Z: np.ndarray) -> None:
    """Warn when the embedding Z (N, E) has (almost) no spread left.

    The spread is the largest per-dimension standard deviation; the embedding
    counts as collapsed when it is below 1e-6, or below 1 % of the largest
    |mean| + std (points that all sit near one vector, such as a saturated
    sigmoid embedding).
    """
    spread = float(Z.std(axis=0).max())
    scale = float(np.abs(Z.mean(axis=0)).max()) + spread
    if spread < 1e-6 or spread < 1e-2 * scale:
        warnings.warn(
            f"the embedding has collapsed: its largest per-dimension std is "
            f"{spread:.2e} against a magnitude of {scale:.2e}, so the clusters "
            "will be close to meaningless. Train the autoencoder longer or with "
            "another learning rate, and check the input scale",
            RuntimeWarning,
            stacklevel=4,
        )
