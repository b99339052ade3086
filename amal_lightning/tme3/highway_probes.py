"""TME3 Q4: the paper's probes of trained Highway networks, drawn (Srivastava, Greff, Schmidhuber, 2015).

- the gate maps: for a few test digits, each one's transform-gate output T(x) per block and unit (the
  paper's Figure 2 shows them for single examples), from one network;
- lesioning: each block in turn disabled, its gate forced to 0 so that it carries its input, and the
  test accuracy lost, one point per network (seed) and their mean: which blocks the network needs.

``python -m amal_lightning.tme3.highway_probes OUT_PREFIX CHECKPOINT...`` writes
``OUT_PREFIX-gate_maps.png`` (the first checkpoint's gates) and ``OUT_PREFIX-lesioning.png`` (every
checkpoint's drops), each network tested on the test split it was trained beside (the data options
saved in its checkpoint). The computation is in :mod:`amal_lightning.tme3.highway`.
"""

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from amal_lightning.png import write_png
from amal_lightning.tme3.code_probe import checkpoint_datamodule
from amal_lightning.tme3.figure_files import draw_digit
from amal_lightning.tme3.highway import HighwayClassifier, lesion_accuracy_drops, per_example_gates


def checkpoint_test_split(checkpoint: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images and labels of the data a checkpoint was trained with (source, folder, seed)."""
    data = checkpoint_datamodule(checkpoint)
    data.setup("test")
    return data.test_set[torch.arange(len(data.test_set))]


def one_digit_per_class(labels: torch.Tensor, count: int) -> list[int]:
    """The indices of the first test digit of each of the first ``count`` classes present."""
    firsts = {}
    for index, label in enumerate(labels.tolist()):
        firsts.setdefault(label, index)
    return [firsts[label] for label in sorted(firsts)][:count]


def gate_maps_figure(model: HighwayClassifier, images: torch.Tensor, labels: torch.Tensor) -> Figure:
    """Each digit above its gate map: T per block (rows, 1 nearest the input) and unit (columns), 0 to 1."""
    gates = per_example_gates(model.eval(), images)
    figure = Figure(figsize=(2.2 * len(images) + 1.0, 6.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(images), squeeze=False, height_ratios=[1, 3])
    for column, (image, label, gate) in enumerate(zip(images, labels, gates, strict=True)):
        draw_digit(axes[0, column], image)
        axes[0, column].set_title(f"digit {label.item()}", fontsize="small")
        blocks, units = gate.shape  # rows numbered from 1, the block nearest the input on top
        extent = (-0.5, units - 0.5, blocks + 0.5, 0.5)
        shown = axes[1, column].imshow(gate.numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto", extent=extent)
        axes[1, column].yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[1, column].set_xlabel("unit")
        axes[1, column].set_title(f"mean T = {gate.mean().item():.3f}", fontsize="small")
    axes[1, 0].set_ylabel("block (top: 1, nearest the input)")
    bar = figure.colorbar(shown, ax=axes[1, :].tolist(), fraction=0.05)
    bar.set_label("transform gate T(x): 0 carries, 1 transforms")
    initial = torch.sigmoid(torch.tensor(model.hparams.gate_bias)).item()
    bar.ax.axhline(initial, color="white", linewidth=1.5)  # where every gate starts, σ(b_T)
    figure.suptitle(f"Transform gates per digit, block and unit (white line on the scale: σ(b_T) = {initial:.3f})")
    return figure


def lesioning_figure(drops: Sequence[torch.Tensor]) -> Figure:
    """Per block, each network's accuracy drop when the block carries its input (points) and their mean."""
    figure = Figure(figsize=(9.0, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    blocks = torch.arange(1, len(drops[0]) + 1)
    for seed, drop in enumerate(drops):
        axes.plot(blocks, drop, linestyle="", marker="o", markersize=3, alpha=0.6, label=f"network {seed + 1}")
    axes.plot(blocks, torch.stack(list(drops)).mean(0), color="black", linewidth=1.0, label="mean")
    axes.axhline(0, color="0.5", linewidth=0.8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("block disabled (1 = nearest the input)")
    axes.set_ylabel("test accuracy lost (whole − lesioned)")
    axes.set_title(f"Lesioning: each block's transform gate forced to 0 in turn, {len(drops)} networks")
    axes.legend(fontsize="x-small")
    return figure


def main(prefix: str, checkpoints: Sequence[Path]) -> None:
    """Draws both figures, ``PREFIX-gate_maps.png`` and ``PREFIX-lesioning.png``, one checkpoint per network."""
    drops = []
    for index, checkpoint in enumerate(checkpoints):
        model = HighwayClassifier.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True).eval()
        images, labels = checkpoint_test_split(checkpoint)
        if index == 0:
            shown = one_digit_per_class(labels, 4)
            write_png(gate_maps_figure(model, images[shown], labels[shown]), Path(f"{prefix}-gate_maps.png"), dpi=120)
        drops.append(lesion_accuracy_drops(model, images, labels))
    write_png(lesioning_figure(drops), Path(f"{prefix}-lesioning.png"), dpi=120)
    print(f"{prefix}-gate_maps.png {prefix}-lesioning.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("prefix", help="the figures' path, less -gate_maps.png and -lesioning.png")
    parser.add_argument("checkpoints", type=Path, nargs="+", help="the trained networks' checkpoints")
    arguments = parser.parse_args()
    main(arguments.prefix, arguments.checkpoints)
