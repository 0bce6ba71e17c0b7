"""Public checks of assignment 3 (dropout). Students see these.

``Dropout`` is graded by its contract, not by one way of writing it: every train-mode output must
be an inverted dropout of x (each unit exactly 0 or x / (1 - p), about a fraction p of them 0),
test mode is the identity, and ``Dropout.backward`` gets the cache of the student's OWN forward
(the pair is graded; its layout is private). Only ``dropout_forward_seeded`` asks for the exact
seeded recipe of the docstring. ``FullyConnectedNet.loss`` runs with the reference layers, so with
a seed its dropout masks are the reference's and the loss and gradients can be compared exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support import models
from grader.checks.support.calls import compare_unchanged
from grader.checks.support.dropout import (
    RULE_P,
    RULE_RECIPE,
    RULE_SCALE,
    check_pair,
    compare_net_loss,
    dropout_forward,
    identity_output,
    net_case,
    net_oracle,
    net_settings,
    nonzero_input,
    run_net_train,
    train_forward,
    train_output,
)
from grader.checks.support.inputs import dout_like, layered_net_params, seed_of


# -- Dropout.forward -------------------------------------------------------------------------------
def _expected_forward(ctx: Context, x: torch.Tensor, param: dict[str, Any]) -> torch.Tensor:
    """The reference ``out`` of a seeded train-mode forward (stored)."""
    return ctx.expected("out", lambda ref: ref.layers.Dropout.forward(x, dict(param))[0])


def _recipe_cause(out: torch.Tensor, x: torch.Tensor, p: float, seed: int) -> str:
    """RULE_RECIPE, plus what the output reproduces when a detector confirms it."""
    g = torch.Generator().manual_seed(seed)
    keep_low = torch.rand(x.shape, generator=g, dtype=x.dtype) < 1 - p
    if torch.equal(out != 0, keep_low):
        return (
            RULE_RECIPE
            + " Your mask keeps a unit where its draw is < 1 - p (the same distribution, another mask)."
        )
    return RULE_RECIPE


@check(task="Dropout.forward", points=1)
def dropout_forward_seeded(ctx: Context) -> None:
    """The one recipe check: with a seed the mask is the documented recipe, so out equals the
    reference (any other correct dropout loses only this point)."""
    x = nonzero_input((4, 3, 5), seed_of("dropout_forward_seeded"))
    param = {"p": 0.3, "mode": "train", "seed": 7}
    case = compare.case(x=x, **param)
    out, _ = dropout_forward(ctx, x, param, case)
    train_output(out, x, param["p"], case)
    compare.tensor(
        out, _expected_forward(ctx, x, param), f"out ({case})", dtype=x.dtype, **compare.F64,
        hint=_recipe_cause(out, x, param["p"], param["seed"]),
    )  # fmt: skip


@check(task="Dropout.forward", points=1, randomized=True)
def dropout_forward_statistics(ctx: Context) -> None:
    """Without a seed (global RNG): about p of the units are zeroed, kept ones scaled by 1/(1-p)."""
    g = ctx.generator()
    # p away from 0.5, so that "p is the keep probability" is always visible
    p = 0.1 + 0.3 * float(torch.rand((), generator=g, dtype=torch.float64))
    p = round(1 - p if bool(torch.rand((), generator=g) < 0.5) else p, 4)
    shape = (100, 500)
    x = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)  # positive: zeros are dropped units
    param = {"p": p, "mode": "train"}
    case = compare.case(x=x, **param) + f" (seed {ctx.seed})"
    out, _ = dropout_forward(ctx, x, param, case)
    train_output(out, x, p, case)
    # Given x, out_i - x_i = x_i (keep_i / (1 - p) - 1) has mean 0 and variance x_i**2 p / (1 - p);
    # the mean over n units is within 6 standard deviations sqrt(sum x_i**2 p / (1 - p)) / n.
    n = x.numel()
    sigma = math.sqrt(float((x * x).sum()) * p / (1 - p)) / n
    difference = float(out.mean() - x.mean())
    compare.that(
        abs(difference) <= 6 * sigma,
        f"mean of out ({case})",
        f"differs from the mean of x by {difference:.4g}; allowed +- {6 * sigma:.4g} (6 standard deviations).",
        RULE_SCALE,
    )


@check(task="Dropout.forward", points=1)
def dropout_forward_test_mode(ctx: Context) -> None:
    """The mode switches dropout: test mode is the identity (with or without a seed) while train
    mode with the same p drops units."""
    x = nonzero_input((6, 10), seed_of("dropout_forward_test_mode"))
    for param in ({"p": 0.6, "mode": "test"}, {"p": 0.3, "mode": "test", "seed": 1}):
        case = compare.case(x=x, **param)
        out, _ = dropout_forward(ctx, x, param, case)
        identity_output(out, x, case)
    train = {"p": 0.6, "mode": "train"}
    train_forward(ctx, x, train, compare.case(x=x, **train))


@check(task="Dropout.forward", points=1)
def dropout_forward_p_zero(ctx: Context) -> None:
    """p is the drop probability: p = 0 in train mode keeps every unit unscaled (out equals x
    exactly), while p = 0.5 on the same x drops about half of them."""
    x = nonzero_input((6, 7), seed_of("dropout_forward_p_zero"))
    param = {"p": 0.0, "mode": "train", "seed": 3}
    case = compare.case(x=x, **param)
    out, _ = dropout_forward(ctx, x, param, case)
    compare.tensor(
        out, x, f"out ({case})", dtype=x.dtype, **compare.EXACT,
        hint=RULE_P + " With p = 0 every unit is kept and scaled by 1 / (1 - 0) = 1.",
    )  # fmt: skip
    half = {"p": 0.5, "mode": "train", "seed": 3}
    train_forward(ctx, x, half, compare.case(x=x, **half))


@check(task="Dropout.forward", points=1)
def dropout_forward_x_unchanged(ctx: Context) -> None:
    """x is not modified in place, in train and in test mode (and the outputs are dropouts of x)."""
    x = nonzero_input((6, 8), seed_of("dropout_forward_x_unchanged"))
    for param in ({"p": 0.3, "mode": "train", "seed": 2}, {"p": 0.3, "mode": "test"}):
        case = compare.case(x=x, **param)
        handle = ctx.student.keep(x)
        out, _ = dropout_forward(ctx, handle, param, case)
        compare_unchanged(
            ctx, handle, x, f"x after the call ({case})",
            "x must not be modified in place: compute a new tensor for out.",
        )  # fmt: skip
        if param["mode"] == "train":
            train_output(out, x, param["p"], case)
        else:
            identity_output(out, x, case)


# -- Dropout.backward ------------------------------------------------------------------------------
@check(task="Dropout.backward", points=1)
def dropout_backward_train(ctx: Context) -> None:
    """Train mode (p = 0.4, seed 5): dx is dout times the mask of the forward that made the cache."""
    x = nonzero_input((6, 8), seed_of("dropout_backward_train/x"))
    check_pair(
        ctx, x, {"p": 0.4, "mode": "train", "seed": 5}, dout_like(x, seed_of("dropout_backward_train"))
    )


@check(task="Dropout.backward", points=1)
def dropout_backward_test_mode(ctx: Context) -> None:
    """The mode of the cache decides: after a test-mode forward dx equals dout, after a
    train-mode forward it is masked."""
    x = nonzero_input((5, 6), seed_of("dropout_backward_test_mode/x"))
    dout = dout_like(x, seed_of("dropout_backward_test_mode"))
    check_pair(ctx, x, {"p": 0.5, "mode": "test"}, dout, compare.EXACT)
    check_pair(ctx, x, {"p": 0.5, "mode": "train", "seed": 4}, dout)


@check(task="Dropout.backward", points=1, randomized=True)
def dropout_backward_random_masks(ctx: Context) -> None:
    """Random shapes and p, masks from the global RNG: dx is 0 exactly where forward dropped a
    unit and dout / (1 - p) elsewhere."""
    g = ctx.generator()
    shape = tuple(
        int(n) for n in torch.randint(1, 9, (int(torch.randint(1, 4, (), generator=g)),), generator=g)
    )
    p = round(0.05 + 0.9 * float(torch.rand((), generator=g, dtype=torch.float64)), 4)
    x = nonzero_input(shape, int(torch.randint(0, 2**31, (), generator=g)))
    dout = torch.randn(shape, generator=g, dtype=torch.float64)
    check_pair(ctx, x, {"p": p, "mode": "train"}, dout)


# -- FullyConnectedNet.loss with dropout -----------------------------------------------------------


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_loss_and_grads(ctx: Context) -> None:
    """Two hidden layers, dropout 0.3 with a seed: loss and gradients equal the reference."""
    run_net_train(ctx, [7, 5], (6, 8), 4, p=0.3, seed=2, reg=0.0)


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_test_scores(ctx: Context) -> None:
    """loss(X) (test mode) gives the scores of the net without dropout: dropout is the identity."""
    settings = net_settings([6, 6], 7, 3, 0.5, 4, 0.0)
    params, X, _ = layered_net_params([6, 6], (5, 7), 3, seed_of("dropout_net_test_scores"))
    model = models.student_model(ctx, "FullyConnectedNet", settings, params)
    scores = ctx.student.call_method(model, "loss", X)
    expected = ctx.expected(
        "scores", lambda ref: models.reference_model(ref, "FullyConnectedNet", settings, params).loss(X)
    )
    compare.tensor(
        scores, expected, f"scores ({net_case(settings, X)}, y=None)", dtype=torch.float64, **compare.F64,
        hint="with y=None the net is in test mode: pass self.dropout_param (its mode is 'test') to every "
        "Dropout layer, which then does nothing.",
    )  # fmt: skip


@check(task="FullyConnectedNet.loss", points=1, randomized=True)
def dropout_net_matches_autograd(ctx: Context) -> None:
    """Random architecture, dropout and reg: loss and gradients match torch.autograd."""
    g = ctx.generator()
    depth = int(torch.randint(1, 4, (), generator=g))
    hidden = [int(n) for n in torch.randint(3, 9, (depth,), generator=g)]
    N, D, C = (int(n) for n in torch.randint(2, 8, (3,), generator=g))
    p = round(0.1 + 0.7 * float(torch.rand((), generator=g, dtype=torch.float64)), 3)
    reg = round(0.5 * float(torch.rand((), generator=g, dtype=torch.float64)), 3)
    seed = int(torch.randint(0, 10_000, (), generator=g))
    params, X, y = layered_net_params(hidden, (N, D), C + 1, int(torch.randint(0, 2**31, (), generator=g)))
    settings = net_settings(hidden, D, C + 1, p, seed, reg)
    model = models.student_model(ctx, "FullyConnectedNet", settings, params)
    result = ctx.student.call_method(model, "loss", X, y)
    case = net_case(settings, X) + f" (check seed {ctx.seed})"
    compare_net_loss(result, net_oracle(params, X, y, p, seed, reg), case, params, reg)
