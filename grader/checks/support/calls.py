"""Calling the student's code from a check: results unpacked with a message, inputs kept in the
child to catch in-place edits, and backward passes given the cache of the student's own forward."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from grader.checks import compare
from grader.checks.compare import CheckFailure
from grader.checks.context import Context
from grader.sandbox.protocol import Handle
from grader.sandbox.session import StudentError

Tensor = torch.Tensor

IN_PLACE_HINT = (
    "inputs must not be modified in place (x[x < 0] = 0, x -= ..., dout *= ..., clamp_, masked_fill_, "
    "resize_ ...): compute new tensors instead."
)


def unpack(result: Any, count: int, what: str, case: str, hint: str) -> tuple[Any, ...]:
    """``result`` if it is a tuple of ``count`` items, else a failure naming ``what`` and ``case``."""
    compare.structure(result, tuple, count, f"{what} ({case})", hint=hint)
    return result


def compare_unchanged(ctx: Context, handle: Handle, original: Tensor, name: str, hint: str) -> None:
    """Fail unless the child-side tensor behind ``handle`` (from ``ctx.student.keep``) still equals
    ``original`` exactly, i.e. the student's code did not modify its input in place."""
    compare.tensor(ctx.student.read(handle), original, name, atol=0, rtol=0, hint=hint)


def call_keeping_inputs(ctx: Context, target: str, named: Sequence[tuple[str, Any]], case: str) -> Any:
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
        compare.tensor(
            ctx.student.read(handle), sent, f"{name} after {target.removeprefix('layers.')}({case})",
            dtype=sent.dtype, **compare.EXACT, hint=IN_PLACE_HINT,
            shape_hint="inputs must not be reshaped in place (resize_): use x.reshape(...) instead.",
        )  # fmt: skip
    return result


def invoke(ctx: Context, target: str, named: Sequence[tuple[str, Any]], case: str, keep_inputs: bool) -> Any:
    """Call the student's ``target``; with ``keep_inputs`` also check that no input changed."""
    if keep_inputs:
        return call_keeping_inputs(ctx, target, named, case)
    return ctx.student.call(target, *(value for _, value in named))


# Backward checks grade the pair: the cache comes from the student's own forward on the same
# inputs (its layout is private to the student), or has the documented layout when that forward's
# output is wrong, so that a forward bug costs the forward's points only.


@dataclass(frozen=True)
class Cache:
    """What a backward is given: the cache of one forward call."""

    value: Any
    #: '' for the student's own cache, else why the documented layout is used
    note: str


def documented(forward: str, layout: str = "") -> str:
    """The note of a documented cache given because ``forward`` is wrong; ``layout`` names it."""
    return f"your {forward} does not pass its checks, so the documented cache{layout} was used"


def own_cache(ctx: Context, forward: Callable[[], Any], check_out: Callable[[Any], None],
              fallback: Callable[[], Cache]) -> Cache:  # fmt: skip
    """The cache of the student's ``forward()`` (which returns (out, cache)) when ``check_out(out)``
    passes, else ``fallback()`` (the documented cache and its note)."""
    try:
        result = forward()
        compare.structure(result, tuple, 2, "forward")
        check_out(result[0])
        return Cache(result[1], "")
    except (CheckFailure, StudentError):
        return fallback()


def own_layer_cache(
    ctx: Context, forward: str, args: Sequence[Any], want: Tensor, documented_cache: Any
) -> Cache:
    """The cache of the student's ``layers.<forward>(*args)`` when its out matches ``want``, else
    ``documented_cache``."""
    return own_cache(
        ctx,
        lambda: ctx.student.call(f"layers.{forward}", *args),
        lambda out: compare.tensor(out, want, forward, dtype=want.dtype, **compare.tolerance(want.dtype)),
        lambda: Cache(documented_cache, documented(forward)),
    )


def with_note(case: str, cache: Cache) -> str:
    """``case``, followed by why the documented cache was used (if it was)."""
    return f"{case}; {cache.note}" if cache.note else case


def call_backward(
    ctx: Context, backward: str, dout: Any, cache: Cache, case: str, keep_inputs: bool = False
) -> Any:
    """The student's ``layers.<backward>(dout, cache)``; with ``keep_inputs`` no input may change.
    An exception on the documented cache (given because the forward is wrong) says so."""
    named = [("dout", dout), ("cache", cache.value)]
    try:
        return invoke(ctx, f"layers.{backward}", named, case, keep_inputs)
    except StudentError as error:
        if not cache.note or error.type_name == "NotImplementedError":
            raise
        from grader.checks.engine import explain  # the runner imports the checks: import at call time

        raise CheckFailure(f"{backward} ({case}): with that cache {explain(error)}.") from None
