"""Lightning's learning-rate range test on a config's model and data, for ``amal lr-find``.

``Tuner.lr_find`` trains ``num_training`` steps with a learning rate growing from ``min_lr`` to
``max_lr`` and suggests the rate where the loss falls fastest. It runs here without amal's run
folders, checkpoints, logger or divergence guard (a range test drives the loss up on purpose), in
a temporary folder that Lightning's own checkpoint of the weights goes to and that is removed: it
changes no file. Lightning cannot write its suggestion into a model whose optimizer is given as a
callable (``--model.optimizer``, Lightning#16787), so it is returned for the caller to say as the
option to use.
"""

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.tuner import Tuner

from amal_lightning.api.arguments import check_arguments
from amal_lightning.api.parser import CLI_ARGUMENTS
from amal_lightning.api.quiet import LR_FIND_LINES, without_lines
from amal_lightning.api.scope import run_scope
from amal_lightning.errors import AmalError, as_user_errors


@dataclass(frozen=True)
class LearningRateSearch:
    """What the range test found: the rates tried, the smoothed loss at each (Lightning's, which its suggestion
    reads), the suggestion or None, and each step's own loss (``raw_losses``, as many as the rates)."""

    model: str
    learning_rates: list[float]
    losses: list[float]
    suggestion: Optional[float]
    raw_losses: list[float] = field(default_factory=list)


# Lightning's finder smooths the losses: avg = BETA * avg + (1 - BETA) * loss, then divides by 1 - BETA ** (step + 1),
# its global step being already k + 1 at the k-th step's end (so the first point is about half the first loss).
BETA = 0.98


def unsmoothed(smoothed: Sequence[float], beta: float = BETA) -> list[float]:
    """Each step's own loss, from the finder's smoothed curve (its callback keeps only that one): the moving average
    undone. A step without a loss (nan) leaves the average as it was, as in the finder."""
    losses, average = [], 0.0
    for index, value in enumerate(smoothed):
        if not math.isfinite(value):
            losses.append(value)
            continue
        new_average = value * (1 - beta ** (index + 2))
        losses.append((new_average - beta * average) / (1 - beta))
        average = new_average
    return losses


def find_learning_rate(
    argv: Sequence[str], min_lr: float = 1e-8, max_lr: float = 1.0, num_training: int = 100
) -> LearningRateSearch:
    """Runs the range test on the model and data of ``amal fit ARGV`` (``["--config", X, ...]``, no subcommand)."""
    argv = [str(word) for word in argv]
    check_arguments(argv)
    scratch_dir = tempfile.TemporaryDirectory(prefix="amal-lr-find-")
    with scratch_dir as scratch, as_user_errors(), run_scope(), without_lines(LR_FIND_LINES):
        cli = LightningCLI(
            **CLI_ARGUMENTS,
            seed_everything_default=0,
            run=False,
            save_config_callback=None,
            args=argv,
            trainer_defaults={"logger": False, "enable_checkpointing": False, "default_root_dir": scratch},
        )
        model = cli.model
        if not model.automatic_optimization or model.configure_optimizers() is None:
            raise AmalError(
                f"{type(model).__name__} has no optimizer to tune (it writes its own gradient descent): "
                "amal lr-find is for models with --model.optimizer"
            )
        finder = Tuner(cli.trainer).lr_find(
            model,
            datamodule=cli.datamodule,
            min_lr=min_lr,
            max_lr=max_lr,
            num_training=num_training,
            update_attr=False,
        )
    results: dict[str, Any] = finder.results if finder is not None else {"lr": [], "loss": []}
    suggestion = finder.suggestion() if finder is not None and len(results["lr"]) > 11 else None
    smoothed = list(results["loss"])
    return LearningRateSearch(type(model).__name__, list(results["lr"]), smoothed, suggestion, unsmoothed(smoothed))
