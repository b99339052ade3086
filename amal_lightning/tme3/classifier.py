"""TME3: an MLP classifier on MNIST, linear–ReLU layers then a linear layer, with cross-entropy."""

import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from amal_lightning.checks import check_model_size, check_optimizer, linear_parameters
from amal_lightning.data.mnist import NUM_PIXELS
from amal_lightning.tme3.classifier_base import InitOption, MNISTClassifier, initialize
from amal_lightning.tme3.compiling import CompileOption


class Classifier(MNISTClassifier):
    """``Linear(784, h) → ReLU → (Linear(h, h) → ReLU) × (k − 1) → Linear(h, 10)`` on flat images.

    The default k = 2 is the report's linear–ReLU–linear–ReLU network; the course asks for
    experiments with 2 or 3 hidden layers, and a deep one (k ≈ 30) is the plain network that the
    Highway paper (Srivastava, Greff, Schmidhuber, 2015) shows failing to train.

    Args:
        input_dim: pixels per image.
        hidden_dim: width h of every hidden layer.
        num_hidden_layers: k, the number of linear–ReLU layers. With 2 the parameter names
            (``net.0``, ``net.2``, ``net.4``) are those of checkpoints saved before this option.
        num_classes: number of digits.
        init: how the weights start: ``default`` (PyTorch's), ``kaiming`` (He, for ReLU: the fair
            control of a deep plain network) or ``xavier`` (Glorot); biases start at zero with the
            last two (:func:`~amal_lightning.tme3.classifier_base.initialize`).
        optimizer: the optimizer and its settings.
        compile: ``false``, ``default`` or ``reduce-overhead`` (the network compiled by
            ``torch.compile``, its first steps then slow; ``true`` is ``default``) or ``cuda_graphs``
            (the whole training step replayed as a CUDA graph); docs/PERFORMANCE.md says where each pays.
    """

    def __init__(
        self,
        input_dim: PositiveInt = NUM_PIXELS,
        hidden_dim: PositiveInt = 256,
        num_hidden_layers: PositiveInt = 2,
        num_classes: PositiveInt = 10,
        init: InitOption = "default",
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: CompileOption = False,
    ) -> None:
        super().__init__(num_classes, optimizer, compile)
        # `compile` is how this process runs, not what the model is: a checkpoint loads without it.
        self.save_hyperparameters(ignore=["compile"])
        hidden = (num_hidden_layers - 1) * linear_parameters([hidden_dim, hidden_dim])  # not a list of k sizes
        check_model_size(self, linear_parameters([input_dim, hidden_dim, num_classes]) + hidden)
        layers: list[nn.Module] = [nn.Linear(input_dim, hidden_dim), nn.ReLU()]
        for _ in range(num_hidden_layers - 1):
            layers += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden_dim, num_classes))
        initialize(self.net, init)
        check_optimizer(optimizer, self)
        self.compile_module(self.net)
