"""The steps of assignment 1's layer checks (Linear, ReLU, their sandwich, the losses), shared by
its public and hidden checks: call the student's layer, unpack, compare with hints.

Backward steps grade the pair: the student's backward gets the cache of the student's own
forward on the same inputs (:func:`calls.own_layer_cache`).
"""

from __future__ import annotations

from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.support import oracles
from grader.checks.support.calls import call_backward, invoke, own_layer_cache, unpack, with_note
from grader.checks.support.hints import LAYER_HINTS, Variants, diagnose
from grader.checks.support.inputs import randn

Tensor = torch.Tensor


def compare_output(
    actual: Any, expected: Tensor, name: str, case: str, *, dtype: torch.dtype | None,
    hint: str | None = None, kind: str | None = None,
) -> None:  # fmt: skip
    """``compare.tensor`` with the case in the name, the tolerance of ``expected``'s dtype and the
    hints of ``LAYER_HINTS[kind or name]``."""
    default, shape_hint = LAYER_HINTS.get(kind or name, (None, None))
    compare.tensor(
        actual, expected, f"{name} ({case})", dtype=dtype, hint=hint or default, shape_hint=shape_hint,
        **compare.tolerance(expected.dtype),
    )  # fmt: skip


def linear_forward(ctx: Context, x: Tensor, w: Tensor, b: Tensor, expected: Tensor) -> None:
    """The student's Linear.forward(x, w, b): a pair whose out equals ``expected``."""
    case = compare.case(x=x, w=w)
    result = ctx.student.call("layers.Linear.forward", x, w, b)
    out, _ = unpack(result, 2, "Linear.forward", case, "return the tuple (out, cache).")
    compare_output(out, expected, "out", case, dtype=x.dtype)


def linear_backward(
    ctx: Context, x: Tensor, w: Tensor, b: Tensor, dout: Tensor, expected: Any, keep_inputs: bool = False
) -> None:
    """Linear.forward(x, w, b), then Linear.backward(dout, its cache); compared with ``expected``."""
    cache = own_layer_cache(ctx, "Linear.forward", (x, w, b), oracles.linear(x, w, b), (x, w, b))
    case = with_note(compare.case(x=x, w=w), cache)
    result = call_backward(ctx, "Linear.backward", dout, cache, case, keep_inputs)
    grads = unpack(result, 3, "Linear.backward", case, "return the tuple (dx, dw, db).")
    for name, actual, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        compare_output(actual, want, name, case, dtype=x.dtype)


def linear_backward_stored(
    ctx: Context, x: Tensor, w: Tensor, b: Tensor, seed: int, keep_inputs: bool = False
) -> None:
    """:func:`linear_backward` with a seeded dout, against the stored reference."""
    dout = randn((x.shape[0], w.shape[1]), seed, x.dtype)
    expected = ctx.expected("grads", lambda ref: ref.layers.Linear.backward(dout, (x, w, b)))
    linear_backward(ctx, x, w, b, dout, expected, keep_inputs)


def relu_forward(ctx: Context, x: Tensor, expected: Tensor, keep_inputs: bool = False) -> None:
    """The student's ReLU.forward(x): a pair whose out equals ``expected``."""
    case = compare.case(x=x)
    result = invoke(ctx, "layers.ReLU.forward", [("x", x)], case, keep_inputs)
    out, _ = unpack(result, 2, "ReLU.forward", case, "return the tuple (out, cache).")
    compare_output(out, expected, "out", case, dtype=x.dtype, kind="relu")


def relu_backward(ctx: Context, x: Tensor, dout: Tensor, expected: Tensor, keep_inputs: bool = False) -> None:
    """ReLU.forward(x), then ReLU.backward(dout, its cache); compared with ``expected``."""
    cache = own_layer_cache(ctx, "ReLU.forward", (x,), torch.relu(x), x)
    case = with_note(compare.case(x=x), cache)
    dx = call_backward(ctx, "ReLU.backward", dout, cache, case, keep_inputs)
    compare_output(dx, expected, "dx", case, dtype=x.dtype, kind="relu_dx")


def linear_relu_forward(ctx: Context, x: Any, w: Tensor, b: Tensor, expected: Tensor, case: str) -> None:
    """The student's Linear_ReLU.forward(x, w, b) (x may be a child-side view): out equals ``expected``."""
    result = ctx.student.call("layers.Linear_ReLU.forward", x, w, b)
    out, _ = unpack(result, 2, "Linear_ReLU.forward", case, "return the tuple (out, cache).")
    compare_output(out, expected, "out", case, dtype=expected.dtype, kind="linear_relu")


def linear_relu_backward(ctx: Context, x: Tensor, w: Tensor, b: Tensor, dout: Tensor, expected: Any) -> None:
    """Linear_ReLU.forward(x, w, b), then Linear_ReLU.backward(dout, its cache); the documented
    cache ((x, w, b), pre-activation) when that forward is wrong."""
    documented = ((x, w, b), oracles.linear(x, w, b))
    cache = own_layer_cache(ctx, "Linear_ReLU.forward", (x, w, b), oracles.linear_relu(x, w, b), documented)
    case = with_note(compare.case(x=x, w=w), cache)
    result = call_backward(ctx, "Linear_ReLU.backward", dout, cache, case)
    grads = unpack(result, 3, "Linear_ReLU.backward", case, "return the tuple (dx, dw, db).")
    hint = "backpropagate through the ReLU first (ReLU.backward with the relu cache), then Linear.backward."
    for name, actual, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        compare_output(actual, want, name, case, dtype=x.dtype, hint=f"{hint} {LAYER_HINTS[name][0]}")


def linear_relu_backward_stored(ctx: Context, x: Tensor, w: Tensor, b: Tensor, dout: Tensor) -> None:
    """:func:`linear_relu_backward` against the stored reference."""
    cache = ((x, w, b), oracles.linear(x, w, b))
    expected = ctx.expected("grads", lambda ref: ref.layers.Linear_ReLU.backward(dout, cache))
    linear_relu_backward(ctx, x, w, b, dout, expected)


# -- softmax_loss and svm_loss ----------------------------------------------------------------------


def loss_variants(function: str, x: Tensor, expected: tuple[Tensor, Tensor]) -> dict[str, Variants]:
    """Known-wrong (loss, dx) of ``function`` ('softmax_loss' or 'svm_loss') and their hints."""
    n = x.shape[0]
    variants: dict[str, list[tuple[Tensor, str]]] = {
        "loss": [(expected[0] * n, "average the loss over the batch: divide the sum by N.")],
        "dx": [(expected[1] * n, "the loss is an average, so dx is divided by N too.")],
    }
    if function == "svm_loss":
        margin = (expected[0] + 1, "the correct class must contribute 0: skip j == y[i] (its margin is 1).")
        variants["loss"].insert(0, margin)
    return variants


def loss_check(
    ctx: Context,
    function: str,
    x: Tensor,
    y: Tensor,
    expected: tuple[Tensor, Tensor],
    keep_inputs: bool = False,
) -> None:
    """Compare ``layers.<function>(x, y)`` = (loss, dx) with ``expected``, hinting at the known-wrong
    variants of :func:`loss_variants`."""
    case = compare.case(x=x)
    result = invoke(ctx, f"layers.{function}", [("x", x), ("y", y)], case, keep_inputs)
    loss, dx = unpack(result, 2, function, case, "return the tuple (loss, dx).")
    kind = function.removesuffix("_loss")
    variants = loss_variants(function, x, expected)
    for name, actual, want in (("loss", loss, expected[0]), ("dx", dx, expected[1])):
        hint = diagnose(actual, variants[name], LAYER_HINTS[f"{kind}_{name}"][0])
        compare_output(actual, want, name, case, dtype=x.dtype, hint=hint, kind=f"{kind}_{name}")


def loss_stored(ctx: Context, function: str, x: Tensor, y: Tensor, keep_inputs: bool = False) -> None:
    """:func:`loss_check` against the stored reference."""
    expected = ctx.expected("loss", lambda ref: getattr(ref.layers, function)(x, y))
    loss_check(ctx, function, x, y, expected, keep_inputs)
