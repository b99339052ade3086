"""TME3: an autoencoder on MNIST whose decoder reuses the transpose of the encoder's weights."""

import functools
from collections.abc import Callable, Iterator
from typing import Any, Literal, Optional, Union

import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F

from amal_lightning.base_module import BatchMean
from amal_lightning.batches import Batch, known_targets
from amal_lightning.checks import check_model_size, check_optimizer
from amal_lightning.data.digits import MNISTDigits
from amal_lightning.data.mnist import NUM_PIXELS
from amal_lightning.data.references import CHUNK, pca_references
from amal_lightning.errors import AmalError
from amal_lightning.tme3.compiling import TORCH_COMPILE_MODES, CompilableModule, CompileOption


def layer_name(name: str, layer: int) -> str:
    """``name`` for the first layer (a one-layer model keeps the names of older checkpoints), ``name_k`` for layer k."""
    return name if layer == 0 else f"{name}_{layer + 1}"


def mean_image_references(datamodule: Any) -> dict[str, float]:
    """``mean_image/{val,test}/mse`` and ``/bce``: the MSE and the binary cross-entropy per pixel of
    answering every digit with the mean training image, what a model that ignores its input scores (the
    BCE with each pixel's mean as its probability, logs clamped as torch's BCE clamps them). Its MSE is
    PCA with no component, computed without PCA's Gram matrix (a fraction of a second on the full
    MNIST, not seconds). Empty for other data."""
    splits = {name: getattr(datamodule, f"{name}_set", None) for name in ("train", "val", "test")}
    if not all(isinstance(split, MNISTDigits) for split in splits.values()) or len(splits["train"]) == 0:
        return {}

    def chunks(images: torch.Tensor) -> Iterator[torch.Tensor]:  # pixels in [0, 1], float64, on the CPU
        for chunk in images.split(CHUNK):
            chunk = chunk.cpu().flatten(1).double()
            yield chunk / 255 if images.dtype == torch.uint8 else chunk

    mean = sum(chunk.sum(0) for chunk in chunks(splits["train"].images)) / len(splits["train"])
    values = {}
    for name in ("val", "test"):
        images = splits[name].images
        if len(images) > 0:
            squares = crossed = 0.0
            for chunk in chunks(images):  # one pass over the digits for both
                squares += (chunk - mean).pow(2).sum().item()
                crossed += F.binary_cross_entropy(mean.expand_as(chunk), chunk, reduction="sum").item()
            pixels = images.flatten(1).shape[1] * len(images)
            values[f"mean_image/{name}/mse"] = squares / pixels
            values[f"mean_image/{name}/bce"] = crossed / pixels
    return values


def _reconstruction_logits(model: "Autoencoder", x: torch.Tensor) -> torch.Tensor:
    return model.decode_logits(model.encode(x))


@functools.cache
def _compiled_reconstruction_logits(mode: str) -> Callable[["Autoencoder", torch.Tensor], torch.Tensor]:
    """The pass compiled in ``mode``, made on first use: ``torch.compile`` imports the compiler, about
    a second that every ``amal`` command importing the models would pay. Module-level functions, not
    attributes of the model, so that a copy or a pickle of the model carries no function bound to it."""
    return torch.compile(_reconstruction_logits, mode=mode)


class Autoencoder(CompilableModule):
    """``x → relu(W x + b) = z → sigmoid(Wᵀ z + c)``, or a stack of such layers.

    With ``tied`` the decoder has no weight of its own: it uses ``Wᵀ``, which halves the
    parameters and acts as a regularizer. ``tied: false`` gives the decoder an independent weight.
    With several layers (``latent_dim: [256, 64]``, the course's experiments with 2 or 3 hidden
    layers) the encoder is ``h₁ = relu(W₁ x + b₁)``, ``z = relu(W₂ h₁ + b₂)`` and the decoder
    mirrors it, ``relu(W₂ᵀ z + c₂)`` then ``sigmoid(W₁ᵀ · + c₁)``: each decoder layer is tied to
    its encoder layer. Layer 1's parameters keep the one-layer names (``encoder``,
    ``decoder_bias``, ``decoder_weight``), so one-layer checkpoints load as before; layer k adds
    ``_k`` (``encoder_2``, ``decoder_bias_2``…). Its pictures in TensorBoard are drawn by
    :class:`~amal_lightning.tme3.AutoencoderPictures`.

    With ``linear`` there is no nonlinearity at all: ``z = W x + b``, ``x̂ = Wᵀ z + c``. Trained on
    the pixel MSE, such an autoencoder's optimum spans the subspace of PCA with as many components
    as the code (Baldi and Hornik, 1989), so its test MSE must come down to PCA's: a check, built
    into every run's ``reference/test/mse``, that training and the tied weights work.

    Args:
        input_dim: pixels per image.
        latent_dim: size of the code z, or the sizes of the layers from the pixels inwards, the
            last one being the code's.
        tied: share each encoder layer's weight with its decoder layer.
        linear: no ReLU and no sigmoid: the reconstruction is an affine map of the image, and it
            needs ``loss: mse`` (binary cross-entropy wants probabilities).
        loss: ``bce`` (pixels as probabilities) or ``mse``; ``val/mse`` and ``test/mse`` are
            logged either way so runs with either loss can be compared.
        optimizer: the optimizer and its settings.
        compile: ``false``, ``default`` or ``reduce-overhead`` (the encoder–decoder pass compiled by
            ``torch.compile``, its first steps then slow; ``true`` is ``default``) or ``cuda_graphs``
            (the whole training step replayed as a CUDA graph); docs/PERFORMANCE.md says where each pays.
    """

    def __init__(
        self,
        input_dim: PositiveInt = NUM_PIXELS,
        latent_dim: Union[PositiveInt, list[PositiveInt]] = 500,
        tied: bool = True,
        linear: bool = False,
        loss: Literal["bce", "mse"] = "bce",
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: CompileOption = False,
    ) -> None:
        super().__init__(compile)
        # `compile` is how this process runs, not what the model is: a checkpoint loads without it.
        self.save_hyperparameters(ignore=["compile"])
        self.optimizer = optimizer
        sizes = [input_dim, *(latent_dim if isinstance(latent_dim, list) else [latent_dim])]
        if len(sizes) < 2:
            raise AmalError("model.latent_dim: give the size of the code, or of each layer ([256, 64])")
        if linear and loss == "bce":
            raise AmalError("model.linear: a linear autoencoder's output is not a probability: set model.loss: mse")
        # ReLU between layers, sigmoid on the pixels' logits; both the identity when linear
        self.activation = nn.Identity() if linear else nn.ReLU()
        self.output = nn.Identity() if linear else nn.Sigmoid()
        self.num_layers = len(sizes) - 1
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        # per layer: the encoder's weight and bias, the decoder's bias and, untied, its own weight
        check_model_size(self, sum(outer * inner * (1 if tied else 2) + inner + outer for outer, inner in pairs))
        for layer, (outer, inner) in enumerate(pairs):
            self.add_module(layer_name("encoder", layer), nn.Linear(outer, inner))
            # None when tied: the decoder then uses the encoder's weight, transposed
            weight = None if tied else nn.Parameter(nn.Linear(inner, outer).weight.detach().clone())
            self.register_parameter(layer_name("decoder_weight", layer), weight)
            self.register_parameter(layer_name("decoder_bias", layer), nn.Parameter(torch.zeros(outer)))
        # Epoch means logged once per epoch: why in amal_lightning/metrics.py.
        self.val_mse, self.test_mse = BatchMean(), BatchMean()
        check_optimizer(optimizer, self)

    def reference_values(self, datamodule: Any) -> dict[str, float]:
        """PCA's reconstruction MSE per pixel with as many components as the code (``{split}/mse``), the
        best a linear code does, and the mean training image's MSE and BCE (``mean_image/{split}/mse``,
        PCA with no component, and ``/bce``), what a model that ignores its input scores."""
        latent = self.hparams.latent_dim
        code_size = latent[-1] if isinstance(latent, list) else latent
        return {**pca_references(datamodule, code_size), **mean_image_references(datamodule)}

    def layers(self) -> list[tuple[nn.Linear, torch.Tensor, torch.Tensor]]:
        """Per layer, from the pixels inwards: its encoder, its decoder's weight (the encoder's,
        transposed, when tied) and its decoder's bias."""
        layers = []
        for layer in range(self.num_layers):
            encoder: nn.Linear = getattr(self, layer_name("encoder", layer))
            weight: Optional[nn.Parameter] = getattr(self, layer_name("decoder_weight", layer))
            bias = getattr(self, layer_name("decoder_bias", layer))
            layers.append((encoder, encoder.weight.t() if weight is None else weight, bias))
        return layers

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        for encoder, _, _ in self.layers():
            x = self.activation(encoder(x))
        return x

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        for layer, (_, weight, bias) in reversed(list(enumerate(self.layers()))):
            z = F.linear(z, weight, bias)
            if layer > 0:  # ReLU between layers; the outermost gives the pixels' logits
                z = self.activation(z)
        return z

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.output(self.decode_logits(z))

    def reconstruction_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's logits for ``x``: what the losses are computed from."""
        if self.compile_mode in TORCH_COMPILE_MODES:
            return _compiled_reconstruction_logits(self.compile_mode)(self, x)
        return self.decode_logits(self.encode(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.reconstruction_logits(x))

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict[str, torch.Tensor]:
        """Per image, the label where known and the reconstruction's pixel MSE (``amal predict``'s columns).

        The images and their reconstructions come too: the prediction writer draws the worst and
        the best of them.
        """
        x = batch[0]
        reconstruction = self(x)
        mse = F.mse_loss(reconstruction, x, reduction="none").mean(1)
        return {**known_targets(batch, "label"), "mse": mse, "original": x, "reconstruction": reconstruction}

    def _loss(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.hparams.loss == "bce":
            return F.binary_cross_entropy_with_logits(logits, x)
        return F.mse_loss(self.output(logits), x)

    def training_loss(self, batch: Batch) -> torch.Tensor:
        x = batch[0]
        return self._loss(self.reconstruction_logits(x), x)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, _ = batch
        logits = self.reconstruction_logits(x)
        loss = self._loss(logits, x)
        getattr(self, f"{stage}_loss").update(loss, len(x))
        if stage != "train":  # the pixel MSE is a validation metric: training does not pay for it
            with torch.no_grad():
                getattr(self, f"{stage}_mse").update(F.mse_loss(self.output(logits), x), len(x))
        return loss

    def _log_epoch(self, stage: str) -> None:
        super()._log_epoch(stage)
        if stage != "train":
            self.log(f"{stage}/mse", getattr(self, f"{stage}_mse"))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())
