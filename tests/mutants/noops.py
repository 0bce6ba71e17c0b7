"""Submissions that do nothing plausible: every check must fail on at least one of them.

Each no-op replaces the whole solution region of one task by code that returns something of the
right type and shape without doing the work (the input itself, zeros, an unchanged state, a
constructor that creates no parameters). Every check of that task must fail on it: a check that
passes a no-op gives points for inaction.
"""

from __future__ import annotations

from grader.checks import registry
from grader.checks.tasks import TASKS
from tests.mutants import Mutant, region_edit


def noop(task: str, kind: str, body: str, hint: str = "") -> Mutant:
    """A mutant whose region of ``task`` is ``body`` (indented like the region); it must fail
    every check of the task (``hint``: a confirmed cause its messages name)."""
    old, new = region_edit(task, body)
    caught = tuple(sorted(c.name for c in registry.load_checks() if c.task.name == task))
    return Mutant(
        f"noop_{task.replace('.', '_').lower()}_{kind}",
        TASKS[task].module,
        old,
        new,
        caught,
        f"{task}: {kind}",
        hint=hint,
    )


_ZERO_LOSS = "return torch.zeros((), dtype=x.dtype), torch.zeros_like(x)"
_ZERO_GRADS = "x, w, b = cache\nreturn torch.zeros_like(x), torch.zeros_like(w), torch.zeros_like(b)"
_ZERO_MODEL_LOSS = """
scores = torch.zeros(X.shape[0], self.num_classes, dtype=X.dtype, device=X.device)
if y is None:
    return scores
return torch.zeros((), dtype=X.dtype), {k: torch.zeros_like(v) for k, v in self.params.items()}
"""

MUTANTS = [
    noop("Linear.forward", "zeros", "return torch.zeros(x.shape[0], w.shape[1], dtype=x.dtype), (x, w, b)"),
    noop("Linear.backward", "zeros", _ZERO_GRADS),
    noop("ReLU.forward", "identity", "return x, x"),
    noop("ReLU.forward", "zeros", "return torch.zeros_like(x), x"),
    noop("ReLU.backward", "identity", "return dout"),
    noop("ReLU.backward", "zeros", "return torch.zeros_like(dout)"),
    noop(
        "Linear_ReLU.forward",
        "zeros",
        "out, cache = Linear.forward(x, w, b)\nreturn torch.zeros_like(out), cache",
    ),
    noop(
        "Linear_ReLU.backward",
        "zeros",
        "(x, w, b), _ = cache\nreturn torch.zeros_like(x), torch.zeros_like(w), torch.zeros_like(b)",
    ),
    noop("softmax_loss", "zeros", _ZERO_LOSS),
    noop("svm_loss", "zeros", _ZERO_LOSS),
    noop("Dropout.forward", "identity", "return x, (mode, None)", hint="they are not scaled"),
    noop("Dropout.forward", "zeros", "return torch.zeros_like(x), (mode, None)"),
    noop("Dropout.backward", "identity", "return dout"),
    noop("Dropout.backward", "zeros", "return torch.zeros_like(dout)"),
    noop("TwoLayerNet.__init__", "no_params", "pass"),
    noop("TwoLayerNet.loss", "zeros", _ZERO_MODEL_LOSS),
    noop("FullyConnectedNet.__init__", "no_params", "pass"),
    noop("FullyConnectedNet.loss", "zeros", _ZERO_MODEL_LOSS),
    noop("get_three_layer_network_params", "defaults", "return 1e-2, 1e-3"),
    noop("get_five_layer_network_params", "defaults", "return 1e-2, 1e-3"),
    noop("create_solver_instance", "defaults", "return Solver(TwoLayerNet(), data_dict)"),
    *(
        noop(f"{layer}.forward", kind, f"return {out}, (x, x, x.mean(dim=0), x.var(dim=0), gamma, 1e-5)")
        for layer in ("BatchNorm", "LayerNorm")
        for kind, out in (("identity", "x"), ("zeros", "torch.zeros_like(x)"))
    ),
    *(
        noop(task, kind, f"return {dx}, torch.zeros_like(cache[4]), torch.zeros_like(cache[4])")
        for task in ("BatchNorm.backward", "BatchNorm.backward_alt", "LayerNorm.backward")
        for kind, dx in (("identity", "dout"), ("zeros", "torch.zeros_like(dout)"))
    ),
    noop(
        "Linear_Norm_ReLU.forward",
        "zeros",
        "a, linear_cache = Linear.forward(x, w, b)\nreturn torch.zeros_like(a), (normalization, linear_cache, None, None)",
    ),
    noop(
        "Linear_Norm_ReLU.backward",
        "zeros",
        "_, (x, w, b), _, _ = cache\nzero = torch.zeros(w.shape[1], dtype=w.dtype)\n"
        "return torch.zeros_like(x), torch.zeros_like(w), torch.zeros_like(b), zero, zero.clone()",
    ),
    noop("get_capstone_config", "empty", "return {}"),
    *(
        noop(rule, "unchanged", "return w.clone(), config")
        for rule in ("sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam", "adamw")
    ),
]
