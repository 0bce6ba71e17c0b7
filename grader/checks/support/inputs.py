"""Inputs of the checks: seeded tensors and random draws, always from an explicit generator."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import torch

Tensor = torch.Tensor


def seed_of(name: str) -> int:
    """A fixed seed per name (stable across runs and Python versions)."""
    return zlib.crc32(name.encode())


def generator(seed: int | torch.Generator) -> torch.Generator:
    """``seed`` itself if it is a generator (to continue its stream), else a fresh seeded one."""
    return seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)


def randn(
    shape: Sequence[int], seed: int | torch.Generator, dtype: torch.dtype = torch.float64, scale: float = 1.0
) -> Tensor:
    """Standard normal numbers times ``scale`` of ``shape``, drawn in float64 then cast to ``dtype``."""
    g = generator(seed)
    return (torch.randn(tuple(shape), generator=g, dtype=torch.float64) * scale).to(dtype)


def integers(
    shape: Sequence[int], seed: int | torch.Generator, low: int, high: int, dtype: torch.dtype = torch.float64
) -> Tensor:
    """Integer-valued floats in [low, high]: sums are exact, so ties at exactly 0 are certain."""
    g = generator(seed)
    return torch.randint(low, high + 1, tuple(shape), generator=g).to(dtype)


def with_zeros(x: Tensor, g: torch.Generator, fraction: float = 0.25) -> Tensor:
    """``x`` with about ``fraction`` of its entries set to exactly 0 (ReLU ties)."""
    zero = torch.rand(x.shape, generator=g, dtype=torch.float64) < fraction
    return x.masked_fill(zero, 0.0)


def labels(n: int, classes: int, seed: int | torch.Generator) -> Tensor:
    """``n`` class labels in [0, classes), int64, shape (n,)."""
    g = generator(seed)
    return torch.randint(0, classes, (n,), generator=g, dtype=torch.int64)


def draw(g: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


def random_batch_shapes(g: torch.Generator) -> list[tuple[int, ...]]:
    """Two input shapes: a matrix (N >= 2, D) and a k-dimensional batch (N, d1, ..., dk), k >= 2."""
    flat = (draw(g, 2, 6), draw(g, 1, 7))
    images = (draw(g, 1, 4), *(draw(g, 1, 4) for _ in range(draw(g, 2, 3))))
    return [flat, images]


def linear_inputs(
    shape: tuple[int, ...], outputs: int, seed: int, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor, Tensor]:
    """x of ``shape`` (N, d1, ..., dk), w (D, outputs) with D = d1 * ... * dk, b (outputs,)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    w = torch.randn(x[0].numel(), outputs, generator=g, dtype=torch.float64)
    b = torch.randn(outputs, generator=g, dtype=torch.float64)
    return x.to(dtype), w.to(dtype), b.to(dtype)


def random_affine_cases(g: torch.Generator, min_outputs: int):
    """(x, w, b, dout) for each random batch shape (a matrix and a k-dimensional batch)."""
    for shape in random_batch_shapes(g):
        x = randn(shape, g)
        w = randn((x[0].numel(), draw(g, min_outputs, 6)), g)
        b = randn((w.shape[1],), g)
        yield x, w, b, randn((x.shape[0], w.shape[1]), g)


def tie_case() -> tuple[Tensor, Tensor, Tensor]:
    """Integer inputs with pre-activation a = x @ w + b = [[1, 2, -1], [0, 1, 0]] (exact zeros)."""
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, -1.0, 2.0], [0.0, 1.0, -1.0]], dtype=torch.float64)
    b = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    return x, w, b


def net_params(
    dims: Sequence[int], seed: int | torch.Generator, dtype: torch.dtype = torch.float64
) -> dict[str, Tensor]:
    """W1 (dims[0], dims[1]), b1, W2, ...: weights ~ N(0, 1/fan_in) (about half the ReLUs active)
    and NON-zero biases ~ N(0, 0.25)."""
    g = generator(seed)
    params = {}
    for i in range(1, len(dims)):
        params[f"W{i}"] = randn((dims[i - 1], dims[i]), g, dtype, scale=dims[i - 1] ** -0.5)
        params[f"b{i}"] = randn((dims[i],), g, dtype, scale=0.5)
    return params


def random_net_case(g: torch.Generator, hidden_layers: int) -> tuple[list[int], Tensor, Tensor, float]:
    """Random layer sizes [D, H1, ..., C], input batch X (sometimes k-dimensional), labels y and
    reg in [0.1, 1)."""
    n = draw(g, 2, 6)
    feature_shape = [draw(g, 2, 4) for _ in range(draw(g, 1, 2))]
    X = randn((n, *feature_shape), g)
    dims = [X[0].numel(), *(draw(g, 3, 8) for _ in range(hidden_layers)), draw(g, 2, 6)]
    y = labels(n, dims[-1], g)
    reg = 0.1 + 0.9 * float(torch.rand(1, generator=g))
    return dims, X, y, reg


def seeded_weights(
    dims: Sequence[int], weight_scale: float, seed: int, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """The documented seeded draw W1 (dims[0], dims[1]), W2, ... in order.

    Computed on the grading machine, never stored: ``torch.randn`` differs between CPU kernels
    (scalar, AVX2, AVX-512) in the last bits, and the child runs the same kernels as this process
    (``launch.PASSED_THROUGH``), so both sides draw identical bits.
    """
    g = torch.Generator().manual_seed(seed)
    return {
        f"W{i}": torch.randn((dims[i - 1], dims[i]), generator=g, dtype=dtype) * weight_scale
        for i in range(1, len(dims))
    }


def layered_net_params(
    hidden: list[int], input_shape: tuple[int, ...], classes: int, seed: int,
    normalization: str | None = None, dtype: torch.dtype = torch.float64,
) -> tuple[dict[str, Tensor], Tensor, Tensor]:  # fmt: skip
    """Parameters (W ~ N(0, 1/fan_in), b ~ N(0, 0.01); with ``normalization`` gamma{i}, beta{i} of
    every hidden layer from :func:`affine`), inputs X of shape ``input_shape`` and labels y (N,)."""
    g = torch.Generator().manual_seed(seed)
    dims = [math.prod(input_shape[1:]), *hidden, classes]
    params = {}
    for i in range(1, len(dims)):
        W = torch.randn(dims[i - 1], dims[i], generator=g, dtype=torch.float64) / math.sqrt(dims[i - 1])
        params[f"W{i}"] = W.to(dtype)
        params[f"b{i}"] = (0.1 * torch.randn(dims[i], generator=g, dtype=torch.float64)).to(dtype)
        if normalization is not None and i < len(dims) - 1:
            gamma_seed = int(torch.randint(0, 2**31, (), generator=g))
            params[f"gamma{i}"], params[f"beta{i}"] = affine(dims[i], gamma_seed, dtype)
    X = torch.randn(input_shape, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randint(0, classes, (input_shape[0],), generator=g)
    return params, X, y


def affine(D: int, seed: int, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """gamma (D,) (positive, away from 1) and beta (D,) (nonzero), so that swapping them shows."""
    g = torch.Generator().manual_seed(seed)
    gamma = 0.5 + 1.5 * torch.rand(D, generator=g, dtype=torch.float64)
    beta = torch.randn(D, generator=g, dtype=torch.float64)
    return gamma.to(dtype), beta.to(dtype)


def dout_like(x: Tensor, seed: int) -> Tensor:
    """An upstream gradient of x's shape and dtype (drawn in float64)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(x.shape, generator=g, dtype=torch.float64).to(x.dtype)
