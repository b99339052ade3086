"""TME3: the classifiers' test figures as PNG files in the run's log folder, drawn by a callback.

``confusion.png``: which digit is taken for which; ``confidently_wrong.png``: the test digits the
model gets wrong with the highest probability, often mislabelled or truly ambiguous digits.
"""

import math
from typing import Any, Optional

import lightning as L
import numpy as np
import torch
from jsonargparse.typing import PositiveInt

from amal_lightning.batches import Batch
from amal_lightning.tme3.figure_files import (
    DIGIT_INCHES,
    MIN_DPI,
    draw_digit,
    figure_folder,
    new_figure,
    save_figure,
)

CONFUSION_FILE = "confusion.png"
WRONG_FILE = "confidently_wrong.png"


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts, row the true class and column the predicted one: ``matrix[i, j]`` images of i taken for j.

    Built with an accumulating ``index_put_`` on the labels' device, which (unlike ``bincount``)
    never makes the host wait for a GPU.
    """
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long, device=labels.device)
    ones = torch.ones_like(labels, dtype=torch.long)
    return matrix.index_put_((labels.long(), predicted.long()), ones, accumulate=True)


class ClassifierFigures(L.Callback):
    """Writes ``confusion.png`` and ``confidently_wrong.png`` at the end of each test (``amal test``, the
    test after a fit) into the run's log folder, beside its TensorBoard files.

    - ``confusion.png``: the test confusion matrix, each cell holding its count, coloured by the
      share of its row (the true digit's images) so that rare and frequent digits read alike;
    - ``confidently_wrong.png``: the ``num_wrong`` misclassified test digits with the highest
      predicted probability, each titled with its true label, the prediction and its probability.

    At each test batch it runs the model once more, under ``no_grad``, adds the batch to the
    matrix and keeps the running ``num_wrong`` most confident mistakes (never the whole test set).
    Nothing is kept or written without a logger, or on other processes than the first of a
    multi-device run (whose figures cover that process's share of the test set).

    Args:
        num_wrong: digits in ``confidently_wrong.png``.
        dpi: resolution of the files (150 at least).
    """

    def __init__(self, num_wrong: PositiveInt = 16, dpi: PositiveInt = MIN_DPI) -> None:
        super().__init__()
        self.num_wrong = num_wrong
        self.dpi = dpi
        self.confusion: Optional[torch.Tensor] = None
        self.wrong: Optional[dict[str, torch.Tensor]] = None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.confusion, self.wrong = None, None

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Batch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if figure_folder(trainer) is None:
            return
        x, y = batch
        with torch.no_grad():
            probabilities = pl_module(x).softmax(1)
        probability, predicted = probabilities.max(1)
        counts = confusion_matrix(y, predicted, probabilities.shape[1])
        self.confusion = counts if self.confusion is None else self.confusion + counts
        # the most confident mistakes so far: right answers scored −1 fall behind every mistake
        candidates = {
            "image": x,
            "label": y,
            "predicted": predicted,
            "probability": probability.where(predicted != y, -1),
        }
        if self.wrong is not None:
            candidates = {name: torch.cat([self.wrong[name], candidates[name]]) for name in candidates}
        top = candidates["probability"].topk(min(self.num_wrong, len(candidates["probability"]))).indices
        self.wrong = {name: values[top].clone() for name, values in candidates.items()}

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        folder = figure_folder(trainer)
        confusion, wrong = self.confusion, self.wrong
        self.confusion, self.wrong = None, None
        if folder is None or confusion is None or wrong is None:
            return
        save_figure(confusion_figure(confusion.cpu()), folder / CONFUSION_FILE, self.dpi)
        kept = wrong["probability"] >= 0
        mistakes = {name: values[kept].cpu() for name, values in wrong.items()}
        save_figure(wrong_figure(mistakes, int(confusion.sum())), folder / WRONG_FILE, self.dpi)


def confusion_figure(counts: torch.Tensor):
    """The confusion matrix: counts written in the cells, colour the share of the row."""
    counts = counts.numpy()
    classes = len(counts)
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    figure = new_figure(1.0 + 0.55 * classes, 0.6 + 0.5 * classes)
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for true in range(classes):
        for guess in range(classes):
            if counts[true, guess]:
                colour = "white" if shares[true, guess] > 0.5 else "black"
                axes.text(guess, true, str(counts[true, guess]), ha="center", va="center", fontsize=8, color=colour)
    axes.set_xticks(range(classes))
    axes.set_yticks(range(classes))
    axes.set_xlabel("predicted digit")
    axes.set_ylabel("true digit")
    total, right = int(counts.sum()), int(np.trace(counts))
    axes.set_title(f"Test confusion matrix: {total:,} digits, {right / max(total, 1):.1%} right")
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the true digit's images")
    return figure


def wrong_figure(mistakes: dict[str, torch.Tensor], total: int):
    """The mistakes as a grid of digits, most confident first, each titled with label, prediction and probability."""
    count = len(mistakes["label"])
    columns = max(1, min(4, count))
    rows = max(1, math.ceil(count / columns))
    figure = new_figure(columns * (DIGIT_INCHES + 0.6), rows * (DIGIT_INCHES + 0.55) + 0.4)
    if count == 0:
        figure.text(0.5, 0.5, f"no wrong digit among the {total:,} test digits", ha="center", va="center")
        return figure
    figure.suptitle(f"The {count} most confidently wrong of {total:,} test digits")
    for index, axes in enumerate(figure.subplots(rows, columns, squeeze=False).flat):
        if index >= count:
            axes.set_axis_off()
            continue
        draw_digit(axes, mistakes["image"][index])
        label, guess = int(mistakes["label"][index]), int(mistakes["predicted"][index])
        axes.set_title(f"true {label}, predicted {guess}\np = {float(mistakes['probability'][index]):.3f}", fontsize=8)
    return figure
