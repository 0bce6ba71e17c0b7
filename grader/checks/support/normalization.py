"""Assignment 4's normalization layers as the checks see them: inputs, the student's forward and
backward (the pair is graded: backward gets the cache of the student's own forward, or the
documented layout built here when that forward's output is wrong), the Linear_Norm_ReLU sandwich
and the normalised network; shared by its public and hidden checks.

``BatchNorm.forward``'s running statistics are read back from the student's ``bn_param`` dict
after the call. The sandwich layer and the network run on the reference layers (no cascade); those
run in the grader on a copy of the dict they are given, so their updates of the running statistics
never reach the student's dicts: checks of these tasks give running statistics and test the
test-mode output instead of a train-then-test sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.registry import check
from grader.checks.support import models, oracles
from grader.checks.support.calls import (
    Cache,
    call_backward,
    compare_unchanged,
    documented,
    own_cache,
    with_note,
)
from grader.checks.support.inputs import affine, dout_like, layered_net_params, seed_of, seeded_weights
from grader.sandbox.protocol import Handle

Tensor = torch.Tensor

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
SANDWICH_HINT = (
    "a = Linear.forward(x, w, b); the normalization's forward(a, gamma, beta, norm_param); then ReLU.forward."
)
INIT_HINT = (
    "with normalization every HIDDEN layer i = 1 .. L-1 gets gamma{i} = ones and beta{i} = zeros of "
    "size dims[i]; the output layer has none."
)
NET_HINT = (
    "every hidden layer is Linear_Norm_ReLU.forward(out, W, b, gamma, beta, self.norm_params[i - 1], "
    "self.normalization) (then Dropout if used); the output layer is a plain Linear; the L2 term "
    "covers the weights W only, not gamma or beta."
)
NORM_TARGETS = {"batchnorm": "BatchNorm", "layernorm": "LayerNorm"}


# -- inputs ---------------------------------------------------------------------------------------


def feature_batch(N: int, D: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """x of shape (N, D) whose columns have different means (-2..2) and scales (0.5..3)."""
    g = torch.Generator().manual_seed(seed)
    means = 4 * torch.rand(D, generator=g, dtype=torch.float64) - 2
    scales = 0.5 + 2.5 * torch.rand(D, generator=g, dtype=torch.float64)
    return (torch.randn(N, D, generator=g, dtype=torch.float64) * scales + means).to(dtype)


def running_stats(D: int, seed: int, dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    """Given running statistics: running_mean (D,) and positive running_var (D,)."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(D, generator=g, dtype=torch.float64)
    var = 0.5 + torch.rand(D, generator=g, dtype=torch.float64)
    return {"running_mean": mean.to(dtype), "running_var": var.to(dtype)}


def norm_cache(kind: str, x: Tensor, gamma: Tensor, eps: float) -> tuple[Any, ...]:
    """The documented train-mode cache (x, x_hat, mu, var, gamma, eps), computed here."""
    dim = 0 if kind == "batchnorm" else 1
    mu = x.mean(dim=dim, keepdim=dim == 1)
    var = ((x - mu) ** 2).mean(dim=dim, keepdim=dim == 1)
    return (x, (x - mu) / torch.sqrt(var + eps), mu, var, gamma, eps)


def param_case(x: Tensor, param: dict[str, Any]) -> str:
    """How a forward case is named: x and the param dict (which may be empty)."""
    return compare.case(x=x, **param) if param else compare.case(x=x) + ", empty param dict"


# -- forward ----------------------------------------------------------------------------------------


def norm_forward(
    ctx: Context, kind: str, x: Any, gamma: Tensor, beta: Tensor, param: dict[str, Any], case: str
) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The student's ``<Norm>.forward``: (out, cache, the param dict as it is after the call)."""
    handle = ctx.student.keep(dict(param))
    result = ctx.student.call(f"layers.{NORM_TARGETS[kind]}.forward", x, gamma, beta, handle)
    compare.structure(result, tuple, 2, f"value returned by forward ({case})", hint="return out, cache.")
    out, cache = result
    after = ctx.student.read(handle)
    compare.structure(after, dict, None, f"param dict after the call ({case})")
    return out, cache, after


def reference_forward(
    ref: Any, kind: str, x: Tensor, gamma: Tensor, beta: Tensor, param: dict[str, Any]
) -> dict[str, Any]:
    """What the checks compare: out and (batchnorm) the running statistics (the cache is private)."""
    param = dict(param)
    out, _ = getattr(ref.layers, NORM_TARGETS[kind]).forward(x, gamma, beta, param)
    values = {"out": out}
    if kind == "batchnorm":
        values.update(running_mean=param["running_mean"], running_var=param["running_var"])
    return values


def compare_forward(
    kind: str, out: Any, after: dict[str, Any], expected: dict[str, Any], x: Tensor, case: str
) -> None:
    """out and, for batchnorm, the running statistics in the dict (the cache is private)."""
    tolerance = compare.tolerance(x.dtype)
    hint = BN_TRAIN_HINT if kind == "batchnorm" else LN_HINT
    compare.tensor(out, expected["out"], f"out ({case})", dtype=x.dtype, hint=hint, **tolerance)
    for name in ("running_mean", "running_var"):
        if name in expected:
            compare.that(name in after, f"bn_param after the call ({case})", f"has no {name!r}.",
                         "store the running statistics in bn_param (they are created on first use).")  # fmt: skip
            compare.tensor(after[name], expected[name], f"bn_param['{name}'] after the call ({case})",
                           dtype=x.dtype, hint=RUNNING_HINT, **tolerance)  # fmt: skip


def run_forward(
    ctx: Context, kind: str, x: Tensor, gamma: Tensor, beta: Tensor, param: dict[str, Any]
) -> None:
    """One forward call against the stored reference (key 'forward')."""
    case = param_case(x, param)
    out, _, after = norm_forward(ctx, kind, x, gamma, beta, param, case)
    expected = ctx.expected("forward", lambda ref: reference_forward(ref, kind, x, gamma, beta, param))
    compare_forward(kind, out, after, expected, x, case)


# -- backward ---------------------------------------------------------------------------------------


def own_norm_cache(ctx: Context, kind: str, x: Tensor, gamma: Tensor, beta: Tensor, eps: float) -> Cache:
    """The cache of the student's own train-mode forward on these inputs when its out is right, else
    the documented cache."""
    param = {"mode": "train", "eps": eps} if kind == "batchnorm" else {"eps": eps}
    return own_cache(
        ctx,
        lambda: norm_forward(ctx, kind, x, gamma, beta, param, "the forward giving backward its cache")[:2],
        lambda out: compare.tensor(out, oracles.norm_out(kind, x, gamma, beta, eps), "out", dtype=x.dtype,
                                   **compare.tolerance(x.dtype)),
        lambda: Cache(norm_cache(kind, x, gamma, eps),
                      documented(f"{NORM_TARGETS[kind]}.forward", " (x, x_hat, mu, var, gamma, eps)")),
    )  # fmt: skip


def backward_pair(ctx: Context, kind: str, target: str, dout: Any, inputs: tuple[Tensor, ...], eps: float,
                  case: str) -> tuple[Any, str]:  # fmt: skip
    """(result, case): the student's ``layers.<target>`` given the cache of :func:`own_norm_cache`
    for ``inputs`` = (x, gamma, beta); the case names the documented cache when that was used."""
    cache = own_norm_cache(ctx, kind, *inputs, eps)
    case = with_note(case, cache)
    return call_backward(ctx, target, dout, cache, case), case


def compare_backward(result: Any, expected: tuple[Tensor, ...], dtype: torch.dtype, case: str) -> None:
    """(dx, dgamma, dbeta) against ``expected`` within the tolerance of ``dtype``."""
    compare.structure(
        result, tuple, 3, f"value returned by backward ({case})", hint="return dx, dgamma, dbeta."
    )
    for got, want, name in zip(result, expected, ("dx", "dgamma", "dbeta"), strict=True):
        compare.tensor(got, want, f"{name} ({case})", dtype=dtype, hint=GRAD_HINT, **compare.tolerance(dtype),
                       shape_hint="dx has x's shape (N, D); dgamma and dbeta are (D,): sum over the examples.")  # fmt: skip


def run_backward(ctx: Context, target: str, N: int, D: int, dtype: torch.dtype = torch.float64,
                 dout_unchanged: bool = False) -> None:  # fmt: skip
    """The student's ``target`` (eps 1e-5) on the cache of the student's forward, against the stored
    reference (key 'grads'); with ``dout_unchanged`` dout must also be left as it was."""
    kind, eps, seed = target.partition(".")[0].lower(), 1e-5, seed_of(ctx.check.name)
    x, (gamma, beta) = feature_batch(N, D, seed, dtype), affine(D, seed + 1, dtype)
    cache, dout = norm_cache(kind, x, gamma, eps), dout_like(x, seed + 2)
    case = compare.case(x=x, eps=eps) + ", train mode"
    sent = ctx.student.keep(dout) if dout_unchanged else dout
    result, case = backward_pair(ctx, kind, target, sent, (x, gamma, beta), eps, case)
    if dout_unchanged:
        compare_unchanged(ctx, sent, dout, f"dout after the call ({case})",
                          "dout must not be modified in place: compute gamma * dout into a new tensor.")  # fmt: skip
    expected = ctx.expected("grads", lambda ref: list(ref.resolve(f"layers.{target}")(dout, cache)))
    compare_backward(result, tuple(expected), dtype, case)


def register_backward_check(
    module: str, target: str, kind: str, run: Callable[[Context], None], doc: str, randomized: bool = False
) -> None:
    """Register ``run`` as the check ``<target>_<kind>`` (``BatchNorm.backward_alt``: ``batchnorm_backward_alt_<kind>``) of
    task ``target``, worth 1 point, defined by the check module ``module`` (the caller's ``__name__``)."""
    run.__doc__ = doc
    name = f"{target.lower().replace('.', '_')}_{kind}"
    check(task=target, points=1, randomized=randomized, name=name, module=module)(run)


def run_backward_autograd(ctx: Context, target: str) -> None:
    """Random sizes and eps: the student's ``target`` against autograd through torch's layer."""
    kind, g = target.partition(".")[0].lower(), ctx.generator()
    N, D = (int(n) for n in torch.randint(2, 10, (2,), generator=g))
    eps = float(10 ** -float(torch.randint(1, 7, (), generator=g)))
    x = feature_batch(N, D, int(torch.randint(0, 2**31, (), generator=g)))
    gamma, beta = affine(D, int(torch.randint(0, 2**31, (), generator=g)))
    dout = dout_like(x, int(torch.randint(0, 2**31, (), generator=g)))
    case = compare.case(x=x, eps=eps) + f", train mode (seed {ctx.seed})"
    result, case = backward_pair(ctx, kind, target, dout, (x, gamma, beta), eps, case)
    compare_backward(result, oracles.norm_grads(kind, x, gamma, beta, eps, dout), torch.float64, case)


# -- Linear_Norm_ReLU ---------------------------------------------------------------------------------


def sandwich_problem(input_shape: tuple[int, ...], M: int, seed: int, dtype: torch.dtype = torch.float64
                     ) -> tuple[Tensor, ...]:  # fmt: skip
    """x, w, b, gamma, beta of a Linear_Norm_ReLU (pre-activations straddle 0)."""
    g = torch.Generator().manual_seed(seed)
    D = math.prod(input_shape[1:])
    x = torch.randn(input_shape, generator=g, dtype=torch.float64)
    w = torch.randn(D, M, generator=g, dtype=torch.float64) / math.sqrt(D)
    b = torch.randn(M, generator=g, dtype=torch.float64)
    gamma, beta = affine(M, seed + 1)
    return tuple(t.to(dtype) for t in (x, w, b, gamma, beta))


def sandwich_cache(kind: str, x: Tensor, w: Tensor, b: Tensor, gamma: Tensor, beta: Tensor,
                   eps: float = 1e-5) -> tuple[Any, ...]:  # fmt: skip
    """The documented cache of a train-mode Linear_Norm_ReLU.forward, built here from plain operations:
    (normalization, (x, w, b), norm cache, ReLU input)."""
    a = oracles.linear(x, w, b)
    norm = norm_cache(kind, a, gamma, eps)
    return (kind, (x, w, b), norm, gamma * norm[1] + beta)


def run_sandwich_forward(ctx: Context, kind: str, input_shape: tuple[int, ...], M: int,
                         param: dict[str, Any], dtype: torch.dtype = torch.float64) -> None:  # fmt: skip
    """out of the student's Linear_Norm_ReLU.forward (reference layers inside; the cache is private)."""
    x, w, b, gamma, beta = sandwich_problem(input_shape, M, seed_of(ctx.check.name), dtype)
    case = f"{kind}, {param_case(x, param)}, M={M}"
    result = ctx.student.call("layers.Linear_Norm_ReLU.forward", x, w, b, gamma, beta, dict(param), kind)
    expected = ctx.expected(
        "forward", lambda ref: ref.layers.Linear_Norm_ReLU.forward(x, w, b, gamma, beta, dict(param), kind)[0]
    )
    compare.structure(result, tuple, 2, f"value returned by forward ({case})", hint="return out, cache.")
    compare.tensor(
        result[0], expected, f"out ({case})", dtype=dtype, hint=SANDWICH_HINT, **compare.tolerance(dtype)
    )


def own_sandwich_cache(ctx: Context, kind: str, inputs: tuple[Tensor, ...]) -> Cache:
    """The cache of the student's own train-mode Linear_Norm_ReLU.forward on ``inputs`` = (x, w, b,
    gamma, beta) when its out is right, else the documented cache."""
    x, w, b, gamma, beta = inputs
    param = {"mode": "train"} if kind == "batchnorm" else {}
    want = oracles.norm_out(kind, oracles.linear(x, w, b), gamma, beta, 1e-5).clamp(min=0)
    return own_cache(
        ctx,
        lambda: ctx.student.call("layers.Linear_Norm_ReLU.forward", *inputs, param, kind),
        lambda out: compare.tensor(out, want, "out", dtype=x.dtype, **compare.tolerance(x.dtype)),
        lambda: Cache(sandwich_cache(kind, *inputs), documented(
            "Linear_Norm_ReLU.forward", " (normalization, linear_cache, norm_cache, relu_cache)")),
    )  # fmt: skip


def run_sandwich_backward(ctx: Context, kind: str, input_shape: tuple[int, ...], M: int,
                          dtype: torch.dtype = torch.float64) -> None:  # fmt: skip
    """The student's Linear_Norm_ReLU.backward on the cache of the student's own forward (the pair)."""
    seed = seed_of(ctx.check.name)
    inputs = sandwich_problem(input_shape, M, seed, dtype)
    sandwich = sandwich_cache(kind, *inputs)
    upstream = dout_like(torch.empty(input_shape[0], M, dtype=dtype), seed + 2)
    cache = own_sandwich_cache(ctx, kind, inputs)
    case = with_note(f"{kind}, {compare.case(x=inputs[0])}, M={M}, train mode", cache)
    result = call_backward(ctx, "Linear_Norm_ReLU.backward", upstream, cache, case)
    expected = ctx.expected(
        "grads", lambda ref: list(ref.layers.Linear_Norm_ReLU.backward(upstream, sandwich))
    )
    compare.structure(result, tuple, 5, f"value returned by backward ({case})",
                      hint="return the five gradients in the documented order (x, w, b, gamma, beta).")  # fmt: skip
    for got, want, name in zip(result, expected, ("dx", "dw", "db", "dgamma", "dbeta"), strict=True):
        compare.tensor(got, want, f"{name} ({case})", dtype=dtype, **compare.tolerance(dtype),
                       hint="backward in reverse order: ReLU.backward, the normalization's backward, "
                       "Linear.backward; dx has x's shape.")  # fmt: skip


# -- FullyConnectedNet with normalization -----------------------------------------------------------


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
        tolerance = compare.F32_SEEDED if key.startswith("W") else compare.EXACT
        compare.tensor(params[key], expected[key], f"params['{key}'] ({case})", dtype=dtype, hint=INIT_HINT,
                       **tolerance)  # fmt: skip


def net_settings(hidden: list[int], input_dim: int, classes: int, normalization: str | None, dropout: float,
                 seed: int | None, reg: float) -> dict[str, Any]:  # fmt: skip
    """The settings (constructor arguments) of a normalised FullyConnectedNet."""
    return dict(hidden_dims=list(hidden), input_dim=input_dim, num_classes=classes, dropout=dropout, reg=reg,
                seed=seed, normalization=normalization)  # fmt: skip


def net_case(settings: dict[str, Any], X: Tensor) -> str:
    """How a normalised network's case is named."""
    s = settings
    return compare.case(hidden_dims=s["hidden_dims"], normalization=s["normalization"], X=X,
                        dropout=s["dropout"], seed=s["seed"], reg=s["reg"])  # fmt: skip


def net_problem(settings: dict[str, Any], input_shape: tuple[int, ...], seed: int,
                dtype: torch.dtype = torch.float64) -> tuple[dict[str, Tensor], Tensor, Tensor]:  # fmt: skip
    """Parameters (gamma, beta away from 1, 0), inputs X of shape ``input_shape`` and labels."""
    hidden, classes, normalization = (
        settings["hidden_dims"],
        settings["num_classes"],
        settings["normalization"],
    )
    return layered_net_params(hidden, input_shape, classes, seed, normalization, dtype)


def run_net_train(ctx: Context, settings: dict[str, Any], input_shape: tuple[int, ...],
                  dtype: torch.dtype = torch.float64) -> None:  # fmt: skip
    """loss(X, y) of the student's net (reference layers) against the stored reference."""
    params, X, y = net_problem(settings, input_shape, seed_of(ctx.check.name), dtype)
    model = models.student_model(ctx, "FullyConnectedNet", settings, params)
    expected = ctx.expected(
        "loss_and_grads",
        lambda ref: models.reference_model(ref, "FullyConnectedNet", settings, params).loss(X, y),
    )
    result = ctx.student.call_method(model, "loss", X, y)
    models.compare_loss_and_grads(result, expected, net_case(settings, X), dtype, hint=NET_HINT)


def run_net_test(ctx: Context, settings: dict[str, Any], input_shape: tuple[int, ...]) -> None:
    """loss(X) (test mode) with given running statistics in every norm_params dict."""
    params, X, _ = net_problem(settings, input_shape, seed_of(ctx.check.name))
    norm_params = [
        {"mode": "train", "momentum": 0.9, **running_stats(n, seed_of(ctx.check.name) + i)}
        for i, n in enumerate(settings["hidden_dims"])
    ]
    model = models.student_model(ctx, "FullyConnectedNet", settings, params, norm_params=norm_params)
    scores = ctx.student.call_method(model, "loss", X)
    expected = ctx.expected(
        "scores",
        lambda ref: models.reference_model(ref, "FullyConnectedNet", settings, params, norm_params).loss(X),
    )
    compare.tensor(
        scores, expected, f"scores ({net_case(settings, X)}, y=None, running statistics given)",
        dtype=torch.float64, **compare.F64,
        hint="with y=None every layer is in test mode: pass each layer its own dict self.norm_params[i - 1] "
        "(loss sets its mode), so batchnorm normalises with the running statistics stored there.",
    )  # fmt: skip


def net_oracle(params: dict[str, Tensor], X: Tensor, y: Tensor, kind: str, reg: float):
    """(loss, grads) of the normalised network written with torch.nn.functional and autograd."""

    def norm_relu(i: int, a: Tensor, leaves: dict[str, Tensor]) -> Tensor:
        return torch.relu(oracles.norm_out(kind, a, leaves[f"gamma{i}"], leaves[f"beta{i}"], 1e-5))

    return oracles.net_loss(params, X, y, reg, norm_relu)
