"""Assignment 4's capstone: the configuration ``get_capstone_config`` returns and the training budget
it must fit (stated in its docstring and in the notebook). Its accuracy is measured at grading time
by the hidden checks, which train it with the reference implementation."""

from __future__ import annotations

import math
from typing import Any

from grader.checks import compare
from grader.checks.context import Context

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
    """A finite Python int or float."""
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
    """The student's configuration, validated, with defaults filled in."""
    return validated_config(ctx.student.call("fc_net.get_capstone_config"))
