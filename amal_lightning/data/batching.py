"""Whole-batch loading shared by the datamodules.

The data sets here are small enough to live in memory as tensors, so a batch is a single
indexing operation (``tensor[indices]``) instead of one Python call per example followed by
a collate: that is most of the difference between Lightning and a hand-written loop.
"""

import math
from collections.abc import Iterator
from typing import Union

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class SeededBatchSampler(Sampler[torch.Tensor]):
    """Yields batches of indices in an order that depends only on ``seed`` and the epoch.

    Lightning calls :meth:`set_epoch` before every epoch, so epoch ``e`` is shuffled the same
    way whether the run went straight through or was resumed from a checkpoint; a
    ``RandomSampler`` draws from the global RNG instead and breaks exact resumption.
    """

    def __init__(self, num_examples: int, batch_size: int, shuffle: bool, seed: int = 0) -> None:
        self.num_examples = num_examples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.num_examples, generator=generator)
        else:
            order = torch.arange(self.num_examples)
        yield from order.split(self.batch_size)

    def __len__(self) -> int:
        return math.ceil(self.num_examples / self.batch_size)


def batch_loader(
    dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0, num_workers: int = 0
) -> Union[DataLoader, list]:
    """A DataLoader that asks ``dataset`` for each batch at once with a tensor of indices.

    An empty split gives an empty list, which Lightning takes as "no such loop".
    """
    if len(dataset) == 0:  # type: ignore[arg-type]
        return []
    sampler = SeededBatchSampler(len(dataset), batch_size, shuffle, seed)  # type: ignore[arg-type]
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
