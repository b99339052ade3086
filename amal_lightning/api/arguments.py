"""A command line's arguments checked before jsonargparse and LightningCLI act on them.

Some values make jsonargparse or Lightning hang, fail with a traceback or silently misbehave:
a FIFO given as ``--config`` (opened at once, and waited on for ever), a config that is not
UTF-8 text, a Trainer number that Lightning divides by. These checks turn each into one line.
"""

import argparse
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from amal_lightning.checks import shown
from amal_lightning.errors import AmalError, UsageError
from amal_lightning.words import given_values


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


def check_config_files(argv: Sequence[str]) -> None:
    """Fails with one line on a ``--config`` file that is not UTF-8 text or holds no mapping of sections.

    jsonargparse ends the first in a traceback and says only ``Unexpected config`` of the others,
    without the file's name. A file it cannot parse as YAML is left to it: it names the line.
    """
    for value in given_values(CONFIG_OPTIONS, argv):  # as `--config X` or `--config=X`
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


def check_arguments(argv: Sequence[str]) -> None:
    """The checks of a command line that must come before jsonargparse reads it (its files, above all)."""
    check_no_special_files(argv)  # jsonargparse would open a FIFO given as --config, and wait forever
    check_config_files(argv)
