"""The tasks students implement: which module holds each, and what grading it substitutes.

``uses``: modules of ``course_lib`` (``"layers"``) or classes in the task's own module
(``"layers.Linear"``) that the task calls; while the task is graded they are replaced by the
reference implementation (through callbacks to the grader), so a bug in an earlier task costs
its own points only. ``recorders``: classes replaced by stand-ins that only
record their constructor arguments (for tasks that configure a model rather than run it).
A test checks that this table names exactly the tasks marked in ``solutions/course_lib``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    module: str
    uses: tuple[str, ...] = ()
    recorders: tuple[str, ...] = ()

    @property
    def grade_id(self) -> str:
        """The nbgrader grade_id of this task's check cell: nbgrader ids allow only
        ``[A-Za-z0-9_-]``, so ``Linear.forward`` becomes ``Linear-forward``."""
        return self.name.replace(".", "-")


_LAYER_TASKS = [
    "Linear.forward", "Linear.backward", "ReLU.forward", "ReLU.backward",
    "Linear_ReLU.forward", "Linear_ReLU.backward", "softmax_loss", "svm_loss",
    "Dropout.forward", "Dropout.backward",
    "BatchNorm.forward", "BatchNorm.backward", "BatchNorm.backward_alt", "LayerNorm.forward", "LayerNorm.backward",
    "Linear_Norm_ReLU.forward", "Linear_Norm_ReLU.backward",
]  # fmt: skip
_OPTIMIZER_TASKS = ["sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam", "adamw"]

_SANDWICH = ("layers.Linear", "layers.ReLU")
_NORM_SANDWICH = (*_SANDWICH, "layers.BatchNorm", "layers.LayerNorm")


def _layer_uses(name: str) -> tuple[str, ...]:
    """The layers a sandwich layer chains (graded on top of the reference ones)."""
    if name.startswith("Linear_ReLU"):
        return _SANDWICH
    if name.startswith("Linear_Norm_ReLU"):
        return _NORM_SANDWICH
    return ()


TASKS: dict[str, Task] = {
    **{name: Task(name, "layers", uses=_layer_uses(name)) for name in _LAYER_TASKS},
    "TwoLayerNet.__init__": Task("TwoLayerNet.__init__", "fc_net", uses=("layers",)),
    "TwoLayerNet.loss": Task("TwoLayerNet.loss", "fc_net", uses=("layers",)),
    "FullyConnectedNet.__init__": Task("FullyConnectedNet.__init__", "fc_net", uses=("layers",)),
    "FullyConnectedNet.loss": Task("FullyConnectedNet.loss", "fc_net", uses=("layers",)),
    "get_three_layer_network_params": Task("get_three_layer_network_params", "fc_net"),
    "get_five_layer_network_params": Task("get_five_layer_network_params", "fc_net"),
    "create_solver_instance": Task("create_solver_instance", "fc_net", recorders=("fc_net.TwoLayerNet",)),
    "get_capstone_config": Task("get_capstone_config", "fc_net"),
    **{name: Task(name, "optim") for name in _OPTIMIZER_TASKS},
}
