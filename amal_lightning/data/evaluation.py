"""The test split evaluated after each validation, in the same run: ``--data.test_each_epoch true``.

TME2 asks for the training and the test loss during training, and the labs' reports plot both.
With the option, a datamodule's ``val_dataloader()`` returns two loaders, the validation split
then the test split, so Lightning's validation loop goes through both after every training
epoch. The models send the second loader's batches to their ``test`` metrics
(:func:`amal_lightning.batches.evaluation_stage`) and log them once per epoch as ``test/loss`` (and ``test/acc``,
``test/mse``) beside ``val/loss``. Model selection does not change: ``best.ckpt`` monitors
``val/loss``, which only the first loader feeds.
"""

from typing import Literal, Union

import lightning as L
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset

from amal_lightning.errors import AmalError


class HeldOutSplitsDataModule(L.LightningDataModule):
    """The loaders of the held-out splits (validation, test), the test split joining validation on demand.

    The subclass builds ``val_set`` and ``test_set`` in ``setup``, makes the loader of a split in
    ``_loader(dataset, shuffle)`` (an empty list for an empty split: no such loop) and has a
    ``test_each_epoch`` hyperparameter. ``split_sizes`` says what sets the size of each held-out
    split, for the error of ``amal validate`` or ``amal test`` on an empty one.
    """

    val_set: Dataset
    test_set: Dataset
    split_sizes = {"val": "set by data.val_fraction", "test": "set by data.test_fraction"}

    def _loader(self, dataset: Dataset, shuffle: bool) -> Union[DataLoader, list]:
        raise NotImplementedError

    def example_dims(self) -> dict[str, int]:
        """What each example holds, by the names of the model options that must match it.

        ``input_dim`` (its features), ``output_dim`` (its targets), ``num_classes`` (the labels'
        classes): the model compares them with its own in its ``setup``. Empty: nothing to compare.
        """
        return {}

    def _check_not_empty(self, loader: Union[DataLoader, list], split: Literal["val", "test"]) -> None:
        """Fails with one line if ``amal validate`` or ``amal test`` is to go through an empty split.

        Within a fit, an empty split only turns its loop off (a fraction of 0 is how one asks for
        that); for the subcommand whose whole point is that split, Lightning would measure nothing
        and exit with status 0.
        """
        command = {"val": TrainerFn.VALIDATING, "test": TrainerFn.TESTING}[split]
        if isinstance(loader, list) and self.trainer is not None and self.trainer.state.fn == command:
            name = {"val": "validation", "test": "test"}[split]
            raise AmalError(
                f"the {name} split is empty ({self.split_sizes[split]}): amal {command.value} has nothing to evaluate"
            )

    def val_dataloader(self) -> Union[DataLoader, list]:
        validation = self._loader(self.val_set, shuffle=False)
        self._check_not_empty(validation, "val")
        if not self.hparams.test_each_epoch:
            return validation
        test = self._loader(self.test_set, shuffle=False)
        if isinstance(validation, list) or isinstance(test, list):  # an empty split: no loader
            rank_zero_warn("data.test_each_epoch needs a validation and a test split: no test curve in this run")
            return validation
        return [validation, test]  # in the order of TEST_LOADER_INDEX

    def test_dataloader(self) -> Union[DataLoader, list]:
        test = self._loader(self.test_set, shuffle=False)
        self._check_not_empty(test, "test")
        return test
