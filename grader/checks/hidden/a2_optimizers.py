"""Hidden checks of assignment 2 (optimizers): other shapes, given state, edge cases.

Uses the helpers of ``grader/checks/support/optim.py``; every rule gets ``<rule>_resumes_state`` and
``<rule>_long_trajectory``, the adaptive rules ``<rule>_epsilon_outside_sqrt``.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support.inputs import seed_of
from grader.checks.support.optim import (
    RULES,
    Rule,
    compare_hyperparameters,
    compare_step,
    expected_trajectory,
    problem,
    register_rule_check,
    run_trajectory,
    student_step,
)

# Hyperparameters of the long trajectories (different from the public ones).
_LONG = {
    "sgd_momentum": {"learning_rate": 0.03, "momentum": 0.95},
    "nesterov_momentum": {"learning_rate": 0.02, "momentum": 0.6},
    "adagrad": {"learning_rate": 0.3, "epsilon": 1e-4},
    "rmsprop": {"learning_rate": 0.005, "decay_rate": 0.5, "epsilon": 1e-5},
    "adam": {"learning_rate": 0.2, "beta1": 0.5, "beta2": 0.7, "epsilon": 1e-4},
    "adamw": {"learning_rate": 0.2, "beta1": 0.5, "beta2": 0.7, "epsilon": 1e-4, "weight_decay": 0.9},
}


def _given_state(rule: Rule, shape: tuple[int, ...], seed: int) -> dict[str, Any]:
    """Nonzero state as left by earlier steps (caches and second moments are nonnegative)."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, Any] = {}
    for key in rule.state:
        value = torch.randn(shape, generator=g, dtype=torch.float64) * 0.1
        state[key] = value**2 if key in ("cache", "v") else value
    if rule.counter:
        state["t"] = 3
    return state


def _resumes_state(ctx: Context, rule: Rule) -> None:
    shape = (3, 2)
    w, grads = problem(shape, 3, seed_of(f"{rule.name}_resumes_state"))
    lr = rule.custom["learning_rate"]
    config = {"learning_rate": lr, **_given_state(rule, shape, seed_of(f"{rule.name}_state"))}
    expected = expected_trajectory(ctx, rule, w, grads, config)
    hyper = {**rule.defaults, "learning_rate": lr}
    case = f"continuing from a given state ({', '.join(config)}) with only learning_rate={lr} given"
    for step, dw in enumerate(grads):
        where = f"step {step + 1} of 3; {case}"
        next_w, config = student_step(ctx, rule, w, dw, config, where)
        compare_hyperparameters(config, hyper, where)
        compare_step(
            rule, next_w, config, expected[step], where,
            prefix="use the state already in config (create it only when it is missing): ",
        )  # fmt: skip
        w = next_w


def _long_trajectory(ctx: Context, rule: Rule) -> None:
    shape = (2, 3, 4)
    w, grads = problem(shape, 10, seed_of(f"{rule.name}_long_trajectory"))
    g = torch.Generator().manual_seed(seed_of(f"{rule.name}_long_scales"))
    # per-entry gradient scales from 1e-3 to 1e2, and some gradients exactly 0
    scales = 10 ** torch.empty(shape, dtype=torch.float64).uniform_(-3, 2, generator=g)
    grads = [dw * scales * (torch.rand(shape, generator=g, dtype=torch.float64) > 0.2) for dw in grads]
    config = dict(_LONG[rule.name])
    expected = expected_trajectory(ctx, rule, w, grads, config)
    case = compare.case(w=w, **config) + ", gradient scales 1e-3..1e2 with zero entries"
    run_trajectory(ctx, rule, w, grads, config, expected, case)


def _epsilon_outside_sqrt(ctx: Context, rule: Rule) -> None:
    shape = (4, 4)
    w, grads = problem(shape, 3, seed_of(f"{rule.name}_epsilon_outside_sqrt"), scale=1e-4)
    # epsilon 1e-2 against sqrt(cache) ~ 1e-4: sqrt(cache) + epsilon and sqrt(cache + epsilon)
    # differ by a factor of ~10.
    config = {**rule.custom, "epsilon": 1e-2}
    expected = expected_trajectory(ctx, rule, w, grads, config)
    for step, dw in enumerate(grads):
        where = f"step {step + 1} of 3; epsilon=0.01 and gradients of size 1e-4"
        next_w, config = student_step(ctx, rule, w, dw, config, where)
        compare_step(
            rule, next_w, config, expected[step], where,
            hint="epsilon is added AFTER the square root: sqrt(cache) + epsilon (sqrt(v_hat) + epsilon for "
            "Adam), never sqrt(cache + epsilon).",
        )  # fmt: skip
        w = next_w


for _rule in RULES.values():
    register_rule_check(
        _rule, "resumes_state", _resumes_state,
        "{rule}: a config holding earlier state and only a learning rate: the state is used, not reset.",
        __name__,
    )  # fmt: skip
    register_rule_check(
        _rule, "long_trajectory", _long_trajectory,
        "{rule}: ten steps on 3-D weights, gradients of very different sizes with zero entries.",
        __name__,
    )  # fmt: skip
    if "epsilon" in _rule.defaults:
        register_rule_check(
            _rule, "epsilon_outside_sqrt", _epsilon_outside_sqrt,
            "{rule}: a large epsilon with tiny gradients: epsilon is added outside the square root.",
            __name__,
        )  # fmt: skip


@check(task="sgd_momentum", points=1)
def sgd_momentum_zero_momentum_is_sgd(ctx: Context) -> None:
    """momentum=0 (with an old velocity in config) is plain SGD: v = -lr * dw, next_w = w - lr * dw."""
    w, grads = problem((5,), 2, seed_of("sgd_momentum_zero_momentum_is_sgd"))
    config: dict[str, Any] = {
        "learning_rate": 0.1,
        "momentum": 0.0,
        "velocity": torch.ones(5, dtype=torch.float64),
    }
    rule = RULES["sgd_momentum"]
    for step, dw in enumerate(grads):
        where = f"step {step + 1} of 2; momentum=0, learning_rate=0.1, config['velocity'] given as ones"
        next_w, config = student_step(ctx, rule, w, dw, config, where)
        compare_step(
            rule, next_w, config, [w - 0.1 * dw, {"velocity": -0.1 * dw}], where,
            hint="use config['momentum'] (here 0, so the old velocity is forgotten), not a constant.",
        )  # fmt: skip
        w = next_w


@check(task="nesterov_momentum", points=1)
def nesterov_momentum_first_step_lookahead(ctx: Context) -> None:
    """From zero velocity Nesterov's first step is (1 + momentum) times the plain SGD step."""
    w, (dw,) = problem((2, 5), 1, seed_of("nesterov_momentum_first_step_lookahead"))
    lr, momentum = 0.1, 0.5
    where = "first step from zero velocity; learning_rate=0.1, momentum=0.5"
    next_w, _ = student_step(
        ctx, RULES["nesterov_momentum"], w, dw, {"learning_rate": lr, "momentum": momentum}, where
    )
    # v = -lr * dw, next_w = w + momentum * v - lr * dw = w - (1 + momentum) * lr * dw
    compare.tensor(
        next_w,
        w - (1 + momentum) * lr * dw,
        f"next_w ({where})",
        dtype=torch.float64,
        **compare.F64,
        hint="the look-ahead adds momentum * v to the plain step -learning_rate * dw, so the first step "
        "is (1 + momentum) * learning_rate * dw; w + v alone is plain momentum.",
    )
