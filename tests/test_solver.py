"""Tests of course_lib.solver with small fake models and a fake course_lib.optim."""

from __future__ import annotations

import sys
import types

import pytest
import torch

import course_lib
from course_lib.solver import Solver


def _sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def _adam(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("m", torch.zeros_like(w))
    config.setdefault("v", torch.zeros_like(w))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = 0.9 * config["m"] + 0.1 * dw
    config["v"] = 0.999 * config["v"] + 0.001 * dw * dw
    m_hat = config["m"] / (1 - 0.9 ** config["t"])
    v_hat = config["v"] / (1 - 0.999 ** config["t"])
    return w - config["learning_rate"] * m_hat / (v_hat.sqrt() + 1e-8), config


def _keep(w, dw, config):
    return w, config


@pytest.fixture
def fake_optim(monkeypatch):
    """A stand-in for course_lib.optim, found by the Solver's ``from . import optim``."""
    module = types.ModuleType("course_lib.optim")
    module.sgd = _sgd
    module.adam = _adam
    monkeypatch.setitem(sys.modules, "course_lib.optim", module)
    monkeypatch.setattr(course_lib, "optim", module, raising=False)
    return module


class SoftmaxModel:
    """Linear softmax classifier: x (N, D) -> scores (N, C)."""

    def __init__(self, D: int = 5, C: int = 3, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.params = {
            "W": 0.1 * torch.randn(D, C, generator=g, dtype=torch.float64),
            "b": torch.zeros(C, dtype=torch.float64),
        }

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        probs = scores.softmax(dim=1)
        loss = -probs[torch.arange(len(y)), y].log().mean()
        dscores = probs.clone()
        dscores[torch.arange(len(y)), y] -= 1
        dscores /= len(y)
        return loss, {"W": X.T @ dscores, "b": dscores.sum(0)}


class RecordingModel:
    """Records the example ids (X[:, 0]) of every training batch."""

    def __init__(self):
        self.params = {"w": torch.zeros(1, dtype=torch.float64)}
        self.batches: list[list[int]] = []

    def loss(self, X, y=None):
        scores = torch.zeros(X.shape[0], 2, dtype=torch.float64)
        if y is None:
            return scores
        self.batches.append(X[:, 0].long().tolist())
        return torch.tensor(0.5), {"w": torch.zeros(1, dtype=torch.float64)}


class CountingModel:
    """w counts iterations; predictions are correct exactly when w == 2."""

    def __init__(self):
        self.params = {"w": torch.zeros((), dtype=torch.float64)}

    def loss(self, X, y=None):
        if y is None:
            right = bool(self.params["w"] == 2)
            return torch.nn.functional.one_hot(
                torch.zeros(len(X), dtype=torch.int64) + (0 if right else 1), 2
            )
        return torch.tensor(1.0), {"w": torch.zeros(())}


def _index_data(n: int) -> dict[str, torch.Tensor]:
    X = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    y = torch.zeros(n, dtype=torch.int64)
    return {"X_train": X, "y_train": y, "X_val": X[:2], "y_val": y[:2]}


def _blobs(n: int = 60, D: int = 5, C: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    y = torch.arange(n) % C
    X = torch.randn(n, D, generator=g, dtype=torch.float64) + 2.0 * torch.nn.functional.one_hot(y, D)
    return {"X_train": X[:40], "y_train": y[:40], "X_val": X[40:], "y_val": y[40:]}


RESUME_OPTIONS = {
    "update_rule": "adam",
    "optim_config": {"learning_rate": 5e-2},
    "lr_decay": 0.9,
    "batch_size": 16,
    "num_train_samples": 25,
    "verbose": False,
    "seed": 3,
}


def _assert_same_run(a: Solver, b: Solver) -> None:
    for name in a.model.params:
        assert torch.equal(a.model.params[name], b.model.params[name])
        assert torch.equal(a.best_params[name], b.best_params[name])
        for key in ("m", "v"):
            assert torch.equal(a.optim_configs[name][key], b.optim_configs[name][key])
        assert a.optim_configs[name]["t"] == b.optim_configs[name]["t"]
        assert a.optim_configs[name]["learning_rate"] == b.optim_configs[name]["learning_rate"]
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history
    assert a.val_acc_history == b.val_acc_history
    assert (a.epoch, a.iteration, a.best_val_acc) == (b.epoch, b.iteration, b.best_val_acc)


def test_every_example_once_per_epoch_with_partial_last_batch():
    model = RecordingModel()
    solver = Solver(
        model, _index_data(10), update_rule=_keep, batch_size=3, num_epochs=3, verbose=False, seed=0
    )
    solver.train()
    assert [len(b) for b in model.batches] == [3, 3, 3, 1] * 3
    epochs = [[i for batch in model.batches[4 * e : 4 * e + 4] for i in batch] for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(10))
    assert len({tuple(order) for order in epochs}) > 1
    assert solver.iteration == 12 and solver.epoch == 3
    assert solver.loss_history == [0.5] * 12


def test_seed_reproducible_and_global_rng_untouched():
    state = torch.get_rng_state()
    runs = []
    for _ in range(2):
        model = RecordingModel()
        Solver(
            model,
            _index_data(10),
            update_rule=_keep,
            batch_size=4,
            num_epochs=2,
            verbose=False,
            seed=7,
            num_train_samples=5,
        ).train()
        runs.append(model.batches)
    assert runs[0] == runs[1]
    assert torch.equal(state, torch.get_rng_state())


def test_lr_decay_applied_after_each_epoch():
    seen = []

    def rule(w, dw, config):
        seen.append(config["learning_rate"])
        return w, config

    solver = Solver(
        RecordingModel(),
        _index_data(4),
        update_rule=rule,
        optim_config={"learning_rate": 1.0},
        lr_decay=0.5,
        batch_size=2,
        num_epochs=3,
        verbose=False,
    )
    solver.train()
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert solver.optim_configs["w"]["learning_rate"] == 0.125
    assert solver.optim_config == {"learning_rate": 1.0}


def test_best_params_are_restored_after_training():
    def count(w, dw, config):
        return w + 1, config

    model = CountingModel()
    solver = Solver(model, _index_data(4), update_rule=count, batch_size=4, num_epochs=4, verbose=False)
    solver.train()
    assert solver.val_acc_history == [0.0, 1.0, 0.0, 0.0]
    assert solver.best_val_acc == 1.0
    assert float(solver.best_params["w"]) == 2.0
    assert float(model.params["w"]) == 2.0
    assert model.params["w"] is not solver.best_params["w"]


def test_resume_from_checkpoint_matches_uninterrupted_run(fake_optim, tmp_path):
    data = _blobs()
    full = Solver(SoftmaxModel(), data, num_epochs=4, **RESUME_OPTIONS)
    full.train()

    first = Solver(
        SoftmaxModel(), data, num_epochs=2, checkpoint_name=str(tmp_path / "run"), **RESUME_OPTIONS
    )
    first.train()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_epoch_1.pt", "run_epoch_2.pt"]
    resumed = Solver.from_checkpoint(
        tmp_path / "run_epoch_2.pt", SoftmaxModel(seed=99), data, num_epochs=4, checkpoint_name=None
    )
    assert resumed.update_rule is _adam
    resumed.train()
    assert len(full.loss_history) == 4 * 3 and len(full.val_acc_history) == 4
    _assert_same_run(full, resumed)


def test_load_checkpoint_into_existing_solver_after_train(fake_optim, tmp_path):
    data = _blobs()
    full = Solver(SoftmaxModel(), data, num_epochs=4, **RESUME_OPTIONS)
    full.train()
    first = Solver(SoftmaxModel(), data, num_epochs=2, **RESUME_OPTIONS)
    first.train()  # the model now holds the best params; the checkpoint keeps the latest ones
    first.save_checkpoint(tmp_path / "after_train.pt")
    other = Solver(SoftmaxModel(seed=5), data, num_epochs=4, **RESUME_OPTIONS)
    other.load_checkpoint(tmp_path / "after_train.pt")
    other.train()
    _assert_same_run(full, other)


def test_time_limit_stops_after_one_iteration_and_resumes_exactly(fake_optim, tmp_path):
    data = _blobs()
    full = Solver(SoftmaxModel(), data, num_epochs=3, **RESUME_OPTIONS)
    full.train()

    stepped = Solver(SoftmaxModel(), data, num_epochs=3, **RESUME_OPTIONS)
    stepped.train(time_limit=0)
    assert (stepped.iteration, stepped.epoch, stepped.val_acc_history) == (1, 0, [])
    assert len(stepped.loss_history) == 1
    stepped.save_checkpoint(tmp_path / "mid_epoch.pt")
    stepped = Solver.from_checkpoint(tmp_path / "mid_epoch.pt", SoftmaxModel(), data)
    while stepped.epoch < 3:
        stepped.train(time_limit=0)
    _assert_same_run(full, stepped)


def test_checkpoint_loads_with_weights_only(fake_optim, tmp_path):
    solver = Solver(
        SoftmaxModel(), _blobs(), num_epochs=1, checkpoint_name=str(tmp_path / "c"), **RESUME_OPTIONS
    )
    solver.train()
    checkpoint = torch.load(tmp_path / "c_epoch_1.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["iteration"] == 3
    assert checkpoint["hyperparameters"]["update_rule"] == "adam"
    assert checkpoint["hyperparameters"]["batch_size"] == 16
    assert isinstance(checkpoint["optim_configs"]["W"]["m"], torch.Tensor)
    assert checkpoint["optim_configs"]["W"]["t"] == 3
    assert isinstance(checkpoint["rng_state"], torch.Tensor)
    assert not list(tmp_path.glob("*.tmp"))


def test_callable_rule_checkpoint_needs_the_rule_again(tmp_path):
    solver = Solver(SoftmaxModel(), _blobs(), update_rule=_sgd, num_epochs=1, verbose=False)
    solver.train()
    solver.save_checkpoint(tmp_path / "c.pt")
    with pytest.raises(ValueError, match="callable update_rule"):
        Solver.from_checkpoint(tmp_path / "c.pt", SoftmaxModel(), _blobs())
    resumed = Solver.from_checkpoint(tmp_path / "c.pt", SoftmaxModel(), _blobs(), update_rule=_sgd)
    assert resumed.epoch == 1


def test_non_plain_optimizer_state_is_refused(tmp_path):
    def rule(w, dw, config):
        config["cache"] = object()
        return w, config

    solver = Solver(RecordingModel(), _index_data(4), update_rule=rule, num_epochs=1, verbose=False)
    solver.train()
    with pytest.raises(TypeError, match=r"optim_configs\['w'\]\['cache'\]"):
        solver.save_checkpoint(tmp_path / "c.pt")
    assert not list(tmp_path.iterdir())


def test_unknown_kwargs_raise_value_error_naming_them():
    with pytest.raises(ValueError, match="learning_rate, momentum"):
        Solver(RecordingModel(), _index_data(4), update_rule=_keep, momentum=0.9, learning_rate=1.0)
    with pytest.raises(ValueError, match="batch_size"):
        Solver(RecordingModel(), _index_data(4), update_rule=_keep, batch_size=0)
    with pytest.raises(ValueError, match="y_val"):
        Solver(RecordingModel(), {"X_train": 1, "y_train": 1, "X_val": 1}, update_rule=_keep)


def test_update_rule_names_resolve_through_optim(fake_optim):
    assert Solver(RecordingModel(), _index_data(4), verbose=False).update_rule is _sgd
    with pytest.raises(ValueError, match='Unknown update_rule "rmsprop_typo"'):
        Solver(RecordingModel(), _index_data(4), update_rule="rmsprop_typo")


def test_check_accuracy_full_and_subsampled():
    model = SoftmaxModel(D=2, C=2)
    model.params["W"] = torch.eye(2, dtype=torch.float64)
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 1])
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y}, update_rule=_keep, seed=0)
    assert solver.check_accuracy(X, y, batch_size=3) == 0.75
    assert solver.check_accuracy(X, y, num_samples=2) in (0.0, 0.5, 1.0)
