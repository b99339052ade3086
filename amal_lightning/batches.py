"""What a batch is, and which stage's metrics it feeds: the contract between the datamodules and the models.

A batch is ``(x, y)``, or ``(x,)`` for data without targets (a user's own table or digits given
to ``amal predict``). With ``--data.test_each_epoch true`` a datamodule's ``val_dataloader()``
returns two loaders, the validation split then the test split, and the models send the second
loader's batches to their ``test`` metrics.
"""

from collections.abc import Sequence
from typing import Literal

import torch

Batch = tuple[torch.Tensor, torch.Tensor]
TEST_LOADER_INDEX = 1  # the test split's place among the validation loop's loaders


def evaluation_stage(dataloader_idx: int) -> Literal["val", "test"]:
    """The stage whose metrics a batch of the validation loop's loader ``dataloader_idx`` feeds."""
    return "test" if dataloader_idx == TEST_LOADER_INDEX else "val"


def keep_first(kept: list[Batch], batch: Batch, count: int) -> None:
    """Appends to ``kept`` what ``batch`` holds of the first ``count`` examples that ``kept`` still lacks.

    Copies, not views: a view of a few rows would keep the whole batch in memory.
    """
    missing = count - sum(len(x) for x, _ in kept)
    if missing > 0:
        x, y = batch
        kept.append((x[:missing].clone(), y[:missing].clone()))


def known_targets(batch: Sequence[torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """``{name: targets}`` for a batch ``(x, y)``, ``{}`` for a batch ``(x,)`` of data without them.

    The first columns of a model's predictions after the index: the true label or value beside
    the predicted one, where the data has it (the test split, a user's table with its last column,
    an IDX folder with its labels file).
    """
    return {name: batch[1]} if len(batch) > 1 else {}
