"""TME3: are an autoencoder's codes organized by class? Measured by a linear probe rather than read off a
2-D picture: multinomial logistic regression trained on the frozen codes of the training digits and
scored on the test digits' codes, per code size; beside it the same probe on the raw pixels and on
PCA's codes of the same size (fitted on the training digits), the linear codes an autoencoder is
compared with.

The probe centres each feature on the training digits' mean and divides all of them by one scale (their
root-mean-square over the training digits), so that a rotation of the features (PCA's axes among
them) leaves it unchanged and PCA's codes of every size are the pixels' projections; it fits by
full-batch L-BFGS in float64 from zero weights (deterministic), and chooses its L2 penalty among
:data:`PENALTIES` by accuracy on the validation digits, the same for every feature set.

``python -m amal_lightning.tme3.code_probe OUT_PREFIX CHECKPOINT...`` writes ``OUT_PREFIX.csv`` (one row
per feature set: the autoencoder's codes per checkpoint, PCA's codes per code size, the pixels) and
``OUT_PREFIX.png`` (test accuracy against code size), each autoencoder probed on the split it was
trained beside (the data options saved in its checkpoint).
"""

import argparse
import csv
import pickle
import statistics
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter
from torch.nn import functional as F

from amal_lightning.data import MNISTDataModule
from amal_lightning.errors import first_line
from amal_lightning.tme3.autoencoder import Autoencoder
from amal_lightning.tme3.figure_files import new_figure, save_figure

PENALTIES = (1e-4, 1e-3, 1e-2)  # the L2 penalties tried, on the mean cross-entropy, weights only
ITERATIONS = 200  # L-BFGS iterations (strong Wolfe line search)
Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]  # split name -> (images or features, labels)


def checkpoint_datamodule(checkpoint: Path) -> MNISTDataModule:
    """The datamodule a checkpoint was trained with (source, folder, seed, validation share), not set up."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True).get("datamodule_hyper_parameters") or {}
    return MNISTDataModule(
        data_dir=saved.get("data_dir", "data"),
        source=saved.get("used_source", saved.get("source", "sample")),
        seed=saved.get("seed", 0),
        val_fraction=saved.get("val_fraction", 1 / 12),
        download=False,
    )


def checkpoint_splits(checkpoint: Path) -> Splits:
    """The train, validation and test digits of the data a checkpoint was trained with."""
    data = checkpoint_datamodule(checkpoint)
    data.setup("fit")  # the three splits at once
    sets = {"train": data.train_set, "val": data.val_set, "test": data.test_set}
    return {name: dataset[torch.arange(len(dataset))] for name, dataset in sets.items()}


def fit_probe(features: torch.Tensor, labels: torch.Tensor, penalty: float, classes: int) -> torch.Tensor:
    """The weights (features + 1 bias, classes) of the L2-penalized logistic regression on scaled features,
    by L-BFGS from zero."""
    x = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)
    weights = torch.zeros(x.shape[1], classes, dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights], max_iter=ITERATIONS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weights, labels) + penalty * weights[:-1].pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weights.detach()


def accuracy(weights: torch.Tensor, features: torch.Tensor, labels: torch.Tensor) -> float:
    x = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)
    return (x @ weights).argmax(1).eq(labels).double().mean().item()


def probe(splits: Splits, classes: int = 10) -> dict[str, float]:
    """The probe on ``splits`` (features per split): its penalty (best validation accuracy, the smaller
    penalty on a tie), its validation and its test accuracy."""
    train, labels = splits["train"]
    mean = train.double().mean(0)  # one scale for all the features: a rotation of them changes nothing
    std = (train.double() - mean).pow(2).sum(1).mean().sqrt().clamp_min(1e-12) / train.shape[1] ** 0.5
    scaled = {name: ((features.double() - mean) / std, target) for name, (features, target) in splits.items()}
    best = None
    for penalty in PENALTIES:
        weights = fit_probe(*scaled["train"], penalty, classes)
        found = {"penalty": penalty, "val_accuracy": accuracy(weights, *scaled["val"])}
        if best is None or found["val_accuracy"] > best[0]["val_accuracy"]:
            best = (found, weights)
    found, weights = best
    return {**found, "test_accuracy": accuracy(weights, *scaled["test"])}


def pca_features(splits: Splits, size: int) -> Splits:
    """Each split's coordinates on the first ``size`` principal axes of the training images."""
    train = splits["train"][0].double()
    mean = train.mean(0)
    _, _, axes = torch.linalg.svd(train - mean, full_matrices=False)
    return {name: ((images.double() - mean) @ axes[:size].T, labels) for name, (images, labels) in splits.items()}


def describe(model: Autoencoder) -> tuple[str, int]:
    """An autoencoder's family (``tied``, ``untied``, ``linear tied``, ``two layers 256-64, tied``) and code size."""
    sizes = model.hparams.latent_dim if isinstance(model.hparams.latent_dim, list) else [model.hparams.latent_dim]
    family = ("linear " if model.hparams.linear else "") + ("tied" if model.hparams.tied else "untied")
    if len(sizes) > 1:
        family = f"{len(sizes)} layers {'-'.join(map(str, sizes))}, {family}"
    return family, sizes[-1]


def autoencoder_checkpoint(text: str) -> Path:
    """``text`` as the path of an autoencoder's checkpoint (argparse's type): else one line saying what it is."""
    path = Path(text)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as error:
        raise argparse.ArgumentTypeError(f"{path}: not a readable checkpoint ({first_line(error)})") from None
    if "latent_dim" not in (saved.get("hyper_parameters") or {}):
        raise argparse.ArgumentTypeError(f"{path}: not an autoencoder's checkpoint (no model.latent_dim)")
    return path


def probe_rows(checkpoints: Sequence[Path]) -> list[dict]:
    """One row per feature set: each checkpoint's codes, PCA's codes at each code size met, the pixels.

    PCA and the pixels are probed on the checkpoints' one split: checkpoints of other splits are refused."""
    datas = {str(torch.load(path, weights_only=True).get("datamodule_hyper_parameters")) for path in checkpoints}
    if len(datas) > 1:
        raise ValueError(f"the checkpoints were trained on {len(datas)} different data settings; give one split's")
    rows, pca_sizes, splits = [], [], checkpoint_splits(checkpoints[0])
    for checkpoint in checkpoints:
        model = Autoencoder.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True).eval()
        family, size = describe(model)
        with torch.no_grad():
            codes = {name: (model.encode(images), labels) for name, (images, labels) in splits.items()}
        rows.append({"features": f"autoencoder, {family}", "code": size, "checkpoint": str(checkpoint), **probe(codes)})
        pca_sizes.append(size)
    for size in sorted(set(pca_sizes)):
        rows.append({"features": "PCA", "code": size, "checkpoint": "", **probe(pca_features(splits, size))})
    rows.append({"features": "pixels", "code": 784, "checkpoint": "", **probe(splits)})
    return rows


def probe_figure(rows: Sequence[dict]) -> Figure:
    """Test accuracy against code size: each autoencoder family's checkpoints as points and their mean as
    a line, PCA's codes as a line, the pixels as a horizontal line."""
    figure = new_figure(9.0, 4.6)
    axes = figure.subplots()
    families = list(dict.fromkeys(row["features"] for row in rows if row["features"].startswith("autoencoder")))
    handles = []
    for index, family in enumerate([*families, "PCA"]):
        mine = [row for row in rows if row["features"] == family]
        sizes = sorted({row["code"] for row in mine})
        means = [statistics.fmean(row["test_accuracy"] for row in mine if row["code"] == size) for size in sizes]
        colour = "0.2" if family == "PCA" else f"C{index % 10}"
        style = "--" if family == "PCA" else "-"
        axes.scatter([row["code"] for row in mine], [row["test_accuracy"] for row in mine], s=12, color=colour)
        axes.plot(sizes, means, color=colour, linestyle=style, marker="o" if len(sizes) == 1 else "")
        seeds = max(sum(row["code"] == size for row in mine) for size in sizes)
        handles.append(Line2D([], [], color=colour, linestyle=style, label=f"{family} (n={seeds} per size)"))
    for row in rows:
        if row["features"] == "pixels":
            handles.append(axes.axhline(row["test_accuracy"], color="0.45", linestyle=":", label="raw pixels (784)"))
    axes.set_xscale("log")
    sizes = sorted({row["code"] for row in rows if row["features"] != "pixels"})
    axes.set_xticks(sizes, labels=[str(size) for size in sizes])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("code size (log scale)")
    axes.set_ylabel("test accuracy of the linear probe")
    axes.grid(True, alpha=0.3)
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    axes.set_title("Linear probe (logistic regression) on frozen codes\npoints: checkpoints; lines: their means")
    return figure


def main(prefix: str, checkpoints: Sequence[Path]) -> list[dict]:
    """Writes ``PREFIX.csv`` and ``PREFIX.png`` from the autoencoders' checkpoints; returns the rows."""
    rows = probe_rows(checkpoints)
    with open(f"{prefix}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    save_figure(probe_figure(rows), Path(f"{prefix}.png"))
    print(f"{prefix}.csv {prefix}.png")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("prefix", help="the outputs' path, less .csv and .png")
    parser.add_argument("checkpoints", type=autoencoder_checkpoint, nargs="+", help="the autoencoders' checkpoints")
    arguments = parser.parse_args()
    try:
        main(arguments.prefix, arguments.checkpoints)
    except ValueError as error:
        parser.error(str(error))
