"""MNIST's IDX files: where torchvision keeps them, downloaded, read and checked for the datamodule,
written for tests, benchmarks and users' own digits.

Reading is torchvision's (``read_image_file``, ``read_label_file``), with a damaged file reported
by name as an AmalError; ``write_idx`` is its inverse.
"""

import gzip
import socket
import zlib
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np
import torch
import torchvision
from torchvision.datasets.mnist import read_image_file, read_label_file

from amal_lightning.errors import AmalError, first_line

IMAGE_SIZE = 28
NUM_CLASSES = 10  # the labels are digits: read_digits checks it
DOWNLOAD_TIMEOUT_S = 30
SPLIT_FILES = {"train": "train", "test": "t10k"}
READERS = {"images": (read_image_file, "uint8 images"), "labels": (read_label_file, "uint8 labels")}
# The first four bytes of each kind of file: two zeros, the type (8: uint8), the number of dimensions.
IDX_MAGIC = {"images-idx3": bytes([0, 0, 8, 3]), "labels-idx1": bytes([0, 0, 8, 1])}


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


def check_archives(data_dir: Union[str, Path]) -> None:
    """Fails with one line naming the file if a ``.gz`` archive that would be unpacked is damaged.

    torchvision takes an archive whose checksum is not MNIST's for one to download again: offline,
    ``source: auto`` then fell back to the bundled sample as if the files were missing, and the
    damaged file went unnoticed. Each archive whose IDX file is missing is read to its end (where
    gzip keeps its checksum) and must hold an IDX file of its kind.
    """
    folder = raw_folder(data_dir)
    for prefix in SPLIT_FILES.values():
        for kind, magic in IDX_MAGIC.items():
            archive = folder / f"{prefix}-{kind}-ubyte.gz"
            if archive.with_suffix("").is_file() or not archive.is_file():
                continue
            try:
                with gzip.open(archive, "rb") as file:
                    header = file.read(len(magic))
                    while file.read(1 << 20):
                        pass
            except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
                raise AmalError(
                    f"{archive}: a damaged gzip archive ({first_line(error)}); delete or replace it"
                ) from None
            if header != magic:
                raise AmalError(f"{archive}: does not hold an MNIST IDX file of {kind[:-5]}; delete or replace it")


def read_idx(path: Path, kind: Literal["images", "labels"]) -> torch.Tensor:
    """Reads an IDX file of images (N×H×W uint8) or labels (N,); a damaged file is an AmalError naming it."""
    reader, expected = READERS[kind]
    try:
        return reader(str(path))
    except Exception as error:  # torchvision asserts, or fails on a reshape, for a damaged file
        raise AmalError(
            f"{path}: not a valid MNIST IDX file of {expected} ({first_line(error)}); delete or replace it"
        ) from None


def read_mnist_split(data_dir: Union[str, Path], split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Reads one split's images (N×28×28 uint8) and labels (N,) with torchvision's IDX reader."""
    folder = raw_folder(data_dir)
    prefix = SPLIT_FILES[split]
    images_path, labels_path = folder / f"{prefix}-images-idx3-ubyte", folder / f"{prefix}-labels-idx1-ubyte"
    return read_digits(images_path, labels_path)


def read_digits(images_path: Path, labels_path: Optional[Path]) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Reads an IDX file of 28×28 images and, unless ``labels_path`` is None, its labels; checks they agree."""
    images = read_idx(images_path, "images")
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise AmalError(f"{images_path}: images are {tuple(images.shape[1:])}, expected 28×28")
    if labels_path is None:
        return images, None
    labels = read_idx(labels_path, "labels")
    if len(images) != len(labels):
        raise AmalError(f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise AmalError(f"{labels_path}: labels must be digits 0 to 9")
    return images, labels


def write_idx(path: Path, array: np.ndarray) -> None:
    """Writes a uint8 array in the IDX format that MNIST's files use (big-endian header)."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    Path(path).write_bytes(header + array.astype(np.uint8).tobytes())
