"""Assignment 2's update rules as the checks see them (defaults, state, hints, the equivalent
``torch.optim`` optimizer), and the steps of its checks: trajectories of the student's rule with the
returned config fed back, compared step by step. Shared by its public and hidden checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check

STATE_MISSING_HINT = "keep the optimizer state in config (e.g. config['velocity'] = ...) and return config."
COUNTER_HINT = (
    "config['t'] is a plain int, 0 before the first call, incremented once at the START of every call."
)


@dataclass(frozen=True)
class Rule:
    """What the checks need to know about one update rule of ``optim.py``."""

    name: str  # function in optim.py, and the task name
    defaults: dict[str, float]  # documented hyperparameter defaults
    custom: dict[str, float]  # non-default hyperparameters for the stored trajectories
    state: dict[str, str]  # state tensor keys -> the usual cause of a wrong value
    hint: str  # the usual cause of a wrong next_w
    oracle: Callable[[list[torch.Tensor], dict[str, float]], torch.optim.Optimizer]
    from_torch: Callable[[dict[str, Any], dict[str, float]], dict[str, Any]]  # torch state -> ours
    counter: bool = False  # keeps the int step counter 't'

    def state_keys(self) -> tuple[str, ...]:
        return (*self.state, "t") if self.counter else tuple(self.state)


_ADAM_DEFAULTS = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
_ADAM_STATE = {
    "m": "m = beta1 * m + (1 - beta1) * dw, updated in config['m'] (not bias-corrected: m_hat is a temporary).",
    "v": "v = beta2 * v + (1 - beta2) * dw ** 2, updated in config['v'] (not bias-corrected).",
}
_ADAM_HINT = (
    "increment t first, then m_hat = m / (1 - beta1 ** t), v_hat = v / (1 - beta2 ** t) and "
    "next_w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)."
)


def _velocity(state: dict[str, Any], hyper: dict[str, float]) -> dict[str, Any]:
    # torch keeps buf with v = -learning_rate * buf (see the docstrings of optim.py)
    return {"velocity": -hyper["learning_rate"] * state["momentum_buffer"]}


def _moments(state: dict[str, Any], hyper: dict[str, float]) -> dict[str, Any]:
    return {"m": state["exp_avg"].clone(), "v": state["exp_avg_sq"].clone(), "t": int(state["step"])}


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "sgd_momentum",
            defaults={"learning_rate": 1e-2, "momentum": 0.9},
            custom={"learning_rate": 0.05, "momentum": 0.7},
            state={"velocity": "v = momentum * v - learning_rate * dw, kept in config['velocity']."},
            hint="v = momentum * v - learning_rate * dw, then next_w = w + v (v points downhill).",
            oracle=lambda p, h: torch.optim.SGD(p, lr=h["learning_rate"], momentum=h["momentum"]),
            from_torch=_velocity,
        ),
        Rule(
            "nesterov_momentum",
            defaults={"learning_rate": 1e-2, "momentum": 0.9},
            custom={"learning_rate": 0.05, "momentum": 0.8},
            state={"velocity": "v = momentum * v - learning_rate * dw, kept in config['velocity']."},
            hint=(
                "update v first, then look ahead: next_w = w + momentum * v - learning_rate * dw "
                "(w + v alone is plain momentum)."
            ),
            oracle=lambda p, h: torch.optim.SGD(
                p, lr=h["learning_rate"], momentum=h["momentum"], nesterov=True
            ),
            from_torch=_velocity,
        ),
        Rule(
            "adagrad",
            defaults={"learning_rate": 1e-2, "epsilon": 1e-8},
            custom={"learning_rate": 0.1, "epsilon": 1e-6},
            state={"cache": "cache = cache + dw ** 2: a running SUM of squared gradients, with no decay."},
            hint="next_w = w - learning_rate * dw / (sqrt(cache) + epsilon), with the updated cache.",
            oracle=lambda p, h: torch.optim.Adagrad(p, lr=h["learning_rate"], eps=h["epsilon"]),
            from_torch=lambda state, h: {"cache": state["sum"].clone()},
        ),
        Rule(
            "rmsprop",
            defaults={"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
            custom={"learning_rate": 0.02, "decay_rate": 0.9, "epsilon": 1e-6},
            state={"cache": "cache = decay_rate * cache + (1 - decay_rate) * dw ** 2 (a moving average)."},
            hint="next_w = w - learning_rate * dw / (sqrt(cache) + epsilon), with the updated cache.",
            oracle=lambda p, h: torch.optim.RMSprop(
                p, lr=h["learning_rate"], alpha=h["decay_rate"], eps=h["epsilon"]
            ),
            from_torch=lambda state, h: {"cache": state["square_avg"].clone()},
        ),
        Rule(
            "adam",
            defaults=_ADAM_DEFAULTS,
            custom={"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6},
            state=_ADAM_STATE,
            hint=_ADAM_HINT,
            oracle=lambda p, h: torch.optim.Adam(
                p, lr=h["learning_rate"], betas=(h["beta1"], h["beta2"]), eps=h["epsilon"]
            ),
            from_torch=_moments,
            counter=True,
        ),
        Rule(
            "adamw",
            defaults={**_ADAM_DEFAULTS, "weight_decay": 1e-2},
            custom={"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-6, "weight_decay": 0.3},
            state=_ADAM_STATE,
            hint=(
                "decay first, w * (1 - learning_rate * weight_decay), then take the Adam step on the "
                "decayed weights; the decay never enters dw, m or v. " + _ADAM_HINT
            ),
            oracle=lambda p, h: torch.optim.AdamW(
                p,
                lr=h["learning_rate"],
                betas=(h["beta1"], h["beta2"]),
                eps=h["epsilon"],
                weight_decay=h["weight_decay"],
            ),
            from_torch=_moments,
            counter=True,
        ),
    )
}


# -- inputs --------------------------------------------------------------------------------------


def problem(
    shape: tuple[int, ...], steps: int, seed: int, dtype: torch.dtype = torch.float64, scale: float = 1.0
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Weights and a fixed sequence of gradients, drawn from a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g, dtype=torch.float64)
    grads = [torch.randn(shape, generator=g, dtype=torch.float64) * scale for _ in range(steps)]
    return w.to(dtype), [dw.to(dtype) for dw in grads]


# -- running the rules ---------------------------------------------------------------------------


def copy_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A deep copy: the reference updates its state tensors in place."""
    if config is None:
        return None
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in config.items()}


def reference_trajectory(
    rule: Rule, function: Callable[..., Any], w: torch.Tensor, grads: list[torch.Tensor], config: Any
) -> list[list[Any]]:
    """[[next_w, state], ...] of the reference for each gradient, starting from ``config``."""
    config = copy_config(config)
    steps = []
    for dw in grads:
        w, config = function(w, dw, config)
        state = {key: config[key].clone() if key != "t" else config[key] for key in rule.state_keys()}
        steps.append([w.clone(), state])
    return steps


def expected_trajectory(ctx: Context, rule: Rule, w: torch.Tensor, grads: list[torch.Tensor], config: Any):
    """The stored reference trajectory (see :func:`reference_trajectory`)."""
    return ctx.expected(
        "trajectory",
        lambda ref: reference_trajectory(rule, getattr(ref.optim, rule.name), w, grads, config),
    )


def torch_trajectory(
    rule: Rule, w: torch.Tensor, grads: list[torch.Tensor], hyper: dict[str, float]
) -> list[list[Any]]:
    """The same trajectory computed live by the equivalent ``torch.optim`` optimizer."""
    param = torch.nn.Parameter(w.clone())
    optimizer = rule.oracle([param], hyper)
    steps = []
    for dw in grads:
        param.grad = dw.clone()
        optimizer.step()
        steps.append([param.detach().clone(), rule.from_torch(optimizer.state[param], hyper)])
    return steps


def student_step(
    ctx: Context, rule: Rule, w: Any, dw: Any, config: dict[str, Any] | None, where: str
) -> tuple[Any, dict[str, Any]]:
    """One call of the student's rule; checks it returns (next_w, config-dict)."""
    result = ctx.student.call(f"optim.{rule.name}", w, dw, config)
    compare.structure(
        result, tuple, 2, f"value returned by {rule.name} ({where})", hint="return next_w, config."
    )
    next_w, returned = result
    compare.structure(
        returned,
        dict,
        None,
        f"config returned by {rule.name} ({where})",
        hint="return the config dict (hyperparameters and state) as the second value.",
    )
    return next_w, returned


def compare_hyperparameters(returned: dict[str, Any], expected: dict[str, float], where: str) -> None:
    """The returned config holds every hyperparameter: given values kept, missing ones defaulted."""
    for key, value in expected.items():
        compare.that(
            key in returned,
            f"config ({where})",
            f"the returned config has no '{key}'.",
            "fill in missing hyperparameters with config.setdefault(key, default).",
        )
        compare.scalar(
            returned[key],
            value,
            f"config['{key}'] ({where})",
            atol=0,
            rtol=0,
            hint="keep the given hyperparameters and fill in only the missing ones (config.setdefault).",
        )


def compare_step(
    rule: Rule,
    next_w: Any,
    config: dict[str, Any],
    expected: list[Any],
    where: str,
    dtype: torch.dtype = torch.float64,
    tolerance: dict[str, float] = compare.F64,
    hint: str | None = None,
    prefix: str = "",
    state_hint: str | None = None,
) -> None:
    """The step counter, every state entry of ``config``, then next_w, against one expected step.

    The state comes first: a wrong state explains a wrong next_w, and its hint is the precise one.
    ``hint`` replaces the rule's hint for next_w; ``prefix`` is put before every hint;
    ``state_hint`` (a confirmed cause) replaces the hints of the state entries.
    """
    want_w, want_state = expected
    if rule.counter:
        t = config.get("t")
        got = repr(t) if type(t) is int else compare.describe(t)
        compare.that(
            type(t) is int and t == want_state["t"],
            f"config['t'] ({where})",
            f"expected the int {want_state['t']}, got {got}.",
            prefix + COUNTER_HINT,
        )
    for key, rule_hint in rule.state.items():
        compare.that(
            key in config, f"config ({where})", f"the returned config has no '{key}'.", STATE_MISSING_HINT
        )
        compare.tensor(
            config[key],
            want_state[key],
            f"config['{key}'] ({where})",
            dtype=dtype,
            hint=prefix + (state_hint or rule_hint),
            shape_hint="state tensors have w's shape: create them with torch.zeros_like(w).",
            **tolerance,
        )
    compare.tensor(
        next_w,
        want_w,
        f"next_w ({where})",
        dtype=dtype,
        hint=prefix + (hint or rule.hint),
        shape_hint="next_w must have w's shape.",
        **tolerance,
    )


def run_trajectory(
    ctx: Context,
    rule: Rule,
    w: torch.Tensor,
    grads: list[torch.Tensor],
    config: dict[str, Any] | None,
    expected: list[list[Any]],
    case: str,
    tolerance: dict[str, float] = compare.F64,
) -> None:
    """Feed the student's returned config back in for every step; compare every step."""
    hyper = {**rule.defaults, **{k: v for k, v in (config or {}).items() if k in rule.defaults}}
    for step, dw in enumerate(grads):
        where = f"step {step + 1} of {len(grads)}; {case}"
        fresh = not any(key in (config or {}) for key in rule.state)
        next_w, config = student_step(ctx, rule, w, dw, config, where)
        cause = state_built_from_w(rule, w, hyper, config) if fresh else None
        compare_step(rule, next_w, config, expected[step], where, w.dtype, tolerance, state_hint=cause)
        w = next_w


def state_built_from_w(
    rule: Rule, w: torch.Tensor, hyper: dict[str, float], config: dict[str, Any]
) -> str | None:
    """A confirmed cause for a wrong first-step state: it is what the rule gives when w is fed in
    as the gradient (e.g. dw overwritten by w). None when the state does not show that."""
    _, wrong = torch_trajectory(rule, w.double(), [w.double()], hyper)[0]
    for key in rule.state:
        value = config.get(key)
        if (
            type(value) is torch.Tensor
            and value.shape == w.shape
            and bool(torch.allclose(value.double(), wrong[key].double(), **compare.HINT_MATCH[torch.float64]))
        ):
            return (
                f"config['{key}'] equals what the rule gives when w is fed in as the gradient: the state "
                "is built from the gradient dw, not from w."
            )
    return None


# -- the battery of checks every rule gets -------------------------------------------------------


def register_rule_check(
    rule: Rule, kind: str, body: Callable[[Context, Rule], None], doc: str, module: str, **options: Any
) -> None:
    """Register ``body`` for ``rule`` as the check ``<rule>_<kind>`` of task ``rule.name``, defined by
    the check module ``module`` (the caller's ``__name__``); ``doc`` may name ``{rule}``."""

    def run(ctx: Context) -> None:
        body(ctx, rule)

    run.__doc__ = doc.format(rule=rule.name)
    check(
        task=rule.name, points=options.pop("points", 1), name=f"{rule.name}_{kind}", module=module, **options
    )(run)
