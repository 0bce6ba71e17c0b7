"""Known bugs in ``Dropout`` (layers.py) and in FullyConnectedNet's dropout (fc_net.py), assignment 3."""

from __future__ import annotations

from tests.mutants import Mutant

_KEEP = "keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= p\n"
_TEST_FORWARD = '        if mode == "test":\n            return x.clone(), (mode, None)\n'
_SEEDED_DRAW = (
    '        seed = dropout_param.get("seed")\n'
    "        generator = None\n"
    "        if seed is not None:\n"
    "            generator = torch.Generator(device=x.device).manual_seed(seed)\n"
    "        "
)
_TEST_BACKWARD = '        if mode == "test":\n            return dout.clone()\n'

# The hidden-layer loop of FullyConnectedNet.loss (forward) and its backward counterpart.
_HIDDEN_LAYER = (
    "            if self.normalization is None:\n"
    '                out, cache = Linear_ReLU.forward(out, self.params[f"W{i}"], self.params[f"b{i}"])\n'
    "            else:\n"
    '                W, b = self.params[f"W{i}"], self.params[f"b{i}"]\n'
    '                gamma, beta = self.params[f"gamma{i}"], self.params[f"beta{i}"]\n'
    "                out, cache = Linear_Norm_ReLU.forward(\n"
    "                    out, W, b, gamma, beta, self.norm_params[i - 1], self.normalization\n"
    "                )\n"
)
_HIDDEN_DROPOUT = (
    "            dropout_cache = None\n"
    "            if self.use_dropout:\n"
    "                out, dropout_cache = Dropout.forward(out, self.dropout_param)\n"
)
_FORWARD_LOOP = _HIDDEN_LAYER + _HIDDEN_DROPOUT
_BACKWARD_LOOP = (
    "            if self.use_dropout:\n"
    "                dout = Dropout.backward(dout, dropout_cache)\n"
    "            if i == 1:\n"
)
_LOOPS_START = _FORWARD_LOOP + "            caches.append((cache, dropout_cache))\n"

MUTANTS = [
    # -- Dropout.forward ------------------------------------------------------------------------
    Mutant(
        "dropout_no_scale",
        "layers",
        _KEEP + "        mask = keep.to(x.dtype) / (1 - p)",
        _KEEP + "        mask = keep.to(x.dtype)",
        (
            "dropout_forward_float32",
            "dropout_forward_global_rng_untouched",
            "dropout_forward_p_zero",
            "dropout_forward_seed_reproducible",
            "dropout_forward_seeded",
            "dropout_forward_statistics",
            "dropout_forward_test_mode",
            "dropout_forward_x_unchanged",
        ),
        "kept units not scaled by 1 / (1 - p) (non-inverted dropout)",
        hint="they are not scaled",
    ),
    Mutant(
        "dropout_p_is_keep_probability",
        "layers",
        _KEEP + "        mask = keep.to(x.dtype) / (1 - p)",
        _KEEP.replace(">= p", "< p") + "        mask = keep.to(x.dtype) / p",
        (
            "dropout_forward_float32",
            "dropout_forward_p_zero",
            "dropout_forward_seeded",
            "dropout_forward_statistics",
            "dropout_forward_x_unchanged",
        ),
        "p read as the probability of keeping a unit (the old CS231n convention)",
        hint="Your kept units are scaled by 1 / p",
    ),
    Mutant(
        "dropout_active_in_test_mode",
        "layers",
        _TEST_FORWARD,
        "",
        (
            "dropout_forward_float32",
            "dropout_forward_test_mode",
            "dropout_forward_x_unchanged",
        ),
        "the mask is applied in test mode too",
    ),
    Mutant(
        "dropout_test_mode_scaled",
        "layers",
        _TEST_FORWARD,
        '        if mode == "test":\n            return x * (1 - p), (mode, None)\n',
        (
            "dropout_forward_float32",
            "dropout_forward_test_mode",
            "dropout_forward_x_unchanged",
        ),
        "test mode scales by 1 - p although training already used inverted dropout",
    ),
    Mutant(
        "dropout_x_in_place",
        "layers",
        "out = x * mask\n        return out",
        "out = x.mul_(mask)\n        return out",
        ("dropout_forward_x_unchanged",),
        "the input is multiplied by the mask in place",
    ),
    Mutant(
        "dropout_reseeds_global_rng",
        "layers",
        "generator = torch.Generator(device=x.device).manual_seed(seed)",
        "torch.manual_seed(seed)",
        ("dropout_forward_global_rng_untouched",),
        "torch.manual_seed(seed) instead of a private generator: same masks, but the program's RNG is reset",
    ),
    Mutant(
        "dropout_seed_ignored",
        "layers",
        'seed = dropout_param.get("seed")',
        "seed = None",
        (
            "dropout_forward_global_rng_untouched",
            "dropout_forward_seed_reproducible",
            "dropout_forward_seeded",
        ),
        "the seed in dropout_param is never used",
    ),
    Mutant(
        "dropout_fixed_generator",
        "layers",
        "generator = None\n        if seed is not None:",
        "generator = torch.Generator(device=x.device).manual_seed(0)\n        if seed is not None:",
        ("dropout_forward_seed_reproducible",),
        "without a seed a fixed-seed generator is used: every unseeded call draws the same mask",
    ),
    Mutant(
        "dropout_mask_float32",
        "layers",
        _KEEP,
        _KEEP.replace(", dtype=x.dtype", ""),
        ("dropout_forward_seeded",),
        "random numbers drawn in the default dtype instead of x's (another mask than the recipe's for float64)",
    ),
    Mutant(
        "dropout_mask_default_dtype",
        "layers",
        _KEEP + "        mask = keep.to(x.dtype) / (1 - p)",
        _KEEP + "        mask = keep / (1 - p)",
        (
            "dropout_forward_seed_reproducible",
            "dropout_forward_seeded",
            "dropout_forward_statistics",
            "dropout_forward_x_unchanged",
        ),
        "bool mask / (1 - p) is float32 (the default dtype): float64 outputs lose precision",
        hint="the mask was built in float32",
    ),
    Mutant(
        "dropout_cache_fresh_mask",
        "layers",
        "return out, (mode, mask)",
        "return out, (mode, (torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p).to(x.dtype) / (1 - p))",
        (
            "dropout_backward_dout_unchanged",
            "dropout_backward_float32",
            "dropout_backward_random_masks",
            "dropout_backward_test_mode",
            "dropout_backward_train",
        ),
        "the cache holds a newly drawn mask, not the one applied to x, so backward uses a fresh mask",
    ),
    Mutant(
        "dropout_cache_unscaled_mask",
        "layers",
        "return out, (mode, mask)",
        "return out, (mode, keep.to(x.dtype))",
        (
            "dropout_backward_dout_unchanged",
            "dropout_backward_float32",
            "dropout_backward_random_masks",
            "dropout_backward_test_mode",
            "dropout_backward_train",
        ),
        "the cache holds the 0/1 keep mask instead of the scaled mask",
    ),
    # -- Dropout.backward -----------------------------------------------------------------------
    Mutant(
        "dropout_backward_unscaled",
        "layers",
        "dx = dout * mask",
        "dx = dout * (mask != 0)",
        (
            "dropout_backward_dout_unchanged",
            "dropout_backward_float32",
            "dropout_backward_random_masks",
            "dropout_backward_test_mode",
            "dropout_backward_train",
        ),
        "backward lets the gradient through unscaled",
    ),
    Mutant(
        "dropout_backward_ignores_mode",
        "layers",
        _TEST_BACKWARD,
        "",
        (
            "dropout_backward_dout_unchanged",
            "dropout_backward_test_mode",
        ),
        "backward multiplies by the mask in test mode too (where it is None)",
    ),
    Mutant(
        "dropout_backward_dout_in_place",
        "layers",
        "dx = dout * mask",
        "dx = dout.mul_(mask)",
        ("dropout_backward_dout_unchanged",),
        "the upstream gradient is multiplied in place",
    ),
    Mutant(
        "dropout_backward_fresh_mask",
        "layers",
        "dx = dout * mask",
        "dx = dout * (torch.rand_like(dout) >= 0.5) / 0.5",
        (
            "dropout_backward_dout_unchanged",
            "dropout_backward_float32",
            "dropout_backward_random_masks",
            "dropout_backward_test_mode",
            "dropout_backward_train",
        ),
        "backward draws a new random mask instead of reusing the cached one",
    ),
    # -- FullyConnectedNet.loss with dropout ------------------------------------------------------
    Mutant(
        "dropout_net_skips_last_hidden",
        "fc_net",
        _LOOPS_START,
        _LOOPS_START.replace("if self.use_dropout:", "if self.use_dropout and i < L - 1:"),
        (
            "dropout_net_deep_images",
            "dropout_net_loss_and_grads",
            "dropout_net_matches_autograd",
            "dropout_net_single_hidden_layer",
        ),
        "dropout only after some hidden layers (not the last one); backward then gets no cache",
    ),
    Mutant(
        "dropout_net_after_last_layer",
        "fc_net",
        'scores, last_cache = Linear.forward(out, self.params[f"W{L}"], self.params[f"b{L}"])\n',
        'scores, last_cache = Linear.forward(out, self.params[f"W{L}"], self.params[f"b{L}"])\n'
        "        if self.use_dropout:\n"
        "            scores, _ = Dropout.forward(scores, self.dropout_param)\n",
        (
            "dropout_net_deep_images",
            "dropout_net_loss_and_grads",
            "dropout_net_matches_autograd",
            "dropout_net_single_hidden_layer",
        ),
        "a dropout layer also after the last Linear (on the scores)",
    ),
    Mutant(
        "dropout_net_on_layer_inputs",
        "fc_net",
        _FORWARD_LOOP,
        _HIDDEN_DROPOUT + _HIDDEN_LAYER,
        (
            "dropout_net_deep_images",
            "dropout_net_loss_and_grads",
            "dropout_net_matches_autograd",
            "dropout_net_single_hidden_layer",
        ),
        "dropout applied to each hidden layer's input (X included) instead of its output",
    ),
    Mutant(
        "dropout_net_always_train_mode",
        "fc_net",
        "out, dropout_cache = Dropout.forward(out, self.dropout_param)",
        'out, dropout_cache = Dropout.forward(out, {**self.dropout_param, "mode": "train"})',
        ("dropout_net_single_hidden_layer", "dropout_net_test_scores"),
        "the dropout layers are called in train mode even when loss computes test scores",
    ),
    Mutant(
        "dropout_net_param_without_seed",
        "fc_net",
        "out, dropout_cache = Dropout.forward(out, self.dropout_param)",
        'out, dropout_cache = Dropout.forward(out, {"p": self.dropout_param["p"], "mode": self.dropout_param["mode"]})',
        (
            "dropout_net_deep_images",
            "dropout_net_loss_and_grads",
            "dropout_net_matches_autograd",
            "dropout_net_single_hidden_layer",
        ),
        "a hand-made dropout_param that drops the seed",
    ),
    Mutant(
        "dropout_net_backward_skips_dropout",
        "fc_net",
        _BACKWARD_LOOP,
        _BACKWARD_LOOP.replace(
            "                dout = Dropout.backward(dout, dropout_cache)\n", "                pass\n"
        ),
        ("dropout_net_deep_images", "dropout_net_loss_and_grads", "dropout_net_matches_autograd"),
        "backward does not go through the dropout layers",
    ),
    # -- a classic (non-inverted) dropout: no scaling in training, scaled by 1 - p in test mode ----
    Mutant(
        "dropout_not_inverted",
        "layers",
        _TEST_FORWARD + _SEEDED_DRAW + _KEEP + "        mask = keep.to(x.dtype) / (1 - p)",
        _TEST_FORWARD.replace("x.clone()", "x * (1 - p)")
        + _SEEDED_DRAW
        + _KEEP
        + "        mask = keep.to(x.dtype)",
        (
            "dropout_forward_float32",
            "dropout_forward_global_rng_untouched",
            "dropout_forward_p_zero",
            "dropout_forward_seed_reproducible",
            "dropout_forward_seeded",
            "dropout_forward_statistics",
            "dropout_forward_test_mode",
            "dropout_forward_x_unchanged",
        ),
        "the old non-inverted dropout: kept units unscaled in training, test mode multiplies by 1 - p",
        hint="they are not scaled",
    ),
]
