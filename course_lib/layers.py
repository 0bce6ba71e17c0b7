"""Building blocks of fully-connected networks, implemented by hand (no autograd).

Every layer is a class with two static methods:

* ``forward(...) -> (out, cache)`` computes the output and returns a ``cache`` holding whatever
  the backward pass needs;
* ``backward(dout, cache)`` receives the upstream gradient ``dout`` (same shape as ``out``) and
  returns the gradients with respect to the inputs of ``forward``.

The cache is private to a layer: only its own ``backward`` reads it. The layouts documented
below are the suggested ones; any layout works as long as ``backward`` understands what
``forward`` stored (the grader gives every backward the cache of your own forward).

The two loss functions return ``(loss, dx)`` directly: ``loss`` is a 0-dim tensor of ``x``'s dtype
and ``dx`` is the gradient of ``loss`` with respect to the scores ``x``.

Conventions shared by every function in this module:

* only tensor operations are used (no ``torch.autograd``, no numpy);
* outputs live on the device and have the dtype of the inputs;
* inputs are never modified in place (``x``, ``w``, ``b``, ``dout`` ... are left untouched).
"""

from __future__ import annotations

from typing import Any

import torch


class Linear:
    """Affine (fully-connected) layer: ``out = x.reshape(N, D) @ w + b``."""

    @staticmethod
    def forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Forward pass of an affine layer.

        Each example ``x[i]`` is flattened (row-major, ``x[i].reshape(-1)``) into a vector of
        dimension ``D = d1 * ... * dk`` before the affine map is applied.

        Inputs:
        - x: (N, d1, ..., dk) input minibatch.
        - w: (D, M) weights.
        - b: (M,) biases.

        Returns a tuple of:
        - out: (N, M) output.
        - cache: (x, w, b), the inputs, unchanged.
        """
        # TODO (Linear.forward): flatten x to (N, D) and compute the affine map.
        raise NotImplementedError("Linear.forward is not implemented yet (course_lib/layers.py, TODO Linear.forward)")

    @staticmethod
    def backward(dout: torch.Tensor, cache: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backward pass of an affine layer.

        Inputs:
        - dout: (N, M) upstream gradient.
        - cache: (x, w, b) as returned by ``Linear.forward``.

        Returns a tuple of:
        - dx: gradient with respect to x, same shape as x: (N, d1, ..., dk).
        - dw: (D, M) gradient with respect to w.
        - db: (M,) gradient with respect to b.
        """
        # TODO (Linear.backward): compute dx (reshaped back to x's shape), dw and db.
        raise NotImplementedError("Linear.backward is not implemented yet (course_lib/layers.py, TODO Linear.backward)")


class ReLU:
    """Rectified linear unit: ``out = max(x, 0)`` elementwise."""

    @staticmethod
    def forward(x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Forward pass of a ReLU.

        Input:
        - x: input of any shape.

        Returns a tuple of:
        - out: output, same shape as x.
        - cache: x, unchanged.
        """
        # TODO (ReLU.forward): compute max(x, 0) elementwise (without changing x).
        raise NotImplementedError("ReLU.forward is not implemented yet (course_lib/layers.py, TODO ReLU.forward)")

    @staticmethod
    def backward(dout: torch.Tensor, cache: Any) -> torch.Tensor:
        """Backward pass of a ReLU.

        The gradient is passed through where ``x > 0`` and is 0 where ``x <= 0``; in particular
        it is 0 at exactly ``x == 0`` (the same choice as ``torch.relu``).

        Inputs:
        - dout: upstream gradient, same shape as x.
        - cache: x as returned by ``ReLU.forward``.

        Returns:
        - dx: gradient with respect to x, same shape as x.
        """
        # TODO (ReLU.backward): let the gradient through only where x > 0.
        raise NotImplementedError("ReLU.backward is not implemented yet (course_lib/layers.py, TODO ReLU.backward)")


class Linear_ReLU:
    """Convenience layer: a ``Linear`` followed by a ``ReLU``."""

    @staticmethod
    def forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Forward pass of Linear followed by ReLU.

        Inputs:
        - x: (N, d1, ..., dk) input minibatch.
        - w: (D, M) weights, D = d1 * ... * dk.
        - b: (M,) biases.

        Returns a tuple of:
        - out: (N, M) output of the ReLU.
        - cache: (linear_cache, relu_cache), the caches of the two layers.
        """
        # TODO (Linear_ReLU.forward): chain Linear.forward and ReLU.forward.
        raise NotImplementedError("Linear_ReLU.forward is not implemented yet (course_lib/layers.py, TODO Linear_ReLU.forward)")

    @staticmethod
    def backward(dout: torch.Tensor, cache: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backward pass of Linear followed by ReLU.

        Inputs:
        - dout: (N, M) upstream gradient.
        - cache: (linear_cache, relu_cache) as returned by ``Linear_ReLU.forward``.

        Returns a tuple of:
        - dx: gradient with respect to x, same shape as x: (N, d1, ..., dk).
        - dw: (D, M) gradient with respect to w.
        - db: (M,) gradient with respect to b.
        """
        # TODO (Linear_ReLU.backward): chain ReLU.backward and Linear.backward.
        raise NotImplementedError("Linear_ReLU.backward is not implemented yet (course_lib/layers.py, TODO Linear_ReLU.backward)")


def softmax_loss(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax (cross-entropy) loss, averaged over the minibatch.

    ``loss = -(1/N) * sum_i log softmax(x[i])[y[i]]``. The computation is numerically stable: the
    row maximum is subtracted from the scores and the log-probabilities are computed with the
    log-sum-exp trick, so scores of magnitude 1e4 give finite results.

    Inputs:
    - x: (N, C) scores; x[i, j] is the score of class j for example i.
    - y: (N,) int64 labels, 0 <= y[i] < C.

    Returns a tuple of:
    - loss: 0-dim tensor with x's dtype.
    - dx: (N, C) gradient of the loss with respect to x.
    """
    # TODO (softmax_loss): compute the stable average cross-entropy loss and its gradient.
    raise NotImplementedError("softmax_loss is not implemented yet (course_lib/layers.py, TODO softmax_loss)")


def svm_loss(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiclass SVM (hinge) loss with margin 1, averaged over the minibatch.

    ``loss = (1/N) * sum_i sum_{j != y[i]} max(0, x[i, j] - x[i, y[i]] + 1)``; the correct class
    contributes 0. Where a margin is exactly 0 the (sub)gradient 0 is used.

    Inputs:
    - x: (N, C) scores; x[i, j] is the score of class j for example i.
    - y: (N,) int64 labels, 0 <= y[i] < C.

    Returns a tuple of:
    - loss: 0-dim tensor with x's dtype.
    - dx: (N, C) gradient of the loss with respect to x.
    """
    # TODO (svm_loss): compute the average hinge loss and its gradient.
    raise NotImplementedError("svm_loss is not implemented yet (course_lib/layers.py, TODO svm_loss)")


class Dropout:
    """Inverted dropout.

    ``dropout_param`` is a dict with keys

    - ``'p'``: probability of DROPPING (zeroing) each unit, as in ``torch.nn.Dropout``;
      ``0 <= p < 1``, otherwise ``ValueError`` is raised;
    - ``'mode'``: ``'train'`` or ``'test'``;
    - ``'seed'`` (optional): int; if present the mask is drawn from a fresh generator
      ``torch.Generator(device=x.device).manual_seed(seed)``, so every call with the same seed
      draws the same mask. Without a seed the global RNG is used. The global RNG is never
      reseeded.

    Train mode, exact recipe of the mask::

        g = torch.Generator(device=x.device).manual_seed(seed)   # g = None without a seed
        keep = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) >= p
        mask = keep.to(x.dtype) / (1 - p)                          # scaled mask
        out = x * mask

    Each unit is kept with probability ``1 - p`` and kept units are scaled by ``1 / (1 - p)``, so
    the expected value of ``out`` is ``x``; for ``p = 0`` the output equals ``x`` exactly.
    Test mode is the identity: ``out`` is a copy of ``x``.

    Suggested cache layout: ``(mode, mask)`` where ``mask`` is the SCALED mask above (same shape
    and dtype as x) in train mode and ``None`` in test mode.
    """

    @staticmethod
    def forward(x: torch.Tensor, dropout_param: dict[str, Any]) -> tuple[torch.Tensor, Any]:
        """Forward pass of inverted dropout (see the class docstring for the exact recipe).

        Inputs:
        - x: input of any shape (floating point).
        - dropout_param: dict with 'p', 'mode' and optionally 'seed'.

        Returns a tuple of:
        - out: same shape as x.
        - cache: (mode, mask); mask is the scaled mask in train mode, None in test mode.
        """
        p = dropout_param["p"]
        mode = dropout_param["mode"]
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability p must satisfy 0 <= p < 1, got {p}")
        if mode not in ("train", "test"):
            raise ValueError(f"dropout mode must be 'train' or 'test', got {mode!r}")
        # TODO (Dropout.forward): in train mode draw the keep mask exactly as in the class docstring
        # (use a seeded torch.Generator when dropout_param has a 'seed') and scale it by 1 / (1 - p);
        # in test mode return a copy of x. Return out and the cache (mode, mask).
        raise NotImplementedError("Dropout.forward is not implemented yet (course_lib/layers.py, TODO Dropout.forward)")

    @staticmethod
    def backward(dout: torch.Tensor, cache: Any) -> torch.Tensor:
        """Backward pass of inverted dropout.

        Inputs:
        - dout: upstream gradient, same shape as x.
        - cache: (mode, mask) as returned by ``Dropout.forward``.

        Returns:
        - dx: gradient with respect to x: ``dout * mask`` in train mode, a copy of ``dout`` in
          test mode.
        """
        # TODO (Dropout.backward): reuse the mask stored in the cache.
        raise NotImplementedError("Dropout.backward is not implemented yet (course_lib/layers.py, TODO Dropout.backward)")
