"""Correct variants of Dropout (layers.py), assignment 3: other masks, thresholds and caches."""

from __future__ import annotations

from tests.variants import rewrite

_SEED = """
seed = dropout_param.get("seed")
g = torch.Generator(device=x.device).manual_seed(seed) if seed is not None else None
"""
_RULE = "a unit is kept where its draw is >= p"
_TEST = 'if mode == "test":\n    return x.clone(), (mode, None)\n'

VARIANTS = [
    rewrite(
        "dropout_keep_below_one_minus_p",
        "layers",
        "keep = rand < 1 - p: correct, but not the seeded recipe",
        (
            "Dropout.forward",
            _TEST
            + _SEED
            + "keep = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) < 1 - p\n"
            "mask = keep.to(x.dtype) / (1 - p)\nreturn x * mask, (mode, mask)",
        ),
        loses=[("dropout_forward_seeded", _RULE)],
    ),
    rewrite(
        "dropout_strict_threshold",
        "layers",
        "rand > p instead of >= p",
        (
            "Dropout.forward",
            _TEST
            + _SEED
            + "mask = (torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) > p).to(x.dtype) / (1 - p)\n"
            "return x * mask, (mode, mask)",
        ),
    ),
    rewrite(
        "dropout_bool_mask_cache",
        "layers",
        "caches the bool keep mask and p",
        (
            "Dropout.forward",
            _TEST + _SEED + "keep = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) >= p\n"
            "return x * keep / (1 - p), (mode, keep, p)",
        ),
        (
            "Dropout.backward",
            'if cache[0] == "test":\n    return dout.clone()\n'
            "_, keep, p = cache\nreturn dout * keep / (1 - p)",
        ),
    ),
    rewrite(
        "dropout_param_and_mask_cache",
        "layers",
        "cache (dropout_param, mask), as in the old course",
        (
            "Dropout.forward",
            _TEST.replace("(mode, None)", "(dropout_param, None)")
            + _SEED
            + "u = torch.rand(*x.shape, generator=g, device=x.device, dtype=x.dtype)\n"
            "mask = (u >= p).to(x.dtype) / (1 - p)\nout = x * mask\nreturn out, (dropout_param, mask)",
        ),
        (
            "Dropout.backward",
            "dropout_param, mask = cache\n"
            'if dropout_param["mode"] == "train":\n    return dout * mask\nreturn dout',
        ),
    ),
    rewrite(
        "dropout_dict_cache_where",
        "layers",
        "torch.where on the kept units, cache as a dict",
        (
            "Dropout.forward",
            'if mode == "test":\n    return x, {"mode": mode}\n'
            + _SEED
            + "keep = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) >= p\n"
            "out = torch.where(keep, x / (1 - p), torch.zeros_like(x))\n"
            'return out, {"mode": mode, "keep": keep, "scale": 1 / (1 - p)}',
        ),
        (
            "Dropout.backward",
            'if cache["mode"] == "test":\n    return dout\n'
            'return torch.where(cache["keep"], dout * cache["scale"], torch.zeros_like(dout))',
        ),
    ),
    rewrite(
        "dropout_masked_assignment",
        "layers",
        "clone, zero the dropped units, divide the rest",
        (
            "Dropout.forward",
            _TEST + _SEED + "drop = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype) < p\n"
            "out = x.clone()\nout[drop] = 0\nout /= 1 - p\nreturn out, (mode, drop, p)",
        ),
        (
            "Dropout.backward",
            "mode, *rest = cache\n"
            'if mode == "test":\n    return dout.clone()\n'
            "drop, p = rest\ndx = dout / (1 - p)\ndx[drop] = 0\nreturn dx",
        ),
    ),
    rewrite(
        "dropout_rand_like_unseeded",
        "layers",
        "torch.rand_like without a seed, an if/else on the seed",
        (
            "Dropout.forward",
            _TEST + 'if "seed" in dropout_param:\n'
            '    gen = torch.Generator(device=x.device)\n    gen.manual_seed(dropout_param["seed"])\n'
            "    draw = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype)\n"
            "else:\n    draw = torch.rand_like(x)\n"
            "mask = (draw >= p).to(x.dtype) / (1 - p)\nreturn mask * x, (mode, mask)",
        ),
    ),
    rewrite(
        "dropout_backward_mask_none_test",
        "layers",
        "backward tests the mask for None instead of the mode",
        ("Dropout.backward", "_, mask = cache\nreturn dout.clone() if mask is None else mask * dout"),
    ),
]
