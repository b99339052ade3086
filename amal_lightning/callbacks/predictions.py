"""``amal predict``: what a model says about the test split, or about the user's own data, in a file.

Lightning's prediction machinery does the work. The datamodules' ``predict_dataloader`` serves the
test split in order, or the file or folder named by ``--data.predict_path``; each model's
``predict_step`` returns a dict of columns for its batch (its prediction, and the true label or
target where the data has one); :class:`PredictionWriter`, a ``BasePredictionWriter``, writes
them once all batches are done to ``predictions/<experiment>/<run>/predictions.csv``, ``<run>``
being the run's name (:mod:`amal_lightning.runs.folders`): for a checkpoint of the experiment's
``version_0``, ``version_0/predict-best-0`` (the next prediction by it ``predict-best-1``), so that
predictions sit beside the run that made them; its ``summary`` says where, for the outcome.

The rows follow the predicted set: ``index`` is an example's position in it (its row in the test
split, in the user's table or IDX file), ``file`` its PNG file for a folder of digits. For the
autoencoder a picture is written too, ``reconstructions.png``: the worst reconstructions, then the
best, each original above its reconstruction.
"""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torchvision.utils import save_image

from amal_lightning.data.idx import IMAGE_SIZE
from amal_lightning.errors import AmalError
from amal_lightning.runs.folders import PREDICTION_DIR

__all__ = ["PREDICTION_DIR", "PredictionWriter", "check_can_predict", "check_one_process"]

CSV_NAME = "predictions.csv"
GRID_NAME = "reconstructions.png"
GRID_COLUMNS = 8  # digits in each row of reconstructions.png
# Outputs of predict_step that are pictures, not columns: an autoencoder's images and their
# reconstructions, ranked for the picture by the per-image error RANK_KEY.
IMAGE_KEYS = ("original", "reconstruction")
RANK_KEY = "mse"


def check_can_predict(model: L.LightningModule, datamodule: Optional[L.LightningDataModule]) -> None:
    """Fails with one line unless the model has a ``predict_step`` and the data a ``predict_dataloader``.

    Checked before the trainer starts, so that nothing is read or downloaded for a prediction
    that cannot be made (Lightning's own errors come later, with a traceback).
    """
    if type(model).predict_step is L.LightningModule.predict_step:
        raise AmalError(f"{type(model).__name__} has no predict_step: amal predict has nothing to write for it")
    source = datamodule if datamodule is not None else model
    base = L.LightningDataModule if datamodule is not None else L.LightningModule
    if type(source).predict_dataloader is base.predict_dataloader:
        raise AmalError(f"{type(source).__name__} has no predict_dataloader: amal predict has no data to predict")


def check_one_process(trainer: L.Trainer) -> None:
    """Fails with one line if the trainer would predict in several processes.

    Each would predict its own share of the rows (all of them, with the datamodules here) and
    write its own file; the data sets are small enough for one device. The CLI checks before any
    process is started, the writer again in case it is used with a trainer of one's own.
    """
    if trainer.num_devices * trainer.num_nodes > 1:
        raise AmalError("amal predict writes one file from one process: pass --trainer.devices 1")


def gather(outputs: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The outputs of all batches, one tensor per key, on the CPU."""
    return {key: torch.cat([output[key].detach().cpu() for output in outputs]) for key in outputs[0]}


def csv_columns(index: list[int], names: Optional[list[str]], outputs: dict[str, torch.Tensor]) -> dict[str, list]:
    """The file's columns: ``index``, ``file`` if named, then one per output (``key_j`` for the j-th of several)."""
    columns: dict[str, list] = {"index": index}
    if names is not None:
        columns["file"] = [names[i] for i in index]
    for key, values in outputs.items():
        if key in IMAGE_KEYS:
            continue
        values = values.reshape(len(values), -1)
        width = values.shape[1]
        for j in range(width):
            column = values[:, j].tolist()
            if values.is_floating_point():
                column = [format(value, ".6g") for value in column]
            columns[key if width == 1 else f"{key}_{j}"] = column
    return columns


def write_csv(path: Path, columns: dict[str, list]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))


def write_reconstruction_grid(path: Path, outputs: dict[str, torch.Tensor], count: int) -> None:
    """The ``count`` worst reconstructions (highest ``RANK_KEY``), then the best, each under its original."""
    order = outputs[RANK_KEY].argsort(descending=True)
    rows = []
    for chosen in (order[:count], order.flip(0)[:count]):
        rows += [outputs["original"][chosen], outputs["reconstruction"][chosen]]
    images = torch.cat(rows).reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
    save_image(images, path, nrow=count, pad_value=1)


class PredictionWriter(BasePredictionWriter):
    """Writes ``amal predict``'s file(s) into ``folder`` once every batch is predicted; ``summary`` says where.

    Runs in one process (the CLI sets ``devices`` to 1 unless told otherwise; see
    :func:`check_one_process`). ``folder`` must not exist yet,
    so that an earlier run's predictions are never overwritten; it is made only once there is
    something to write, so a failed prediction leaves no empty folder.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(write_interval="epoch")
        self.folder = Path(folder)
        self.summary: Optional[str] = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage != "predict":
            return
        check_one_process(trainer)
        if self.folder.exists():
            raise AmalError(f"{self.folder}: exists already; amal predict never overwrites earlier predictions")
        # checked before predicting, not found out when the file is written
        blocking = next((folder for folder in self.folder.parents if folder.exists() and not folder.is_dir()), None)
        if blocking is not None:
            raise AmalError(f"{blocking}: a file where amal predict needs a folder for {self.folder}/")

    def write_on_epoch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        if not predictions:
            return
        if len(batch_indices) != 1:
            raise AmalError("amal predict writes the predictions of one dataloader, not several")
        index = [i for batch in batch_indices[0] for i in batch]
        outputs = gather(predictions)
        names = getattr(trainer.predict_dataloaders.dataset, "names", None)
        where, count = str(self.folder / CSV_NAME), min(GRID_COLUMNS, len(index))
        try:
            self.folder.mkdir(parents=True)
            write_csv(self.folder / CSV_NAME, csv_columns(index, names, outputs))
            if all(key in outputs for key in (*IMAGE_KEYS, RANK_KEY)):
                write_reconstruction_grid(self.folder / GRID_NAME, outputs, count)
                where += (
                    f" and {GRID_NAME} (the {count} worst reconstructions, then the {count} best, under the originals)"
                )
        except OSError as error:  # a full disk, a folder one may not write to
            raise AmalError(
                f"{error.filename or self.folder}: cannot write the predictions ({error.strerror})"
            ) from None
        self.summary = f"{describe_run(trainer, len(index))}: {where}"


def describe_run(trainer: L.Trainer, count: int) -> str:
    """What was predicted, and by which weights: the start of the line that says where the file is."""
    predict_path = getattr(trainer.datamodule, "hparams", {}).get("predict_path")
    data = f"{count:,} examples of {predict_path}" if predict_path else f"the {count:,} test examples"
    weights = trainer.ckpt_path or "an untrained model (no --ckpt_path)"
    return f"Predictions for {data} by {weights}"
