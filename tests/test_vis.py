"""Tests of course_lib.vis: figures are built and render with the Agg backend."""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_lib import vis


def _history(epochs: int, scale: float) -> SimpleNamespace:
    return SimpleNamespace(
        loss_history=[2.3 * scale / (1 + t) for t in range(10 * epochs)],
        train_acc_history=[min(1.0, 0.2 * e * scale) for e in range(1, epochs + 1)],
        val_acc_history=[min(1.0, 0.15 * e * scale) for e in range(1, epochs + 1)],
    )


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def agg():
    matplotlib.use("Agg")


def test_plot_training_one_solver():
    fig = vis.plot_training(_history(3, 1.0), title="run")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [len(ax.lines) for ax in fig.axes] == [1, 1, 1]
    assert _render(fig).startswith(b"\x89PNG")


def test_plot_training_several_solvers_with_legend():
    fig = vis.plot_training({"lr 1e-3": _history(3, 1.0), "lr 1e-2": _history(5, 0.5)})
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 2]
    legend = fig.axes[2].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["lr 1e-3", "lr 1e-2"]
    assert _render(fig).startswith(b"\x89PNG")


@pytest.mark.parametrize(("image_shape", "units"), [((8, 8), 10), ((1, 8, 8), 7), ((3, 32, 32), 5)])
def test_show_weights_grid(image_shape, units):
    W1 = torch.randn(int(np.prod(image_shape)), units)
    fig = vis.show_weights(W1, image_shape)
    image = fig.axes[0].get_images()[0].get_array()
    side = image_shape[-1]
    cols = int(np.ceil(np.sqrt(units)))
    rows = int(np.ceil(units / cols))
    assert image.shape[:2] == (rows * (side + 1) - 1, cols * (side + 1) - 1)
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert _render(fig).startswith(b"\x89PNG")


def test_show_weights_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="prod"):
        vis.show_weights(np.zeros((65, 3)), (8, 8))
    with pytest.raises(ValueError, match="image_shape"):
        vis.show_weights(np.zeros((64, 3)), (4, 4, 4))
