"""What the options and files accept, checked before anything is built, read or trained.

Ranges are jsonargparse types in the constructors' signatures, so that LightningCLI refuses a bad
value as a usage error while parsing (a checkpoint's hyperparameters are parsed the same way).
What a type cannot say (a file that must be a regular file, a model too large for the memory) is
checked here and raised as an :class:`~amal_lightning.errors.AmalError`, which ``amal`` prints
as one line.
"""

import argparse
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Optional, Union

import torch
import yaml
from jsonargparse.typing import restricted_number_type
from torch import nn

from amal_lightning.errors import AmalError, UsageError, first_line

# A share of the rows (or images) held out for validation or testing: 0 turns that loop off,
# and some must be left to train on.
HeldOutFraction = restricted_number_type("HeldOutFraction", float, [(">=", 0), ("<", 1)], docstring="a share in [0, 1)")

# `amal submit --time`, the whole value (fullmatch), in ASCII digits.
TIME_LIMIT = re.compile(r"([0-9]+-)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]")
# A SLURM partition (or a comma-separated list of them) or account. It is written unquoted on an
# #SBATCH line, whose rest sbatch reads as options: a space would add one of its own.
SLURM_NAME = re.compile(r"[A-Za-z0-9_.,:+@-]+")
# Training keeps four float32 numbers per parameter: the weight, its gradient and Adam's two moments.
TRAINING_BYTES_PER_PARAMETER = 16
GIB = 2**30


def shown(path: Union[str, Path]) -> str:
    """A path as a one-line message shows it: quoted, with escapes, if it holds a line break or other control."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def regular_file(path: Union[str, Path], option: str) -> Path:
    """``path`` if it is a regular file; otherwise an AmalError naming ``option`` and what is there.

    Checked with ``os.stat`` before anything opens it: opening a FIFO for reading blocks until a
    writer comes, which for a mistyped path is forever.
    """
    path, where = Path(path), f"{option} {shown(path)}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise AmalError(f"{where}: no such file") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL character in the path
        raise AmalError(f"{where}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    if stat.S_ISDIR(mode):
        raise AmalError(f"{where}: a folder, not a file")
    if not stat.S_ISREG(mode):
        raise AmalError(f"{where}: not a regular file (a FIFO, a socket or a device)")
    return path


def check_no_special_files(argv: Sequence[str]) -> None:
    """Fails with one line if a command-line value names a FIFO, a socket or a device.

    jsonargparse opens ``--config`` files (and sub-config files given to ``--model``, ``--data``…)
    as soon as it parses them, before any of amal's own checks: a FIFO there would block forever.
    Nothing amal reads is meant to be anything but a regular file or a folder.
    """
    for argument in argv:
        value = argument.split("=", 1)[1] if argument.startswith("-") and "=" in argument else argument
        if not value or value.startswith("-"):
            continue
        try:
            mode = os.stat(value).st_mode
        except (OSError, ValueError):  # not a path (or not one that exists): not ours to judge here
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise AmalError(f"{shown(value)}: not a regular file (a FIFO, a socket or a device); amal reads only files")


CONFIG_OPTIONS = ("--config", "-c")  # LightningCLI's names for a config file


def config_files(argv: Sequence[str]) -> list[str]:
    """The values given to ``--config`` (or ``-c``) on a command line, as ``--config X`` or
    ``--config=X``: the files jsonargparse will read before any of amal's checks run."""
    files = []
    for index, argument in enumerate(argv):
        name, equals, value = argument.partition("=")
        if name in CONFIG_OPTIONS and equals:
            files.append(value)
        elif argument in CONFIG_OPTIONS and index + 1 < len(argv):
            files.append(argv[index + 1])
    return files


def check_config_files(argv: Sequence[str]) -> None:
    """Fails with one line on a ``--config`` file that is not UTF-8 text or holds no mapping of sections.

    jsonargparse ends the first in a traceback and says only ``Unexpected config`` of the others,
    without the file's name. A file it cannot parse as YAML is left to it: it names the line.
    """
    for value in config_files(argv):
        if not os.path.isfile(value):
            continue  # missing: jsonargparse says so with the option's name
        try:
            text = Path(value).read_bytes().decode("utf-8")
        except OSError as error:
            raise AmalError(f"--config {shown(value)}: cannot read it ({error.strerror or error})") from None
        except UnicodeDecodeError as error:
            raise AmalError(
                f"--config {shown(value)}: not UTF-8 text (byte {error.start}); a config is a YAML file"
            ) from None
        try:
            content = yaml.safe_load(text)
        except yaml.YAMLError:
            continue
        if not isinstance(content, dict):
            found = "empty" if content is None else f"a {type(content).__name__}"
            raise AmalError(f"--config {shown(value)}: {found}, not a mapping of sections (trainer:, model:, data:)")


def available_memory() -> int:
    """Bytes of memory this process may still use: the system's available memory, or its cgroup's limit if lower."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            limits.append(int(limit))
    except OSError:
        pass
    if not limits:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(limits)


def check_memory(what: str, needed: int) -> None:
    """Fails with one line if ``needed`` bytes, what ``what`` takes, are more than the memory available now."""
    available = available_memory()
    if needed > available:
        raise AmalError(
            f"{what}: {needed / GIB:,.1f} GiB, more than the {available / GIB:,.1f} GiB of memory available"
        )


def linear_parameters(sizes: Sequence[int]) -> int:
    """The parameters of a stack of linear layers of these sizes, from the input's: weights and biases."""
    return sum((inner + 1) * outer for inner, outer in zip(sizes[:-1], sizes[1:], strict=True))


def check_model_size(model: nn.Module, num_parameters: int) -> None:
    """Refuses a model whose training could not fit in memory, before a single weight is allocated.

    A per-layer bound would not do: a width that is fine for one layer is not for a stack of
    square layers, and the limit depends on the machine. The constructors count their parameters
    from their options instead (Python integers, which cannot overflow), and training needs
    :data:`TRAINING_BYTES_PER_PARAMETER` bytes for each; more than the memory available now is
    an AmalError naming the model's size options (its integer hyperparameters), instead of an
    allocation failure, or the kernel killing the process, while the layers are built. The model
    is built on the host first, so host memory is the bound even for a run on a GPU.
    """
    hparams = getattr(model, "hparams", {})
    sizes = ", ".join(
        f"{name} {value}" for name, value in hparams.items() if isinstance(value, int) and not isinstance(value, bool)
    )
    what = f"{type(model).__name__} ({sizes}) has {num_parameters:,} parameters to train"
    check_memory(what, num_parameters * TRAINING_BYTES_PER_PARAMETER)


def check_optimizer(optimizer: Callable[[Iterable[torch.Tensor]], torch.optim.Optimizer], model: nn.Module) -> None:
    """Builds the optimizer once over the model's parameters, so that its own checks fail in one line now.

    ``torch.optim`` checks its settings (a negative learning rate, betas outside [0, 1), a negative
    weight decay) only when it is built, in ``configure_optimizers`` once training has started.
    Building one holds no state yet (Adam's moments come with the first step), so this costs nothing.
    """
    try:
        optimizer(model.parameters())
    except ValueError as error:
        raise AmalError(f"model.optimizer: {first_line(error)}") from None


def positive_int(text: str) -> int:
    """An argparse type: a positive integer (``amal submit --nodes``, ``--gpus-per-node``...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def time_limit(text: str) -> str:
    """An argparse type: a SLURM time limit, ``HH:MM:SS`` or ``D-HH:MM:SS``."""
    if not TIME_LIMIT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected HH:MM:SS or D-HH:MM:SS, got {text!r}")
    return text


def check_slurm_name(option: str, value: Optional[str]) -> None:
    """Fails with one line unless ``value`` (if given) is a plain SLURM name: see :data:`SLURM_NAME`."""
    if value is not None and not SLURM_NAME.fullmatch(value):
        raise AmalError(f"{option} {value!r}: not a SLURM name (letters, digits and . , _ - : + @, no spaces)")


# Trainer options that Lightning takes without checking, with what each accepts: 0 for
# `check_val_every_n_epoch` or `val_check_interval` divides by zero inside the loop, a negative
# `gradient_clip_val` turns clipping off without a word, a negative minimum is ignored.
TRAINER_RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "check_val_every_n_epoch": (lambda n: n >= 1, "validate every N epochs, 1 or more, or null for by steps only"),
    "val_check_interval": (lambda v: v > 0, "a share of the epoch in (0, 1] or a number of batches, 1 or more"),
    "min_epochs": (lambda n: n >= 0, "a number of epochs, 0 or more"),
    "min_steps": (lambda n: n >= 0, "a number of steps, 0 or more"),
    "num_sanity_val_steps": (lambda n: n >= -1, "a number of batches, 0 or more, or -1 for all"),
    "accumulate_grad_batches": (lambda n: n >= 1, "a number of batches, 1 or more"),
    "gradient_clip_val": (lambda v: v >= 0, "a norm or value, 0 or more (0: no clipping)"),
    "log_every_n_steps": (lambda n: n >= 1, "a number of steps, 1 or more"),
}
SEED_RANGE = (0, 2**32 - 1)  # what numpy's generator accepts, and so Lightning's seed_everything


def check_run_options(config: argparse.Namespace) -> None:
    """Fails with one line on a ``--trainer`` number or ``--seed_everything`` that Lightning would
    take and then fail on with a traceback, or silently misuse (:data:`TRAINER_RANGES`)."""
    trainer = config.get("trainer") or {}
    for option, (accepted, accepts) in TRAINER_RANGES.items():
        value = trainer.get(option)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not accepted(value):
            raise UsageError(f"--trainer.{option} {value}: expected {accepts}")
    seed = config.get("seed_everything")
    if isinstance(seed, int) and not isinstance(seed, bool) and not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise UsageError(f"--seed_everything {seed}: expected a seed from {SEED_RANGE[0]} to {SEED_RANGE[1]}, or true")
