"""TME3: the autoencoder's test figures as PNG files in the run's log folder, drawn by a callback.

``codes_pca.png``: the test codes projected on their first two principal components, coloured by
digit; ``reconstructions.png``: test digits above their reconstructions; ``interpolation.png``:
the decoding of ``λ z1 + (1 − λ) z2`` between two test digits of different classes. The digits are
drawn large (:data:`~amal_lightning.tme3.figure_files.DIGIT_INCHES` each), unlike TensorBoard's
28-pixel images, which stay (:class:`~amal_lightning.tme3.AutoencoderPictures`).
"""

from typing import Any

import lightning as L
import torch
from jsonargparse.typing import PositiveInt

from amal_lightning.batches import Batch, keep_first
from amal_lightning.tme3.figure_files import (
    DIGIT_INCHES,
    MIN_DPI,
    draw_digit,
    figure_folder,
    new_figure,
    save_figure,
)

PCA_FILE, RECONSTRUCTIONS_FILE, INTERPOLATION_FILE = "codes_pca.png", "reconstructions.png", "interpolation.png"


def pca_2d(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The codes projected on their first two principal components, and the share of the codes'
    variance each one holds (a singular value decomposition of the centred codes)."""
    centred = codes.double() - codes.double().mean(0)
    _, singular, components = torch.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    shares = variance / variance.sum() if variance.sum() > 0 else torch.zeros_like(variance)
    projection = centred @ components[:2].T
    if projection.shape[1] < 2:  # a code of one number: its one axis, and a second of zeros
        projection = torch.cat([projection, torch.zeros_like(projection)], 1)
        shares = torch.cat([shares, torch.zeros(1, dtype=shares.dtype)])
    return projection.float(), shares[:2].float()


class AutoencoderFigures(L.Callback):
    """Writes ``codes_pca.png``, ``reconstructions.png`` and ``interpolation.png`` at the end of each test
    (``amal test``, the test after a fit) into the run's log folder, beside its TensorBoard files.

    It keeps the first ``num_codes`` test digits the loop hands over (no pass of its own over the
    data) and draws from them with the model's ``encode``, ``decode`` and ``forward``. The
    interpolation joins the first test digit and the first one of another class, as
    TensorBoard's strip does; a test set of one class has none. Nothing is kept or written without
    a logger, or on other processes than the first of a multi-device run.

    Args:
        num_images: digits in ``reconstructions.png``.
        interpolation_steps: values of λ in ``interpolation.png``.
        num_codes: test digits projected in ``codes_pca.png``.
        dpi: resolution of the files (150 at least).
    """

    def __init__(
        self,
        num_images: PositiveInt = 8,
        interpolation_steps: PositiveInt = 10,
        num_codes: PositiveInt = 2000,
        dpi: PositiveInt = MIN_DPI,
    ) -> None:
        super().__init__()
        self.num_images = num_images
        self.interpolation_steps = interpolation_steps
        self.num_codes = num_codes
        self.dpi = dpi
        self.test_batches: list[Batch] = []

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
        if figure_folder(trainer) is not None:
            keep_first(self.test_batches, batch, max(self.num_codes, self.num_images))

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        folder = figure_folder(trainer)
        batches, self.test_batches = self.test_batches, []
        if folder is None or not batches:
            return
        images = torch.cat([x for x, _ in batches])
        labels = torch.cat([y for _, y in batches]).cpu()
        with torch.no_grad():
            codes = pl_module.encode(images[: self.num_codes])
            originals = images[: self.num_images]
            reconstructions = pl_module(originals)
            other_class = (labels != labels[0]).nonzero()
            strip, pair = None, None
            if len(other_class):
                pair = (int(labels[0]), int(labels[other_class[0, 0]]))
                weights = torch.linspace(0, 1, self.interpolation_steps, device=codes.device).unsqueeze(1)
                strip = pl_module.decode(weights * codes[0] + (1 - weights) * codes[other_class[0, 0]])
        save_figure(pca_figure(codes.cpu(), labels[: self.num_codes]), folder / PCA_FILE, self.dpi)
        save_figure(reconstruction_figure(originals, reconstructions), folder / RECONSTRUCTIONS_FILE, self.dpi)
        if strip is not None and pair is not None:
            save_figure(interpolation_figure(strip, pair), folder / INTERPOLATION_FILE, self.dpi)


def pca_figure(codes: torch.Tensor, labels: torch.Tensor):
    """The codes on their first two principal components, one colour per digit, with a legend."""
    projection, shares = pca_2d(codes)
    figure = new_figure(6.4, 5.2)
    axes = figure.add_subplot()
    colours = [f"C{index}" for index in range(10)]  # matplotlib's ten distinct colours
    for index, digit in enumerate(sorted(set(labels.tolist()))):
        chosen = projection[labels == digit]
        axes.scatter(chosen[:, 0], chosen[:, 1], s=6, alpha=0.7, color=colours[index % 10], label=str(digit))
    axes.set_xlabel(f"principal component 1 ({shares[0]:.0%} of the codes' variance)")
    axes.set_ylabel(f"principal component 2 ({shares[1]:.0%})")
    axes.set_title(f"Codes of {len(codes):,} test digits ({codes.shape[1]} numbers each), first two principal axes")
    axes.legend(title="digit", markerscale=3, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return figure


def reconstruction_figure(originals: torch.Tensor, reconstructions: torch.Tensor):
    """Two rows, labelled: the test digits, and under each its reconstruction."""
    count = len(originals)
    figure = new_figure(count * DIGIT_INCHES + 1.0, 2 * DIGIT_INCHES + 0.5)
    grid = figure.subplots(2, count, squeeze=False)
    for row, (name, digits) in enumerate((("original", originals), ("reconstruction", reconstructions))):
        for column in range(count):
            draw_digit(grid[row, column], digits[column])
        grid[row, 0].set_ylabel(name, fontsize=9)
    figure.suptitle("Test digits and their reconstructions", fontsize=10)
    return figure


def interpolation_figure(strip: torch.Tensor, pair: tuple[int, int]):
    """The decoded frames side by side, λ written under each."""
    count = len(strip)
    figure = new_figure(count * DIGIT_INCHES + 0.4, DIGIT_INCHES + 0.7)
    weights = torch.linspace(0, 1, count).tolist()
    for axes, frame, weight in zip(figure.subplots(1, count, squeeze=False)[0], strip, weights, strict=True):
        draw_digit(axes, frame)
        axes.set_xlabel(f"λ = {weight:.2f}", fontsize=8)
    figure.suptitle(
        f"Decoding λ·z₁ + (1 − λ)·z₂, z₁ the code of a test {pair[0]}, z₂ that of a test {pair[1]}", fontsize=10
    )
    return figure
