"""Public checks of assignment 1 (fully-connected networks). Students see these.

Fixed-input checks compare with stored outputs of the reference solution; randomized checks
(``randomized=True``) draw their inputs from ``ctx.generator()`` and compare with an independent
oracle computed here (torch.autograd of the equivalent expression, or a direct formula).
The helpers at the top are shared with ``grader/checks/hidden/a1_fully_connected.py``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.functional import cross_entropy

from grader.checks import compare
from grader.checks.compare import CheckFailure
from grader.checks.context import Context
from grader.checks.registry import check
from grader.sandbox.protocol import Handle
from grader.sandbox.session import StudentError

Tensor = torch.Tensor

#: float64 inputs against an exact reference: only rounding differences remain.
F64 = dict(atol=1e-10, rtol=1e-8)
#: float32 inputs: a student may sum in another order than the reference; float32 rounding
#: (eps 1.2e-7) accumulated over a few dozen terms stays well below these bounds.
F32 = dict(atol=1e-5, rtol=1e-4)
#: Values that must come back bit for bit (inputs returned in a cache, seeded initialisation).
EXACT = dict(atol=0.0, rtol=0.0)


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return F64 if dtype == torch.float64 else F32


# --------------------------------------------------------------------------------------------
# Deterministic inputs
# --------------------------------------------------------------------------------------------


def _linear_inputs(
    shape: tuple[int, ...], outputs: int, seed: int, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    w = torch.randn(x[0].numel(), outputs, generator=g, dtype=torch.float64)
    b = torch.randn(outputs, generator=g, dtype=torch.float64)
    return x.to(dtype), w.to(dtype), b.to(dtype)


def _generator(seed: int | torch.Generator) -> torch.Generator:
    """``seed`` itself if it is a generator (to continue its stream), else a fresh seeded one."""
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)


def _randn(shape: Sequence[int], seed: int | torch.Generator, dtype=torch.float64, scale=1.0) -> Tensor:
    g = _generator(seed)
    return (torch.randn(tuple(shape), generator=g, dtype=torch.float64) * scale).to(dtype)


def _integers(shape: Sequence[int], seed: int | torch.Generator, low: int, high: int, dtype=torch.float64):
    """Integer-valued floats in [low, high]: sums are exact, so ties at exactly 0 are certain."""
    g = _generator(seed)
    return torch.randint(low, high + 1, tuple(shape), generator=g).to(dtype)


def _with_zeros(x: Tensor, g: torch.Generator, fraction: float = 0.25) -> Tensor:
    """``x`` with about ``fraction`` of its entries set to exactly 0 (ReLU ties)."""
    zero = torch.rand(x.shape, generator=g, dtype=torch.float64) < fraction
    return x.masked_fill(zero, 0.0)


def _labels(n: int, classes: int, seed: int | torch.Generator) -> Tensor:
    g = _generator(seed)
    return torch.randint(0, classes, (n,), generator=g, dtype=torch.int64)


def _draw(g: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


def _random_batch_shapes(g: torch.Generator) -> list[tuple[int, ...]]:
    """Two input shapes: a matrix (N >= 2, D) and a k-dimensional batch (N, d1, ..., dk), k >= 2."""
    flat = (_draw(g, 2, 6), _draw(g, 1, 7))
    images = (_draw(g, 1, 4), *(_draw(g, 1, 4) for _ in range(_draw(g, 2, 3))))
    return [flat, images]


def _case(**tensors: Any) -> str:
    """Describes an input case for messages: ``x: (4, 2, 3) float32, reg=0.5``."""
    parts = []
    for name, value in tensors.items():
        if isinstance(value, Tensor):
            kind = "" if value.dtype in (torch.float64, torch.int64) else f" {str(value.dtype)[6:]}"
            parts.append(f"{name}: {tuple(value.shape)}{kind}")
        else:
            parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Oracles (independent of the reference implementation)
# --------------------------------------------------------------------------------------------


def _autograd(function: Callable[..., Tensor], inputs: Sequence[Tensor], dout: Tensor | None = None):
    """``function(*inputs)`` and the gradients of ``sum(out * dout)`` (or of the scalar out)."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = function(*leaves)
    target = out if dout is None else (out * dout).sum()
    grads = torch.autograd.grad(target, leaves)
    return out.detach(), tuple(g.detach() for g in grads)


def _linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1) @ w + b


def _linear_relu(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return torch.relu(_linear(x, w, b))


def _svm(x: Tensor, y: Tensor) -> Tensor:
    """Hinge loss; torch.relu has gradient 0 at exactly 0, as the contract asks."""
    others = torch.ones_like(x).scatter_(1, y[:, None], 0.0)
    margins = torch.relu(x - x.gather(1, y[:, None]) + 1) * others
    return margins.sum() / x.shape[0]


def _net_oracle(params: dict[str, Tensor], X: Tensor, y: Tensor | None, reg: float):
    """Scores, or (loss, grads), of Linear-ReLU-...-Linear-softmax with L2 on the weights."""
    layers = len(params) // 2
    names = sorted(params)

    def loss_of(*values: Tensor) -> Tensor:
        p = dict(zip(names, values, strict=True))
        h = X.reshape(X.shape[0], -1)
        for i in range(1, layers + 1):
            h = h @ p[f"W{i}"] + p[f"b{i}"]
            if i < layers:
                h = torch.relu(h)
        if y is None:
            return h
        l2 = sum((p[f"W{i}"] ** 2).sum() for i in range(1, layers + 1))
        return cross_entropy(h, y) + 0.5 * reg * l2

    if y is None:
        return loss_of(*(params[n] for n in names)).detach()
    loss, grads = _autograd(loss_of, [params[n] for n in names])
    return loss, dict(zip(names, grads, strict=True))


# --------------------------------------------------------------------------------------------
# Comparing outputs, with hints that name the usual cause
# --------------------------------------------------------------------------------------------

#: name -> (hint for wrong values, hint for a wrong shape)
HINTS: dict[str, tuple[str, str]] = {
    "out": (
        "each example is flattened (row-major) to a vector of D entries; the affine map with w and b "
        "then gives one row of out.",
        "out is (N, M): flatten each example to D entries first.",
    ),
    "dx": (
        "dx is dout sent back through the weights (the transpose of the forward map), in x's shape.",
        "dx has x's shape (N, d1, ..., dk): undo the flattening.",
    ),
    "dw": (
        "dw relates every input feature (of the flattened x) to every output gradient, summed over "
        "the batch.",
        "dw has w's shape (D, M); check the order of the two factors.",
    ),
    "db": ("b is added to every example, so db sums dout over the batch.", "db has b's shape (M,)."),
    "relu": ("ReLU keeps the positive entries and replaces the others by 0.", "ReLU keeps the shape of x."),
    "relu_dx": (
        "the gradient passes only where x > 0; it is 0 where x <= 0, including x == 0 exactly.",
        "dx has the shape of x.",
    ),
    "linear_relu": ("the sandwich is the Linear layer followed by the ReLU.", "out is (N, M)."),
    "softmax_loss": (
        "the loss is the batch average of -log(probability of the correct class); subtract each row's "
        "max and use log-sum-exp for stability.",
        "loss is a 0-dim tensor: no .item(), no keepdim.",
    ),
    "softmax_dx": (
        "the gradient is the predicted probabilities, minus 1 at the correct class, averaged over the batch.",
        "dx has the shape of x (N, C).",
    ),
    "svm_loss": (
        "the loss is the batch average of the sum over wrong classes j of max(0, x[i, j] - x[i, y[i]] + 1).",
        "loss is a 0-dim tensor: no .item(), no keepdim.",
    ),
    "svm_dx": (
        "every wrong class with a positive margin (exactly 0 counts as 0) gets +1/N; the correct class "
        "gets -1/N for each of them.",
        "dx has the shape of x (N, C).",
    ),
}


def _diagnose(actual: Any, variants: Sequence[tuple[Tensor, str]], default: str) -> str:
    """The hint of the first known-wrong variant that ``actual`` reproduces, else ``default``."""
    if type(actual) is not Tensor or not actual.dtype.is_floating_point:
        return default
    # Only chooses a hint, so it may be looser than the check itself (float32: rounding).
    rtol, atol = (1e-6, 1e-9) if actual.dtype == torch.float64 else (1e-4, 1e-6)
    for value, hint in variants:
        if actual.shape == value.shape and torch.allclose(
            actual.double(), value.double(), rtol=rtol, atol=atol
        ):
            return hint
    return default


def _compare(
    actual: Any,
    expected: Tensor,
    name: str,
    case: str,
    *,
    dtype: torch.dtype | None,
    hint: str | None = None,
    kind: str | None = None,
    tol: dict[str, float] | None = None,
) -> None:
    """``compare.tensor`` with the case in the name and the hints of ``HINTS[kind or name]``."""
    default, shape_hint = HINTS.get(kind or name, (None, None))
    compare.tensor(
        actual,
        expected,
        f"{name} ({case})",
        dtype=dtype,
        hint=hint or default,
        shape_hint=shape_hint,
        **(tol or _tol(expected.dtype)),
    )


def _unpack(result: Any, count: int, what: str, case: str, hint: str) -> tuple[Any, ...]:
    compare.structure(result, tuple, count, f"{what} ({case})", hint=hint)
    return result


# --------------------------------------------------------------------------------------------
# Talking to the child: kept tensors (in-place detection), models holding given parameters
# --------------------------------------------------------------------------------------------


def _call_keeping_inputs(ctx: Context, target: str, named: Sequence[tuple[str, Any]], case: str) -> Any:
    """Call ``target`` with child-side copies of the tensor arguments (also inside tuples, lists
    and dicts, e.g. a cache), then fail unless every one still holds the value that was sent,
    naming the first one that changed."""
    shared: list[tuple[str, Handle, Tensor]] = []

    def prepare(name: str, value: Any) -> Any:
        if isinstance(value, Tensor):
            handle = ctx.student.keep(value)
            shared.append((name, handle, value))
            return handle
        if type(value) in (tuple, list):
            return type(value)(prepare(f"{name}[{i}]", item) for i, item in enumerate(value))
        if type(value) is dict:
            return {key: prepare(f"{name}[{key!r}]", item) for key, item in value.items()}
        return value

    args = [prepare(name, value) for name, value in named]
    result = ctx.student.call(target, *args)
    for name, handle, sent in shared:
        after = ctx.student.read(handle)
        compare.tensor(
            after,
            sent,
            f"{name} after {target.removeprefix('layers.')}({case})",
            dtype=sent.dtype,
            **EXACT,
            hint="inputs must not be modified in place (x[x < 0] = 0, x -= ..., dout *= ..., "
            "clamp_, masked_fill_, resize_ ...): compute new tensors instead.",
            shape_hint="inputs must not be reshaped in place (resize_): use x.reshape(...) instead.",
        )
    return result


def _invoke(ctx: Context, target: str, named: Sequence[tuple[str, Any]], case: str, keep_inputs: bool) -> Any:
    """Call the student's ``target``; with ``keep_inputs`` also check that no input changed."""
    if keep_inputs:
        return _call_keeping_inputs(ctx, target, named, case)
    return ctx.student.call(target, *(value for _, value in named))


def _model_attrs(cls: str, dims: Sequence[int], reg: float) -> dict[str, Any]:
    """Plain attributes that ``cls.__init__`` would set for layer sizes ``dims`` (D, ..., C)."""
    attrs: dict[str, Any] = {
        "input_dim": dims[0],
        "num_classes": dims[-1],
        "reg": reg,
        "weight_scale": 1e-2,
        "device": "cpu",
    }
    if cls == "TwoLayerNet":
        attrs["hidden_dim"] = dims[1]
    else:
        attrs.update(
            hidden_dims=list(dims[1:-1]),
            num_layers=len(dims) - 1,
            use_dropout=False,
            dropout_param={"mode": "train", "p": 0.0},
        )
    return attrs


def _student_model(ctx: Context, cls: str, dims: Sequence[int], params: dict[str, Tensor], reg: float):
    """A ``fc_net.<cls>`` in the child holding ``params``, for checking ``loss`` on its own.

    The student's ``__init__`` runs first when it works (their ``loss`` may rely on extra
    attributes it sets); when it raises (not implemented yet, or a bug of that other task) the
    object is made without it. Either way the attributes the contract's ``__init__`` sets are then
    set to their correct values, so an initialisation bug never costs points here.
    """
    dtype = next(iter(params.values())).dtype
    attrs = {**_model_attrs(cls, dims, reg), "dtype": dtype}
    hidden = {"hidden_dim": dims[1]} if cls == "TwoLayerNet" else {"hidden_dims": list(dims[1:-1])}
    try:
        model = ctx.student.call(
            f"fc_net.{cls}", input_dim=dims[0], num_classes=dims[-1], reg=reg, dtype=dtype, **hidden
        )
        compare.that(isinstance(model, Handle), cls, f"the constructor returned {compare.describe(model)}.")
    except StudentError:
        klass = ctx.student.call(f"fc_net.{cls}.mro")[0]
        model = ctx.student.call(f"fc_net.{cls}.__new__", klass)
    for name, value in {**attrs, "params": dict(params)}.items():
        ctx.student.set(model, name, value)
    return model


def _reference_model(ref: Any, cls: str, dims: Sequence[int], params: dict[str, Tensor], reg: float):
    """The reference counterpart of :func:`_student_model`."""
    klass = getattr(ref.fc_net, cls)
    model = klass.__new__(klass)
    for name, value in _model_attrs(cls, dims, reg).items():
        setattr(model, name, value)
    model.dtype = next(iter(params.values())).dtype
    model.params = dict(params)
    return model


def _net_params(dims: Sequence[int], seed: int | torch.Generator, dtype=torch.float64) -> dict[str, Tensor]:
    """Weights ~ N(0, 1/fan_in) (about half the ReLUs active) and NON-zero biases."""
    g = _generator(seed)
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = _randn((dims[i - 1], dims[i]), g, dtype, scale=dims[i - 1] ** -0.5)
        params[f"b{i}"] = _randn((dims[i],), g, dtype, scale=0.5)
    return params


def _model_loss_hints(params: dict[str, Tensor], expected: tuple[Tensor, dict[str, Tensor]], reg: float):
    """Known-wrong variants of the loss and of each gradient, with the hint each one earns."""
    loss, grads = expected
    weights = [k for k in params if k.startswith("W")]
    l2 = 0.5 * reg * sum((params[k].double() ** 2).sum() for k in weights)
    bias_l2 = 0.5 * reg * sum((params[k].double() ** 2).sum() for k in params if k.startswith("b"))
    loss64 = loss.double()
    loss_variants = []
    if reg > 0:
        loss_variants = [
            (loss64 - l2, "the L2 term is missing: add 0.5 * reg * sum(W ** 2) for every weight matrix."),
            (loss64 + l2, "the L2 term is 0.5 * reg * sum(W ** 2): did you drop the factor 0.5?"),
            (loss64 + bias_l2, "biases are not regularised: only W1, W2, ... enter the L2 term."),
            (loss64 + bias_l2 + l2, "the L2 term is 0.5 * reg * sum(W ** 2) over the weights only."),
        ]
    grad_variants: dict[str, list[tuple[Tensor, str]]] = {}
    for key, grad in grads.items():
        p = params[key].double()
        if key.startswith("W") and reg > 0:
            grad_variants[key] = [
                (grad.double() - reg * p, "add reg * W to each weight gradient."),
                (
                    grad.double() + reg * p,
                    "the gradient of 0.5 * reg * sum(W ** 2) is reg * W, not 2 * reg * W.",
                ),
            ]
        elif reg > 0:
            grad_variants[key] = [(grad.double() + reg * p, "biases are not regularised: no reg term in db.")]
    return loss_variants, grad_variants


def _check_model_loss(
    ctx: Context,
    cls: str,
    dims: Sequence[int],
    params: dict[str, Tensor],
    X: Tensor,
    y: Tensor | None,
    reg: float,
    expected: Any,
    sent: Any = None,
) -> None:
    """Run the student's ``cls.loss`` on a model holding ``params``; compare the scores (y None) or
    (loss, grads) with ``expected``, naming the usual cause of a difference. ``sent``: what the
    child receives as X when not X itself (a child-side view of it)."""
    case = (
        _case(X=X, reg=reg)
        if cls == "TwoLayerNet"
        else f"hidden_dims={list(dims[1:-1])}, {_case(X=X, reg=reg)}"
    )
    model = _student_model(ctx, cls, dims, params, reg)
    dtype = X.dtype
    if y is None:
        scores = ctx.student.call_method(model, "loss", X if sent is None else sent)
        _compare(
            scores,
            expected,
            "scores",
            case,
            dtype=dtype,
            hint="with y=None return the (N, C) scores of the last Linear layer (no ReLU after it, no "
            "softmax), not (loss, grads).",
        )
        return
    result = ctx.student.call_method(model, "loss", X if sent is None else sent, y)
    loss, grads = _unpack(result, 2, "loss(X, y)", case, "with labels return the tuple (loss, grads).")
    loss_variants, grad_variants = _model_loss_hints(params, expected, reg)
    default = "loss = softmax_loss(scores, y)[0] + 0.5 * reg * (sum of squared entries of every W)."
    _compare(loss, expected[0], "loss", case, dtype=dtype, hint=_diagnose(loss, loss_variants, default))
    compare.structure(grads, dict, None, f"grads ({case})", hint="grads is a dict with the keys of params.")
    compare.keys(grads, set(params), f"grads ({case})", hint="one gradient per parameter, same names.")
    for key in sorted(params, key=lambda k: (int(k[1:]), k[0])):
        default = (
            "backpropagate dscores through the layers in reverse order, then add reg * W."
            if key.startswith("W")
            else "db sums the upstream gradient over the batch; biases get no reg term."
        )
        hint = _diagnose(grads[key], grad_variants.get(key, []), default)
        _compare(grads[key], expected[1][key], f"grads['{key}']", case, dtype=dtype, hint=hint)


def _expected_model_loss(ctx: Context, cls: str, dims, params, X, y, reg) -> Any:
    """Stored reference output of ``cls.loss`` for these fixed inputs."""
    if y is None:
        return ctx.expected("scores", lambda ref: _reference_model(ref, cls, dims, params, reg).loss(X))
    return ctx.expected("loss", lambda ref: _reference_model(ref, cls, dims, params, reg).loss(X, y))


# --------------------------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------------------------


def _check_param_layout(params: Any, dims: Sequence[int], dtype: torch.dtype, case: str) -> None:
    """Keys W1..WL, b1..bL; Wi (dims[i-1], dims[i]), bi (dims[i],) exactly zero; all of ``dtype``."""
    layers = len(dims) - 1
    compare.structure(params, dict, None, f"params ({case})", hint="self.params is a dict name -> tensor.")
    keys = {f"{p}{i}" for p in "Wb" for i in range(1, layers + 1)}
    compare.keys(
        params,
        keys,
        f"params ({case})",
        hint=f"{layers} layer(s) (len(hidden_dims) + 1): "
        + ("W1 and b1." if layers == 1 else f"W1..W{layers} and b1..b{layers}."),
    )
    for i in range(1, layers + 1):
        weight, shape = params[f"W{i}"], (dims[i - 1], dims[i])
        name = f"params['W{i}'] ({case})"
        compare.that(type(weight) is Tensor, name, f"expected a tensor, got {compare.describe(weight)}.")
        compare.that(
            tuple(weight.shape) == shape,
            name,
            f"shape {tuple(weight.shape)}, expected {shape}.",
            hint=f"W{i} maps layer {i - 1} to layer {i}: (dims[{i - 1}], dims[{i}]) with dims = "
            "[input_dim, *hidden_dims, num_classes].",
        )
        compare.that(
            weight.dtype == dtype,
            name,
            f"dtype {weight.dtype}, expected {dtype}.",
            hint="create the weights with dtype=dtype (and device=device).",
        )
        compare.tensor(
            params[f"b{i}"],
            torch.zeros(dims[i], dtype=dtype),
            f"params['b{i}'] ({case})",
            dtype=dtype,
            **EXACT,
            hint="biases start at exactly zero, with the model's dtype and device.",
        )


def _check_normal(weight: Tensor, scale: float, name: str) -> None:
    """Mean, standard deviation and kurtosis of ``weight`` fit N(0, scale ** 2).

    Bounds are 6 standard errors of each estimate, so a correct init fails with probability
    < 1e-8 per statistic; on the matrices used here (>= 50,000 entries) a wrong scale, a
    missing scale or a uniform distribution is far outside them.
    """
    w = weight.double().flatten()
    n = w.numel()
    mean, std = float(w.mean()), float(w.std())
    hint = "weights ~ N(0, weight_scale ** 2): standard normal numbers times weight_scale, in dtype and on device."
    compare.that(
        math.isfinite(std) and abs(mean) <= 6 * scale / math.sqrt(n),
        name,
        f"mean {mean:.3g}, expected 0 (N(0, weight_scale ** 2)).",
        hint="use torch.randn (mean 0), not torch.rand (uniform on [0, 1)).",
    )
    allowed = 6 / math.sqrt(2 * n)
    compare.that(
        abs(std / scale - 1) <= allowed,
        name,
        f"standard deviation {std:.4g}, expected weight_scale = {scale:g} (within {allowed:.1%}).",
        hint=hint + " The standard deviation is weight_scale, not weight_scale ** 2.",
    )
    kurtosis = float(((w - mean) ** 4).mean()) / std**4
    allowed = 6 * math.sqrt(24 / n)
    compare.that(
        abs(kurtosis - 3) <= allowed,
        name,
        f"the values do not look normally distributed (kurtosis {kurtosis:.2f}, a normal has 3).",
        hint=hint,
    )


def _describe_call(cls: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    shown = [repr(a) for a in args] + [
        f"{k}={'torch.' + str(v)[6:] if isinstance(v, torch.dtype) else repr(v)}" for k, v in kwargs.items()
    ]
    return f"{cls}({', '.join(shown)})"


def _construct(ctx: Context, cls: str, *args: Any, dtype: torch.dtype | None = None, **kwargs: Any):
    """Run the student's constructor; returns (model handle, description for messages)."""
    if dtype is not None:
        kwargs["dtype"] = dtype
    return ctx.student.call(f"fc_net.{cls}", *args, **kwargs), _describe_call(cls, args, kwargs)


def _check_init_statistics(ctx: Context, cls: str, *args: Any, weight_scale: float, **kwargs: Any):
    model, case = _construct(ctx, cls, *args, **kwargs, weight_scale=weight_scale)
    params = ctx.student.get(model, "params")
    dims = _dims_of(cls, args, kwargs)
    _check_param_layout(params, dims, torch.float32, case)
    for i in range(1, len(dims)):
        _check_normal(params[f"W{i}"], weight_scale, f"params['W{i}'] ({case})")


def _dims_of(cls: str, args: Sequence[Any], kwargs: dict[str, Any]) -> list[int]:
    if cls == "TwoLayerNet":
        return [kwargs["input_dim"], kwargs["hidden_dim"], kwargs["num_classes"]]
    hidden = args[0] if args else kwargs["hidden_dims"]
    return [kwargs["input_dim"], *hidden, kwargs["num_classes"]]


def _check_init_layout(ctx: Context, cls: str, *args: Any, dtype: torch.dtype | None = None, **kwargs: Any):
    model, case = _construct(ctx, cls, *args, dtype=dtype, **kwargs)
    params = ctx.student.get(model, "params")
    _check_param_layout(params, _dims_of(cls, args, kwargs), dtype or torch.float32, case)
    return params


# --------------------------------------------------------------------------------------------
# Training (hyperparameter tasks): the reference trains in the grader when it is available
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _training_environment(seed: int) -> Iterator[None]:
    """One thread (tiny matrices are much faster so) and a private global RNG state."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


@functools.cache
def _overfit_data() -> dict[str, Tensor]:
    """The protocol's data: the first 50 digits / 16, float64, centred with their own mean."""
    from course_lib.data import digits_arrays  # a given module: the grader's own copy

    pixels, labels = digits_arrays()
    X = torch.from_numpy(pixels[:50] / 16.0).to(torch.float64)
    X = X - X.mean(dim=0)
    y = torch.from_numpy(labels[:50]).to(torch.int64)
    return {"X_train": X, "y_train": y, "X_val": X, "y_val": y}


OVERFIT_SOLVER = {"update_rule": "sgd", "batch_size": 25, "num_epochs": 20}


def _positive_numbers(values: Any, function: str) -> tuple[float, float]:
    name = f"{function}()"
    compare.structure(values, tuple, 2, name, hint="return the tuple (weight_scale, learning_rate).")
    for label, value in zip(("weight_scale", "learning_rate"), values, strict=True):
        number = type(value) in (float, int)
        compare.that(
            number and math.isfinite(value) and value > 0,
            name,
            f"{label} must be a positive Python float, got "
            + (repr(value) if number else compare.describe(value))
            + ".",
            hint="return plain floats such as 1e-2 (not tensors or numpy numbers).",
        )
    return float(values[0]), float(values[1])


def _train_overfit(ctx: Context, hidden_dims: list[int], ws: float, lr: float, seed: int):
    """Final training accuracy and final loss of the protocol run with ``seed``."""
    if ctx.reference is not None:
        return _reference_overfit(ctx.reference, tuple(hidden_dims), ws, lr, seed)
    data = dict(_overfit_data())
    model_kwargs = dict(input_dim=64, num_classes=10, weight_scale=ws, seed=seed)
    solver_kwargs = dict(OVERFIT_SOLVER, optim_config={"learning_rate": lr}, verbose=False, seed=seed)
    model = ctx.student.call("fc_net.FullyConnectedNet", hidden_dims, dtype=torch.float64, **model_kwargs)
    solver = ctx.student.call("solver.Solver", model, data, **solver_kwargs)
    ctx.student.call_method(solver, "train", timeout=60)
    return ctx.student.get(solver, "train_acc_history")[-1], ctx.student.get(solver, "loss_history")[-1]


@functools.lru_cache(maxsize=4096)
def _reference_overfit(
    reference: Any, hidden_dims: tuple[int, ...], ws: float, lr: float, seed: int
) -> tuple[float, float]:
    """The protocol run on the reference: a pure function of its arguments, so remembered (a
    class often submits the same numbers; a grading worker trains each combination once)."""
    model_kwargs = dict(input_dim=64, num_classes=10, weight_scale=ws, seed=seed)
    solver_kwargs = dict(OVERFIT_SOLVER, optim_config={"learning_rate": lr}, verbose=False, seed=seed)
    with _training_environment(seed):
        model = reference.fc_net.FullyConnectedNet(list(hidden_dims), dtype=torch.float64, **model_kwargs)
        solver = reference.solver.Solver(model, dict(_overfit_data()), **solver_kwargs)
        solver.train()
    return solver.train_acc_history[-1], solver.loss_history[-1]


def _check_overfit(ctx: Context, function: str, hidden_dims: list[int], seeds: Sequence[int]) -> None:
    """The protocol of ``function``'s docstring: 100% training accuracy for every seed."""
    ws, lr = _positive_numbers(ctx.student.call(f"fc_net.{function}"), function)
    layers = len(hidden_dims) + 1
    trainer = (
        "the reference FullyConnectedNet and Solver"
        if ctx.reference is not None
        else "YOUR FullyConnectedNet and the given Solver (no reference solution on this machine)"
    )
    for seed in seeds:
        accuracy, last_loss = _train_overfit(ctx, hidden_dims, ws, lr, seed)
        if accuracy >= 1.0:
            continue
        if not math.isfinite(last_loss):
            hint = "the loss became nan/inf: the learning rate (or the weight scale) is too large."
        elif accuracy <= 0.5:
            hint = (
                "training barely moved: increase the learning rate, or the weight scale (a deep net "
                "with tiny weights passes almost no signal)."
            )
        else:
            hint = "close: try a somewhat larger learning rate or weight scale."
        compare.that(
            False,
            f"{function}() = ({ws:g}, {lr:g})",
            f"the {layers}-layer net reached {accuracy:.0%} training accuracy after 20 epochs with seed "
            f"{seed} (target: 100% on the 50 examples for every seed; trained with {trainer}: sgd, "
            "batch_size 25).",
            hint=hint,
        )


# create_solver_instance ---------------------------------------------------------------------

MAX_EPOCHS = 50
MAX_HIDDEN = 1000
#: iterations x hidden units the grader trains at most (about 3 s): e.g. 50 epochs of
#: hidden_dim 1000 with batch_size >= 25 on the 1297 digits.
MAX_WORK = 3_000_000
SOLVER_TARGET = 0.90
SOLVER_SEED = 0


def _two_layer_signature(
    input_dim=3 * 32 * 32,
    hidden_dim=100,
    num_classes=10,
    weight_scale=1e-3,
    reg=0.0,
    dtype=None,
    device="cpu",
):
    """TwoLayerNet's documented signature, used when the reference is not available."""


@functools.cache
def _reference_digits(ref: Any) -> dict[str, Any]:
    return ref.data.load_digits()


def _digits(ctx: Context) -> dict[str, Tensor]:
    """The default digits data (train/val splits only)."""
    if ctx.reference is not None:
        return _digits_of(ctx.reference)
    data = ctx.student.call("data.load_digits")
    return {key: data[key] for key in ("X_train", "y_train", "X_val", "y_val")}


def _digits_of(reference: Any) -> dict[str, Tensor]:
    data = _reference_digits(reference)
    return {key: data[key] for key in ("X_train", "y_train", "X_val", "y_val")}


def _tiny(data: dict[str, Tensor], rows: int = 20, shape: tuple[int, ...] | None = None) -> dict[str, Tensor]:
    tiny = {key: value[:rows] for key, value in data.items()}
    if shape is not None:
        tiny = {key: v.reshape(rows, *shape) if key.startswith("X") else v for key, v in tiny.items()}
    return tiny


def _solver_setup(ctx: Context, data: dict[str, Tensor], dtype: torch.dtype | None = None):
    """Call create_solver_instance; returns (bound TwoLayerNet arguments, Solver settings, case)."""
    case = f"create_solver_instance(data with X_train {tuple(data['X_train'].shape)})"
    extra = {"dtype": dtype} if dtype is not None else {}
    solver = ctx.student.call("fc_net.create_solver_instance", data, **extra)
    compare.that(
        isinstance(solver, Handle) and solver.type == "Solver",
        case,
        f"expected a Solver, got {compare.describe(solver)}.",
        hint="return the (untrained) Solver object.",
    )
    settings = {
        name: ctx.student.get(solver, name)
        for name in ("optim_config", "lr_decay", "batch_size", "num_epochs")
    }
    rule = ctx.student.get(solver, "update_rule_name")
    compare.that(
        type(rule) is str,
        case,
        "the Solver's update_rule is not a string.",
        hint="pass the rule's name, update_rule='sgd', not the function.",
    )
    config = settings["optim_config"]
    compare.that(
        type(config) is dict and all(type(v) in (int, float) for v in config.values()),
        case,
        f"optim_config must be a dict of plain numbers, got {config!r}.",
        hint="e.g. optim_config={'learning_rate': 1e-3}.",
    )
    model = ctx.student.get(solver, "model")
    compare.that(
        isinstance(model, Handle) and model.type == "TwoLayerNet",
        case,
        f"the Solver's model must be a TwoLayerNet, got {compare.describe(model)}.",
        hint="build the model with TwoLayerNet(...).",
    )
    args, kwargs = ctx.student.get(model, "args"), ctx.student.get(model, "kwargs")
    signature = (
        inspect.signature(ctx.reference.fc_net.TwoLayerNet)
        if ctx.reference is not None
        else inspect.signature(_two_layer_signature)
    )
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        compare.that(False, case, f"TwoLayerNet({error}).", hint="see TwoLayerNet.__init__'s arguments.")
    return bound.arguments, {**settings, "update_rule": rule}, case


def _validate_setup(
    model_args: dict[str, Any], settings: dict[str, Any], features: int, rows: int, case: str
):
    """Reject configurations that are wrong for the data or too expensive to train here."""
    numbers = {k: v for k, v in model_args.items() if k not in ("dtype", "device")}
    for key, value in numbers.items():
        compare.that(
            type(value) in (int, float),
            case,
            f"TwoLayerNet got {key}={compare.describe(value)}; expected a plain number.",
        )
    input_dim = model_args.get("input_dim", 3 * 32 * 32)
    compare.that(
        input_dim == features,
        case,
        f"TwoLayerNet(input_dim={input_dim}) but each example has {features} features.",
        hint="input_dim = product of data_dict['X_train'].shape[1:] (X_train[0].numel()).",
    )
    compare.that(
        model_args.get("num_classes", 10) == 10,
        case,
        f"num_classes={model_args.get('num_classes')}, expected 10.",
    )
    hidden = model_args.get("hidden_dim", 100)
    compare.that(
        type(hidden) is int and 1 <= hidden <= MAX_HIDDEN,
        case,
        f"hidden_dim={hidden!r}; the grader trains hidden_dim <= {MAX_HIDDEN}.",
    )
    epochs, batch = settings["num_epochs"], settings["batch_size"]
    compare.that(
        epochs <= MAX_EPOCHS,
        case,
        f"num_epochs={epochs}; the target must be reached within {MAX_EPOCHS} epochs.",
        hint="use a better learning rate / update rule rather than more epochs.",
    )
    work = epochs * math.ceil(rows / batch) * hidden
    compare.that(
        work <= MAX_WORK,
        case,
        f"training would take too long: {epochs} epochs x {math.ceil(rows / batch)} iterations x "
        f"hidden_dim {hidden} = {work:,} > {MAX_WORK:,}.",
        hint="use a larger batch_size, fewer epochs or a smaller hidden layer.",
    )
    compare.that(
        "learning_rate" in settings["optim_config"] or settings["lr_decay"] == 1.0,
        case,
        "lr_decay needs optim_config['learning_rate'].",
    )


@functools.lru_cache(maxsize=4096)
def _reference_setup_accuracy(reference: Any, key: str) -> float:
    """Best validation accuracy of the reference TwoLayerNet + Solver trained on the digits with
    ``key`` = JSON [TwoLayerNet numbers, Solver settings]; remembered like _reference_overfit."""
    numbers, solver_kwargs = json.loads(key)
    with _training_environment(SOLVER_SEED):
        model = reference.fc_net.TwoLayerNet(**numbers, dtype=torch.float32)
        solver = reference.solver.Solver(model, _digits_of(reference), **solver_kwargs)
        solver.train()
    return solver.best_val_acc


def _train_setup(
    ctx: Context, model_args: dict[str, Any], settings: dict[str, Any], data
) -> tuple[float, str]:
    """Best validation accuracy of the configured TwoLayerNet + Solver, and who trained it."""
    numbers = {k: v for k, v in model_args.items() if k not in ("dtype", "device")}
    solver_kwargs = dict(settings, verbose=False, seed=SOLVER_SEED)
    if ctx.reference is not None:
        key = json.dumps([numbers, solver_kwargs], sort_keys=True)
        return _reference_setup_accuracy(ctx.reference, key), "the reference TwoLayerNet and Solver"
    # On a student machine TwoLayerNet is a recorder here; FullyConnectedNet([H]) is the same net.
    model = ctx.student.call(
        "fc_net.FullyConnectedNet",
        [numbers.get("hidden_dim", 100)],
        input_dim=numbers.get("input_dim", 3 * 32 * 32),
        num_classes=numbers.get("num_classes", 10),
        weight_scale=numbers.get("weight_scale", 1e-3),
        reg=numbers.get("reg", 0.0),
        seed=SOLVER_SEED,
    )
    solver = ctx.student.call("solver.Solver", model, data, **solver_kwargs)
    ctx.student.call_method(solver, "train", timeout=120)
    trainer = (
        "YOUR FullyConnectedNet([hidden_dim]) and the given Solver (no reference solution on this machine)"
    )
    return ctx.student.get(solver, "best_val_acc"), trainer


# ============================================================================================
# Checks: layers
# ============================================================================================


def _linear_forward(ctx: Context, x: Tensor, w: Tensor, b: Tensor, expected: Tensor) -> tuple[Any, Any]:
    case = _case(x=x, w=w)
    result = ctx.student.call("layers.Linear.forward", x, w, b)
    out, cache = _unpack(result, 2, "Linear.forward", case, "return the tuple (out, cache).")
    _compare(out, expected, "out", case, dtype=x.dtype)
    return out, cache


def _random_affine_cases(g: torch.Generator, min_outputs: int):
    """(x, w, b, dout) for each random batch shape (a matrix and a k-dimensional batch)."""
    for shape in _random_batch_shapes(g):
        x = _randn(shape, g)
        w = _randn((x[0].numel(), _draw(g, min_outputs, 6)), g)
        b = _randn((w.shape[1],), g)
        yield x, w, b, _randn((x.shape[0], w.shape[1]), g)


# Backward checks grade the pair: the cache comes from the student's own forward on the same
# inputs (its layout is private to the student), or has the documented layout when that forward's
# output is wrong, so that a forward bug costs the forward's points only.


@dataclass(frozen=True)
class _Cache:
    value: Any
    #: '' for the student's own cache, else why the documented layout is used
    note: str


def _own_cache(ctx: Context, forward: str, args: Sequence[Tensor], want: Tensor, documented: Any) -> _Cache:
    """The cache of the student's ``layers.<forward>(*args)`` when its out matches ``want``."""
    try:
        result = ctx.student.call(f"layers.{forward}", *args)
        compare.structure(result, tuple, 2, forward)
        compare.tensor(result[0], want, forward, dtype=want.dtype, **_tol(want.dtype))
        return _Cache(result[1], "")
    except (CheckFailure, StudentError):
        return _Cache(
            documented, f"your {forward} does not pass its checks, so the documented cache was used"
        )


def _call_backward(
    ctx: Context, backward: str, dout: Tensor, cache: _Cache, case: str, keep_inputs: bool = False
) -> Any:
    """``layers.<backward>(dout, cache)``; with ``keep_inputs`` no input may change."""
    named = [("dout", dout), ("cache", cache.value)]
    try:
        return _invoke(ctx, f"layers.{backward}", named, case, keep_inputs)
    except StudentError as error:
        if not cache.note or error.type_name == "NotImplementedError":
            raise
        raise CheckFailure(f"{backward} ({case}): with that cache your code raised {error}.") from None


def _pair_case(case: str, cache: _Cache) -> str:
    return f"{case}; {cache.note}" if cache.note else case


@check(task="Linear.forward", points=1)
def linear_forward_small(ctx: Context) -> None:
    """Hand-checkable case: x (2, 3), w (3, 2), b (2,)."""
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=torch.float64)
    w = torch.tensor([[0.1, -0.2], [0.3, 0.0], [-0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64)
    out, _ = ctx.student.call("layers.Linear.forward", x, w, b)
    expected = ctx.expected("out", lambda ref: ref.layers.Linear.forward(x, w, b)[0])
    compare.tensor(out, expected, "out", dtype=torch.float64, **F64, hint=HINTS["out"][0])


@check(task="Linear.forward", points=1)
def linear_forward_images(ctx: Context) -> None:
    """k-dimensional input: x (4, 2, 3, 5) must be flattened to (4, 30)."""
    x, w, b = _linear_inputs((4, 2, 3, 5), 7, seed=11)
    out, _ = ctx.student.call("layers.Linear.forward", x, w, b)
    expected = ctx.expected("out", lambda ref: ref.layers.Linear.forward(x, w, b)[0])
    compare.tensor(
        out, expected, "out", dtype=torch.float64, **F64,
        hint="flatten each example row-major (any k-dimensional example becomes D = d1 * ... * dk entries).",
        shape_hint="out must be (N, M): flatten x to (N, D) first.",
    )  # fmt: skip


@check(task="Linear.forward", points=1, randomized=True)
def linear_forward_random(ctx: Context) -> None:
    """Random shapes, a matrix and a k-dimensional batch; compared with x.reshape(N, -1) @ w + b."""
    g = ctx.generator()
    for shape in _random_batch_shapes(g):
        x = _randn(shape, g)
        w = _randn((x[0].numel(), _draw(g, 1, 6)), g)
        b = _randn((w.shape[1],), g)
        _linear_forward(ctx, x, w, b, _linear(x, w, b))


def _linear_backward(
    ctx: Context, x: Tensor, w: Tensor, b: Tensor, dout: Tensor, expected, keep_inputs: bool = False
) -> None:
    """Linear.forward(x, w, b), then Linear.backward(dout, its cache); compared with ``expected``."""
    cache = _own_cache(ctx, "Linear.forward", (x, w, b), _linear(x, w, b), (x, w, b))
    case = _pair_case(_case(x=x, w=w), cache)
    result = _call_backward(ctx, "Linear.backward", dout, cache, case, keep_inputs)
    grads = _unpack(result, 3, "Linear.backward", case, "return the tuple (dx, dw, db).")
    for name, actual, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        _compare(actual, want, name, case, dtype=x.dtype)


def _linear_backward_stored(
    ctx: Context, x: Tensor, w: Tensor, b: Tensor, seed: int, keep_inputs: bool = False
) -> None:
    dout = _randn((x.shape[0], w.shape[1]), seed, x.dtype)
    expected = ctx.expected("grads", lambda ref: ref.layers.Linear.backward(dout, (x, w, b)))
    _linear_backward(ctx, x, w, b, dout, expected, keep_inputs)


@check(task="Linear.backward", points=1)
def linear_backward_small(ctx: Context) -> None:
    """Hand-checkable case: x (2, 3), w (3, 2), dout (2, 2); compared with the reference."""
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=torch.float64)
    w = torch.tensor([[0.1, -0.2], [0.3, 0.0], [-0.5, 1.0]], dtype=torch.float64)
    b = torch.tensor([0.5, -1.0], dtype=torch.float64)
    dout = torch.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=torch.float64)
    expected = ctx.expected("grads", lambda ref: ref.layers.Linear.backward(dout, (x, w, b)))
    _linear_backward(ctx, x, w, b, dout, expected)


@check(task="Linear.backward", points=1)
def linear_backward_images(ctx: Context) -> None:
    """k-dimensional input x (4, 2, 3, 5): dx must come back in x's shape."""
    x, w, b = _linear_inputs((4, 2, 3, 5), 6, seed=12)
    _linear_backward_stored(ctx, x, w, b, seed=13)


@check(task="Linear.backward", points=1, randomized=True)
def linear_backward_autograd(ctx: Context) -> None:
    """Random shapes (a matrix and a k-dimensional batch); compared with torch.autograd."""
    for x, w, b, dout in _random_affine_cases(ctx.generator(), min_outputs=1):
        _, expected = _autograd(_linear, [x, w, b], dout)
        _linear_backward(ctx, x, w, b, dout, expected)


def _relu_forward(ctx: Context, x: Tensor, expected: Tensor, keep_inputs: bool = False) -> None:
    case = _case(x=x)
    result = _invoke(ctx, "layers.ReLU.forward", [("x", x)], case, keep_inputs)
    out, _ = _unpack(result, 2, "ReLU.forward", case, "return the tuple (out, cache).")
    _compare(out, expected, "out", case, dtype=x.dtype, kind="relu")


@check(task="ReLU.forward", points=1)
def relu_forward_small(ctx: Context) -> None:
    """Hand-checkable case with negatives, 0 and -0: out = max(x, 0)."""
    x = torch.tensor([[-1.5, 0.0, 2.0], [3.0, -0.0, -2.0]], dtype=torch.float64)
    _relu_forward(ctx, x, ctx.expected("out", lambda ref: ref.layers.ReLU.forward(x)[0]))


@check(task="ReLU.forward", points=1, randomized=True)
def relu_forward_random(ctx: Context) -> None:
    """Random inputs of 1 to 4 dimensions with exact zeros; compared with torch.relu."""
    g = ctx.generator()
    for dims in (1, 2, 4):
        x = _with_zeros(_randn([_draw(g, 1, 4) for _ in range(dims)], g), g)
        _relu_forward(ctx, x, torch.relu(x))


def _relu_backward(
    ctx: Context, x: Tensor, dout: Tensor, expected: Tensor, keep_inputs: bool = False
) -> None:
    """ReLU.forward(x), then ReLU.backward(dout, its cache); compared with ``expected``."""
    cache = _own_cache(ctx, "ReLU.forward", (x,), torch.relu(x), x)
    case = _pair_case(_case(x=x), cache)
    dx = _call_backward(ctx, "ReLU.backward", dout, cache, case, keep_inputs)
    _compare(dx, expected, "dx", case, dtype=x.dtype, kind="relu_dx")


@check(task="ReLU.backward", points=1)
def relu_backward_ties(ctx: Context) -> None:
    """Hand-checkable case with x == 0 exactly: the gradient there is 0 (as torch.relu's)."""
    x = torch.tensor([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.5]], dtype=torch.float64)
    dout = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    _relu_backward(ctx, x, dout, ctx.expected("dx", lambda ref: ref.layers.ReLU.backward(dout, x)))


@check(task="ReLU.backward", points=1, randomized=True)
def relu_backward_autograd(ctx: Context) -> None:
    """Random inputs of 2 and 3 dimensions; compared with torch.autograd. (No entry is exactly 0:
    the tie at 0 is relu_backward_ties' rule alone.)"""
    g = ctx.generator()
    for dims in (2, 3):
        x = _randn([_draw(g, 2, 4) for _ in range(dims)], g)
        dout = _randn(x.shape, g)
        _, (expected,) = _autograd(torch.relu, [x], dout)
        _relu_backward(ctx, x, dout, expected)


def _linear_relu_forward(ctx: Context, x: Tensor, w: Tensor, b: Tensor, expected: Tensor) -> Any:
    case = _case(x=x, w=w)
    result = ctx.student.call("layers.Linear_ReLU.forward", x, w, b)
    out, cache = _unpack(result, 2, "Linear_ReLU.forward", case, "return the tuple (out, cache).")
    _compare(out, expected, "out", case, dtype=x.dtype, kind="linear_relu")
    return cache


def _tie_case() -> tuple[Tensor, Tensor, Tensor]:
    """Integer inputs with pre-activation a = x @ w + b = [[1, 2, -1], [0, 1, 0]] (exact zeros)."""
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, -1.0, 2.0], [0.0, 1.0, -1.0]], dtype=torch.float64)
    b = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    return x, w, b


@check(task="Linear_ReLU.forward", points=1)
def linear_relu_forward_small(ctx: Context) -> None:
    """Hand-checkable integer case (pre-activations -1, 0 and positive); compared with the reference."""
    x, w, b = _tie_case()
    expected = ctx.expected("out", lambda ref: ref.layers.Linear_ReLU.forward(x, w, b)[0])
    _linear_relu_forward(ctx, x, w, b, expected)


@check(task="Linear_ReLU.forward", points=1, randomized=True)
def linear_relu_forward_random(ctx: Context) -> None:
    """Random shapes (a matrix and a k-dimensional batch); compared with relu(x_flat @ w + b)."""
    g = ctx.generator()
    for shape in _random_batch_shapes(g):
        x = _randn(shape, g)
        w = _randn((x[0].numel(), _draw(g, 2, 6)), g)
        b = _randn((w.shape[1],), g)
        _linear_relu_forward(ctx, x, w, b, _linear_relu(x, w, b))


def _linear_relu_backward(ctx: Context, x: Tensor, w: Tensor, b: Tensor, dout: Tensor, expected) -> None:
    """Linear_ReLU.forward(x, w, b), then Linear_ReLU.backward(dout, its cache); the documented
    cache ((x, w, b), pre-activation) when that forward is wrong."""
    documented = ((x, w, b), _linear(x, w, b))
    cache = _own_cache(ctx, "Linear_ReLU.forward", (x, w, b), _linear_relu(x, w, b), documented)
    case = _pair_case(_case(x=x, w=w), cache)
    result = _call_backward(ctx, "Linear_ReLU.backward", dout, cache, case)
    grads = _unpack(result, 3, "Linear_ReLU.backward", case, "return the tuple (dx, dw, db).")
    hint = "backpropagate through the ReLU first (ReLU.backward with the relu cache), then Linear.backward."
    for name, actual, want in zip(("dx", "dw", "db"), grads, expected, strict=True):
        default = HINTS[name][0]
        _compare(actual, want, name, case, dtype=x.dtype, hint=f"{hint} {default}")


def _linear_relu_backward_stored(ctx: Context, x: Tensor, w: Tensor, b: Tensor, dout: Tensor) -> None:
    cache = ((x, w, b), _linear(x, w, b))
    expected = ctx.expected("grads", lambda ref: ref.layers.Linear_ReLU.backward(dout, cache))
    _linear_relu_backward(ctx, x, w, b, dout, expected)


@check(task="Linear_ReLU.backward", points=1)
def linear_relu_backward_small(ctx: Context) -> None:
    """Hand-checkable integer case with pre-activations exactly 0; compared with the reference."""
    x, w, b = _tie_case()
    dout = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], dtype=torch.float64)
    _linear_relu_backward_stored(ctx, x, w, b, dout)


@check(task="Linear_ReLU.backward", points=1, randomized=True)
def linear_relu_backward_autograd(ctx: Context) -> None:
    """Random shapes (a matrix and a k-dimensional batch); compared with torch.autograd."""
    for x, w, b, dout in _random_affine_cases(ctx.generator(), min_outputs=2):
        _, expected = _autograd(_linear_relu, [x, w, b], dout)
        _linear_relu_backward(ctx, x, w, b, dout, expected)


def _loss_check(
    ctx: Context, function: str, x: Tensor, y: Tensor, expected, variants=None, keep_inputs: bool = False
) -> None:
    """Compare ``layers.<function>(x, y)`` = (loss, dx) with ``expected``; ``variants`` maps
    'loss'/'dx' to known-wrong values and their hints."""
    case = _case(x=x)
    result = _invoke(ctx, f"layers.{function}", [("x", x), ("y", y)], case, keep_inputs)
    loss, dx = _unpack(result, 2, function, case, "return the tuple (loss, dx).")
    kind = function.removesuffix("_loss")
    for name, actual, want in (("loss", loss, expected[0]), ("dx", dx, expected[1])):
        default = HINTS[f"{kind}_{name}"][0]
        hint = _diagnose(actual, (variants or {}).get(name, []), default)
        _compare(actual, want, name, case, dtype=x.dtype, hint=hint, kind=f"{kind}_{name}")


def _softmax_variants(x: Tensor, expected) -> dict[str, list[tuple[Tensor, str]]]:
    n = x.shape[0]
    return {
        "loss": [(expected[0] * n, "average the loss over the batch: divide the sum by N.")],
        "dx": [(expected[1] * n, "the loss is an average, so dx is divided by N too.")],
    }


def _softmax_stored(ctx: Context, x: Tensor, y: Tensor, keep_inputs: bool = False) -> None:
    expected = ctx.expected("loss", lambda ref: ref.layers.softmax_loss(x, y))
    _loss_check(ctx, "softmax_loss", x, y, expected, _softmax_variants(x, expected), keep_inputs)


@check(task="softmax_loss", points=1)
def softmax_loss_small(ctx: Context) -> None:
    """Hand-checkable case: 2 examples, 3 classes; compared with the reference."""
    x = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=torch.float64)
    _softmax_stored(ctx, x, torch.tensor([0, 2]))


@check(task="softmax_loss", points=1, randomized=True)
def softmax_loss_random(ctx: Context) -> None:
    """Random scores (N >= 2) at random scales; compared with torch's cross_entropy and autograd."""
    g = ctx.generator()
    n, c = _draw(g, 2, 8), _draw(g, 2, 10)
    x = _randn((n, c), g, scale=0.5 + 4.5 * float(torch.rand(1, generator=g)))
    y = _labels(n, c, g)
    loss, (dx,) = _autograd(lambda s: cross_entropy(s, y), [x])
    _loss_check(ctx, "softmax_loss", x, y, (loss, dx), _softmax_variants(x, (loss, dx)))


@check(task="softmax_loss", points=1)
def softmax_loss_huge_scores(ctx: Context) -> None:
    """Scores of magnitude 1e4 (exp overflows, true-class probabilities underflow): finite results."""
    x = _randn((4, 5), seed=21, scale=1e4)
    y = torch.tensor([0, 3, 1, 4])
    case = _case(x=x) + ", |scores| ~ 1e4"
    expected = ctx.expected("loss", lambda ref: ref.layers.softmax_loss(x, y))
    result = ctx.student.call("layers.softmax_loss", x, y)
    loss, dx = _unpack(result, 2, "softmax_loss", case, "return the tuple (loss, dx).")
    hint = (
        "subtract each row's maximum before exp, and compute log-probabilities as "
        "shifted - log(sum(exp(shifted))) instead of log(softmax) (which underflows to log(0))."
    )
    _compare(loss, expected[0], "loss", case, dtype=x.dtype, hint=hint, kind="softmax_loss")
    _compare(dx, expected[1], "dx", case, dtype=x.dtype, hint=hint, kind="softmax_dx")


def _svm_variants(x: Tensor, expected) -> dict[str, list[tuple[Tensor, str]]]:
    n = x.shape[0]
    return {
        "loss": [
            (expected[0] + 1, "the correct class must contribute 0: skip j == y[i] (its margin is 1)."),
            (expected[0] * n, "average the loss over the batch: divide the sum by N."),
        ],
        "dx": [(expected[1] * n, "the loss is an average, so dx is divided by N too.")],
    }


def _svm_stored(ctx: Context, x: Tensor, y: Tensor, keep_inputs: bool = False) -> None:
    expected = ctx.expected("loss", lambda ref: ref.layers.svm_loss(x, y))
    _loss_check(ctx, "svm_loss", x, y, expected, _svm_variants(x, expected), keep_inputs)


@check(task="svm_loss", points=1)
def svm_loss_small(ctx: Context) -> None:
    """Hand-checkable case: 3 examples, 3 classes (loss (2.9 + 0 + 12.9) / 3)."""
    x = torch.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], dtype=torch.float64)
    _svm_stored(ctx, x, torch.tensor([0, 1, 2]))


@check(task="svm_loss", points=1, randomized=True)
def svm_loss_random(ctx: Context) -> None:
    """Random integer scores (so some margins are exactly 0); compared with an autograd oracle."""
    g = ctx.generator()
    n, c = _draw(g, 2, 8), _draw(g, 2, 8)
    x = _integers((n, c), g, -3, 3)
    y = _labels(n, c, g)
    loss, (dx,) = _autograd(lambda s: _svm(s, y), [x])
    _loss_check(ctx, "svm_loss", x, y, (loss, dx), _svm_variants(x, (loss, dx)))


# ============================================================================================
# Checks: models
# ============================================================================================


@check(task="TwoLayerNet.__init__", points=1)
def two_layer_init_params(ctx: Context) -> None:
    """params has W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); float32 by default; biases exactly 0."""
    _check_init_layout(ctx, "TwoLayerNet", input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.1)


@check(task="TwoLayerNet.__init__", points=1, randomized=True)
def two_layer_init_scale(ctx: Context) -> None:
    """Weights look like N(0, weight_scale ** 2): mean, std and kurtosis on 180,000 entries."""
    _check_init_statistics(
        ctx, "TwoLayerNet", input_dim=400, hidden_dim=300, num_classes=200, weight_scale=0.05
    )


@check(task="TwoLayerNet.loss", points=1)
def two_layer_loss_scores(ctx: Context) -> None:
    """With y=None the (N, C) scores come back; X (3, 2, 3) is k-dimensional."""
    dims, X = (6, 5, 4), _randn((3, 2, 3), seed=31)
    params = _net_params(dims, seed=32)
    expected = _expected_model_loss(ctx, "TwoLayerNet", dims, params, X, None, 0.0)
    _check_model_loss(ctx, "TwoLayerNet", dims, params, X, None, 0.0, expected)


@check(task="TwoLayerNet.loss", points=1)
def two_layer_loss_no_reg(ctx: Context) -> None:
    """Loss and gradients with reg = 0 (X (4, 6), H 5, C 3); compared with the reference."""
    dims, X, y = (6, 5, 3), _randn((4, 6), seed=33), _labels(4, 3, seed=34)
    params = _net_params(dims, seed=35)
    expected = _expected_model_loss(ctx, "TwoLayerNet", dims, params, X, y, 0.0)
    _check_model_loss(ctx, "TwoLayerNet", dims, params, X, y, 0.0, expected)


def _random_net_case(g: torch.Generator, hidden_layers: int) -> tuple[list[int], Tensor, Tensor, float]:
    """Random layer sizes, input batch (sometimes k-dimensional), labels and reg in [0.1, 1)."""
    n = _draw(g, 2, 6)
    feature_shape = [_draw(g, 2, 4) for _ in range(_draw(g, 1, 2))]
    X = _randn((n, *feature_shape), g)
    dims = [X[0].numel(), *(_draw(g, 3, 8) for _ in range(hidden_layers)), _draw(g, 2, 6)]
    y = _labels(n, dims[-1], g)
    reg = 0.1 + 0.9 * float(torch.rand(1, generator=g))
    return dims, X, y, reg


def _check_model_against_oracle(ctx: Context, cls: str, g: torch.Generator, hidden_layers: int) -> None:
    dims, X, y, reg = _random_net_case(g, hidden_layers)
    params = _net_params(dims, g)
    _check_model_loss(ctx, cls, dims, params, X, None, reg, _net_oracle(params, X, None, reg))
    _check_model_loss(ctx, cls, dims, params, X, y, reg, _net_oracle(params, X, y, reg))


@check(task="TwoLayerNet.loss", points=2, randomized=True)
def two_layer_loss_autograd(ctx: Context) -> None:
    """Random sizes, reg > 0 and non-zero biases: scores, loss and gradients against torch.autograd."""
    _check_model_against_oracle(ctx, "TwoLayerNet", ctx.generator(), hidden_layers=1)


@check(task="FullyConnectedNet.__init__", points=1)
def fcn_init_params(ctx: Context) -> None:
    """Three hidden layers: W1..W4 and b1..b4 with the right shapes, float32, biases exactly 0."""
    _check_init_layout(ctx, "FullyConnectedNet", [5, 4, 3], input_dim=6, num_classes=2, weight_scale=0.1)


@check(task="FullyConnectedNet.__init__", points=1, randomized=True)
def fcn_init_scale(ctx: Context) -> None:
    """Weights look like N(0, weight_scale ** 2) in every layer (mean, std, kurtosis)."""
    _check_init_statistics(
        ctx, "FullyConnectedNet", [300, 250], input_dim=400, num_classes=200, weight_scale=0.05
    )


def _seeded_weights(dims: Sequence[int], weight_scale: float, seed: int) -> dict[str, Tensor]:
    """The docstring's seeded draw, W1 (dims[0], dims[1]), W2, ... in order, float32.

    Computed here, on the grading machine, never stored: ``torch.randn`` differs between CPU
    kernels (scalar, AVX2, AVX-512) in the last bits, and the child runs the same kernels as
    this process (``launch.PASSED_THROUGH``), so both sides draw identical bits.
    """
    g = torch.Generator().manual_seed(seed)
    return {
        f"W{i + 1}": torch.randn((dims[i], dims[i + 1]), generator=g, dtype=torch.float32) * weight_scale
        for i in range(len(dims) - 1)
    }


@check(task="FullyConnectedNet.__init__", points=1)
def fcn_init_seeded(ctx: Context) -> None:
    """With seed=3 the weights are drawn from torch.Generator().manual_seed(3), W1, W2, W3 in order."""
    hidden, kwargs = [7, 5], dict(input_dim=6, num_classes=4, weight_scale=0.3, seed=3)
    model, case = _construct(ctx, "FullyConnectedNet", hidden, **kwargs)
    params = ctx.student.get(model, "params")
    _check_param_layout(params, [6, 7, 5, 4], torch.float32, case)
    expected = _seeded_weights([6, 7, 5, 4], kwargs["weight_scale"], kwargs["seed"])
    for key in sorted(expected):
        compare.tensor(
            params[key], expected[key], f"params['{key}'] ({case})", dtype=torch.float32,
            # float32: torch.randn(..) * weight_scale, whatever the order of the two factors.
            atol=1e-7, rtol=1e-6,
            hint="g = torch.Generator(device=device).manual_seed(seed); W_i = torch.randn(shape, "
            "generator=g, dtype=dtype, device=device) * weight_scale, for i = 1, 2, ... in order "
            "(draw nothing else from g).",
        )  # fmt: skip


@check(task="FullyConnectedNet.loss", points=1)
def fcn_loss_scores(ctx: Context) -> None:
    """With y=None the (N, C) scores come back (no ReLU after the last layer); X (3, 2, 3)."""
    dims, X = (6, 5, 4, 3), _randn((3, 2, 3), seed=41)
    params = _net_params(dims, seed=42)
    expected = _expected_model_loss(ctx, "FullyConnectedNet", dims, params, X, None, 0.0)
    _check_model_loss(ctx, "FullyConnectedNet", dims, params, X, None, 0.0, expected)


@check(task="FullyConnectedNet.loss", points=2)
def fcn_loss_no_reg(ctx: Context) -> None:
    """Three hidden layers, reg = 0: loss and every gradient; compared with the reference."""
    dims, X, y = (7, 6, 5, 4, 4), _randn((5, 7), seed=43), _labels(5, 4, seed=44)
    params = _net_params(dims, seed=45)
    expected = _expected_model_loss(ctx, "FullyConnectedNet", dims, params, X, y, 0.0)
    _check_model_loss(ctx, "FullyConnectedNet", dims, params, X, y, 0.0, expected)


@check(task="FullyConnectedNet.loss", points=2, randomized=True)
def fcn_loss_autograd(ctx: Context) -> None:
    """Random depth (2 to 4 hidden layers), sizes and reg > 0: scores, loss and gradients vs autograd."""
    g = ctx.generator()
    _check_model_against_oracle(ctx, "FullyConnectedNet", g, hidden_layers=_draw(g, 2, 4))


# ============================================================================================
# Checks: hyperparameters
# ============================================================================================


@check(task="get_three_layer_network_params", points=2, timeout=60)
def three_layer_overfits(ctx: Context) -> None:
    """The returned (weight_scale, learning_rate) overfit 50 digits to 100% (protocol in the
    docstring) with seeds 0, 1 and 2."""
    _check_overfit(ctx, "get_three_layer_network_params", [100, 100], seeds=(0, 1, 2))


@check(task="get_five_layer_network_params", points=2, timeout=60)
def five_layer_overfits(ctx: Context) -> None:
    """The returned (weight_scale, learning_rate) overfit 50 digits to 100% (protocol in the
    docstring) with seeds 0, 1 and 2."""
    _check_overfit(ctx, "get_five_layer_network_params", [100, 100, 100, 100], seeds=(0, 1, 2))


@check(task="create_solver_instance", points=1)
def create_solver_settings(ctx: Context) -> None:
    """The Solver trains a TwoLayerNet sized for the data, with a string update rule, plain-number
    optim_config and at most 50 epochs (cost limited so the grader can train it)."""
    data = _digits(ctx)
    model_args, settings, case = _solver_setup(ctx, _tiny(data))
    _validate_setup(model_args, settings, data["X_train"][0].numel(), data["X_train"].shape[0], case)


@check(task="create_solver_instance", points=2, timeout=120)
def create_solver_trains(ctx: Context) -> None:
    """Training the configured TwoLayerNet + Solver (seed 0) on the default digits data reaches
    validation accuracy >= 0.90."""
    data = _digits(ctx)
    model_args, settings, case = _solver_setup(ctx, _tiny(data))
    _validate_setup(model_args, settings, data["X_train"][0].numel(), data["X_train"].shape[0], case)
    accuracy, trainer = _train_setup(ctx, model_args, settings, data)
    described = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    compare.that(
        accuracy >= SOLVER_TARGET,
        case,
        f"best validation accuracy {accuracy:.3f} < {SOLVER_TARGET} when training {trainer} with "
        f"{described}.",
        hint="tune sgd's learning rate first (try factors of 10 between 1e-2 and 1), then epochs and hidden_dim.",
    )
