"""Hidden checks of assignment 1: other inputs and edge cases (float32, batches of one, caches,
inputs left unchanged, exact ties, no hidden layer, other seeds). Instructors only."""

from __future__ import annotations

from collections.abc import Callable

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support import layers, models, oracles, training
from grader.checks.support.calls import Cache, call_backward, documented, own_cache, unpack, with_note
from grader.checks.support.inputs import integers, labels, linear_inputs, randn, with_zeros
from grader.sandbox.protocol import Handle

# -- layers --------------------------------------------------------------------------------------


@check(task="Linear.forward", points=1)
def linear_forward_float32_batch_of_one(ctx: Context) -> None:
    """A batch of ONE float32 example x (1, 3, 4): out is (1, M) and stays float32."""
    x, w, b = linear_inputs((1, 3, 4), 5, seed=101, dtype=torch.float32)
    layers.linear_forward(
        ctx, x, w, b, ctx.expected("out", lambda ref: ref.layers.Linear.forward(x, w, b)[0])
    )


def _non_contiguous(
    ctx: Context, shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.float64
) -> tuple[Handle, torch.Tensor]:
    """A child-side non-contiguous view of shape ``shape`` (a transpose of the last two dims of a
    kept tensor) and its value here. x.view(N, -1) cannot flatten it; x.reshape can."""
    x = randn((*shape[:-2], shape[-1], shape[-2]), seed=seed, dtype=dtype)
    view = ctx.student.derive(ctx.student.keep(x), "transpose", -1, -2)
    compare.that(
        ctx.student.call_method(view, "is_contiguous") is False, "test input", "the view is contiguous."
    )
    return view, x.transpose(-1, -2)


def _forward_on_view(
    ctx: Context, layer: str, shape: tuple[int, ...], seed: int, outputs: int,
    oracle: Callable[..., torch.Tensor], kind: str, hint: str | None = None,
) -> None:  # fmt: skip
    """``layers.<layer>(x, w, b)`` with x of ``shape`` a transposed (non-contiguous) view, against
    ``oracle(x, w, b)``."""
    view, x = _non_contiguous(ctx, shape, seed)
    w, b = randn((x[0].numel(), outputs), seed=seed * 10 + 1), randn((outputs,), seed=seed * 10 + 2)
    case = compare.case(x=x, w=w) + ", x not contiguous (a transposed view)"
    result = ctx.student.call(f"layers.{layer}", view, w, b)
    out, _ = unpack(result, 2, layer, case, "return the tuple (out, cache).")
    layers.compare_output(out, oracle(x, w, b), "out", case, dtype=x.dtype, hint=hint, kind=kind)


@check(task="Linear.forward", points=1)
def linear_forward_non_contiguous(ctx: Context) -> None:
    """x (3, 2, 4) is a transposed view (not contiguous in memory): out is still x_flat @ w + b."""
    hint = "flatten with an operation that works on any tensor layout; view() needs contiguous memory."
    _forward_on_view(ctx, "Linear.forward", (3, 2, 4), 102, 5, oracles.linear, "out", hint)


@check(task="Linear.backward", points=1)
def linear_backward_float32_batch_of_one(ctx: Context) -> None:
    """A batch of ONE float32 example x (1, 2, 3), a transposed (non-contiguous) view: dx
    (1, 2, 3), dw, db, all float32. The cache stays in the child, so backward sees the view."""
    view, x = _non_contiguous(ctx, (1, 2, 3), seed=103, dtype=torch.float32)
    w, b = randn((6, 4), seed=1031, dtype=torch.float32), randn((4,), seed=1032, dtype=torch.float32)
    dout = randn((1, 4), seed=104, dtype=torch.float32)
    expected = ctx.expected("grads", lambda ref: ref.layers.Linear.backward(dout, (x, w, b)))
    cache = _kept_linear_cache(ctx, view, x, w, b)
    case = with_note(compare.case(x=x, w=w) + ", x not contiguous (a transposed view)", cache)
    result = call_backward(ctx, "Linear.backward", dout, cache, case)
    grads = unpack(result, 3, "Linear.backward", case, "return the tuple (dx, dw, db).")
    for name, actual, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        layers.compare_output(actual, want, name, case, dtype=x.dtype)


def _kept_linear_cache(
    ctx: Context, view: Handle, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> Cache:
    """The cache of the student's Linear.forward(view, w, b), kept in the child (so a cached x stays
    a non-contiguous view), or the documented (view, w, b) when that forward's out is wrong."""
    linear = ctx.student.call("layers.Linear.mro")[0]

    def forward() -> tuple[torch.Tensor, Handle]:
        result = ctx.student.derive(linear, "forward", view, w, b)
        return ctx.student.read(ctx.student.derive(result, "__getitem__", 0)), ctx.student.derive(
            result, "__getitem__", 1
        )

    return own_cache(
        ctx, forward,
        lambda out: compare.tensor(out, oracles.linear(x, w, b), "Linear.forward", dtype=x.dtype, **compare.F32),
        lambda: Cache((view, w, b), documented("Linear.forward")),
    )  # fmt: skip


@check(task="Linear.backward", points=1)
def linear_backward_inputs_unchanged(ctx: Context) -> None:
    """dout and the cache (x, w, b) are not modified (or resized) in place; x (3, 2, 4)."""
    x, w, b = linear_inputs((3, 2, 4), 5, seed=105)
    layers.linear_backward_stored(ctx, x, w, b, seed=106, keep_inputs=True)


@check(task="ReLU.forward", points=1)
def relu_forward_float32(ctx: Context) -> None:
    """float32 input (2, 3, 4) with exact zeros: out stays float32."""
    x = with_zeros(randn((2, 3, 4), seed=111), torch.Generator().manual_seed(112)).float()
    layers.relu_forward(ctx, x, ctx.expected("out", lambda ref: ref.layers.ReLU.forward(x)[0]))


@check(task="ReLU.forward", points=1)
def relu_forward_input_unchanged(ctx: Context) -> None:
    """x is not modified in place (clamp_, x[x < 0] = 0 ...); x (3, 4)."""
    x = randn((3, 4), seed=113)
    layers.relu_forward(
        ctx, x, ctx.expected("out", lambda ref: ref.layers.ReLU.forward(x)[0]), keep_inputs=True
    )


@check(task="ReLU.backward", points=1)
def relu_backward_float32_images(ctx: Context) -> None:
    """float32 4-dimensional input (2, 3, 2, 2) (no exact zeros): dx float32, 0 where x < 0."""
    x = randn((2, 3, 2, 2), seed=114).float()
    dout = randn(x.shape, seed=116, dtype=torch.float32)
    layers.relu_backward(ctx, x, dout, ctx.expected("dx", lambda ref: ref.layers.ReLU.backward(dout, x)))


@check(task="ReLU.backward", points=1)
def relu_backward_inputs_unchanged(ctx: Context) -> None:
    """dout and the cache are not modified in place (dout[x <= 0] = 0, masked_fill_ ...); x has
    no exact zeros (the tie is relu_backward_ties' rule alone)."""
    x = randn((4, 3), seed=117)
    dout = randn(x.shape, seed=119)
    expected = ctx.expected("dx", lambda ref: ref.layers.ReLU.backward(dout, x))
    layers.relu_backward(ctx, x, dout, expected, keep_inputs=True)


@check(task="Linear_ReLU.forward", points=1)
def linear_relu_forward_non_contiguous(ctx: Context) -> None:
    """x (3, 2, 2) is a transposed view (not contiguous in memory): out = ReLU(x_flat @ w + b)."""
    _forward_on_view(ctx, "Linear_ReLU.forward", (3, 2, 2), 121, 5, oracles.linear_relu, "linear_relu")


@check(task="Linear_ReLU.backward", points=1)
def linear_relu_backward_images_ties(ctx: Context) -> None:
    """Integer k-dimensional input x (3, 2, 2), many pre-activations exactly 0; vs the reference."""
    x = integers((3, 2, 2), 122, -2, 2)
    w, b = integers((4, 5), 123, -2, 2), integers((5,), 124, -1, 1)
    dout = randn((3, 5), seed=125)
    layers.linear_relu_backward_stored(ctx, x, w, b, dout)


@check(task="softmax_loss", points=1)
def softmax_loss_float32_batch_of_one(ctx: Context) -> None:
    """One float32 example with 7 classes: loss is a 0-dim float32 tensor, dx (1, 7) float32."""
    x = randn((1, 7), seed=131, dtype=torch.float32, scale=3.0)
    layers.loss_stored(ctx, "softmax_loss", x, torch.tensor([4]))


@check(task="softmax_loss", points=1)
def softmax_loss_input_unchanged(ctx: Context) -> None:
    """The scores x are not modified in place (x -= x.max(...) ...); x (4, 5)."""
    x, y = randn((4, 5), seed=132, scale=2.0), labels(4, 5, seed=133)
    layers.loss_stored(ctx, "softmax_loss", x, y, keep_inputs=True)


@check(task="svm_loss", points=1)
def svm_loss_margin_ties(ctx: Context) -> None:
    """Integer scores with margins exactly 0 (they add 0 to the loss and to dx); (6, 5)."""
    x = torch.cat([torch.tensor([[1.0, 2.0, 0.0, 1.0, 2.0]]), integers((5, 5), 141, -2, 2)]).double()
    y = torch.cat([torch.tensor([1]), labels(5, 5, seed=142)])
    layers.loss_stored(ctx, "svm_loss", x, y)


@check(task="svm_loss", points=1)
def svm_loss_input_unchanged(ctx: Context) -> None:
    """The scores x are not modified in place; x (4, 6)."""
    layers.loss_stored(ctx, "svm_loss", randn((4, 6), seed=143), labels(4, 6, seed=144), keep_inputs=True)


# -- models --------------------------------------------------------------------------------------


@check(task="TwoLayerNet.__init__", points=1)
def two_layer_init_float64(ctx: Context) -> None:
    """dtype=torch.float64: every parameter is float64 (shapes and zero biases as usual)."""
    models.check_init_layout(
        ctx, "TwoLayerNet", input_dim=7, hidden_dim=5, num_classes=3, weight_scale=0.2, dtype=torch.float64
    )


@check(task="TwoLayerNet.loss", points=1)
def two_layer_loss_reg_images(ctx: Context) -> None:
    """reg = 0.7 with X (3, 2, 2, 2), a transposed (non-contiguous) view: L2 on W1 and W2 only,
    reg * W in their gradients."""
    sent, X = _non_contiguous(ctx, (3, 2, 2, 2), seed=151)
    models.stored_model_loss(
        ctx, "TwoLayerNet", (8, 6, 4), X, labels(3, 4, seed=152), 0.7, seed=153, sent=sent
    )


@check(task="TwoLayerNet.loss", points=1)
def two_layer_loss_float32_batch_of_one(ctx: Context) -> None:
    """One float32 example, reg = 0.3: loss and gradients stay float32."""
    X, y = randn((1, 5), seed=154, dtype=torch.float32), torch.tensor([2])
    models.stored_model_loss(ctx, "TwoLayerNet", (5, 4, 3), X, y, 0.3, seed=155)


@check(task="FullyConnectedNet.__init__", points=1)
def fcn_init_float64_no_hidden(ctx: Context) -> None:
    """hidden_dims=[] and dtype=torch.float64: a single layer W1 (D, C), b1 (C,), float64."""
    models.check_init_layout(ctx, "FullyConnectedNet", [], input_dim=5, num_classes=3, dtype=torch.float64)


@check(task="FullyConnectedNet.__init__", points=1)
def fcn_init_seed_keeps_global_rng(ctx: Context) -> None:
    """With a seed the weights come from a private generator: the global RNG state is untouched."""
    before = ctx.student.call("solver.torch.get_rng_state")
    model, case = models.construct(ctx, "FullyConnectedNet", [4, 3], input_dim=5, num_classes=2, seed=7)
    after = ctx.student.call("solver.torch.get_rng_state")
    models.check_param_layout(ctx.student.get(model, "params"), [5, 4, 3, 2], torch.float32, case)
    compare.that(
        torch.equal(before, after),
        case,
        "the global random number generator changed.",
        hint="with a seed, every weight is drawn from a torch.Generator of the model's own; the global "
        "RNG is neither reseeded nor drawn from.",
    )


@check(task="FullyConnectedNet.loss", points=2)
def fcn_loss_reg_deep_images(ctx: Context) -> None:
    """Four hidden layers, reg = 0.5, X (4, 2, 3, 2) a transposed (non-contiguous) view: L2 on
    every W (not b); vs the reference."""
    sent, X = _non_contiguous(ctx, (4, 2, 3, 2), seed=161)
    dims, y = (12, 5, 4, 4, 3, 3), labels(4, 3, seed=162)
    models.stored_model_loss(ctx, "FullyConnectedNet", dims, X, y, 0.5, seed=163, sent=sent)


@check(task="FullyConnectedNet.loss", points=1)
def fcn_loss_float32_no_hidden(ctx: Context) -> None:
    """hidden_dims=[] (softmax regression), float32, reg = 0.2: loss and gradients stay float32."""
    X, y = randn((2, 5), seed=164, dtype=torch.float32), torch.tensor([0, 2])
    models.stored_model_loss(ctx, "FullyConnectedNet", (5, 3), X, y, 0.2, seed=165)


# -- hyperparameters -----------------------------------------------------------------------------


@check(task="get_three_layer_network_params", points=1, timeout=60)
def three_layer_overfits_other_seeds(ctx: Context) -> None:
    """The protocol of the docstring with seeds 3, 4 and 5 ("for every seed")."""
    training.check_overfit(ctx, "get_three_layer_network_params", [100, 100], seeds=(3, 4, 5))


@check(task="get_five_layer_network_params", points=1, timeout=60)
def five_layer_overfits_other_seeds(ctx: Context) -> None:
    """The protocol of the docstring with seeds 3, 4 and 5 ("for every seed")."""
    training.check_overfit(ctx, "get_five_layer_network_params", [100, 100, 100, 100], seeds=(3, 4, 5))


@check(task="create_solver_instance", points=1)
def create_solver_image_shaped_data(ctx: Context) -> None:
    """Data with X_train (20, 1, 8, 8): input_dim is the product of X_train.shape[1:] = 64."""
    data = training.digits(ctx)
    model_args, settings, case = training.solver_setup(ctx, training.tiny(data, shape=(1, 8, 8)))
    training.validate_setup(model_args, settings, 64, data["X_train"].shape[0], case)


@check(task="create_solver_instance", points=1)
def create_solver_passes_dtype(ctx: Context) -> None:
    """create_solver_instance(data, dtype=torch.float64) builds a float64 TwoLayerNet."""
    model_args, _, case = training.solver_setup(ctx, training.tiny(training.digits(ctx)), dtype=torch.float64)
    case = case.removesuffix(")") + ", dtype=torch.float64)"
    dtype = model_args.get("dtype")
    compare.that(
        dtype == torch.float64,
        case,
        "the TwoLayerNet was not created with dtype=torch.float64.",
        hint="pass dtype=dtype and device=device on to TwoLayerNet.",
    )
