"""Public checks of assignment 1 (fully-connected networks). Students see these.

Fixed-input checks compare with stored outputs of the reference solution; randomized checks
(``randomized=True``) draw their inputs from ``ctx.generator()`` and compare with an independent
oracle (``grader/checks/support/oracles.py``: torch.autograd of the equivalent expression, or a
direct formula). The steps the checks share with the hidden ones are in ``grader/checks/support/``.
"""

from __future__ import annotations

import torch
from torch.nn.functional import cross_entropy

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support import layers, models, oracles, training
from grader.checks.support.calls import unpack
from grader.checks.support.hints import LAYER_HINTS
from grader.checks.support.inputs import (
    draw,
    integers,
    labels,
    linear_inputs,
    net_params,
    randn,
    random_affine_cases,
    random_batch_shapes,
    random_net_case,
    seeded_weights,
    tie_case,
    with_zeros,
)

# -- Linear --------------------------------------------------------------------------------------


@check(task="Linear.forward", points=1)
def linear_forward_small(ctx: Context) -> None:
    """Hand-checkable case: x (2, 3), w (3, 2), b (2,)."""
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=torch.float64)
    w = torch.tensor([[0.1, -0.2], [0.3, 0.0], [-0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64)
    out, _ = ctx.student.call("layers.Linear.forward", x, w, b)
    expected = ctx.expected("out", lambda ref: ref.layers.Linear.forward(x, w, b)[0])
    compare.tensor(out, expected, "out", dtype=torch.float64, **compare.F64, hint=LAYER_HINTS["out"][0])


@check(task="Linear.forward", points=1)
def linear_forward_images(ctx: Context) -> None:
    """k-dimensional input: x (4, 2, 3, 5) must be flattened to (4, 30)."""
    x, w, b = linear_inputs((4, 2, 3, 5), 7, seed=11)
    out, _ = ctx.student.call("layers.Linear.forward", x, w, b)
    expected = ctx.expected("out", lambda ref: ref.layers.Linear.forward(x, w, b)[0])
    compare.tensor(
        out, expected, "out", dtype=torch.float64, **compare.F64,
        hint="flatten each example row-major (any k-dimensional example becomes D = d1 * ... * dk entries).",
        shape_hint="out must be (N, M): flatten x to (N, D) first.",
    )  # fmt: skip


@check(task="Linear.forward", points=1, randomized=True)
def linear_forward_random(ctx: Context) -> None:
    """Random shapes, a matrix and a k-dimensional batch; compared with x.reshape(N, -1) @ w + b."""
    g = ctx.generator()
    for shape in random_batch_shapes(g):
        x = randn(shape, g)
        w = randn((x[0].numel(), draw(g, 1, 6)), g)
        b = randn((w.shape[1],), g)
        layers.linear_forward(ctx, x, w, b, oracles.linear(x, w, b))


@check(task="Linear.backward", points=1)
def linear_backward_small(ctx: Context) -> None:
    """Hand-checkable case: x (2, 3), w (3, 2), dout (2, 2); compared with the reference."""
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=torch.float64)
    w = torch.tensor([[0.1, -0.2], [0.3, 0.0], [-0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64)
    dout = torch.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=torch.float64)
    expected = ctx.expected("grads", lambda ref: ref.layers.Linear.backward(dout, (x, w, b)))
    layers.linear_backward(ctx, x, w, b, dout, expected)


@check(task="Linear.backward", points=1)
def linear_backward_images(ctx: Context) -> None:
    """k-dimensional input x (4, 2, 3, 5): dx must come back in x's shape."""
    x, w, b = linear_inputs((4, 2, 3, 5), 6, seed=12)
    layers.linear_backward_stored(ctx, x, w, b, seed=13)


@check(task="Linear.backward", points=1, randomized=True)
def linear_backward_autograd(ctx: Context) -> None:
    """Random shapes (a matrix and a k-dimensional batch); compared with torch.autograd."""
    for x, w, b, dout in random_affine_cases(ctx.generator(), min_outputs=1):
        _, expected = oracles.autograd(oracles.linear, [x, w, b], dout)
        layers.linear_backward(ctx, x, w, b, dout, expected)


# -- ReLU ----------------------------------------------------------------------------------------


@check(task="ReLU.forward", points=1)
def relu_forward_small(ctx: Context) -> None:
    """Hand-checkable case with negatives, 0 and -0: out = max(x, 0)."""
    x = torch.tensor([[-1.5, 0.0, 2.0], [3.0, -0.0, -2.0]], dtype=torch.float64)
    layers.relu_forward(ctx, x, ctx.expected("out", lambda ref: ref.layers.ReLU.forward(x)[0]))


@check(task="ReLU.forward", points=1, randomized=True)
def relu_forward_random(ctx: Context) -> None:
    """Random inputs of 1 to 4 dimensions with exact zeros; compared with torch.relu."""
    g = ctx.generator()
    for dims in (1, 2, 4):
        x = with_zeros(randn([draw(g, 1, 4) for _ in range(dims)], g), g)
        layers.relu_forward(ctx, x, torch.relu(x))


@check(task="ReLU.backward", points=1)
def relu_backward_ties(ctx: Context) -> None:
    """Hand-checkable case with x == 0 exactly: the gradient there is 0 (as torch.relu's)."""
    x = torch.tensor([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.5]], dtype=torch.float64)
    dout = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    layers.relu_backward(ctx, x, dout, ctx.expected("dx", lambda ref: ref.layers.ReLU.backward(dout, x)))


@check(task="ReLU.backward", points=1, randomized=True)
def relu_backward_autograd(ctx: Context) -> None:
    """Random inputs of 2 and 3 dimensions; compared with torch.autograd. (No entry is exactly 0:
    the tie at 0 is relu_backward_ties' rule alone.)"""
    g = ctx.generator()
    for dims in (2, 3):
        x = randn([draw(g, 2, 4) for _ in range(dims)], g)
        dout = randn(x.shape, g)
        _, (expected,) = oracles.autograd(torch.relu, [x], dout)
        layers.relu_backward(ctx, x, dout, expected)


# -- Linear_ReLU ---------------------------------------------------------------------------------


@check(task="Linear_ReLU.forward", points=1)
def linear_relu_forward_small(ctx: Context) -> None:
    """Hand-checkable integer case (pre-activations -1, 0 and positive); compared with the reference."""
    x, w, b = tie_case()
    expected = ctx.expected("out", lambda ref: ref.layers.Linear_ReLU.forward(x, w, b)[0])
    layers.linear_relu_forward(ctx, x, w, b, expected, compare.case(x=x, w=w))


@check(task="Linear_ReLU.forward", points=1, randomized=True)
def linear_relu_forward_random(ctx: Context) -> None:
    """Random shapes (a matrix and a k-dimensional batch); compared with relu(x_flat @ w + b)."""
    g = ctx.generator()
    for shape in random_batch_shapes(g):
        x = randn(shape, g)
        w = randn((x[0].numel(), draw(g, 2, 6)), g)
        b = randn((w.shape[1],), g)
        layers.linear_relu_forward(ctx, x, w, b, oracles.linear_relu(x, w, b), compare.case(x=x, w=w))


@check(task="Linear_ReLU.backward", points=1)
def linear_relu_backward_small(ctx: Context) -> None:
    """Hand-checkable integer case with pre-activations exactly 0; compared with the reference."""
    x, w, b = tie_case()
    dout = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=torch.float64)
    layers.linear_relu_backward_stored(ctx, x, w, b, dout)


@check(task="Linear_ReLU.backward", points=1, randomized=True)
def linear_relu_backward_autograd(ctx: Context) -> None:
    """Random shapes (a matrix and a k-dimensional batch); compared with torch.autograd."""
    for x, w, b, dout in random_affine_cases(ctx.generator(), min_outputs=2):
        _, expected = oracles.autograd(oracles.linear_relu, [x, w, b], dout)
        layers.linear_relu_backward(ctx, x, w, b, dout, expected)


# -- losses --------------------------------------------------------------------------------------


@check(task="softmax_loss", points=1)
def softmax_loss_small(ctx: Context) -> None:
    """Hand-checkable case: 2 examples, 3 classes; compared with the reference."""
    x = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=torch.float64)
    layers.loss_stored(ctx, "softmax_loss", x, torch.tensor([0, 2]))


@check(task="softmax_loss", points=1, randomized=True)
def softmax_loss_random(ctx: Context) -> None:
    """Random scores (N >= 2) at random scales; compared with torch's cross_entropy and autograd."""
    g = ctx.generator()
    n, c = draw(g, 2, 8), draw(g, 2, 10)
    x = randn((n, c), g, scale=0.5 + 4.5 * float(torch.rand(1, generator=g)))
    y = labels(n, c, g)
    loss, (dx,) = oracles.autograd(lambda s: cross_entropy(s, y), [x])
    layers.loss_check(ctx, "softmax_loss", x, y, (loss, dx))


@check(task="softmax_loss", points=1)
def softmax_loss_huge_scores(ctx: Context) -> None:
    """Scores of magnitude 1e4 (exp overflows, true-class probabilities underflow): finite results."""
    x = randn((4, 5), seed=21, scale=1e4)
    y = torch.tensor([0, 3, 1, 4])
    case = compare.case(x=x) + ", |scores| ~ 1e4"
    expected = ctx.expected("loss", lambda ref: ref.layers.softmax_loss(x, y))
    result = ctx.student.call("layers.softmax_loss", x, y)
    loss, dx = unpack(result, 2, "softmax_loss", case, "return the tuple (loss, dx).")
    hint = (
        "subtract each row's maximum before exp, and compute log-probabilities as "
        "shifted - log(sum(exp(shifted))) instead of log(softmax) (which underflows to log(0))."
    )
    layers.compare_output(loss, expected[0], "loss", case, dtype=x.dtype, hint=hint, kind="softmax_loss")
    layers.compare_output(dx, expected[1], "dx", case, dtype=x.dtype, hint=hint, kind="softmax_dx")


@check(task="svm_loss", points=1)
def svm_loss_small(ctx: Context) -> None:
    """Hand-checkable case: 3 examples, 3 classes (loss (2.9 + 0 + 12.9) / 3)."""
    x = torch.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], dtype=torch.float64)
    layers.loss_stored(ctx, "svm_loss", x, torch.tensor([0, 1, 2]))


@check(task="svm_loss", points=1, randomized=True)
def svm_loss_random(ctx: Context) -> None:
    """Random integer scores (so some margins are exactly 0); compared with an autograd oracle."""
    g = ctx.generator()
    n, c = draw(g, 2, 8), draw(g, 2, 8)
    x = integers((n, c), g, -3, 3)
    y = labels(n, c, g)
    loss, (dx,) = oracles.autograd(lambda s: oracles.svm(s, y), [x])
    layers.loss_check(ctx, "svm_loss", x, y, (loss, dx))


# -- models --------------------------------------------------------------------------------------


@check(task="TwoLayerNet.__init__", points=1)
def two_layer_init_params(ctx: Context) -> None:
    """params has W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); float32 by default; biases exactly 0."""
    models.check_init_layout(ctx, "TwoLayerNet", input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.1)


@check(task="TwoLayerNet.__init__", points=1, randomized=True)
def two_layer_init_scale(ctx: Context) -> None:
    """Weights look like N(0, weight_scale ** 2): mean, std and kurtosis on 180,000 entries."""
    models.check_init_statistics(
        ctx, "TwoLayerNet", input_dim=400, hidden_dim=300, num_classes=200, weight_scale=0.05
    )


@check(task="TwoLayerNet.loss", points=1)
def two_layer_loss_scores(ctx: Context) -> None:
    """With y=None the (N, C) scores come back; X (3, 2, 3) is k-dimensional."""
    models.stored_model_loss(ctx, "TwoLayerNet", (6, 5, 4), randn((3, 2, 3), seed=31), None, 0.0, seed=32)


@check(task="TwoLayerNet.loss", points=1)
def two_layer_loss_no_reg(ctx: Context) -> None:
    """Loss and gradients with reg = 0 (X (4, 6), H 5, C 3); compared with the reference."""
    X, y = randn((4, 6), seed=33), labels(4, 3, seed=34)
    models.stored_model_loss(ctx, "TwoLayerNet", (6, 5, 3), X, y, 0.0, seed=35)


def _check_model_against_oracle(ctx: Context, cls: str, g: torch.Generator, hidden_layers: int) -> None:
    """Scores, then loss and gradients, of a random ``cls`` against torch.autograd."""
    dims, X, y, reg = random_net_case(g, hidden_layers)
    params = net_params(dims, g)
    models.check_model_loss(ctx, cls, dims, params, X, None, reg, oracles.net_scores(params, X))
    models.check_model_loss(ctx, cls, dims, params, X, y, reg, oracles.net_loss(params, X, y, reg))


@check(task="TwoLayerNet.loss", points=2, randomized=True)
def two_layer_loss_autograd(ctx: Context) -> None:
    """Random sizes, reg > 0 and non-zero biases: scores, loss and gradients against torch.autograd."""
    _check_model_against_oracle(ctx, "TwoLayerNet", ctx.generator(), hidden_layers=1)


@check(task="FullyConnectedNet.__init__", points=1)
def fcn_init_params(ctx: Context) -> None:
    """Three hidden layers: W1..W4 and b1..b4 with the right shapes, float32, biases exactly 0."""
    models.check_init_layout(
        ctx, "FullyConnectedNet", [5, 4, 3], input_dim=6, num_classes=2, weight_scale=0.1
    )


@check(task="FullyConnectedNet.__init__", points=1, randomized=True)
def fcn_init_scale(ctx: Context) -> None:
    """Weights look like N(0, weight_scale ** 2) in every layer (mean, std, kurtosis)."""
    models.check_init_statistics(
        ctx, "FullyConnectedNet", [300, 250], input_dim=400, num_classes=200, weight_scale=0.05
    )


@check(task="FullyConnectedNet.__init__", points=1)
def fcn_init_seeded(ctx: Context) -> None:
    """With seed=3 the weights are drawn from torch.Generator().manual_seed(3), W1, W2, W3 in order."""
    hidden, kwargs = [7, 5], dict(input_dim=6, num_classes=4, weight_scale=0.3, seed=3)
    model, case = models.construct(ctx, "FullyConnectedNet", hidden, **kwargs)
    params = ctx.student.get(model, "params")
    models.check_param_layout(params, [6, 7, 5, 4], torch.float32, case)
    expected = seeded_weights([6, 7, 5, 4], kwargs["weight_scale"], kwargs["seed"])
    for key in sorted(expected):
        compare.tensor(
            params[key], expected[key], f"params['{key}'] ({case})", dtype=torch.float32, **compare.F32_SEEDED,
            hint="g = torch.Generator(device=device).manual_seed(seed); W_i = torch.randn(shape, "
            "generator=g, dtype=dtype, device=device) * weight_scale, for i = 1, 2, ... in order "
            "(draw nothing else from g).",
        )  # fmt: skip


@check(task="FullyConnectedNet.loss", points=1)
def fcn_loss_scores(ctx: Context) -> None:
    """With y=None the (N, C) scores come back (no ReLU after the last layer); X (3, 2, 3)."""
    models.stored_model_loss(
        ctx, "FullyConnectedNet", (6, 5, 4, 3), randn((3, 2, 3), seed=41), None, 0.0, seed=42
    )


@check(task="FullyConnectedNet.loss", points=2)
def fcn_loss_no_reg(ctx: Context) -> None:
    """Three hidden layers, reg = 0: loss and every gradient; compared with the reference."""
    X, y = randn((5, 7), seed=43), labels(5, 4, seed=44)
    models.stored_model_loss(ctx, "FullyConnectedNet", (7, 6, 5, 4, 4), X, y, 0.0, seed=45)


@check(task="FullyConnectedNet.loss", points=2, randomized=True)
def fcn_loss_autograd(ctx: Context) -> None:
    """Random depth (2 to 4 hidden layers), sizes and reg > 0: scores, loss and gradients vs autograd."""
    g = ctx.generator()
    _check_model_against_oracle(ctx, "FullyConnectedNet", g, hidden_layers=draw(g, 2, 4))


# -- hyperparameters -----------------------------------------------------------------------------


@check(task="get_three_layer_network_params", points=2, timeout=60)
def three_layer_overfits(ctx: Context) -> None:
    """The returned (weight_scale, learning_rate) overfit 50 digits to 100% (protocol in the
    docstring) with seeds 0, 1 and 2."""
    training.check_overfit(ctx, "get_three_layer_network_params", [100, 100], seeds=(0, 1, 2))


@check(task="get_five_layer_network_params", points=2, timeout=60)
def five_layer_overfits(ctx: Context) -> None:
    """The returned (weight_scale, learning_rate) overfit 50 digits to 100% (protocol in the
    docstring) with seeds 0, 1 and 2."""
    training.check_overfit(ctx, "get_five_layer_network_params", [100, 100, 100, 100], seeds=(0, 1, 2))


@check(task="create_solver_instance", points=1)
def create_solver_settings(ctx: Context) -> None:
    """The Solver trains a TwoLayerNet sized for the data, with a string update rule, plain-number
    optim_config and at most 50 epochs (cost limited so the grader can train it)."""
    data = training.digits(ctx)
    model_args, settings, case = training.solver_setup(ctx, training.tiny(data))
    training.validate_setup(model_args, settings, data["X_train"][0].numel(), data["X_train"].shape[0], case)


@check(task="create_solver_instance", points=2, timeout=120)
def create_solver_trains(ctx: Context) -> None:
    """Training the configured TwoLayerNet + Solver (seed 0) on the default digits data reaches
    validation accuracy >= 0.90."""
    data = training.digits(ctx)
    model_args, settings, case = training.solver_setup(ctx, training.tiny(data))
    training.validate_setup(model_args, settings, data["X_train"][0].numel(), data["X_train"].shape[0], case)
    accuracy, trainer = training.train_setup(ctx, model_args, settings, data)
    described = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    compare.that(
        accuracy >= training.SOLVER_TARGET, case,
        f"best validation accuracy {accuracy:.3f} < {training.SOLVER_TARGET} when training {trainer} with "
        f"{described}.",
        hint="tune sgd's learning rate first (try factors of 10 between 1e-2 and 1), then epochs and hidden_dim.",
    )  # fmt: skip
