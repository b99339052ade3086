"""TME3: an autoencoder on MNIST whose decoder reuses the transpose of the encoder's weight."""

from typing import Literal, Optional

import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F

from amal_lightning.data.mnist import NUM_PIXELS
from amal_lightning.metrics import Batch, BatchMean, EpochMetricsModule


def _reconstruction_logits(model: "Autoencoder", x: torch.Tensor) -> torch.Tensor:
    return model.decode_logits(model.encode(x))


# Compiled on first use. A module-level function, not an attribute of the model, so that a copy
# or a pickle of the model does not carry a function bound to the original.
_compiled_reconstruction_logits = torch.compile(_reconstruction_logits)


class Autoencoder(EpochMetricsModule):
    """``x → relu(W x + b) = z → sigmoid(Wᵀ z + c)``.

    With ``tied`` the decoder has no weight of its own: it uses ``Wᵀ``, which halves the
    parameters and acts as a regularizer. ``tied: false`` gives the decoder an independent weight.
    Its pictures in TensorBoard are drawn by :class:`~amal_lightning.tme3.AutoencoderPictures`.

    Args:
        input_dim: pixels per image.
        latent_dim: size of the code z.
        tied: share the encoder's weight with the decoder.
        loss: ``bce`` (pixels as probabilities) or ``mse``; ``val/mse`` and ``test/mse`` are
            logged either way so runs with either loss can be compared.
        optimizer: the optimizer and its settings.
        compile: compile the encoder–decoder pass with ``torch.compile`` (its first steps are
            then slow); see docs/PERFORMANCE.md for where it pays.
    """

    def __init__(
        self,
        input_dim: PositiveInt = NUM_PIXELS,
        latent_dim: PositiveInt = 500,
        tied: bool = True,
        loss: Literal["bce", "mse"] = "bce",
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: bool = False,
    ) -> None:
        super().__init__()
        # `compile` is how this process runs, not what the model is: a checkpoint loads without it.
        self.save_hyperparameters(ignore=["compile"])
        self.optimizer = optimizer
        self.compiled = compile
        self.encoder = nn.Linear(input_dim, latent_dim)
        self.decoder_weight: Optional[nn.Parameter] = None
        if not tied:
            self.decoder_weight = nn.Parameter(nn.Linear(latent_dim, input_dim).weight.detach().clone())
        self.decoder_bias = nn.Parameter(torch.zeros(input_dim))
        # Epoch means logged once per epoch: why in amal_lightning/metrics.py.
        self.val_mse, self.test_mse = BatchMean(), BatchMean()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.encoder(x))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        weight = self.encoder.weight.t() if self.decoder_weight is None else self.decoder_weight
        return F.linear(z, weight, self.decoder_bias)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))

    def reconstruction_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's logits for ``x``: what the losses are computed from."""
        if self.compiled:
            return _compiled_reconstruction_logits(self, x)
        return self.decode_logits(self.encode(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.reconstruction_logits(x))

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, _ = batch
        logits = self.reconstruction_logits(x)
        if self.hparams.loss == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, x)
        else:
            loss = F.mse_loss(torch.sigmoid(logits), x)
        getattr(self, f"{stage}_loss").update(loss, len(x))
        if stage != "train":  # the pixel MSE is a validation metric: training does not pay for it
            with torch.no_grad():
                getattr(self, f"{stage}_mse").update(F.mse_loss(torch.sigmoid(logits), x), len(x))
        return loss

    def _log_epoch(self, stage: str) -> None:
        super()._log_epoch(stage)
        if stage != "train":
            self.log(f"{stage}/mse", getattr(self, f"{stage}_mse"))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())
