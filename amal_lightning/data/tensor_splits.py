"""Small tables held in memory as train, validation and test TensorDatasets (TME1 and TME2)."""

from typing import Optional, Union

from torch.utils.data import DataLoader, TensorDataset

from amal_lightning.data.batching import PredictionSet, batch_loader, prediction_loader
from amal_lightning.data.evaluation import HeldOutSplitsDataModule


class TensorSplitsDataModule(HeldOutSplitsDataModule):
    """Serves the three splits that a subclass builds in :meth:`make_splits`, once per run.

    The subclass's hyperparameters include ``batch_size`` (``full`` for the whole training split
    per step, i.e. batch gradient descent, or a number of rows), ``seed`` (the shuffling) and
    ``test_each_epoch`` (see :mod:`amal_lightning.data.evaluation`). Validation and test batches
    always hold the whole split: they only measure, and the test curve costs one more batch per epoch.
    """

    def __init__(self) -> None:
        super().__init__()
        self.train_set: Optional[TensorDataset] = None

    def make_splits(self) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
        """The training, validation and test sets (an empty one means no such loop)."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        if self.train_set is None:
            self.train_set, self.val_set, self.test_set = self.make_splits()

    def _loader(self, dataset: TensorDataset, shuffle: bool) -> Union[DataLoader, list]:
        batch_size = self.hparams.batch_size
        if batch_size == "full" or not shuffle:
            batch_size = max(len(dataset), 1)
        shuffle = shuffle and batch_size < len(dataset)
        return batch_loader(dataset, batch_size, shuffle=shuffle, seed=self.hparams.seed, trainer=self.trainer)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def predict_set(self) -> tuple[TensorDataset, str]:
        """What ``amal predict`` predicts, and what to call it in a message: the test split, unless overridden."""
        return self.test_set, "the test split"

    def predict_dataloader(self) -> DataLoader:
        """The rows to predict, in order and in one batch, as the test split is measured."""
        dataset, what = self.predict_set()
        return prediction_loader(PredictionSet(dataset), max(len(dataset), 1), what)
