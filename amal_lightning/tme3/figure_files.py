"""What the TME3 figure callbacks share: where a run's PNG files go, how they are written, how a digit is drawn.

The figures are drawn with matplotlib's object interface on an Agg canvas (``Figure`` and
``FigureCanvasAgg``): no display, no pyplot state shared between runs or threads.
"""

from pathlib import Path
from typing import Optional

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amal_lightning.callbacks.tensorboard import find_tensorboard
from amal_lightning.data.mnist import IMAGE_SIZE
from amal_lightning.png import write_png

MIN_DPI = 150  # what the figures are written at, at least: readable when printed or zoomed
DIGIT_INCHES = 0.8  # a 28-pixel digit drawn 0.8 inch wide: 120 pixels at 150 dpi


def figure_folder(trainer: L.Trainer) -> Optional[Path]:
    """The run's log folder (the TensorBoard logger's, else the first logger's), or None: no logger, or not
    the first process of a multi-device run, and then nothing is drawn."""
    if not trainer.is_global_zero or not trainer.loggers:
        return None
    tensorboard = find_tensorboard(trainer)
    folder = tensorboard.log_dir if tensorboard is not None else trainer.log_dir
    return None if folder is None else Path(folder)


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` × ``height`` inches on its own Agg canvas, laid out by matplotlib."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: Path, dpi: int = MIN_DPI) -> Optional[Path]:
    """Writes ``figure`` as a PNG file of at most 256 colours at ``dpi`` (recorded in the file); a warning,
    not an error, if it cannot.

    A figure is a side output: a full disk must not turn a finished test into a failed one.
    """
    try:
        write_png(figure, path, dpi=max(dpi, MIN_DPI))
    except OSError as error:
        rank_zero_warn(f"{path}: cannot write the figure ({error.strerror or error})")
        return None
    return path


def draw_digit(axes: Axes, pixels: torch.Tensor) -> None:
    """A flat 784-pixel digit in ``axes``, ink dark on white, each pixel a sharp square; no ticks nor frame."""
    axes.imshow(
        pixels.detach().float().cpu().reshape(IMAGE_SIZE, IMAGE_SIZE).numpy(),
        cmap="gray_r",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
