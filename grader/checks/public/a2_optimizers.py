"""Public checks of assignment 2 (optimizers). Students see these.

Every update rule of ``course_lib/optim.py`` gets the same battery, registered by
:func:`grader.checks.support.optim.register_rule_check` (one uniquely named check per rule):

- ``<rule>_first_step_defaults``: config=None and config={} fill in the documented defaults;
- ``<rule>_trajectory``: five steps with non-default hyperparameters, weights and state per step;
- ``<rule>_float32``: float32 weights keep float32 weights and state;
- ``<rule>_inputs_unchanged``: w and dw are never modified in place;
- ``<rule>_matches_torch``: random shapes and hyperparameters against ``torch.optim`` (randomized).

Rule-specific property checks follow at the end. The rules and the steps of the checks are in
``grader/checks/support/optim.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support.calls import compare_unchanged
from grader.checks.support.inputs import seed_of
from grader.checks.support.optim import (
    COUNTER_HINT,
    RULES,
    STATE_MISSING_HINT,
    Rule,
    compare_hyperparameters,
    compare_step,
    expected_trajectory,
    problem,
    reference_trajectory,
    register_rule_check,
    run_trajectory,
    student_step,
    torch_trajectory,
)


def _first_step_defaults(ctx: Context, rule: Rule) -> None:
    w, grads = problem((3, 4), 1, seed_of(f"{rule.name}_first_step_defaults"))
    expected = ctx.expected(
        "first_step",
        lambda ref: reference_trajectory(rule, getattr(ref.optim, rule.name), w, grads, None)[0],
    )
    for label, config in (("config=None", None), ("config={}", {})):
        where = f"first step, {label}, w of shape (3, 4)"
        next_w, returned = student_step(ctx, rule, w, grads[0], config, where)
        compare_hyperparameters(returned, rule.defaults, where)
        compare_step(rule, next_w, returned, expected, where)


def _trajectory(ctx: Context, rule: Rule) -> None:
    w, grads = problem((4, 3), 5, seed_of(f"{rule.name}_trajectory"))
    config = dict(rule.custom)
    expected = expected_trajectory(ctx, rule, w, grads, config)
    run_trajectory(ctx, rule, w, grads, config, expected, compare.case(w=w, **config))


def _float32(ctx: Context, rule: Rule) -> None:
    w, grads = problem((6,), 3, seed_of(f"{rule.name}_float32"), dtype=torch.float32)
    config = dict(rule.custom)
    expected = expected_trajectory(ctx, rule, w, grads, config)
    case = compare.case(w=w, **config)
    run_trajectory(ctx, rule, w, grads, config, expected, case, tolerance=compare.F32_ELEMENTWISE)


def _inputs_unchanged(ctx: Context, rule: Rule) -> None:
    w, grads = problem((2, 3), 2, seed_of(f"{rule.name}_inputs_unchanged"))
    config: dict[str, Any] = dict(rule.custom)
    expected = expected_trajectory(ctx, rule, w, grads, config)
    case = compare.case(w=w, **rule.custom)
    for step, dw in enumerate(grads):
        where = f"step {step + 1} of {len(grads)}; {case}"
        w_handle, dw_handle = ctx.student.keep(w), ctx.student.keep(dw)
        next_w, config = student_step(ctx, rule, w_handle, dw_handle, config, where)
        compare_unchanged(
            ctx, w_handle, w, f"w after the call ({where})",
            "w must not be modified in place: compute next_w as a new tensor (w + step, not w += step).",
        )  # fmt: skip
        compare_unchanged(
            ctx, dw_handle, dw, f"dw after the call ({where})",
            "dw must not be modified in place (no dw.mul_(...), dw /= ...); use out-of-place operations.",
        )  # fmt: skip
        compare_step(rule, next_w, config, expected[step], where)
        w = next_w


# Ranges of the randomized hyperparameters: (low, high, log scale).
_RANGES = {
    "learning_rate": (1e-3, 1e-1, True),
    "momentum": (0.5, 0.95, False),
    "decay_rate": (0.8, 0.999, False),
    "beta1": (0.7, 0.95, False),
    "beta2": (0.9, 0.9999, False),
    "epsilon": (1e-8, 1e-4, True),
    "weight_decay": (0.0, 0.5, False),
}


def random_hyperparameters(rule: Rule, g: torch.Generator) -> dict[str, float]:
    hyper = {}
    for key in rule.defaults:
        low, high, log = _RANGES[key]
        u = float(torch.rand((), generator=g, dtype=torch.float64))
        value = (
            math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if log else low + u * (high - low)
        )
        hyper[key] = float(f"{value:.4g}")  # round so the message shows the exact values
    return hyper


def _matches_torch(ctx: Context, rule: Rule) -> None:
    g = ctx.generator()
    ndim = int(torch.randint(1, 4, (), generator=g))
    shape = tuple(int(n) for n in torch.randint(1, 6, (ndim,), generator=g))
    hyper = random_hyperparameters(rule, g)
    scale = 10 ** float(torch.empty((), dtype=torch.float64).uniform_(-2, 1, generator=g))
    w = torch.randn(shape, generator=g, dtype=torch.float64)
    grads = [torch.randn(shape, generator=g, dtype=torch.float64) * scale for _ in range(8)]
    expected = torch_trajectory(rule, w, grads, hyper)
    case = compare.case(w=w, **hyper) + f", gradients of scale {scale:.3g} (seed {ctx.seed})"
    run_trajectory(ctx, rule, w, grads, dict(hyper), expected, case)


_BATTERY: list[tuple[str, Callable[[Context, Rule], None], str, dict[str, Any]]] = [
    (
        "first_step_defaults",
        _first_step_defaults,
        "{rule}: first step with config=None and with config={{}}: documented defaults, state created, next_w.",
        {},
    ),
    (
        "trajectory",
        _trajectory,
        "{rule}: five steps with non-default hyperparameters; the returned config is fed back each step.",
        {},
    ),
    ("float32", _float32, "{rule}: float32 weights give float32 next_w and float32 state tensors.", {}),
    (
        "inputs_unchanged",
        _inputs_unchanged,
        "{rule}: w and dw are not modified in place, and next_w is a new tensor.",
        {},
    ),
    (
        "matches_torch",
        _matches_torch,
        "{rule}: eight steps on a random shape with random hyperparameters match torch.optim.",
        {"randomized": True},
    ),
]

for _rule in RULES.values():
    for _kind, _body, _doc, _options in _BATTERY:
        register_rule_check(_rule, _kind, _body, _doc, __name__, **_options)


# -- rule-specific properties --------------------------------------------------------------------
@check(task="adam", points=1)
def adam_first_step_size_is_lr(ctx: Context) -> None:
    """Adam's bias correction makes the first step move every weight by ~learning_rate."""
    lr, eps = 0.05, 1e-8
    magnitudes = torch.logspace(-3, 3, 12, dtype=torch.float64)
    signs = torch.tensor([1.0, -1.0] * 6, dtype=torch.float64)
    dw = (magnitudes * signs).reshape(3, 4)
    w, _ = problem((3, 4), 0, seed_of("adam_first_step_size_is_lr"))
    # At t = 1: m_hat = dw and v_hat = dw ** 2, so the step is lr * dw / (|dw| + eps) ~ lr * sign(dw).
    expected = w - lr * dw / (dw.abs() + eps)
    where = "first step, learning_rate=0.05, |dw| from 1e-3 to 1e3"
    next_w, config = student_step(ctx, RULES["adam"], w, dw, {"learning_rate": lr}, where)
    compare.tensor(
        next_w,
        expected,
        f"next_w ({where})",
        dtype=torch.float64,
        **compare.F64,
        hint=(
            "with the bias corrections m_hat = dw and v_hat = dw ** 2 at t = 1, so each weight moves by "
            "~learning_rate against its gradient, whatever |dw| is. Is t incremented BEFORE computing "
            "1 - beta ** t, and are both m and v corrected?"
        ),
    )
    compare.that(config.get("t") == 1 and type(config.get("t")) is int, f"config['t'] ({where})",
                 "should be the int 1 after the first step.", COUNTER_HINT)  # fmt: skip


@check(task="adamw", points=1)
def adamw_decay_is_decoupled(ctx: Context) -> None:
    """AdamW with dw = 0: the weights only decay by (1 - lr * weight_decay) per step; m, v stay 0."""
    w, _ = problem((3, 4), 0, seed_of("adamw_decay_is_decoupled"))
    dw = torch.zeros_like(w)
    config: dict[str, Any] = {"learning_rate": 0.1, "weight_decay": 0.5}
    current = w
    for step in range(1, 4):
        where = f"step {step} of 3 with dw = 0; learning_rate=0.1, weight_decay=0.5"
        next_w, config = student_step(ctx, RULES["adamw"], current, dw, config, where)
        compare.tensor(
            next_w,
            w * (1 - 0.1 * 0.5) ** step,
            f"next_w ({where})",
            dtype=torch.float64,
            **compare.F64,
            hint=(
                "with dw = 0 the Adam step is 0 and AdamW only decays: next_w = w * (1 - learning_rate "
                "* weight_decay). Is the decay multiplied by learning_rate?"
            ),
        )
        for key in ("m", "v"):
            compare.that(
                key in config, f"config ({where})", f"the returned config has no '{key}'.", STATE_MISSING_HINT
            )
            compare.tensor(
                config[key],
                torch.zeros_like(w),
                f"config['{key}'] ({where})",
                dtype=torch.float64,
                atol=0,
                rtol=0,
                hint=(
                    "the decay is decoupled: it is applied to the weights, NOT added to dw, so m and v "
                    "stay 0 when dw = 0 (adding weight_decay * w to dw is Adam with L2 regularisation)."
                ),
            )
        current = next_w
