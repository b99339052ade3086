"""The values of ``amal submit``'s options that are written into an sbatch script, as jsonargparse types."""

import argparse
import re
from typing import Optional

from amal_lightning.errors import AmalError

# `amal submit --time`, the whole value (fullmatch), in ASCII digits.
TIME_LIMIT = re.compile(r"([0-9]+-)?[0-9]{1,2}:[0-5][0-9]:[0-5][0-9]")
# A SLURM partition (or a comma-separated list of them) or account. It is written unquoted on an
# #SBATCH line, whose rest sbatch reads as options: a space would add one of its own.
SLURM_NAME = re.compile(r"[A-Za-z0-9_.,:+@-]+")


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
