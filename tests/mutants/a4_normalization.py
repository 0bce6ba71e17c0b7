"""Known bugs in ``BatchNorm``, ``LayerNorm``, ``Linear_Norm_ReLU`` (layers.py) and in
FullyConnectedNet's normalization (fc_net.py), assignment 4."""

from __future__ import annotations

from tests.mutants import Mutant

_BN_TRAIN = (
    "            mu = x.mean(dim=0)\n"
    "            centred = x - mu\n"
    "            var = (centred * centred).mean(dim=0)\n"
    "            # momentum * running + (1 - momentum) * batch statistic, as one lerp each\n"
    '            bn_param["running_mean"] = running_mean.lerp(mu, 1 - momentum)\n'
    '            bn_param["running_var"] = running_var.lerp(var * (N / (N - 1)), 1 - momentum)\n'
)
_BN_TEST = "        else:\n            mu, var = running_mean, running_var\n            centred = x - mu\n"
_BN_NORMALISE = (
    _BN_TEST + "        x_hat = centred * torch.rsqrt(var + eps)\n"
    "        out = torch.addcmul(beta, gamma, x_hat)  # gamma * x_hat + beta in one pass\n"
)
_BN_BACKWARD_GRADS = (
    "        N = x.shape[0]\n        dbeta = dout.sum(dim=0)\n        dgamma = (dout * x_hat).sum(dim=0)\n"
)
_ALT_GRADS = (
    "        N = dout.shape[0]\n        dbeta = dout.sum(dim=0)\n        dgamma = (dout * x_hat).sum(dim=0)\n"
)
_ALT_SCALE = "        scale = gamma * torch.rsqrt(var + eps)  # (D,)\n"
_ALT_DX = "        dx = torch.addcmul(-scale * dbeta / N, dout, scale).addcmul_(x_hat, -scale * dgamma / N)\n"
_LN_FORWARD = (
    "        mu = x.mean(dim=1, keepdim=True)\n"
    "        centred = x - mu\n"
    "        var = (centred * centred).mean(dim=1, keepdim=True)\n"
    "        x_hat = centred * torch.rsqrt(var + eps)\n"
    "        out = torch.addcmul(beta, gamma, x_hat)  # gamma * x_hat + beta in one pass\n"
)
_LN_GRADS = "        dbeta = dout.sum(dim=0)\n        dgamma = dout_x_hat.sum(dim=0)\n"
_LN_MEANS = (
    "        mean_dx_hat = (dout @ gamma).unsqueeze(1) / D  # (N, 1)\n"
    "        mean_dx_hat_x_hat = (dout_x_hat @ gamma).unsqueeze(1) / D  # (N, 1)\n"
)
_LN_DX = "        dx = torch.addcmul(-mean_dx_hat, dout, gamma).addcmul_(x_hat, -mean_dx_hat_x_hat)\n"
_SANDWICH_FORWARD = (
    "        a_norm, norm_cache = norm.forward(a, gamma, beta, norm_param)\n"
    "        out, relu_cache = ReLU.forward(a_norm)\n"
)
_SANDWICH_BACKWARD = (
    '        if normalization == "batchnorm":\n'
    "            da_linear, dgamma, dbeta = BatchNorm.backward_alt(da_norm, norm_cache)\n"
    "        else:\n"
    "            da_linear, dgamma, dbeta = LayerNorm.backward(da_norm, norm_cache)\n"
)
_NET_FORWARD = (
    "                out, cache = Linear_Norm_ReLU.forward(\n"
    "                    out, W, b, gamma, beta, self.norm_params[i - 1], self.normalization\n"
    "                )\n"
)
_NET_REG = (
    "            for i, W in enumerate(weights, start=1):\n"
    '                grads[f"W{i}"] = grads[f"W{i}"] + self.reg * W\n'
)
_INIT = "            if normalization is not None and i < self.num_layers:\n"

BN_FORWARD = (
    "batchnorm_forward_train", "batchnorm_forward_running_update", "batchnorm_forward_matches_torch",
    "batchnorm_forward_float32", "batchnorm_forward_sequence", "batchnorm_forward_x_unchanged",
)  # fmt: skip
BN_RUNNING = (
    "batchnorm_forward_train", "batchnorm_forward_running_update", "batchnorm_forward_matches_torch",
    "batchnorm_forward_float32", "batchnorm_forward_sequence", "batchnorm_forward_x_unchanged",
)  # fmt: skip
BN_TEST = ("batchnorm_forward_test_mode", "batchnorm_forward_matches_torch", "batchnorm_forward_sequence")
BN_BACKWARD = (
    "batchnorm_backward_reference", "batchnorm_backward_autograd", "batchnorm_backward_float32",
    "batchnorm_backward_dout_unchanged",
)  # fmt: skip
BN_BACKWARD_SHAPES = (
    "batchnorm_backward_reference",
    "batchnorm_backward_float32",
    "batchnorm_backward_dout_unchanged",
)
ALT = (
    "batchnorm_backward_alt_reference", "batchnorm_backward_alt_autograd", "batchnorm_backward_alt_float32",
    "batchnorm_backward_alt_dout_unchanged",
)  # fmt: skip
ALT_SHAPES = (
    "batchnorm_backward_alt_reference",
    "batchnorm_backward_alt_float32",
    "batchnorm_backward_alt_dout_unchanged",
)
LN_FORWARD = (
    "layernorm_forward_reference", "layernorm_forward_test_mode", "layernorm_forward_matches_torch",
    "layernorm_forward_single_example", "layernorm_forward_float32_x_unchanged",
)  # fmt: skip
LN_BACKWARD = (
    "layernorm_backward_reference", "layernorm_backward_autograd", "layernorm_backward_float32",
    "layernorm_backward_dout_unchanged",
)  # fmt: skip
LN_BACKWARD_SHAPES = (
    "layernorm_backward_reference",
    "layernorm_backward_float32",
    "layernorm_backward_dout_unchanged",
)
SANDWICH_FORWARD = (
    "linear_norm_relu_forward_batchnorm", "linear_norm_relu_forward_layernorm",
    "linear_norm_relu_forward_test_mode", "linear_norm_relu_forward_float32",
)  # fmt: skip
SANDWICH_BACKWARD = (
    "linear_norm_relu_backward_batchnorm", "linear_norm_relu_backward_layernorm",
    "linear_norm_relu_backward_float32",
)  # fmt: skip
NET_TRAIN = (
    "batchnorm_net_loss_and_grads", "layernorm_net_loss_and_grads", "batchnorm_net_with_dropout",
    "layernorm_net_float32",
)  # fmt: skip
CAPSTONE = ("capstone_accuracy_090", "capstone_accuracy_095", "capstone_accuracy_0965")
NET_INIT = ("norm_net_init_batchnorm", "norm_net_init_layernorm", "norm_net_init_single_hidden_layer")

MUTANTS = [
    # -- BatchNorm.forward ---------------------------------------------------------------------
    Mutant(
        "bn_unbiased_variance_in_normalization", "layers", _BN_TRAIN,
        _BN_TRAIN.replace("var = (centred * centred).mean(dim=0)", "var = (centred * centred).sum(dim=0) / (N - 1)")
        .replace("var * (N / (N - 1))", "var"),
        BN_FORWARD, "the unbiased variance normalises (and the biased one is kept as the running variance)",
    ),
    Mutant(
        "bn_running_var_biased", "layers", "var * (N / (N - 1))", "var",
        BN_RUNNING, "the running variance keeps the biased batch variance",
    ),
    Mutant(
        "bn_running_stats_updated_in_test_mode", "layers", _BN_TEST,
        _BN_TEST + '            bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * x.mean(dim=0)\n',
        BN_TEST, "the running mean is updated in test mode too",
    ),
    Mutant(
        "bn_running_stats_never_updated", "layers", _BN_TRAIN,
        "            mu = x.mean(dim=0)\n            centred = x - mu\n            var = (centred * centred).mean(dim=0)\n",
        BN_RUNNING, "the running statistics are never updated",
    ),
    Mutant(
        "bn_momentum_reversed", "layers", _BN_TRAIN,
        _BN_TRAIN.replace("lerp(mu, 1 - momentum)", "lerp(mu, momentum)").replace(
            "lerp(var * (N / (N - 1)), 1 - momentum)", "lerp(var * (N / (N - 1)), momentum)"
        ),
        BN_RUNNING, "momentum weighs the new batch statistic (PyTorch's convention) instead of the old value",
    ),
    Mutant(
        "bn_eps_outside_sqrt", "layers", _BN_NORMALISE,
        _BN_NORMALISE.replace("torch.rsqrt(var + eps)", "(1 / (torch.sqrt(var) + eps))"),
        ("batchnorm_forward_train", "batchnorm_forward_running_update", "batchnorm_forward_test_mode",
         "batchnorm_forward_matches_torch", "batchnorm_forward_sequence"),
        "eps added to the standard deviation instead of the variance",
    ),
    Mutant(
        "bn_test_mode_uses_batch_statistics", "layers", _BN_TEST,
        "        else:\n            mu, var = x.mean(dim=0), x.var(dim=0, unbiased=False)\n            centred = x - mu\n",
        BN_TEST, "test mode normalises with the statistics of the test batch",
    ),
    Mutant(
        "bn_gamma_beta_swapped", "layers", _BN_NORMALISE,
        _BN_NORMALISE.replace("torch.addcmul(beta, gamma, x_hat)", "torch.addcmul(gamma, beta, x_hat)"),
        (*BN_FORWARD, "batchnorm_forward_test_mode"), "gamma and beta swapped",
    ),
    Mutant(
        "bn_statistics_per_example", "layers", _BN_TRAIN,
        _BN_TRAIN.replace("x.mean(dim=0)", "x.mean(dim=1, keepdim=True)")
        .replace("centred).mean(dim=0)", "centred).mean(dim=1, keepdim=True)"),
        BN_FORWARD, "batchnorm averages over the features of each example (layernorm's axis)",
    ),
    Mutant(
        "bn_x_in_place", "layers", _BN_TRAIN, _BN_TRAIN.replace("centred = x - mu", "centred = x.sub_(mu)"),
        ("batchnorm_forward_x_unchanged",), "x is centred in place",
    ),
    Mutant(
        "bn_running_var_keeps_std", "layers", "var * (N / (N - 1))", "(var * (N / (N - 1))).sqrt()",
        BN_RUNNING, "the running average keeps the standard deviation instead of the variance",
    ),
    Mutant(
        "bn_running_var_created_as_zeros", "layers",
        'bn_param["running_var"] = torch.ones(', 'bn_param["running_var"] = torch.zeros(',
        ("batchnorm_forward_train", "batchnorm_forward_matches_torch", "batchnorm_forward_sequence"),
        "the running variance starts at 0 instead of 1",
    ),
    # -- BatchNorm.backward ---------------------------------------------------------------------
    Mutant(
        "bnb_missing_mean_term", "layers", "dx = dcentred + dmu / N  # mu = mean(x)", "dx = dcentred",
        BN_BACKWARD, "the path through the batch mean is forgotten",
    ),
    Mutant(
        "bnb_missing_variance_term", "layers",
        "        dcentred = dcentred + 2 * centred * dvar / N  # var = mean(centred ** 2)\n", "",
        BN_BACKWARD, "the path through the batch variance is forgotten",
    ),
    Mutant(
        "bnb_dgamma_wrong_axis", "layers", _BN_BACKWARD_GRADS,
        _BN_BACKWARD_GRADS.replace("(dout * x_hat).sum(dim=0)", "(dout * x_hat).sum(dim=1)"),
        BN_BACKWARD_SHAPES, "dgamma summed over the features instead of the examples",
    ),
    Mutant(
        "bnb_dbeta_wrong_axis", "layers", _BN_BACKWARD_GRADS,
        _BN_BACKWARD_GRADS.replace("dbeta = dout.sum(dim=0)", "dbeta = dout.sum(dim=1)"),
        BN_BACKWARD_SHAPES, "dbeta summed over the features instead of the examples",
    ),
    Mutant(
        "bnb_dgamma_without_x_hat", "layers", _BN_BACKWARD_GRADS,
        _BN_BACKWARD_GRADS.replace("(dout * x_hat).sum(dim=0)", "dout.sum(dim=0)"),
        BN_BACKWARD, "dgamma forgets the factor x_hat",
    ),
    Mutant(
        "bnb_variance_factor", "layers", "dvar = dstd / (2 * std)", "dvar = dstd / std",
        BN_BACKWARD, "d sqrt(v) / dv taken as 1 / sqrt(v)",
    ),
    Mutant(
        "bnb_dout_in_place", "layers", "dx_hat = dout * gamma\n        dinv_std", "dx_hat = dout.mul_(gamma)\n        dinv_std",
        ("batchnorm_backward_dout_unchanged",), "dout scaled in place",
    ),
    # -- BatchNorm.backward_alt -----------------------------------------------------------------
    Mutant(
        "bnalt_missing_mean_term", "layers", _ALT_DX,
        _ALT_DX.replace("torch.addcmul(-scale * dbeta / N, dout, scale)", "(dout * scale)"),
        ALT, "the closed form without the sum of dout (the mean's term)",
    ),
    Mutant(
        "bnalt_missing_variance_term", "layers", _ALT_DX, _ALT_DX.replace(".addcmul_(x_hat, -scale * dgamma / N)", ""),
        ALT, "the closed form without the x_hat * sum(dout * x_hat) term (the variance's)",
    ),
    Mutant(
        "bnalt_no_division_by_N", "layers", _ALT_DX,
        _ALT_DX.replace("(-scale * dbeta / N, dout, scale)", "(-scale * dbeta, dout, N * scale)").replace(
            "-scale * dgamma / N", "-scale * dgamma"
        ),
        ALT, "the 1 / N of the closed form is dropped",
    ),
    Mutant(
        "bnalt_dgamma_wrong_axis", "layers", _ALT_GRADS,
        _ALT_GRADS.replace("(dout * x_hat).sum(dim=0)", "(dout * x_hat).sum(dim=1)"),
        ALT_SHAPES, "dgamma summed over the features instead of the examples",
    ),
    Mutant(
        "bnalt_missing_gamma", "layers", _ALT_SCALE, _ALT_SCALE.replace("scale = gamma * torch", "scale = torch"),
        ALT, "dx forgets the scale gamma",
    ),
    # -- LayerNorm ------------------------------------------------------------------------------
    Mutant(
        "ln_over_the_batch", "layers", _LN_FORWARD, _LN_FORWARD.replace("dim=1, keepdim=True", "dim=0, keepdim=True"),
        LN_FORWARD, "layernorm normalises each feature over the batch (batchnorm's axis)",
    ),
    Mutant(
        "ln_unbiased_variance", "layers", _LN_FORWARD,
        _LN_FORWARD.replace("centred).mean(dim=1, keepdim=True)", "centred).sum(dim=1, keepdim=True) / (x.shape[1] - 1)"),
        LN_FORWARD, "the unbiased variance normalises",
    ),
    Mutant(
        "ln_eps_outside_sqrt", "layers", _LN_FORWARD,
        _LN_FORWARD.replace("torch.rsqrt(var + eps)", "(1 / (torch.sqrt(var) + eps))"),
        ("layernorm_forward_reference", "layernorm_forward_test_mode", "layernorm_forward_matches_torch",
         "layernorm_forward_single_example"),
        "eps added to the standard deviation instead of the variance",
    ),
    Mutant(
        "ln_no_beta", "layers", _LN_FORWARD, _LN_FORWARD.replace("torch.addcmul(beta, gamma, x_hat)", "gamma * x_hat"),
        LN_FORWARD, "the shift beta is forgotten",
    ),
    Mutant(
        "ln_x_in_place", "layers", _LN_FORWARD, _LN_FORWARD.replace("centred = x - mu", "centred = x.sub_(mu)"),
        ("layernorm_forward_float32_x_unchanged",), "x is centred in place",
    ),
    Mutant(
        "lnb_missing_mean_term", "layers", _LN_DX, _LN_DX.replace("torch.addcmul(-mean_dx_hat, dout, gamma)", "(dout * gamma)"),
        LN_BACKWARD, "the path through the per-example mean is forgotten",
    ),
    Mutant(
        "lnb_batchnorm_axes", "layers", _LN_MEANS,
        "        mean_dx_hat = (dout * gamma).mean(dim=0, keepdim=True)\n"
        "        mean_dx_hat_x_hat = (dout_x_hat * gamma).mean(dim=0, keepdim=True)\n",
        LN_BACKWARD, "batchnorm's closed form copied without swapping the axes of the sums",
    ),
    Mutant(
        "lnb_dgamma_wrong_axis", "layers", _LN_GRADS,
        _LN_GRADS.replace("dout_x_hat.sum(dim=0)", "dout_x_hat.sum(dim=1)"),
        LN_BACKWARD_SHAPES, "dgamma summed over the features (layernorm's axis) instead of the examples",
    ),
    Mutant(
        "lnb_dbeta_wrong_axis", "layers", _LN_GRADS, _LN_GRADS.replace("dbeta = dout.sum(dim=0)", "dbeta = dout.sum(dim=1)"),
        LN_BACKWARD_SHAPES, "dbeta summed over the features instead of the examples",
    ),
    Mutant(
        "lnb_missing_gamma", "layers", _LN_MEANS + _LN_DX,
        "        mean_dx_hat = dout.mean(dim=1, keepdim=True)\n"
        "        mean_dx_hat_x_hat = dout_x_hat.mean(dim=1, keepdim=True)\n"
        "        dx = (dout - mean_dx_hat).addcmul_(x_hat, -mean_dx_hat_x_hat)\n",
        LN_BACKWARD, "dx forgets the scale gamma",
    ),
    # -- Linear_Norm_ReLU -----------------------------------------------------------------------
    Mutant(
        "sandwich_norm_after_relu", "layers", _SANDWICH_FORWARD,
        "        a_relu, relu_cache = ReLU.forward(a)\n"
        "        out, norm_cache = norm.forward(a_relu, gamma, beta, norm_param)\n",
        SANDWICH_FORWARD, "the normalization placed after the ReLU",
    ),
    Mutant(
        "sandwich_always_batchnorm", "layers", 'norm = BatchNorm if normalization == "batchnorm" else LayerNorm',
        "norm = BatchNorm",
        ("linear_norm_relu_forward_layernorm", "linear_norm_relu_forward_float32"),
        "the normalization argument is ignored",
    ),
    Mutant(
        "sandwich_backward_skips_relu", "layers", "da_norm = ReLU.backward(dout, relu_cache)", "da_norm = dout",
        SANDWICH_BACKWARD, "the ReLU's gate is forgotten in backward",
    ),
    Mutant(
        "sandwich_backward_layernorm_as_batchnorm", "layers", _SANDWICH_BACKWARD,
        "        da_linear, dgamma, dbeta = BatchNorm.backward_alt(da_norm, norm_cache)\n",
        ("linear_norm_relu_backward_layernorm",), "backward always uses batchnorm's gradient",
    ),
    # -- FullyConnectedNet with normalization -----------------------------------------------------
    Mutant(
        "net_gamma_regularised", "fc_net", _NET_REG,
        _NET_REG + "            for i in range(1, L if self.normalization else 1):\n"
        '                loss = loss + 0.5 * self.reg * (self.params[f"gamma{i}"] ** 2).sum()\n'
        '                grads[f"gamma{i}"] = grads[f"gamma{i}"] + self.reg * self.params[f"gamma{i}"]\n',
        NET_TRAIN, "the L2 term also covers gamma",
    ),
    Mutant(
        "net_norm_after_relu", "fc_net", _NET_FORWARD,
        "                out, cache = Linear_ReLU.forward(out, W, b)\n"
        '                norm = BatchNorm if self.normalization == "batchnorm" else LayerNorm\n'
        "                out, norm_cache = norm.forward(out, gamma, beta, self.norm_params[i - 1])\n"
        "                cache = (self.normalization, cache[0], norm_cache, cache[1])\n",
        (*NET_TRAIN, "batchnorm_net_test_scores", "layernorm_net_test_scores", "norm_net_matches_autograd"),
        "the network normalises after the ReLU",
    ),
    Mutant(
        "net_no_norm_on_last_hidden_layer", "fc_net", "            if self.normalization is None:\n                out, cache = Linear_ReLU",
        "            if self.normalization is None or i == L - 1:\n                out, cache = Linear_ReLU",
        (*NET_TRAIN, "batchnorm_net_test_scores", "layernorm_net_test_scores", "norm_net_matches_autograd"),
        "the last hidden layer is left unnormalised",
    ),
    Mutant(
        "net_init_norm_on_output_layer", "fc_net", _INIT, _INIT.replace("i < self.num_layers", "i <= self.num_layers"),
        NET_INIT, "gamma and beta created for the output layer too",
    ),
    Mutant(
        "net_init_no_norm_on_last_hidden_layer", "fc_net", _INIT,
        _INIT.replace("i < self.num_layers", "i < self.num_layers - 1"),
        NET_INIT, "no gamma and beta for the last hidden layer",
    ),
    Mutant(
        "net_init_gamma_zeros", "fc_net", 'self.params[f"gamma{i}"] = torch.ones(',
        'self.params[f"gamma{i}"] = torch.zeros(', NET_INIT, "gamma initialised to zeros (kills every unit)",
    ),
    Mutant(
        "net_fresh_norm_param", "fc_net", _NET_FORWARD,
        _NET_FORWARD.replace("self.norm_params[i - 1]", '{"mode": self.dropout_param["mode"]}'),
        ("batchnorm_net_test_scores",), "every call gets a fresh dict, so the running statistics are lost",
    ),
    Mutant(
        "net_dropout_skipped_with_norm", "fc_net",
        "            if self.use_dropout:\n                out, dropout_cache = Dropout.forward",
        "            if self.use_dropout and self.normalization is None:\n                out, dropout_cache = Dropout.forward",
        ("batchnorm_net_with_dropout",), "dropout does not compose with normalization",
    ),
    # -- capstone ----------------------------------------------------------------------------------
    Mutant(
        "capstone_claims_accuracy", "fc_net", '"num_epochs": 20,\n    }', '"num_epochs": 20,\n        "accuracy": 0.99,\n    }',
        (*CAPSTONE, "capstone_config_valid"), "the configuration reports an accuracy instead of letting the grader measure it",
    ),
    Mutant(
        "capstone_over_budget", "fc_net", '"hidden_dims": [256, 128],', '"hidden_dims": [512, 256],',
        (*CAPSTONE, "capstone_config_valid"), "a network over the parameter budget",
    ),
    Mutant(
        "capstone_learning_rate_too_small", "fc_net", '"learning_rate": 2e-3,', '"learning_rate": 1e-6,',
        CAPSTONE, "a learning rate far too small to train in 20 epochs",
    ),
    Mutant(
        "capstone_plain_sgd", "fc_net", '"update_rule": "adam",\n        "learning_rate": 2e-3,',
        '"update_rule": "sgd",\n        "learning_rate": 5e-3,',
        ("capstone_accuracy_095", "capstone_accuracy_0965"), "plain SGD with a small step: trains, but not to the top scores",
    ),
]  # fmt: skip
