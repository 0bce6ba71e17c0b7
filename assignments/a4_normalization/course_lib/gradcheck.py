"""Numeric gradient checking: central differences and a relative error.

Typical use inside an assignment::

    dx_num = compute_numeric_gradient(lambda x: affine_forward(x, w, b)[0], x, dout)
    print(rel_error(dx_num, dx))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Tensor = torch.Tensor

#: Denominator floor of :func:`rel_error`; entries where both values are this small count as equal.
REL_ERROR_FLOOR = 1e-8


def rel_error(x: Any, y: Any) -> float:
    """Largest elementwise relative error between ``x`` and ``y`` (same shape, any shape).

    Computes ``max_i |x_i - y_i| / max(1e-8, |x_i| + |y_i|)`` in float64.

    Every entry is compared on its own scale. Normalising by the *global* maximum instead
    (``max|x - y| / max(|x| + |y|)``) lets a few large entries hide a completely wrong small
    entry: with ``x = [1000, 0.001]`` and ``y = [1000, 0.002]`` the global version reports about
    5e-7 while the second entry is off by a factor of two; this function reports 0.33. The floor
    only keeps the ratio finite where both entries are (nearly) zero.

    Args:
        x, y: tensors, arrays or numbers of equal shape.

    Returns:
        The maximum relative error as a Python float (0.0 for empty inputs).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64, device=x.device)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.numel() == 0:
        return 0.0
    scale = (x.abs() + y.abs()).clamp_min(REL_ERROR_FLOOR)
    return float(((x - y).abs() / scale).max())


def compute_numeric_gradient(
    f: Callable[[Tensor], Tensor], x: Tensor, dLdf: Tensor | None = None, h: float = 1e-7
) -> Tensor:
    """Numeric gradient ``dL/dx`` of ``L = sum(dLdf * f(x))`` by central differences.

    For every entry ``i`` of ``x``::

        grad[i] = sum(dLdf * (f(x + h e_i) - f(x - h e_i))) / (2 h)

    ``x`` is perturbed **in place** (so ``f`` may read it directly or through a closure) and
    every entry is restored to its exact original value, also when ``f`` raises.

    Args:
        f: maps ``x`` to a float64 tensor of any shape ``S`` (a 0-dim loss is fine).
        x: float64, contiguous tensor of any shape; it is not cast, because a float32 copy would
            be useless: ``f`` must see the perturbation and float32 cannot resolve ``h``.
        dLdf: upstream gradient with ``S.numel()`` elements (float64); default all ones.
        h: step size.

    Returns:
        A new float64 tensor shaped like ``x``.

    Raises:
        TypeError: if ``x`` or ``f(x)`` is not float64.
        ValueError: if ``x`` is not contiguous or ``dLdf`` does not match ``f(x)``.
    """
    _check_input(x)
    flat = x.detach().view(-1)
    grad = torch.empty_like(flat)
    # On the CPU, numpy views make reading/writing one scalar ~20x cheaper than tensor indexing.
    on_cpu = flat.device.type == "cpu"
    x_buf = flat.numpy() if on_cpu else flat
    grad_buf = grad.numpy() if on_cpu else grad
    two_h = 2 * h
    diff = diff_flat = weights = None
    for i in range(flat.numel()):
        old = float(x_buf[i])
        try:
            x_buf[i] = old + h
            out = f(x)
            if diff is None:
                diff, diff_flat, weights = _buffers(out, dLdf)
            diff.copy_(out)  # f may return a view of x or reuse its output, so keep a copy
            x_buf[i] = old - h
            diff.sub_(f(x))
        finally:
            x_buf[i] = old
        grad_buf[i] = float(torch.dot(weights, diff_flat)) / two_h
    return grad.view_as(x)


def _check_input(x: Tensor) -> None:
    """Reject inputs whose in-place perturbation would not work or not be accurate."""
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float64:
        kind = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"compute_numeric_gradient needs a float64 tensor x, got {kind}; use x.double()")
    if not x.is_contiguous():
        raise ValueError("compute_numeric_gradient needs a contiguous x; use x.contiguous()")


def _buffers(out: Tensor, dLdf: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Difference buffer shaped like ``out``, its flat view, and the flat upstream gradient."""
    if not isinstance(out, torch.Tensor) or out.dtype != torch.float64:
        kind = out.dtype if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"f must return a float64 tensor, got {kind}")
    diff = torch.empty_like(out, memory_format=torch.contiguous_format)
    diff_flat = diff.view(-1)
    if dLdf is None:
        return diff, diff_flat, torch.ones_like(diff_flat)
    weights = torch.as_tensor(dLdf, dtype=torch.float64, device=out.device).reshape(-1)
    if weights.numel() != out.numel():
        raise ValueError(f"dLdf has {weights.numel()} elements but f(x) has {out.numel()}")
    return diff, diff_flat, weights


def check_model_gradients(
    model: Any, X: Tensor, y: Tensor, h: float = 1e-6, verbose: bool = True
) -> dict[str, float]:
    """Compare ``model.loss(X, y)`` gradients with numeric ones for every parameter.

    Args:
        model: object with ``params: dict[str, Tensor]`` (float64) and ``loss(X, y) -> (loss, grads)``.
        X: inputs, e.g. (N, D).
        y: labels, (N,).
        h: finite-difference step.
        verbose: print one line per parameter.

    Returns:
        ``{name: rel_error(numeric, analytic)}`` in ``model.params`` order.
    """
    _, grads = model.loss(X, y)

    def loss_of(_: Tensor) -> Tensor:
        return torch.as_tensor(model.loss(X, y)[0], dtype=torch.float64)

    errors = {}
    for name, param in model.params.items():
        numeric = compute_numeric_gradient(loss_of, param, h=h)
        errors[name] = rel_error(numeric, grads[name])
        if verbose:
            print(f"{name} relative error: {errors[name]:.2e}")
    return errors
