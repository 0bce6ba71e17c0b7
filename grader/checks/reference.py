"""The instructor's reference implementation (parent side only) and stored reference outputs.

``ReferenceLib`` imports ``solutions/course_lib`` (with the given modules) under a private
package name inside the grader's process; it never enters a sandbox. ``ReferenceStore`` keeps
each check's expected values in ``grader/reference/<visibility>/<assignment>.npz`` (plain
arrays plus a JSON structure entry: loadable with ``allow_pickle=False``).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import math
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader import paths

PACKAGE = "_grader_reference_course_lib"
_STRUCTURE = "__structure__"


class ReferenceLib:
    """``solutions/course_lib`` importable as modules: ``ref.layers``, ``ref.fc_net``, ..."""

    def __init__(self, solution_dir: Path = paths.SOLUTION_LIB, given_dir: Path = paths.COURSE_LIB) -> None:
        if PACKAGE not in sys.modules:
            spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
            package = importlib.util.module_from_spec(spec)
            package.__path__ = [str(solution_dir), str(given_dir)]
            sys.modules[PACKAGE] = package
        self.package = sys.modules[PACKAGE]

    def __getattr__(self, module: str) -> types.ModuleType:
        if module.startswith("_"):
            raise AttributeError(module)
        return importlib.import_module(f"{PACKAGE}.{module}")

    def resolve(self, target: str) -> Any:
        module, _, attr = target.partition(".")
        value: Any = getattr(self, module)
        for part in attr.split("."):
            value = getattr(value, part)
        return value

    def call(self, target: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run ``target`` (e.g. ``layers.Linear.forward``) of the reference implementation."""
        return self.resolve(target)(*args, **kwargs)

    def callables(self, module: str) -> list[str]:
        """Public functions and static methods of a module, as proxy names (``Linear.forward``)."""
        names = []
        loaded = getattr(self, module)
        for name, value in vars(loaded).items():
            if name.startswith("_") or getattr(value, "__module__", None) != loaded.__name__:
                continue
            if inspect.isfunction(value):
                names.append(name)
            elif inspect.isclass(value):
                names += [
                    f"{name}.{method}"
                    for method, member in vars(value).items()
                    if isinstance(member, staticmethod) and not method.startswith("_")
                ]
        return names


def load_reference() -> ReferenceLib | None:
    """The reference implementation, or None where ``solutions/`` is absent (a student bundle)."""
    present = all((paths.SOLUTION_LIB / f"{m}.py").exists() for m in paths.TASK_MODULES)
    return ReferenceLib() if present else None


def _flatten(prefix: str, value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, torch.Tensor):
        arrays[prefix] = value.detach().cpu().numpy()
        return {"tensor": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, bool | int | float | str) or value is None:
        return {"number": value}
    if isinstance(value, tuple | list):
        items = [_flatten(f"{prefix}/{i}", item, arrays) for i, item in enumerate(value)]
        return {type(value).__name__: items}
    if isinstance(value, dict):
        return {"dict": {key: _flatten(f"{prefix}/{key}", item, arrays) for key, item in value.items()}}
    raise TypeError(f"cannot store a reference value of type {type(value).__name__}")


def _unflatten(prefix: str, spec: dict[str, Any], arrays: Any) -> Any:
    ((kind, content),) = spec.items()
    if kind == "tensor":
        return torch.from_numpy(np.array(arrays[prefix])).to(getattr(torch, content))
    if kind == "number":
        return content
    if kind in ("tuple", "list"):
        items = [_unflatten(f"{prefix}/{i}", item, arrays) for i, item in enumerate(content)]
        return tuple(items) if kind == "tuple" else items
    return {key: _unflatten(f"{prefix}/{key}", item, arrays) for key, item in content.items()}


#: How closely a value recomputed here must match the one stored on another machine, by dtype:
#: (relative tolerance, tolerance relative to the largest magnitude in the same stored value: a
#: gradient that cancels to about 0, such as a bias's in front of batchnorm, is rounding noise of
#: the size of the other tensors it was computed with).
#: Float kernels differ between CPUs in the last bits (vector width, FMA, summation order), so
#: floating-point values are never compared bit for bit; the bounds are a few float32 ulps
#: (eps 1.2e-7) and a few thousand float64 ulps (eps 2.2e-16), at least 10x tighter than any
#: check's own tolerance (float32 checks allow 1e-5 relative, float64 ones 1e-8). Integers,
#: bools, strings, shapes, dtypes and structure must reproduce exactly.
REPRODUCE_TOLERANCE: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1e-2, 1e-2),
    torch.float32: (1e-6, 1e-6),
    torch.float64: (1e-12, 1e-12),
}
#: Python floats are computed by the checks in float64 but may come from a float32 tensor.
FLOAT_TOLERANCE = REPRODUCE_TOLERANCE[torch.float32]


def _largest_magnitude(value: Any) -> float:
    """The largest finite magnitude among the floating-point tensors of a stored value."""
    if isinstance(value, torch.Tensor):
        finite = value[torch.isfinite(value)] if value.is_floating_point() else value[:0]
        return float(finite.abs().max()) if finite.numel() else 0.0
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, tuple | list):
        return max((_largest_magnitude(item) for item in value), default=0.0)
    return 0.0


def _close(fresh: torch.Tensor, stored: torch.Tensor, scale: float) -> bool:
    rtol, scale_tol = REPRODUCE_TOLERANCE.get(stored.dtype, (0.0, 0.0))
    if rtol == 0.0:
        return bool(torch.equal(fresh, stored))
    a, b = fresh.double(), stored.double()
    finite = torch.isfinite(b)
    if not torch.equal(torch.isfinite(a), finite):
        return False
    if not torch.equal(a[~finite].nan_to_num(nan=0.0), b[~finite].nan_to_num(nan=0.0)):
        return False  # NaN, +inf and -inf each where the stored value has one
    a, b = a[finite], b[finite]
    return bool(((a - b).abs() <= rtol * b.abs() + scale_tol * scale).all())


def values_equal(fresh: Any, stored: Any, scale: float | None = None) -> bool:
    """``fresh`` reproduces ``stored``: same structure, types, shapes and dtypes; values equal
    up to :data:`REPRODUCE_TOLERANCE` (floating point) or exactly (everything else). ``scale``:
    the largest magnitude in the whole stored value (computed here when not given)."""
    if scale is None:
        scale = _largest_magnitude(stored)
    if isinstance(fresh, torch.Tensor) or isinstance(stored, torch.Tensor):
        return (
            isinstance(fresh, torch.Tensor)
            and isinstance(stored, torch.Tensor)
            and fresh.shape == stored.shape
            and fresh.dtype == stored.dtype
            and _close(fresh, stored, scale)
        )
    if isinstance(fresh, tuple | list | dict) or isinstance(stored, tuple | list | dict):
        if type(fresh) is not type(stored) or len(fresh) != len(stored):
            return False
        if isinstance(fresh, dict):
            return fresh.keys() == stored.keys() and all(
                values_equal(fresh[k], stored[k], scale) for k in fresh
            )
        return all(values_equal(x, y, scale) for x, y in zip(fresh, stored, strict=True))
    if type(fresh) is float and type(stored) is float:
        rtol, _ = FLOAT_TOLERANCE
        both_nan = math.isnan(fresh) and math.isnan(stored)
        return both_nan or fresh == stored or abs(fresh - stored) <= rtol * abs(stored)
    return type(fresh) is type(stored) and fresh == stored


class ReferenceStore:
    """Expected values per check, in one of three modes.

    ``grade``: read the stored value (computing it only if missing and the reference exists).
    ``record``: compute every value from the reference and remember it for :meth:`save`; a stored
    value that still reproduces is kept as it is, so regenerating on another CPU changes nothing.
    ``verify``: compute and compare with the stored value; differences land in ``mismatches``,
    and :meth:`unused` lists stored values no check asked for.
    """

    def __init__(
        self, mode: str = "grade", reference: ReferenceLib | None = None, root: Path = paths.REFERENCE
    ):
        if mode not in ("grade", "record", "verify"):
            raise ValueError(mode)
        if mode != "grade" and reference is None:
            raise ValueError(f"mode {mode!r} needs the reference implementation (solutions/)")
        self.mode, self.reference, self.root = mode, reference, root
        self.loaded: dict[str, tuple[dict[str, Any], Any]] = {}
        self.recorded: dict[str, dict[str, Any]] = {}
        self.asked: dict[str, set[str]] = {}
        self.mismatches: list[str] = []

    def _stored(self, file: str) -> tuple[dict[str, Any], Any]:
        if file not in self.loaded:
            path = self.root / file
            if path.exists():
                with np.load(path, allow_pickle=False) as archive:  # decompressed once, not per read
                    arrays = {name: archive[name] for name in archive.files}
                self.loaded[file] = (json.loads(str(arrays[_STRUCTURE])), arrays)
            else:
                self.loaded[file] = ({}, {})
        return self.loaded[file]

    def value(self, file: str, key: str, compute: Callable[[ReferenceLib], Any]) -> Any:
        structure, arrays = self._stored(file)
        if self.mode == "grade":
            if key in structure:
                return _unflatten(key, structure[key], arrays)
            if self.reference is None:
                raise LookupError(f"no stored reference for {key}; run: python -m grader references")
            return compute(self.reference)
        assert self.reference is not None
        fresh = compute(self.reference)
        self.asked.setdefault(file, set()).add(key)
        if self.mode == "record":
            stored = _unflatten(key, structure[key], arrays) if key in structure else None
            keep = key in structure and values_equal(fresh, stored)
            self.recorded.setdefault(file, {})[key] = stored if keep else fresh
        elif key not in structure:
            self.mismatches.append(f"{file}: {key} is not stored")
        elif not values_equal(fresh, _unflatten(key, structure[key], arrays)):
            self.mismatches.append(f"{file}: {key} does not reproduce")
        return fresh

    def unused(self) -> list[str]:
        """Stored keys of the files checks read that no check asked for (renamed or removed)."""
        return [
            f"{file}: {key} is stored but no check asks for it"
            for file, keys in sorted(self.asked.items())
            for key in sorted(set(self._stored(file)[0]) - keys)
        ]

    def _unchanged(self, file: str, values: dict[str, Any]) -> bool:
        structure, arrays = self._stored(file)
        return set(values) == set(structure) and all(
            values_equal(value, _unflatten(key, structure[key], arrays)) for key, value in values.items()
        )

    def save(self) -> list[Path]:
        """Write every recorded file whose values changed (record mode); returns the paths written."""
        written = []
        for file, values in sorted(self.recorded.items()):
            if self._unchanged(file, values):
                continue
            arrays: dict[str, np.ndarray] = {}
            structure = {key: _flatten(key, value, arrays) for key, value in sorted(values.items())}
            arrays[_STRUCTURE] = np.array(json.dumps(structure, sort_keys=True))
            path = self.root / file
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, **arrays)
            written.append(path)
        return written
