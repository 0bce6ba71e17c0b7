"""Strict, reference-based comparisons with messages a student can act on.

Every comparison happens in the grader's process on values decoded from the child, in float64:
``|actual - expected| <= atol + rtol * |expected|`` elementwise, after checking the type is
exactly ``torch.Tensor`` (or a real number), the shape, the dtype kind and finiteness.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from grader.sandbox.protocol import Handle


class CheckFailure(AssertionError):
    """A check found the student's output wrong; the message is shown to the student."""


# Tolerances of every check (``|actual - expected| <= atol + rtol * |expected|``). Each bound only
# absorbs rounding: any formula error the checks look for is orders of magnitude larger.

#: float64 against an exact reference or oracle: another order of the same operations differs by a
#: few ulps (eps 2.2e-16), amplified at most ~10x (e.g. by 1 / sqrt(var + eps)).
F64: dict[str, float] = {"atol": 1e-10, "rtol": 1e-8}
#: float32 results of products and reductions (layers, networks, normalization): a student may sum
#: in another order; float32 rounding (eps 1.2e-7) over a few dozen terms stays well below this.
F32: dict[str, float] = {"atol": 1e-5, "rtol": 1e-4}
#: float32 results of fewer than ten elementwise roundings (update rules, dropout), of order 1: wrong
#: formulas and dtypes are >= 1e-3 relative.
F32_ELEMENTWISE: dict[str, float] = {"atol": 1e-6, "rtol": 1e-5}
#: float32 seeded weights ``torch.randn(...) * weight_scale``, whatever the order of the two factors.
F32_SEEDED: dict[str, float] = {"atol": 1e-7, "rtol": 1e-6}
#: float64 values one or two roundings away from the expected ones (a product with a mask).
F64_ROUNDING: dict[str, float] = {"atol": 1e-12, "rtol": 1e-12}
#: Values that must come back bit for bit (inputs returned unchanged, zero biases, state left alone).
EXACT: dict[str, float] = {"atol": 0.0, "rtol": 0.0}
#: Relative error of a value after a few roundings in its own dtype (a kept unit x / (1 - p)).
ROUNDING_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-12, torch.float32: 1e-6}
#: How close a wrong answer must come to a known-wrong variant for its hint to be chosen: only
#: chooses a hint, so looser than the checks themselves (float32: rounding).
HINT_MATCH: dict[torch.dtype, dict[str, float]] = {
    torch.float64: {"atol": 1e-9, "rtol": 1e-6},
    torch.float32: {"atol": 1e-6, "rtol": 1e-4},
}


def tolerance(dtype: torch.dtype) -> dict[str, float]:
    """F64 for float64 results, else F32 (products and reductions in single precision)."""
    return F64 if dtype == torch.float64 else F32


def case(**values: Any) -> str:
    """How an input case is named in messages, e.g. ``x of shape (4, 2, 3) float32, p=0.5, mode='train'``.

    Tensors by shape (and dtype unless float64 or int64), strings by repr, floats in ``g`` format,
    anything else as ``str`` gives it (ints, lists, None).
    """
    parts = []
    for name, value in values.items():
        if isinstance(value, torch.Tensor):
            kind = "" if value.dtype in (torch.float64, torch.int64) else f" {str(value.dtype)[6:]}"
            parts.append(f"{name} of shape {tuple(value.shape)}{kind}")
        elif isinstance(value, str):
            parts.append(f"{name}={value!r}")
        elif isinstance(value, float):
            parts.append(f"{name}={value:g}")
        else:
            parts.append(f"{name}={value}")
    return ", ".join(parts)


def dtype_kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype.is_floating_point:
        return "float"
    if dtype.is_complex:
        return "complex"
    return "integer"


def describe(value: Any) -> str:
    """Short description of a value's type for messages (never its contents)."""
    if isinstance(value, Handle):
        return f"an object of type {value.type}"
    if type(value) is torch.Tensor:
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _fail(name: str, what: str, hint: str | None) -> None:
    raise CheckFailure(f"{name}: {what}" + (f" Hint: {hint}" if hint else ""))


def _difference(expected: float, actual: float) -> str:
    """'expected E, got A (error)' with enough digits that E and A visibly differ."""
    diff = abs(actual - expected)
    relative = diff / abs(expected) if expected != 0 else math.inf
    digits = 6 if relative >= 1e-5 else min(17, 3 + math.ceil(-math.log10(max(relative, 1e-17))))
    error = f"relative error {relative:.2e}" if expected != 0 else f"absolute difference {diff:.3g}"
    return f"expected {expected:.{digits}g}, got {actual:.{digits}g} ({error}"


def _format_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def tensor(
    actual: Any,
    expected: torch.Tensor,
    name: str,
    *,
    atol: float,
    rtol: float,
    dtype: torch.dtype | None = None,
    hint: str | None = None,
    shape_hint: str | None = None,
) -> None:
    """Fail unless ``actual`` is a plain tensor matching ``expected`` within tolerance.

    ``dtype``, when given, must match exactly (e.g. the contract "returns x's dtype");
    otherwise only the dtype kind (float / integer / bool) must match ``expected``'s.
    """
    if type(actual) is not torch.Tensor:
        _fail(
            name, f"expected a torch.Tensor of shape {tuple(expected.shape)}, got {describe(actual)}.", hint
        )
    if actual.shape != expected.shape:
        _fail(name, f"shape {tuple(actual.shape)}, expected {tuple(expected.shape)}.", shape_hint or hint)
    if dtype is not None and actual.dtype != dtype:
        _fail(name, f"dtype {actual.dtype}, expected {dtype}.", "keep the input's dtype; do not convert.")
    if dtype_kind(actual.dtype) != dtype_kind(expected.dtype):
        _fail(name, f"dtype {actual.dtype} is not a {dtype_kind(expected.dtype)} type.", hint)
    got = actual.to(torch.float64)
    want = expected.to(torch.float64)
    if got.numel() == 0:
        return
    finite = torch.isfinite(got)
    if not bool(finite.all()):
        index = tuple(int(i) for i in torch.nonzero(~finite)[0])
        _fail(
            name,
            f"{int((~finite).sum())} non-finite value(s); first at {_format_index(index)}: {got[index].item()} "
            f"(expected {want[index].item():.6g}).",
            hint or "look for overflow (exp of large numbers) or division by zero.",
        )
    error = (got - want).abs()
    allowed = atol + rtol * want.abs()
    excess = error - allowed
    worst_flat = int(torch.argmax(excess))
    if float(excess.reshape(-1)[worst_flat]) <= 0:
        return
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst_flat), got.shape))
    bad = int((excess > 0).sum())
    where = _format_index(index) if got.dim() else "(scalar)"
    _fail(
        name,
        f"{bad} of {got.numel()} value(s) out of tolerance; worst at {where}: "
        f"{_difference(float(want[index]), float(got[index]))}; allowed |diff| <= {atol:g} + {rtol:g}*|expected|).",
        hint,
    )


def scalar(
    actual: Any, expected: float, name: str, *, atol: float, rtol: float, hint: str | None = None
) -> None:
    """Fail unless ``actual`` is a real number (or 0-dim float tensor) close to ``expected``."""
    if (type(actual) is torch.Tensor and actual.dim() == 0 and actual.dtype.is_floating_point) or type(
        actual
    ) in (float, int):
        value = float(actual)
    else:
        _fail(name, f"expected a number (or a 0-dim float tensor), got {describe(actual)}.", hint)
    if not math.isfinite(value):
        _fail(name, f"got {value} (expected {expected:.6g}).", hint or "look for overflow or log(0).")
    if abs(value - expected) > atol + rtol * abs(expected):
        _fail(name, f"{_difference(expected, value)}).", hint)


def structure(actual: Any, kind: type, length: int | None, name: str, hint: str | None = None) -> None:
    """Fail unless ``actual`` is exactly of ``kind`` (tuple, list or dict) with ``length`` items."""
    if type(actual) is not kind:
        _fail(name, f"expected a {kind.__name__}, got {describe(actual)}.", hint)
    if length is not None and len(actual) != length:
        _fail(name, f"expected a {kind.__name__} of {length} items, got {len(actual)}.", hint)


def keys(actual: dict[str, Any], expected: set[str], name: str, hint: str | None = None) -> None:
    """Fail unless the dict has exactly the ``expected`` keys."""
    missing, extra = expected - set(actual), set(actual) - expected
    if missing or extra:
        parts = [
            f"missing {sorted(missing)}" if missing else "",
            f"unexpected {sorted(extra)}" if extra else "",
        ]
        _fail(name, "keys differ: " + ", ".join(p for p in parts if p) + ".", hint)


def that(condition: bool, name: str, what: str, hint: str | None = None) -> None:
    """Fail with ``what`` unless ``condition`` holds (for property checks)."""
    if not condition:
        _fail(name, what, hint)
