"""Models in the child holding given parameters (so ``loss`` is graded on its own), their
reference counterparts, and the checks of the constructors' parameter layout and initialisation.

A model is described by ``settings``: the keyword arguments of its constructor without ``dtype``
(``input_dim``, ``num_classes``, ``reg``, and ``hidden_dim`` for a TwoLayerNet or ``hidden_dims``
with optional ``dropout``, ``seed`` and ``normalization`` for a FullyConnectedNet).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.checks.support.calls import unpack
from grader.checks.support.hints import diagnose, model_loss_variants
from grader.checks.support.inputs import net_params
from grader.sandbox.protocol import Handle
from grader.sandbox.session import StudentError

Tensor = torch.Tensor


def settings_of(cls: str, dims: Sequence[int], reg: float) -> dict[str, Any]:
    """The settings of a ``cls`` with layer sizes ``dims`` = (D, H1, ..., C) and ``reg``."""
    hidden = {"hidden_dim": dims[1]} if cls == "TwoLayerNet" else {"hidden_dims": list(dims[1:-1])}
    return {"input_dim": dims[0], "num_classes": dims[-1], "reg": reg, **hidden}


def contract_attributes(cls: str, settings: dict[str, Any], dtype: torch.dtype) -> dict[str, Any]:
    """The plain attributes the contract's ``cls.__init__`` sets for ``settings`` (not ``params``)."""
    attributes: dict[str, Any] = {
        "input_dim": settings["input_dim"], "num_classes": settings["num_classes"], "reg": settings["reg"],
        "weight_scale": 1e-2, "dtype": dtype, "device": "cpu",
    }  # fmt: skip
    if cls == "TwoLayerNet":
        return {**attributes, "hidden_dim": settings["hidden_dim"]}
    p, seed = settings.get("dropout", 0.0), settings.get("seed")
    dropout_param: dict[str, Any] = {"mode": "train", "p": p}
    if seed is not None:
        dropout_param["seed"] = seed
    layers = len(settings["hidden_dims"]) + 1
    attributes.update(
        hidden_dims=list(settings["hidden_dims"]), num_layers=layers, use_dropout=p > 0,
        dropout_param=dropout_param,
    )  # fmt: skip
    if "normalization" in settings:
        normalization = settings["normalization"]
        attributes["normalization"] = normalization
        attributes["norm_params"] = [{"mode": "train"} for _ in range(layers - 1)] if normalization else []
    return attributes


def student_model(
    ctx: Context, cls: str, settings: dict[str, Any], params: dict[str, Tensor], *,
    reset_attributes: bool = False, norm_params: list[dict[str, Any]] | None = None,
) -> Handle:  # fmt: skip
    """A ``fc_net.<cls>`` of the student's holding ``params`` (and ``norm_params`` if given).

    It is built with the student's ``__init__`` when that works (so attributes their ``loss`` may
    rely on exist); when ``__init__`` raises (not implemented yet, or a bug: another task) the object
    is created without it and given the attributes the contract's ``__init__`` sets, so a loss check
    never loses points for the constructor. ``reset_attributes``: set those attributes even after
    the student's ``__init__`` ran (assignment 1: its values must not matter either).
    """
    dtype = next(iter(params.values())).dtype
    attributes = contract_attributes(cls, settings, dtype)
    try:
        model = ctx.student.call(f"fc_net.{cls}", **settings, dtype=dtype)
        compare.that(isinstance(model, Handle), cls, f"the constructor returned {compare.describe(model)}.")
    except StudentError:
        klass = ctx.student.call(f"fc_net.{cls}.mro")[0]
        model = ctx.student.call(f"fc_net.{cls}.__new__", klass)
        reset_attributes = True
    for name, value in (attributes if reset_attributes else {}).items():
        ctx.student.set(model, name, value)
    ctx.student.set(model, "params", {k: v.clone() for k, v in params.items()})
    if norm_params is not None:
        ctx.student.set(model, "norm_params", [dict(p) for p in norm_params])
    return model


def reference_model(
    ref: Any, cls: str, settings: dict[str, Any], params: dict[str, Tensor],
    norm_params: list[dict[str, Any]] | None = None,
) -> Any:  # fmt: skip
    """The reference counterpart of :func:`student_model` (made without ``__init__``)."""
    klass = getattr(ref.fc_net, cls)
    model = klass.__new__(klass)
    dtype = next(iter(params.values())).dtype
    for name, value in contract_attributes(cls, settings, dtype).items():
        setattr(model, name, value)
    model.params = {k: v.clone() for k, v in params.items()}
    if norm_params is not None:
        model.norm_params = [dict(p) for p in norm_params]
    return model


def param_order(name: str) -> tuple[int, str]:
    """Sort key of parameter names: by layer, then W, b, beta, gamma."""
    return int(name.lstrip("Wbgamet")), name


# -- loss -----------------------------------------------------------------------------------------


def compare_loss_and_grads(
    result: Any, expected: tuple[Tensor, dict[str, Tensor]], case: str, dtype: torch.dtype, *,
    hint: str, grad_hint: dict[str, str] | None = None, params: dict[str, Tensor] | None = None,
    reg: float = 0.0,
) -> None:  # fmt: skip
    """``loss(X, y)`` = (loss, grads) against ``expected`` within the tolerance of ``dtype``.

    ``hint``: the rule for a wrong loss (and gradient); ``grad_hint``: first letter of a parameter
    name ('W', 'b') -> its rule. With ``params`` a hint names an L2 mistake only when recomputing
    the expected value with that mistake reproduces the student's value.
    """
    loss, grads = unpack(
        result, 2, "value returned by loss(X, y)", case, "with labels return the tuple (loss, grads)."
    )
    loss_variants, grad_variants = model_loss_variants(params, expected, reg) if params else ([], {})
    tolerance = compare.tolerance(dtype)
    compare.tensor(
        loss, expected[0], f"loss ({case})", dtype=dtype, hint=diagnose(loss, loss_variants, hint),
        shape_hint="the loss is a 0-dim tensor: no .item(), no keepdim.", **tolerance,
    )  # fmt: skip
    compare.structure(
        grads, dict, None, f"grads ({case})", hint="grads maps each key of params to its gradient."
    )
    compare.keys(
        grads,
        set(expected[1]),
        f"grads ({case})",
        hint="one gradient per parameter, same names as in params.",
    )
    for key in sorted(expected[1], key=param_order):
        default = (grad_hint or {}).get(key[0], hint)
        compare.tensor(
            grads[key], expected[1][key], f"grads['{key}'] ({case})", dtype=dtype,
            hint=diagnose(grads[key], grad_variants.get(key, []), default), **tolerance,
        )  # fmt: skip


# -- constructors --------------------------------------------------------------------------------


def describe_call(cls: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """``cls(arg, ..., key=value, ...)`` as a student would write it."""
    shown = [repr(a) for a in args] + [
        f"{k}={'torch.' + str(v)[6:] if isinstance(v, torch.dtype) else repr(v)}" for k, v in kwargs.items()
    ]
    return f"{cls}({', '.join(shown)})"


def construct(ctx: Context, cls: str, *args: Any, dtype: torch.dtype | None = None, **kwargs: Any):
    """Run the student's constructor; returns (model handle, description for messages)."""
    if dtype is not None:
        kwargs["dtype"] = dtype
    return ctx.student.call(f"fc_net.{cls}", *args, **kwargs), describe_call(cls, args, kwargs)


def dims_of(cls: str, args: Sequence[Any], kwargs: dict[str, Any]) -> list[int]:
    """Layer sizes [D, H1, ..., C] of a constructor call."""
    if cls == "TwoLayerNet":
        return [kwargs["input_dim"], kwargs["hidden_dim"], kwargs["num_classes"]]
    hidden = args[0] if args else kwargs["hidden_dims"]
    return [kwargs["input_dim"], *hidden, kwargs["num_classes"]]


def check_param_layout(params: Any, dims: Sequence[int], dtype: torch.dtype, case: str) -> None:
    """Keys W1..WL, b1..bL; Wi (dims[i-1], dims[i]), bi (dims[i],) exactly zero; all of ``dtype``."""
    layers = len(dims) - 1
    compare.structure(params, dict, None, f"params ({case})", hint="self.params is a dict name -> tensor.")
    keys = {f"{p}{i}" for p in "Wb" for i in range(1, layers + 1)}
    compare.keys(
        params, keys, f"params ({case})",
        hint=f"{layers} layer(s) (len(hidden_dims) + 1): "
        + ("W1 and b1." if layers == 1 else f"W1..W{layers} and b1..b{layers}."),
    )  # fmt: skip
    for i in range(1, layers + 1):
        weight, shape = params[f"W{i}"], (dims[i - 1], dims[i])
        name = f"params['W{i}'] ({case})"
        compare.that(type(weight) is Tensor, name, f"expected a tensor, got {compare.describe(weight)}.")
        compare.that(
            tuple(weight.shape) == shape, name, f"shape {tuple(weight.shape)}, expected {shape}.",
            hint=f"W{i} maps layer {i - 1} to layer {i}: (dims[{i - 1}], dims[{i}]) with dims = "
            "[input_dim, *hidden_dims, num_classes].",
        )  # fmt: skip
        compare.that(
            weight.dtype == dtype, name, f"dtype {weight.dtype}, expected {dtype}.",
            hint="create the weights with dtype=dtype (and device=device).",
        )  # fmt: skip
        compare.tensor(
            params[f"b{i}"], torch.zeros(dims[i], dtype=dtype), f"params['b{i}'] ({case})", dtype=dtype,
            **compare.EXACT, hint="biases start at exactly zero, with the model's dtype and device.",
        )  # fmt: skip


def check_normal(weight: Tensor, scale: float, name: str) -> None:
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
        math.isfinite(std) and abs(mean) <= 6 * scale / math.sqrt(n), name,
        f"mean {mean:.3g}, expected 0 (N(0, weight_scale ** 2)).",
        hint="use torch.randn (mean 0), not torch.rand (uniform on [0, 1)).",
    )  # fmt: skip
    allowed = 6 / math.sqrt(2 * n)
    compare.that(
        abs(std / scale - 1) <= allowed, name,
        f"standard deviation {std:.4g}, expected weight_scale = {scale:g} (within {allowed:.1%}).",
        hint=hint + " The standard deviation is weight_scale, not weight_scale ** 2.",
    )  # fmt: skip
    kurtosis = float(((w - mean) ** 4).mean()) / std**4
    allowed = 6 * math.sqrt(24 / n)
    compare.that(
        abs(kurtosis - 3) <= allowed, name,
        f"the values do not look normally distributed (kurtosis {kurtosis:.2f}, a normal has 3).", hint=hint,
    )  # fmt: skip


def check_init_statistics(ctx: Context, cls: str, *args: Any, weight_scale: float, **kwargs: Any) -> None:
    """The student's ``cls(*args, **kwargs)``: float32 layout, and every weight ~ N(0, weight_scale ** 2)."""
    model, case = construct(ctx, cls, *args, **kwargs, weight_scale=weight_scale)
    params = ctx.student.get(model, "params")
    dims = dims_of(cls, args, kwargs)
    check_param_layout(params, dims, torch.float32, case)
    for i in range(1, len(dims)):
        check_normal(params[f"W{i}"], weight_scale, f"params['W{i}'] ({case})")


def check_init_layout(
    ctx: Context, cls: str, *args: Any, dtype: torch.dtype | None = None, **kwargs: Any
) -> None:
    """The student's ``cls(*args, **kwargs)`` has the parameter layout of :func:`check_param_layout`."""
    model, case = construct(ctx, cls, *args, dtype=dtype, **kwargs)
    params = ctx.student.get(model, "params")
    check_param_layout(params, dims_of(cls, args, kwargs), dtype or torch.float32, case)


# -- assignment 1: loss of a model holding given parameters --------------------------------------

MODEL_LOSS_HINT = "loss = softmax_loss(scores, y)[0] + 0.5 * reg * (sum of squared entries of every W)."
MODEL_GRAD_HINTS = {
    "W": "backpropagate dscores through the layers in reverse order, then add reg * W.",
    "b": "db sums the upstream gradient over the batch; biases get no reg term.",
}


def model_case(cls: str, dims: Sequence[int], X: Tensor, reg: float) -> str:
    """How a model's loss case is named: the hidden sizes of a FullyConnectedNet, X and reg."""
    hidden = {} if cls == "TwoLayerNet" else {"hidden_dims": list(dims[1:-1])}
    return compare.case(**hidden, X=X, reg=reg)


def check_model_loss(
    ctx: Context, cls: str, dims: Sequence[int], params: dict[str, Tensor], X: Tensor, y: Tensor | None,
    reg: float, expected: Any, sent: Any = None,
) -> None:  # fmt: skip
    """Run the student's ``cls.loss`` on a model holding ``params``; compare the scores (y None) or
    (loss, grads) with ``expected``, naming the usual cause of a difference. ``sent``: what the
    child receives as X when not X itself (a child-side view of it)."""
    case = model_case(cls, dims, X, reg)
    model = student_model(ctx, cls, settings_of(cls, dims, reg), params, reset_attributes=True)
    inputs = (X if sent is None else sent,) + (() if y is None else (y,))
    result = ctx.student.call_method(model, "loss", *inputs)
    if y is not None:
        compare_loss_and_grads(
            result,
            expected,
            case,
            X.dtype,
            hint=MODEL_LOSS_HINT,
            grad_hint=MODEL_GRAD_HINTS,
            params=params,
            reg=reg,
        )
        return
    compare.tensor(
        result, expected, f"scores ({case})", dtype=X.dtype, **compare.tolerance(expected.dtype),
        hint="with y=None return the (N, C) scores of the last Linear layer (no ReLU after it, no "
        "softmax), not (loss, grads).",
    )  # fmt: skip


def expected_model_loss(
    ctx: Context,
    cls: str,
    dims: Sequence[int],
    params: dict[str, Tensor],
    X: Tensor,
    y: Tensor | None,
    reg: float,
) -> Any:
    """Stored reference output of ``cls.loss`` for these fixed inputs: scores, or (loss, grads)."""
    settings = settings_of(cls, dims, reg)
    if y is None:
        return ctx.expected("scores", lambda ref: reference_model(ref, cls, settings, params).loss(X))
    return ctx.expected("loss", lambda ref: reference_model(ref, cls, settings, params).loss(X, y))


def stored_model_loss(
    ctx: Context, cls: str, dims: Sequence[int], X: Tensor, y: Tensor | None, reg: float, seed: int,
    sent: Handle | None = None,
) -> None:  # fmt: skip
    """:func:`check_model_loss` on parameters drawn with ``seed`` (of X's dtype), against the
    stored reference."""
    params = net_params(dims, seed=seed, dtype=X.dtype)
    expected = expected_model_loss(ctx, cls, dims, params, X, y, reg)
    check_model_loss(ctx, cls, dims, params, X, y, reg, expected, sent)
