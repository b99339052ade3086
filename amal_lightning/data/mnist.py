"""MNIST for TME3: the real 60k/10k set read through torchvision, or a bundled 5,000-digit sample."""

import re
import warnings
from importlib import resources
from typing import Literal, Optional, Union

import numpy as np
import torch
from jsonargparse.typing import NonNegativeInt, PositiveInt
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader

from amal_lightning.checks import HeldOutFraction
from amal_lightning.data.batching import PredictionSet, batch_loader, prediction_loader
from amal_lightning.data.digits import MNISTDigits, read_digit_folder
from amal_lightning.data.evaluation import HeldOutSplitsDataModule
from amal_lightning.data.idx import (
    IMAGE_SIZE,
    NUM_CLASSES,
    check_archives,
    download_mnist,
    idx_files_present,
    missing_files_message,
    raw_folder,
    read_mnist_split,
)
from amal_lightning.errors import AmalError

NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
SAMPLE_TEST_SIZE = 1000
STAGE_VERBS = {"fit": "training on", "validate": "validating on", "test": "testing on", "predict": "predicting with"}
# What torchvision's download error says of each mirror: `<urlopen error [Errno -2] Name or service not known>`.
URL_ERROR = re.compile(r"<urlopen error (?:\[Errno -?\d+\] )?([^>]*)>")


def short_reason(reason: str) -> str:
    """Why the full set is not used, in a few words: ``no network: Name or service not known`` for a download
    that failed on every mirror, the first clause of a longer reason (``amal prepare-data`` says it all)."""
    failures = URL_ERROR.findall(reason)
    if failures:
        return f"no network: {failures[-1]}"
    return reason.split(": ")[0] if len(reason) > 60 else reason


def bundled_sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 real MNIST digits shipped in the package (500 of each class)."""
    path = resources.files("amal_lightning.data") / "mnist_sample.npz"
    with resources.as_file(path) as file, np.load(file) as arrays:
        return torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"]).long()


class MNISTDataModule(HeldOutSplitsDataModule):
    """MNIST as flat 784-float vectors in [0, 1], with a validation split carved from train.

    Args:
        data_dir: folder of torchvision's ``MNIST/raw`` files (downloaded there if missing).
        predict_path: the digits for ``amal predict`` instead of the test split: a folder of 28×28
            PNG files or of one IDX file of images (and its labels); see :mod:`amal_lightning.data.digits`.
        source: ``full`` for the real 60k/10k set (downloading if needed, an error if that
            fails); ``sample`` for the 5,000 digits bundled with the package (4,000 to
            train and validate on, 1,000 to test on); ``auto`` for ``full`` when the files are
            there or can be downloaded, else ``sample`` with a warning.
        batch_size: examples per training step.
        num_workers: DataLoader worker processes; 0 is fastest here since batches are
            slices of an in-memory tensor.
        val_fraction: share of the training images held out for validation.
        seed: fixes the validation split and the shuffling.
        download: whether missing files may be downloaded; by default yes, except inside a SLURM
            job, whose compute nodes are usually offline (run ``amal prepare-data`` on the login
            node first).
        on_device: keep the images on the trainer's device (a GPU: 47 MB for all of MNIST, moved
            once), so that each batch is cut there by index instead of being copied from the
            host at every step. Turn it off if GPU memory is short.
        test_each_epoch: evaluate the test split after each validation too, for ``test/loss`` and
            ``test/acc`` curves in the same run (see :mod:`amal_lightning.data.evaluation`); off by
            default, since it costs a pass over the test images (10,000 of them) every epoch.

    After ``setup``, ``used_source`` says which data the run reads (``full`` or ``sample``); it and
    the sizes of the three splits join the hyperparameters, so that TensorBoard's hparams and the
    checkpoints show what a model was trained on, whatever ``source`` asked for.
    """

    split_sizes = {"val": "set by data.val_fraction", "test": "the test IDX files hold no images"}

    def __init__(
        self,
        data_dir: str = "data",
        predict_path: Optional[str] = None,
        source: Literal["auto", "full", "sample"] = "auto",
        batch_size: PositiveInt = 128,
        num_workers: NonNegativeInt = 0,
        val_fraction: HeldOutFraction = 1 / 12,
        seed: int = 0,
        download: Optional[bool] = None,
        on_device: bool = True,
        test_each_epoch: bool = False,
    ) -> None:
        super().__init__()
        if not 0 <= val_fraction < 1:
            raise AmalError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
        self.save_hyperparameters()
        # One download for the whole run, by global rank 0: the nodes of a cluster share `data_dir`.
        self.prepare_data_per_node = False
        self.train_set: Optional[MNISTDigits] = None
        self.used_source: Optional[Literal["full", "sample"]] = None
        # Why `auto` did not get the full set, as prepare_data found it: quoted in the notice.
        self.fallback_reason: Optional[str] = None

    def example_dims(self) -> dict[str, int]:
        return {"input_dim": NUM_PIXELS, "num_classes": NUM_CLASSES}

    def _why_downloads_are_off(self) -> Optional[str]:
        download = self.hparams.download
        if download is False:
            return "data.download is false"
        with warnings.catch_warnings():  # asked on a login node, Lightning's answer comes with a hint to use srun
            warnings.filterwarnings("ignore", message=".*The .srun. command is available on your system")
            in_slurm_job = SLURMEnvironment.detect()
        if download is None and in_slurm_job:  # compute nodes are usually offline
            return "downloads are off inside a SLURM job: run `amal prepare-data` on the login node first"
        return None

    def _try_fetch(self) -> Optional[str]:
        """Fetches the full set unless its files are there; returns why it could not, or None."""
        data_dir = self.hparams.data_dir
        if idx_files_present(data_dir):
            return None
        check_archives(data_dir)  # a damaged one is an error, not a reason to fall back to the sample
        downloads_off = self._why_downloads_are_off()
        if downloads_off and not idx_files_present(data_dir, ".gz"):  # unpacking the archives needs no network
            return downloads_off
        try:
            download_mnist(data_dir)
        except Exception as error:  # no network, a proxy, a full disk: all mean "not available"
            return " ".join(str(error).split()) or type(error).__name__  # torchvision's names each mirror's error
        return None

    def fetch(self) -> None:
        """Downloads (or unpacks the .gz files of) the full set into ``data_dir`` now, or raises AmalError.

        Never falls back to the sample, whatever ``source`` says: ``amal prepare-data`` calls it where
        there is a network so that offline compute nodes find the full set. ``download`` still
        applies: when it is off, only ``.gz`` files already in place can be unpacked.
        """
        reason = self._try_fetch()
        if reason is not None:
            raise AmalError(missing_files_message(self.hparams.data_dir, reason))

    def source_to_use(self, fetch: bool = False) -> Literal["full", "sample"]:
        """Which data to read, ``full`` or ``sample``: the one place where ``source`` is applied.

        ``full`` without its files is an AmalError, never the sample; ``auto`` without them is the
        sample, and ``fallback_reason`` says why. With ``fetch`` the missing files are fetched first:
        only ``prepare_data`` passes it, so that downloads happen there and nowhere else.
        """
        source, data_dir = self.hparams.source, self.hparams.data_dir
        if source == "sample":
            return "sample"
        if idx_files_present(data_dir):
            return "full"
        reason = self._try_fetch() if fetch else self.fallback_reason or "the files are missing"
        if reason is None:
            return "full"
        if source == "full":
            raise AmalError(missing_files_message(data_dir, reason))
        self.fallback_reason = reason
        return "sample"

    def prepare_data(self) -> None:
        """Fetches the full set if ``source`` wants it and it is missing: the only place that downloads.

        Lightning runs it before ``setup``, on global rank 0 only (the nodes share ``data_dir``).
        Predicting a user's own digits needs no MNIST at all.
        """
        if not (self.hparams.predict_path and self.trainer is not None and self.trainer.predicting):
            self.source_to_use(fetch=True)

    def setup(self, stage: str) -> None:
        if stage == "predict" and self.hparams.predict_path is not None:  # the user's digits, not MNIST's
            self.predict_set = PredictionSet(*read_digit_folder(self.hparams.predict_path))
            return
        if self.train_set is not None:
            return
        used, data_dir = self.source_to_use(), self.hparams.data_dir
        if used == "full":
            train_images, train_labels = read_mnist_split(data_dir, "train")
            test_images, test_labels = read_mnist_split(data_dir, "test")
        else:
            images, labels = bundled_sample()
            order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.hparams.seed))
            test_rows, train_rows = order[:SAMPLE_TEST_SIZE], order[SAMPLE_TEST_SIZE:]
            train_images, train_labels = images[train_rows], labels[train_rows]
            test_images, test_labels = images[test_rows], labels[test_rows]

        generator = torch.Generator().manual_seed(self.hparams.seed)
        order = torch.randperm(len(train_labels), generator=generator)
        num_val = round(self.hparams.val_fraction * len(order))
        val_rows, train_rows = order[:num_val], order[num_val:]
        if len(train_rows) == 0:
            raise AmalError(f"data.val_fraction {self.hparams.val_fraction} leaves no training images")
        self.train_set = MNISTDigits(train_images[train_rows], train_labels[train_rows])
        self.val_set = MNISTDigits(train_images[val_rows], train_labels[val_rows])
        self.test_set = MNISTDigits(test_images, test_labels)
        self._record_used_data(used, stage)
        if self.hparams.on_device and self.trainer is not None:
            for dataset in (self.train_set, self.val_set, self.test_set):
                dataset.to(self.trainer.strategy.root_device)
        self.predict_set = PredictionSet(self.test_set, device=self.test_set.images.device)

    def predict_dataloader(self) -> DataLoader:
        """The test split in order, or the digits of ``predict_path``, ``batch_size`` at a time."""
        what = self.hparams.predict_path or "the test split"
        return prediction_loader(self.predict_set, self.hparams.batch_size, what)

    def _record_used_data(self, used: Literal["full", "sample"], stage: str) -> None:
        self.used_source = used
        splits = {"train": self.train_set, "val": self.val_set, "test": self.test_set}
        sizes = {f"{name}_images": len(dataset) for name, dataset in splits.items()}
        # save_hyperparameters, not hparams.update: loggers show `hparams_initial`, which only it refreshes.
        # load_from_checkpoint passes back only __init__'s arguments, so these extra keys do not break it.
        fell_back = used == "sample" and self.hparams.source == "auto"  # its whole reason: hparams.yaml, not the screen
        details = {"fallback_reason": self.fallback_reason} if fell_back else {}
        self.save_hyperparameters({"used_source": used, **sizes, **details})
        if fell_back:
            # A line of the run's own output, not a Python warning: it must show even where warnings are filtered.
            rank_zero_info(
                f"MNIST: {STAGE_VERBS.get(stage, 'using')} the 5,000-digit sample bundled ({sizes['train_images']:,} "
                f"training, {sizes['val_images']:,} validation, {sizes['test_images']:,} test), not the full set, "
                f"which is not in {raw_folder(self.hparams.data_dir)}/ ({short_reason(self.fallback_reason or '')})"
            )

    def _loader(self, dataset: MNISTDigits, shuffle: bool) -> Union[DataLoader, list]:
        num_workers = self.hparams.num_workers
        if dataset.images.device.type != "cpu" and num_workers > 0:
            rank_zero_warn("data.num_workers is ignored while data.on_device keeps the images on the GPU")
            num_workers = 0
        return batch_loader(
            dataset,
            self.hparams.batch_size,
            shuffle=shuffle,
            seed=self.hparams.seed,
            num_workers=num_workers,
            trainer=self.trainer,
            device=dataset.images.device,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)
