"""Hints that name the usual cause of a wrong value, and how a known-wrong variant is recognised.

A hint names a cause as confirmed only when recomputing the expected value with that mistake
reproduces the student's value (:func:`diagnose`); otherwise it states the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from grader.checks import compare

Tensor = torch.Tensor

#: Layer outputs and gradients: name -> (hint for wrong values, hint for a wrong shape)
LAYER_HINTS: dict[str, tuple[str, str]] = {
    "out": (
        "each example is flattened (row-major) to a vector of D entries; the affine map with w and b "
        "then gives one row of out.",
        "out is (N, M): flatten each example to D entries first.",
    ),
    "dx": (
        "dx is dout sent back through the weights (the transpose of the forward map), in x's shape.",
        "dx has x's shape (N, d1, ..., dk): undo the flattening.",
    ),
    "dw": (
        "dw relates every input feature (of the flattened x) to every output gradient, summed over "
        "the batch.",
        "dw has w's shape (D, M); check the order of the two factors.",
    ),
    "db": ("b is added to every example, so db sums dout over the batch.", "db has b's shape (M,)."),
    "relu": ("ReLU keeps the positive entries and replaces the others by 0.", "ReLU keeps the shape of x."),
    "relu_dx": (
        "the gradient passes only where x > 0; it is 0 where x <= 0, including x == 0 exactly.",
        "dx has the shape of x.",
    ),
    "linear_relu": ("the sandwich is the Linear layer followed by the ReLU.", "out is (N, M)."),
    "softmax_loss": (
        "the loss is the batch average of -log(probability of the correct class); subtract each row's "
        "max and use log-sum-exp for stability.",
        "loss is a 0-dim tensor: no .item(), no keepdim.",
    ),
    "softmax_dx": (
        "the gradient is the predicted probabilities, minus 1 at the correct class, averaged over the batch.",
        "dx has the shape of x (N, C).",
    ),
    "svm_loss": (
        "the loss is the batch average of the sum over wrong classes j of max(0, x[i, j] - x[i, y[i]] + 1).",
        "loss is a 0-dim tensor: no .item(), no keepdim.",
    ),
    "svm_dx": (
        "every wrong class with a positive margin (exactly 0 counts as 0) gets +1/N; the correct class "
        "gets -1/N for each of them.",
        "dx has the shape of x (N, C).",
    ),
}

#: (known-wrong value, the hint it earns)
Variants = Sequence[tuple[Tensor, str]]


def matches(actual: Any, wrong: Tensor) -> bool:
    """Whether ``actual`` is a float tensor equal to ``wrong`` within :data:`compare.HINT_MATCH`."""
    if type(actual) is not Tensor or not actual.dtype.is_floating_point or actual.shape != wrong.shape:
        return False
    tolerance = compare.HINT_MATCH[torch.float64 if actual.dtype == torch.float64 else torch.float32]
    return bool(torch.allclose(actual.double(), wrong.double(), **tolerance))


def diagnose(actual: Any, variants: Variants, default: str) -> str:
    """The hint of the first known-wrong variant that ``actual`` reproduces, else ``default``."""
    for value, hint in variants:
        if matches(actual, value):
            return hint
    return default


def model_loss_variants(
    params: dict[str, Tensor], expected: tuple[Tensor, dict[str, Tensor]], reg: float
) -> tuple[list[tuple[Tensor, str]], dict[str, list[tuple[Tensor, str]]]]:
    """Known-wrong variants of a network's loss and of each gradient (L2 mistakes), with the hint
    each one earns: (loss variants, parameter name -> gradient variants)."""
    if reg <= 0:
        return [], {}
    loss, grads = expected
    weights = [k for k in params if k.startswith("W")]
    l2 = 0.5 * reg * sum((params[k].double() ** 2).sum() for k in weights)
    bias_l2 = 0.5 * reg * sum((params[k].double() ** 2).sum() for k in params if k.startswith("b"))
    loss64 = loss.double()
    loss_variants = [
        (loss64 - l2, "the L2 term is missing: add 0.5 * reg * sum(W ** 2) for every weight matrix."),
        (loss64 + l2, "the L2 term is 0.5 * reg * sum(W ** 2): did you drop the factor 0.5?"),
        (loss64 + bias_l2, "biases are not regularised: only W1, W2, ... enter the L2 term."),
        (loss64 + bias_l2 + l2, "the L2 term is 0.5 * reg * sum(W ** 2) over the weights only."),
    ]
    grad_variants: dict[str, list[tuple[Tensor, str]]] = {}
    for key, grad in grads.items():
        p = params[key].double()
        if key.startswith("W"):
            grad_variants[key] = [
                (grad.double() - reg * p, "add reg * W to each weight gradient."),
                (
                    grad.double() + reg * p,
                    "the gradient of 0.5 * reg * sum(W ** 2) is reg * W, not 2 * reg * W.",
                ),
            ]
        else:
            grad_variants[key] = [(grad.double() + reg * p, "biases are not regularised: no reg term in db.")]
    return loss_variants, grad_variants
