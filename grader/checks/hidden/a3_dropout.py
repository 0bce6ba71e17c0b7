"""Hidden checks of assignment 3 (dropout): the global RNG, reproducibility, float32, deeper nets."""

from __future__ import annotations

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support import models
from grader.checks.support.calls import call_backward, compare_unchanged, with_note
from grader.checks.support.dropout import (
    BACKWARD_HINT,
    NET_HINT,
    backward_case,
    check_pair,
    dropout_forward,
    forward_for_backward,
    identity_output,
    net_case,
    net_settings,
    nonzero_input,
    run_net_train,
    train_forward,
)
from grader.checks.support.inputs import layered_net_params, seed_of


@check(task="Dropout.forward", points=1)
def dropout_forward_global_rng_untouched(ctx: Context) -> None:
    """A seeded forward (a correct dropout) neither reseeds nor draws from the global RNG."""
    shape, seed = (6, 10), 1234
    x = nonzero_input(shape, seed_of("dropout_forward_global_rng_untouched"))
    param = {"p": 0.5, "mode": "train", "seed": seed}
    case = compare.case(x=x, **param)
    for _ in range(2):
        train_forward(ctx, x, param, case)
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
        "with a seed, draw the mask from a torch.Generator of its own; never reseed the global RNG.",
    )
    compare.that(
        type(after) is torch.Tensor and torch.equal(after, untouched),
        f"global RNG after Dropout.forward ({case})",
        "changed: a seeded forward must not draw from (or reseed) the global RNG.",
        "with a seed, every random number of the mask comes from the seeded generator.",
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
        masks[label] = train_forward(ctx, x, param, f"{label}; {compare.case(x=x, **param)}")
    # 300 units: two independent masks agree with probability (0.4**2 + 0.6**2) ** 300 ~ 1e-55
    compare.that(
        torch.equal(masks["seed 21, first call"], masks["seed 21, second call"]),
        "masks of two calls with seed 21",
        "differ.",
        "every call with a seed draws from a fresh generator seeded with it, so equal seeds give equal masks.",
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
        "without a seed draw from the global RNG; do not use a fixed seed.",
    )


@check(task="Dropout.forward", points=1)
def dropout_forward_float32(ctx: Context) -> None:
    """float32 4-D input, p = 0.6 with and without a seed: float32 out, each unit 0 or x / (1 - p)."""
    x = nonzero_input((2, 3, 4, 5), seed_of("dropout_forward_float32"), torch.float32)
    for param in ({"p": 0.6, "mode": "train", "seed": 11}, {"p": 0.6, "mode": "train"}):
        train_forward(ctx, x, param, compare.case(x=x, **param))
    test = {"p": 0.6, "mode": "test"}
    case = compare.case(x=x, **test)
    identity_output(dropout_forward(ctx, x, test, case)[0], x, case)


@check(task="Dropout.backward", points=1)
def dropout_backward_float32(ctx: Context) -> None:
    """float32 4-D input with p = 0.25: dx = dout * (the forward's mask), float32."""
    x = nonzero_input((2, 2, 3, 4), seed_of("dropout_backward_float32/x"), torch.float32)
    dout = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed_of("dropout_backward_float32")))
    check_pair(ctx, x, {"p": 0.25, "mode": "train", "seed": 8}, dout, compare.F32_ELEMENTWISE)


@check(task="Dropout.backward", points=1)
def dropout_backward_dout_unchanged(ctx: Context) -> None:
    """dout is not modified in place, in train and in test mode (and dx is right)."""
    x = nonzero_input((4, 5), seed_of("dropout_backward_dout_unchanged/x"))
    dout = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed_of("dropout_backward_dout_unchanged")),
                       dtype=torch.float64)  # fmt: skip
    for param in ({"p": 0.5, "mode": "train", "seed": 6}, {"p": 0.5, "mode": "test"}):
        cache, factor = forward_for_backward(ctx, x, param, backward_case(x, param))
        case = with_note(backward_case(x, param), cache)
        handle = ctx.student.keep(dout)
        dx = call_backward(ctx, "Dropout.backward", handle, cache, case)
        compare_unchanged(ctx, handle, dout, f"dout after Dropout.backward ({case})",
                          "dout must not be modified in place: compute a new tensor for dx.")  # fmt: skip
        compare.tensor(
            dx, dout * factor, f"dx ({case})", dtype=dout.dtype, **compare.F64_ROUNDING, hint=BACKWARD_HINT
        )


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_deep_images(ctx: Context) -> None:
    """Three hidden layers, image-shaped X (N, 2, 3, 2), dropout 0.5 with a seed and reg 0.1."""
    run_net_train(ctx, [6, 5, 4], (5, 2, 3, 2), 3, p=0.5, seed=9, reg=0.1)


@check(task="FullyConnectedNet.loss", points=1)
def dropout_net_single_hidden_layer(ctx: Context) -> None:
    """One hidden layer, dropout 0.75: train, then test (no dropout), then train again (same masks)."""
    settings = net_settings([8], 5, 4, 0.75, 4, 0.0)
    params, X, y = layered_net_params([8], (3, 5), 4, seed_of("dropout_net_single_hidden_layer"))
    model = models.student_model(ctx, "FullyConnectedNet", settings, params)

    def reference(ref, labels):
        return models.reference_model(ref, "FullyConnectedNet", settings, params).loss(X, labels)

    want_train = ctx.expected("train", lambda ref: reference(ref, y)[0])
    want_scores = ctx.expected("scores", lambda ref: reference(ref, None))
    base = net_case(settings, X)
    for label in ("first train call", "test call", "second train call"):
        case = f"{base}; {label}"
        if label == "test call":
            scores = ctx.student.call_method(model, "loss", X)
            compare.tensor(scores, want_scores, f"scores ({case})", dtype=torch.float64, **compare.F64,
                           hint="with y=None dropout is off: pass self.dropout_param, whose mode loss sets.")  # fmt: skip
            continue
        result = ctx.student.call_method(model, "loss", X, y)
        compare.structure(
            result, tuple, 2, f"value returned by loss(X, y) ({case})", hint="return loss, grads."
        )
        compare.tensor(result[0], want_train, f"loss ({case})", dtype=torch.float64, **compare.F64,
                       hint=NET_HINT)  # fmt: skip
