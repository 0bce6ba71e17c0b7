"""Assignment 3's dropout as the checks see it: inputs, what a correct output looks like, the
forward/backward pair, and the dropout network; shared by its public and hidden checks.

``Dropout`` is graded by its contract, not by one way of writing it: every train-mode output must
be an inverted dropout of x (each unit exactly 0 or x / (1 - p), about a fraction p of them 0),
test mode is the identity, and ``Dropout.backward`` gets the cache of the student's OWN forward.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.support import models, oracles
from grader.checks.support.calls import Cache, call_backward, documented, own_cache, with_note
from grader.checks.support.inputs import layered_net_params, seed_of

Tensor = torch.Tensor

RULE_P = "p is the probability of DROPPING a unit (as in torch.nn.Dropout); each unit is kept with probability 1 - p."
RULE_SCALE = "inverted dropout scales every kept unit by 1 / (1 - p), so that the expected output equals x."
RULE_RECIPE = (
    "with a seed the mask must follow the recipe of the Dropout docstring: a fresh torch.Generator seeded "
    "with dropout_param['seed'], ONE torch.rand draw of x's shape and dtype from it, and a unit is kept "
    "where its draw is >= p."
)
BACKWARD_HINT = (
    "backward multiplies dout by the derivative of forward: the same scaled mask forward applied "
    "(0 where a unit was dropped, 1 / (1 - p) where it was kept), taken from the cache; draw no new mask."
)
NET_HINT = (
    "the architecture is {Linear - ReLU - Dropout} x (L - 1) - Linear - softmax, every Dropout called with "
    "self.dropout_param, and backward visits the same layers in reverse order (see the class docstring)."
)


# -- inputs ----------------------------------------------------------------------------------------


def nonzero_input(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Entries of magnitude 0.5..1.5 with random signs: a zero in out can only be a dropped unit."""
    g = torch.Generator().manual_seed(seed)
    magnitude = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)
    sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
    return (magnitude * sign).to(dtype)


def recipe_mask(shape: tuple[int, ...], p: float, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """The scaled mask of the contract for a seeded call (the documented recipe, on the CPU)."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(shape, generator=g, dtype=dtype) >= p
    return keep.to(dtype) / (1 - p)


# -- what a correct output looks like ------------------------------------------------------------


def _scale_cause(out: Tensor, x: Tensor, kept: Tensor, p: float) -> str:
    """The hint for kept units that are not x / (1 - p): a cause only when the values confirm it."""
    ratio = (
        (out[kept].double() / x[kept].double()) if bool(kept.any()) else torch.ones(1, dtype=torch.float64)
    )
    if bool(torch.all(ratio == 1)):
        return RULE_SCALE + " Your kept units equal x: they are not scaled."
    single = float(torch.tensor(1 / (1 - p), dtype=torch.float32))
    if (
        x.dtype == torch.float64
        and single != 1 / (1 - p)
        and bool(torch.all((ratio - single).abs() <= 1e-14 * single))
    ):
        return (
            "your kept units are scaled by 1 / (1 - p) rounded to float32: the mask was built in float32; "
            "build it in x's dtype."
        )
    if p > 0 and bool(torch.allclose(ratio, torch.full_like(ratio, 1 / p))):
        return RULE_P + " Your kept units are scaled by 1 / p."
    return RULE_SCALE


def train_output(out: Any, x: Tensor, p: float, case: str) -> Tensor:
    """Fail unless ``out`` is an inverted dropout of ``x`` (no zeros in x) with drop probability
    ``p``; returns the kept units (a bool tensor).

    Each unit must be exactly 0 or x / (1 - p) (up to a few roundings of x's dtype), and the
    fraction of zeros must be within 6 binomial standard deviations sqrt(p (1 - p) / n) of p:
    a correct dropout fails with probability ~1e-9; on the forward checks' inputs (>= 42 units)
    p read as the keep probability, no dropping at all, or an identity are far outside.
    """
    compare.that(
        type(out) is torch.Tensor and out.shape == x.shape and out.dtype == x.dtype,
        f"out ({case})",
        f"expected a tensor of x's shape {tuple(x.shape)} and dtype {x.dtype}, got {compare.describe(out)}.",
        "out has the shape and dtype of x.",
    )
    kept = out != 0
    n = x.numel()
    fraction = 1 - float(kept.double().mean())
    bound = 6 * math.sqrt(p * (1 - p) / n)
    compare.that(
        abs(fraction - p) <= bound,
        f"fraction of zeroed units ({case})",
        f"{fraction:.4f} of the {n} units are 0; expected p = {p:g} +- {bound:.4f} (6 standard deviations).",
        RULE_P,
    )
    want = (x[kept].double() / (1 - p)).to(x.dtype)
    compare.tensor(
        out[kept], want, f"kept units ({case})", atol=0, rtol=compare.ROUNDING_RTOL[x.dtype],
        hint=_scale_cause(out, x, kept, p),
    )  # fmt: skip
    return kept


def identity_output(out: Any, x: Tensor, case: str) -> None:
    """Fail unless ``out`` equals ``x`` exactly (test mode is the identity)."""
    compare.tensor(
        out, x, f"out ({case})", dtype=x.dtype, **compare.EXACT,
        hint="in test mode dropout does nothing (inverted dropout already scaled in training): out equals x.",
    )  # fmt: skip


# -- calling the student ---------------------------------------------------------------------------


def dropout_forward(ctx: Context, x: Any, param: dict[str, Any], case: str) -> tuple[Any, Any]:
    """The student's ``Dropout.forward``; checks it returns a pair (out, cache). The cache is the
    student's own business: only ``Dropout.backward`` reads it."""
    result = ctx.student.call("layers.Dropout.forward", x, param)
    compare.structure(
        result, tuple, 2, f"value returned by Dropout.forward ({case})", hint="return out, cache."
    )
    return result


def train_forward(ctx: Context, x: Tensor, param: dict[str, Any], case: str) -> Tensor:
    """Run the student's train-mode forward and check its output; returns the kept units."""
    out, _ = dropout_forward(ctx, x, param, case)
    return train_output(out, x, param["p"], case)


def forward_for_backward(ctx: Context, x: Tensor, param: dict[str, Any], case: str) -> tuple[Cache, Tensor]:
    """(cache, d out / d x): the cache of the student's own forward (the pair is graded, its layout
    is private), or the documented cache ``(mode, scaled mask)`` when that forward's output is wrong
    (no cascade)."""
    p, mode = param["p"], param["mode"]
    factor: dict[str, Tensor] = {}

    def check_out(out: Any) -> None:
        if mode == "test":
            identity_output(out, x, case)
            factor["value"] = torch.ones_like(x)
        else:
            factor["value"] = train_output(out, x, p, case).to(x.dtype) / (1 - p)

    def fallback() -> Cache:
        layout = f" ({mode!r}, {'None' if mode == 'test' else 'scaled mask'})"
        mask = (
            torch.ones_like(x)
            if mode == "test"
            else recipe_mask(tuple(x.shape), p, param.get("seed", 0), x.dtype)
        )
        factor["value"] = mask
        return Cache((mode, None if mode == "test" else mask), documented("Dropout.forward", layout))

    cache = own_cache(ctx, lambda: ctx.student.call("layers.Dropout.forward", x, param), check_out, fallback)
    return cache, factor["value"]


def backward_case(x: Tensor, param: dict[str, Any]) -> str:
    """How a forward-then-backward case is named."""
    return compare.case(x=x, **param) + "; forward then backward"


def check_pair(ctx: Context, x: Tensor, param: dict[str, Any], dout: Tensor,
               tolerance: dict[str, float] = compare.F64) -> None:  # fmt: skip
    """Forward (the student's, else the documented cache) then the student's backward."""
    case = backward_case(x, param)
    cache, factor = forward_for_backward(ctx, x, param, case)
    case = with_note(case, cache)
    dx = call_backward(ctx, "Dropout.backward", dout, cache, case)
    compare.tensor(dx, dout * factor, f"dx ({case})", dtype=dout.dtype, **tolerance, hint=BACKWARD_HINT)


# -- FullyConnectedNet.loss with dropout -----------------------------------------------------------


def net_settings(
    hidden: list[int], input_dim: int, classes: int, p: float, seed: int | None, reg: float
) -> dict[str, Any]:
    """The settings (constructor arguments) of a dropout FullyConnectedNet."""
    return dict(
        hidden_dims=list(hidden), input_dim=input_dim, num_classes=classes, dropout=p, reg=reg, seed=seed
    )


def net_case(settings: dict[str, Any], X: Tensor) -> str:
    """How a dropout network's case is named."""
    s = settings
    return compare.case(hidden_dims=s["hidden_dims"], X=X, dropout=s["dropout"], seed=s["seed"], reg=s["reg"])


def compare_net_loss(result: Any, expected: Any, case: str, params: dict[str, Tensor], reg: float) -> None:
    """(loss, grads) of a float64 dropout network against ``expected``, naming L2 mistakes when
    confirmed."""
    models.compare_loss_and_grads(
        result, expected, case, torch.float64, hint=NET_HINT, params=params, reg=reg
    )


def run_net_train(ctx: Context, hidden: list[int], input_shape: tuple[int, ...], classes: int, p: float,
                  seed: int, reg: float) -> None:  # fmt: skip
    """loss(X, y) of a seeded dropout net against the stored reference."""
    params, X, y = layered_net_params(hidden, input_shape, classes, seed_of(ctx.check.name))
    settings = net_settings(hidden, math.prod(input_shape[1:]), classes, p, seed, reg)
    model = models.student_model(ctx, "FullyConnectedNet", settings, params)
    expected = ctx.expected(
        "loss_and_grads",
        lambda ref: models.reference_model(ref, "FullyConnectedNet", settings, params).loss(X, y),
    )
    compare_net_loss(
        ctx.student.call_method(model, "loss", X, y), expected, net_case(settings, X), params, reg
    )


def net_oracle(params: dict[str, Tensor], X: Tensor, y: Tensor, p: float, seed: int, reg: float):
    """(loss, grads) of the dropout network by autograd, its masks drawn by the documented recipe
    (every dropout layer uses a fresh generator seeded with the same seed)."""

    def relu_dropout(i: int, a: Tensor, leaves: dict[str, Tensor]) -> Tensor:
        return torch.relu(a) * recipe_mask(tuple(a.shape), p, seed)

    return oracles.net_loss(params, X, y, reg, relu_dropout)
