"""Fully-connected classifiers built from the layers of ``layers.py``, plus hyperparameter tasks.

A model stores its learnable parameters in the dict ``model.params`` (name -> tensor) and has

- ``loss(X, y=None)``: with ``y=None`` returns the class scores ``(N, C)`` (test mode); with labels
  returns ``(loss, grads)`` (train mode), where ``loss`` is a 0-dim tensor and ``grads`` has the
  same keys as ``params`` (each gradient has the shape, dtype and device of its parameter);
- ``save(path)`` / ``Model.load(path, dtype=None, device='cpu')`` (``load`` is a classmethod that
  returns a new model).

Weights are initialised from N(0, weight_scale ** 2) (``torch.randn(...) * weight_scale``) and
biases with zeros, with the model's dtype and device. L2 regularisation adds
``0.5 * reg * sum(W ** 2)`` over the weight matrices only (not the biases) to the loss, and
``reg * W`` to each weight gradient. No autograd: gradients are computed by the layers' backward
methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .layers import BatchNorm, Dropout, LayerNorm, Linear, Linear_Norm_ReLU, Linear_ReLU, ReLU, softmax_loss
from .solver import Solver

# The layer names are listed so that they are module attributes on purpose: the models look them
# up here at call time, which lets the grader substitute reference layers.
__all__ = [
    "BatchNorm",
    "Dropout",
    "FullyConnectedNet",
    "LayerNorm",
    "Linear",
    "Linear_Norm_ReLU",
    "Linear_ReLU",
    "ReLU",
    "TwoLayerNet",
    "create_solver_instance",
    "get_capstone_config",
    "get_five_layer_network_params",
    "get_three_layer_network_params",
    "softmax_loss",
]


class _Checkpointable:
    """``save`` / ``load`` shared by the models (given code).

    A checkpoint is a dict ``{'class': name, 'hyperparams': {...}, 'dtype': 'float32',
    'params': {name: CPU tensor}}`` written with ``torch.save`` and read back with
    ``torch.load(..., weights_only=True)``.
    """

    _HYPERPARAMS: tuple[str, ...] = ()
    params: dict[str, torch.Tensor]
    dtype: torch.dtype
    device: Any

    def save(self, path: str | Path) -> None:
        """Write the hyperparameters and parameters to ``path``."""
        checkpoint = {
            "class": type(self).__name__,
            "hyperparams": {name: getattr(self, name) for name in self._HYPERPARAMS},
            "dtype": str(self.dtype).removeprefix("torch."),
            "params": {name: p.detach().cpu() for name, p in self.params.items()},
        }
        torch.save(checkpoint, path)

    @classmethod
    def load(cls, path: str | Path, dtype: torch.dtype | None = None, device: Any = "cpu"):
        """Return a NEW model read from ``path`` (a classmethod: ``TwoLayerNet.load(path)``).

        The parameters are cast to ``dtype`` (default: the dtype they were saved with) and moved
        to ``device``. ``__init__`` is not run, so no random initialisation happens.
        """
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if checkpoint.get("class") != cls.__name__:
            raise ValueError(f"{path} holds a {checkpoint.get('class')}, not a {cls.__name__}")
        model = cls.__new__(cls)
        for name, value in checkpoint["hyperparams"].items():
            setattr(model, name, value)
        model.dtype = dtype if dtype is not None else getattr(torch, checkpoint["dtype"])
        model.device = device
        model.params = {
            name: p.to(dtype=model.dtype, device=device) for name, p in checkpoint["params"].items()
        }
        return model


class TwoLayerNet(_Checkpointable):
    """Two-layer fully-connected network: Linear - ReLU - Linear - softmax.

    Input dimension D, hidden dimension H, C classes. Parameters:

    - W1: (D, H), b1: (H,) first layer;
    - W2: (H, C), b2: (C,) second layer.
    """

    _HYPERPARAMS = ("input_dim", "hidden_dim", "num_classes", "weight_scale", "reg")

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: torch.dtype = torch.float32,
        device: Any = "cpu",
    ):
        """Initialise the network.

        Inputs:
        - input_dim: D, size of a (flattened) input example.
        - hidden_dim: H, size of the hidden layer.
        - num_classes: C, number of classes.
        - weight_scale: standard deviation of the random weight initialisation.
        - reg: L2 regularisation strength.
        - dtype, device: of every parameter; the inputs X given to ``loss`` must match.
        """
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.num_classes = num_classes
        self.weight_scale = weight_scale
        self.reg = reg
        self.dtype = dtype
        self.device = device
        self.params: dict[str, torch.Tensor] = {}
        # TODO (TwoLayerNet.__init__): store W1, b1, W2, b2 in self.params. Weights ~
        # N(0, weight_scale ** 2) (torch.randn * weight_scale), biases zero; use dtype and device.
        raise NotImplementedError("TwoLayerNet.__init__ is not implemented yet (course_lib/fc_net.py, TODO TwoLayerNet.__init__)")

    def loss(self, X: torch.Tensor, y: torch.Tensor | None = None):
        """Compute the scores, or the loss and the gradients, for a minibatch.

        Inputs:
        - X: (N, d1, ..., dk) inputs with d1 * ... * dk = input_dim.
        - y: (N,) int64 labels, or None.

        Returns:
        - if y is None: scores, (N, C) tensor of class scores;
        - otherwise a tuple (loss, grads): loss is a 0-dim tensor (softmax loss + L2 term) and
          grads maps each key of self.params to the gradient of the loss with respect to it.
        """
        # TODO (TwoLayerNet.loss): forward pass with Linear, ReLU and Linear; return the scores when y
        # is None. Otherwise compute the softmax loss plus 0.5 * reg * (sum(W1 ** 2) + sum(W2 ** 2)),
        # backpropagate, add reg * W to the weight gradients and return loss, grads.
        raise NotImplementedError("TwoLayerNet.loss is not implemented yet (course_lib/fc_net.py, TODO TwoLayerNet.loss)")


class FullyConnectedNet(_Checkpointable):
    """Fully-connected network with any number of hidden layers, optional normalization and dropout.

    Architecture, for L = len(hidden_dims) + 1 layers::

        {Linear - [BatchNorm | LayerNorm] - ReLU - [Dropout]} x (L - 1) - Linear - softmax

    A Dropout layer follows every ReLU when ``use_dropout`` (never after the last Linear). With
    ``normalization`` ('batchnorm' or 'layernorm') every hidden layer is a ``Linear_Norm_ReLU``
    (the normalization sits between the Linear and the ReLU; the output layer is never normalised).
    Parameters: ``W1 .. WL`` and ``b1 .. bL``; with dims = [input_dim, *hidden_dims, num_classes],
    ``Wi`` is (dims[i-1], dims[i]) and ``bi`` is (dims[i],). With normalization also
    ``gamma1 .. gamma(L-1)`` (ones) and ``beta1 .. beta(L-1)`` (zeros), each (dims[i],); they are
    not regularised (the L2 term covers the weights ``Wi`` only).

    ``self.norm_params`` is a list of L - 1 dicts (one per hidden layer; empty without
    normalization), each passed to that layer's normalization (batchnorm keeps its running
    statistics in it); ``loss`` sets their ``'mode'`` like the dropout mode.

    ``self.dropout_param`` is the dict passed to every Dropout layer:
    ``{'mode': 'train' | 'test', 'p': dropout}`` plus ``'seed': seed`` when a seed is given; ``loss``
    sets the mode (``'test'`` when y is None, else ``'train'``). Note that with a seed every dropout
    layer and every call draws the same mask (useful for gradient checks, not for training).
    """

    _HYPERPARAMS = (
        "hidden_dims",
        "input_dim",
        "num_classes",
        "num_layers",
        "use_dropout",
        "dropout_param",
        "normalization",
        "norm_params",
        "reg",
        "weight_scale",
    )
    #: Class-level defaults (no normalization) for models created without ``__init__``, such as
    #: checkpoints saved before the normalization options existed.
    normalization: str | None = None
    norm_params: list[dict[str, Any]] | tuple[()] = ()

    def __init__(
        self,
        hidden_dims: list[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout: float = 0.0,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        seed: int | None = None,
        dtype: torch.dtype = torch.float,
        device: Any = "cpu",
        normalization: str | None = None,
    ):
        """Initialise the network.

        Inputs:
        - hidden_dims: list of the sizes of the hidden layers.
        - input_dim: D, size of a (flattened) input example.
        - num_classes: C, number of classes.
        - dropout: probability p of dropping a unit, 0 <= p < 1; 0 means no dropout layers.
        - reg: L2 regularisation strength.
        - weight_scale: standard deviation of the random weight initialisation.
        - seed: if not None, the weights are drawn from
          ``torch.Generator(device=device).manual_seed(seed)`` (W1, W2, ... in order, so the
          initialisation is reproducible and the global RNG is untouched), and the dropout layers
          use this seed too.
        - dtype, device: of every parameter; the inputs X given to ``loss`` must match.
        - normalization: None, 'batchnorm' or 'layernorm'; adds gamma{i} (ones) and beta{i}
          (zeros) for every hidden layer i = 1 .. L - 1.
        """
        if normalization is not None and normalization not in ("batchnorm", "layernorm"):
            raise ValueError(f"normalization must be None, 'batchnorm' or 'layernorm', got {normalization!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must satisfy 0 <= dropout < 1, got {dropout}")
        self.hidden_dims = list(hidden_dims)
        self.input_dim = input_dim
        self.num_classes = num_classes
        self.num_layers = 1 + len(self.hidden_dims)
        self.use_dropout = dropout > 0
        self.reg = reg
        self.weight_scale = weight_scale
        self.dtype = dtype
        self.device = device
        self.params: dict[str, torch.Tensor] = {}
        self.dropout_param: dict[str, Any] = {"mode": "train", "p": dropout}
        if seed is not None:
            self.dropout_param["seed"] = seed
        self.normalization = normalization
        self.norm_params = []
        if normalization is not None:
            self.norm_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        # TODO (FullyConnectedNet.__init__): store W1..WL and b1..bL in self.params (see the class
        # docstring for the shapes). Weights ~ N(0, weight_scale ** 2), biases zero, with dtype and
        # device. When seed is not None draw the weights from a torch.Generator seeded with seed.
        # With normalization also gamma1..gamma(L-1) (ones) and beta1..beta(L-1) (zeros).
        raise NotImplementedError("FullyConnectedNet.__init__ is not implemented yet (course_lib/fc_net.py, TODO FullyConnectedNet.__init__)")

    def loss(self, X: torch.Tensor, y: torch.Tensor | None = None):
        """Compute the scores, or the loss and the gradients, for a minibatch.

        Inputs:
        - X: (N, d1, ..., dk) inputs with d1 * ... * dk = input_dim.
        - y: (N,) int64 labels, or None.

        Returns:
        - if y is None (test mode: dropout is the identity, batchnorm uses its running
          statistics): scores, (N, C) tensor;
        - otherwise (train mode) a tuple (loss, grads): loss is a 0-dim tensor (softmax loss +
          L2 term) and grads maps each key of self.params to the gradient of the loss.
        """
        self.dropout_param["mode"] = "test" if y is None else "train"
        for norm_param in self.norm_params:
            norm_param["mode"] = self.dropout_param["mode"]
        # TODO (FullyConnectedNet.loss): forward pass through the L - 1 hidden layers (Linear_ReLU,
        # or Linear_Norm_ReLU with gamma{i}, beta{i}, self.norm_params[i - 1] and
        # self.normalization when normalising; then Dropout with self.dropout_param when
        # self.use_dropout) and the last Linear, keeping
        # every cache; return the scores when y is None. Otherwise compute the softmax loss plus the
        # L2 term, backpropagate through the layers in reverse order, add reg * W to each weight
        # gradient and return loss, grads.
        raise NotImplementedError("FullyConnectedNet.loss is not implemented yet (course_lib/fc_net.py, TODO FullyConnectedNet.loss)")


def get_three_layer_network_params() -> tuple[float, float]:
    """Return (weight_scale, learning_rate) with which a three-layer net overfits 50 examples.

    Protocol (how the grader checks the values):

    - data: ``sklearn.datasets.load_digits()``; X = data / 16 as float64; keep the FIRST 50 rows
      (and their targets as int64 labels); subtract the mean of those 50 rows (per feature);
    - model: ``FullyConnectedNet([100, 100], input_dim=64, num_classes=10, weight_scale=ws,
      dtype=torch.float64, seed=s)``;
    - training: the given Solver with update_rule='sgd', optim_config={'learning_rate': lr},
      batch_size=25, num_epochs=20 (2 iterations per epoch);
    - target: 100% training accuracy on the 50 examples at the end, for every seed s.

    Good values also overfit the first 50 training examples of ``course_lib.data.load_digits()``.
    Returns plain Python floats.
    """
    # TODO (get_three_layer_network_params): tune weight_scale and learning_rate.
    raise NotImplementedError("get_three_layer_network_params is not implemented yet (course_lib/fc_net.py, TODO get_three_layer_network_params)")


def get_five_layer_network_params() -> tuple[float, float]:
    """Return (weight_scale, learning_rate) with which a five-layer net overfits 50 examples.

    Same protocol as ``get_three_layer_network_params`` with
    ``FullyConnectedNet([100, 100, 100, 100], ...)``: data = first 50 rows of load_digits / 16,
    mean-centred with their own mean, float64; Solver with update_rule='sgd',
    optim_config={'learning_rate': lr}, batch_size=25, num_epochs=20; target 100% training
    accuracy at the end, for every seed s.

    Returns plain Python floats.
    """
    # TODO (get_five_layer_network_params): tune weight_scale and learning_rate.
    raise NotImplementedError("get_five_layer_network_params is not implemented yet (course_lib/fc_net.py, TODO get_five_layer_network_params)")


def create_solver_instance(
    data_dict: dict[str, torch.Tensor], dtype: torch.dtype = torch.float32, device: Any = "cpu"
) -> Solver:
    """Build a TwoLayerNet and a Solver that trains it well on ``data_dict``.

    Inputs:
    - data_dict: dict with 'X_train', 'y_train', 'X_val', 'y_val' (as from the course data
      loader); the model's input_dim is the product of X_train.shape[1:], with 10 classes.
    - dtype, device: of the model.

    The Solver must use a STRING update_rule ('sgd': the other rules are written in a2) and an
    optim_config of plain numbers. Target: validation accuracy >= 0.90 on the default digits data within at most 50
    epochs (the notebook states the CIFAR-10 target).

    Returns the (untrained) Solver; the caller runs ``solver.train()``.
    """
    # TODO (create_solver_instance): create the model and the Solver and return the solver.
    raise NotImplementedError("create_solver_instance is not implemented yet (course_lib/fc_net.py, TODO create_solver_instance)")


def get_capstone_config() -> dict[str, Any]:
    """Return the configuration of the best fully-connected network you can train (assignment 4).

    The grader trains it itself, with the REFERENCE implementation of every layer, optimizer and
    the given Solver, so only the configuration counts, not your code. Keys (plain Python values):

    - 'hidden_dims': list of 1 to 4 ints, each 1..1024;
    - 'normalization': None, 'batchnorm' or 'layernorm' (optional, default None);
    - 'dropout': float in [0, 0.9] (optional, default 0.0);
    - 'reg': float in [0, 1] (optional, default 0.0);
    - 'weight_scale': float in (0, 10];
    - 'update_rule': 'sgd', 'sgd_momentum', 'nesterov_momentum', 'adagrad', 'rmsprop', 'adam' or 'adamw';
    - 'learning_rate': float in (0, 10];
    - 'lr_decay': float in (0, 1] (optional, default 1.0);
    - 'batch_size': int in 32..512;
    - 'num_epochs': int in 1..20.

    Budget: at most 100,000 parameters (weights, biases, gamma and beta). Any other key, a missing
    required key, a value of the wrong type or out of range, or a network over budget earns no
    points (the message says why).

    Protocol: ``load_digits(num_training=1280)`` (its default seed, split and float32);
    for seed s in 0, 1, 2: ``torch.manual_seed(s)``, ``FullyConnectedNet(hidden_dims, input_dim=64,
    num_classes=10, ...)`` and ``Solver(model, data, update_rule=..., optim_config={'learning_rate':
    ...}, lr_decay=..., batch_size=..., num_epochs=..., seed=s)``; ``solver.train()`` keeps the
    parameters of the best validation epoch; the score is the mean accuracy over the three seeds on the
    300 TEST images, which the grader alone uses. Points: mean test accuracy >= 0.90, >= 0.95 and
    >= 0.965, one point each.
    """
    # TODO (get_capstone_config): choose the architecture and the training settings.
    raise NotImplementedError("get_capstone_config is not implemented yet (course_lib/fc_net.py, TODO get_capstone_config)")
