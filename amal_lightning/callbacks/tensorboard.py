"""The run's TensorBoard logger among a Trainer's loggers: images, PR curves, embeddings and reference
values are TensorBoard's alone, so the callbacks that draw them ask for it by name."""

from typing import Optional

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger


def find_tensorboard(trainer: L.Trainer) -> Optional[TensorBoardLogger]:
    """The run's TensorBoard logger, or None."""
    return next((logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)), None)
