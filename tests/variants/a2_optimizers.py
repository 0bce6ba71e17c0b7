"""Correct variants of the update rules (optim.py), assignment 2: in-place or out-of-place state,
config.get, torch.sqrt or ** 0.5, textbook or rearranged formulas."""

from __future__ import annotations

from tests.variants import rewrite

VARIANTS = [
    rewrite(
        "sgd_momentum_out_of_place",
        "optim",
        "a new velocity tensor stored back in config",
        (
            "sgd_momentum",
            'v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw\n'
            'config["velocity"] = v\nnext_w = w + v\nreturn next_w, config',
        ),
    ),
    rewrite(
        "sgd_momentum_config_get",
        "optim",
        "config.get and torch.add",
        (
            "sgd_momentum",
            'v = config.get("velocity")\n'
            'v = config.get("momentum") * v - config.get("learning_rate") * dw\n'
            'config["velocity"] = v\nreturn torch.add(w, v), config',
        ),
    ),
    rewrite(
        "nesterov_cs231n_form",
        "optim",
        "the v_prev form: w - mu * v_prev + (1 + mu) * v",
        (
            "nesterov_momentum",
            'mu, lr = config["momentum"], config["learning_rate"]\n'
            'v_prev = config["velocity"]\nv = mu * v_prev - lr * dw\n'
            'next_w = w - mu * v_prev + (1 + mu) * v\nconfig["velocity"] = v\nreturn next_w, config',
        ),
    ),
    rewrite(
        "nesterov_out_of_place",
        "optim",
        "out-of-place velocity, look-ahead written out",
        (
            "nesterov_momentum",
            'v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw\n'
            'config["velocity"] = v\n'
            'next_w = w + config["momentum"] * v - config["learning_rate"] * dw\nreturn next_w, config',
        ),
    ),
    rewrite(
        "adagrad_pow_half_out_of_place",
        "optim",
        "cache + dw ** 2 out of place, ** 0.5",
        (
            "adagrad",
            'config["cache"] = config["cache"] + dw ** 2\n'
            'next_w = w - config["learning_rate"] * dw / (config["cache"] ** 0.5 + config["epsilon"])\n'
            "return next_w, config",
        ),
    ),
    rewrite(
        "adagrad_in_place_sqrt",
        "optim",
        "cache += dw * dw, torch.sqrt",
        (
            "adagrad",
            'cache = config["cache"]\ncache += dw * dw\n'
            'next_w = w - config["learning_rate"] * dw / (torch.sqrt(cache) + config["epsilon"])\n'
            "return next_w, config",
        ),
    ),
    rewrite(
        "rmsprop_textbook",
        "optim",
        "out-of-place moving average, torch.sqrt",
        (
            "rmsprop",
            'decay = config["decay_rate"]\n'
            'config["cache"] = decay * config["cache"] + (1 - decay) * dw * dw\n'
            'next_w = w - config["learning_rate"] * dw / (torch.sqrt(config["cache"]) + config["epsilon"])\n'
            "return next_w, config",
        ),
    ),
    rewrite(
        "rmsprop_in_place_mul_add",
        "optim",
        "cache.mul_().add_() with ** 2, ** 0.5",
        (
            "rmsprop",
            'decay = config.get("decay_rate")\n'
            'config["cache"].mul_(decay).add_((1 - decay) * dw ** 2)\n'
            'step = config.get("learning_rate") * dw / (config["cache"] ** 0.5 + config.get("epsilon"))\n'
            "return w - step, config",
        ),
    ),
    rewrite(
        "adam_textbook",
        "optim",
        "out-of-place m and v, m_hat and v_hat, torch.sqrt",
        (
            "adam",
            'config["t"] = config["t"] + 1\nt = config["t"]\n'
            'b1, b2 = config["beta1"], config["beta2"]\n'
            'config["m"] = b1 * config["m"] + (1 - b1) * dw\n'
            'config["v"] = b2 * config["v"] + (1 - b2) * (dw ** 2)\n'
            'm_hat = config["m"] / (1 - b1 ** t)\nv_hat = config["v"] / (1 - b2 ** t)\n'
            'next_w = w - config["learning_rate"] * m_hat / (torch.sqrt(v_hat) + config["epsilon"])\n'
            "return next_w, config",
        ),
    ),
    rewrite(
        "adam_in_place_pow_half",
        "optim",
        "in-place moments with mul_/add_, ** 0.5",
        (
            "adam",
            'config["t"] += 1\n'
            'config["m"].mul_(config["beta1"]).add_((1 - config["beta1"]) * dw)\n'
            'config["v"].mul_(config["beta2"]).add_((1 - config["beta2"]) * dw * dw)\n'
            'm_hat = config["m"] / (1 - config["beta1"] ** config["t"])\n'
            'v_hat = config["v"] / (1 - config["beta2"] ** config["t"])\n'
            'next_w = w - config["learning_rate"] * m_hat / (v_hat ** 0.5 + config["epsilon"])\n'
            "return next_w, config",
        ),
    ),
    rewrite(
        "adamw_textbook",
        "optim",
        "decayed copy of w, then the textbook Adam step",
        (
            "adamw",
            'lr = config["learning_rate"]\nw_decayed = w - lr * config["weight_decay"] * w\n'
            'config["t"] += 1\nt = config["t"]\n'
            'config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw\n'
            'config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw ** 2\n'
            'm_hat = config["m"] / (1 - config["beta1"] ** t)\n'
            'v_hat = config["v"] / (1 - config["beta2"] ** t)\n'
            'next_w = w_decayed - lr * m_hat / (torch.sqrt(v_hat) + config["epsilon"])\n'
            "return next_w, config",
        ),
    ),
]
