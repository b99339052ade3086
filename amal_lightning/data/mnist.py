"""MNIST for TME3: the real 60k/10k set read through torchvision, or a bundled 5,000-digit sample."""

import os
import socket
from importlib import resources
from pathlib import Path
from typing import Literal, Optional, Union

import lightning as L
import numpy as np
import torch
import torchvision
from jsonargparse.typing import NonNegativeInt, PositiveInt
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets.mnist import read_image_file, read_label_file

from amal_lightning.data.batching import batch_loader
from amal_lightning.errors import AmalError, first_line

IMAGE_SIZE = 28
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
SPLIT_FILES = {"train": "train", "test": "t10k"}
DOWNLOAD_TIMEOUT_S = 30
SAMPLE_TEST_SIZE = 1000


class MNISTDigits(Dataset):
    """Digits kept as one uint8 tensor, served as flat float32 vectors in [0, 1] with their labels.

    ``dataset[indices]`` with a tensor of indices returns a whole batch in one indexing
    operation; the conversion to float happens per batch, so memory stays at one byte a pixel.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images.reshape(len(images), NUM_PIXELS)
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: Union[int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index].float().div_(255), self.labels[index]

    def to(self, device: torch.device) -> "MNISTDigits":
        """Moves the images and labels, once, to ``device``; batches are then taken there."""
        self.images, self.labels = self.images.to(device), self.labels.to(device)
        return self


def raw_folder(data_dir: Union[str, Path]) -> Path:
    """Where torchvision keeps the IDX files: ``<data_dir>/MNIST/raw``."""
    return Path(data_dir) / "MNIST" / "raw"


def idx_files_present(data_dir: Union[str, Path], suffix: str = "") -> bool:
    """Whether the four IDX files (or, with ``suffix=".gz"``, their archives) are in the raw folder."""
    folder = raw_folder(data_dir)
    return all(
        (folder / f"{prefix}-{kind}-ubyte{suffix}").is_file()
        for prefix in SPLIT_FILES.values()
        for kind in ("images-idx3", "labels-idx1")
    )


def download_mnist(data_dir: Union[str, Path]) -> None:
    """Downloads (or unpacks the .gz files already in the raw folder) through torchvision."""
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torchvision sets none: a silent network would hang
    try:
        for train in (True, False):
            torchvision.datasets.MNIST(str(data_dir), train=train, download=True)
    finally:
        socket.setdefaulttimeout(previous_timeout)


def missing_files_message(data_dir: Union[str, Path], reason: str) -> str:
    return (
        f"MNIST is not in {raw_folder(data_dir)}/ and could not be downloaded ({reason}). "
        "Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte there (or their .gz files), or use --data.source sample"
    )


def _read_idx(path: Path, reader, expected_dims: str) -> torch.Tensor:
    try:
        return reader(str(path))
    except Exception as error:  # torchvision asserts, or fails on a reshape, for a damaged file
        raise AmalError(
            f"{path}: not a valid MNIST IDX file of {expected_dims} ({first_line(error)}); delete or replace it"
        ) from None


def read_mnist_split(data_dir: Union[str, Path], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Reads one split's images (N×28×28 uint8) and labels (N,) with torchvision's IDX reader."""
    folder = raw_folder(data_dir)
    prefix = SPLIT_FILES[split]
    images_path, labels_path = folder / f"{prefix}-images-idx3-ubyte", folder / f"{prefix}-labels-idx1-ubyte"
    images = _read_idx(images_path, read_image_file, "uint8 images")
    labels = _read_idx(labels_path, read_label_file, "uint8 labels")
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise AmalError(f"{images_path}: images are {tuple(images.shape[1:])}, expected 28×28")
    if len(images) != len(labels):
        raise AmalError(f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise AmalError(f"{labels_path}: labels must be digits 0 to 9")
    return images, labels


def bundled_sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 real MNIST digits shipped in the package (500 of each class)."""
    path = resources.files("amal_lightning.data") / "mnist_sample.npz"
    with resources.as_file(path) as file, np.load(file) as arrays:
        return torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"]).long()


class MNISTDataModule(L.LightningDataModule):
    """MNIST as flat 784-float vectors in [0, 1], with a validation split carved from train.

    Args:
        data_dir: folder of torchvision's ``MNIST/raw`` files (downloaded there if missing).
        source: ``full`` for the real 60k/10k set (downloading if needed, an error if that
            fails); ``sample`` for the 5,000 digits bundled with the package (4,000 to
            train and validate on, 1,000 to test on); ``auto`` for ``full`` when the files are
            there or can be downloaded, else ``sample`` with a warning.
        batch_size: examples per training step.
        num_workers: DataLoader worker processes; 0 is fastest here since batches are
            slices of an in-memory tensor.
        val_fraction: share of the training images held out for validation.
        seed: fixes the validation split and the shuffling.
        download: whether missing files may be downloaded; by default yes, except inside a SLURM
            job, whose compute nodes are usually offline (run ``amal prepare-data`` on the login
            node first).
        on_device: keep the images on the trainer's device (a GPU: 47 MB for all of MNIST, moved
            once), so that each batch is cut there by index instead of being copied from the
            host at every step. Turn it off if GPU memory is short.
    """

    def __init__(
        self,
        data_dir: str = "data",
        source: Literal["auto", "full", "sample"] = "auto",
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 0,
        val_fraction: float = 1 / 12,
        seed: int = 0,
        download: Optional[bool] = None,
        on_device: bool = True,
    ) -> None:
        super().__init__()
        if not 0 <= val_fraction < 1:
            raise AmalError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        self.save_hyperparameters()
        # One download for the whole run, by global rank 0: the nodes of a cluster share `data_dir`.
        self.prepare_data_per_node = False
        self.train_set: Optional[MNISTDigits] = None

    def prepare_data(self) -> None:
        """Runs on one process per node: the only place that downloads."""
        source, data_dir = self.hparams.source, self.hparams.data_dir
        if source == "sample" or idx_files_present(data_dir):
            return
        download = self.hparams.download
        offline = download is False or (download is None and "SLURM_JOB_ID" in os.environ)
        if offline and not idx_files_present(data_dir, ".gz"):  # unpacking the archives needs no network
            if source == "full":
                raise AmalError(missing_files_message(data_dir, "downloads are off here: run `amal prepare-data`"))
            return
        try:
            download_mnist(data_dir)
        except Exception as error:  # no network, a proxy, a full disk: all mean "not available"
            if source == "full":
                raise AmalError(missing_files_message(data_dir, first_line(error))) from None

    def setup(self, stage: str) -> None:
        if self.train_set is not None:
            return
        source, data_dir = self.hparams.source, self.hparams.data_dir
        if source == "full" and not idx_files_present(data_dir):
            raise AmalError(missing_files_message(data_dir, "the files are missing"))
        if source == "full" or (source == "auto" and idx_files_present(data_dir)):
            train_images, train_labels = read_mnist_split(data_dir, "train")
            test_images, test_labels = read_mnist_split(data_dir, "test")
        else:
            if source == "auto":
                rank_zero_warn(
                    f"MNIST is not in {raw_folder(data_dir)}/ and could not be downloaded: training on the "
                    "5,000-digit sample bundled with amal_lightning. For the full set, run once with a network "
                    "or put the four IDX files there."
                )
            images, labels = bundled_sample()
            order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.hparams.seed))
            test_rows, train_rows = order[:SAMPLE_TEST_SIZE], order[SAMPLE_TEST_SIZE:]
            train_images, train_labels = images[train_rows], labels[train_rows]
            test_images, test_labels = images[test_rows], labels[test_rows]

        generator = torch.Generator().manual_seed(self.hparams.seed)
        order = torch.randperm(len(train_labels), generator=generator)
        num_val = round(self.hparams.val_fraction * len(order))
        val_rows, train_rows = order[:num_val], order[num_val:]
        if len(train_rows) == 0:
            raise AmalError(f"data.val_fraction {self.hparams.val_fraction} leaves no training images")
        self.train_set = MNISTDigits(train_images[train_rows], train_labels[train_rows])
        self.val_set = MNISTDigits(train_images[val_rows], train_labels[val_rows])
        self.test_set = MNISTDigits(test_images, test_labels)
        if self.hparams.on_device and self.trainer is not None:
            for dataset in (self.train_set, self.val_set, self.test_set):
                dataset.to(self.trainer.strategy.root_device)

    def _loader(self, dataset: MNISTDigits, shuffle: bool) -> Union[DataLoader, list]:
        num_workers = self.hparams.num_workers
        if dataset.images.device.type != "cpu" and num_workers > 0:
            rank_zero_warn("data.num_workers is ignored while data.on_device keeps the images on the GPU")
            num_workers = 0
        return batch_loader(
            dataset,
            self.hparams.batch_size,
            shuffle=shuffle,
            seed=self.hparams.seed,
            num_workers=num_workers,
            trainer=self.trainer,
            device=dataset.images.device,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> Union[DataLoader, list]:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> Union[DataLoader, list]:
        return self._loader(self.test_set, shuffle=False)
