"""course_lib: the library students complete during the course.

Given modules (complete, shipped as is):

* ``solver``    — :class:`~course_lib.solver.Solver`, the training loop with checkpoints.
* ``gradcheck`` — numeric gradients and ``rel_error`` for checking backward passes.
* ``data``      — CIFAR-10 (downloaded and cached) and the offline digits dataset.
* ``vis``       — training curves and first-layer weight images.

Task modules (students implement them):

* ``layers``    — forward/backward passes of the layers.
* ``fc_net``    — fully connected networks built from the layers.
* ``optim``     — update rules such as ``sgd``, used by the Solver by name.

Import what you need explicitly, e.g. ``from course_lib.solver import Solver``; importing the
package itself loads nothing else.
"""
