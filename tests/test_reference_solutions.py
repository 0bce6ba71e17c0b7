"""The instructor reference solutions (solutions/course_lib) against torch.autograd and torch.optim."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

import pytest
import torch
from torch.nn.functional import cross_entropy

REPO = Path(__file__).resolve().parent.parent
PKG = "_reference_course_lib"
f64 = torch.float64


def _load_reference_package() -> types.SimpleNamespace:
    """Import solutions/course_lib as package PKG; `.solver` etc. resolve to the given course_lib."""
    spec = importlib.machinery.ModuleSpec(PKG, None, is_package=True)
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [str(REPO / "solutions" / "course_lib"), str(REPO / "course_lib")]
    sys.modules[PKG] = package
    if not (REPO / "course_lib" / "solver.py").exists():  # given module not written yet
        placeholder = types.ModuleType(f"{PKG}.solver")
        placeholder.Solver = None
        sys.modules[f"{PKG}.solver"] = placeholder
    names = ("layers", "fc_net", "optim")
    return types.SimpleNamespace(**{name: importlib.import_module(f"{PKG}.{name}") for name in names})


ref = _load_reference_package()
L, fc, optim = ref.layers, ref.fc_net, ref.optim


def rand(*shape, seed=0):
    return torch.randn(*shape, dtype=f64, generator=torch.Generator().manual_seed(seed))


def leaves(*tensors):
    return [t.clone().requires_grad_(True) for t in tensors]


def assert_unchanged(originals, tensors):
    for before, after in zip(originals, tensors, strict=True):
        assert torch.equal(before, after), "an input was modified in place"


# ----------------------------------------------------------------------------------------- layers
@pytest.mark.parametrize("x_shape", [(1, 6), (4, 6), (3, 2, 3), (2, 1, 2, 3)])
def test_linear_and_linear_relu_match_autograd(x_shape):
    x, w, b, dout = rand(*x_shape, seed=1), rand(6, 5, seed=2), rand(5, seed=3), rand(x_shape[0], 5, seed=4)
    inputs = [t.clone() for t in (x, w, b, dout)]
    for layer, act in [(L.Linear, lambda a: a), (L.Linear_ReLU, torch.relu)]:
        xr, wr, br = leaves(x, w, b)
        expected = act(xr.reshape(x_shape[0], -1) @ wr + br)
        expected.backward(dout)
        out, cache = layer.forward(x, w, b)
        dx, dw, db = layer.backward(dout, cache)
        torch.testing.assert_close(out, expected.detach())
        for got, want in [(dx, xr.grad), (dw, wr.grad), (db, br.grad)]:
            assert got.shape == want.shape
            torch.testing.assert_close(got, want)
    assert_unchanged(inputs, (x, w, b, dout))


def test_relu_matches_autograd_with_exact_zeros():
    x = rand(4, 3, 2)
    x[0, 0, 0] = x[1, 2, 1] = x[3, 1, 0] = 0.0
    dout = rand(4, 3, 2, seed=1)
    inputs = [x.clone(), dout.clone()]
    (xr,) = leaves(x)
    torch.relu(xr).backward(dout)
    out, cache = L.ReLU.forward(x)
    dx = L.ReLU.backward(dout, cache)
    torch.testing.assert_close(out, torch.relu(x))
    torch.testing.assert_close(dx, xr.grad)
    assert dx[0, 0, 0] == 0 and dx[1, 2, 1] == 0  # gradient 0 at exactly 0
    assert_unchanged(inputs, (x, dout))


def hinge_reference(x, y):
    correct = x.gather(1, y[:, None])
    margins = torch.relu(x - correct + 1).scatter(1, y[:, None], 0.0)
    return margins.sum() / x.shape[0]


@pytest.mark.parametrize("n", [1, 7])
@pytest.mark.parametrize("name", ["softmax", "svm"])
def test_losses_match_autograd(name, n):
    loss_fn, reference = {
        "softmax": (L.softmax_loss, cross_entropy),
        "svm": (L.svm_loss, hinge_reference),
    }[name]
    x, y = rand(n, 5), torch.randint(5, (n,), generator=torch.Generator().manual_seed(n))
    inputs = [x.clone(), y.clone()]
    (xr,) = leaves(x)
    expected = reference(xr, y)
    expected.backward()
    loss, dx = loss_fn(x, y)
    assert loss.dim() == 0 and loss.dtype == x.dtype
    torch.testing.assert_close(loss, expected.detach())
    torch.testing.assert_close(dx, xr.grad)
    assert_unchanged(inputs, (x, y))
    loss32, dx32 = loss_fn(x.float(), y)
    assert loss32.dtype == dx32.dtype == torch.float32


def test_softmax_loss_is_numerically_stable():
    x, y = rand(6, 10) * 1e4, torch.arange(6)
    loss, dx = L.softmax_loss(x, y)
    torch.testing.assert_close(loss, cross_entropy(x, y))
    assert torch.isfinite(dx).all()
    loss32, dx32 = L.softmax_loss(x.float(), y)
    assert torch.isfinite(loss32) and torch.isfinite(dx32).all()


# ---------------------------------------------------------------------------------------- dropout
def test_dropout_train_statistics_and_backward():
    x, p = rand(500, 400) + 3.0, 0.3
    out, cache = L.Dropout.forward(x, {"p": p, "mode": "train"})
    dropped = out == 0
    assert abs(dropped.double().mean().item() - p) < 0.01
    assert abs(out.mean().item() / x.mean().item() - 1) < 0.01
    torch.testing.assert_close(out[~dropped], x[~dropped] / (1 - p))  # kept units are scaled
    dout = rand(500, 400, seed=5)
    dx = L.Dropout.backward(dout, cache)
    torch.testing.assert_close(dx, torch.where(dropped, 0.0, dout / (1 - p)))


def test_dropout_test_mode_p0_and_invalid_p():
    x = rand(8, 9)
    for param in ({"p": 0.5, "mode": "test"}, {"p": 0.0, "mode": "train"}):
        out, cache = L.Dropout.forward(x, param)
        assert torch.equal(out, x) and out is not x  # test mode returns a copy
        dout = rand(8, 9, seed=1)
        assert torch.equal(L.Dropout.backward(dout, cache), dout)
    for p in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError):
            L.Dropout.forward(x, {"p": p, "mode": "train"})


def test_dropout_seed_is_reproducible_and_leaves_global_rng_alone():
    x, param = rand(50, 60), {"p": 0.5, "mode": "train", "seed": 123}
    state = torch.get_rng_state()
    out1, _ = L.Dropout.forward(x, param)
    out2, _ = L.Dropout.forward(x, param)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(out1, out2)
    g = torch.Generator().manual_seed(123)
    keep = torch.rand(x.shape, generator=g, dtype=x.dtype) >= 0.5  # the documented recipe
    assert torch.equal(out1, x * keep / 0.5)
    out3, _ = L.Dropout.forward(x, {"p": 0.5, "mode": "train", "seed": 124})
    assert not torch.equal(out1, out3)


# ----------------------------------------------------------------------------------------- models
def net_reference(params, num_layers, X, y, reg, mask_param=None):
    """Autograd loss of {Linear - ReLU - [Dropout]} x (L-1) - Linear - softmax + L2."""
    h = X.reshape(X.shape[0], -1)
    for i in range(1, num_layers):
        h = torch.relu(h @ params[f"W{i}"] + params[f"b{i}"])
        if mask_param is not None:  # same seed, shape and dtype -> the same mask as the model
            h = h * L.Dropout.forward(torch.ones_like(h), mask_param)[0]
    scores = h @ params[f"W{num_layers}"] + params[f"b{num_layers}"]
    weights = sum((params[f"W{i}"] ** 2).sum() for i in range(1, num_layers + 1))
    return cross_entropy(scores, y) + 0.5 * reg * weights


def check_model_against_autograd(model, X, y, mask_param=None):
    params = {k: v.clone().requires_grad_(True) for k, v in model.params.items()}
    num_layers = len(params) // 2
    expected = net_reference(params, num_layers, X, y, model.reg, mask_param)
    expected.backward()
    loss, grads = model.loss(X, y)
    torch.testing.assert_close(loss, expected.detach())
    assert grads.keys() == params.keys()
    for k in params:
        torch.testing.assert_close(grads[k], params[k].grad, msg=k)


@pytest.mark.parametrize("hidden_dims", [[], [7], [6, 5], [6, 5, 4]])
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_fully_connected_net_matches_autograd(hidden_dims, reg):
    X, y = rand(4, 2, 3), torch.tensor([0, 2, 1, 2])
    model = fc.FullyConnectedNet(
        hidden_dims, input_dim=6, num_classes=3, reg=reg, weight_scale=0.5, seed=0, dtype=f64
    )
    assert model.num_layers == len(hidden_dims) + 1 and not model.use_dropout
    check_model_against_autograd(model, X, y)
    scores = model.loss(X)
    assert scores.shape == (4, 3) and model.dropout_param["mode"] == "test"


def test_fully_connected_net_with_dropout_matches_autograd():
    X, y = rand(5, 6), torch.tensor([0, 2, 1, 2, 0])
    kwargs = dict(input_dim=6, num_classes=3, reg=0.1, weight_scale=0.5, seed=3, dtype=f64)
    model = fc.FullyConnectedNet([8, 7], dropout=0.4, **kwargs)
    check_model_against_autograd(model, X, y, mask_param=dict(model.dropout_param))
    assert model.dropout_param["mode"] == "train"
    plain = fc.FullyConnectedNet([8, 7], **kwargs)  # same seed -> same weights
    torch.testing.assert_close(model.loss(X), plain.loss(X))  # test mode: dropout is the identity
    forced = fc.FullyConnectedNet([8, 7], **kwargs)
    forced.use_dropout = True  # dropout layers with p = 0 change nothing
    (loss_a, grads_a), (loss_b, grads_b) = forced.loss(X, y), plain.loss(X, y)
    assert torch.equal(loss_a, loss_b) and all(torch.equal(grads_a[k], grads_b[k]) for k in grads_a)


def test_two_layer_net_matches_autograd_and_roundtrips(tmp_path):
    torch.manual_seed(0)
    model = fc.TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=4, weight_scale=0.5, reg=0.3, dtype=f64)
    assert model.params["W1"].shape == (6, 5) and model.params["b2"].shape == (4,)
    assert not model.params["b1"].any()
    X, y = rand(3, 3, 2), torch.tensor([3, 0, 1])
    check_model_against_autograd(model, X, y)
    model.save(tmp_path / "two.pt")
    loaded = fc.TwoLayerNet.load(tmp_path / "two.pt", dtype=torch.float32)
    assert loaded.params["W1"].dtype == torch.float32 and loaded.reg == model.reg
    torch.testing.assert_close(loaded.loss(X.float()), model.loss(X).float())
    net = fc.FullyConnectedNet([5], input_dim=6, num_classes=4, dropout=0.2, seed=1, dtype=f64)
    net.save(tmp_path / "fc.pt")
    again = fc.FullyConnectedNet.load(tmp_path / "fc.pt")
    assert again.dtype == f64 and again.dropout_param == net.dropout_param
    torch.testing.assert_close(again.loss(X), net.loss(X))


# ------------------------------------------------------------------------------------- optimizers
OPTIMIZERS = [
    (optim.sgd, {"learning_rate": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        optim.sgd_momentum,
        {"learning_rate": 0.1, "momentum": 0.8},
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8),
    ),
    (
        optim.nesterov_momentum,
        {"learning_rate": 0.1, "momentum": 0.8},
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True),
    ),
    (
        optim.adagrad,
        {"learning_rate": 0.1, "epsilon": 1e-6},
        lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-6),
    ),
    (
        optim.rmsprop,
        {"learning_rate": 0.01, "decay_rate": 0.9, "epsilon": 1e-6},
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6),
    ),
    (
        optim.adam,
        {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99},
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-8),
    ),
    (
        optim.adamw,
        {"learning_rate": 0.01, "weight_decay": 0.5},
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.5, eps=1e-8),
    ),
]


@pytest.mark.parametrize(
    ("rule", "config", "make_torch_optim"), OPTIMIZERS, ids=lambda v: getattr(v, "__name__", "")
)
def test_update_rules_match_torch_optim(rule, config, make_torch_optim):
    w = rand(4, 5)
    param = torch.nn.Parameter(w.clone())
    torch_optim = make_torch_optim([param])
    config = dict(config)
    for step in range(6):
        dw = rand(4, 5, seed=10 + step)
        w_before, dw_before = w.clone(), dw.clone()
        next_w, config = rule(w, dw, config)
        assert_unchanged((w_before, dw_before), (w, dw))
        assert next_w.dtype == w.dtype and next_w.shape == w.shape and next_w.device == w.device
        param.grad = dw.clone()
        torch_optim.step()
        torch.testing.assert_close(next_w, param.detach(), rtol=1e-12, atol=1e-12)
        w = next_w
    if "m" in config:
        assert config["t"] == 6 and isinstance(config["t"], int)


DEFAULTS = {
    optim.sgd_momentum: {"learning_rate": 1e-2, "momentum": 0.9},
    optim.nesterov_momentum: {"learning_rate": 1e-2, "momentum": 0.9},
    optim.adagrad: {"learning_rate": 1e-2, "epsilon": 1e-8},
    optim.rmsprop: {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    optim.adam: {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1},
    optim.adamw: {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "weight_decay": 1e-2, "t": 1},
}


@pytest.mark.parametrize("rule", DEFAULTS, ids=lambda rule: rule.__name__)
def test_update_rule_defaults_and_float32_state(rule):
    w, dw = rand(3, 2).float(), rand(3, 2, seed=1).float()
    next_w, config = rule(w, dw)
    assert next_w.dtype == torch.float32
    assert {k: config[k] for k in DEFAULTS[rule]} == DEFAULTS[rule]
    states = [config[key] for key in ("velocity", "cache", "m", "v") if key in config]
    assert states and all(s.dtype == torch.float32 and s.shape == w.shape for s in states)


# ------------------------------------------------------------------------------- hyperparameters
def first_50_digits():
    """The documented protocol: load_digits, X = data / 16, first 50 rows, centred with their mean."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = torch.tensor(digits.data[:50], dtype=f64) / 16
    return X - X.mean(dim=0), torch.tensor(digits.target[:50], dtype=torch.int64)


def overfit_accuracy(hidden_dims, weight_scale, learning_rate, seed, epochs=20, batch_size=25):
    """Minimal Solver-like loop: per-epoch permutation, sgd; returns the final training accuracy."""
    X, y = first_50_digits()
    model = fc.FullyConnectedNet(
        hidden_dims, input_dim=64, num_classes=10, weight_scale=weight_scale, dtype=f64, seed=seed
    )
    g = torch.Generator().manual_seed(1000 + seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(X), generator=g).split(batch_size):
            _, grads = model.loss(X[batch], y[batch])
            for k, p in model.params.items():
                model.params[k], _ = optim.sgd(p, grads[k], {"learning_rate": learning_rate})
    return (model.loss(X).argmax(dim=1) == y).double().mean().item()


@pytest.fixture
def one_thread():
    """Tiny matrices: a single thread is faster and immune to CPU oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(
    ("get_params", "hidden_dims"),
    [
        (fc.get_three_layer_network_params, [100, 100]),
        (fc.get_five_layer_network_params, [100, 100, 100, 100]),
    ],
)
def test_hyperparameters_overfit_50_digits_for_every_seed(get_params, hidden_dims):
    weight_scale, learning_rate = get_params()
    assert type(weight_scale) is float and type(learning_rate) is float
    accuracies = [overfit_accuracy(hidden_dims, weight_scale, learning_rate, seed) for seed in range(10)]
    assert min(accuracies) == 1.0, accuracies


@pytest.mark.usefixtures("one_thread")
@pytest.mark.skipif(fc.Solver is None, reason="course_lib/solver.py is not written yet")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_create_solver_instance_reaches_90_percent_on_digits(dtype):
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = torch.tensor(digits.data, dtype=dtype) / 16, torch.tensor(digits.target, dtype=torch.int64)
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    train, val = perm[:1000], perm[1000:1300]
    mean = X[train].mean(dim=0)
    data = {"X_train": X[train] - mean, "y_train": y[train], "X_val": X[val] - mean, "y_val": y[val]}
    solver = fc.create_solver_instance(data, dtype=dtype)
    assert isinstance(solver.update_rule_name, str) and solver.num_epochs <= 50
    assert all(type(v) in (int, float) for v in solver.optim_config.values())
    solver.train()
    assert solver.model.params["W1"].dtype == dtype
    assert solver.best_val_acc >= 0.9, solver.val_acc_history
