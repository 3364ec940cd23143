"""numpy_dec: Deep Embedded Clustering in NumPy, every gradient by hand.

Deep Embedded Clustering (Xie, Girshick and Farhadi, ICML 2016) embeds the data
with the encoder of a stacked denoising autoencoder, then moves the embedding
and the cluster centroids together so that the Student's t soft assignment Q
sharpens towards the target distribution P derived from it.

Shapes in every docstring use these letters:

N
    samples (or the samples of one minibatch)
D
    input features (784 for MNIST)
H
    units of a hidden layer, or the output size of a layer
E
    embedding size (10 by default)
K
    clusters

Public interface: ``DEC`` (the estimator), the formulas ``soft_assignment``,
``target_distribution``, ``kl_divergence`` and ``kl_gradients``, the module
``numpy_dec.metrics``, and ``StackedDenoisingAutoencoder`` for the autoencoder on
its own.
"""

from numpy_dec import metrics
from numpy_dec.autoencoder import StackedDenoisingAutoencoder
from numpy_dec.dec import DEC
from numpy_dec.formulas import (
    kl_divergence,
    kl_gradients,
    soft_assignment,
    target_distribution,
)

__version__ = "0.1.0"

__all__ = [
    "DEC",
    "StackedDenoisingAutoencoder",
    "kl_divergence",
    "kl_gradients",
    "metrics",
    "soft_assignment",
    "target_distribution",
]
