"""Known bugs in the update rules of ``optim.py`` (assignment 2) and the checks that catch them."""

from __future__ import annotations

from tests.mutants import Mutant

_ADAM_START = 'bias-corrected moments. Return next_w, config.\n    ### BEGIN SOLUTION\n    lr, beta1, beta2 = config["learning_rate"], config["beta1"], config["beta2"]\n'
_ADAMW_START = '(t, m, v, bias correction). Return next_w, config.\n    ### BEGIN SOLUTION\n    lr, beta1, beta2 = config["learning_rate"], config["beta1"], config["beta2"]\n'
_ADAMW_BODY = (
    '    config["t"] += 1\n    t = config["t"]\n    m, v = config["m"], config["v"]\n'
    "    m.lerp_(dw, 1 - beta1)\n    v.mul_(beta2).addcmul_(dw, dw, value=1 - beta2)\n"
    "    c = (1 - beta2**t) ** 0.5  # the bias corrections go into scalars, as in adam\n"
    '    denom = v.sqrt().add_(config["epsilon"] * c)\n'
    '    next_w = w.mul(1 - lr * config["weight_decay"])\n'
)
_ADAM_STEP = (
    "c = (1 - beta2**t) ** 0.5\n"
    '    denom = v.sqrt().add_(config["epsilon"] * c)\n'
    "    next_w = torch.addcdiv(w, m, denom, value=-lr * c / (1 - beta1**t), out=denom)"
)
_OUT_COMMENT = "    # out=denom: next_w reuses the temporary's memory (it is not needed afterwards)\n"
_ADAGRAD_STEP = (
    'cache.addcmul_(dw, dw)\n    denom = cache.sqrt().add_(config["epsilon"])\n'
    + _OUT_COMMENT
    + '    next_w = torch.addcdiv(w, dw, denom, value=-config["learning_rate"], out=denom)'
)
_RMSPROP_STEP = (
    'value=1 - decay)\n    denom = cache.sqrt().add_(config["epsilon"])\n'
    + _OUT_COMMENT
    + '    next_w = torch.addcdiv(w, dw, denom, value=-config["learning_rate"], out=denom)'
)

MUTANTS = [
    # -- sgd_momentum -------------------------------------------------------------------------
    Mutant(
        "optim_momentum_sign_flipped",
        "optim",
        'v.mul_(config["momentum"]).add_(dw, alpha=-config["learning_rate"])',
        'v.mul_(config["momentum"]).add_(dw, alpha=config["learning_rate"])',
        (
            "sgd_momentum_first_step_defaults",
            "sgd_momentum_float32",
            "sgd_momentum_inputs_unchanged",
            "sgd_momentum_long_trajectory",
            "sgd_momentum_matches_torch",
            "sgd_momentum_resumes_state",
            "sgd_momentum_trajectory",
            "sgd_momentum_zero_momentum_is_sgd",
        ),
        "velocity accumulates +learning_rate * dw: the weights climb the loss",
    ),
    Mutant(
        "optim_momentum_velocity_not_stored",
        "optim",
        'v = config["velocity"]\n    v.mul_(config["momentum"]).add_(dw, alpha=-config["learning_rate"])',
        'v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw',
        (
            "sgd_momentum_first_step_defaults",
            "sgd_momentum_float32",
            "sgd_momentum_inputs_unchanged",
            "sgd_momentum_long_trajectory",
            "sgd_momentum_matches_torch",
            "sgd_momentum_resumes_state",
            "sgd_momentum_trajectory",
            "sgd_momentum_zero_momentum_is_sgd",
        ),
        "new velocity computed out of place and never written back to config",
    ),
    Mutant(
        "optim_momentum_constant",
        "optim",
        'v.mul_(config["momentum"]).add_(dw, alpha=-config["learning_rate"])',
        'v.mul_(0.9).add_(dw, alpha=-config["learning_rate"])',
        (
            "sgd_momentum_float32",
            "sgd_momentum_inputs_unchanged",
            "sgd_momentum_long_trajectory",
            "sgd_momentum_matches_torch",
            "sgd_momentum_trajectory",
            "sgd_momentum_zero_momentum_is_sgd",
        ),
        "momentum hard-coded to the default instead of read from config",
    ),
    Mutant(
        "optim_momentum_w_in_place",
        "optim",
        'alpha=-config["learning_rate"])\n    next_w = w + v',
        'alpha=-config["learning_rate"])\n    next_w = w.add_(v)',
        ("sgd_momentum_inputs_unchanged",),
        "weights updated in place (w += v) and returned",
    ),
    Mutant(
        "optim_momentum_state_float32",
        "optim",
        'config.setdefault("momentum", 0.9)\n    if "velocity" not in config:\n        config["velocity"] = torch.zeros_like(w)\n    # TODO (sgd_momentum)',
        'config.setdefault("momentum", 0.9)\n    if "velocity" not in config:\n        config["velocity"] = torch.zeros(w.shape)\n    # TODO (sgd_momentum)',
        (
            "sgd_momentum_first_step_defaults",
            "sgd_momentum_inputs_unchanged",
            "sgd_momentum_long_trajectory",
            "sgd_momentum_matches_torch",
            "sgd_momentum_trajectory",
        ),
        "velocity created with torch.zeros(w.shape): float32 state for float64 weights",
    ),
    Mutant(
        "optim_momentum_state_float64",
        "optim",
        'config.setdefault("momentum", 0.9)\n    if "velocity" not in config:\n        config["velocity"] = torch.zeros_like(w)\n    # TODO (sgd_momentum)',
        'config.setdefault("momentum", 0.9)\n    if "velocity" not in config:\n        config["velocity"] = torch.zeros(w.shape, dtype=torch.float64)\n    # TODO (sgd_momentum)',
        ("sgd_momentum_float32",),
        "velocity always float64: float32 weights come back as float64",
    ),
    # -- nesterov_momentum --------------------------------------------------------------------
    Mutant(
        "optim_nesterov_plain_momentum",
        "optim",
        "next_w = w.add(v, alpha=momentum).add_(dw, alpha=-lr)",
        "next_w = w + v",
        (
            "nesterov_momentum_first_step_defaults",
            "nesterov_momentum_first_step_lookahead",
            "nesterov_momentum_float32",
            "nesterov_momentum_inputs_unchanged",
            "nesterov_momentum_long_trajectory",
            "nesterov_momentum_matches_torch",
            "nesterov_momentum_resumes_state",
            "nesterov_momentum_trajectory",
        ),
        "Nesterov implemented as the plain momentum update",
    ),
    Mutant(
        "optim_nesterov_old_velocity",
        "optim",
        "    v.mul_(momentum).add_(dw, alpha=-lr)\n    next_w = w.add(v, alpha=momentum).add_(dw, alpha=-lr)",
        "    next_w = w.add(v, alpha=momentum).add_(dw, alpha=-lr)\n    v.mul_(momentum).add_(dw, alpha=-lr)",
        (
            "nesterov_momentum_first_step_defaults",
            "nesterov_momentum_first_step_lookahead",
            "nesterov_momentum_float32",
            "nesterov_momentum_inputs_unchanged",
            "nesterov_momentum_long_trajectory",
            "nesterov_momentum_matches_torch",
            "nesterov_momentum_resumes_state",
            "nesterov_momentum_trajectory",
        ),
        "look-ahead computed with the velocity before its update",
    ),
    Mutant(
        "optim_nesterov_w_in_place",
        "optim",
        "next_w = w.add(v, alpha=momentum).add_(dw, alpha=-lr)",
        "next_w = w.add_(v, alpha=momentum).add_(dw, alpha=-lr)",
        ("nesterov_momentum_inputs_unchanged",),
        "weights updated in place",
    ),
    Mutant(
        "optim_nesterov_state_float64",
        "optim",
        'config.setdefault("momentum", 0.9)\n    if "velocity" not in config:\n        config["velocity"] = torch.zeros_like(w)\n    # TODO (nesterov_momentum)',
        'config.setdefault("momentum", 0.9)\n    if "velocity" not in config:\n        config["velocity"] = torch.zeros_like(w, dtype=torch.float64)\n    # TODO (nesterov_momentum)',
        ("nesterov_momentum_float32",),
        "velocity always float64",
    ),
    # -- adagrad ------------------------------------------------------------------------------
    Mutant(
        "optim_adagrad_with_decay",
        "optim",
        "cache.addcmul_(dw, dw)\n",
        "cache.mul_(0.99).addcmul_(dw, dw, value=0.01)\n",
        (
            "adagrad_epsilon_outside_sqrt",
            "adagrad_first_step_defaults",
            "adagrad_float32",
            "adagrad_inputs_unchanged",
            "adagrad_long_trajectory",
            "adagrad_matches_torch",
            "adagrad_resumes_state",
            "adagrad_trajectory",
        ),
        "Adagrad's running sum replaced by RMSProp's moving average",
    ),
    Mutant(
        "optim_adagrad_eps_inside_sqrt",
        "optim",
        'cache.addcmul_(dw, dw)\n    denom = cache.sqrt().add_(config["epsilon"])',
        'cache.addcmul_(dw, dw)\n    denom = cache.add(config["epsilon"]).sqrt()',
        (
            "adagrad_epsilon_outside_sqrt",
            "adagrad_inputs_unchanged",
            "adagrad_long_trajectory",
            "adagrad_matches_torch",
            "adagrad_resumes_state",
            "adagrad_trajectory",
        ),
        "sqrt(cache + epsilon) instead of sqrt(cache) + epsilon",
    ),
    Mutant(
        "optim_adagrad_old_cache",
        "optim",
        'cache = config["cache"]\n    cache.addcmul_(dw, dw)\n    denom = cache.sqrt().add_(config["epsilon"])',
        'cache = config["cache"]\n    denom = cache.sqrt().add_(config["epsilon"])\n    cache.addcmul_(dw, dw)',
        (
            "adagrad_epsilon_outside_sqrt",
            "adagrad_first_step_defaults",
            "adagrad_float32",
            "adagrad_inputs_unchanged",
            "adagrad_long_trajectory",
            "adagrad_matches_torch",
            "adagrad_resumes_state",
            "adagrad_trajectory",
        ),
        "step taken with the cache before this gradient is added",
    ),
    Mutant(
        "optim_adagrad_w_in_place",
        "optim",
        _ADAGRAD_STEP,
        _ADAGRAD_STEP.replace("out=denom)", "out=w)"),
        ("adagrad_inputs_unchanged",),
        "next_w written into w's memory (out=w)",
    ),
    Mutant(
        "optim_adagrad_state_float64",
        "optim",
        'config.setdefault("learning_rate", 1e-2)\n    config.setdefault("epsilon", 1e-8)\n    if "cache" not in config:\n        config["cache"] = torch.zeros_like(w)',
        'config.setdefault("learning_rate", 1e-2)\n    config.setdefault("epsilon", 1e-8)\n    if "cache" not in config:\n        config["cache"] = torch.zeros(w.shape, dtype=torch.float64)',
        ("adagrad_float32",),
        "cache always float64",
    ),
    # -- rmsprop ------------------------------------------------------------------------------
    Mutant(
        "optim_rmsprop_no_decay",
        "optim",
        "cache.mul_(decay).addcmul_(dw, dw, value=1 - decay)",
        "cache.addcmul_(dw, dw)",
        (
            "rmsprop_epsilon_outside_sqrt",
            "rmsprop_first_step_defaults",
            "rmsprop_float32",
            "rmsprop_inputs_unchanged",
            "rmsprop_long_trajectory",
            "rmsprop_matches_torch",
            "rmsprop_resumes_state",
            "rmsprop_trajectory",
        ),
        "cache += dw ** 2 without the moving-average decay (that is Adagrad)",
    ),
    Mutant(
        "optim_rmsprop_decay_swapped",
        "optim",
        "cache.mul_(decay).addcmul_(dw, dw, value=1 - decay)",
        "cache.mul_(1 - decay).addcmul_(dw, dw, value=decay)",
        (
            "rmsprop_epsilon_outside_sqrt",
            "rmsprop_first_step_defaults",
            "rmsprop_float32",
            "rmsprop_inputs_unchanged",
            "rmsprop_matches_torch",
            "rmsprop_resumes_state",
            "rmsprop_trajectory",
        ),
        "decay_rate and 1 - decay_rate swapped",
    ),
    Mutant(
        "optim_rmsprop_eps_inside_sqrt",
        "optim",
        'value=1 - decay)\n    denom = cache.sqrt().add_(config["epsilon"])',
        'value=1 - decay)\n    denom = cache.add(config["epsilon"]).sqrt()',
        (
            "rmsprop_epsilon_outside_sqrt",
            "rmsprop_first_step_defaults",
            "rmsprop_float32",
            "rmsprop_inputs_unchanged",
            "rmsprop_long_trajectory",
            "rmsprop_matches_torch",
            "rmsprop_resumes_state",
            "rmsprop_trajectory",
        ),
        "sqrt(cache + epsilon) instead of sqrt(cache) + epsilon",
    ),
    Mutant(
        "optim_rmsprop_dw_in_place",
        "optim",
        _RMSPROP_STEP,
        _RMSPROP_STEP.replace(
            'torch.addcdiv(w, dw, denom, value=-config["learning_rate"], out=denom)',
            'w - config["learning_rate"] * dw.div_(denom)',
        ),
        ("rmsprop_inputs_unchanged",),
        "the gradient is divided in place (dw /= denom)",
    ),
    Mutant(
        "optim_rmsprop_state_float64",
        "optim",
        'config.setdefault("decay_rate", 0.99)\n    config.setdefault("epsilon", 1e-8)\n    if "cache" not in config:\n        config["cache"] = torch.zeros_like(w)',
        'config.setdefault("decay_rate", 0.99)\n    config.setdefault("epsilon", 1e-8)\n    if "cache" not in config:\n        config["cache"] = torch.zeros_like(w, dtype=torch.float64)',
        ("rmsprop_float32",),
        "cache always float64",
    ),
    # -- adam ---------------------------------------------------------------------------------
    Mutant(
        "optim_adam_no_bias_correction",
        "optim",
        _ADAM_STEP,
        'denom = v.sqrt().add_(config["epsilon"])\n    next_w = torch.addcdiv(w, m, denom, value=-lr, out=denom)',
        (
            "adam_epsilon_outside_sqrt",
            "adam_first_step_defaults",
            "adam_first_step_size_is_lr",
            "adam_float32",
            "adam_inputs_unchanged",
            "adam_long_trajectory",
            "adam_matches_torch",
            "adam_resumes_state",
            "adam_trajectory",
        ),
        "m and v used without the bias corrections",
    ),
    Mutant(
        "optim_adam_t_incremented_after_use",
        "optim",
        _ADAM_START + '    config["t"] += 1\n    t = config["t"]\n',
        _ADAM_START + '    t = config["t"]\n    config["t"] += 1\n',
        (
            "adam_epsilon_outside_sqrt",
            "adam_first_step_defaults",
            "adam_first_step_size_is_lr",
            "adam_float32",
            "adam_inputs_unchanged",
            "adam_long_trajectory",
            "adam_matches_torch",
            "adam_resumes_state",
            "adam_trajectory",
        ),
        "t read before it is incremented: 1 - beta ** 0 = 0 on the first step",
    ),
    Mutant(
        "optim_adam_t_not_stored",
        "optim",
        _ADAM_START + '    config["t"] += 1\n    t = config["t"]\n',
        _ADAM_START + '    t = config["t"] + 1\n',
        (
            "adam_epsilon_outside_sqrt",
            "adam_first_step_defaults",
            "adam_first_step_size_is_lr",
            "adam_float32",
            "adam_inputs_unchanged",
            "adam_long_trajectory",
            "adam_matches_torch",
            "adam_resumes_state",
            "adam_trajectory",
        ),
        "t incremented in a local only: every step is bias-corrected as the first",
    ),
    Mutant(
        "optim_adam_betas_swapped",
        "optim",
        _ADAM_START,
        _ADAM_START.replace("lr, beta1, beta2", "lr, beta2, beta1"),
        (
            "adam_epsilon_outside_sqrt",
            "adam_first_step_defaults",
            "adam_float32",
            "adam_inputs_unchanged",
            "adam_long_trajectory",
            "adam_matches_torch",
            "adam_resumes_state",
            "adam_trajectory",
        ),
        "beta1 and beta2 swapped",
    ),
    Mutant(
        "optim_adam_eps_inside_sqrt",
        "optim",
        _ADAM_STEP,
        'denom = v.div(1 - beta2**t).add_(config["epsilon"]).sqrt_()\n'
        "    next_w = torch.addcdiv(w, m, denom, value=-lr / (1 - beta1**t), out=denom)",
        (
            "adam_epsilon_outside_sqrt",
            "adam_first_step_defaults",
            "adam_first_step_size_is_lr",
            "adam_inputs_unchanged",
            "adam_long_trajectory",
            "adam_matches_torch",
            "adam_trajectory",
        ),
        "sqrt(v_hat + epsilon) instead of sqrt(v_hat) + epsilon",
    ),
    Mutant(
        "optim_adam_w_in_place",
        "optim",
        _ADAM_STEP,
        _ADAM_STEP.replace("out=denom)", "out=w)"),
        ("adam_inputs_unchanged",),
        "next_w written into w's memory (out=w)",
    ),
    Mutant(
        "optim_adam_m_float64",
        "optim",
        'config.setdefault("epsilon", 1e-8)\n    if "m" not in config:\n        config["m"] = torch.zeros_like(w)\n    if "v" not in config:\n        config["v"] = torch.zeros_like(w)\n    config.setdefault("t", 0)\n    # TODO (adam)',
        'config.setdefault("epsilon", 1e-8)\n    if "m" not in config:\n        config["m"] = torch.zeros(w.shape, dtype=torch.float64)\n    if "v" not in config:\n        config["v"] = torch.zeros_like(w)\n    config.setdefault("t", 0)\n    # TODO (adam)',
        ("adam_float32",),
        "first moment always float64",
    ),
    # -- adamw --------------------------------------------------------------------------------
    Mutant(
        "optim_adamw_l2_gradient",
        "optim",
        _ADAMW_START + _ADAMW_BODY,
        _ADAMW_START
        + '    dw = dw + config["weight_decay"] * w\n'
        + _ADAMW_BODY.replace('w.mul(1 - lr * config["weight_decay"])', "w.clone()"),
        (
            "adamw_decay_is_decoupled",
            "adamw_epsilon_outside_sqrt",
            "adamw_first_step_defaults",
            "adamw_float32",
            "adamw_inputs_unchanged",
            "adamw_long_trajectory",
            "adamw_matches_torch",
            "adamw_resumes_state",
            "adamw_trajectory",
        ),
        "weight decay added to the gradient (Adam + L2) instead of decoupled",
    ),
    Mutant(
        "optim_adamw_decay_without_lr",
        "optim",
        'next_w = w.mul(1 - lr * config["weight_decay"])',
        'next_w = w.mul(1 - config["weight_decay"])',
        (
            "adamw_decay_is_decoupled",
            "adamw_epsilon_outside_sqrt",
            "adamw_first_step_defaults",
            "adamw_float32",
            "adamw_inputs_unchanged",
            "adamw_long_trajectory",
            "adamw_matches_torch",
            "adamw_resumes_state",
            "adamw_trajectory",
        ),
        "decay factor not multiplied by the learning rate",
    ),
    Mutant(
        "optim_adamw_decay_after_step",
        "optim",
        'next_w = w.mul(1 - lr * config["weight_decay"])\n    next_w.addcdiv_(m, denom, value=-lr * c / (1 - beta1**t))',
        'next_w = torch.addcdiv(w, m, denom, value=-lr * c / (1 - beta1**t))\n    next_w.mul_(1 - lr * config["weight_decay"])',
        (
            "adamw_epsilon_outside_sqrt",
            "adamw_first_step_defaults",
            "adamw_float32",
            "adamw_inputs_unchanged",
            "adamw_long_trajectory",
            "adamw_matches_torch",
            "adamw_resumes_state",
            "adamw_trajectory",
        ),
        "the decay applied to the updated instead of the current weights",
    ),
    Mutant(
        "optim_adamw_eps_inside_sqrt",
        "optim",
        '    denom = v.sqrt().add_(config["epsilon"] * c)\n    next_w = w.mul(1 - lr * config["weight_decay"])\n'
        "    next_w.addcdiv_(m, denom, value=-lr * c / (1 - beta1**t))",
        '    denom = v.div(1 - beta2**t).add_(config["epsilon"]).sqrt_()\n    next_w = w.mul(1 - lr * config["weight_decay"])\n'
        "    next_w.addcdiv_(m, denom, value=-lr / (1 - beta1**t))",
        (
            "adamw_epsilon_outside_sqrt",
            "adamw_first_step_defaults",
            "adamw_inputs_unchanged",
            "adamw_long_trajectory",
            "adamw_matches_torch",
            "adamw_resumes_state",
            "adamw_trajectory",
        ),
        "sqrt(v_hat + epsilon) instead of sqrt(v_hat) + epsilon",
    ),
    Mutant(
        "optim_adamw_w_in_place",
        "optim",
        'next_w = w.mul(1 - lr * config["weight_decay"])',
        'next_w = w.mul_(1 - lr * config["weight_decay"])',
        ("adamw_inputs_unchanged",),
        "weights decayed in place",
    ),
    Mutant(
        "optim_adamw_v_float64",
        "optim",
        'config.setdefault("weight_decay", 1e-2)\n    if "m" not in config:\n        config["m"] = torch.zeros_like(w)\n    if "v" not in config:\n        config["v"] = torch.zeros_like(w)',
        'config.setdefault("weight_decay", 1e-2)\n    if "m" not in config:\n        config["m"] = torch.zeros_like(w)\n    if "v" not in config:\n        config["v"] = torch.zeros(w.shape, dtype=torch.float64)',
        ("adamw_float32",),
        "second moment always float64",
    ),
    Mutant(
        "adam_gradient_replaced_by_w",
        "optim",
        _ADAM_START,
        _ADAM_START + "    dw = w.view_as(w)\n",
        ("adam_float32", "adam_trajectory"),
        "dw overwritten by (a view of) w: every moment is built from the weights",
        hint="fed in as the gradient",
    ),
]
