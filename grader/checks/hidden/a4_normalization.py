"""Hidden checks of assignment 4 (normalization): float32, longer sequences, inputs left untouched,
batch size 1 for layernorm, test-mode sandwiches, dropout composed with batchnorm, deeper nets."""

from __future__ import annotations

import functools
import json
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support import normalization as norm
from grader.checks.support.calls import compare_unchanged
from grader.checks.support.capstone import student_config
from grader.checks.support.inputs import affine, seed_of


# -- BatchNorm.forward --------------------------------------------------------------------------------
@check(task="BatchNorm.forward", points=1)
def batchnorm_forward_float32(ctx: Context) -> None:
    """float32 x (32, 12), train mode with given running statistics: float32 out and statistics."""
    seed = seed_of("batchnorm_forward_float32")
    x, (gamma, beta) = norm.feature_batch(32, 12, seed, torch.float32), affine(12, seed + 1, torch.float32)
    param = {"mode": "train", "momentum": 0.95, **norm.running_stats(12, seed + 2, torch.float32)}
    norm.run_forward(ctx, "batchnorm", x, gamma, beta, param)


@check(task="BatchNorm.forward", points=1)
def batchnorm_forward_sequence(ctx: Context) -> None:
    """Three train calls on different batches with the same bn_param, then a test call: the running
    statistics accumulate (momentum 0.6) and the test call uses them."""
    seed = seed_of("batchnorm_forward_sequence")
    gamma, beta = affine(3, seed)
    xs = [norm.feature_batch(n, 3, seed + n) for n in (4, 7, 5, 6)]
    param = {"momentum": 0.6, "eps": 1e-5}
    reference_param = dict(param)
    for step, x in enumerate(xs):
        mode = "train" if step < 3 else "test"
        param["mode"] = reference_param["mode"] = mode
        case = f"call {step + 1} ({mode}) with the same bn_param, {norm.param_case(x, {'momentum': 0.6})}"
        out, _, param = norm.norm_forward(ctx, "batchnorm", x, gamma, beta, param, case)
        state = dict(reference_param)
        expected = ctx.expected(
            f"step{step}",
            lambda ref, x=x, state=state: norm.reference_forward(ref, "batchnorm", x, gamma, beta, state),
        )
        norm.compare_forward("batchnorm", out, param, expected, x, case)
        reference_param.update(running_mean=expected["running_mean"], running_var=expected["running_var"])


@check(task="BatchNorm.forward", points=1)
def batchnorm_forward_x_unchanged(ctx: Context) -> None:
    """x is not modified in place (train mode)."""
    seed = seed_of("batchnorm_forward_x_unchanged")
    x, (gamma, beta) = norm.feature_batch(6, 4, seed), affine(4, seed + 1)
    param = {"mode": "train"}
    handle = ctx.student.keep(x)
    case = norm.param_case(x, param)
    out, _, after = norm.norm_forward(ctx, "batchnorm", handle, gamma, beta, param, case)
    compare_unchanged(ctx, handle, x, f"x after the call ({case})",
                      "x must not be modified in place: compute x - mu into a new tensor (not x -= mu).")  # fmt: skip
    expected = ctx.expected(
        "forward", lambda ref: norm.reference_forward(ref, "batchnorm", x, gamma, beta, param)
    )
    norm.compare_forward("batchnorm", out, after, expected, x, case)


# -- backward passes: each in float32, and with dout kept to catch in-place edits -------------------


for _target, _N, _D in (
    ("BatchNorm.backward", 50, 20),
    ("BatchNorm.backward_alt", 40, 25),
    ("LayerNorm.backward", 12, 30),
):
    norm.register_backward_check(
        __name__, _target, "float32", functools.partial(norm.run_backward, target=_target, N=_N, D=_D, dtype=torch.float32),
        f"{_target}: float32, N={_N}, D={_D}: dx, dgamma, dbeta in float32.",
    )  # fmt: skip
    norm.register_backward_check(
        __name__, _target, "dout_unchanged", functools.partial(norm.run_backward, target=_target, N=5, D=4, dout_unchanged=True),
        f"{_target}: dout is not modified in place (x (5, 4)); the gradients still equal the reference.",
    )  # fmt: skip


# -- LayerNorm ---------------------------------------------------------------------------------------
@check(task="LayerNorm.forward", points=1)
def layernorm_forward_single_example(ctx: Context) -> None:
    """N = 1 works (no batch statistics): the row is normalised over its 9 features."""
    seed = seed_of("layernorm_forward_single_example")
    x, (gamma, beta) = norm.feature_batch(1, 9, seed), affine(9, seed + 1)
    norm.run_forward(ctx, "layernorm", x, gamma, beta, {"mode": "train"})


@check(task="LayerNorm.forward", points=1)
def layernorm_forward_float32_x_unchanged(ctx: Context) -> None:
    """float32 x (16, 10): float32 out, x not modified in place."""
    seed = seed_of("layernorm_forward_float32_x_unchanged")
    x, (gamma, beta) = norm.feature_batch(16, 10, seed, torch.float32), affine(10, seed + 1, torch.float32)
    param = {"eps": 1e-5}
    handle = ctx.student.keep(x)
    case = norm.param_case(x, param)
    out, _, after = norm.norm_forward(ctx, "layernorm", handle, gamma, beta, param, case)
    compare_unchanged(ctx, handle, x, f"x after the call ({case})", "x must not be modified in place.")
    expected = ctx.expected(
        "forward", lambda ref: norm.reference_forward(ref, "layernorm", x, gamma, beta, param)
    )
    norm.compare_forward("layernorm", out, after, expected, x, case)


# -- Linear_Norm_ReLU -----------------------------------------------------------------------------------
@check(task="Linear_Norm_ReLU.forward", points=1)
def linear_norm_relu_forward_test_mode(ctx: Context) -> None:
    """Batchnorm sandwich in test mode with given running statistics (they reach the batchnorm)."""
    param = {
        "mode": "test",
        "eps": 1e-5,
        **norm.running_stats(5, seed_of("linear_norm_relu_forward_test_mode")),
    }
    norm.run_sandwich_forward(ctx, "batchnorm", (4, 2, 3), 5, param)


@check(task="Linear_Norm_ReLU.forward", points=1)
def linear_norm_relu_forward_float32(ctx: Context) -> None:
    """float32 layernorm sandwich, X (8, 6) -> M=7."""
    norm.run_sandwich_forward(ctx, "layernorm", (8, 6), 7, {}, dtype=torch.float32)


@check(task="Linear_Norm_ReLU.backward", points=1)
def linear_norm_relu_backward_float32(ctx: Context) -> None:
    """float32 batchnorm sandwich, X (9, 2, 2) -> M=5."""
    norm.run_sandwich_backward(ctx, "batchnorm", (9, 2, 2), 5, dtype=torch.float32)


# -- FullyConnectedNet -------------------------------------------------------------------------------------
@check(task="FullyConnectedNet.__init__", points=1)
def norm_net_init_single_hidden_layer(ctx: Context) -> None:
    """normalization='batchnorm' with one hidden layer: gamma1, beta1 only (float64)."""
    norm.run_init(ctx, [9], 3, 4, "batchnorm", torch.float64)


@check(task="FullyConnectedNet.loss", points=1)
def batchnorm_net_with_dropout(ctx: Context) -> None:
    """Batchnorm and dropout 0.4 with a seed, three hidden layers, X (6, 2, 3), reg 0.05."""
    norm.run_net_train(ctx, norm.net_settings([6, 5, 4], 6, 3, "batchnorm", 0.4, 3, 0.05), (6, 2, 3))


@check(task="FullyConnectedNet.loss", points=1)
def layernorm_net_float32(ctx: Context) -> None:
    """Layernorm in float32, three hidden layers, reg 0.3."""
    norm.run_net_train(
        ctx, norm.net_settings([8, 6, 5], 7, 4, "layernorm", 0.0, None, 0.3), (5, 7), dtype=torch.float32
    )


@check(task="FullyConnectedNet.loss", points=1)
def layernorm_net_test_scores(ctx: Context) -> None:
    """Layernorm in test mode (y=None): the same per-example normalization, no running statistics."""
    norm.run_net_test(ctx, norm.net_settings([5, 5], 4, 3, "layernorm", 0.0, None, 0.0), (3, 4))


# -- capstone: the grader trains the configuration with the reference implementation -----------------
CAPSTONE_SEEDS = (0, 1, 2)
#: Wall-clock limit of one training run (the budget keeps an honest run far below it).
CAPSTONE_TIME_LIMIT = 120.0
_capstone_scores: dict[str, float] = {}


def capstone_accuracy(ctx: Context, config: dict[str, Any]) -> float:
    """Mean test accuracy of ``config`` trained by the reference over CAPSTONE_SEEDS (memoised per config:
    the same configuration always gets the same training)."""
    key = json.dumps(config, sort_keys=True)
    if key not in _capstone_scores:
        ref = ctx.reference
        if ref is None:
            raise RuntimeError(
                "the capstone is trained with the reference implementation: solutions/ is missing"
            )
        data = ref.data.load_digits(num_training=1280)
        accuracies = [_train_once(ref, config, data, seed) for seed in CAPSTONE_SEEDS]
        _capstone_scores[key] = sum(accuracies) / len(accuracies)
    return _capstone_scores[key]


def _train_once(ref: Any, config: dict[str, Any], data: dict[str, Any], seed: int) -> float:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # tiny matrices: one thread is fastest and leaves the other worker alone
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = ref.fc_net.FullyConnectedNet(
                list(config["hidden_dims"]), input_dim=64, num_classes=10, dropout=config["dropout"],
                reg=config["reg"], weight_scale=config["weight_scale"], normalization=config["normalization"],
            )  # fmt: skip
            solver = ref.solver.Solver(
                model, data, update_rule=getattr(ref.optim, config["update_rule"]),
                optim_config={"learning_rate": config["learning_rate"]}, lr_decay=config["lr_decay"],
                batch_size=config["batch_size"], num_epochs=config["num_epochs"], verbose=False, seed=seed,
            )  # fmt: skip
            solver.train(time_limit=CAPSTONE_TIME_LIMIT)
            scores = model.loss(data["X_test"])
    finally:
        torch.set_num_threads(threads)
    if not bool(torch.isfinite(scores).all()):
        return 0.0  # diverged: the best parameters still give NaN scores
    return float((scores.argmax(dim=1) == data["y_test"]).double().mean())


def run_capstone(ctx: Context, threshold: float) -> None:
    config = student_config(ctx)
    accuracy = capstone_accuracy(ctx, config)
    compare.that(
        accuracy >= threshold,
        "get_capstone_config(), trained by the grader",
        f"reaches a mean test accuracy of {accuracy:.4f} over seeds {list(CAPSTONE_SEEDS)}; this point needs "
        f">= {threshold:g}.",
        "compare configurations on the validation set in the notebook (depth, width, normalization, "
        "learning rate, epochs).",
    )


@check(task="get_capstone_config", points=1)
def capstone_accuracy_090(ctx: Context) -> None:
    """Trained by the grader: mean test accuracy >= 0.90."""
    run_capstone(ctx, 0.90)


@check(task="get_capstone_config", points=1)
def capstone_accuracy_095(ctx: Context) -> None:
    """Trained by the grader: mean test accuracy >= 0.95."""
    run_capstone(ctx, 0.95)


@check(task="get_capstone_config", points=1)
def capstone_accuracy_0965(ctx: Context) -> None:
    """Trained by the grader: mean test accuracy >= 0.965."""
    run_capstone(ctx, 0.965)
