"""First-order update rules used by the Solver.

Every rule has the same contract::

    next_w, config = rule(w, dw, config=None)

- w: current weights (a tensor of any shape);
- dw: gradient of the loss with respect to w (same shape, dtype and device as w);
- config: dict of hyperparameters (e.g. ``'learning_rate'``) and of the optimizer STATE
  (e.g. ``'velocity'``), or None for the defaults. The same dict is passed back on the next call
  for the same weights, so the state carries over between steps.

Returns ``next_w`` (a NEW tensor with w's shape, dtype and device) and ``config``.

Missing hyperparameters are filled in with ``config.setdefault`` on the first call. State tensors
are created on the first call with ``torch.zeros_like(w)`` (w's shape, dtype and device); the step
counter ``'t'`` is a plain int. Because the state tensors belong to ``config`` they are updated in
place (``mul_``, ``add_``, ``addcmul_`` ...); ``w`` and ``dw`` are NEVER modified in place.
"""

from __future__ import annotations

from typing import Any

import torch


def sgd(w: torch.Tensor, dw: torch.Tensor, config: dict[str, Any] | None = None):
    """Vanilla stochastic gradient descent: ``next_w = w - learning_rate * dw``.

    config:
    - learning_rate: scalar learning rate (default 1e-2).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w.add(dw, alpha=-config["learning_rate"])
    return next_w, config


def sgd_momentum(w: torch.Tensor, dw: torch.Tensor, config: dict[str, Any] | None = None):
    """Stochastic gradient descent with momentum::

        v = momentum * v - learning_rate * dw
        next_w = w + v

    With a constant learning rate this is the same trajectory as
    ``torch.optim.SGD(lr=learning_rate, momentum=momentum)`` (whose buffer is ``-v / learning_rate``).

    config:
    - learning_rate: scalar learning rate (default 1e-2).
    - momentum: scalar in [0, 1) (default 0.9); 0 gives plain sgd.
    - velocity: state tensor v, same shape as w (created as zeros on the first call).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    if "velocity" not in config:
        config["velocity"] = torch.zeros_like(w)
    # TODO (sgd_momentum): update config["velocity"] (in place is fine: it belongs to config),
    # then compute next_w without modifying w or dw. Return next_w, config.
    ### BEGIN SOLUTION
    v = config["velocity"]
    v.mul_(config["momentum"]).add_(dw, alpha=-config["learning_rate"])
    next_w = w + v
    return next_w, config
    ### END SOLUTION


def nesterov_momentum(w: torch.Tensor, dw: torch.Tensor, config: dict[str, Any] | None = None):
    """Stochastic gradient descent with Nesterov momentum::

        v = momentum * v - learning_rate * dw
        next_w = w + momentum * v - learning_rate * dw

    (v is the velocity after the update). This equals
    ``torch.optim.SGD(lr=learning_rate, momentum=momentum, nesterov=True)`` with
    ``v = -learning_rate * buf`` (constant learning rate).

    config:
    - learning_rate: scalar learning rate (default 1e-2).
    - momentum: scalar in [0, 1) (default 0.9).
    - velocity: state tensor v, same shape as w (created as zeros on the first call).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    if "velocity" not in config:
        config["velocity"] = torch.zeros_like(w)
    # TODO (nesterov_momentum): update config["velocity"], then compute next_w with the
    # look-ahead formula of the docstring. Return next_w, config.
    ### BEGIN SOLUTION
    lr, momentum = config["learning_rate"], config["momentum"]
    v = config["velocity"]
    v.mul_(momentum).add_(dw, alpha=-lr)
    next_w = w.add(v, alpha=momentum).add_(dw, alpha=-lr)
    return next_w, config
    ### END SOLUTION


def adagrad(w: torch.Tensor, dw: torch.Tensor, config: dict[str, Any] | None = None):
    """Adagrad: per-parameter learning rates from the sum of all past squared gradients::

        cache = cache + dw ** 2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Same trajectory as ``torch.optim.Adagrad(lr=learning_rate, eps=epsilon)``.

    config:
    - learning_rate: scalar learning rate (default 1e-2).
    - epsilon: small scalar avoiding division by zero (default 1e-8).
    - cache: state tensor, running sum of squared gradients (created as zeros on the first call).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    if "cache" not in config:
        config["cache"] = torch.zeros_like(w)
    # TODO (adagrad): accumulate dw ** 2 into config["cache"], then compute next_w.
    ### BEGIN SOLUTION
    cache = config["cache"]
    cache.addcmul_(dw, dw)
    denom = cache.sqrt().add_(config["epsilon"])
    # out=denom: next_w reuses the temporary's memory (it is not needed afterwards)
    next_w = torch.addcdiv(w, dw, denom, value=-config["learning_rate"], out=denom)
    return next_w, config
    ### END SOLUTION


def rmsprop(w: torch.Tensor, dw: torch.Tensor, config: dict[str, Any] | None = None):
    """RMSProp: like Adagrad but with a moving average of squared gradients::

        cache = decay_rate * cache + (1 - decay_rate) * dw ** 2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    Same trajectory as ``torch.optim.RMSprop(lr=learning_rate, alpha=decay_rate, eps=epsilon)``.

    config:
    - learning_rate: scalar learning rate (default 1e-2).
    - decay_rate: scalar in [0, 1), decay of the squared-gradient average (default 0.99).
    - epsilon: small scalar avoiding division by zero (default 1e-8).
    - cache: state tensor, moving average of squared gradients (zeros on the first call).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    if "cache" not in config:
        config["cache"] = torch.zeros_like(w)
    # TODO (rmsprop): update the moving average config["cache"], then compute next_w.
    ### BEGIN SOLUTION
    decay = config["decay_rate"]
    cache = config["cache"]
    cache.mul_(decay).addcmul_(dw, dw, value=1 - decay)
    denom = cache.sqrt().add_(config["epsilon"])
    # out=denom: next_w reuses the temporary's memory (it is not needed afterwards)
    next_w = torch.addcdiv(w, dw, denom, value=-config["learning_rate"], out=denom)
    return next_w, config
    ### END SOLUTION


def adam(w: torch.Tensor, dw: torch.Tensor, config: dict[str, Any] | None = None):
    """Adam: moving averages of the gradient and of its square, with bias correction::

        t = t + 1                                   # incremented BEFORE it is used
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw ** 2
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        next_w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    Same trajectory as ``torch.optim.Adam(lr=learning_rate, betas=(beta1, beta2), eps=epsilon)``.

    config:
    - learning_rate: scalar learning rate (default 1e-3).
    - beta1: decay rate of the first moment m (default 0.9).
    - beta2: decay rate of the second moment v (default 0.999).
    - epsilon: small scalar avoiding division by zero (default 1e-8).
    - m, v: state tensors (zeros on the first call); t: int step counter (0 before the first call).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    if "m" not in config:
        config["m"] = torch.zeros_like(w)
    if "v" not in config:
        config["v"] = torch.zeros_like(w)
    config.setdefault("t", 0)
    # TODO (adam): increment config["t"] first, update the moments config["m"] and config["v"]
    # (in place is fine), then compute next_w with bias-corrected moments. Return next_w, config.
    ### BEGIN SOLUTION
    lr, beta1, beta2 = config["learning_rate"], config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    m, v = config["m"], config["v"]
    m.lerp_(dw, 1 - beta1)  # beta1 * m + (1 - beta1) * dw
    v.mul_(beta2).addcmul_(dw, dw, value=1 - beta2)
    # Both bias corrections go into scalars: sqrt(v_hat) + epsilon = (sqrt(v) + epsilon * c) / c
    # with c = sqrt(1 - beta2 ** t). The one temporary then receives next_w (out=denom).
    c = (1 - beta2**t) ** 0.5
    denom = v.sqrt().add_(config["epsilon"] * c)
    next_w = torch.addcdiv(w, m, denom, value=-lr * c / (1 - beta1**t), out=denom)
    return next_w, config
    ### END SOLUTION


def adamw(w: torch.Tensor, dw: torch.Tensor, config: dict[str, Any] | None = None):
    """AdamW: Adam with decoupled weight decay, as in ``torch.optim.AdamW``::

        w_decayed = w * (1 - learning_rate * weight_decay)
        next_w = the Adam step of the ``adam`` docstring applied to w_decayed (with the same dw)

    The decay is NOT added to the gradient, so it does not enter the moments m and v.
    Same trajectory as ``torch.optim.AdamW(lr, betas=(beta1, beta2), eps, weight_decay)``.

    config: the keys of ``adam`` (same defaults) plus
    - weight_decay: scalar decoupled decay coefficient (default 1e-2).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("weight_decay", 1e-2)
    if "m" not in config:
        config["m"] = torch.zeros_like(w)
    if "v" not in config:
        config["v"] = torch.zeros_like(w)
    config.setdefault("t", 0)
    # TODO (adamw): decay the weights (without modifying w), then apply the same update as adam
    # (t, m, v, bias correction). Return next_w, config.
    ### BEGIN SOLUTION
    lr, beta1, beta2 = config["learning_rate"], config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    m, v = config["m"], config["v"]
    m.lerp_(dw, 1 - beta1)
    v.mul_(beta2).addcmul_(dw, dw, value=1 - beta2)
    c = (1 - beta2**t) ** 0.5  # the bias corrections go into scalars, as in adam
    denom = v.sqrt().add_(config["epsilon"] * c)
    next_w = w.mul(1 - lr * config["weight_decay"])
    next_w.addcdiv_(m, denom, value=-lr * c / (1 - beta1**t))
    return next_w, config
    ### END SOLUTION
