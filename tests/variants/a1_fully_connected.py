"""Correct variants of the layers (layers.py) and models (fc_net.py) of assignment 1."""

from __future__ import annotations

from tests.variants import rewrite

_REFERENCE_BACKWARD = """
x, w, _ = cache
x_flat = x.reshape(x.shape[0], w.shape[0])
dx = (dout @ w.T).reshape(x.shape)
dw = x_flat.T @ dout
db = dout.sum(dim=0)
return dx, dw, db
"""
_TIE_RULE = "0 where x <= 0, including x == 0 exactly"

LAYERS = [
    # ---------------------------------------------------------------- Linear.forward
    rewrite(
        "linear_forward_flatten",
        "layers",
        "x.flatten(1)",
        ("Linear.forward", "out = x.flatten(1) @ w + b\nreturn out, (x, w, b)"),
    ),
    rewrite(
        "linear_forward_reshape_minus_one",
        "layers",
        "x.reshape(N, -1) and torch.matmul",
        (
            "Linear.forward",
            "N = x.shape[0]\nout = torch.matmul(x.reshape(N, -1), w) + b\nreturn out, (x, w, b)",
        ),
    ),
    rewrite(
        "linear_forward_mm",
        "layers",
        "torch.mm on len(x)",
        (
            "Linear.forward",
            "out = torch.mm(x.reshape(len(x), -1), w) + b\ncache = (x, w, b)\nreturn out, cache",
        ),
    ),
    rewrite(
        "linear_forward_einsum",
        "layers",
        "torch.einsum",
        (
            "Linear.forward",
            'out = torch.einsum("nd,dm->nm", x.reshape(x.shape[0], -1), w) + b\nreturn out, (x, w, b)',
        ),
    ),
    rewrite(
        "linear_forward_addmm",
        "layers",
        "torch.addmm(b, x_flat, w)",
        ("Linear.forward", "out = torch.addmm(b, x.reshape(x.shape[0], -1), w)\nreturn out, (x, w, b)"),
    ),
    # ------------------------------------------------- Linear: private cache layouts (the pair)
    rewrite(
        "linear_cache_dict",
        "layers",
        "cache as a dict",
        ("Linear.forward", 'out = x.reshape(x.shape[0], -1) @ w + b\nreturn out, {"x": x, "w": w, "b": b}'),
        (
            "Linear.backward",
            'x, w = cache["x"], cache["w"]\n'
            "dx = (dout @ w.T).reshape(x.shape)\ndw = x.reshape(x.shape[0], -1).T @ dout\n"
            "return dx, dw, dout.sum(0)",
        ),
    ),
    rewrite(
        "linear_cache_flat_x_and_shape",
        "layers",
        "caches the flattened x and x's shape",
        (
            "Linear.forward",
            "x_flat = x.reshape(x.shape[0], -1)\nout = x_flat @ w + b\n"
            "return out, (x_flat, w, tuple(x.shape))",
        ),
        (
            "Linear.backward",
            "x_flat, w, shape = cache\nreturn (dout @ w.T).reshape(shape), x_flat.T @ dout, dout.sum(dim=0)",
        ),
    ),
    rewrite(
        "linear_cache_without_b",
        "layers",
        "cache (x, w) without the unused b",
        ("Linear.forward", "out = x.reshape(x.shape[0], -1) @ w + b\nreturn out, (x, w)"),
        (
            "Linear.backward",
            "x, w = cache\nN = x.shape[0]\n"
            "dx = dout.mm(w.t()).view(x.shape)\ndw = x.reshape(N, -1).t().mm(dout)\n"
            "db = torch.sum(dout, dim=0)\nreturn dx, dw, db",
        ),
    ),
    # ---------------------------------------------------------------- Linear.backward
    rewrite(
        "linear_backward_einsum",
        "layers",
        "einsum for dw, reshape_as for dx",
        (
            "Linear.backward",
            "x, w, b = cache\n"
            'dw = torch.einsum("nd,nm->dm", x.reshape(x.shape[0], -1), dout)\n'
            "dx = (dout @ w.T).reshape_as(x)\ndb = dout.sum(axis=0)\nreturn dx, dw, db",
        ),
    ),
    # ---------------------------------------------------------------- ReLU.forward
    rewrite(
        "relu_forward_where",
        "layers",
        "torch.where",
        ("ReLU.forward", "out = torch.where(x > 0, x, torch.zeros_like(x))\nreturn out, x"),
    ),
    rewrite(
        "relu_forward_clone_assign",
        "layers",
        "clone() then masked assignment",
        ("ReLU.forward", "out = x.clone()\nout[out < 0] = 0\nreturn out, x"),
    ),
    rewrite("relu_forward_torch_relu", "layers", "torch.relu", ("ReLU.forward", "return torch.relu(x), x")),
    rewrite(
        "relu_forward_maximum",
        "layers",
        "torch.maximum with zeros",
        ("ReLU.forward", "return torch.maximum(x, torch.zeros_like(x)), x"),
    ),
    rewrite(
        "relu_forward_times_mask",
        "layers",
        "x * (x > 0)",
        ("ReLU.forward", "cache = x\nout = x * (x > 0)\nreturn out, cache"),
    ),
    # --------------------------------------------------- ReLU: private cache layouts (the pair)
    rewrite(
        "relu_cache_output",
        "layers",
        "caches the output; backward uses out > 0",
        ("ReLU.forward", "out = x.clamp(min=0)\nreturn out, out"),
        ("ReLU.backward", "out = cache\nreturn dout * (out > 0)"),
    ),
    rewrite(
        "relu_cache_bool_mask",
        "layers",
        "caches the bool mask x > 0",
        ("ReLU.forward", "mask = x > 0\nreturn x * mask, mask"),
        ("ReLU.backward", "return dout * cache"),
    ),
    # ---------------------------------------------------------------- ReLU.backward
    rewrite(
        "relu_backward_where",
        "layers",
        "torch.where",
        ("ReLU.backward", "x = cache\nreturn torch.where(x > 0, dout, torch.zeros_like(dout))"),
    ),
    rewrite(
        "relu_backward_clone_assign",
        "layers",
        "clone() then masked assignment",
        ("ReLU.backward", "x = cache\ndx = dout.clone()\ndx[x <= 0] = 0\nreturn dx"),
    ),
    rewrite(
        "relu_backward_float_mask",
        "layers",
        "mask converted to dout's dtype",
        ("ReLU.backward", "return dout * (cache > 0).to(dout.dtype)"),
    ),
    rewrite(
        "relu_backward_tie_passes_gradient",
        "layers",
        "dx[x < 0] = 0: the gradient passes at exactly 0",
        ("ReLU.backward", "x = cache\ndx = dout.clone()\ndx[x < 0] = 0\nreturn dx"),
        loses=[("relu_backward_ties", _TIE_RULE)],
    ),
    # ------------------------------------------------------ Linear_ReLU: private cache layouts
    rewrite(
        "linear_relu_cache_dict",
        "layers",
        "sandwich cache as a dict",
        (
            "Linear_ReLU.forward",
            "a, fc = Linear.forward(x, w, b)\nout, relu = ReLU.forward(a)\n"
            'return out, {"fc": fc, "relu": relu}',
        ),
        (
            "Linear_ReLU.backward",
            'da = ReLU.backward(dout, cache["relu"])\nreturn Linear.backward(da, cache["fc"])',
        ),
    ),
    rewrite(
        "linear_relu_cache_output",
        "layers",
        "caches the ReLU output (backward of it is the same)",
        (
            "Linear_ReLU.forward",
            "a, linear_cache = Linear.forward(x, w, b)\nout, _ = ReLU.forward(a)\n"
            "return out, (linear_cache, out)",
        ),
    ),
    rewrite(
        "linear_relu_cache_reversed",
        "layers",
        "(relu_cache, linear_cache) in forward and backward",
        (
            "Linear_ReLU.forward",
            "a, linear_cache = Linear.forward(x, w, b)\nout, relu_cache = ReLU.forward(a)\n"
            "return out, (relu_cache, linear_cache)",
        ),
        (
            "Linear_ReLU.backward",
            "relu_cache, linear_cache = cache\n"
            "return Linear.backward(ReLU.backward(dout, relu_cache), linear_cache)",
        ),
    ),
    # ---------------------------------------------------------------- losses
    rewrite(
        "softmax_logsumexp",
        "layers",
        "torch.logsumexp and a one-hot matrix",
        (
            "softmax_loss",
            "N, C = x.shape\n"
            "log_probs = x - torch.logsumexp(x, dim=1, keepdim=True)\n"
            "one_hot = torch.nn.functional.one_hot(y, C).to(x.dtype)\n"
            "loss = -(log_probs * one_hot).sum() / N\n"
            "dx = (log_probs.exp() - one_hot) / N\nreturn loss, dx",
        ),
    ),
    rewrite(
        "softmax_shifted_exp_gather",
        "layers",
        "shifted exp, gather and mean",
        (
            "softmax_loss",
            "shifted = x - x.max(dim=1, keepdim=True)[0]\n"
            "sums = torch.exp(shifted).sum(dim=1, keepdim=True)\n"
            "loss = -(shifted.gather(1, y.view(-1, 1)) - torch.log(sums)).mean()\n"
            "probs = torch.exp(shifted) / sums\n"
            "probs[range(x.shape[0]), y] -= 1\nreturn loss, probs / x.shape[0]",
        ),
    ),
    rewrite(
        "svm_where_and_counts",
        "layers",
        "torch.where margins, scatter of counts",
        (
            "svm_loss",
            "N = x.shape[0]\ncorrect = x.gather(1, y[:, None])\n"
            "margins = torch.where(x - correct + 1 > 0, x - correct + 1, torch.zeros_like(x))\n"
            "margins = margins.scatter(1, y[:, None], 0.0)\n"
            "loss = torch.sum(margins) / N\npositive = (margins > 0).to(x.dtype)\n"
            "dx = positive.scatter(1, y[:, None], -positive.sum(dim=1, keepdim=True))\n"
            "return loss, dx / N",
        ),
    ),
]

_TWO_LAYER_FORWARD = """
W1, b1, W2, b2 = (self.params[name] for name in ("W1", "b1", "W2", "b2"))
"""

MODELS = [
    rewrite(
        "two_layer_init_normal",
        "fc_net",
        "torch.normal(0, weight_scale, size) for the weights",
        (
            "TwoLayerNet.__init__",
            'for name, shape in (("1", (input_dim, hidden_dim)), ("2", (hidden_dim, num_classes))):\n'
            '    self.params["W" + name] = torch.normal(0.0, weight_scale, size=shape, dtype=dtype, device=device)\n'
            '    self.params["b" + name] = torch.zeros(shape[1], dtype=dtype, device=device)',
        ),
    ),
    rewrite(
        "two_layer_loss_sandwich_and_sum",
        "fc_net",
        "Linear_ReLU, caches in a dict, torch.sum(W * W)",
        (
            "TwoLayerNet.loss",
            "p = self.params\ncaches = {}\n"
            'hidden, caches["h"] = Linear_ReLU.forward(X, p["W1"], p["b1"])\n'
            'scores, caches["s"] = Linear.forward(hidden, p["W2"], p["b2"])\n'
            "if y is None:\n    return scores\n"
            "loss, dscores = softmax_loss(scores, y)\n"
            'loss += 0.5 * self.reg * (torch.sum(p["W1"] * p["W1"]) + torch.sum(p["W2"] * p["W2"]))\n'
            'dhidden, dW2, db2 = Linear.backward(dscores, caches["s"])\n'
            '_, dW1, db1 = Linear_ReLU.backward(dhidden, caches["h"])\n'
            'grads = {"W1": dW1 + self.reg * p["W1"], "b1": db1, "W2": dW2 + self.reg * p["W2"], "b2": db2}\n'
            "return loss, grads",
        ),
    ),
    rewrite(
        "fcn_init_zip_scale_first",
        "fc_net",
        "zip over consecutive dims, weight_scale * randn",
        (
            "FullyConnectedNet.__init__",
            "g = torch.Generator(device=device).manual_seed(seed) if seed is not None else None\n"
            "sizes = [input_dim] + self.hidden_dims + [num_classes]\n"
            "for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):\n"
            '    self.params[f"W{i}"] = weight_scale * torch.randn(fan_in, fan_out, generator=g, dtype=dtype, device=device)\n'
            '    self.params[f"b{i}"] = torch.zeros(fan_out, dtype=dtype, device=device)\n'
            "    if normalization is not None and i < len(sizes) - 1:\n"
            '        self.params[f"gamma{i}"] = torch.ones(fan_out, dtype=dtype, device=device)\n'
            '        self.params[f"beta{i}"] = torch.zeros(fan_out, dtype=dtype, device=device)',
        ),
    ),
    rewrite(
        "fcn_loss_dict_caches_full_backward",
        "fc_net",
        "caches in a dict, (W ** 2).sum() always, Linear_ReLU.backward for the first layer too",
        (
            "FullyConnectedNet.loss",
            "L = self.num_layers\ncaches = {}\nh = X\n"
            "for i in range(1, L):\n"
            '    W, b = self.params["W%d" % i], self.params["b%d" % i]\n'
            "    if self.normalization is None:\n"
            "        h, caches[i] = Linear_ReLU.forward(h, W, b)\n"
            "    else:\n"
            '        gamma, beta = self.params["gamma%d" % i], self.params["beta%d" % i]\n'
            "        h, caches[i] = Linear_Norm_ReLU.forward(h, W, b, gamma, beta, self.norm_params[i - 1], self.normalization)\n"
            "    if self.use_dropout:\n"
            '        h, caches["drop", i] = Dropout.forward(h, self.dropout_param)\n'
            'scores, caches[L] = Linear.forward(h, self.params["W%d" % L], self.params["b%d" % L])\n'
            "if y is None:\n    return scores\n"
            "loss, dh = softmax_loss(scores, y)\ngrads = {}\n"
            'dh, grads["W%d" % L], grads["b%d" % L] = Linear.backward(dh, caches[L])\n'
            "for i in reversed(range(1, L)):\n"
            "    if self.use_dropout:\n"
            '        dh = Dropout.backward(dh, caches["drop", i])\n'
            "    if self.normalization is None:\n"
            '        dh, grads["W%d" % i], grads["b%d" % i] = Linear_ReLU.backward(dh, caches[i])\n'
            "    else:\n"
            '        dh, grads["W%d" % i], grads["b%d" % i], grads["gamma%d" % i], grads["beta%d" % i] = (\n'
            "            Linear_Norm_ReLU.backward(dh, caches[i]))\n"
            "for i in range(1, L + 1):\n"
            '    W = self.params["W%d" % i]\n'
            "    loss = loss + 0.5 * self.reg * (W ** 2).sum()\n"
            '    grads["W%d" % i] += self.reg * W\n'
            "return loss, grads",
        ),
    ),
    rewrite(
        "fcn_loss_layer_list",
        "fc_net",
        "a list of layer objects walked forwards and backwards",
        (
            "FullyConnectedNet.loss",
            "L = self.num_layers\nstack = []\nout = X\n"
            "for i in range(1, L + 1):\n"
            '    W, b = self.params[f"W{i}"], self.params[f"b{i}"]\n'
            "    if i < L and self.normalization is not None:\n"
            "        layer = Linear_Norm_ReLU\n"
            '        gamma, beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]\n'
            "        out, cache = layer.forward(out, W, b, gamma, beta, self.norm_params[i - 1], self.normalization)\n"
            "    else:\n"
            "        layer = Linear if i == L else Linear_ReLU\n"
            "        out, cache = layer.forward(out, W, b)\n"
            "    stack.append((layer, i, cache))\n"
            "    if self.use_dropout and i < L:\n"
            "        out, cache = Dropout.forward(out, self.dropout_param)\n"
            "        stack.append((Dropout, i, cache))\n"
            "if y is None:\n    return out\n"
            "loss, dout = softmax_loss(out, y)\ngrads = {}\n"
            "for layer, i, cache in reversed(stack):\n"
            "    if layer is Dropout:\n"
            "        dout = Dropout.backward(dout, cache)\n"
            "        continue\n"
            "    if layer is Linear_Norm_ReLU:\n"
            '        dout, dW, grads[f"b{i}"], grads[f"gamma{i}"], grads[f"beta{i}"] = layer.backward(dout, cache)\n'
            "    else:\n"
            '        dout, dW, grads[f"b{i}"] = layer.backward(dout, cache)\n'
            '    W = self.params[f"W{i}"]\n'
            '    grads[f"W{i}"] = dW + self.reg * W\n'
            "    loss = loss + 0.5 * self.reg * torch.sum(W * W)\n"
            "return loss, grads",
        ),
    ),
    # ------------------------------------------------- configuration tasks: other good choices
    rewrite(
        "three_layer_params_other_pair",
        "fc_net",
        "another (weight_scale, learning_rate) that overfits, returned as a literal tuple",
        ("get_three_layer_network_params", "return 0.2, 0.5"),
    ),
    rewrite(
        "five_layer_params_other_pair",
        "fc_net",
        "another (weight_scale, learning_rate) for the deeper net",
        ("get_five_layer_network_params", "return 0.25, 0.1"),
    ),
    rewrite(
        "solver_instance_wider_smaller_batches",
        "fc_net",
        "a wider hidden layer, smaller batches, a smaller step and keyword-free model arguments",
        (
            "create_solver_instance",
            'model = TwoLayerNet(data_dict["X_train"][0].numel(), 200, 10, 2e-2, 0.0, dtype=dtype, device=device)\n'
            'return Solver(model, data_dict, update_rule="sgd", optim_config={"learning_rate": 0.2},\n'
            "              num_epochs=15, batch_size=50, device=device, verbose=False)",
        ),
    ),
]

VARIANTS = LAYERS + MODELS
