"""Expected values computed independently of the reference implementation: the same expression
written with torch.autograd, ``torch.nn.functional`` or a direct formula."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn.functional import batch_norm, cross_entropy, layer_norm

Tensor = torch.Tensor
#: One hidden layer's activation given its pre-activation a (N, H), its index i >= 1 and the
#: autograd leaves of every parameter: e.g. ``relu(a)``.
HiddenLayer = Callable[[int, Tensor, dict[str, Tensor]], Tensor]


def autograd(
    function: Callable[..., Tensor], inputs: Sequence[Tensor], dout: Tensor | None = None
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``function(*inputs)`` and the gradients of ``sum(out * dout)`` (or of the scalar out)."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = function(*leaves)
    target = out if dout is None else (out * dout).sum()
    grads = torch.autograd.grad(target, leaves)
    return out.detach(), tuple(g.detach() for g in grads)


def linear(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """x (N, d1, ..., dk) flattened to (N, D), times w (D, M), plus b (M,): (N, M)."""
    return x.reshape(x.shape[0], -1) @ w + b


def linear_relu(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """relu(linear(x, w, b)): (N, M)."""
    return torch.relu(linear(x, w, b))


def svm(x: Tensor, y: Tensor) -> Tensor:
    """Hinge loss of scores x (N, C) and labels y (N,); torch.relu has gradient 0 at exactly 0, as
    the contract asks."""
    others = torch.ones_like(x).scatter_(1, y[:, None], 0.0)
    margins = torch.relu(x - x.gather(1, y[:, None]) + 1) * others
    return margins.sum() / x.shape[0]


def relu_layer(i: int, a: Tensor, leaves: dict[str, Tensor]) -> Tensor:
    """The plain hidden layer: ReLU of the pre-activation."""
    return torch.relu(a)


def net_scores(params: dict[str, Tensor], X: Tensor, hidden_layer: HiddenLayer = relu_layer) -> Tensor:
    """Scores (N, C) of Linear - hidden_layer - ... - Linear with params W1, b1, ..., WL, bL (and any
    other parameters ``hidden_layer`` reads), for X (N, d1, ..., dk)."""
    layers = sum(1 for key in params if key.startswith("W"))
    out = X.reshape(X.shape[0], -1)
    for i in range(1, layers):
        out = hidden_layer(i, out @ params[f"W{i}"] + params[f"b{i}"], params)
    return out @ params[f"W{layers}"] + params[f"b{layers}"]


def net_loss(
    params: dict[str, Tensor], X: Tensor, y: Tensor, reg: float, hidden_layer: HiddenLayer = relu_layer
) -> tuple[Tensor, dict[str, Tensor]]:
    """(loss, grads) of the network of :func:`net_scores` with softmax loss and the L2 term
    0.5 * reg * sum(W ** 2) over the weights only; grads has the keys of ``params``."""
    names = list(params)

    def loss_of(*values: Tensor) -> Tensor:
        leaves = dict(zip(names, values, strict=True))
        scores = net_scores(leaves, X, hidden_layer)
        l2 = sum((value**2).sum() for key, value in leaves.items() if key.startswith("W"))
        return cross_entropy(scores, y) + 0.5 * reg * l2

    loss, grads = autograd(loss_of, [params[n] for n in names])
    return loss, dict(zip(names, grads, strict=True))


def norm_out(kind: str, x: Tensor, gamma: Tensor, beta: Tensor, eps: float) -> Tensor:
    """The train-mode output (N, D) of batchnorm (batch statistics, biased variance) or layernorm."""
    if kind == "batchnorm":
        return batch_norm(x, None, None, gamma, beta, True, 0.1, eps)
    return layer_norm(x, (x.shape[1],), gamma, beta, eps)


def norm_grads(
    kind: str, x: Tensor, gamma: Tensor, beta: Tensor, eps: float, dout: Tensor
) -> tuple[Tensor, ...]:
    """(dx, dgamma, dbeta) of :func:`norm_out` by torch.autograd."""
    return autograd(lambda *t: norm_out(kind, *t, eps), [x, gamma, beta], dout)[1]


def batchnorm_steps(
    x_steps: list[Tensor], gamma: Tensor, beta: Tensor, momentum: float, eps: float
) -> list[tuple[Tensor, ...]]:
    """(out, running_mean, running_var) after each of the train steps, then one test step, by
    torch.nn.functional.batch_norm. PyTorch's momentum is the weight of the NEW value, the
    contract's that of the old one."""
    D = gamma.shape[0]
    mean, var = torch.zeros(D, dtype=gamma.dtype), torch.ones(D, dtype=gamma.dtype)
    results = []
    for step, x in enumerate(x_steps):
        training = step < len(x_steps) - 1
        out = batch_norm(x, mean, var, gamma, beta, training, 1 - momentum, eps)
        results.append((out, mean.clone(), var.clone()))
    return results
