"""Public checks of assignment 4 (batch and layer normalization). Students see these.

The layers are compared with the reference (stored outputs) and with ``torch.nn.functional``'s
batch_norm / layer_norm and autograd as independent oracles; backward checks grade the pair
(``grader/checks/support/normalization.py`` says how). The capstone's configuration is validated
here; its training runs at grading time.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support import models, oracles
from grader.checks.support.capstone import student_config
from grader.checks.support.inputs import affine, seed_of
from grader.checks.support.normalization import (
    BN_TRAIN_HINT,
    LN_HINT,
    NET_HINT,
    RUNNING_HINT,
    compare_forward,
    feature_batch,
    net_case,
    net_oracle,
    net_problem,
    net_settings,
    norm_forward,
    param_case,
    reference_forward,
    register_backward_check,
    run_backward,
    run_backward_autograd,
    run_forward,
    run_init,
    run_net_test,
    run_net_train,
    run_sandwich_backward,
    run_sandwich_forward,
    running_stats,
)


# -- BatchNorm.forward ------------------------------------------------------------------------------
@check(task="BatchNorm.forward", points=1)
def batchnorm_forward_train(ctx: Context) -> None:
    """Train mode, first call: batch statistics (biased variance); running statistics created and
    updated with the default momentum 0.9."""
    seed = seed_of("batchnorm_forward_train")
    x, (gamma, beta) = feature_batch(8, 5, seed), affine(5, seed + 1)
    run_forward(ctx, "batchnorm", x, gamma, beta, {"mode": "train", "eps": 1e-5})


@check(task="BatchNorm.forward", points=1)
def batchnorm_forward_running_update(ctx: Context) -> None:
    """Train mode with given running statistics and momentum 0.7: the update keeps 0.7 of the old
    value and 0.3 of the batch's mean and UNBIASED variance."""
    seed = seed_of("batchnorm_forward_running_update")
    x, (gamma, beta) = feature_batch(6, 4, seed), affine(4, seed + 1)
    param = {"mode": "train", "momentum": 0.7, "eps": 1e-3, **running_stats(4, seed + 2)}
    run_forward(ctx, "batchnorm", x, gamma, beta, param)


@check(task="BatchNorm.forward", points=1)
def batchnorm_forward_test_mode(ctx: Context) -> None:
    """Test mode normalises with the running statistics and leaves them unchanged."""
    seed = seed_of("batchnorm_forward_test_mode")
    x, (gamma, beta) = feature_batch(5, 6, seed), affine(6, seed + 1)
    param = {"mode": "test", "eps": 1e-4, "momentum": 0.8, **running_stats(6, seed + 2)}
    case = param_case(x, param)
    out, _, after = norm_forward(ctx, "batchnorm", x, gamma, beta, param, case)
    expected = ctx.expected("forward", lambda ref: reference_forward(ref, "batchnorm", x, gamma, beta, param))
    compare.tensor(out, expected["out"], f"out ({case})", dtype=x.dtype, **compare.F64,
                   hint="test mode: x_hat = (x - running_mean) / sqrt(running_var + eps); no batch statistics.")  # fmt: skip
    for name in ("running_mean", "running_var"):
        compare.tensor(after.get(name), param[name], f"bn_param['{name}'] after the test-mode call ({case})",
                       **compare.EXACT, hint="test mode must not update (or replace) the running statistics.")  # fmt: skip


@check(task="BatchNorm.forward", points=1, randomized=True)
def batchnorm_forward_matches_torch(ctx: Context) -> None:
    """Random sizes, momentum and eps: a few train steps then a test step, against
    torch.nn.functional.batch_norm (outputs and running statistics after every step)."""
    g = ctx.generator()
    D = int(torch.randint(1, 9, (), generator=g))
    sizes = [int(n) for n in torch.randint(2, 12, (3,), generator=g)]
    momentum = round(0.5 + 0.45 * float(torch.rand((), generator=g, dtype=torch.float64)), 3)
    eps = float(10 ** -float(torch.randint(2, 7, (), generator=g)))
    gamma, beta = affine(D, int(torch.randint(0, 2**31, (), generator=g)))
    xs = [feature_batch(N, D, int(torch.randint(0, 2**31, (), generator=g))) for N in sizes]
    expected = oracles.batchnorm_steps(xs, gamma, beta, momentum, eps)
    param: dict[str, Any] = {"momentum": momentum, "eps": eps}
    for step, (x, (want_out, want_mean, want_var)) in enumerate(zip(xs, expected, strict=True)):
        param["mode"] = "train" if step < len(xs) - 1 else "test"
        case = f"step {step + 1} of {len(xs)} ({param['mode']}), {param_case(x, param)} (seed {ctx.seed})"
        out, _, param = norm_forward(ctx, "batchnorm", x, gamma, beta, param, case)
        compare.tensor(out, want_out, f"out ({case})", dtype=x.dtype, hint=BN_TRAIN_HINT, **compare.F64)
        for name, want in (("running_mean", want_mean), ("running_var", want_var)):
            compare.tensor(
                param.get(name), want, f"bn_param['{name}'] after {case}", hint=RUNNING_HINT, **compare.F64
            )


# -- backward passes: each against the stored reference on a fixed case and torch.autograd on random ones


for _target, _N, _D in (
    ("BatchNorm.backward", 10, 4),
    ("BatchNorm.backward_alt", 9, 5),
    ("LayerNorm.backward", 5, 8),
):
    register_backward_check(
        __name__, _target, "reference", functools.partial(run_backward, target=_target, N=_N, D=_D),
        f"{_target}: dx, dgamma, dbeta for the cache of a train-mode forward, N={_N}, D={_D}.",
    )  # fmt: skip
    register_backward_check(
        __name__, _target, "autograd", functools.partial(run_backward_autograd, target=_target),
        f"{_target}: random sizes and eps; dx, dgamma, dbeta match torch.autograd through torch's layer.",
        randomized=True,
    )  # fmt: skip


# -- LayerNorm ---------------------------------------------------------------------------------------
@check(task="LayerNorm.forward", points=1)
def layernorm_forward_reference(ctx: Context) -> None:
    """Each row normalised over its features (biased variance), N=6, D=5, eps=1e-3."""
    seed = seed_of("layernorm_forward_reference")
    x, (gamma, beta) = feature_batch(6, 5, seed), affine(5, seed + 1)
    run_forward(ctx, "layernorm", x, gamma, beta, {"eps": 1e-3})


@check(task="LayerNorm.forward", points=1)
def layernorm_forward_test_mode(ctx: Context) -> None:
    """A 'mode': 'test' key changes nothing: the same output as in train mode, no running statistics."""
    seed = seed_of("layernorm_forward_test_mode")
    x, (gamma, beta) = feature_batch(4, 7, seed), affine(7, seed + 1)
    expected = ctx.expected("forward", lambda ref: reference_forward(ref, "layernorm", x, gamma, beta, {}))
    for mode in ("train", "test"):
        param = {"mode": mode}
        case = param_case(x, param)
        out, _, after = norm_forward(ctx, "layernorm", x, gamma, beta, param, case)
        compare_forward("layernorm", out, after, expected, x, case)
        compare.that(set(after) == {"mode"}, f"ln_param after the call ({case})",
                     f"gained the keys {sorted(set(after) - {'mode'})}.",
                     "layernorm keeps no running statistics: leave ln_param alone.")  # fmt: skip


@check(task="LayerNorm.forward", points=1, randomized=True)
def layernorm_forward_matches_torch(ctx: Context) -> None:
    """Random sizes (N may be 1) and eps: out matches torch.nn.functional.layer_norm."""
    g = ctx.generator()
    N, D = int(torch.randint(1, 8, (), generator=g)), int(torch.randint(2, 10, (), generator=g))
    eps = float(10 ** -float(torch.randint(1, 7, (), generator=g)))
    x = feature_batch(N, D, int(torch.randint(0, 2**31, (), generator=g)))
    gamma, beta = affine(D, int(torch.randint(0, 2**31, (), generator=g)))
    case = param_case(x, {"eps": eps}) + f" (seed {ctx.seed})"
    out, _, _ = norm_forward(ctx, "layernorm", x, gamma, beta, {"eps": eps}, case)
    want = oracles.norm_out("layernorm", x, gamma, beta, eps)
    compare.tensor(out, want, f"out ({case})", dtype=x.dtype, hint=LN_HINT, **compare.F64)


# -- Linear_Norm_ReLU ---------------------------------------------------------------------------------
@check(task="Linear_Norm_ReLU.forward", points=1)
def linear_norm_relu_forward_batchnorm(ctx: Context) -> None:
    """Batchnorm sandwich in train mode, X (6, 4) -> M=5: out and cache equal the reference."""
    run_sandwich_forward(ctx, "batchnorm", (6, 4), 5, {"mode": "train"})


@check(task="Linear_Norm_ReLU.forward", points=1)
def linear_norm_relu_forward_layernorm(ctx: Context) -> None:
    """Layernorm sandwich, X (5, 2, 3) -> M=4: out and cache equal the reference."""
    run_sandwich_forward(ctx, "layernorm", (5, 2, 3), 4, {"eps": 1e-5})


@check(task="Linear_Norm_ReLU.backward", points=1)
def linear_norm_relu_backward_batchnorm(ctx: Context) -> None:
    """Batchnorm sandwich, X (7, 3) -> M=4: dx, dw, db, dgamma, dbeta equal the reference."""
    run_sandwich_backward(ctx, "batchnorm", (7, 3), 4)


@check(task="Linear_Norm_ReLU.backward", points=1)
def linear_norm_relu_backward_layernorm(ctx: Context) -> None:
    """Layernorm sandwich, X (4, 2, 2) -> M=6: dx, dw, db, dgamma, dbeta equal the reference."""
    run_sandwich_backward(ctx, "layernorm", (4, 2, 2), 6)


# -- FullyConnectedNet with normalization -----------------------------------------------------------
@check(task="FullyConnectedNet.__init__", points=1)
def norm_net_init_batchnorm(ctx: Context) -> None:
    """normalization='batchnorm', two hidden layers: gamma1, gamma2 ones, beta1, beta2 zeros, none
    for the output layer; the seeded weights are the same as without normalization."""
    run_init(ctx, [6, 5], 4, 3, "batchnorm", torch.float32)


@check(task="FullyConnectedNet.__init__", points=1)
def norm_net_init_layernorm(ctx: Context) -> None:
    """normalization='layernorm', three hidden layers, float64: gamma and beta for layers 1 to 3."""
    run_init(ctx, [4, 7, 3], 5, 2, "layernorm", torch.float64)


@check(task="FullyConnectedNet.loss", points=1)
def batchnorm_net_loss_and_grads(ctx: Context) -> None:
    """Batchnorm, two hidden layers, reg 0.2: loss and gradients (gamma, beta included) equal the reference."""
    run_net_train(ctx, net_settings([7, 5], 6, 4, "batchnorm", 0.0, None, 0.2), (8, 6))


@check(task="FullyConnectedNet.loss", points=1)
def layernorm_net_loss_and_grads(ctx: Context) -> None:
    """Layernorm, two hidden layers, reg 0.1: loss and gradients equal the reference."""
    run_net_train(ctx, net_settings([5, 6], 4, 3, "layernorm", 0.0, None, 0.1), (6, 4))


@check(task="FullyConnectedNet.loss", points=1)
def batchnorm_net_test_scores(ctx: Context) -> None:
    """Batchnorm net in test mode (y=None) uses the running statistics of each layer's norm_params."""
    run_net_test(ctx, net_settings([6, 4], 5, 3, "batchnorm", 0.0, None, 0.0), (4, 5))


@check(task="FullyConnectedNet.loss", points=1, randomized=True)
def norm_net_matches_autograd(ctx: Context) -> None:
    """Random depth, sizes, normalization and reg: loss and gradients match torch.autograd."""
    g = ctx.generator()
    depth = int(torch.randint(1, 4, (), generator=g))
    hidden = [int(n) for n in torch.randint(2, 9, (depth,), generator=g)]
    N, D, C = (int(n) for n in torch.randint(2, 8, (3,), generator=g))
    normalization = ("batchnorm", "layernorm")[int(torch.randint(0, 2, (), generator=g))]
    reg = round(0.5 * float(torch.rand((), generator=g, dtype=torch.float64)), 3)
    settings = net_settings(hidden, D, C + 1, normalization, 0.0, None, reg)
    params, X, y = net_problem(settings, (N, D), int(torch.randint(0, 2**31, (), generator=g)))
    model = models.student_model(ctx, "FullyConnectedNet", settings, params)
    result = ctx.student.call_method(model, "loss", X, y)
    expected = net_oracle(params, X, y, normalization, reg)
    case = net_case(settings, X) + f" (check seed {ctx.seed})"
    models.compare_loss_and_grads(result, expected, case, torch.float64, hint=NET_HINT)


# -- capstone: the configuration (its training runs at grading time, see the hidden checks) ---------
@check(task="get_capstone_config", points=1)
def capstone_config_valid(ctx: Context) -> None:
    """The configuration has the documented keys and types and fits the training budget (its accuracy
    is measured at grading time by training it with the reference implementation)."""
    student_config(ctx)
