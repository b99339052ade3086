"""The Boston housing table (TME1 and TME2): 506 districts, 13 features, target MEDV."""

import math
from importlib import resources
from pathlib import Path
from typing import Literal, Optional, Union

import torch
from jsonargparse.typing import NonNegativeInt, PositiveInt
from torch.utils.data import TensorDataset

from amal_lightning.checks import HeldOutFraction, regular_file
from amal_lightning.data.tensor_splits import TensorSplitsDataModule
from amal_lightning.errors import AmalError

NUM_FEATURES = 13
NUM_COLUMNS = NUM_FEATURES + 1  # the 13 features, then MEDV
# The model sees float32: a larger magnitude would be infinite, and its loss with it.
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def bundled_housing_path() -> Path:
    """The copy of the table shipped in the package, in the UCI whitespace layout."""
    return Path(str(resources.files("amal_lightning.data") / "housing.data"))


def read_housing_table(
    path: Union[str, Path], targets_optional: bool = False, option: str = "--data.path"
) -> torch.Tensor:
    """Reads a whitespace-separated table of 14 numbers per line into a float64 tensor.

    Blank lines are skipped. Anything else that is not 14 numbers, finite and within float32's
    range, raises an :class:`AmalError` naming the file and the line. With ``targets_optional`` (a
    table to predict) every line may instead hold the 13 features alone, MEDV being what is
    unknown. ``path`` must be a regular file (``option`` names it in the message): a FIFO would
    block the read forever.
    """
    path = regular_file(path, option)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise AmalError(f"{path}: cannot read the housing table ({error})") from None
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        cells = line.split()
        if not cells:
            continue
        if targets_optional and rows and len(cells) != len(rows[0]):
            raise AmalError(f"{path}, line {line_number}: {len(cells)} columns, but {len(rows[0])} on the lines before")
        if len(cells) != NUM_COLUMNS and not (targets_optional and len(cells) == NUM_FEATURES):
            expected = f"{NUM_COLUMNS} columns (13 features and MEDV)" + (" or 13 (the features)" * targets_optional)
            raise AmalError(f"{path}, line {line_number}: expected {expected}, found {len(cells)}")
        row = []
        for cell in cells:
            try:
                row.append(float(cell))
            except ValueError:
                raise AmalError(f"{path}, line {line_number}: {cell!r} is not a number") from None
        if not all(math.isfinite(value) for value in row):
            raise AmalError(f"{path}, line {line_number}: NaN or infinite value")
        too_large = next((cell for cell, value in zip(cells, row, strict=True) if abs(value) > FLOAT32_MAX), None)
        if too_large is not None:
            raise AmalError(
                f"{path}, line {line_number}: {too_large} does not fit in float32 (largest {FLOAT32_MAX:.4g})"
            )
        rows.append(row)
    if not rows:
        raise AmalError(f"{path}: the housing table is empty")
    return torch.tensor(rows, dtype=torch.float64)


class HousingDataModule(TensorSplitsDataModule):
    """Seeded train/val/test split of the housing table, features standardized (by default) on train only.

    Args:
        path: a table in the UCI layout (14 whitespace-separated numbers per line); by default
            the copy shipped in the package, so nothing is downloaded.
        predict_path: a table for ``amal predict`` instead of the test split: lines of 14 numbers
            (MEDV then shows beside its prediction) or of the 13 features alone; the features are
            scaled with the training rows' statistics, as the model saw them.
        batch_size: ``full`` for the whole training split per step (batch gradient descent),
            ``1`` for stochastic gradient descent, ``k`` for mini-batches of k rows.
        val_fraction: share of the rows held out for validation; 0 means no validation loop.
        test_fraction: share of the rows held out for ``amal test``; 0 means no test set.
        seed: fixes the split and the shuffling, independently of the model's seed.
        split_seed: fixes the split alone (default: ``seed``), so that a study can draw other
            splits (its ``splits``) with the same shuffling, and tell the spread between splits
            from the spread between seeds: every housing number comes from one split otherwise.
        standardize: scale each feature to mean 0 and variance 1 with the training rows'
            statistics. ``false`` gives the raw features, as the course's table has them (TAX in
            the hundreds, B up to 397): the loss is then so much steeper along those features that
            batch gradient descent diverges above ε ≈ 3e-6 instead of ε ≈ 0.16, a usable step
            size about five orders of magnitude smaller.
        test_each_epoch: evaluate the test split after each validation too, for a ``test/loss``
            curve beside ``val/loss`` in the same run (TME2 asks for the test loss during training);
            one more batch per epoch. See :mod:`amal_lightning.data.evaluation`.
    """

    def __init__(
        self,
        path: Optional[str] = None,
        predict_path: Optional[str] = None,
        batch_size: Union[PositiveInt, Literal["full"]] = "full",
        val_fraction: HeldOutFraction = 0.2,
        test_fraction: HeldOutFraction = 0.2,
        seed: int = 0,
        split_seed: Optional[NonNegativeInt] = None,
        standardize: bool = True,
        test_each_epoch: bool = False,
    ) -> None:
        super().__init__()
        for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= fraction < 1:  # the type says so on the command line; here for use from Python
                raise AmalError(f"data.{name} must be in [0, 1), got {fraction}")
        if val_fraction + test_fraction >= 1:
            raise AmalError(
                f"data.val_fraction {val_fraction} + data.test_fraction {test_fraction} leave no training rows"
            )
        self.save_hyperparameters()

    def example_dims(self) -> dict[str, int]:
        return {"input_dim": NUM_FEATURES, "output_dim": 1}

    def make_splits(self) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
        path = self.hparams.path or bundled_housing_path()
        table = read_housing_table(path)
        split_seed = self.hparams.seed if self.hparams.split_seed is None else self.hparams.split_seed
        generator = torch.Generator().manual_seed(split_seed)
        order = torch.randperm(len(table), generator=generator)
        num_val = round(self.hparams.val_fraction * len(table))
        num_test = round(self.hparams.test_fraction * len(table))
        for name, count in (("val_fraction", num_val), ("test_fraction", num_test)):
            if count == 0 and self.hparams[name] > 0:  # asked for, but too few rows to give one
                raise AmalError(
                    f"{path}: too few rows ({len(table)}) for data.{name} {self.hparams[name]}: not one would be held "
                    f"out; use a larger table, or data.{name} 0 for none"
                )
        if num_val + num_test >= len(table):
            raise AmalError(f"{path}: {len(table)} rows leave none for training after the split")
        test_rows, val_rows, train_rows = order.split([num_test, num_val, len(table) - num_val - num_test])

        features, target = table[:, :NUM_FEATURES], table[:, NUM_FEATURES:].float()
        self.feature_scaling: Optional[tuple[torch.Tensor, torch.Tensor]] = None  # kept for a table to predict
        if self.hparams.standardize:
            std = features[train_rows].std(0, unbiased=False).clamp_min(1e-12)
            self.feature_scaling = features[train_rows].mean(0), std
        features = self.scaled(features)

        def subset(rows: torch.Tensor) -> TensorDataset:
            return TensorDataset(features[rows], target[rows])

        return subset(train_rows), subset(val_rows), subset(test_rows)

    def scaled(self, features: torch.Tensor) -> torch.Tensor:
        """The features as float32, standardized with the training rows' statistics if ``standardize`` is on."""
        if self.feature_scaling is not None:
            mean, std = self.feature_scaling
            features = (features - mean) / std
        return features.float()

    def predict_set(self) -> tuple[TensorDataset, str]:
        """The rows of ``predict_path`` (with their MEDV when the lines have 14 numbers), else the test split."""
        path = self.hparams.predict_path
        if path is None:
            return super().predict_set()
        table = read_housing_table(path, targets_optional=True, option="--data.predict_path")
        features = self.scaled(table[:, :NUM_FEATURES])
        if table.shape[1] == NUM_COLUMNS:
            return TensorDataset(features, table[:, NUM_FEATURES:].float()), str(path)
        return TensorDataset(features), str(path)
