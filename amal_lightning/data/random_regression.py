"""TME1's data as the course's skeleton ``tp1_descente.py`` draws it: random x (q×n) and y (q×p)."""

from typing import Literal, Union

import torch
from jsonargparse.typing import NonNegativeInt, PositiveInt
from torch.utils.data import TensorDataset

from amal_lightning.checks import check_memory
from amal_lightning.data.tensor_splits import TensorSplitsDataModule


class RandomRegressionDataModule(TensorSplitsDataModule):
    """q rows of n standard normal features and p standard normal targets, drawn from a seed.

    The targets do not depend on the features: the skeleton only checks that the hand-written
    gradients make the loss go down. Gradient descent can at best reach the least-squares fit
    of the training rows, an MSE (summed over the p outputs, divided by q) of p (q − n − 1) / q
    on average over draws: 2.16 with the defaults (2.30 for seed 0).

    The training rows are exactly the skeleton's: those of ``torch.manual_seed(seed)`` then
    ``torch.randn(q, n)`` and ``torch.randn(q, p)``. The validation rows, then the test rows, are
    drawn after them, the same way, from the same generator; they give the run a ``val/loss``
    (and ``amal test`` a set). There is nothing to learn: predicting 0 has an expected MSE of p
    on them, and fitting the training rows' noise only takes their loss higher.

    Args:
        num_examples: q, the training rows.
        input_dim: n, the features per row.
        output_dim: p, the targets per row.
        num_held_out: rows in each of the validation and test sets; 0 means neither loop runs.
        seed: fixes the data and the shuffling of mini-batches.
        batch_size: ``full`` for all q rows per step (the skeleton's batch gradient descent),
            or a number of rows.
        test_each_epoch: evaluate the test rows after each validation too, for a ``test/loss``
            curve in the same run. See :mod:`amal_lightning.data.evaluation`.
    """

    split_sizes = {"val": "set by data.num_held_out", "test": "set by data.num_held_out"}

    def __init__(
        self,
        num_examples: PositiveInt = 50,
        input_dim: PositiveInt = 13,
        output_dim: PositiveInt = 3,
        num_held_out: NonNegativeInt = 20,
        seed: int = 0,
        batch_size: Union[PositiveInt, Literal["full"]] = "full",
        test_each_epoch: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        rows = num_examples + 2 * num_held_out
        sizes = (
            f"num_examples {num_examples}, num_held_out {num_held_out}, input_dim {input_dim}, output_dim {output_dim}"
        )
        check_memory(f"{type(self).__name__} ({sizes})", rows * (input_dim + output_dim) * 4)  # float32 numbers

    def example_dims(self) -> dict[str, int]:
        return {"input_dim": self.hparams.input_dim, "output_dim": self.hparams.output_dim}

    def make_splits(self) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
        generator = torch.Generator().manual_seed(self.hparams.seed)

        def draw(rows: int) -> TensorDataset:
            x = torch.randn(rows, self.hparams.input_dim, generator=generator)
            return TensorDataset(x, torch.randn(rows, self.hparams.output_dim, generator=generator))

        held_out = self.hparams.num_held_out
        return draw(self.hparams.num_examples), draw(held_out), draw(held_out)
