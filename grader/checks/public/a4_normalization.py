"""Public checks of assignment 4 (batch and layer normalization). Students see these.

The layers are compared with the reference (stored outputs) and with ``torch.nn.functional``'s
batch_norm / layer_norm and autograd as independent oracles. The caches are private to the student:
backward checks grade the pair, giving the student's backward the cache of the student's own forward
on the same inputs, or the documented layout (built here) when that forward's output is wrong, so
that a forward bug costs the forward's points only. ``BatchNorm.forward``'s running
statistics are read back from the student's ``bn_param`` dict after the call. The sandwich layer and
the network run on the reference layers (no cascade); those run in the grader on a copy of the dict
they are given, so their updates of the running statistics never reach the student's dicts: checks
of these tasks give running statistics and test the test-mode output instead of a train-then-test
sequence. The capstone's configuration is validated here; its training runs at grading time.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.checks import compare
from grader.checks.common import seed_of
from grader.checks.context import Context
from grader.checks.registry import check
from grader.sandbox.protocol import Handle
from grader.sandbox.session import StudentError

# float64: normalization is a handful of reductions and elementwise operations; another order of
# the same operations differs by a few ulps (eps 2.2e-16) amplified by 1 / sqrt(var + eps) <= ~10.
F64 = dict(atol=1e-10, rtol=1e-8)
# float32 (looser, on purpose): the same operations in single precision (eps 1.2e-7 per rounding).
F32 = dict(atol=1e-5, rtol=1e-4)
EXACT = dict(atol=0.0, rtol=0.0)
TOLERANCE = {torch.float64: F64, torch.float32: F32}

#: The layout handed to backward when the student's own forward is wrong.
DOCUMENTED_CACHE_HINT = (
    "your forward's output is wrong, so your backward was given the documented cache (x, x_hat, mu, var, "
    "gamma, eps); fix the forward first."
)
BN_TRAIN_HINT = (
    "train mode normalises every column with its own mean and BIASED variance over the N examples, "
    "with eps inside the square root, then scales by gamma and shifts by beta."
)
RUNNING_HINT = (
    "in train mode each running statistic keeps momentum times its old value plus (1 - momentum) times the "
    "batch's; running_var takes the UNBIASED batch variance (factor N / (N - 1)); test mode leaves both unchanged."
)
LN_HINT = (
    "layernorm normalises each ROW over its D features (its own mean and biased variance, kept with shape "
    "(N, 1)), then scales and shifts per feature; it keeps no running statistics."
)
GRAD_HINT = (
    "dgamma and dbeta sum over the examples (dim 0), dgamma weighted by x_hat; dx has terms through x_hat, "
    "through the mean and through the variance."
)

NORM_TARGETS = {"batchnorm": "BatchNorm", "layernorm": "LayerNorm"}


# -- inputs ---------------------------------------------------------------------------------------
def feature_batch(N: int, D: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """x of shape (N, D) whose columns have different means (-2..2) and scales (0.5..3)."""
    g = torch.Generator().manual_seed(seed)
    means = 4 * torch.rand(D, generator=g, dtype=torch.float64) - 2
    scales = 0.5 + 2.5 * torch.rand(D, generator=g, dtype=torch.float64)
    return (torch.randn(N, D, generator=g, dtype=torch.float64) * scales + means).to(dtype)


def affine(D: int, seed: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """gamma (positive, away from 1) and beta (nonzero), so that swapping them shows."""
    g = torch.Generator().manual_seed(seed)
    gamma = 0.5 + 1.5 * torch.rand(D, generator=g, dtype=torch.float64)
    beta = torch.randn(D, generator=g, dtype=torch.float64)
    return gamma.to(dtype), beta.to(dtype)


def running_stats(D: int, seed: int, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(D, generator=g, dtype=torch.float64)
    var = 0.5 + torch.rand(D, generator=g, dtype=torch.float64)
    return {"running_mean": mean.to(dtype), "running_var": var.to(dtype)}


def norm_cache(kind: str, x: torch.Tensor, gamma: torch.Tensor, eps: float) -> tuple[Any, ...]:
    """The documented train-mode cache (x, x_hat, mu, var, gamma, eps), computed here."""
    dim = 0 if kind == "batchnorm" else 1
    mu = x.mean(dim=dim, keepdim=dim == 1)
    var = ((x - mu) ** 2).mean(dim=dim, keepdim=dim == 1)
    return (x, (x - mu) / torch.sqrt(var + eps), mu, var, gamma, eps)


def describe_param(param: dict[str, Any]) -> str:
    parts = []
    for key, value in param.items():
        if isinstance(value, torch.Tensor):
            parts.append(f"{key}=<given>")
        else:
            parts.append(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value:g}")
    return ", ".join(parts)


def case_name(x: torch.Tensor, param: dict[str, Any]) -> str:
    kind = "" if x.dtype == torch.float64 else f"{str(x.dtype).removeprefix('torch.')} "
    return f"{kind}x of shape {tuple(x.shape)}, {describe_param(param) or 'empty param dict'}"


# -- calling the student --------------------------------------------------------------------------
def norm_forward(
    ctx: Context, kind: str, x: Any, gamma: torch.Tensor, beta: torch.Tensor, param: dict[str, Any], case: str
) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The student's ``<Norm>.forward``: (out, cache, the param dict as it is after the call)."""
    handle = ctx.student.keep(dict(param))
    result = ctx.student.call(f"layers.{NORM_TARGETS[kind]}.forward", x, gamma, beta, handle)
    compare.structure(result, tuple, 2, f"value returned by forward ({case})", hint="return out, cache.")
    out, cache = result
    after = ctx.student.read(handle)
    compare.structure(after, dict, None, f"param dict after the call ({case})")
    return out, cache, after


def reference_forward(ref: Any, kind: str, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                      param: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """What the checks compare: out and (batchnorm) the running statistics (the cache is private)."""
    param = dict(param)
    out, _ = getattr(ref.layers, NORM_TARGETS[kind]).forward(x, gamma, beta, param)
    values = {"out": out}
    if kind == "batchnorm":
        values.update(running_mean=param["running_mean"], running_var=param["running_var"])
    return values


def compare_forward(kind: str, out: Any, after: dict[str, Any],
                    expected: dict[str, Any], x: torch.Tensor, case: str) -> None:  # fmt: skip
    """out and, for batchnorm, the running statistics in the dict (the cache is private)."""
    tolerance = TOLERANCE[x.dtype]
    hint = BN_TRAIN_HINT if kind == "batchnorm" else LN_HINT
    compare.tensor(out, expected["out"], f"out ({case})", dtype=x.dtype, hint=hint, **tolerance)
    for name in ("running_mean", "running_var"):
        if name in expected:
            compare.that(name in after, f"bn_param after the call ({case})", f"has no {name!r}.",
                         "store the running statistics in bn_param (they are created on first use).")  # fmt: skip
            compare.tensor(after[name], expected[name], f"bn_param['{name}'] after the call ({case})",
                           dtype=x.dtype, hint=RUNNING_HINT, **tolerance)  # fmt: skip


def run_forward(ctx: Context, kind: str, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                param: dict[str, Any], key: str = "forward") -> None:  # fmt: skip
    """One forward call against the stored reference."""
    case = case_name(x, param)
    out, _, after = norm_forward(ctx, kind, x, gamma, beta, param, case)
    expected = ctx.expected(key, lambda ref: reference_forward(ref, kind, x, gamma, beta, param))
    compare_forward(kind, out, after, expected, x, case)


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
    case = case_name(x, param)
    out, _, after = norm_forward(ctx, "batchnorm", x, gamma, beta, param, case)
    expected = ctx.expected("forward", lambda ref: reference_forward(ref, "batchnorm", x, gamma, beta, param))
    compare.tensor(out, expected["out"], f"out ({case})", dtype=x.dtype, **F64,
                   hint="test mode: x_hat = (x - running_mean) / sqrt(running_var + eps); no batch statistics.")  # fmt: skip
    for name in ("running_mean", "running_var"):
        compare.tensor(after.get(name), param[name], f"bn_param['{name}'] after the test-mode call ({case})",
                       **EXACT, hint="test mode must not update (or replace) the running statistics.")  # fmt: skip


def torch_batchnorm_steps(x_steps: list[torch.Tensor], gamma: torch.Tensor, beta: torch.Tensor,
                          momentum: float, eps: float) -> list[tuple[torch.Tensor, ...]]:  # fmt: skip
    """The oracle: torch.nn.functional.batch_norm over train steps, then one test step.

    PyTorch's momentum is the weight of the NEW value, the contract's that of the old one."""
    D = gamma.shape[0]
    mean, var = torch.zeros(D, dtype=gamma.dtype), torch.ones(D, dtype=gamma.dtype)
    results = []
    for step, x in enumerate(x_steps):
        training = step < len(x_steps) - 1
        out = torch.nn.functional.batch_norm(x, mean, var, gamma, beta, training, 1 - momentum, eps)
        results.append((out, mean.clone(), var.clone()))
    return results


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
    expected = torch_batchnorm_steps(xs, gamma, beta, momentum, eps)
    param: dict[str, Any] = {"momentum": momentum, "eps": eps}
    for step, (x, (want_out, want_mean, want_var)) in enumerate(zip(xs, expected, strict=True)):
        param["mode"] = "train" if step < len(xs) - 1 else "test"
        case = f"step {step + 1} of {len(xs)} ({param['mode']}), {case_name(x, param)} (seed {ctx.seed})"
        out, _, param = norm_forward(ctx, "batchnorm", x, gamma, beta, param, case)
        compare.tensor(out, want_out, f"out ({case})", dtype=x.dtype, hint=BN_TRAIN_HINT, **F64)
        for name, want in (("running_mean", want_mean), ("running_var", want_var)):
            compare.tensor(
                param.get(name), want, f"bn_param['{name}'] after {case}", hint=RUNNING_HINT, **F64
            )


# -- BatchNorm.backward and BatchNorm.backward_alt -------------------------------------------------
def dout_like(x: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(x.shape, generator=g, dtype=torch.float64).to(x.dtype)


def autograd_norm(kind: str, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float,
                  dout: torch.Tensor) -> tuple[torch.Tensor, ...]:  # fmt: skip
    """The oracle: (dx, dgamma, dbeta) by torch.autograd through torch's own normalization."""
    leaves = [t.clone().requires_grad_(True) for t in (x, gamma, beta)]
    if kind == "batchnorm":
        out = torch.nn.functional.batch_norm(leaves[0], None, None, leaves[1], leaves[2], True, 0.1, eps)
    else:
        out = torch.nn.functional.layer_norm(leaves[0], (x.shape[1],), leaves[1], leaves[2], eps)
    return torch.autograd.grad(out, leaves, dout)


def oracle_out(
    kind: str, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float
) -> torch.Tensor:
    """The train-mode output by torch.nn.functional (batch statistics, biased variance)."""
    if kind == "batchnorm":
        return torch.nn.functional.batch_norm(x, None, None, gamma, beta, True, 0.1, eps)
    return torch.nn.functional.layer_norm(x, (x.shape[1],), gamma, beta, eps)


def own_cache(ctx: Context, kind: str, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
              eps: float) -> tuple[Any, str]:  # fmt: skip
    """(cache, note): the cache of the student's own train-mode forward on these inputs when its out
    is right (note ''), else the documented cache and why it was used."""
    param = {"mode": "train", "eps": eps} if kind == "batchnorm" else {"eps": eps}
    try:
        out, cache, _ = norm_forward(
            ctx, kind, x, gamma, beta, param, "the forward giving backward its cache"
        )
        compare.tensor(out, oracle_out(kind, x, gamma, beta, eps), "out", dtype=x.dtype, **TOLERANCE[x.dtype])
        return cache, ""
    except (compare.CheckFailure, StudentError):
        return norm_cache(kind, x, gamma, eps), DOCUMENTED_CACHE_HINT


def backward_pair(ctx: Context, kind: str, target: str, dout: Any, inputs: tuple[torch.Tensor, ...],
                  eps: float, case: str) -> tuple[Any, str]:  # fmt: skip
    """(result, case): the student's ``layers.<target>`` given the cache of ``own_cache`` for
    ``inputs`` = (x, gamma, beta); the case names the documented cache when that was used."""
    cache, note = own_cache(ctx, kind, *inputs, eps)
    case = f"{case}; {note}" if note else case
    return call_on_cache(ctx, target, dout, cache, case, documented=bool(note)), case


def call_on_cache(ctx: Context, target: str, dout: Any, cache: Any, case: str, documented: bool) -> Any:
    """The student's ``layers.<target>(dout, cache)``; an exception on the documented cache (given
    because the forward is wrong) says so."""
    try:
        return ctx.student.call(f"layers.{target}", dout, cache)
    except StudentError as error:
        if not documented or error.type_name == "NotImplementedError":
            raise
        from grader.checks.engine import explain  # the runner imports the checks: import at call time

        raise compare.CheckFailure(f"{target} ({case}): with that cache {explain(error)}.") from None


def compare_backward(result: Any, expected: tuple[torch.Tensor, ...], dtype: torch.dtype, case: str) -> None:
    compare.structure(
        result, tuple, 3, f"value returned by backward ({case})", hint="return dx, dgamma, dbeta."
    )
    for got, want, name in zip(result, expected, ("dx", "dgamma", "dbeta"), strict=True):
        compare.tensor(got, want, f"{name} ({case})", dtype=dtype, hint=GRAD_HINT, **TOLERANCE[dtype],
                       shape_hint="dx has x's shape (N, D); dgamma and dbeta are (D,): sum over the examples.")  # fmt: skip


def run_backward(ctx: Context, kind: str, target: str, N: int, D: int, eps: float,
                 dtype: torch.dtype = torch.float64, key: str = "grads") -> None:  # fmt: skip
    """The student's ``target`` on the cache of the student's forward, against the stored reference."""
    seed = seed_of(ctx.check.name)
    x, (gamma, beta) = feature_batch(N, D, seed, dtype), affine(D, seed + 1, dtype)
    cache, dout = norm_cache(kind, x, gamma, eps), dout_like(x, seed + 2)
    case = f"{'' if dtype == torch.float64 else 'float32 '}x of shape ({N}, {D}), eps={eps:g}, train mode"
    result, case = backward_pair(ctx, kind, target, dout, (x, gamma, beta), eps, case)
    expected = ctx.expected(key, lambda ref: list(ref.resolve(f"layers.{target}")(dout, cache)))
    compare_backward(result, tuple(expected), dtype, case)


def run_backward_autograd(ctx: Context, kind: str, target: str) -> None:
    """Random sizes and eps: the student's ``target`` against autograd through torch's layer."""
    g = ctx.generator()
    N, D = (int(n) for n in torch.randint(2, 10, (2,), generator=g))
    eps = float(10 ** -float(torch.randint(1, 7, (), generator=g)))
    x = feature_batch(N, D, int(torch.randint(0, 2**31, (), generator=g)))
    gamma, beta = affine(D, int(torch.randint(0, 2**31, (), generator=g)))
    dout = dout_like(x, int(torch.randint(0, 2**31, (), generator=g)))
    case = f"x of shape ({N}, {D}), eps={eps:g}, train mode (seed {ctx.seed})"
    result, case = backward_pair(ctx, kind, target, dout, (x, gamma, beta), eps, case)
    compare_backward(result, autograd_norm(kind, x, gamma, beta, eps, dout), torch.float64, case)


@check(task="BatchNorm.backward", points=1)
def batchnorm_backward_reference(ctx: Context) -> None:
    """dx, dgamma, dbeta for the cache of a train-mode forward, N=10, D=4."""
    run_backward(ctx, "batchnorm", "BatchNorm.backward", 10, 4, eps=1e-5)


@check(task="BatchNorm.backward", points=1, randomized=True)
def batchnorm_backward_autograd(ctx: Context) -> None:
    """Random sizes and eps: dx, dgamma, dbeta match torch.autograd through F.batch_norm."""
    run_backward_autograd(ctx, "batchnorm", "BatchNorm.backward")


@check(task="BatchNorm.backward_alt", points=1)
def batchnorm_backward_alt_reference(ctx: Context) -> None:
    """dx, dgamma, dbeta from the closed form for the cache of a train-mode forward, N=9, D=5."""
    run_backward(ctx, "batchnorm", "BatchNorm.backward_alt", 9, 5, eps=1e-5)


@check(task="BatchNorm.backward_alt", points=1, randomized=True)
def batchnorm_backward_alt_autograd(ctx: Context) -> None:
    """Random sizes and eps: the closed form matches torch.autograd through F.batch_norm."""
    run_backward_autograd(ctx, "batchnorm", "BatchNorm.backward_alt")


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
        case = case_name(x, param)
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
    case = case_name(x, {"eps": eps}) + f" (seed {ctx.seed})"
    out, _, _ = norm_forward(ctx, "layernorm", x, gamma, beta, {"eps": eps}, case)
    want = torch.nn.functional.layer_norm(x, (D,), gamma, beta, eps)
    compare.tensor(out, want, f"out ({case})", dtype=x.dtype, hint=LN_HINT, **F64)


@check(task="LayerNorm.backward", points=1)
def layernorm_backward_reference(ctx: Context) -> None:
    """dx, dgamma, dbeta for the cache of a forward, N=5, D=8."""
    run_backward(ctx, "layernorm", "LayerNorm.backward", 5, 8, eps=1e-5)


@check(task="LayerNorm.backward", points=1, randomized=True)
def layernorm_backward_autograd(ctx: Context) -> None:
    """Random sizes and eps: dx, dgamma, dbeta match torch.autograd through F.layer_norm."""
    run_backward_autograd(ctx, "layernorm", "LayerNorm.backward")


# -- Linear_Norm_ReLU ---------------------------------------------------------------------------------
def sandwich_problem(input_shape: tuple[int, ...], M: int, seed: int, dtype: torch.dtype = torch.float64
                     ) -> tuple[torch.Tensor, ...]:  # fmt: skip
    """x, w, b, gamma, beta of a Linear_Norm_ReLU (pre-activations straddle 0)."""
    g = torch.Generator().manual_seed(seed)
    D = math.prod(input_shape[1:])
    x = torch.randn(input_shape, generator=g, dtype=torch.float64)
    w = torch.randn(D, M, generator=g, dtype=torch.float64) / math.sqrt(D)
    b = torch.randn(M, generator=g, dtype=torch.float64)
    gamma, beta = affine(M, seed + 1)
    return tuple(t.to(dtype) for t in (x, w, b, gamma, beta))


SANDWICH_HINT = (
    "a = Linear.forward(x, w, b); the normalization's forward(a, gamma, beta, norm_param); then ReLU.forward."
)


def run_sandwich_forward(ctx: Context, kind: str, input_shape: tuple[int, ...], M: int,
                         param: dict[str, Any], dtype: torch.dtype = torch.float64) -> None:  # fmt: skip
    """out of the student's Linear_Norm_ReLU.forward (reference layers inside; the cache is private)."""
    x, w, b, gamma, beta = sandwich_problem(input_shape, M, seed_of(ctx.check.name), dtype)
    case = f"{kind}, {case_name(x, param)}, M={M}"
    result = ctx.student.call("layers.Linear_Norm_ReLU.forward", x, w, b, gamma, beta, dict(param), kind)
    expected = ctx.expected(
        "forward", lambda ref: ref.layers.Linear_Norm_ReLU.forward(x, w, b, gamma, beta, dict(param), kind)[0]
    )
    compare.structure(result, tuple, 2, f"value returned by forward ({case})", hint="return out, cache.")
    compare.tensor(result[0], expected, f"out ({case})", dtype=dtype, hint=SANDWICH_HINT, **TOLERANCE[dtype])


def own_sandwich_cache(ctx: Context, kind: str, inputs: tuple[torch.Tensor, ...]) -> tuple[Any, str]:
    """(cache, note): the cache of the student's own train-mode Linear_Norm_ReLU.forward on
    ``inputs`` = (x, w, b, gamma, beta) when its out is right, else the documented cache and why."""
    x, w, b, gamma, beta = inputs
    param = {"mode": "train"} if kind == "batchnorm" else {}
    want = oracle_out(kind, x.reshape(x.shape[0], -1) @ w + b, gamma, beta, 1e-5).clamp(min=0)
    try:
        result = ctx.student.call("layers.Linear_Norm_ReLU.forward", *inputs, param, kind)
        compare.structure(result, tuple, 2, "Linear_Norm_ReLU.forward")
        compare.tensor(result[0], want, "out", dtype=x.dtype, **TOLERANCE[x.dtype])
        return result[1], ""
    except (compare.CheckFailure, StudentError):
        note = (
            "your forward's output is wrong, so your backward was given the documented cache "
            "(normalization, linear_cache, norm_cache, relu_cache); fix the forward first"
        )
        return sandwich_cache(kind, *inputs), note


def run_sandwich_backward(ctx: Context, kind: str, input_shape: tuple[int, ...], M: int,
                          dtype: torch.dtype = torch.float64) -> None:  # fmt: skip
    """The student's Linear_Norm_ReLU.backward on the cache of the student's own forward (the pair)."""
    seed = seed_of(ctx.check.name)
    inputs = sandwich_problem(input_shape, M, seed, dtype)
    sandwich = sandwich_cache(kind, *inputs)
    upstream = dout_like(torch.empty(input_shape[0], M, dtype=dtype), seed + 2)
    case = f"{kind}, x of shape {tuple(input_shape)}, M={M}, train mode"
    cache, note = own_sandwich_cache(ctx, kind, inputs)
    case = f"{case}; {note}" if note else case
    result = call_on_cache(ctx, "Linear_Norm_ReLU.backward", upstream, cache, case, documented=bool(note))
    expected = ctx.expected(
        "grads", lambda ref: list(ref.layers.Linear_Norm_ReLU.backward(upstream, sandwich))
    )
    compare.structure(result, tuple, 5, f"value returned by backward ({case})",
                      hint="return the five gradients in the documented order (x, w, b, gamma, beta).")  # fmt: skip
    for got, want, name in zip(result, expected, ("dx", "dw", "db", "dgamma", "dbeta"), strict=True):
        compare.tensor(got, want, f"{name} ({case})", dtype=dtype, **TOLERANCE[dtype],
                       hint="backward in reverse order: ReLU.backward, the normalization's backward, "
                       "Linear.backward; dx has x's shape.")  # fmt: skip


def sandwich_cache(kind: str, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, gamma: torch.Tensor,
                   beta: torch.Tensor, eps: float = 1e-5) -> tuple[Any, ...]:  # fmt: skip
    """The documented cache of a train-mode Linear_Norm_ReLU.forward, built here from plain operations:
    (normalization, (x, w, b), norm cache, ReLU input)."""
    a = x.reshape(x.shape[0], -1) @ w + b
    norm = norm_cache(kind, a, gamma, eps)
    return (kind, (x, w, b), norm, gamma * norm[1] + beta)


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
def seeded_weights(
    dims: list[int], weight_scale: float, seed: int, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """The documented seeded draw W1, W2, ... in order, computed on the grading machine (never stored:
    torch.randn differs between CPU kernels in the last bits; the child runs the same kernels)."""
    g = torch.Generator().manual_seed(seed)
    return {
        f"W{i}": torch.randn((dims[i - 1], dims[i]), generator=g, dtype=dtype) * weight_scale
        for i in range(1, len(dims))
    }


INIT_HINT = (
    "with normalization every HIDDEN layer i = 1 .. L-1 gets gamma{i} = ones and beta{i} = zeros of "
    "size dims[i]; the output layer has none."
)


def run_init(ctx: Context, hidden: list[int], input_dim: int, classes: int, normalization: str | None,
             dtype: torch.dtype) -> None:  # fmt: skip
    """The student's constructor with a seed: weights, biases, gamma and beta against the contract."""
    kwargs = dict(input_dim=input_dim, num_classes=classes, weight_scale=0.2, seed=5, dtype=dtype)
    case = f"FullyConnectedNet({hidden}, input_dim={input_dim}, num_classes={classes}, normalization={normalization!r})"
    model = ctx.student.call("fc_net.FullyConnectedNet", list(hidden), **kwargs, normalization=normalization)
    compare.that(isinstance(model, Handle), case, f"the constructor returned {compare.describe(model)}.")
    params = ctx.student.get(model, "params")
    compare.structure(params, dict, None, f"params ({case})")
    dims = [input_dim, *hidden, classes]
    expected = seeded_weights(dims, 0.2, 5, dtype)
    for i in range(1, len(dims)):
        expected[f"b{i}"] = torch.zeros(dims[i], dtype=dtype)
        if normalization is not None and i < len(dims) - 1:
            expected[f"gamma{i}"] = torch.ones(dims[i], dtype=dtype)
            expected[f"beta{i}"] = torch.zeros(dims[i], dtype=dtype)
    compare.keys(params, set(expected), f"params ({case})", hint=INIT_HINT)
    for key in sorted(expected):
        # float32 weights: torch.randn(..) * weight_scale in either order of the two factors.
        tolerance = EXACT if not key.startswith("W") else dict(atol=1e-7, rtol=1e-6)
        compare.tensor(params[key], expected[key], f"params['{key}'] ({case})", dtype=dtype, hint=INIT_HINT,
                       **tolerance)  # fmt: skip


@check(task="FullyConnectedNet.__init__", points=1)
def norm_net_init_batchnorm(ctx: Context) -> None:
    """normalization='batchnorm', two hidden layers: gamma1, gamma2 ones, beta1, beta2 zeros, none
    for the output layer; the seeded weights are the same as without normalization."""
    run_init(ctx, [6, 5], 4, 3, "batchnorm", torch.float32)


@check(task="FullyConnectedNet.__init__", points=1)
def norm_net_init_layernorm(ctx: Context) -> None:
    """normalization='layernorm', three hidden layers, float64: gamma and beta for layers 1 to 3."""
    run_init(ctx, [4, 7, 3], 5, 2, "layernorm", torch.float64)


def net_problem(hidden: list[int], input_shape: tuple[int, ...], classes: int, normalization: str | None,
                seed: int, dtype: torch.dtype = torch.float64) -> tuple[dict[str, torch.Tensor], ...]:  # fmt: skip
    """Parameters (gamma, beta away from 1, 0), inputs X of shape (N, *dims) and labels."""
    g = torch.Generator().manual_seed(seed)
    dims = [math.prod(input_shape[1:]), *hidden, classes]
    params = {}
    for i in range(1, len(dims)):
        W = torch.randn(dims[i - 1], dims[i], generator=g, dtype=torch.float64) / math.sqrt(dims[i - 1])
        params[f"W{i}"] = W.to(dtype)
        params[f"b{i}"] = (0.1 * torch.randn(dims[i], generator=g, dtype=torch.float64)).to(dtype)
        if normalization is not None and i < len(dims) - 1:
            params[f"gamma{i}"], params[f"beta{i}"] = affine(dims[i], int(torch.randint(0, 2**31, (), generator=g)),
                                                             dtype)  # fmt: skip
    X = torch.randn(input_shape, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randint(0, classes, (input_shape[0],), generator=g)
    return params, X, y


def net_settings(hidden: list[int], input_dim: int, classes: int, normalization: str | None, dropout: float,
                 seed: int | None, reg: float) -> dict[str, Any]:  # fmt: skip
    return dict(hidden_dims=list(hidden), input_dim=input_dim, num_classes=classes, dropout=dropout, reg=reg,
                seed=seed, normalization=normalization)  # fmt: skip


def contract_attributes(settings: dict[str, Any], dtype: torch.dtype) -> dict[str, Any]:
    """The attributes the contract's ``__init__`` sets (for a model built without it)."""
    p, seed, normalization = settings["dropout"], settings["seed"], settings["normalization"]
    dropout_param: dict[str, Any] = {"mode": "train", "p": p}
    if seed is not None:
        dropout_param["seed"] = seed
    layers = len(settings["hidden_dims"]) + 1
    return {
        "hidden_dims": list(settings["hidden_dims"]), "input_dim": settings["input_dim"],
        "num_classes": settings["num_classes"], "num_layers": layers, "use_dropout": p > 0,
        "reg": settings["reg"], "weight_scale": 1e-2, "dtype": dtype, "device": "cpu",
        "dropout_param": dropout_param, "normalization": normalization,
        "norm_params": [{"mode": "train"} for _ in range(layers - 1)] if normalization else [],
    }  # fmt: skip


def student_norm_net(ctx: Context, settings: dict[str, Any], params: dict[str, torch.Tensor],
                     norm_params: list[dict[str, Any]] | None = None) -> Handle:  # fmt: skip
    """A FullyConnectedNet of the student's class holding ``params`` (and ``norm_params`` if given).

    The student's ``__init__`` runs when it works; when it raises (another task) the object is made
    without it and given the contract's attributes, so a loss check never pays for the constructor.
    """
    dtype = next(iter(params.values())).dtype
    try:
        model = ctx.student.call("fc_net.FullyConnectedNet", **settings, dtype=dtype)
    except StudentError:
        cls = ctx.student.call("fc_net.FullyConnectedNet.mro")[0]
        model = ctx.student.call("fc_net.FullyConnectedNet.__new__", cls)
        for name, value in contract_attributes(settings, dtype).items():
            ctx.student.set(model, name, value)
    ctx.student.set(model, "params", {k: v.clone() for k, v in params.items()})
    if norm_params is not None:
        ctx.student.set(model, "norm_params", [dict(p) for p in norm_params])
    return model


def reference_norm_net(ref: Any, settings: dict[str, Any], params: dict[str, torch.Tensor],
                       norm_params: list[dict[str, Any]] | None = None) -> Any:  # fmt: skip
    dtype = next(iter(params.values())).dtype
    model = ref.fc_net.FullyConnectedNet(**settings, dtype=dtype)
    model.params = {k: v.clone() for k, v in params.items()}
    if norm_params is not None:
        model.norm_params = [dict(p) for p in norm_params]
    return model


NET_HINT = (
    "every hidden layer is Linear_Norm_ReLU.forward(out, W, b, gamma, beta, self.norm_params[i - 1], "
    "self.normalization) (then Dropout if used); the output layer is a plain Linear; the L2 term "
    "covers the weights W only, not gamma or beta."
)


def net_case(settings: dict[str, Any], X: torch.Tensor) -> str:
    s = settings
    return (f"hidden_dims={s['hidden_dims']}, normalization={s['normalization']!r}, X of shape {tuple(X.shape)}, "
            f"dropout={s['dropout']:g}, seed={s['seed']}, reg={s['reg']:g}")  # fmt: skip


def param_order(name: str) -> tuple[int, str]:
    return int(name.lstrip("Wbgamet")), name


def compare_loss_and_grads(result: Any, expected: Any, dtype: torch.dtype, case: str) -> None:
    compare.structure(result, tuple, 2, f"value returned by loss(X, y) ({case})", hint="return loss, grads.")
    loss, grads = result
    want_loss, want_grads = expected
    tolerance = TOLERANCE[dtype]
    compare.tensor(loss, want_loss, f"loss ({case})", dtype=dtype, hint=NET_HINT,
                   shape_hint="the loss is a 0-dim tensor.", **tolerance)  # fmt: skip
    compare.structure(
        grads, dict, None, f"grads ({case})", hint="grads maps each key of params to its gradient."
    )
    compare.keys(grads, set(want_grads), f"grads ({case})",
                 hint="one gradient per parameter, gamma{i} and beta{i} included.")  # fmt: skip
    for name in sorted(want_grads, key=param_order):
        compare.tensor(grads[name], want_grads[name], f"grads['{name}'] ({case})", dtype=dtype, hint=NET_HINT,
                       **tolerance)  # fmt: skip


def run_net_train(ctx: Context, settings: dict[str, Any], input_shape: tuple[int, ...],
                  dtype: torch.dtype = torch.float64) -> None:  # fmt: skip
    """loss(X, y) of the student's net (reference layers) against the stored reference."""
    params, X, y = net_problem(settings["hidden_dims"], input_shape, settings["num_classes"],
                               settings["normalization"], seed_of(ctx.check.name), dtype)  # fmt: skip
    model = student_norm_net(ctx, settings, params)
    expected = ctx.expected(
        "loss_and_grads", lambda ref: reference_norm_net(ref, settings, params).loss(X, y)
    )
    compare_loss_and_grads(
        ctx.student.call_method(model, "loss", X, y), expected, dtype, net_case(settings, X)
    )


def run_net_test(ctx: Context, settings: dict[str, Any], input_shape: tuple[int, ...]) -> None:
    """loss(X) (test mode) with given running statistics in every norm_params dict."""
    hidden = settings["hidden_dims"]
    params, X, _ = net_problem(hidden, input_shape, settings["num_classes"], settings["normalization"],
                               seed_of(ctx.check.name))  # fmt: skip
    norm_params = [
        {"mode": "train", "momentum": 0.9, **running_stats(n, seed_of(ctx.check.name) + i)}
        for i, n in enumerate(hidden)
    ]
    model = student_norm_net(ctx, settings, params, norm_params)
    scores = ctx.student.call_method(model, "loss", X)
    expected = ctx.expected(
        "scores", lambda ref: reference_norm_net(ref, settings, params, norm_params).loss(X)
    )
    compare.tensor(
        scores, expected, f"scores ({net_case(settings, X)}, y=None, running statistics given)",
        dtype=torch.float64, **F64,
        hint="with y=None every layer is in test mode: pass each layer its own dict self.norm_params[i - 1] "
        "(loss sets its mode), so batchnorm normalises with the running statistics stored there.",
    )  # fmt: skip


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


def autograd_norm_net(params: dict[str, torch.Tensor], X: torch.Tensor, y: torch.Tensor, kind: str,
                      reg: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """The oracle: the same network written with torch.nn.functional and autograd."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    L = sum(1 for k in params if k.startswith("W"))
    out = X.reshape(X.shape[0], -1)
    for i in range(1, L):
        a = out @ leaves[f"W{i}"] + leaves[f"b{i}"]
        gamma, beta = leaves[f"gamma{i}"], leaves[f"beta{i}"]
        if kind == "batchnorm":
            a = torch.nn.functional.batch_norm(a, None, None, gamma, beta, True, 0.1, 1e-5)
        else:
            a = torch.nn.functional.layer_norm(a, (a.shape[1],), gamma, beta, 1e-5)
        out = torch.relu(a)
    scores = out @ leaves[f"W{L}"] + leaves[f"b{L}"]
    loss = torch.nn.functional.cross_entropy(scores, y)
    loss = loss + 0.5 * reg * sum((leaves[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
    names = list(leaves)
    grads = torch.autograd.grad(loss, [leaves[k] for k in names])
    return loss.detach(), dict(zip(names, grads, strict=True))


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
    params, X, y = net_problem(
        hidden, (N, D), C + 1, normalization, int(torch.randint(0, 2**31, (), generator=g))
    )
    model = student_norm_net(ctx, settings, params)
    result = ctx.student.call_method(model, "loss", X, y)
    expected = autograd_norm_net(params, X, y, normalization, reg)
    compare_loss_and_grads(
        result, expected, torch.float64, net_case(settings, X) + f" (check seed {ctx.seed})"
    )


# -- capstone: the configuration (its training runs at grading time, see the hidden checks) ---------
UPDATE_RULES = ("sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam", "adamw")
#: The training budget stated in get_capstone_config's docstring and in the notebook.
MAX_PARAMETERS = 100_000
MAX_HIDDEN_LAYERS = 4
MAX_EPOCHS = 20
BATCH_SIZES = (32, 512)
#: key -> (required, check of the value, what the value must be)
CONFIG_RULES: dict[str, tuple[bool, Any, str]] = {
    "hidden_dims": (True, lambda v: type(v) is list and 1 <= len(v) <= MAX_HIDDEN_LAYERS
                    and all(type(n) is int and 1 <= n <= 1024 for n in v),
                    f"a list of 1 to {MAX_HIDDEN_LAYERS} ints, each 1..1024"),
    "normalization": (False, lambda v: v in (None, "batchnorm", "layernorm"), "None, 'batchnorm' or 'layernorm'"),
    "dropout": (False, lambda v: _real(v) and 0 <= v <= 0.9, "a float in [0, 0.9]"),
    "reg": (False, lambda v: _real(v) and 0 <= v <= 1, "a float in [0, 1]"),
    "weight_scale": (True, lambda v: _real(v) and 0 < v <= 10, "a float in (0, 10]"),
    "update_rule": (True, lambda v: v in UPDATE_RULES, f"one of {', '.join(UPDATE_RULES)}"),
    "learning_rate": (True, lambda v: _real(v) and 0 < v <= 10, "a float in (0, 10]"),
    "lr_decay": (False, lambda v: _real(v) and 0 < v <= 1, "a float in (0, 1]"),
    "batch_size": (True, lambda v: type(v) is int and BATCH_SIZES[0] <= v <= BATCH_SIZES[1],
                   f"an int in {BATCH_SIZES[0]}..{BATCH_SIZES[1]}"),
    "num_epochs": (True, lambda v: type(v) is int and 1 <= v <= MAX_EPOCHS, f"an int in 1..{MAX_EPOCHS}"),
}  # fmt: skip
CONFIG_DEFAULTS = {"normalization": None, "dropout": 0.0, "reg": 0.0, "lr_decay": 1.0}
CAPSTONE_INPUT_DIM, CAPSTONE_CLASSES = 64, 10


def _real(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def parameter_count(hidden_dims: list[int], normalization: str | None) -> int:
    """Weights, biases and (with normalization) gamma and beta of the capstone network."""
    dims = [CAPSTONE_INPUT_DIM, *hidden_dims, CAPSTONE_CLASSES]
    count = sum(dims[i - 1] * dims[i] + dims[i] for i in range(1, len(dims)))
    return count + (2 * sum(hidden_dims) if normalization else 0)


def validated_config(config: Any) -> dict[str, Any]:
    """The configuration with defaults filled in; CheckFailure naming the first problem."""
    name = "get_capstone_config()"
    compare.structure(config, dict, None, name, hint="return a dict of plain values (see the docstring).")
    unknown = sorted(str(key) for key in config if key not in CONFIG_RULES)
    compare.that(not unknown, name, f"has unknown keys {unknown}.",
                 "only the documented keys are allowed; the grader measures the accuracy itself.")  # fmt: skip
    for key, (required, valid, what) in CONFIG_RULES.items():
        if key not in config:
            compare.that(not required, name, f"has no {key!r}.", f"{key!r} must be {what}.")
            continue
        compare.that(
            valid(config[key]), f"{name}[{key!r}]", f"is {config[key]!r}.", f"{key!r} must be {what}."
        )
    full = {**CONFIG_DEFAULTS, **config}
    count = parameter_count(full["hidden_dims"], full["normalization"])
    compare.that(count <= MAX_PARAMETERS, f"{name} network", f"has {count:,} parameters, over the budget of "
                 f"{MAX_PARAMETERS:,}.", "use fewer or narrower hidden layers.")  # fmt: skip
    return full


def student_config(ctx: Context) -> dict[str, Any]:
    return validated_config(ctx.student.call("fc_net.get_capstone_config"))


@check(task="get_capstone_config", points=1)
def capstone_config_valid(ctx: Context) -> None:
    """The configuration has the documented keys and types and fits the training budget (its accuracy
    is measured at grading time by training it with the reference implementation)."""
    student_config(ctx)
