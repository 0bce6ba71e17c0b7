"""Hidden checks of assignment 3 (dropout): the global RNG, reproducibility, float32, deeper nets."""

from __future__ import annotations

import torch

from grader.checks import compare
from grader.checks.common import compare_unchanged, seed_of, student_net
from grader.checks.context import Context
from grader.checks.public.a3_dropout import (
    BACKWARD_HINT,
    EXACT,
    F32,
    NET_HINT,
    case_name,
    compare_train_forward,
    dropout_forward,
    expected_forward,
    net_problem,
    recipe_mask,
    reference_net,
    run_net_train,
)
from grader.checks.registry import check


@check(task="Dropout.forward", points=1)
def dropout_forward_global_rng_untouched(ctx: Context) -> None:
    """A seeded forward neither reseeds nor draws from the global RNG (it uses its own generator)."""
    shape, seed = (6, 10), 1234
    x = torch.ones(shape, dtype=torch.float64)
    param = {"p": 0.5, "mode": "train", "seed": seed}
    case = case_name(shape, param)
    for _ in range(2):
        dropout_forward(ctx, x, param, case)
    # The runner seeds the global RNG with ctx.seed before every check; nothing else draws from it.
    after = ctx.student.call("layers.torch.rand", 8)
    untouched = torch.rand(8, generator=torch.Generator().manual_seed(ctx.seed))
    # where the stream would be had forward called torch.manual_seed(seed) and drawn the mask from it
    reseeded_stream = torch.Generator().manual_seed(seed)
    torch.rand(shape, generator=reseeded_stream, dtype=torch.float64)
    reseeded = torch.rand(8, generator=reseeded_stream)
    compare.that(
        type(after) is not torch.Tensor or not torch.equal(after, reseeded),
        f"global RNG after Dropout.forward ({case})",
        "was reseeded with the dropout seed (torch.manual_seed changes the RNG of the whole program).",
        "draw the mask from torch.Generator(device=x.device).manual_seed(seed), never call torch.manual_seed.",
    )
    compare.that(
        type(after) is torch.Tensor and torch.equal(after, untouched),
        f"global RNG after Dropout.forward ({case})",
        "changed: a seeded forward must not draw from (or reseed) the global RNG.",
        "with a seed, draw the mask only from the seeded torch.Generator (pass generator=g to torch.rand).",
    )


@check(task="Dropout.forward", points=1)
def dropout_forward_seed_reproducible(ctx: Context) -> None:
    """Same seed -> the same mask on every call; another seed or no seed -> other masks."""
    shape = (10, 30)
    x = torch.ones(shape, dtype=torch.float64)
    masks = {}
    for label, param in (
        ("seed 21, first call", {"p": 0.4, "mode": "train", "seed": 21}),
        ("seed 21, second call", {"p": 0.4, "mode": "train", "seed": 21}),
        ("seed 22", {"p": 0.4, "mode": "train", "seed": 22}),
        ("no seed, first call", {"p": 0.4, "mode": "train"}),
        ("no seed, second call", {"p": 0.4, "mode": "train"}),
    ):
        out, _ = dropout_forward(ctx, x, param, f"{label}; {case_name(shape, param)}")
        compare.that(type(out) is torch.Tensor and out.shape == x.shape, f"out ({label})",
                     f"expected a tensor of shape {shape}, got {compare.describe(out)}.")  # fmt: skip
        masks[label] = out != 0
    # 300 units: two independent masks agree with probability (0.4**2 + 0.6**2) ** 300 ~ 1e-55
    compare.that(
        torch.equal(masks["seed 21, first call"], masks["seed 21, second call"]),
        "masks of two calls with seed 21",
        "differ.",
        "create a fresh torch.Generator(device=x.device).manual_seed(seed) in every call that has a seed.",
    )
    compare.that(
        not torch.equal(masks["seed 21, first call"], masks["seed 22"]),
        "masks for seed 21 and seed 22",
        "are identical.",
        "seed the generator with dropout_param['seed'].",
    )
    compare.that(
        not torch.equal(masks["no seed, first call"], masks["no seed, second call"]),
        "masks of two calls without a seed",
        "are identical.",
        "without a seed draw from the global RNG (generator=None); do not use a fixed seed.",
    )


@check(task="Dropout.forward", points=1)
def dropout_forward_float32(ctx: Context) -> None:
    """float32 4-D input with p = 0.6 and a seed: float32 out and mask equal to the reference."""
    x = torch.linspace(-2, 2, 120, dtype=torch.float32).reshape(2, 3, 4, 5) + 0.01
    param = {"p": 0.6, "mode": "train", "seed": 11}
    case = case_name(x.shape, param, torch.float32)
    out, cache = dropout_forward(ctx, x, param, case)
    expected = expected_forward(ctx, x, param)
    compare_train_forward(out, cache, expected, x, case, tolerance=F32)


@check(task="Dropout.backward", points=1)
def dropout_backward_float32(ctx: Context) -> None:
    """float32 4-D dout with p = 0.25: dx = dout * mask, float32."""
    shape = (2, 2, 3, 4)
    mask = recipe_mask(shape, 0.25, seed=8, dtype=torch.float32)
    dout = torch.randn(shape, generator=torch.Generator().manual_seed(seed_of("dropout_backward_float32")))
    case = "float32 dout of shape (2, 2, 3, 4), cache ('train', mask) of a forward with p=0.25, seed=8"
    dx = ctx.student.call("layers.Dropout.backward", dout, ("train", mask))
    compare.tensor(dx, dout * mask, f"dx ({case})", dtype=torch.float32, **F32, hint=BACKWARD_HINT)


@check(task="Dropout.backward", points=1)
def dropout_backward_dout_unchanged(ctx: Context) -> None:
    """dout is not modified in place, in train and in test mode."""
    shape = (3, 4)
    mask = recipe_mask(shape, 0.5, seed=6)
    dout = torch.randn(shape, generator=torch.Generator().manual_seed(seed_of("dropout_backward_dout_unchanged")),
                       dtype=torch.float64)  # fmt: skip
    for cache, expected in ((("train", mask), dout * mask), (("test", None), dout)):
        case = f"dout of shape (3, 4), cache ({cache[0]!r}, {'mask of p=0.5' if cache[1] is not None else 'None'})"
        handle = ctx.student.keep(dout)
        dx = ctx.student.call("layers.Dropout.backward", handle, cache)
        compare_unchanged(ctx, handle, dout, f"dout after the call ({case})",
                          "dout must not be modified in place: dx = dout * mask (not dout *= mask).")  # fmt: skip
        compare.tensor(dx, expected, f"dx ({case})", dtype=torch.float64, **EXACT, hint=BACKWARD_HINT)


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_deep_images(ctx: Context) -> None:
    """Three hidden layers, image-shaped X (N, 2, 3, 2), dropout 0.5 with a seed and reg 0.1."""
    run_net_train(ctx, [6, 5, 4], (5, 2, 3, 2), 3, p=0.5, seed=9, reg=0.1)


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_single_hidden_layer(ctx: Context) -> None:
    """One hidden layer, dropout 0.75: train, then test (no dropout), then train again (same masks)."""
    hidden, p, seed = [8], 0.75, 4
    params, X, y = net_problem(hidden, (3, 5), 4, seed_of("dropout_net_single_hidden_layer"))
    model = student_net(ctx, hidden, 5, 4, p, seed, 0.0, params)

    def reference(ref, labels):
        return reference_net(ref, hidden, 5, 4, p, seed, 0.0, params).loss(X, labels)

    want_train = ctx.expected("train", lambda ref: reference(ref, y)[0])
    want_scores = ctx.expected("scores", lambda ref: reference(ref, None))
    base = "hidden_dims=[8], X of shape (3, 5), dropout=0.75, seed=4"
    for label in ("first train call", "test call", "second train call"):
        case = f"{base}; {label}"
        if label == "test call":
            scores = ctx.student.call_method(model, "loss", X)
            compare.tensor(scores, want_scores, f"scores ({case})", dtype=torch.float64, atol=1e-10, rtol=1e-8,
                           hint="with y=None dropout is off: pass self.dropout_param, whose mode loss sets.")  # fmt: skip
            continue
        result = ctx.student.call_method(model, "loss", X, y)
        compare.structure(
            result, tuple, 2, f"value returned by loss(X, y) ({case})", hint="return loss, grads."
        )
        compare.tensor(result[0], want_train, f"loss ({case})", dtype=torch.float64, atol=1e-10, rtol=1e-8,
                       hint=NET_HINT)  # fmt: skip
