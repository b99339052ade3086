"""Whole-batch loading shared by the datamodules.

The data sets here are small enough to live in memory as tensors, so a batch is a single
indexing operation (``tensor[indices]``) instead of one Python call per example followed by
a collate: that is most of the difference between Lightning and a hand-written loop.

The order of the batches depends only on the seed and the epoch, each process of a
multi-device run takes its own share of them, and the loader remembers how far into the
epoch it got, so a run resumed from any checkpoint (even one taken mid-epoch) sees exactly
the batches an uninterrupted run would have seen.
"""

import math
import os
from collections.abc import Iterator
from typing import Any, Optional, Union

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, SequentialSampler

from amal_lightning.errors import AmalError


class SeededBatchSampler(Sampler[torch.Tensor]):
    """Yields this process's batches of indices, in an order fixed by ``seed`` and the epoch.

    Lightning calls :meth:`set_epoch` before every epoch, so epoch ``e`` is shuffled the same
    way whether the run went straight through or was resumed; a ``RandomSampler`` draws from
    the global RNG instead and breaks exact resumption. With ``world_size`` processes, process
    ``rank`` takes every ``world_size``-th batch; the list of batches is padded by repeating
    it so that every process gets as many (a process without a batch would hang the others).
    """

    def __init__(
        self,
        num_examples: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: Optional[torch.device] = None,
    ) -> None:
        self.num_examples = num_examples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.device = device  # where the data lives: the epoch's order is moved there once
        self.epoch = 0
        self.skip = 0  # batches of the current epoch already seen before a resumption
        # The run's seed (`--seed_everything`, which Lightning keeps in PL_GLOBAL_SEED) changes the order
        # too, never the split: a study's seeds vary the initialization and the order over the same data.
        self.run_seed = int(os.environ.get("PL_GLOBAL_SEED") or 0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch + self.run_seed * 7_919_993)
            order = torch.randperm(self.num_examples, generator=generator)
        else:
            order = torch.arange(self.num_examples)
        batches = order.to(self.device).split(self.batch_size)
        # repeat from the start (as often as needed) so that every process gets len(self) batches
        batches = [batches[i % len(batches)] for i in range(len(self) * self.world_size)]
        skip, self.skip = self.skip, 0
        yield from batches[self.rank :: self.world_size][skip:]

    def __len__(self) -> int:
        return math.ceil(math.ceil(self.num_examples / self.batch_size) / self.world_size)


class ResumableLoader(DataLoader):
    """A DataLoader whose state (epoch, batches served) goes into Lightning's checkpoints.

    Lightning saves ``state_dict()`` of any loader that has one and hands it back through
    ``load_state_dict()`` on resumption; the sampler then skips what was already trained on.
    """

    def __init__(self, dataset: Dataset, sampler: SeededBatchSampler, num_workers: int = 0) -> None:
        super().__init__(
            dataset, sampler=sampler, batch_size=None, num_workers=num_workers, persistent_workers=num_workers > 0
        )
        self.served = 0

    def __iter__(self) -> Iterator[Any]:
        self.served = self.sampler.skip
        for batch in super().__iter__():
            self.served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "served": self.served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.set_epoch(state["epoch"])
        self.sampler.skip = state["served"] % len(self.sampler)


def batch_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    num_workers: int = 0,
    trainer: Optional[Any] = None,
    device: Optional[torch.device] = None,
) -> Union[ResumableLoader, list]:
    """A loader that asks ``dataset`` for each batch at once with a tensor of indices.

    ``trainer`` (the LightningModule's or DataModule's ``self.trainer``) gives this process's rank
    and the number of processes; ``device`` is where ``dataset`` keeps its tensors, so that the
    indices are made there. An empty split gives an empty list, which Lightning takes as
    "no such loop".
    """
    if len(dataset) == 0:  # type: ignore[arg-type]
        return []
    rank, world_size = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    sampler = SeededBatchSampler(len(dataset), batch_size, shuffle, seed, rank, world_size, device)  # type: ignore[arg-type]
    return ResumableLoader(dataset, sampler, num_workers)


class PredictionSet(Dataset):
    """A data set as ``amal predict`` reads it: in order, each batch fetched whole.

    Lightning's predict loop records which examples each batch held (the rows of the predictions
    file) only for a loader with a ``batch_sampler``. With one, PyTorch's loader asks the data set
    for a list of indices through ``__getitems__``, answered here with one indexing operation
    instead of one call per example. ``names`` (one per example, e.g. the files of a user's
    digits) are written beside the rows; ``device`` is where ``dataset`` keeps its tensors.
    """

    def __init__(
        self, dataset: Dataset, names: Optional[list[str]] = None, device: Optional[torch.device] = None
    ) -> None:
        self.dataset = dataset
        self.names = names
        self.device = device

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: Union[int, torch.Tensor]) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices: list[int]) -> Any:
        return self.dataset[torch.tensor(indices, device=self.device)]


def _as_fetched(batch: Any) -> Any:
    """The collate function of a :class:`PredictionSet`, whose batches come whole."""
    return batch


def prediction_loader(dataset: PredictionSet, batch_size: int, what: str) -> DataLoader:
    """The loader of ``predict_dataloader``: ``dataset`` in order, ``batch_size`` examples a batch.

    An empty ``dataset`` is an AmalError naming ``what`` it is (e.g. "the test split"), not a
    predictions file without rows.
    """
    if len(dataset) == 0:
        raise AmalError(f"nothing to predict: {what} is empty")
    sampler = BatchSampler(SequentialSampler(range(len(dataset))), batch_size, drop_last=False)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=_as_fetched)
