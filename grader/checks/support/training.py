"""Assignment 1's hyperparameter tasks: the overfitting protocol and ``create_solver_instance``.

The reference trains in the grader when it is available (remembered per configuration: a class
often submits the same numbers); on a student machine the student's own model and the given
Solver train in the child.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import json
import math
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from grader import paths
from grader.checks import compare
from grader.checks.context import Context
from grader.sandbox.protocol import Handle

Tensor = torch.Tensor

OVERFIT_SOLVER = {"update_rule": "sgd", "batch_size": 25, "num_epochs": 20}
MAX_EPOCHS = 50
MAX_HIDDEN = 1000
#: iterations x hidden units the grader trains at most (about 3 s): e.g. 50 epochs of
#: hidden_dim 1000 with batch_size >= 25 on the 1297 digits.
MAX_WORK = 3_000_000
SOLVER_TARGET = 0.90
SOLVER_SEED = 0


@contextlib.contextmanager
def training_environment(seed: int) -> Iterator[None]:
    """One thread (tiny matrices are much faster so) and a private global RNG state."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


# -- the overfitting protocol (get_three_layer_network_params, get_five_layer_network_params) ------


@functools.cache
def overfit_data() -> dict[str, Tensor]:
    """The protocol's data: the first 50 digits / 16, float64, centred with their own mean."""
    from course_lib.data import digits_arrays  # a given module: the grader's own copy

    pixels, labels = digits_arrays()
    X = torch.from_numpy(pixels[:50] / 16.0).to(torch.float64)
    X = X - X.mean(dim=0)
    y = torch.from_numpy(labels[:50]).to(torch.int64)
    return {"X_train": X, "y_train": y, "X_val": X, "y_val": y}


def positive_numbers(values: Any, function: str) -> tuple[float, float]:
    """``values`` as (weight_scale, learning_rate): a tuple of two positive Python numbers."""
    name = f"{function}()"
    compare.structure(values, tuple, 2, name, hint="return the tuple (weight_scale, learning_rate).")
    for label, value in zip(("weight_scale", "learning_rate"), values, strict=True):
        number = type(value) in (float, int)
        compare.that(
            number and math.isfinite(value) and value > 0, name,
            f"{label} must be a positive Python float, got " + (repr(value) if number else compare.describe(value)) + ".",
            hint="return plain floats such as 1e-2 (not tensors or numpy numbers).",
        )  # fmt: skip
    return float(values[0]), float(values[1])


def train_overfit(
    ctx: Context, hidden_dims: list[int], ws: float, lr: float, seed: int
) -> tuple[float, float]:
    """Final training accuracy and final loss of the protocol run with ``seed``."""
    if ctx.reference is not None:
        return reference_overfit(ctx.reference, tuple(hidden_dims), ws, lr, seed)
    data = dict(overfit_data())
    model_kwargs = dict(input_dim=64, num_classes=10, weight_scale=ws, seed=seed)
    solver_kwargs = dict(OVERFIT_SOLVER, optim_config={"learning_rate": lr}, verbose=False, seed=seed)
    model = ctx.student.call("fc_net.FullyConnectedNet", hidden_dims, dtype=torch.float64, **model_kwargs)
    solver = ctx.student.call("solver.Solver", model, data, **solver_kwargs)
    ctx.student.call_method(solver, "train", timeout=60)
    return ctx.student.get(solver, "train_acc_history")[-1], ctx.student.get(solver, "loss_history")[-1]


@functools.lru_cache(maxsize=4096)
def reference_overfit(
    reference: Any, hidden_dims: tuple[int, ...], ws: float, lr: float, seed: int
) -> tuple[float, float]:
    """The protocol run on the reference: a pure function of its arguments, so remembered (a
    class often submits the same numbers; a grading worker trains each combination once)."""
    model_kwargs = dict(input_dim=64, num_classes=10, weight_scale=ws, seed=seed)
    solver_kwargs = dict(OVERFIT_SOLVER, optim_config={"learning_rate": lr}, verbose=False, seed=seed)
    with training_environment(seed):
        model = reference.fc_net.FullyConnectedNet(list(hidden_dims), dtype=torch.float64, **model_kwargs)
        solver = reference.solver.Solver(model, dict(overfit_data()), **solver_kwargs)
        solver.train()
    return solver.train_acc_history[-1], solver.loss_history[-1]


def overfit_hint(accuracy: float, last_loss: float) -> str:
    """What a failed overfitting run shows: divergence, no progress, or nearly there."""
    if not math.isfinite(last_loss):
        return "the loss became nan/inf: the learning rate (or the weight scale) is too large."
    if accuracy <= 0.5:
        return (
            "training barely moved: increase the learning rate, or the weight scale (a deep net "
            "with tiny weights passes almost no signal)."
        )
    return "close: try a somewhat larger learning rate or weight scale."


def check_overfit(ctx: Context, function: str, hidden_dims: list[int], seeds: Sequence[int]) -> None:
    """The protocol of ``function``'s docstring: 100% training accuracy for every seed."""
    ws, lr = positive_numbers(ctx.student.call(f"fc_net.{function}"), function)
    layers = len(hidden_dims) + 1
    trainer = (
        "the reference FullyConnectedNet and Solver"
        if ctx.reference is not None
        else "YOUR FullyConnectedNet and the given Solver (no reference solution on this machine)"
    )
    for seed in seeds:
        accuracy, last_loss = train_overfit(ctx, hidden_dims, ws, lr, seed)
        compare.that(
            accuracy >= 1.0, f"{function}() = ({ws:g}, {lr:g})",
            f"the {layers}-layer net reached {accuracy:.0%} training accuracy after 20 epochs with seed "
            f"{seed} (target: 100% on the 50 examples for every seed; trained with {trainer}: sgd, "
            "batch_size 25).",
            hint=overfit_hint(accuracy, last_loss) if accuracy < 1.0 else None,
        )  # fmt: skip


# -- create_solver_instance ------------------------------------------------------------------------


_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Pow: operator.pow}


def _default(node: ast.expr) -> Any:
    """The value of a default written as a literal or constant arithmetic (``3 * 32 * 32``); other
    expressions (``torch.float32``) as their source text."""
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _default(node.left), _default(node.right)
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return _ARITHMETIC[type(node.op)](left, right)
    with contextlib.suppress(ValueError):
        return ast.literal_eval(node)
    return ast.unparse(node)


@functools.cache
def stub_signature(module: str, cls: str) -> inspect.Signature:
    """The signature of ``cls.__init__`` (without self) in the shipped ``course_lib/<module>.py``, read
    with ``ast`` (student code never runs in the grader)."""
    tree = ast.parse((paths.COURSE_LIB / f"{module}.py").read_text())
    (klass,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    (init,) = [n for n in klass.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
    arguments = init.args.posonlyargs + init.args.args
    defaults = [inspect.Parameter.empty] * (len(arguments) - len(init.args.defaults)) + [
        _default(d) for d in init.args.defaults
    ]
    parameters = [
        inspect.Parameter(a.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d)
        for a, d in zip(arguments, defaults, strict=True)
    ][1:]
    return inspect.Signature(parameters)


@functools.cache
def _reference_digits(ref: Any) -> dict[str, Any]:
    return ref.data.load_digits()


def digits(ctx: Context) -> dict[str, Tensor]:
    """The default digits data (train/val splits only)."""
    data = (
        _reference_digits(ctx.reference)
        if ctx.reference is not None
        else ctx.student.call("data.load_digits")
    )
    return {key: data[key] for key in ("X_train", "y_train", "X_val", "y_val")}


def tiny(data: dict[str, Tensor], rows: int = 20, shape: tuple[int, ...] | None = None) -> dict[str, Tensor]:
    """The first ``rows`` examples of every split; X reshaped to (rows, *shape) if given."""
    small = {key: value[:rows] for key, value in data.items()}
    if shape is not None:
        small = {key: v.reshape(rows, *shape) if key.startswith("X") else v for key, v in small.items()}
    return small


def solver_setup(
    ctx: Context, data: dict[str, Tensor], dtype: torch.dtype | None = None
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Call create_solver_instance; returns (TwoLayerNet arguments with the defaults filled in,
    Solver settings, case)."""
    case = f"create_solver_instance(data with X_train {tuple(data['X_train'].shape)})"
    extra = {"dtype": dtype} if dtype is not None else {}
    solver = ctx.student.call("fc_net.create_solver_instance", data, **extra)
    compare.that(
        isinstance(solver, Handle) and solver.type == "Solver", case,
        f"expected a Solver, got {compare.describe(solver)}.", hint="return the (untrained) Solver object.",
    )  # fmt: skip
    settings = {
        name: ctx.student.get(solver, name)
        for name in ("optim_config", "lr_decay", "batch_size", "num_epochs")
    }
    rule = ctx.student.get(solver, "update_rule_name")
    compare.that(type(rule) is str, case, "the Solver's update_rule is not a string.",
                 hint="pass the rule's name, update_rule='sgd', not the function.")  # fmt: skip
    config = settings["optim_config"]
    compare.that(
        type(config) is dict and all(type(v) in (int, float) for v in config.values()), case,
        f"optim_config must be a dict of plain numbers, got {config!r}.", hint="e.g. optim_config={'learning_rate': 1e-3}.",
    )  # fmt: skip
    model = ctx.student.get(solver, "model")
    compare.that(
        isinstance(model, Handle) and model.type == "TwoLayerNet", case,
        f"the Solver's model must be a TwoLayerNet, got {compare.describe(model)}.",
        hint="build the model with TwoLayerNet(...).",
    )  # fmt: skip
    return (
        _bind_two_layer(ctx.student.get(model, "args"), ctx.student.get(model, "kwargs"), case),
        {
            **settings,
            "update_rule": rule,
        },
        case,
    )


def _bind_two_layer(args: Any, kwargs: Any, case: str) -> dict[str, Any]:
    """The recorded TwoLayerNet(*args, **kwargs) call bound to its signature, defaults filled in."""
    try:
        bound = stub_signature("fc_net", "TwoLayerNet").bind(*args, **kwargs)
    except TypeError as error:
        compare.that(False, case, f"TwoLayerNet({error}).", hint="see TwoLayerNet.__init__'s arguments.")
        raise  # not reached: that() raised
    bound.apply_defaults()
    return dict(bound.arguments)


def numbers_of(model_args: dict[str, Any]) -> dict[str, Any]:
    """The TwoLayerNet arguments that are numbers by contract (all but dtype and device)."""
    return {k: v for k, v in model_args.items() if k not in ("dtype", "device")}


def validate_setup(
    model_args: dict[str, Any], settings: dict[str, Any], features: int, rows: int, case: str
) -> None:
    """Reject configurations that are wrong for the data or too expensive to train here."""
    for key, value in numbers_of(model_args).items():
        compare.that(
            type(value) in (int, float),
            case,
            f"TwoLayerNet got {key}={compare.describe(value)}; expected a plain number.",
        )
    input_dim, hidden = model_args["input_dim"], model_args["hidden_dim"]
    compare.that(input_dim == features, case, f"TwoLayerNet(input_dim={input_dim}) but each example has {features} features.",
                 hint="input_dim = product of data_dict['X_train'].shape[1:] (X_train[0].numel()).")  # fmt: skip
    compare.that(
        model_args["num_classes"] == 10, case, f"num_classes={model_args['num_classes']}, expected 10."
    )
    compare.that(type(hidden) is int and 1 <= hidden <= MAX_HIDDEN, case,
                 f"hidden_dim={hidden!r}; the grader trains hidden_dim <= {MAX_HIDDEN}.")  # fmt: skip
    epochs, batch = settings["num_epochs"], settings["batch_size"]
    compare.that(epochs <= MAX_EPOCHS, case, f"num_epochs={epochs}; the target must be reached within {MAX_EPOCHS} epochs.",
                 hint="use a better learning rate / update rule rather than more epochs.")  # fmt: skip
    work = epochs * math.ceil(rows / batch) * hidden
    compare.that(
        work <= MAX_WORK, case,
        f"training would take too long: {epochs} epochs x {math.ceil(rows / batch)} iterations x "
        f"hidden_dim {hidden} = {work:,} > {MAX_WORK:,}.",
        hint="use a larger batch_size, fewer epochs or a smaller hidden layer.",
    )  # fmt: skip
    compare.that("learning_rate" in settings["optim_config"] or settings["lr_decay"] == 1.0, case,
                 "lr_decay needs optim_config['learning_rate'].")  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _reference_setup_accuracy(reference: Any, key: str) -> float:
    """Best validation accuracy of the reference TwoLayerNet + Solver trained on the digits with
    ``key`` = JSON [TwoLayerNet numbers, Solver settings]; remembered like reference_overfit."""
    numbers, solver_kwargs = json.loads(key)
    data = _reference_digits(reference)
    with training_environment(SOLVER_SEED):
        model = reference.fc_net.TwoLayerNet(**numbers, dtype=torch.float32)
        solver = reference.solver.Solver(model, {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")},
                                         **solver_kwargs)  # fmt: skip
        solver.train()
    return solver.best_val_acc


def train_setup(
    ctx: Context, model_args: dict[str, Any], settings: dict[str, Any], data: dict[str, Tensor]
) -> tuple[float, str]:
    """Best validation accuracy of the configured TwoLayerNet + Solver, and who trained it."""
    numbers = numbers_of(model_args)
    solver_kwargs = dict(settings, verbose=False, seed=SOLVER_SEED)
    if ctx.reference is not None:
        key = json.dumps([numbers, solver_kwargs], sort_keys=True)
        return _reference_setup_accuracy(ctx.reference, key), "the reference TwoLayerNet and Solver"
    # On a student machine TwoLayerNet is a recorder here; FullyConnectedNet([H]) is the same net.
    model = ctx.student.call(
        "fc_net.FullyConnectedNet", [numbers["hidden_dim"]], input_dim=numbers["input_dim"],
        num_classes=numbers["num_classes"], weight_scale=numbers["weight_scale"], reg=numbers["reg"], seed=SOLVER_SEED,
    )  # fmt: skip
    solver = ctx.student.call("solver.Solver", model, data, **solver_kwargs)
    ctx.student.call_method(solver, "train", timeout=120)
    trainer = (
        "YOUR FullyConnectedNet([hidden_dim]) and the given Solver (no reference solution on this machine)"
    )
    return ctx.student.get(solver, "best_val_acc"), trainer
