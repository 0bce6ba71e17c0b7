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
        ### BEGIN SOLUTION
        x_flat = x.reshape(x.shape[0], w.shape[0])
        if w.shape[1] < x.shape[0]:
            # Fewer outputs than examples (class scores: 10 per example). BLAS kernels vectorise
            # along the rows of the result in memory, so out.T = w.T @ x_flat.T + b, with rows of
            # N, runs up to three times faster than out's rows of M; the same values up to rounding.
            out = torch.addmm(b.unsqueeze(1), w.T, x_flat.T).T.contiguous()
        else:
            out = torch.addmm(b, x_flat, w)  # b + x_flat @ w
        cache = (x, w, b)
        return out, cache
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        x, w, _ = cache
        x_flat = x.reshape(x.shape[0], w.shape[0])
        dx = (dout @ w.T).reshape(x.shape)
        # dw: (D, M); with fewer columns than rows, computed as its transpose (see forward)
        dw = (dout.T @ x_flat).T.contiguous() if w.shape[1] < w.shape[0] else x_flat.T @ dout
        db = dout.sum(dim=0)
        return dx, dw, db
        ### END SOLUTION


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
        ### BEGIN SOLUTION
        out = x.clamp(min=0)
        cache = x
        return out, cache
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        x = cache
        # sign(x) clamped at 0 is the slope as a float mask: 1 where x > 0, 0 elsewhere (x == 0
        # included), built in one buffer. Same values as dout * (x > 0), without the boolean
        # mask, whose kernels are slower.
        dx = x.sign().clamp_(min=0).mul_(dout)
        return dx
        ### END SOLUTION


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
        ### BEGIN SOLUTION
        a, linear_cache = Linear.forward(x, w, b)
        out, relu_cache = ReLU.forward(a)
        cache = (linear_cache, relu_cache)
        return out, cache
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        linear_cache, relu_cache = cache
        da = ReLU.backward(dout, relu_cache)
        dx, dw, db = Linear.backward(da, linear_cache)
        return dx, dw, db
        ### END SOLUTION


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
    ### BEGIN SOLUTION
    N = x.shape[0]
    rows = torch.arange(N, device=x.device)
    shifted = x - x.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs[rows, y].sum() / N
    dx = log_probs.exp()
    dx[rows, y] -= 1
    dx /= N
    return loss, dx
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    N = x.shape[0]
    rows = torch.arange(N, device=x.device)
    correct = x[rows, y].unsqueeze(1)
    margins = (x - correct + 1).clamp(min=0)
    margins[rows, y] = 0
    loss = margins.sum() / N
    dx = (margins > 0).to(x.dtype)
    dx[rows, y] = -dx.sum(dim=1)
    dx /= N
    return loss, dx
    ### END SOLUTION


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
        ### BEGIN SOLUTION
        if mode == "test":
            return x.clone(), (mode, None)
        seed = dropout_param.get("seed")
        generator = None
        if seed is not None:
            generator = torch.Generator(device=x.device).manual_seed(seed)
        keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p
        mask = keep.to(x.dtype) / (1 - p)
        out = x * mask
        return out, (mode, mask)
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        mode, mask = cache
        if mode == "test":
            return dout.clone()
        dx = dout * mask
        return dx
        ### END SOLUTION


class BatchNorm:
    """Batch normalization of a minibatch of vectors (Ioffe and Szegedy, 2015).

    Each feature (column) ``j`` of ``x`` is normalised with the statistics of the minibatch in
    train mode and with running averages in test mode, then scaled and shifted::

        x_hat = (x - mu) / sqrt(var + eps)        # mu, var: (D,), over the N examples
        out = gamma * x_hat + beta

    Conventions:

    * ``var`` in the normalization is the BIASED variance ``((x - mu) ** 2).mean(dim=0)``;
    * the running variance keeps the UNBIASED batch variance ``var * N / (N - 1)`` (as
      ``torch.nn.BatchNorm1d`` does), so train mode needs ``N >= 2`` (``ValueError`` otherwise);
    * ``momentum`` is the weight of the OLD value (the CS231n convention, default 0.9)::

          running_mean = momentum * running_mean + (1 - momentum) * mu
          running_var  = momentum * running_var  + (1 - momentum) * var * N / (N - 1)

      (``torch.nn.BatchNorm1d(momentum=m)`` is this rule with ``momentum = 1 - m``).

    ``bn_param`` is a dict with keys

    - ``'mode'``: ``'train'`` or ``'test'`` (required);
    - ``'eps'``: constant added to the variance, default 1e-5;
    - ``'momentum'``: default 0.9;
    - ``'running_mean'``, ``'running_var'``: (D,) tensors. When absent they are created on first
      use (any mode) as zeros and ones of x's dtype and device and stored in ``bn_param``. They
      are updated (new tensors assigned to the dict) in train mode only; test mode normalises
      with them (``mu = running_mean``, ``var = running_var``) and leaves them unchanged.

    The cache is private to your forward and backward (the checks give your backward the cache of
    your own forward on the same inputs). The suggested layout, which the checks use only when your
    forward's output is wrong: ``(x, x_hat, mu, var, gamma, eps)`` with ``mu`` and ``var`` the (D,)
    statistics used to normalise (the batch's biased ones in train mode).
    """

    @staticmethod
    def forward(
        x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, bn_param: dict[str, Any]
    ) -> tuple[torch.Tensor, Any]:
        """Forward pass of batch normalization (see the class docstring for the conventions).

        Inputs:
        - x: (N, D) minibatch.
        - gamma: (D,) scale.
        - beta: (D,) shift.
        - bn_param: dict with 'mode' and optionally 'eps', 'momentum', 'running_mean',
          'running_var'; the running statistics in it are created and updated as documented.

        Returns a tuple of:
        - out: (N, D) output.
        - cache: what backward needs (suggested: (x, x_hat, mu, var, gamma, eps)).
        """
        mode = bn_param["mode"]
        if mode not in ("train", "test"):
            raise ValueError(f"batchnorm mode must be 'train' or 'test', got {mode!r}")
        if mode == "train" and x.shape[0] < 2:
            raise ValueError(
                "batchnorm in train mode needs at least 2 examples (the running variance is unbiased)"
            )
        # TODO (BatchNorm.forward): read eps and momentum (with their defaults) and the running
        # statistics (create them in bn_param if absent). In train mode normalise with the batch
        # mean and BIASED variance and update the running averages (unbiased variance, momentum =
        # weight of the old value); in test mode normalise with the running averages. Scale by
        # gamma, shift by beta.
        ### BEGIN SOLUTION
        eps = bn_param.get("eps", 1e-5)
        momentum = bn_param.get("momentum", 0.9)
        N, D = x.shape
        # created on first use only (a setdefault would build both tensors on every call)
        if "running_mean" not in bn_param:
            bn_param["running_mean"] = torch.zeros(D, dtype=x.dtype, device=x.device)
        if "running_var" not in bn_param:
            bn_param["running_var"] = torch.ones(D, dtype=x.dtype, device=x.device)
        running_mean, running_var = bn_param["running_mean"], bn_param["running_var"]
        if mode == "train":
            mu = x.mean(dim=0)
            centred = x - mu
            var = (centred * centred).mean(dim=0)
            # momentum * running + (1 - momentum) * batch statistic, as one lerp each
            bn_param["running_mean"] = running_mean.lerp(mu, 1 - momentum)
            bn_param["running_var"] = running_var.lerp(var * (N / (N - 1)), 1 - momentum)
        else:
            mu, var = running_mean, running_var
            centred = x - mu
        x_hat = centred * torch.rsqrt(var + eps)
        out = torch.addcmul(beta, gamma, x_hat)  # gamma * x_hat + beta in one pass
        return out, (x, x_hat, mu, var, gamma, eps)
        ### END SOLUTION

    @staticmethod
    def backward(dout: torch.Tensor, cache: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backward pass of batch normalization (train mode), step by step through the graph.

        Work backwards through the intermediate nodes of the forward pass (centred x, variance,
        standard deviation, its inverse, x_hat) one at a time; remember that mu and var both
        depend on every example.

        Inputs:
        - dout: (N, D) upstream gradient.
        - cache: the cache of a train-mode ``BatchNorm.forward``.

        Returns a tuple of:
        - dx: (N, D) gradient with respect to x.
        - dgamma: (D,) gradient with respect to gamma.
        - dbeta: (D,) gradient with respect to beta.
        """
        # TODO (BatchNorm.backward): backpropagate node by node through the computation graph.
        ### BEGIN SOLUTION
        x, x_hat, mu, var, gamma, eps = cache
        N = x.shape[0]
        dbeta = dout.sum(dim=0)
        dgamma = (dout * x_hat).sum(dim=0)
        centred = x - mu
        std = torch.sqrt(var + eps)
        dx_hat = dout * gamma
        dinv_std = (dx_hat * centred).sum(dim=0)
        dcentred = dx_hat / std
        dstd = -dinv_std / std**2
        dvar = dstd / (2 * std)
        dcentred = dcentred + 2 * centred * dvar / N  # var = mean(centred ** 2)
        dmu = -dcentred.sum(dim=0)  # centred = x - mu
        dx = dcentred + dmu / N  # mu = mean(x)
        return dx, dgamma, dbeta
        ### END SOLUTION

    @staticmethod
    def backward_alt(dout: torch.Tensor, cache: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backward pass of batch normalization (train mode) from the simplified closed form.

        Same inputs and outputs as ``BatchNorm.backward``. Derive dx on paper first: it can be
        written in one line from ``dout``, ``x_hat``, ``gamma`` and ``1 / sqrt(var + eps)``, using
        sums over the batch of ``dout`` and of ``dout * x_hat``.
        """
        # TODO (BatchNorm.backward_alt): one expression for dx from the simplified closed form.
        ### BEGIN SOLUTION
        _, x_hat, _, var, gamma, eps = cache
        N = dout.shape[0]
        dbeta = dout.sum(dim=0)
        dgamma = (dout * x_hat).sum(dim=0)
        # dx = scale * (dout - dbeta / N - x_hat * dgamma / N) with scale = gamma / sqrt(var + eps),
        # as two fused multiply-adds over (N, D)
        scale = gamma * torch.rsqrt(var + eps)  # (D,)
        dx = torch.addcmul(-scale * dbeta / N, dout, scale).addcmul_(x_hat, -scale * dgamma / N)
        return dx, dgamma, dbeta
        ### END SOLUTION


class LayerNorm:
    """Layer normalization (Ba, Kiros and Hinton, 2016): each EXAMPLE (row) of ``x`` is normalised
    over its D features, identically in train and test mode (there are no running statistics)::

        x_hat = (x - mu) / sqrt(var + eps)        # mu, var: (N, 1), over the D features
        out = gamma * x_hat + beta                # gamma, beta: (D,), per feature

    ``var`` is the BIASED variance ``((x - mu) ** 2).mean(dim=1, keepdim=True)``. ``ln_param`` is a
    dict with the optional key ``'eps'`` (default 1e-5); any other key (such as ``'mode'``) is
    ignored. The cache is private to your forward and backward, as for ``BatchNorm``; suggested
    layout: ``(x, x_hat, mu, var, gamma, eps)`` with ``mu`` and ``var`` of shape (N, 1).
    """

    @staticmethod
    def forward(
        x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, ln_param: dict[str, Any]
    ) -> tuple[torch.Tensor, Any]:
        """Forward pass of layer normalization.

        Inputs:
        - x: (N, D) minibatch.
        - gamma: (D,) scale.
        - beta: (D,) shift.
        - ln_param: dict, optionally with 'eps'.

        Returns a tuple of:
        - out: (N, D) output.
        - cache: what backward needs (suggested: (x, x_hat, mu, var, gamma, eps)).
        """
        # TODO (LayerNorm.forward): normalise every row with its own mean and biased variance
        # (eps = ln_param.get("eps", 1e-5)).
        ### BEGIN SOLUTION
        eps = ln_param.get("eps", 1e-5)
        mu = x.mean(dim=1, keepdim=True)
        centred = x - mu
        var = (centred * centred).mean(dim=1, keepdim=True)
        x_hat = centred * torch.rsqrt(var + eps)
        out = torch.addcmul(beta, gamma, x_hat)  # gamma * x_hat + beta in one pass
        return out, (x, x_hat, mu, var, gamma, eps)
        ### END SOLUTION

    @staticmethod
    def backward(dout: torch.Tensor, cache: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backward pass of layer normalization.

        Inputs:
        - dout: (N, D) upstream gradient.
        - cache: as returned by ``LayerNorm.forward``.

        Returns a tuple of:
        - dx: (N, D) gradient with respect to x.
        - dgamma: (D,) gradient with respect to gamma (summed over the examples).
        - dbeta: (D,) gradient with respect to beta (summed over the examples).
        """
        # TODO (LayerNorm.backward): batchnorm's closed form with the roles of the axes swapped
        # for dx; dgamma and dbeta still sum over the examples.
        ### BEGIN SOLUTION
        _, x_hat, _, var, gamma, eps = cache
        D = dout.shape[1]
        dout_x_hat = dout * x_hat
        dbeta = dout.sum(dim=0)
        dgamma = dout_x_hat.sum(dim=0)
        # dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps), means over
        # each row. As dx_hat = dout * gamma, both row means are matrix-vector products with gamma,
        # and dx_hat is never stored.
        mean_dx_hat = (dout @ gamma).unsqueeze(1) / D  # (N, 1)
        mean_dx_hat_x_hat = (dout_x_hat @ gamma).unsqueeze(1) / D  # (N, 1)
        dx = torch.addcmul(-mean_dx_hat, dout, gamma).addcmul_(x_hat, -mean_dx_hat_x_hat)
        dx.mul_(torch.rsqrt(var + eps))
        return dx, dgamma, dbeta
        ### END SOLUTION


NORMALIZATIONS = ("batchnorm", "layernorm")


class Linear_Norm_ReLU:
    """Convenience layer: ``Linear``, then ``BatchNorm`` or ``LayerNorm``, then ``ReLU``."""

    @staticmethod
    def forward(
        x: torch.Tensor,
        w: torch.Tensor,
        b: torch.Tensor,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        norm_param: dict[str, Any],
        normalization: str,
    ) -> tuple[torch.Tensor, Any]:
        """Forward pass of Linear - normalization - ReLU.

        Inputs:
        - x: (N, d1, ..., dk) input minibatch.
        - w: (D, M) weights, D = d1 * ... * dk; b: (M,) biases.
        - gamma, beta: (M,) scale and shift of the normalization.
        - norm_param: the bn_param / ln_param dict handed to the normalization layer unchanged
          (so batchnorm's running statistics land in it).
        - normalization: 'batchnorm' or 'layernorm' (ValueError otherwise).

        Returns a tuple of:
        - out: (N, M) output of the ReLU.
        - cache: what backward needs, private to your forward and backward (suggested:
          (normalization, linear_cache, norm_cache, relu_cache)).
        """
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        # TODO (Linear_Norm_ReLU.forward): chain Linear.forward, the normalization's forward
        # (BatchNorm or LayerNorm, with norm_param) and ReLU.forward.
        ### BEGIN SOLUTION
        norm = BatchNorm if normalization == "batchnorm" else LayerNorm
        a, linear_cache = Linear.forward(x, w, b)
        a_norm, norm_cache = norm.forward(a, gamma, beta, norm_param)
        out, relu_cache = ReLU.forward(a_norm)
        return out, (normalization, linear_cache, norm_cache, relu_cache)
        ### END SOLUTION

    @staticmethod
    def backward(
        dout: torch.Tensor, cache: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backward pass of Linear - normalization - ReLU.

        Inputs:
        - dout: (N, M) upstream gradient.
        - cache: from the forward pass.

        Returns a tuple of:
        - dx: gradient with respect to x, same shape as x.
        - dw: (D, M), db: (M,) gradients of the Linear layer.
        - dgamma, dbeta: (M,) gradients of the normalization (batchnorm uses BatchNorm.backward_alt).
        """
        # TODO (Linear_Norm_ReLU.backward): chain ReLU.backward, the normalization's backward and
        # Linear.backward.
        ### BEGIN SOLUTION
        normalization, linear_cache, norm_cache, relu_cache = cache
        da_norm = ReLU.backward(dout, relu_cache)
        if normalization == "batchnorm":
            da_linear, dgamma, dbeta = BatchNorm.backward_alt(da_norm, norm_cache)
        else:
            da_linear, dgamma, dbeta = LayerNorm.backward(da_norm, norm_cache)
        dx, dw, db = Linear.backward(da_linear, linear_cache)
        return dx, dw, db, dgamma, dbeta
        ### END SOLUTION
