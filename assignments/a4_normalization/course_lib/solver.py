"""Solver: the minibatch training loop shared by all assignments.

A *model* is any object with

* ``params: dict[str, Tensor]`` — the learnable parameters, and
* ``loss(X, y=None)`` — returns class scores ``(N, C)`` when ``y`` is None, otherwise
  ``(loss, grads)`` where ``grads`` has the same keys as ``params``.

Example::

    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, batch_size=100, num_epochs=10, seed=0)
    solver.train()
    solver.val_acc_history, solver.best_val_acc   # the model now holds the best parameters

Design notes:

* **Sampling.** Each epoch draws a fresh random permutation of the training set from the
  solver's own ``torch.Generator`` (the global RNG is never used) and walks it in
  ``batch_size`` slices. The last, smaller batch is *kept*, so every example is used exactly
  once per epoch and an epoch has ``ceil(N / batch_size)`` iterations.
* **Accuracy** on a train subsample and on the validation set is recorded after every
  completed epoch (``train_acc_history[e]`` belongs to epoch ``e + 1``).
* **Time limit.** ``train(time_limit=s)`` checks the clock after each iteration and stops once
  ``s`` seconds have passed since the call; see :meth:`Solver.train`.
* **Checkpoints** hold the complete training state — parameters, every per-parameter optimizer
  config (including state tensors such as velocity or Adam moments), epoch, iteration and
  position inside the epoch, histories, best parameters, the generator state and the
  hyperparameters — as plain tensors/dicts/lists/str/float/int/None, so they load with
  ``torch.load(path, weights_only=True)``. Resuming with :meth:`Solver.from_checkpoint` or
  :meth:`Solver.load_checkpoint` reproduces an uninterrupted run bit for bit.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

Tensor = torch.Tensor
UpdateRule = Callable[[Tensor, Tensor, dict], tuple[Tensor, dict]]

#: Bumped when the checkpoint layout changes.
CHECKPOINT_VERSION = 1

#: Every keyword argument the Solver accepts, with its default.
DEFAULTS: dict[str, Any] = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "print_every": 10,
    "verbose": True,
    "checkpoint_name": None,
    "device": None,
    "seed": None,
}
_DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")
_SCALAR_TYPES = (str, int, float, bool, type(None))


class Solver:
    """Train a model with minibatch gradient descent and keep the best validation parameters.

    Args:
        model: see the module docstring.
        data: dict with ``X_train`` (N, ...), ``y_train`` (N,), ``X_val`` (N_val, ...),
            ``y_val`` (N_val,) tensors; further keys are ignored.
        update_rule: name of a function in ``course_lib.optim`` or a callable
            ``rule(w, dw, config) -> (next_w, config)``. Default ``"sgd"``.
        optim_config: dict of update-rule settings (e.g. ``learning_rate``); each parameter gets
            its own shallow copy, in which the rule may keep state.
        lr_decay: every parameter's ``config["learning_rate"]`` is multiplied by this after each
            epoch. Default 1.0 (no decay).
        batch_size: examples per iteration. Default 100.
        num_epochs: epochs :meth:`train` runs up to (counted from the start). Default 10.
        num_train_samples: size of the random training subsample used for the train accuracy
            (None: all). Default 1000.
        num_val_samples: same for validation accuracy. Default None (all).
        print_every: refresh the loss shown on the progress bar every this many iterations.
        verbose: show a tqdm progress bar and one line per epoch. Default True.
        checkpoint_name: if set, ``f"{checkpoint_name}_epoch_{epoch}.pt"`` is written after every
            epoch.
        device: where data and parameters live; data is moved there once. Default: the device
            of ``X_train``; parameters are then left as they are.
        seed: seed of the solver's own generator (None: a random seed).

    Raises:
        ValueError: for unknown keyword arguments, an unknown update rule name, missing data
            keys or invalid values.
    """

    def __init__(self, model: Any, data: Mapping[str, Any], **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"Unrecognized Solver arguments: {', '.join(unknown)}")
        options = {**DEFAULTS, **kwargs}
        self.model = model
        self._set_options(options)
        self._set_data(data, options["device"])
        self._reset()

    # ------------------------------------------------------------------ setup

    def _set_options(self, options: dict[str, Any]) -> None:
        """Validate and store the hyperparameters."""
        rule = options["update_rule"]
        self.update_rule: UpdateRule = _resolve_update_rule(rule)
        self.update_rule_name: str | None = rule if isinstance(rule, str) else None
        self.optim_config: dict[str, Any] = dict(options["optim_config"] or {})
        self.lr_decay = float(options["lr_decay"])
        self.batch_size = _checked_int("batch_size", options["batch_size"], 1)
        self.num_epochs = _checked_int("num_epochs", options["num_epochs"], 0)
        self.num_train_samples = _checked_int("num_train_samples", options["num_train_samples"], 1, True)
        self.num_val_samples = _checked_int("num_val_samples", options["num_val_samples"], 1, True)
        self.print_every = _checked_int("print_every", options["print_every"], 1)
        self.verbose = bool(options["verbose"])
        name = options["checkpoint_name"]
        self.checkpoint_name: str | None = None if name is None else os.fspath(name)
        self.seed = _checked_int("seed", options["seed"], None, True)

    def _set_data(self, data: Mapping[str, Any], device: str | torch.device | None) -> None:
        """Move the four data tensors (and, if ``device`` is given, the params) to the device once."""
        missing = [key for key in _DATA_KEYS if key not in data]
        if missing:
            raise ValueError(f"data is missing {', '.join(missing)}")
        self._device_option = None if device is None else str(device)
        self.device = torch.device(device) if device is not None else torch.as_tensor(data["X_train"]).device
        for key in _DATA_KEYS:
            setattr(self, key, torch.as_tensor(data[key], device=self.device))
        for split in ("train", "val"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if X.shape[0] != y.shape[0] or X.shape[0] == 0:
                raise ValueError(f"X_{split} and y_{split} need the same, non-zero length")
        if device is not None:
            params = self.model.params
            for name, value in params.items():
                params[name] = value.to(self.device)

    def _reset(self) -> None:
        """Fresh training state: counters, histories, optimizer configs and the generator."""
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, Tensor] | None = None
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}
        self._generator = torch.Generator()
        if self.seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(self.seed)
        self._perm: Tensor | None = None  # permutation of the current epoch
        self._next_batch = 0  # index of the next batch in that permutation
        self._pending_losses: list[Any] = []  # losses not yet converted into loss_history
        self._training_params: dict[str, Tensor] | None = None  # latest params while the model holds the best

    @property
    def iterations_per_epoch(self) -> int:
        """``ceil(N_train / batch_size)``: the last batch may be smaller."""
        return math.ceil(self.X_train.shape[0] / self.batch_size)

    # --------------------------------------------------------------- training

    def train(self, time_limit: float | None = None) -> None:
        """Train until ``num_epochs`` epochs are complete, then load the best params into the model.

        Args:
            time_limit: seconds of wall-clock time. The clock is checked after every iteration,
                so at least one iteration runs; once the limit has passed, training stops after
                that iteration (plus the end-of-epoch evaluation if it completed an epoch). The
                state stays consistent — position in the epoch's permutation, counters, optimizer
                configs — so calling ``train()`` again, or resuming from a checkpoint saved now,
                continues exactly where it stopped. Histories only gain entries for completed
                epochs.

        After training (also after a time-limit stop) the model holds the best parameters seen
        at an epoch end, if any; the latest parameters are kept aside and put back when
        ``train()`` is called again, and :meth:`save_checkpoint` saves those latest parameters.
        """
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        self._use_training_params()
        bar = tqdm(total=self.num_epochs * self.iterations_per_epoch, initial=self.iteration,
                   disable=not self.verbose, unit="it")
        timed_out = False
        try:
            while self.epoch < self.num_epochs and not timed_out:
                timed_out = self._run_batches(deadline, bar)
                if self._next_batch == self.iterations_per_epoch:
                    self._finish_epoch(bar)
        finally:
            bar.close()
            self._flush_losses()
        if timed_out and self.verbose:
            print(f"Time limit reached: stopped at epoch {self.epoch}, iteration {self.iteration}")
        self._use_best_params()

    def _run_batches(self, deadline: float | None, bar: tqdm) -> bool:
        """Run the remaining iterations of the current epoch; True if stopped by the deadline."""
        if self._perm is None:
            self._perm = torch.randperm(self.X_train.shape[0], generator=self._generator).to(self.device)
        X, y, perm, size = self.X_train, self.y_train, self._perm, self.batch_size
        # index_select: one gather per batch, far cheaper than X[idx] advanced indexing on CPU
        loss_fn, step, losses = self.model.loss, self._step, self._pending_losses
        for b in range(self._next_batch, self.iterations_per_epoch):
            idx = perm[b * size:(b + 1) * size]
            loss, grads = loss_fn(X.index_select(0, idx), y.index_select(0, idx))
            step(grads)
            losses.append(loss.detach() if isinstance(loss, Tensor) else loss)
            self._next_batch = b + 1
            self.iteration += 1
            if self.verbose:
                self._report(bar, loss)
            if deadline is not None and time.perf_counter() >= deadline:
                return True
        return False

    def _step(self, grads: Mapping[str, Tensor]) -> None:
        """Apply the update rule to every parameter."""
        params, configs, rule = self.model.params, self.optim_configs, self.update_rule
        for name, w in params.items():
            params[name], configs[name] = rule(w, grads[name], configs[name])

    def _report(self, bar: tqdm, loss: Any) -> None:
        """Advance the progress bar; show the loss every ``print_every`` iterations."""
        bar.update()
        if self.iteration % self.print_every == 0:
            bar.set_postfix(loss=f"{float(loss):.4g}", refresh=False)

    def _finish_epoch(self, bar: tqdm) -> None:
        """End-of-epoch bookkeeping: lr decay, accuracies, best params, checkpoint."""
        self._perm = None
        self._next_batch = 0
        self.epoch += 1
        self._flush_losses()
        self._decay_learning_rates()
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.best_params is None or val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {name: w.detach().clone() for name, w in self.model.params.items()}
        if self.checkpoint_name is not None:
            self.save_checkpoint(f"{self.checkpoint_name}_epoch_{self.epoch}.pt")
        if self.verbose:
            bar.write(f"(Epoch {self.epoch} / {self.num_epochs}) loss: {self.loss_history[-1]:.4f}, "
                      f"train acc: {train_acc:.3f}, val acc: {val_acc:.3f}")

    def _flush_losses(self) -> None:
        """Convert the losses collected since the last flush into floats in ``loss_history``."""
        self.loss_history.extend(float(loss) for loss in self._pending_losses)
        self._pending_losses.clear()

    def _decay_learning_rates(self) -> None:
        if self.lr_decay == 1.0:
            return
        for name, config in self.optim_configs.items():
            if "learning_rate" not in config:
                raise ValueError(f"lr_decay is set but the optim config of {name!r} has no learning_rate")
            config["learning_rate"] *= self.lr_decay

    def _use_best_params(self) -> None:
        """Put clones of the best params into the model; keep the latest ones for resuming."""
        if self.best_params is None:
            return
        self._training_params = dict(self.model.params)
        self.model.params.update({name: w.clone() for name, w in self.best_params.items()})

    def _use_training_params(self) -> None:
        """Undo :meth:`_use_best_params` before training continues."""
        if self._training_params is not None:
            self.model.params.update(self._training_params)
            self._training_params = None

    # --------------------------------------------------------------- accuracy

    def check_accuracy(self, X: Tensor, y: Tensor, num_samples: int | None = None,
                       batch_size: int = 100) -> float:
        """Fraction of examples whose highest score is the true label.

        Args:
            X: inputs (N, ...).
            y: labels (N,).
            num_samples: if given and smaller than N, evaluate a random subsample of this size
                (drawn from the solver's generator).
            batch_size: examples per forward pass.

        Returns:
            Accuracy in [0, 1].
        """
        X = torch.as_tensor(X, device=self.device)
        y = torch.as_tensor(y, device=self.device)
        n = X.shape[0]
        if n == 0:
            raise ValueError("check_accuracy needs at least one example")
        if num_samples is not None and n > num_samples:
            idx = torch.randperm(n, generator=self._generator)[:num_samples].to(self.device)
            X, y, n = X.index_select(0, idx), y.index_select(0, idx), num_samples
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        with torch.no_grad():
            for start in range(0, n, batch_size):
                scores = self.model.loss(X[start:start + batch_size])
                correct += (scores.argmax(dim=1) == y[start:start + batch_size]).sum()
        return correct.item() / n

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write the complete training state to ``path`` (atomically: temp file + rename)."""
        self._flush_losses()
        checkpoint = {
            "version": CHECKPOINT_VERSION,
            "hyperparameters": self._hyperparameters(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "next_batch": self._next_batch,
            "epoch_perm": self._perm,
            "params": dict(self._training_params or self.model.params),
            "optim_configs": self.optim_configs,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "best_val_acc": self.best_val_acc,
            "best_params": self.best_params,
            "rng_state": self._generator.get_state(),
        }
        for key, value in checkpoint.items():
            _check_plain(value, key)
        _atomic_save(checkpoint, Path(path))

    def _hyperparameters(self) -> dict[str, Any]:
        """Constructor keyword arguments that rebuild this solver (update_rule None: a callable)."""
        return {
            "update_rule": self.update_rule_name,
            "optim_config": dict(self.optim_config),
            "lr_decay": self.lr_decay,
            "batch_size": self.batch_size,
            "num_epochs": self.num_epochs,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "print_every": self.print_every,
            "verbose": self.verbose,
            "checkpoint_name": self.checkpoint_name,
            "device": self._device_option,
            "seed": self.seed,
        }

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore the training state saved by :meth:`save_checkpoint` (not the hyperparameters).

        The model's params are replaced by the checkpoint's; the names must match.
        """
        self._apply_checkpoint(_read_checkpoint(path))

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, model: Any, data: Mapping[str, Any],
                        **kwargs: Any) -> Solver:
        """Rebuild a solver from a checkpoint and continue with ``solver.train()``.

        Hyperparameters come from the checkpoint; ``kwargs`` override them (e.g.
        ``num_epochs=20`` to train longer, ``verbose=False``). A checkpoint of a solver that used
        a callable update rule needs ``update_rule=`` that callable again.
        """
        checkpoint = _read_checkpoint(path)
        options = {**checkpoint["hyperparameters"], **kwargs}
        if options["update_rule"] is None:
            raise ValueError("this checkpoint was made with a callable update_rule; "
                             "pass update_rule=<the same callable> to from_checkpoint")
        solver = cls(model, data, **options)
        solver._apply_checkpoint(checkpoint)
        return solver

    def _apply_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Load a checkpoint dict (tensors on the CPU) into this solver and its model."""
        expected, saved = set(self.model.params), set(checkpoint["params"])
        if expected != saved:
            raise ValueError(f"checkpoint params {sorted(saved)} do not match model params {sorted(expected)}")
        device = self.device
        self.model.params.update(_to_device(checkpoint["params"], device))
        self.optim_configs = _to_device(checkpoint["optim_configs"], device)
        self.best_params = _to_device(checkpoint["best_params"], device)
        self._perm = _to_device(checkpoint["epoch_perm"], device)
        self._next_batch = checkpoint["next_batch"]
        self.epoch = checkpoint["epoch"]
        self.iteration = checkpoint["iteration"]
        self.loss_history = list(checkpoint["loss_history"])
        self.train_acc_history = list(checkpoint["train_acc_history"])
        self.val_acc_history = list(checkpoint["val_acc_history"])
        self.best_val_acc = checkpoint["best_val_acc"]
        self._generator.set_state(checkpoint["rng_state"])
        self._pending_losses = []
        self._training_params = None


def _resolve_update_rule(rule: str | UpdateRule) -> UpdateRule:
    """A callable is used as is; a string names a public function in ``course_lib.optim``."""
    if callable(rule):
        return rule
    if not isinstance(rule, str):
        raise ValueError(f"update_rule must be a name or a callable, got {type(rule).__name__}")
    from . import optim

    function = getattr(optim, rule, None)
    if rule.startswith("_") or not callable(function):
        raise ValueError(f'Unknown update_rule "{rule}": {optim.__name__} has no such function')
    return function


def _checked_int(name: str, value: Any, minimum: int | None, allow_none: bool = False) -> int | None:
    """``value`` as an int >= ``minimum`` (None allowed if ``allow_none``), else ValueError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be an int{bound}{' or None' if allow_none else ''}, got {value!r}")
    return value


def _check_plain(value: Any, where: str) -> None:
    """Only tensors, str/int/float/bool/None, lists and str-keyed dicts load with weights_only=True."""
    if isinstance(value, Tensor) or type(value) in _SCALAR_TYPES:
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif type(value) is dict:
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"cannot checkpoint {where}: key {key!r} is not a str")
            _check_plain(item, f"{where}[{key!r}]")
    else:
        raise TypeError(f"cannot checkpoint {where}: {type(value).__name__} is not a tensor, dict, list, "
                        "str, float, int or None; update rules may keep only such values in their config")


def _atomic_save(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` into a temporary file next to ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(obj, file)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) onto the CPU and check its version."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{os.fspath(path)} is not a Solver checkpoint (version {CHECKPOINT_VERSION})")
    return checkpoint


def _to_device(value: Any, device: torch.device) -> Any:
    """Copy of a nested dict/list structure with every tensor moved to ``device``."""
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {key: _to_device(item, device) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(item, device) for item in value)
    return value
