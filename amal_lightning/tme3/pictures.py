"""TME3: the autoencoder's pictures in TensorBoard, drawn by a callback.

The pictures are how a run is looked at, not what the model is: kept out of the model, their
settings are not saved in its checkpoints, a model can be trained without them, and they can be
changed or turned off in the config (``trainer.callbacks``) without touching the model.
"""

from typing import Any, Optional

import lightning as L
import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.loggers import TensorBoardLogger
from torchvision.utils import make_grid

from amal_lightning.batches import Batch, keep_first
from amal_lightning.callbacks.tensorboard import find_tensorboard
from amal_lightning.data.mnist import IMAGE_SIZE
from amal_lightning.tme3.autoencoder import Autoencoder


def as_images(flat: torch.Tensor) -> torch.Tensor:
    """Flat pixel vectors as one-channel square images, the layout TensorBoard draws."""
    return flat.reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)


class AutoencoderPictures(L.Callback):
    """Shows in TensorBoard what an :class:`~amal_lightning.tme3.Autoencoder` has learned.

    - ``val/reconstructions``, each validation epoch: the first digits of the first validation
      batch above their reconstructions, to watch them sharpen epoch after epoch;
    - ``test/interpolation``, at test: the decoding of ``λ z1 + (1 − λ) z2`` for λ from 0 to 1,
      between the codes of two test digits of different classes (the lab's question: is the
      code space continuous between classes?);
    - ``test/latent``, at test: the codes of the first test digits in TensorBoard's projector,
      labelled with their digit and picture.

    It draws with the model's ``encode``, ``decode`` and ``forward`` on the batches the loops
    hand to the batch hooks, so it adds no pass over the data. It draws nothing without a
    TensorBoard logger, during the sanity check (an untrained model) or on other processes than
    the first of a multi-device run.

    Args:
        num_images: digits in the reconstruction grid.
        interpolation_steps: values of λ in the interpolation strip.
        num_embedded: test codes sent to the projector; bounded because the projector loads
            them all, with their pictures, into the browser.
    """

    def __init__(
        self, num_images: PositiveInt = 8, interpolation_steps: PositiveInt = 10, num_embedded: PositiveInt = 500
    ) -> None:
        super().__init__()
        self.num_images = num_images
        self.interpolation_steps = interpolation_steps
        self.num_embedded = num_embedded
        self.shown: Optional[torch.Tensor] = None
        self.test_batches: list[Batch] = []

    def tensorboard(self, trainer: L.Trainer) -> Optional[TensorBoardLogger]:
        """Where to draw, or None where nothing is to be drawn."""
        if trainer.sanity_checking or not trainer.is_global_zero:
            return None
        return find_tensorboard(trainer)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.shown = None

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Batch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx == 0 and dataloader_idx == 0 and self.tensorboard(trainer) is not None:
            self.shown = batch[0][: self.num_images].clone()  # not a view that keeps the whole batch

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: Autoencoder) -> None:
        tensorboard = self.tensorboard(trainer)
        if tensorboard is None or self.shown is None:
            return
        originals, self.shown = self.shown, None
        with torch.no_grad():
            reconstructions = pl_module(originals)
        grid = make_grid(as_images(torch.cat([originals, reconstructions])), nrow=len(originals), pad_value=1)
        tensorboard.experiment.add_image("val/reconstructions", grid, trainer.global_step)

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.test_batches = []

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Batch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.tensorboard(trainer) is not None:
            keep_first(self.test_batches, batch, self.num_embedded)

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: Autoencoder) -> None:
        tensorboard = self.tensorboard(trainer)
        batches, self.test_batches = self.test_batches, []
        if tensorboard is None or not batches:
            return
        images = torch.cat([x for x, _ in batches])
        labels = torch.cat([y for _, y in batches])
        with torch.no_grad():
            codes = pl_module.encode(images)
            other_class = (labels != labels[0]).nonzero()
            if len(other_class):  # a test set of one class has nothing to interpolate between
                first, second = codes[0], codes[other_class[0, 0]]
                weights = torch.linspace(0, 1, self.interpolation_steps, device=codes.device).unsqueeze(1)
                strip = pl_module.decode(weights * first + (1 - weights) * second)
                grid = make_grid(as_images(strip), nrow=len(strip), pad_value=1)
                tensorboard.experiment.add_image("test/interpolation", grid, trainer.global_step)

        tensorboard.experiment.add_embedding(
            codes.cpu(),
            metadata=labels.tolist(),
            label_img=as_images(images).cpu(),
            global_step=trainer.global_step,
            tag="test/latent",
        )
