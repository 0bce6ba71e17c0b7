"""Public checks of assignment 3 (dropout). Students see these.

``Dropout.forward`` is checked exactly against the reference where a seed makes the mask
reproducible (the class docstring gives the exact recipe), and by properties of the student's own
output otherwise. ``Dropout.backward`` gets caches built by the documented recipe, never the
student's forward. ``FullyConnectedNet.loss`` runs with the reference layers, so with a seed its
dropout masks are the reference's and the loss and gradients can be compared exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.checks import compare
from grader.checks.common import compare_unchanged, seed_of, student_net
from grader.checks.context import Context
from grader.checks.registry import check

# float64: out = x * keep / (1 - p) computed in another order differs by an ulp or two.
F64 = dict(atol=1e-10, rtol=1e-8)
# float32 (looser, on purpose): same few operations in single precision (eps 6e-8 per rounding).
F32 = dict(atol=1e-6, rtol=1e-5)
EXACT = dict(atol=0.0, rtol=0.0)

RECIPE_HINT = (
    "follow the recipe of the Dropout docstring exactly: g = torch.Generator(device=x.device)"
    ".manual_seed(seed); keep = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) >= p; "
    "mask = keep.to(x.dtype) / (1 - p); out = x * mask."
)
MASK_HINT = "the cache is (mode, mask) with the SCALED mask keep / (1 - p) that produced out."


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


# -- calling the student --------------------------------------------------------------------------
def dropout_forward(ctx: Context, x: Any, param: dict[str, Any], case: str) -> tuple[Any, Any]:
    """The student's ``Dropout.forward``; checks it returns (out, (mode, mask))."""
    result = ctx.student.call("layers.Dropout.forward", x, param)
    compare.structure(
        result, tuple, 2, f"value returned by Dropout.forward ({case})", hint="return out, cache."
    )
    out, cache = result
    compare.structure(cache, tuple, 2, f"cache ({case})", hint="the cache is the tuple (mode, mask).")
    compare.that(
        cache[0] == param["mode"],
        f"cache[0] ({case})",
        f"should be the mode {param['mode']!r}.",
        "the cache is the tuple (mode, mask).",
    )
    return out, cache


def expected_forward(ctx: Context, x: torch.Tensor, param: dict[str, Any]) -> list[torch.Tensor]:
    """The reference ``[out, mask]`` of a seeded train-mode forward (stored; the mode is not)."""

    def compute(ref: Any) -> list[torch.Tensor]:
        out, (_, mask) = ref.layers.Dropout.forward(x, dict(param))
        return [out, mask]

    return ctx.expected("forward", compute)


def compare_train_forward(
    out: Any, cache: Any, expected: Any, x: torch.Tensor, case: str, tolerance: dict[str, float] = F64
) -> None:
    """out and the cached mask against the reference ``[out, mask]``."""
    want_out, want_mask = expected
    compare.tensor(
        out, want_out, f"out ({case})", dtype=x.dtype, hint=RECIPE_HINT,
        shape_hint="out has x's shape.", **tolerance,
    )  # fmt: skip
    compare.tensor(
        cache[1], want_mask, f"cache mask ({case})", dtype=x.dtype, hint=MASK_HINT,
        shape_hint="the mask has x's shape.", **tolerance,
    )  # fmt: skip


# -- Dropout.forward -------------------------------------------------------------------------------
@check(task="Dropout.forward", points=1)
def dropout_forward_seeded(ctx: Context) -> None:
    """With a seed the mask is the documented recipe: out and cache equal the reference exactly."""
    x = nonzero_input((4, 3, 5), seed_of("dropout_forward_seeded"))
    param = {"p": 0.3, "mode": "train", "seed": 7}
    case = case_name(x.shape, param)
    out, cache = dropout_forward(ctx, x, param, case)
    expected = expected_forward(ctx, x, param)
    compare_train_forward(out, cache, expected, x, case)


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
    out, cache = dropout_forward(ctx, x, param, case)
    compare.that(
        type(out) is torch.Tensor and out.shape == x.shape and out.dtype == x.dtype,
        f"out ({case})",
        f"expected a tensor of x's shape and dtype, got {compare.describe(out)}.",
    )
    n = x.numel()
    dropped = out == 0
    fraction = float(dropped.double().mean())
    # Each unit is dropped independently with probability p, so the zeroed fraction of n units has
    # standard deviation sqrt(p (1 - p) / n) (<= 0.0023 here); 6 of them make a false failure of a
    # correct solution a ~1e-9 event, while p <-> 1 - p mix-ups are off by >= 0.2.
    bound = 6 * math.sqrt(p * (1 - p) / n)
    compare.that(
        abs(fraction - p) <= bound,
        f"fraction of zeroed units ({case})",
        f"{fraction:.4f} of the {n} units are 0; expected p = {p:g} +- {bound:.4f} (6 standard deviations).",
        "p is the probability of DROPPING a unit: keep = torch.rand(...) >= p.",
    )
    kept = ~dropped
    compare.tensor(
        out[kept], x[kept] / (1 - p), f"kept units ({case})", atol=0, rtol=1e-12,
        hint="inverted dropout scales the kept units by 1 / (1 - p), so the expected output equals x.",
    )  # fmt: skip
    compare.tensor(
        cache[1], kept.double() / (1 - p), f"cache mask ({case})", atol=0, rtol=1e-12, hint=MASK_HINT
    )
    # Given x, out_i - x_i = x_i (keep_i / (1 - p) - 1) has mean 0 and variance x_i**2 p / (1 - p);
    # the mean over n units is within 6 standard deviations sqrt(sum x_i**2 p / (1 - p)) / n.
    sigma = math.sqrt(float((x * x).sum()) * p / (1 - p)) / n
    difference = float(out.mean() - x.mean())
    compare.that(
        abs(difference) <= 6 * sigma,
        f"mean of out ({case})",
        f"differs from the mean of x by {difference:.4g}; allowed +- {6 * sigma:.4g} (6 standard deviations).",
        "the kept units are scaled by 1 / (1 - p) so that dropout preserves the mean.",
    )


@check(task="Dropout.forward", points=1)
def dropout_forward_test_mode(ctx: Context) -> None:
    """Test mode is the identity, with or without a seed: out equals x, cache is ('test', None)."""
    x = nonzero_input((5, 6), seed_of("dropout_forward_test_mode"))
    for param in ({"p": 0.6, "mode": "test"}, {"p": 0.3, "mode": "test", "seed": 1}):
        case = case_name(x.shape, param)
        out, cache = dropout_forward(ctx, x, param, case)
        compare.tensor(
            out, x, f"out ({case})", dtype=x.dtype, **EXACT,
            hint="in test mode dropout does nothing (inverted dropout already scaled in training): out = x.clone().",
        )  # fmt: skip
        compare.that(
            cache[1] is None,
            f"cache[1] ({case})",
            f"should be None in test mode, got {compare.describe(cache[1])}.",
            "in test mode the cache is ('test', None).",
        )


@check(task="Dropout.forward", points=1)
def dropout_forward_p_zero(ctx: Context) -> None:
    """p = 0 in train mode keeps every unit unscaled: out equals x exactly, the mask is all ones."""
    x = nonzero_input((4, 7), seed_of("dropout_forward_p_zero"))
    param = {"p": 0.0, "mode": "train", "seed": 3}
    case = case_name(x.shape, param)
    out, cache = dropout_forward(ctx, x, param, case)
    hint = "p is the probability of dropping: with p = 0 every unit is kept (rand >= 0) and scaled by 1 / (1 - 0)."
    compare.tensor(out, x, f"out ({case})", dtype=x.dtype, **EXACT, hint=hint)
    compare.tensor(cache[1], torch.ones_like(x), f"cache mask ({case})", dtype=x.dtype, **EXACT, hint=hint)


@check(task="Dropout.forward", points=1)
def dropout_forward_x_unchanged(ctx: Context) -> None:
    """x is not modified in place, in train and in test mode."""
    x = nonzero_input((3, 8), seed_of("dropout_forward_x_unchanged"))
    train = {"p": 0.5, "mode": "train", "seed": 2}
    expected = expected_forward(ctx, x, train)
    for param in (train, {"p": 0.5, "mode": "test"}):
        case = case_name(x.shape, param)
        handle = ctx.student.keep(x)
        out, cache = dropout_forward(ctx, handle, param, case)
        compare_unchanged(
            ctx, handle, x, f"x after the call ({case})",
            "x must not be modified in place: compute out = x * mask (not x *= mask).",
        )  # fmt: skip
        if param["mode"] == "train":
            compare_train_forward(out, cache, expected, x, case)
        else:
            compare.tensor(
                out, x, f"out ({case})", dtype=x.dtype, **EXACT, hint="test mode: out = x.clone()."
            )


# -- Dropout.backward ------------------------------------------------------------------------------
def _dout(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)


BACKWARD_HINT = (
    "dx = dout * mask with the scaled mask from the cache (the mask forward used); draw no new mask."
)


@check(task="Dropout.backward", points=1)
def dropout_backward_train(ctx: Context) -> None:
    """Train mode: dx = dout * mask for the cache of a seeded forward (p = 0.4)."""
    shape = (4, 6)
    mask = recipe_mask(shape, 0.4, seed=5)
    dout = _dout(shape, seed_of("dropout_backward_train"))
    case = "dout of shape (4, 6), cache ('train', mask) of a forward with p=0.4, seed=5"
    dx = ctx.student.call("layers.Dropout.backward", dout, ("train", mask))
    expected = ctx.expected("dx", lambda ref: ref.layers.Dropout.backward(dout, ("train", mask)))
    compare.tensor(dx, expected, f"dx ({case})", dtype=torch.float64, **F64, hint=BACKWARD_HINT)


@check(task="Dropout.backward", points=1)
def dropout_backward_test_mode(ctx: Context) -> None:
    """Test mode: dx equals dout (the cache is ('test', None))."""
    dout = _dout((3, 5), seed_of("dropout_backward_test_mode"))
    case = "dout of shape (3, 5), cache ('test', None)"
    dx = ctx.student.call("layers.Dropout.backward", dout, ("test", None))
    compare.tensor(
        dx, dout, f"dx ({case})", dtype=torch.float64, **EXACT,
        hint="in test mode dropout is the identity, so dx = dout.clone(); the mask is None there.",
    )  # fmt: skip


@check(task="Dropout.backward", points=1, randomized=True)
def dropout_backward_random_masks(ctx: Context) -> None:
    """dx is 0 exactly where forward dropped a unit and dout / (1 - p) elsewhere (random masks)."""
    g = ctx.generator()
    shape = tuple(
        int(n) for n in torch.randint(1, 9, (int(torch.randint(1, 4, (), generator=g)),), generator=g)
    )
    p = round(0.05 + 0.9 * float(torch.rand((), generator=g, dtype=torch.float64)), 4)
    keep = torch.rand(shape, generator=g, dtype=torch.float64) >= p
    mask = keep.double() / (1 - p)
    dout = torch.randn(shape, generator=g, dtype=torch.float64)
    case = f"dout of shape {shape}, cache ('train', mask) with p={p:g}, {int(keep.sum())} units kept (seed {ctx.seed})"
    dx = ctx.student.call("layers.Dropout.backward", dout, ("train", mask))
    # d/dx sum(dout * x * mask) = dout * mask: zero where dropped, dout / (1 - p) where kept
    expected = torch.where(keep, dout / (1 - p), torch.zeros_like(dout))
    compare.tensor(dx, expected, f"dx ({case})", dtype=torch.float64, **F64, hint=BACKWARD_HINT)


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
    "each hidden layer is Linear_ReLU.forward followed by Dropout.forward(out, self.dropout_param) "
    "(no dropout after the last Linear); backward goes through Dropout.backward with that layer's "
    "dropout cache before Linear_ReLU.backward."
)


def compare_loss_and_grads(
    result: Any, expected: tuple[torch.Tensor, dict[str, torch.Tensor]], case: str
) -> None:
    compare.structure(result, tuple, 2, f"value returned by loss(X, y) ({case})", hint="return loss, grads.")
    loss, grads = result
    want_loss, want_grads = expected
    compare.tensor(loss, want_loss, f"loss ({case})", dtype=torch.float64, **F64, hint=NET_HINT,
                   shape_hint="the loss is a 0-dim tensor.")  # fmt: skip
    compare.structure(
        grads, dict, None, f"grads ({case})", hint="grads maps each key of params to its gradient."
    )
    compare.keys(
        grads, set(want_grads), f"grads ({case})", hint="one gradient per parameter, same keys as params."
    )
    for name in sorted(want_grads, key=lambda k: (int(k[1:]), k[0])):
        compare.tensor(grads[name], want_grads[name], f"grads['{name}'] ({case})", dtype=torch.float64, **F64,
                       hint=NET_HINT)  # fmt: skip


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
        ctx.student.call_method(model, "loss", X, y), expected, net_case(hidden, X, p, seed, reg)
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
    compare_loss_and_grads(result, expected, net_case(hidden, X, p, seed, reg) + f" (check seed {ctx.seed})")
