"""Public checks of assignment 1 (fully-connected networks). Students see these."""

from __future__ import annotations

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check

F64 = dict(atol=1e-10, rtol=1e-8)


def _linear_inputs(shape: tuple[int, ...], outputs: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    w = torch.randn(x[0].numel(), outputs, generator=g, dtype=torch.float64)
    b = torch.randn(outputs, generator=g, dtype=torch.float64)
    return x, w, b


@check(task="Linear.forward", points=1)
def linear_forward_small(ctx: Context) -> None:
    """Hand-checkable case: x (2, 3), w (3, 2), b (2,)."""
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=torch.float64)
    w = torch.tensor([[0.1, -0.2], [0.3, 0.0], [-0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64)
    out, _ = ctx.student.call("layers.Linear.forward", x, w, b)
    expected = ctx.expected("out", lambda ref: ref.layers.Linear.forward(x, w, b)[0])
    compare.tensor(out, expected, "out", dtype=torch.float64, **F64, hint="out = x @ w + b.")


@check(task="Linear.forward", points=1)
def linear_forward_images(ctx: Context) -> None:
    """k-dimensional input: x (4, 2, 3, 5) must be flattened to (4, 30)."""
    x, w, b = _linear_inputs((4, 2, 3, 5), 7, seed=11)
    out, _ = ctx.student.call("layers.Linear.forward", x, w, b)
    expected = ctx.expected("out", lambda ref: ref.layers.Linear.forward(x, w, b)[0])
    compare.tensor(
        out, expected, "out", dtype=torch.float64, **F64,
        hint="flatten each example row-major: x.reshape(N, -1).",
        shape_hint="out must be (N, M): flatten x to (N, D) first.",
    )  # fmt: skip
