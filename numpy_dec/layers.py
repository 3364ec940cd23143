"""Layers with hand-written forward and backward passes.

Every layer follows one contract:

- ``params`` maps a name to a parameter array and ``grads`` holds an array of the
  same shape under the same name ({} for parameter-free layers).
- ``forward(x, training=False)`` returns the output and keeps what the backward
  pass needs in the single attribute ``self.cache``.
- ``backward(dout)`` returns the gradient with respect to the input and assigns
  new arrays to ``self.grads``. It never changes ``dout`` or the cache in place.
  ``Dense`` and ``Sequential`` also take ``input_grad=False``, which sets the
  same parameter gradients but skips the input gradient and returns None.

The optimizer step is separate (see ``numpy_dec.optim``), so every gradient a
layer produces can be checked by finite differences (see ``numpy_dec.gradcheck``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_INITS = ("glorot_uniform", "gaussian")


def _check_rng(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}; "
            "create one with numpy.random.default_rng(seed)"
        )


def _require_cache(layer: object) -> None:
    if layer.cache is None:
        raise RuntimeError(
            f"{type(layer).__name__}.backward was called before forward"
        )


class Dense:
    """Fully connected layer, ``out = x @ W + b``.

    Parameters
    ----------
    in_features : int
        Number of input features D.
    out_features : int
        Number of output units H.
    rng : numpy.random.Generator
        Source of randomness for the initial weights.
    dtype : numpy dtype, default numpy.float32
        Floating dtype of the parameters. Inputs must have the same dtype.
    init : {"glorot_uniform", "gaussian"}, default "glorot_uniform"
        Weight initialisation. "glorot_uniform" draws from U(-l, l) with
        l = sqrt(6 / (D + H)); "gaussian" draws from N(0, init_std^2).
    init_std : float, default 0.01
        Standard deviation of the "gaussian" initialisation.

    Attributes
    ----------
    params : dict
        "W" of shape (D, H) and "b" of shape (H,). The bias starts at zero.
    grads : dict
        "W" and "b", same shapes, assigned by ``backward``.
    cache : ndarray of shape (N, D) or None
        The input of the last ``forward``.

    Notes
    -----
    Forward: out = x @ W + b.
    Backward, for an upstream gradient dout of shape (N, H):
    dW = x.T @ dout, db = dout.sum(axis=0), dx = dout @ W.T.

    The layer casts nothing: an input or upstream gradient whose dtype differs
    from the parameters raises TypeError instead of being promoted silently.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rng: np.random.Generator,
        dtype: npt.DTypeLike = np.float32,
        init: str = "glorot_uniform",
        init_std: float = 0.01,
    ) -> None:
        # validate the hyperparameters
        sizes = {"in_features": in_features, "out_features": out_features}
        for label, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{label} must be an int, got {value!r}")
            if value < 1:
                raise ValueError(f"{label} must be at least 1, got {value}")
        _check_rng(rng)
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}, got {init!r}")
        if not init_std > 0:
            raise ValueError(f"init_std must be positive, got {init_std!r}")

        # draw the weights in float64, then store them in the model dtype
        shape = (int(in_features), int(out_features))
        if init == "glorot_uniform":
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            weights = rng.uniform(-limit, limit, size=shape)
        else:
            weights = rng.normal(0.0, init_std, size=shape)

        self.in_features, self.out_features = shape
        self.dtype = dtype
        self.params = {"W": weights.astype(dtype), "b": np.zeros(shape[1], dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache = None

    def _check_array(self, a: np.ndarray, label: str, width: int) -> None:
        if not isinstance(a, np.ndarray) or a.ndim != 2 or a.shape[1] != width:
            shape = getattr(a, "shape", type(a).__name__)
            raise ValueError(
                f"Dense({self.in_features}, {self.out_features}) expects {label} "
                f"of shape (N, {width}), got {shape}"
            )
        if a.dtype != self.dtype:
            raise TypeError(
                f"Dense parameters are {self.dtype} but {label} is {a.dtype}; "
                f"cast the data to {self.dtype} once, before the model"
            )

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Affine map of a batch.

        Parameters
        ----------
        x : ndarray of shape (N, D)
        training : bool, default False
            Unused; kept for the common layer signature.

        Returns
        -------
        out : ndarray of shape (N, H)
        """
        self._check_array(x, "x", self.in_features)
        self.cache = x

        # the bias is added in place to the fresh product: no second (N, H) array
        out = x @ self.params["W"]
        out += self.params["b"]
        return out

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Gradients of the affine map.

        Parameters
        ----------
        dout : ndarray of shape (N, H)
            Gradient of the loss with respect to the output.
        input_grad : bool, default True
            False skips the product for dx and returns None; for a first layer,
            whose input is data, in training.

        Returns
        -------
        dx : ndarray of shape (N, D), or None when ``input_grad`` is False
            Gradient with respect to the input. ``grads["W"]`` (D, H) and
            ``grads["b"]`` (H,) are set as a side effect.
        """
        _require_cache(self)
        self._check_array(dout, "dout", self.out_features)
        x = self.cache
        if dout.shape[0] != x.shape[0]:
            raise ValueError(
                f"dout has {dout.shape[0]} rows but the last input had {x.shape[0]}"
            )

        # the previous step's gradients are released before the new ones are
        # computed, so the two never coexist (4 MiB for a 2000 x 500 weight)
        self.grads = {}
        self.grads = {"W": x.T @ dout, "b": dout.sum(axis=0)}
        if not input_grad:
            return None
        return dout @ self.params["W"].T


class ReLU:
    """Rectified linear unit, ``out = max(x, 0)``.

    Attributes
    ----------
    params, grads : dict
        Empty.
    cache : ndarray of shape (N, D) or None
        The output of the last ``forward``.

    Notes
    -----
    Forward: out = max(x, 0).
    Backward: dx = dout * (x > 0) = dout * (out > 0), as out > 0 exactly where
    x > 0. The derivative at exactly x = 0 is taken as 0; the function has a
    kink there, so finite differences are only meaningful for inputs farther
    than the step h from 0.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Apply max(x, 0) elementwise to x of shape (N, D); returns (N, D)."""
        # keeping the output, not the input: the next layer holds the output
        # anyway, so x can be freed; in the stacked autoencoder that is 6,000
        # of the 13,578 numbers a sample caches (6.1 MiB per 256-row minibatch)
        out = np.maximum(x, 0)
        self.cache = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return dx = dout * (out > 0), shape (N, D)."""
        _require_cache(self)
        return dout * (self.cache > 0)


class Sigmoid:
    """Logistic function, ``out = 1 / (1 + exp(-x))``.

    Attributes
    ----------
    params, grads : dict
        Empty.
    cache : ndarray of shape (N, D) or None
        The output of the last ``forward``.

    Notes
    -----
    Forward: s = 1 / (1 + exp(-x)). For very negative x, exp(-x) overflows to
    inf and 1 / (1 + inf) = 0 is the correct limit, so the overflow is silenced
    instead of avoided; every other input gives s to within a few ulp.
    Backward: dx = dout * s * (1 - s).
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Apply the logistic function to x of shape (N, D); returns (N, D)."""
        # four passes over one new array (integers computed in float64): 0.17 ms
        # on (256, 784) float32 N(0, 9) inputs, where a two-branch np.where
        # form took 2.4 ms (its branches mispredict on mixed signs)
        dtype = x.dtype if np.issubdtype(x.dtype, np.inexact) else np.float64
        out = np.negative(x, dtype=dtype)
        with np.errstate(over="ignore"):
            np.exp(out, out=out)
        out += 1
        np.reciprocal(out, out=out)
        self.cache = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return dx = dout * s * (1 - s), shape (N, D)."""
        _require_cache(self)
        s = self.cache
        dx = dout * s
        dx *= 1 - s
        return dx


class Identity:
    """Linear activation, ``out = x``.

    Attributes
    ----------
    params, grads : dict
        Empty.
    cache : None
        Nothing is needed for the backward pass.

    Notes
    -----
    Forward: out = x. Backward: dx = dout. Both arrays are returned as they are,
    without a copy.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Return x of shape (N, D) unchanged."""
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return dout of shape (N, D) unchanged."""
        return dout


class Dropout:
    """Inverted dropout.

    Parameters
    ----------
    drop_prob : float
        Probability of zeroing an element during training, in [0, 1).
    rng : numpy.random.Generator
        Source of the masks.

    Attributes
    ----------
    params, grads : dict
        Empty.
    mask : ndarray of shape (N, D) or None
        The last mask drawn: 0 for a dropped element, 1 / (1 - drop_prob) for a
        kept one.
    frozen : bool
        When True and ``mask`` has the shape and dtype of the input, a training
        forward reuses it instead of drawing a new one. This makes the layer a
        fixed function, which is what a finite-difference check needs.
    cache : ndarray of shape (N, D) or None
        The mask applied by the last forward, or None after an evaluation
        forward (the layer was the identity).

    Notes
    -----
    Training: mask = (u >= drop_prob) / (1 - drop_prob) with u ~ U[0, 1),
    out = x * mask, dx = dout * mask. Dividing by the keep probability keeps
    the expected output equal to x, so evaluation needs no rescaling.
    Evaluation (training=False): out = x and dx = dout.
    """

    def __init__(self, drop_prob: float, rng: np.random.Generator) -> None:
        if isinstance(drop_prob, bool) or not isinstance(
            drop_prob, (int, float, np.floating, np.integer)
        ):
            raise TypeError(f"drop_prob must be a real number, got {drop_prob!r}")
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
        _check_rng(rng)
        self.drop_prob = float(drop_prob)
        self.rng = rng
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.mask = None
        self.frozen = False
        self.cache = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Drop and rescale elements of x of shape (N, D) when training.

        Returns
        -------
        out : ndarray of shape (N, D)
            ``x * mask`` when training, ``x`` itself otherwise.
        """
        if not training:
            self.cache = None
            return x

        # reuse the frozen mask, or draw a new one in the dtype of x
        reuse = (
            self.frozen
            and self.mask is not None
            and self.mask.shape == x.shape
            and self.mask.dtype == x.dtype
        )
        if not reuse:
            keep = self.rng.random(x.shape) >= self.drop_prob
            scale = np.asarray(1.0 / (1.0 - self.drop_prob), dtype=x.dtype)
            self.mask = keep * scale

        self.cache = self.mask
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return dx = dout * mask (training) or dout (evaluation), shape (N, D)."""
        if self.cache is None:
            return dout
        return dout * self.cache


class Sequential:
    """A chain of layers applied one after another.

    Parameters
    ----------
    layers : list
        Layer objects following the layer contract. A ``Sequential`` may itself
        be one of them; its parameters are then named with a nested prefix.

    Notes
    -----
    Forward: out = f_L(... f_2(f_1(x))). Backward applies each layer's backward
    in reverse order (the chain rule), so dx = J_1^T (J_2^T (... J_L^T dout)).
    """

    def __init__(self, layers: list) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            methods = (getattr(layer, m, None) for m in ("forward", "backward"))
            if not all(callable(m) for m in methods):
                raise TypeError(
                    f"layer {i} ({type(layer).__name__}) has no forward/backward"
                )
        self.layers = layers

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> object:
        return self.layers[index]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run x of shape (N, D) through every layer; returns (N, H_last)."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Evaluation-mode forward of x (N, D) that keeps nothing for backward.

        The output is that of ``forward(x, training=False)``. Each layer's
        cache is dropped as soon as the layer has run, so only the current
        layer's input and output are held: for 1,024 rows of the
        784-500-500-2000-10 encoder 16 MiB at most, instead of the 25 MiB of
        cached activations that ``forward`` keeps until the next call.
        ``backward`` needs a ``forward`` first.
        """
        for layer in self.layers:
            if isinstance(layer, Sequential):
                x = layer.predict(x)
            else:
                x = layer.forward(x, training=False)
                layer.cache = None
        return x

    def backward(self, dout: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Backpropagate dout of shape (N, H_last); returns dx of shape (N, D).

        With ``input_grad=False`` every parameter gradient is still set, but the
        work that only dx needs is skipped (the layers below the first one with
        parameters, and that layer's own dx product) and None is returned.
        Training on data uses it: the data need no gradient.
        """
        if input_grad:
            for layer in reversed(self.layers):
                dout = layer.backward(dout)
            return dout

        first = self._first_with_params()
        if first is None:
            return None
        for layer in reversed(self.layers[first + 1 :]):
            dout = layer.backward(dout)
        layer = self.layers[first]
        if isinstance(layer, (Dense, Sequential)):
            layer.backward(dout, input_grad=False)
        else:
            layer.backward(dout)
        return None

    def _first_with_params(self) -> int | None:
        """Index of the first layer that has a parameter, or None."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Sequential):
                if layer.named_parameters():
                    return i
            elif layer.params:
                return i
        return None

    def named_parameters(self) -> list[tuple[str, object, str]]:
        """List every parameter as (name, layer, key), in layer order.

        Names are "<layer index>.<key>", for example "0.W" and "2.b"; a nested
        Sequential adds its own index, as in "1.0.W".
        """
        named = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Sequential):
                for name, inner, key in layer.named_parameters():
                    named.append((f"{i}.{name}", inner, key))
            else:
                for key in layer.params:
                    named.append((f"{i}.{key}", layer, key))
        return named

    def parameters(self) -> list[tuple[object, str]]:
        """List every parameter as (layer, key), in the order of named_parameters."""
        return [(layer, key) for _, layer, key in self.named_parameters()]


_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "linear": Identity}


def make_activation(name: str) -> object:
    """Build an activation layer from its name.

    Parameters
    ----------
    name : {"relu", "sigmoid", "linear"}
        "linear" gives the Identity layer.

    Returns
    -------
    layer : ReLU, Sigmoid or Identity
    """
    if not isinstance(name, str):
        raise TypeError(f"activation name must be a str, got {type(name).__name__}")
    if name not in _ACTIVATIONS:
        valid = ", ".join(repr(k) for k in _ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; valid names: {valid}")
    return _ACTIVATIONS[name]()
