"""Public checks of assignment 2 (optimizers). Students see these.

Every update rule of ``course_lib/optim.py`` gets the same battery, registered by
:func:`register_rule_check` (one uniquely named check per rule):

- ``<rule>_first_step_defaults``: config=None and config={} fill in the documented defaults;
- ``<rule>_trajectory``: five steps with non-default hyperparameters, weights and state per step;
- ``<rule>_float32``: float32 weights keep float32 weights and state;
- ``<rule>_inputs_unchanged``: w and dw are never modified in place;
- ``<rule>_matches_torch``: random shapes and hyperparameters against ``torch.optim`` (randomized).

Rule-specific property checks follow at the end. The hidden module reuses the helpers here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from grader.checks import compare
from grader.checks.common import compare_unchanged, seed_of
from grader.checks.context import Context
from grader.checks.registry import check

# float64: the rules are a handful of elementwise operations; equivalent formulas differ by a few
# ulps (1e-16 relative), so these bounds only absorb rounding while any formula error is far larger.
F64 = dict(atol=1e-10, rtol=1e-8)
# float32 (looser, on purpose): every value goes through fewer than ten roundings of relative size
# 6e-8, on weights of order 1 and caches of order dw ** 2; 1e-5 relative + 1e-6 absolute leaves a
# wide margin, while the bugs this catches (wrong dtype, wrong formula) are >= 1e-3 relative.
F32 = dict(atol=1e-6, rtol=1e-5)

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


def describe_case(shape: tuple[int, ...], config: dict[str, Any] | None) -> str:
    """How a case is named in messages: the weights' shape and the hyperparameters given."""
    given = {k: v for k, v in (config or {}).items() if not isinstance(v, torch.Tensor)}
    text = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in given.items())
    return f"w of shape {tuple(shape)}" + (f", {text}" if text else f", config={config!r}")


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
    tolerance: dict[str, float] = F64,
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
    tolerance: dict[str, float] = F64,
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
            and bool(torch.allclose(value.double(), wrong[key].double(), rtol=1e-6, atol=1e-9))
        ):
            return (
                f"config['{key}'] equals what the rule gives when w is fed in as the gradient: the state "
                "is built from the gradient dw, not from w."
            )
    return None


# -- child-side tensors: the only way to see an in-place modification ---------------------------


# -- the battery of checks every rule gets -------------------------------------------------------
def register_rule_check(
    rule: Rule, kind: str, body: Callable[[Context, Rule], None], doc: str, module: str, **options: Any
) -> None:
    """Register ``body`` for ``rule`` as the check ``<rule>_<kind>`` of task ``rule.name`` in ``module``."""

    def run(ctx: Context) -> None:
        body(ctx, rule)

    run.__name__ = run.__qualname__ = f"{rule.name}_{kind}"
    run.__module__ = module
    run.__doc__ = doc.format(rule=rule.name)
    check(task=rule.name, points=options.pop("points", 1), **options)(run)


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
    run_trajectory(ctx, rule, w, grads, config, expected, describe_case(w.shape, config))


def _float32(ctx: Context, rule: Rule) -> None:
    w, grads = problem((6,), 3, seed_of(f"{rule.name}_float32"), dtype=torch.float32)
    config = dict(rule.custom)
    expected = expected_trajectory(ctx, rule, w, grads, config)
    case = "float32 " + describe_case(w.shape, config)
    run_trajectory(ctx, rule, w, grads, config, expected, case, tolerance=F32)


def _inputs_unchanged(ctx: Context, rule: Rule) -> None:
    w, grads = problem((2, 3), 2, seed_of(f"{rule.name}_inputs_unchanged"))
    config: dict[str, Any] = dict(rule.custom)
    expected = expected_trajectory(ctx, rule, w, grads, config)
    for step, dw in enumerate(grads):
        where = f"step {step + 1} of {len(grads)}; {describe_case(w.shape, rule.custom)}"
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
    case = describe_case(shape, hyper) + f", gradients of scale {scale:.3g} (seed {ctx.seed})"
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
        **F64,
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
            **F64,
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
