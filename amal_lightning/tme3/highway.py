"""TME3: a Highway network on MNIST (Srivastava, Greff, Schmidhuber, "Highway Networks", 2015).

Plain networks stop training as they get deeper: in the paper's Figure 1, plain networks of 50
or 71 units per layer stop optimizing beyond 20 to 30 layers, while highway networks of 100
layers still train. Each highway layer learns, per unit, how much to transform its input and how
much to carry it through unchanged, so a deep stack starts close to the identity and gradients
reach the first layers.

Two of the paper's probes of a trained network are here as functions: :func:`per_example_gates`, each
digit's transform-gate output per block and unit (its Figure 2's gate maps), and
:func:`lesion_accuracy_drops`, the accuracy lost when each block in turn is disabled, its transform
gate forced to 0 so that it carries its input unchanged (the paper's lesioning).
"""

from typing import Optional

import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F

from amal_lightning.base_module import BatchMean
from amal_lightning.checks import check_model_size, check_optimizer, linear_parameters
from amal_lightning.data.mnist import NUM_PIXELS
from amal_lightning.tme3.classifier_base import InitOption, MNISTClassifier, initialize
from amal_lightning.tme3.compiling import CompileOption


class HighwayLayer(nn.Module):
    """``y = H(x)·T(x) + x·(1 − T(x))`` with ``H = relu(W_H x + b_H)``, ``T = sigmoid(W_T x + b_T)``.

    The transform gate's bias ``b_T`` starts at ``gate_bias``: the paper advises a negative value
    (−1 to −3) so that T starts small and the layer first carries its input through.
    """

    def __init__(self, width: int, gate_bias: float = -2.0) -> None:
        super().__init__()
        self.transform = nn.Linear(width, width)
        self.gate = nn.Linear(width, width)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward_with_gate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's output and its transform gate T(x)."""
        h = F.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return h * t + x * (1 - t), t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_gate(x)[0]


class LayerMeans(BatchMean):
    """:class:`BatchMean` of one value per layer: its running total is a vector, not a scalar."""

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.add_state("total", torch.zeros(num_layers), dist_reduce_fx="sum")  # replaces the scalar total


class HighwayClassifier(MNISTClassifier):
    """``Linear(784, h) → ReLU → HighwayLayer(h) × L → Linear(h, 10)`` on flat images.

    The first layer changes the width, as in the paper; the highway layers all keep it. Besides the
    classifier's metrics, each validation epoch logs ``val/gate/layer_01`` … ``val/gate/layer_L``:
    the mean of T over the validation images and the units of that layer, i.e. how much the
    layer transforms rather than carries (the paper's Figure 2 shows these per layer).

    Args:
        input_dim: pixels per image.
        hidden_dim: width h of every highway layer.
        num_layers: L, the number of highway layers.
        gate_bias: the transform gates' initial bias b_T (negative: start by carrying).
        num_classes: number of digits.
        init: how the weights of every linear layer start, as :class:`~amal_lightning.tme3.Classifier`'s
            (``default``, ``kaiming``, ``xavier``); the gates' bias b_T starts at ``gate_bias`` whatever it is.
        optimizer: the optimizer and its settings.
        compile: as :class:`~amal_lightning.tme3.Classifier`'s; not saved with the model.
    """

    def __init__(
        self,
        input_dim: PositiveInt = NUM_PIXELS,
        hidden_dim: PositiveInt = 50,
        num_layers: PositiveInt = 10,
        gate_bias: float = -2.0,
        num_classes: PositiveInt = 10,
        init: InitOption = "default",
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: CompileOption = False,
    ) -> None:
        super().__init__(num_classes, optimizer, compile)
        self.save_hyperparameters(ignore=["compile"])
        # the first layer and the last, then a transform and a gate per highway layer
        ends = linear_parameters([input_dim, hidden_dim]) + linear_parameters([hidden_dim, num_classes])
        check_model_size(self, ends + num_layers * 2 * linear_parameters([hidden_dim, hidden_dim]))
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim),
            nn.ReLU(),
            *(HighwayLayer(hidden_dim, gate_bias) for _ in range(num_layers)),
            nn.Linear(hidden_dim, num_classes),
        )
        initialize(self.net, init)
        for layer in self.net:
            if isinstance(layer, HighwayLayer):  # b_T stays negative: each layer starts by carrying
                nn.init.constant_(layer.gate.bias, gate_bias)
        self.compile_module(self.net)
        # accumulated on the device at each validation step, read once per epoch
        self.val_gates = LayerMeans(num_layers)
        self._gate_names = [f"val/gate/layer_{i:0{max(2, len(str(num_layers)))}d}" for i in range(1, num_layers + 1)]
        check_optimizer(optimizer, self)

    def logits_and_gates(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and, for each highway layer, the mean of T over the batch and the units."""
        gates = []
        for module in self.net:
            if isinstance(module, HighwayLayer):
                x, t = module.forward_with_gate(x)
                gates.append(t.mean())
            else:
                x = module(x)
        return x, torch.stack(gates)

    def _logits(self, x: torch.Tensor, stage: str) -> torch.Tensor:
        if stage != "val":
            return self(x)  # training pays nothing for the gate statistics
        logits, gates = self.logits_and_gates(x)
        self.val_gates.update(gates, len(x))
        return logits

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        means = self.val_gates.compute().reshape(-1)  # torchmetrics squeezes one layer's mean to a scalar
        self.val_gates.reset()
        self.log_dict(dict(zip(self._gate_names, means, strict=True)))


def highway_blocks(model: HighwayClassifier) -> list[HighwayLayer]:
    """The highway blocks of ``model``, from the input onwards."""
    return [module for module in model.net if isinstance(module, HighwayLayer)]


@torch.no_grad()
def lesioned_logits(model: HighwayClassifier, x: torch.Tensor, lesioned: Optional[int] = None) -> torch.Tensor:
    """The logits with block ``lesioned`` (0 = nearest the input; None: none) carrying its input: T = 0."""
    block = 0
    for module in model.net:
        if isinstance(module, HighwayLayer):
            x = x if block == lesioned else module(x)  # T = 0: y = H·0 + x·(1 − 0) = x
            block += 1
        else:
            x = module(x)
    return x


@torch.no_grad()
def lesion_accuracy_drops(model: HighwayClassifier, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per block, the accuracy on ``images`` of the whole network minus that with the block disabled:
    positive where the block matters, about 0 where it is carried through anyway."""

    def accuracy(lesioned: Optional[int]) -> float:
        return (lesioned_logits(model, images, lesioned).argmax(1) == labels).float().mean().item()

    whole = accuracy(None)
    return torch.tensor([whole - accuracy(block) for block in range(len(highway_blocks(model)))])


@torch.no_grad()
def per_example_gates(model: HighwayClassifier, images: torch.Tensor) -> torch.Tensor:
    """The transform gates T(x) of each image: a tensor of (images, blocks, units), 0 carry, 1 transform."""
    gates = []
    x = images
    for module in model.net:
        if isinstance(module, HighwayLayer):
            x, t = module.forward_with_gate(x)
            gates.append(t)
        else:
            x = module(x)
    return torch.stack(gates, dim=1)
