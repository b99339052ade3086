"""AutoencoderPictures draws with a TensorBoard logger only, and draws what the data allow."""

import io
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import DataLoader, TensorDataset

from amal_lightning.tme3 import Autoencoder, AutoencoderPictures


def loader(labels: torch.Tensor) -> DataLoader:
    images = torch.rand(len(labels), 784, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(images, labels), batch_size=16)


def run(logger, pictures: AutoencoderPictures, labels: torch.Tensor, root: Path) -> None:
    trainer = L.Trainer(
        max_epochs=1,
        log_every_n_steps=1,
        logger=logger,
        callbacks=[pictures],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    model = Autoencoder(latent_dim=8)
    trainer.fit(model, loader(labels), loader(labels))
    trainer.test(model, loader(labels))


def test_without_tensorboard_nothing_is_kept_or_drawn(tmp_path):
    pictures = AutoencoderPictures(num_embedded=40)
    run(CSVLogger(tmp_path / "csv"), pictures, torch.arange(40) % 10, tmp_path)
    assert pictures.shown is None and pictures.test_batches == []  # no batch held for nothing
    assert not list(tmp_path.rglob("events.out.tfevents*"))


def test_one_class_gives_codes_but_no_interpolation(tmp_path):
    pictures = AutoencoderPictures(num_images=3, num_embedded=20)
    logger = TensorBoardLogger(tmp_path, name="pictures")
    run(logger, pictures, torch.full((40,), 7), tmp_path)
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert events.Tags()["images"] == ["val/reconstructions"]  # no second class to walk towards
    metadata = next(Path(logger.log_dir).rglob("metadata.tsv")).read_text().split()
    assert metadata == ["7"] * 20  # cut at num_embedded inside the second batch
    assert pictures.test_batches == []  # released once drawn


def test_reconstructions_come_from_the_validation_loader_when_the_test_split_comes_too(tmp_path):
    """With test_each_epoch the validation loop also runs the test split, as its second loader."""
    dark, bright = torch.zeros(32, 784), torch.ones(32, 784)  # the validation and the test digits
    labels = torch.arange(32) % 10

    def images(x: torch.Tensor) -> DataLoader:
        return DataLoader(TensorDataset(x, labels), batch_size=16)

    logger = TensorBoardLogger(tmp_path, name="pictures")
    trainer = L.Trainer(
        max_epochs=2,
        logger=logger,
        callbacks=[AutoencoderPictures(num_images=4)],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Autoencoder(latent_dim=8), images(torch.rand(32, 784)), [images(dark), images(bright)])
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    drawn = events.Images("val/reconstructions")
    assert len(drawn) == 2  # one per epoch, not one per loader
    for event in drawn:
        grid = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("L"))
        assert grid[2:30, 2:30].max() == 0  # the first digit shown is a validation one (black), not a test one
    assert {"val/loss", "test/loss", "test/mse"} <= set(events.Tags()["scalars"])
