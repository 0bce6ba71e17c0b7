"""Helpers shared by the check modules of several assignments."""

from __future__ import annotations

import zlib
from typing import Any

import torch

from grader.checks import compare
from grader.checks.context import Context
from grader.sandbox.protocol import Handle
from grader.sandbox.session import StudentError


def seed_of(name: str) -> int:
    """A fixed seed per name (stable across runs and Python versions)."""
    return zlib.crc32(name.encode())


def compare_unchanged(ctx: Context, handle: Handle, original: torch.Tensor, name: str, hint: str) -> None:
    """Fail unless the child-side tensor behind ``handle`` (from ``ctx.student.keep``) still equals
    ``original`` exactly, i.e. the student's code did not modify its input in place."""
    compare.tensor(ctx.student.read(handle), original, name, atol=0, rtol=0, hint=hint)


def student_net(
    ctx: Context, hidden: list[int], input_dim: int, classes: int, p: float, seed: int | None, reg: float,
    params: dict[str, torch.Tensor], dtype: torch.dtype = torch.float64,
) -> Handle:  # fmt: skip
    """A FullyConnectedNet of the student's class holding ``params``.

    It is built with the student's ``__init__`` when that works (so attributes their ``loss`` may
    rely on exist); when ``__init__`` raises (not implemented yet, or a bug: another task) the object
    is created without it and given the attributes the contract's ``__init__`` sets, so a loss check
    never loses points for the constructor.
    """
    settings: dict[str, Any] = dict(input_dim=input_dim, num_classes=classes, dropout=p, reg=reg, seed=seed)
    try:
        model = ctx.student.call("fc_net.FullyConnectedNet", list(hidden), **settings, dtype=dtype)
    except StudentError:
        cls = ctx.student.call("fc_net.FullyConnectedNet.mro")[0]
        model = ctx.student.call("fc_net.FullyConnectedNet.__new__", cls)
        dropout_param: dict[str, Any] = {"mode": "train", "p": p}
        if seed is not None:
            dropout_param["seed"] = seed
        attributes = {
            "hidden_dims": list(hidden), "input_dim": input_dim, "num_classes": classes,
            "num_layers": len(hidden) + 1, "use_dropout": p > 0, "reg": reg, "weight_scale": 1e-2,
            "dtype": dtype, "device": "cpu", "dropout_param": dropout_param,
        }  # fmt: skip
        for name, value in attributes.items():
            ctx.student.set(model, name, value)
    ctx.student.set(model, "params", {k: v.clone() for k, v in params.items()})
    return model
