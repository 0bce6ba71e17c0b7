"""Correct variants of assignment 4: BatchNorm, LayerNorm, Linear_Norm_ReLU (layers.py) and the
normalised FullyConnectedNet (fc_net.py), written the ways students write them: other formulas of
the same statistics, running statistics updated in place, other graphs and closed forms for the
backward passes, private cache layouts, other network code.
"""

from __future__ import annotations

from tests.variants import rewrite

_BN_HEAD = """
eps = bn_param.get("eps", 1e-5)
momentum = bn_param.get("momentum", 0.9)
N, D = x.shape
"""

_BN_FORWARD = [
    rewrite(
        "bn_forward_var_unbiased_false_rsqrt",
        "layers",
        "x.var(unbiased=False) for the normalization, x.var() (unbiased) for the running average, rsqrt",
        (
            "BatchNorm.forward",
            _BN_HEAD + 'if "running_mean" not in bn_param:\n'
            '    bn_param["running_mean"] = torch.zeros_like(x[0])\n'
            '    bn_param["running_var"] = torch.ones_like(x[0])\n'
            'if mode == "train":\n'
            "    mu = x.mean(0)\n    var = x.var(0, unbiased=False)\n"
            '    bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mu\n'
            '    bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * x.var(0)\n'
            "else:\n"
            '    mu, var = bn_param["running_mean"], bn_param["running_var"]\n'
            "x_hat = (x - mu) * torch.rsqrt(var + eps)\n"
            "return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)",
        ),
    ),
    rewrite(
        "bn_forward_mean_of_squares",
        "layers",
        "var = mean(x ** 2) - mu ** 2, 1 / sqrt",
        (
            "BatchNorm.forward",
            _BN_HEAD
            + 'running_mean = bn_param.get("running_mean", torch.zeros(D, dtype=x.dtype, device=x.device))\n'
            'running_var = bn_param.get("running_var", torch.ones(D, dtype=x.dtype, device=x.device))\n'
            'if mode == "train":\n'
            "    mu = torch.mean(x, dim=0)\n    var = torch.mean(x * x, dim=0) - mu * mu\n"
            "    running_mean = momentum * running_mean + (1 - momentum) * mu\n"
            "    running_var = momentum * running_var + (1 - momentum) * var * N / (N - 1)\n"
            "else:\n    mu, var = running_mean, running_var\n"
            'bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var\n'
            "x_hat = (x - mu) * (1.0 / torch.sqrt(var + eps))\n"
            "return x_hat * gamma + beta, (x, x_hat, mu, var, gamma, eps)",
        ),
    ),
    rewrite(
        "bn_forward_running_in_place",
        "layers",
        "running statistics updated in place (mul_ / add_) instead of reassigned",
        (
            "BatchNorm.forward",
            _BN_HEAD + 'running_mean = bn_param.setdefault("running_mean", x.new_zeros(D))\n'
            'running_var = bn_param.setdefault("running_var", x.new_ones(D))\n'
            'if mode == "test":\n'
            "    mu, var = running_mean, running_var\n"
            "else:\n"
            "    mu = x.mean(dim=0)\n    var = ((x - mu) ** 2).mean(dim=0)\n"
            "    running_mean.mul_(momentum).add_(mu, alpha=1 - momentum)\n"
            "    running_var.mul_(momentum).add_(var * (N / (N - 1)), alpha=1 - momentum)\n"
            "x_hat = (x - mu) / (var + eps).sqrt()\n"
            "out = gamma * x_hat + beta\nreturn out, (x, x_hat, mu, var, gamma, eps)",
        ),
    ),
    rewrite(
        "bn_forward_keepdim",
        "layers",
        "keepdim statistics of shape (1, D), squeezed for the cache and the running averages",
        (
            "BatchNorm.forward",
            _BN_HEAD
            + 'running_mean = bn_param.setdefault("running_mean", torch.zeros(D, dtype=x.dtype, device=x.device))\n'
            'running_var = bn_param.setdefault("running_var", torch.ones(D, dtype=x.dtype, device=x.device))\n'
            'if mode == "train":\n'
            "    mu = x.mean(dim=0, keepdim=True)\n"
            "    var = ((x - mu) ** 2).sum(dim=0, keepdim=True) / N\n"
            '    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu[0]\n'
            '    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var[0] * N / (N - 1)\n'
            "else:\n"
            "    mu, var = running_mean[None, :], running_var[None, :]\n"
            "x_hat = (x - mu) / torch.sqrt(var + eps)\n"
            "return gamma[None, :] * x_hat + beta[None, :], (x, x_hat, mu.squeeze(0), var.squeeze(0), gamma, eps)",
        ),
    ),
    rewrite(
        "bn_forward_var_mean_unbiased_running",
        "layers",
        "torch.var_mean(correction=0), running variance from torch.var (correction=1)",
        (
            "BatchNorm.forward",
            "eps, momentum = bn_param.get('eps', 1e-5), bn_param.get('momentum', 0.9)\n"
            "D = x.shape[1]\n"
            "bn_param.setdefault('running_mean', torch.zeros(D, dtype=x.dtype, device=x.device))\n"
            "bn_param.setdefault('running_var', torch.ones(D, dtype=x.dtype, device=x.device))\n"
            "if mode == 'test':\n"
            "    mu, var = bn_param['running_mean'], bn_param['running_var']\n"
            "else:\n"
            "    var, mu = torch.var_mean(x, dim=0, correction=0)\n"
            "    for key, batch in (('running_mean', mu), ('running_var', torch.var(x, dim=0, correction=1))):\n"
            "        bn_param[key] = momentum * bn_param[key] + (1 - momentum) * batch\n"
            "std = torch.sqrt(var + eps)\nx_hat = (x - mu) / std\n"
            "return torch.addcmul(beta, gamma, x_hat), (x, x_hat, mu, var, gamma, eps)",
        ),
    ),
]

_BN_BACKWARD = [
    rewrite(
        "bn_backward_staged_graph",
        "layers",
        "the nine-node staged graph (xmu, sq, var, sqrtvar, ivar, xhat), every node with its own name",
        (
            "BatchNorm.backward",
            "x, xhat, mu, var, gamma, eps = cache\nN, D = dout.shape\n"
            "xmu = x - mu\nsqrtvar = torch.sqrt(var + eps)\nivar = 1.0 / sqrtvar\n"
            "dbeta = torch.sum(dout, dim=0)\ndgammax = dout\n"
            "dgamma = torch.sum(dgammax * xhat, dim=0)\ndxhat = dgammax * gamma\n"
            "divar = torch.sum(dxhat * xmu, dim=0)\ndxmu1 = dxhat * ivar\n"
            "dsqrtvar = -1.0 / (sqrtvar ** 2) * divar\ndvar = 0.5 * 1.0 / torch.sqrt(var + eps) * dsqrtvar\n"
            "dsq = 1.0 / N * torch.ones_like(dout) * dvar\ndxmu2 = 2 * xmu * dsq\n"
            "dx1 = dxmu1 + dxmu2\ndmu = -1 * torch.sum(dx1, dim=0)\n"
            "dx2 = 1.0 / N * torch.ones_like(dout) * dmu\n"
            "return dx1 + dx2, dgamma, dbeta",
        ),
    ),
    rewrite(
        "bn_backward_graph_from_x_hat",
        "layers",
        "the graph through x_hat = centred * inv_std with the variance branch written via x_hat",
        (
            "BatchNorm.backward",
            "_, x_hat, _, var, gamma, eps = cache\nN = dout.shape[0]\n"
            "inv_std = (var + eps) ** -0.5\n"
            "dx_hat = dout * gamma\n"
            "dvar = (dx_hat * x_hat).sum(0) * (-0.5) * inv_std / (var + eps) * torch.sqrt(var + eps)\n"
            "dmu = -(dx_hat * inv_std).sum(0)\n"
            "centred = x_hat / inv_std\n"
            "dx = dx_hat * inv_std + dvar * 2 * centred / N + dmu / N\n"
            "return dx, (dout * x_hat).sum(0), dout.sum(0)",
        ),
    ),
]

_BN_BACKWARD_ALT = [
    rewrite(
        "bn_backward_alt_means",
        "layers",
        "dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), keepdim means",
        (
            "BatchNorm.backward_alt",
            "_, x_hat, _, var, gamma, eps = cache\n"
            "dx_hat = dout * gamma\n"
            "dx = torch.rsqrt(var + eps) * (\n"
            "    dx_hat - dx_hat.mean(dim=0, keepdim=True) - x_hat * (dx_hat * x_hat).mean(dim=0, keepdim=True)\n"
            ")\n"
            "return dx, torch.sum(dout * x_hat, dim=0), torch.sum(dout, dim=0)",
        ),
    ),
    rewrite(
        "bn_backward_alt_from_x",
        "layers",
        "the closed form in the centred x instead of x_hat",
        (
            "BatchNorm.backward_alt",
            "x, x_hat, mu, var, gamma, eps = cache\nN = x.shape[0]\n"
            "xmu = x - mu\ninv = 1 / torch.sqrt(var + eps)\n"
            "dx = gamma * inv / N * (N * dout - dout.sum(dim=0) - xmu * inv**2 * (dout * xmu).sum(dim=0))\n"
            "dgamma = (dout * xmu * inv).sum(dim=0)\n"
            "return dx, dgamma, dout.sum(dim=0)",
        ),
    ),
]

_LAYERNORM = [
    rewrite(
        "ln_forward_var_rsqrt",
        "layers",
        "torch.var(unbiased=False, keepdim=True) and rsqrt",
        (
            "LayerNorm.forward",
            "eps = ln_param.get('eps', 1e-5)\n"
            "mu = torch.mean(x, dim=1, keepdim=True)\n"
            "var = torch.var(x, dim=1, unbiased=False, keepdim=True)\n"
            "x_hat = (x - mu) * torch.rsqrt(var + eps)\n"
            "return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)",
        ),
    ),
    rewrite(
        "ln_forward_transpose_batchnorm",
        "layers",
        "batchnorm's column statistics on x.T, transposed back",
        (
            "LayerNorm.forward",
            "eps = ln_param.get('eps', 1e-5)\n"
            "xt = x.T\nmu = xt.mean(dim=0)\nvar = ((xt - mu) ** 2).mean(dim=0)\n"
            "x_hat = ((xt - mu) / torch.sqrt(var + eps)).T\n"
            "return x_hat * gamma + beta, (x, x_hat, mu[:, None], var.unsqueeze(1), gamma, eps)",
        ),
    ),
    rewrite(
        "ln_backward_transpose_batchnorm",
        "layers",
        "batchnorm's closed form applied to the transposed arrays",
        (
            "LayerNorm.backward",
            "_, x_hat, _, var, gamma, eps = cache\nD = dout.shape[1]\n"
            "dxh = (dout * gamma).T\nxh = x_hat.T\ninv = 1 / torch.sqrt(var.T + eps)\n"
            "dx = (inv / D * (D * dxh - dxh.sum(0) - xh * (dxh * xh).sum(0))).T\n"
            "return dx, (dout * x_hat).sum(0), dout.sum(0)",
        ),
    ),
    rewrite(
        "ln_backward_graph",
        "layers",
        "node by node through the row statistics (from x and mu, not x_hat)",
        (
            "LayerNorm.backward",
            "x, x_hat, mu, var, gamma, eps = cache\nD = x.shape[1]\n"
            "xmu = x - mu\nstd = torch.sqrt(var + eps)\n"
            "dx_hat = dout * gamma\n"
            "dvar = (dx_hat * xmu).sum(dim=1, keepdim=True) * -0.5 * std**-3\n"
            "dmu = -(dx_hat / std).sum(dim=1, keepdim=True) - 2 * dvar * xmu.mean(dim=1, keepdim=True)\n"
            "dx = dx_hat / std + dvar * 2 * xmu / D + dmu / D\n"
            "return dx, torch.sum(dout * x_hat, 0), torch.sum(dout, 0)",
        ),
    ),
]

_SANDWICH = [
    rewrite(
        "sandwich_dict_dispatch_graph_backward",
        "layers",
        "a dict from the name to the layer class; BatchNorm.backward (graph) instead of backward_alt",
        (
            "Linear_Norm_ReLU.forward",
            'layer = {"batchnorm": BatchNorm, "layernorm": LayerNorm}[normalization]\n'
            "out, fc_cache = Linear.forward(x, w, b)\n"
            "out, norm_cache = layer.forward(out, gamma, beta, norm_param)\n"
            "out, relu_cache = ReLU.forward(out)\n"
            "return out, (normalization, fc_cache, norm_cache, relu_cache)",
        ),
        (
            "Linear_Norm_ReLU.backward",
            "kind, fc_cache, norm_cache, relu_cache = cache\n"
            'layer = {"batchnorm": BatchNorm, "layernorm": LayerNorm}[kind]\n'
            "da, dgamma, dbeta = layer.backward(ReLU.backward(dout, relu_cache), norm_cache)\n"
            "dx, dw, db = Linear.backward(da, fc_cache)\n"
            "return dx, dw, db, dgamma, dbeta",
        ),
    ),
]

_NORM_INIT = [
    rewrite(
        "fcn_init_norm_second_loop",
        "fc_net",
        "weights first, then gamma and beta in a second loop over hidden_dims",
        (
            "FullyConnectedNet.__init__",
            "gen = torch.Generator(device=device).manual_seed(seed) if seed is not None else None\n"
            "dims = [input_dim] + self.hidden_dims + [num_classes]\n"
            "for i in range(self.num_layers):\n"
            "    self.params['W' + str(i + 1)] = weight_scale * torch.randn(\n"
            "        dims[i], dims[i + 1], generator=gen, dtype=dtype, device=device)\n"
            "    self.params['b' + str(i + 1)] = torch.zeros(dims[i + 1], dtype=dtype, device=device)\n"
            "if self.normalization:\n"
            "    for i, h in enumerate(self.hidden_dims, start=1):\n"
            "        self.params['gamma' + str(i)] = torch.ones(h, dtype=dtype, device=device)\n"
            "        self.params['beta' + str(i)] = torch.zeros(h, dtype=dtype, device=device)",
        ),
    ),
]

_NORM_LOSS_EXPLICIT = """
L = self.num_layers
P = self.params
layers = [(P[f"W{i}"], P[f"b{i}"], P.get(f"gamma{i}"), P.get(f"beta{i}")) for i in range(1, L + 1)]
Norm = {"batchnorm": BatchNorm, "layernorm": LayerNorm}.get(self.normalization)
h, stack = X, []
for i, (W, b, gamma, beta) in enumerate(layers[:-1]):
    a, fc = Linear.forward(h, W, b)
    nc = None
    if Norm is not None:
        a, nc = Norm.forward(a, gamma, beta, self.norm_params[i])
    h, rc = ReLU.forward(a)
    dc = None
    if self.use_dropout:
        h, dc = Dropout.forward(h, self.dropout_param)
    stack.append((fc, nc, rc, dc))
scores, last = Linear.forward(h, *layers[-1][:2])
if y is None:
    return scores
loss, d = softmax_loss(scores, y)
grads = {}
d, grads[f"W{L}"], grads[f"b{L}"] = Linear.backward(d, last)
for i in range(L - 1, 0, -1):
    fc, nc, rc, dc = stack[i - 1]
    if dc is not None:
        d = Dropout.backward(d, dc)
    d = ReLU.backward(d, rc)
    if Norm is not None:
        d, grads[f"gamma{i}"], grads[f"beta{i}"] = Norm.backward(d, nc)
    d, grads[f"W{i}"], grads[f"b{i}"] = Linear.backward(d, fc)
for i, (W, *_rest) in enumerate(layers, start=1):
    loss = loss + 0.5 * self.reg * torch.sum(W**2)
    grads[f"W{i}"] = grads[f"W{i}"] + self.reg * W
return loss, grads
"""

_NORM_LOSS_SANDWICH_LIST = """
L = self.num_layers
gammas = [self.params.get(f"gamma{i}") for i in range(1, L)]
betas = [self.params.get(f"beta{i}") for i in range(1, L)]
out, caches = X, []
for i in range(1, L):
    W, b = self.params[f"W{i}"], self.params[f"b{i}"]
    if self.normalization in ("batchnorm", "layernorm"):
        out, cache = Linear_Norm_ReLU.forward(
            out, W, b, gammas[i - 1], betas[i - 1], self.norm_params[i - 1], self.normalization
        )
    else:
        out, cache = Linear_ReLU.forward(out, W, b)
    drop = None
    if self.use_dropout:
        out, drop = Dropout.forward(out, self.dropout_param)
    caches.append((cache, drop))
scores, last = Linear.forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
if y is None:
    return scores
loss, dout = softmax_loss(scores, y)
l2 = sum(torch.sum(self.params[f"W{i}"] * self.params[f"W{i}"]) for i in range(1, L + 1))
loss = loss + 0.5 * self.reg * l2
grads = {}
dout, dW, grads[f"b{L}"] = Linear.backward(dout, last)
grads[f"W{L}"] = dW + self.reg * self.params[f"W{L}"]
for i in reversed(range(1, L)):
    cache, drop = caches[i - 1]
    if drop is not None:
        dout = Dropout.backward(dout, drop)
    if self.normalization in ("batchnorm", "layernorm"):
        dout, dW, grads[f"b{i}"], grads[f"gamma{i}"], grads[f"beta{i}"] = Linear_Norm_ReLU.backward(dout, cache)
    else:
        dout, dW, grads[f"b{i}"] = Linear_ReLU.backward(dout, cache)
    grads[f"W{i}"] = dW + self.reg * self.params[f"W{i}"]
return loss, grads
"""

_NORM_LOSS = [
    rewrite(
        "fcn_loss_norm_explicit_layers",
        "fc_net",
        "Linear, BatchNorm/LayerNorm (graph backward), ReLU called one by one; gamma/beta gathered per layer",
        ("FullyConnectedNet.loss", _NORM_LOSS_EXPLICIT),
    ),
    rewrite(
        "fcn_loss_norm_gamma_beta_lists",
        "fc_net",
        "gamma and beta gathered into lists first; the L2 term computed once; full backward on layer 1",
        ("FullyConnectedNet.loss", _NORM_LOSS_SANDWICH_LIST),
    ),
]

# Private caches: the checks give a backward the cache of the same student's forward.
_CACHE_LAYOUTS = [
    rewrite(
        "sandwich_cache_private_dict",
        "layers",
        "a dict cache holding the normalization class itself",
        (
            "Linear_Norm_ReLU.forward",
            'Norm = BatchNorm if normalization == "batchnorm" else LayerNorm\n'
            "a, fc = Linear.forward(x, w, b)\n"
            "a, nc = Norm.forward(a, gamma, beta, norm_param)\n"
            "out, rc = ReLU.forward(a)\n"
            'return out, {"fc": fc, "norm": nc, "relu": rc, "backward": Norm.backward}',
        ),
        (
            "Linear_Norm_ReLU.backward",
            'da, dgamma, dbeta = cache["backward"](ReLU.backward(dout, cache["relu"]), cache["norm"])\n'
            'return (*Linear.backward(da, cache["fc"]), dgamma, dbeta)',
        ),
    ),
    rewrite(
        "bn_cache_private_dict",
        "layers",
        "a private dict cache (x_hat, inv_std, gamma) shared by forward, backward and backward_alt",
        (
            "BatchNorm.forward",
            _BN_HEAD
            + 'running_mean = bn_param.setdefault("running_mean", torch.zeros(D, dtype=x.dtype, device=x.device))\n'
            'running_var = bn_param.setdefault("running_var", torch.ones(D, dtype=x.dtype, device=x.device))\n'
            'if mode == "train":\n'
            "    mu, var = x.mean(dim=0), x.var(dim=0, unbiased=False)\n"
            '    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu\n'
            '    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var * N / (N - 1)\n'
            "else:\n    mu, var = running_mean, running_var\n"
            "inv_std = 1 / torch.sqrt(var + eps)\nx_hat = (x - mu) * inv_std\n"
            'return gamma * x_hat + beta, {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma}',
        ),
        (
            "BatchNorm.backward",
            'x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]\n'
            "dx_hat = dout * gamma\n"
            "dx = inv_std * (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0))\n"
            "return dx, (dout * x_hat).sum(0), dout.sum(0)",
        ),
        (
            "BatchNorm.backward_alt",
            'x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]\n'
            "N = dout.shape[0]\ndbeta, dgamma = dout.sum(0), (dout * x_hat).sum(0)\n"
            "return gamma * inv_std / N * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta",
        ),
    ),
    rewrite(
        "ln_cache_private_triple",
        "layers",
        "a private cache (x_hat, gamma, inv_std) for layernorm",
        (
            "LayerNorm.forward",
            'eps = ln_param.get("eps", 1e-5)\n'
            "mu = x.mean(dim=1, keepdim=True)\n"
            "inv_std = torch.rsqrt(((x - mu) ** 2).mean(dim=1, keepdim=True) + eps)\n"
            "x_hat = (x - mu) * inv_std\n"
            "return gamma * x_hat + beta, (x_hat, gamma, inv_std)",
        ),
        (
            "LayerNorm.backward",
            "x_hat, gamma, inv_std = cache\n"
            "dx_hat = dout * gamma\n"
            "dx = inv_std * (dx_hat - dx_hat.mean(1, keepdim=True) - x_hat * (dx_hat * x_hat).mean(1, keepdim=True))\n"
            "return dx, (dout * x_hat).sum(0), dout.sum(0)",
        ),
    ),
    rewrite(
        "capstone_layernorm_config",
        "fc_net",
        "another good configuration: layernorm, two equal layers, L2 instead of dropout, rmsprop",
        (
            "get_capstone_config",
            'config = dict(hidden_dims=[160, 160], normalization="layernorm", reg=1e-4, weight_scale=0.1)\n'
            'config.update(update_rule="rmsprop", learning_rate=1e-3, lr_decay=0.9, batch_size=100, num_epochs=20)\n'
            "return config",
        ),
    ),
]

VARIANTS = (
    _BN_FORWARD
    + _BN_BACKWARD
    + _BN_BACKWARD_ALT
    + _LAYERNORM
    + _SANDWICH
    + _NORM_INIT
    + _NORM_LOSS
    + _CACHE_LAYOUTS
)
