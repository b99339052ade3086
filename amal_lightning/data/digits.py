"""Digits as tensors: the :class:`MNISTDigits` Dataset, and a user's own digits for ``amal predict``.

``--data.predict_path FOLDER`` names the digits to predict instead of MNIST's test split: either a
folder of PNG images (one digit each, 28×28 like MNIST's; their file names go into the predictions
file) or a folder holding one IDX file of images, ``*images-idx3-ubyte``, in MNIST's own format,
with the matching ``*labels-idx1-ubyte`` file if there is one (the predictions file then shows the
true label beside the predicted one).
"""

from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from amal_lightning.data.idx import IMAGE_SIZE, read_digits
from amal_lightning.errors import AmalError

IDX_IMAGES = "images-idx3-ubyte"
IDX_LABELS = "labels-idx1-ubyte"


class MNISTDigits(Dataset):
    """Digits kept as one uint8 tensor, served as flat float32 vectors in [0, 1] with their labels.

    ``dataset[indices]`` with a tensor of indices returns a whole batch in one indexing
    operation; the conversion to float happens per batch, so memory stays at one byte a pixel.
    Digits without labels (a user's own) are served as ``(images,)``, so that nothing downstream
    mistakes a placeholder for a label.
    """

    def __init__(self, images: torch.Tensor, labels: Optional[torch.Tensor]) -> None:
        self.images = images.flatten(1)  # N×28×28 or already N×784
        self.labels = None if labels is None else labels.long()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: Union[int, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        images = self.images[index].float().div_(255)
        return (images,) if self.labels is None else (images, self.labels[index])

    def to(self, device: torch.device) -> "MNISTDigits":
        """Moves the images and labels, once, to ``device``; batches are then taken there."""
        self.images = self.images.to(device)
        self.labels = None if self.labels is None else self.labels.to(device)
        return self


def read_png_digit(path: Path) -> torch.Tensor:
    """One 28×28 digit as uint8, white on black like MNIST's.

    Read with Pillow, which torchvision already uses to write pictures (its own decoders are
    deprecated since 0.29). Colour is turned to grey. A digit drawn dark on a light background,
    as drawing programs make them, is inverted: MNIST's models have only seen light strokes on
    black, and a light border (mean above mid-grey) is what tells the two apart.
    """
    try:
        with Image.open(path) as picture:
            image = torch.from_numpy(np.array(picture.convert("L")))
    except OSError:  # Pillow's UnidentifiedImageError included
        raise AmalError(f"{path}: not a readable PNG image") from None
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise AmalError(f"{path}: {image.shape[1]}×{image.shape[0]} pixels, expected 28×28 (MNIST's size)")
    border = torch.cat([image[0], image[-1], image[:, 0], image[:, -1]])
    return 255 - image if border.float().mean() > 127.5 else image


def read_digit_folder(folder: Union[str, Path]) -> tuple[MNISTDigits, Optional[list[str]]]:
    """The digits of ``folder`` (its PNG files, or its one IDX file of images) and, for PNGs, their file names.

    PNG files are taken in the order of their names. Anything else that the folder holds is
    ignored; a folder with both kinds, several IDX files of images or neither is an AmalError.
    """
    folder = Path(folder)
    where = f"--data.predict_path {folder}"
    if not folder.is_dir():
        raise AmalError(f"{where}: not a folder (expected a folder of PNG digits or of MNIST IDX files)")
    pngs = sorted(path for path in folder.iterdir() if path.suffix.lower() == ".png" and path.is_file())
    idx_files = sorted(path for path in folder.iterdir() if path.name.endswith(IDX_IMAGES) and path.is_file())
    if pngs and idx_files:
        raise AmalError(f"{where}: holds both PNG files and IDX files; keep one kind")
    if pngs:
        images = torch.stack([read_png_digit(path) for path in pngs])
        return MNISTDigits(images, None), [path.name for path in pngs]
    if len(idx_files) > 1:
        names = ", ".join(path.name for path in idx_files)
        raise AmalError(f"{where}: holds several IDX files of images ({names}); keep one")
    if not idx_files:
        raise AmalError(f"{where}: no PNG files and no *{IDX_IMAGES} file in it")
    images_path = idx_files[0]
    labels_path = images_path.with_name(images_path.name[: -len(IDX_IMAGES)] + IDX_LABELS)
    images, labels = read_digits(images_path, labels_path if labels_path.is_file() else None)
    return MNISTDigits(images, labels), None
