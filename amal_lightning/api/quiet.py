"""Lightning's boilerplate lines and the warnings expected in amal's runs, left out of what a run prints.

Every run used to print what hardware is (not) available, a tip to install another package,
and warnings that are expected here (a test of a checkpoint from another run folder, a resumed
run going on in its non-empty folder): they read like errors and hid what mattered.
"""

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator

# Lines of Lightning's own logging that say nothing about this run.
BOILERPLATE = (
    "GPU available",
    "TPU available",
    "HPU available",
    "💡 Tip",
    "You are using a CUDA device",
    "`Trainer.fit` stopped",  # the fit's summary says why it stopped
    # before every fit, and before the one line of a config that cannot be built; the seed is the config's
    # (`seed_everything`), saved in the run's config.yaml, and a study's line names it
    "Seed set to",
)
# Warnings that are expected in amal's run folders, with the reason.
EXPECTED_WARNINGS = (
    r".*The dirpath has changed from.*",  # `amal test` of another run's checkpoint logs to a run of its own
    r".*Checkpoint directory .* exists and is not empty.*",  # a resumed fit goes on in its own folder
    r".*does not have many workers.*",  # in-memory tensors fetched a batch at a time: workers only add copies
    r".*configure_optimizers. returned .None.*",  # the gradient-descent modules update their weights themselves
    r".*smaller than the logging interval.*",  # the modules log epoch means only
    r".*isinstance\(treespec, LeafSpec\).*",  # raised inside Lightning by newer torch releases
    # a login node has `srun`: amal runs its SLURM jobs through sbatch scripts that call srun themselves
    r".*The .srun. command is available on your system but is not used.*",
)


# What Lightning says when the test after a fit loads best.ckpt: the fit's own summary says which it tested.
TEST_AFTER_FIT_LINES = ("Restoring states from the checkpoint path at", "Loaded model weights from the checkpoint at")
# What Lightning says of the temporary checkpoint the learning-rate finder saves and restores: a detail of its own.
LR_FIND_LINES = (
    "`weights_only` was not set",
    "Restoring states from the checkpoint path at",
    "Restored all states from the checkpoint at",
)


# What Lightning puts before a line in a SLURM job or a multi-process run (`rank_prefixed_message`).
RANK_PREFIX = re.compile(r"\[rank: \d+\] ")


class _DropLines(logging.Filter):
    """Leaves out the log lines that start with one of ``starts``, after the process's rank if any."""

    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not RANK_PREFIX.sub("", str(record.getMessage()), count=1).startswith(self.starts)


# The logger of Lightning's checkpoint loading and saving (its records do not pass the filters of its parents).
CHECKPOINT_CONNECTOR = "lightning.pytorch.trainer.connectors.checkpoint_connector"


# The logger of Lightning's `seed_everything` (its records do not pass the filters of its parents either).
SEED_LOGGER = "lightning.fabric.utilities.seed"


# One instance: a logger adds a filter it already holds only once, so the many fits of one
# `amal study` process do not pile up copies.
_DROP_BOILERPLATE = _DropLines(BOILERPLATE)


def quiet_lightning() -> None:
    """Leaves Lightning's boilerplate lines and the expected warnings out of ``amal``'s output."""
    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric", SEED_LOGGER):
        logging.getLogger(name).addFilter(_DROP_BOILERPLATE)
    for pattern in EXPECTED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


@contextlib.contextmanager
def without_lines(starts: tuple[str, ...]) -> Iterator[None]:
    """Lightning's log lines that start with one of ``starts`` are left out while this lasts (only then:
    a resumed fit still says which checkpoint it restored)."""
    names = ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", CHECKPOINT_CONNECTOR)
    loggers = [logging.getLogger(name) for name in names]
    dropping = _DropLines(starts)
    for logger in loggers:
        logger.addFilter(dropping)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(dropping)
