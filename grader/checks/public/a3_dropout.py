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
from dataclasses import dataclass
from typing import Any

import torch

from grader.checks import compare
from grader.checks.common import compare_unchanged, seed_of, student_net
from grader.checks.context import Context
from grader.checks.public.a1_fully_connected import _diagnose, _model_loss_hints
from grader.checks.registry import check
from grader.sandbox.session import StudentError

# float64: out = x * keep / (1 - p) computed in another order differs by an ulp or two.
F64 = dict(atol=1e-10, rtol=1e-8)
# float32 (looser, on purpose): same few operations in single precision (eps 6e-8 per rounding).
F32 = dict(atol=1e-6, rtol=1e-5)
EXACT = dict(atol=0.0, rtol=0.0)
#: Relative error allowed between a kept unit and x / (1 - p): a few roundings of x's dtype.
SCALE_RTOL = {torch.float64: 1e-12, torch.float32: 1e-6}

RULE_P = "p is the probability of DROPPING a unit (as in torch.nn.Dropout); each unit is kept with probability 1 - p."
RULE_SCALE = "inverted dropout scales every kept unit by 1 / (1 - p), so that the expected output equals x."
RULE_RECIPE = (
    "with a seed the mask must follow the recipe of the Dropout docstring: a fresh torch.Generator seeded "
    "with dropout_param['seed'], ONE torch.rand draw of x's shape and dtype from it, and a unit is kept "
    "where its draw is >= p."
)


# -- inputs --------------------------------------------------------------------------------------
def nonzero_input(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Entries of magnitude 0.5..1.5 with random signs: a zero in out can only be a dropped unit."""
    g = torch.Generator().manual_seed(seed)
    magnitude = 0.5 + torch.rand(shape, generator=g, dtype=torch.float64)
    sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(torch.float64)
    return (magnitude * sign).to(dtype)


def recipe_mask(
    shape: tuple[int, ...], p: float, seed: int, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """The scaled mask of the contract for a seeded call (the documented recipe, on the CPU)."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(shape, generator=g, dtype=dtype) >= p
    return keep.to(dtype) / (1 - p)


def case_name(shape: tuple[int, ...], param: dict[str, Any], dtype: torch.dtype = torch.float64) -> str:
    settings = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v:g}" for k, v in param.items())
    kind = "" if dtype == torch.float64 else f"{str(dtype).removeprefix('torch.')} "
    return f"{kind}x of shape {tuple(shape)}, {settings}"


# -- what a correct output looks like -------------------------------------------------------------
def _scale_cause(out: torch.Tensor, x: torch.Tensor, kept: torch.Tensor, p: float) -> str:
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


def train_output(out: Any, x: torch.Tensor, p: float, case: str) -> torch.Tensor:
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
        out[kept], want, f"kept units ({case})", atol=0, rtol=SCALE_RTOL[x.dtype],
        hint=_scale_cause(out, x, kept, p),
    )  # fmt: skip
    return kept


def identity_output(out: Any, x: torch.Tensor, case: str) -> None:
    """Fail unless ``out`` equals ``x`` exactly (test mode is the identity)."""
    compare.tensor(
        out, x, f"out ({case})", dtype=x.dtype, **EXACT,
        hint="in test mode dropout does nothing (inverted dropout already scaled in training): out equals x.",
    )  # fmt: skip


# -- calling the student --------------------------------------------------------------------------
def dropout_forward(ctx: Context, x: Any, param: dict[str, Any], case: str) -> tuple[Any, Any]:
    """The student's ``Dropout.forward``; checks it returns a pair (out, cache). The cache is the
    student's own business: only ``Dropout.backward`` reads it."""
    result = ctx.student.call("layers.Dropout.forward", x, param)
    compare.structure(
        result, tuple, 2, f"value returned by Dropout.forward ({case})", hint="return out, cache."
    )
    return result


def expected_forward(ctx: Context, x: torch.Tensor, param: dict[str, Any]) -> torch.Tensor:
    """The reference ``out`` of a seeded train-mode forward (stored)."""
    return ctx.expected("out", lambda ref: ref.layers.Dropout.forward(x, dict(param))[0])


def train_forward(ctx: Context, x: torch.Tensor, param: dict[str, Any], case: str) -> torch.Tensor:
    """Run the student's train-mode forward and check its output; returns the kept units."""
    out, _ = dropout_forward(ctx, x, param, case)
    return train_output(out, x, param["p"], case)


# -- Dropout.forward -------------------------------------------------------------------------------
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
    case = case_name(x.shape, param)
    out, _ = dropout_forward(ctx, x, param, case)
    train_output(out, x, param["p"], case)
    compare.tensor(
        out, expected_forward(ctx, x, param), f"out ({case})", dtype=x.dtype, **F64,
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
    case = case_name(shape, param) + f" (seed {ctx.seed})"
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
        case = case_name(x.shape, param)
        out, _ = dropout_forward(ctx, x, param, case)
        identity_output(out, x, case)
    train = {"p": 0.6, "mode": "train"}
    train_forward(ctx, x, train, case_name(x.shape, train))


@check(task="Dropout.forward", points=1)
def dropout_forward_p_zero(ctx: Context) -> None:
    """p is the drop probability: p = 0 in train mode keeps every unit unscaled (out equals x
    exactly), while p = 0.5 on the same x drops about half of them."""
    x = nonzero_input((6, 7), seed_of("dropout_forward_p_zero"))
    param = {"p": 0.0, "mode": "train", "seed": 3}
    case = case_name(x.shape, param)
    out, _ = dropout_forward(ctx, x, param, case)
    compare.tensor(
        out, x, f"out ({case})", dtype=x.dtype, **EXACT,
        hint=RULE_P + " With p = 0 every unit is kept and scaled by 1 / (1 - 0) = 1.",
    )  # fmt: skip
    half = {"p": 0.5, "mode": "train", "seed": 3}
    train_forward(ctx, x, half, case_name(x.shape, half))


@check(task="Dropout.forward", points=1)
def dropout_forward_x_unchanged(ctx: Context) -> None:
    """x is not modified in place, in train and in test mode (and the outputs are dropouts of x)."""
    x = nonzero_input((6, 8), seed_of("dropout_forward_x_unchanged"))
    for param in ({"p": 0.3, "mode": "train", "seed": 2}, {"p": 0.3, "mode": "test"}):
        case = case_name(x.shape, param)
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
BACKWARD_HINT = (
    "backward multiplies dout by the derivative of forward: the same scaled mask forward applied "
    "(0 where a unit was dropped, 1 / (1 - p) where it was kept), taken from the cache; draw no new mask."
)


@dataclass(frozen=True)
class Pair:
    """What ``Dropout.backward`` is given: the cache of one forward call and d out / d x of it."""

    cache: Any
    factor: torch.Tensor
    #: '' when the cache comes from the student's own forward, else why the documented one is used
    note: str


def forward_for_backward(ctx: Context, x: torch.Tensor, param: dict[str, Any], case: str) -> Pair:
    """The cache of the student's own forward (the pair is graded, its layout is private), or the
    documented cache ``(mode, scaled mask)`` when that forward's output is wrong (no cascade)."""
    p = param["p"]
    try:
        out, cache = dropout_forward(ctx, x, param, case)
        if param["mode"] == "test":
            identity_output(out, x, case)
            return Pair(cache, torch.ones_like(x), "")
        kept = train_output(out, x, p, case)
        return Pair(cache, kept.to(x.dtype) / (1 - p), "")
    except (compare.CheckFailure, StudentError):
        note = (
            "your Dropout.forward does not pass its checks, so Dropout.backward was given the documented "
            f"cache ({param['mode']!r}, {'None' if param['mode'] == 'test' else 'scaled mask'})"
        )
        if param["mode"] == "test":
            return Pair(("test", None), torch.ones_like(x), note)
        mask = recipe_mask(tuple(x.shape), p, param.get("seed", 0), x.dtype)
        return Pair(("train", mask), mask, note)


def backward_pair(ctx: Context, dout: Any, pair: Pair) -> Any:
    """The student's ``Dropout.backward(dout, pair.cache)`` (``dout`` may be a kept handle)."""
    try:
        return ctx.student.call("layers.Dropout.backward", dout, pair.cache)
    except StudentError as error:
        if not pair.note or error.type_name == "NotImplementedError":
            raise
        raise compare.CheckFailure(f"{pair.note}; with it your Dropout.backward raised {error}.") from None


def compare_dx(dx: Any, expected: torch.Tensor, pair: Pair, case: str, tolerance: dict[str, float]) -> None:
    name = f"dx ({case}" + (f"; {pair.note})" if pair.note else ")")
    compare.tensor(dx, expected, name, dtype=expected.dtype, **tolerance, hint=BACKWARD_HINT)


def check_pair(ctx: Context, x: torch.Tensor, param: dict[str, Any], dout: torch.Tensor,
               tolerance: dict[str, float] = F64) -> None:  # fmt: skip
    """Forward (the student's, else the documented cache) then the student's backward."""
    case = case_name(x.shape, param, x.dtype) + "; forward then backward"
    pair = forward_for_backward(ctx, x, param, case)
    dx = backward_pair(ctx, dout, pair)
    compare_dx(dx, dout * pair.factor, pair, case, tolerance)


def _dout(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


@check(task="Dropout.backward", points=1)
def dropout_backward_train(ctx: Context) -> None:
    """Train mode (p = 0.4, seed 5): dx is dout times the mask of the forward that made the cache."""
    x = nonzero_input((6, 8), seed_of("dropout_backward_train/x"))
    check_pair(
        ctx, x, {"p": 0.4, "mode": "train", "seed": 5}, _dout(x.shape, seed_of("dropout_backward_train"))
    )


@check(task="Dropout.backward", points=1)
def dropout_backward_test_mode(ctx: Context) -> None:
    """The mode of the cache decides: after a test-mode forward dx equals dout, after a
    train-mode forward it is masked."""
    x = nonzero_input((5, 6), seed_of("dropout_backward_test_mode/x"))
    dout = _dout(x.shape, seed_of("dropout_backward_test_mode"))
    check_pair(ctx, x, {"p": 0.5, "mode": "test"}, dout, EXACT)
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
def net_problem(
    hidden: list[int], input_shape: tuple[int, ...], classes: int, seed: int
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Parameters (biases nonzero), inputs X of shape (N, *dims) and labels."""
    g = torch.Generator().manual_seed(seed)
    dims = [math.prod(input_shape[1:]), *hidden, classes]
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = torch.randn(dims[i - 1], dims[i], generator=g, dtype=torch.float64) / math.sqrt(
            dims[i - 1]
        )
        params[f"b{i}"] = 0.1 * torch.randn(dims[i], generator=g, dtype=torch.float64)
    X = torch.randn(input_shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, classes, (input_shape[0],), generator=g)
    return params, X, y


def reference_net(ref: Any, hidden: list[int], input_dim: int, classes: int, p: float, seed: int, reg: float,
                  params: dict[str, torch.Tensor]) -> Any:  # fmt: skip
    model = ref.fc_net.FullyConnectedNet(
        list(hidden), input_dim=input_dim, num_classes=classes, dropout=p, reg=reg, seed=seed,
        dtype=torch.float64,
    )  # fmt: skip
    model.params = {k: v.clone() for k, v in params.items()}
    return model


NET_HINT = (
    "the architecture is {Linear - ReLU - Dropout} x (L - 1) - Linear - softmax, every Dropout called with "
    "self.dropout_param, and backward visits the same layers in reverse order (see the class docstring)."
)


def compare_loss_and_grads(
    result: Any,
    expected: tuple[torch.Tensor, dict[str, torch.Tensor]],
    case: str,
    params: dict[str, torch.Tensor],
    reg: float,
) -> None:
    """(loss, grads) against ``expected``; a hint names an L2 mistake only when recomputing the
    expected value with that mistake reproduces the student's value."""
    compare.structure(result, tuple, 2, f"value returned by loss(X, y) ({case})", hint="return loss, grads.")
    loss, grads = result
    want_loss, want_grads = expected
    loss_variants, grad_variants = _model_loss_hints(params, expected, reg)
    compare.tensor(loss, want_loss, f"loss ({case})", dtype=torch.float64, **F64,
                   hint=_diagnose(loss, loss_variants, NET_HINT), shape_hint="the loss is a 0-dim tensor.")  # fmt: skip
    compare.structure(
        grads, dict, None, f"grads ({case})", hint="grads maps each key of params to its gradient."
    )
    compare.keys(
        grads, set(want_grads), f"grads ({case})", hint="one gradient per parameter, same keys as params."
    )
    for name in sorted(want_grads, key=lambda k: (int(k[1:]), k[0])):
        hint = _diagnose(grads[name], grad_variants.get(name, []), NET_HINT)
        compare.tensor(grads[name], want_grads[name], f"grads['{name}'] ({case})", dtype=torch.float64, **F64,
                       hint=hint)  # fmt: skip


def net_case(hidden: list[int], X: torch.Tensor, p: float, seed: int, reg: float) -> str:
    return f"hidden_dims={hidden}, X of shape {tuple(X.shape)}, dropout={p:g}, seed={seed}, reg={reg:g}"


def run_net_train(ctx: Context, hidden: list[int], input_shape: tuple[int, ...], classes: int, p: float,
                  seed: int, reg: float) -> None:  # fmt: skip
    """loss(X, y) of a seeded dropout net against the stored reference."""
    params, X, y = net_problem(hidden, input_shape, classes, seed_of(ctx.check.name))
    input_dim = math.prod(input_shape[1:])
    model = student_net(ctx, hidden, input_dim, classes, p, seed, reg, params)
    expected = ctx.expected(
        "loss_and_grads",
        lambda ref: reference_net(ref, hidden, input_dim, classes, p, seed, reg, params).loss(X, y),
    )
    compare_loss_and_grads(
        ctx.student.call_method(model, "loss", X, y), expected, net_case(hidden, X, p, seed, reg), params, reg
    )


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_loss_and_grads(ctx: Context) -> None:
    """Two hidden layers, dropout 0.3 with a seed: loss and gradients equal the reference."""
    run_net_train(ctx, [7, 5], (6, 8), 4, p=0.3, seed=2, reg=0.0)


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_test_scores(ctx: Context) -> None:
    """loss(X) (test mode) gives the scores of the net without dropout: dropout is the identity."""
    hidden, p, seed = [6, 6], 0.5, 4
    params, X, _ = net_problem(hidden, (5, 7), 3, seed_of("dropout_net_test_scores"))
    model = student_net(ctx, hidden, 7, 3, p, seed, 0.0, params)
    scores = ctx.student.call_method(model, "loss", X)
    expected = ctx.expected(
        "scores", lambda ref: reference_net(ref, hidden, 7, 3, p, seed, 0.0, params).loss(X)
    )
    compare.tensor(
        scores, expected, f"scores ({net_case(hidden, X, p, seed, 0.0)}, y=None)", dtype=torch.float64, **F64,
        hint="with y=None the net is in test mode: pass self.dropout_param (its mode is 'test') to every "
        "Dropout layer, which then does nothing.",
    )  # fmt: skip


def _autograd_loss_and_grads(
    params: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor, p: float, seed: int, reg: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The oracle: the same network written with autograd, its masks drawn by the documented
    recipe (every dropout layer uses a fresh generator seeded with the same seed)."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    L = len(params) // 2
    out = X.reshape(X.shape[0], -1)
    for i in range(1, L):
        out = torch.relu(out @ leaves[f"W{i}"] + leaves[f"b{i}"])
        out = out * recipe_mask(tuple(out.shape), p, seed)
    scores = out @ leaves[f"W{L}"] + leaves[f"b{L}"]
    loss = torch.nn.functional.cross_entropy(scores, y)
    loss = loss + 0.5 * reg * sum((leaves[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
    names = list(leaves)
    grads = torch.autograd.grad(loss, [leaves[k] for k in names])
    return loss.detach(), dict(zip(names, grads, strict=True))


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
    params, X, y = net_problem(hidden, (N, D), C + 1, int(torch.randint(0, 2**31, (), generator=g)))
    model = student_net(ctx, hidden, D, C + 1, p, seed, reg, params)
    result = ctx.student.call_method(model, "loss", X, y)
    expected = _autograd_loss_and_grads(params, X, y, p, seed, reg)
    case = net_case(hidden, X, p, seed, reg) + f" (check seed {ctx.seed})"
    compare_loss_and_grads(result, expected, case, params, reg)
