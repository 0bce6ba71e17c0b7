"""Plots for the notebooks. Each function builds a matplotlib Figure (object API, no pyplot state)
and returns it; in Jupyter, a Figure that ends a cell is displayed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .solver import Solver


def plot_training(solvers: Solver | Mapping[str, Solver], title: str | None = None) -> Figure:
    """Training loss per iteration and train / validation accuracy per epoch, side by side.

    Args:
        solvers: one solver or ``{label: solver}`` to compare runs; anything with
            ``loss_history``, ``train_acc_history`` and ``val_acc_history`` lists works.
        title: optional figure title.

    Returns:
        A Figure with three axes (loss, train accuracy, validation accuracy) and a legend.
    """
    from matplotlib.figure import Figure

    runs = solvers if isinstance(solvers, Mapping) else {"solver": solvers}
    fig = Figure(figsize=(13, 4), layout="constrained")
    loss_ax, train_ax, val_ax = fig.subplots(1, 3)
    for label, solver in runs.items():
        loss_ax.plot(solver.loss_history, linewidth=0.8, alpha=0.8, label=label)
        _plot_per_epoch(train_ax, solver.train_acc_history, label)
        _plot_per_epoch(val_ax, solver.val_acc_history, label)
    loss_ax.set(title="Training loss", xlabel="Iteration", ylabel="Loss")
    train_ax.set(title="Train accuracy", xlabel="Epoch", ylabel="Accuracy")
    val_ax.set(title="Validation accuracy", xlabel="Epoch", ylabel="Accuracy")
    val_ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _plot_per_epoch(ax: Any, history: Sequence[float], label: str) -> None:
    """Plot ``history[e]`` at epoch ``e + 1``."""
    ax.plot(range(1, len(history) + 1), history, marker="o", markersize=3, label=label)


def show_weights(W1: Any, image_shape: Sequence[int], padding: int = 1, title: str | None = None) -> Figure:
    """Show each column of first-layer weights as an image, on a grid.

    Args:
        W1: (D, H) tensor or array, D = prod(image_shape); column j is hidden unit j's template.
        image_shape: ``(h, w)`` for grey images (digits: ``(8, 8)``) or ``(c, h, w)`` with c = 1
            or 3 (CIFAR-10: ``(3, 32, 32)``), in the order the inputs were flattened.
        padding: pixels between tiles.
        title: axes title; default mentions the number of units.

    Each tile is min-max scaled on its own, so the patterns (not the magnitudes) are compared.
    """
    from matplotlib.figure import Figure

    weights = torch.as_tensor(W1).detach().cpu().to(torch.float64).numpy()
    if weights.ndim != 2 or weights.shape[0] != math.prod(image_shape) or weights.shape[1] == 0:
        raise ValueError(f"W1 must be (D, H) with D = prod({tuple(image_shape)}) and H >= 1, got {weights.shape}")
    grid = _grid(_tiles(weights.T, tuple(image_shape)), padding)
    rows, cols = grid.shape[:2]
    fig = Figure(figsize=(6, 6 * rows / cols), layout="constrained")
    ax = fig.subplots()
    if grid.shape[2] == 1:
        ax.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_title(title or f"First-layer weights ({weights.shape[1]} units)")
    ax.set_axis_off()
    return fig


def _tiles(filters: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """(H, D) filters -> (H, h, w, c) images, each scaled to [0, 1]."""
    if len(image_shape) == 2:
        images = filters.reshape(-1, *image_shape, 1)
    elif len(image_shape) == 3 and image_shape[0] in (1, 3):
        images = filters.reshape(-1, *image_shape).transpose(0, 2, 3, 1)
    else:
        raise ValueError(f"image_shape must be (h, w) or (c, h, w) with c in (1, 3), got {image_shape}")
    low = images.min(axis=(1, 2, 3), keepdims=True)
    high = images.max(axis=(1, 2, 3), keepdims=True)
    return (images - low) / np.maximum(high - low, 1e-12)


def _grid(tiles: np.ndarray, padding: int) -> np.ndarray:
    """(n, h, w, c) tiles -> one (rows * (h + p) - p, cols * (w + p) - p, c) image, white between."""
    n, h, w, c = tiles.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    padded = np.ones((rows * cols, h + padding, w + padding, c))
    padded[:n, :h, :w] = tiles
    grid = padded.reshape(rows, cols, h + padding, w + padding, c).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * (h + padding), cols * (w + padding), c)
    return grid[: grid.shape[0] - padding, : grid.shape[1] - padding]
