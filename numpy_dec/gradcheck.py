"""Finite-difference checks of every hand-written gradient.

The numerical gradient is the central difference

    n_i = (f(x + h e_i) - f(x - h e_i)) / (2 h),   h = 1e-5 by default,

computed in float64: its truncation error is O(h^2) ~ 1e-10 and its round-off
error is about eps * |f| / h ~ 1e-11 * |f|, so a correct analytic gradient
agrees to roughly 1e-9 relative to the size of the gradient.

One relative-error formula is used everywhere, for an analytic gradient a and a
numerical gradient n of the same shape:

    rel_error = max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, 1e-300)

and the worst element is argmax_i |a_i - n_i|. The denominator is the largest
gradient magnitude in either array, so tiny elements of a large gradient do not
inflate the error. A check passes when rel_error < threshold (1e-7 by default);
a non-finite value in either array gives rel_error = inf.

Checks live in a registry. A check is a function of no arguments returning a
list of ``GradCheckResult`` (or a single one), registered with ``@register``;
``check_gradients`` and ``check_model`` do the common work. Run them all with
``run_all()`` and print ``format_table(results)``, or from a shell with
``python -m numpy_dec.gradcheck``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable

import numpy as np

DEFAULT_THRESHOLD = 1e-7


@dataclasses.dataclass(frozen=True)
class GradCheckResult:
    """Outcome of comparing one analytic gradient with its numerical estimate.

    Attributes
    ----------
    name : str
        The array the gradient is taken with respect to, for example "0.W".
    shape : tuple of int
        Its shape.
    rel_error : float
        max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, 1e-300).
    worst_index : tuple of int
        argmax_i |a_i - n_i|, as an index into an array of ``shape``.
    analytic_value, numeric_value : float
        The two gradients at ``worst_index``.
    threshold : float
        The check passes when rel_error < threshold.
    passed : bool
    check : str
        Name of the registered check that produced the result ("" when
        ``compare`` is called directly).
    """

    name: str
    shape: tuple[int, ...]
    rel_error: float
    worst_index: tuple[int, ...]
    analytic_value: float
    numeric_value: float
    threshold: float
    passed: bool
    check: str = ""


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of a scalar function with respect to x.

    Parameters
    ----------
    f : callable
        Takes no argument and returns a scalar that depends on the current
        contents of ``x``.
    x : ndarray of float64, any shape
        Perturbed in place one element at a time; every element is restored
        to its exact original value, even when ``f`` raises.
    h : float, default 1e-5
        Step of the difference.

    Returns
    -------
    grad : ndarray of float64, same shape as x
        grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h).
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "numerical_gradient needs a float64 ndarray (finite differences are "
            f"too coarse in lower precision), got {getattr(x, 'dtype', type(x))}"
        )
    if not x.flags.writeable:
        raise ValueError("numerical_gradient perturbs x in place; x is read-only")
    if not h > 0:
        raise ValueError(f"h must be positive, got {h!r}")

    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            f_plus = float(f())
            x[index] = original - h
            f_minus = float(f())
        finally:
            x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def compare(
    name: str,
    analytic: np.ndarray,
    numeric: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
) -> GradCheckResult:
    """Compare an analytic gradient with a numerical one.

    Parameters
    ----------
    name : str
        Label of the array, reported in the table.
    analytic, numeric : ndarray, same shape
        The two gradients.
    threshold : float, default 1e-7
        Largest relative error still counted as a pass (exclusive).

    Returns
    -------
    result : GradCheckResult
        See the module docstring for the relative-error formula.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(
            f"{name}: analytic gradient has shape {a.shape}, numeric {n.shape}"
        )
    if a.size == 0:
        raise ValueError(f"{name}: cannot compare empty gradients")

    # largest absolute difference and where it occurs
    diff = np.abs(a - n)
    worst = np.unravel_index(int(np.argmax(diff)), a.shape)

    # normalise by the largest magnitude in either array
    if np.all(np.isfinite(a)) and np.all(np.isfinite(n)):
        scale = max(np.abs(a).max(), np.abs(n).max(), 1e-300)
        rel_error = float(diff.max() / scale)
    else:
        rel_error = float("inf")

    return GradCheckResult(
        name=name,
        shape=tuple(a.shape),
        rel_error=rel_error,
        worst_index=tuple(int(i) for i in worst),
        analytic_value=float(a[worst]),
        numeric_value=float(n[worst]),
        threshold=float(threshold),
        passed=bool(rel_error < threshold),
    )


def check_gradients(
    loss: Callable[[], float],
    arrays: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    threshold: float = DEFAULT_THRESHOLD,
    h: float = 1e-5,
) -> list[GradCheckResult]:
    """Compare analytic gradients with central differences of ``loss``.

    Parameters
    ----------
    loss : callable
        Takes no argument and recomputes the scalar loss from the current
        contents of the arrays.
    arrays : dict of str to ndarray
        The float64 arrays to differentiate with respect to; each is perturbed
        in place and restored.
    analytic : dict of str to ndarray
        The analytic gradient of each array, under the same name.

    Returns
    -------
    results : list of GradCheckResult
        One per array, in the order of ``arrays``.
    """
    return [
        compare(name, analytic[name], numerical_gradient(loss, x, h), threshold)
        for name, x in arrays.items()
    ]


def _named_arrays(model: object) -> list[tuple[str, object, str]]:
    if hasattr(model, "named_parameters"):
        return model.named_parameters()
    return [(key, model, key) for key in model.params]


def check_model(
    model: object,
    x: np.ndarray,
    rng: np.random.Generator,
    loss: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    training: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[GradCheckResult]:
    """Check every parameter gradient and the input gradient of a model.

    Parameters
    ----------
    model : layer or Sequential
        Parameters must be float64. Dropout layers should have ``frozen=True``
        when ``training`` is True, so that the function being differentiated
        does not change between evaluations.
    x : ndarray of float64, shape (N, D)
        Input; its gradient is reported under the name "x".
    rng : numpy.random.Generator
        Draws the projection of the default loss.
    loss : callable, optional
        Maps the output (N, H) to (scalar, gradient with respect to the output).
        Default: L = sum(out * R) with R ~ N(0, 1) of the output's shape, drawn
        once, which gives every output element its own random weight. The
        loss may depend on x only through the model's output, since the input
        gradient reported is the one ``backward`` returns.
    training : bool, default False
        Passed to ``forward``.

    Returns
    -------
    results : list of GradCheckResult
        The parameters in ``named_parameters`` order, then "x".
    """
    # analytic gradients from one forward and one backward
    out = model.forward(x, training=training)
    if loss is None:
        weights = rng.standard_normal(out.shape)

        def loss(o):
            return float(np.sum(o * weights)), weights

    _, dout = loss(out)
    dx = model.backward(dout)

    # the arrays to perturb, keyed like their analytic gradients
    named = _named_arrays(model)
    arrays = {name: layer.params[key] for name, layer, key in named}
    analytic = {name: layer.grads[key].copy() for name, layer, key in named}
    arrays["x"], analytic["x"] = x, dx

    def objective():
        return loss(model.forward(x, training=training))[0]

    return check_gradients(objective, arrays, analytic, threshold)


_REGISTRY: dict[str, tuple[Callable[[], object], float]] = {}


def register(
    name: str, threshold: float = DEFAULT_THRESHOLD
) -> Callable[[Callable], Callable]:
    """Decorator adding a check to the registry under ``name``.

    The decorated function takes no argument and returns a list of
    ``GradCheckResult`` or a single one. ``run_all`` judges every result it
    returns against ``threshold``, whatever threshold ``compare`` was given.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a check needs a non-empty str name, got {name!r}")
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}")

    def decorator(func: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"a gradient check named {name!r} is already registered")
        _REGISTRY[name] = (func, float(threshold))
        return func

    return decorator


def _load_checks() -> None:
    """Import the module that registers the package's checks."""
    import numpy_dec.checks  # noqa: F401


def registered_names() -> list[str]:
    """Names of the registered checks, in registration order."""
    _load_checks()
    return list(_REGISTRY)


def run_all(names: list[str] | None = None) -> list[GradCheckResult]:
    """Run registered checks and collect their results.

    Parameters
    ----------
    names : list of str, optional
        Checks to run, in this order. Default: all, in registration order.

    Returns
    -------
    results : list of GradCheckResult
        With ``check`` set to the check's name and ``threshold`` / ``passed``
        set from the threshold it was registered with.
    """
    _load_checks()
    if names is None:
        names = list(_REGISTRY)
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise ValueError(
            f"unknown gradient checks {unknown}; registered: {list(_REGISTRY)}"
        )

    results = []
    for name in names:
        func, threshold = _REGISTRY[name]
        output = func()
        if isinstance(output, GradCheckResult):
            output = [output]
        for r in output:
            results.append(dataclasses.replace(
                r, check=name, threshold=threshold, passed=r.rel_error < threshold
            ))
    return results


def format_table(results: list[GradCheckResult]) -> str:
    """Render results as an aligned plain-text table, one row per result."""
    header = ("check", "parameter", "shape", "worst element", "analytic",
              "numeric", "rel. error", "threshold", "pass/FAIL")
    rows = [header]
    for r in results:
        rows.append((
            r.check,
            r.name,
            str(r.shape),
            str(r.worst_index),
            f"{r.analytic_value:.6e}",
            f"{r.numeric_value:.6e}",
            f"{r.rel_error:.2e}",
            f"{r.threshold:.0e}",
            "pass" if r.passed else "FAIL",
        ))

    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

if __name__ == "__main__":
    all_results = run_all()
    print(format_table(all_results))
    sys.exit(0 if all(r.passed for r in all_results) else 1)
