"""LightningCLI's parser, whose errors are raised as one line instead of printed with the whole usage.

:class:`AmalArgumentParser` raises the one-line translation of jsonargparse's message
(:func:`amal_lightning.parse_errors.one_line_error`) as a :class:`UsageError`, so that ``amal fit``,
:func:`amal_lightning.api.fit` and a study's check all give the same line; ``amal`` prints it.
"""

import re
from pathlib import Path
from typing import Any, NoReturn, Optional

from jsonargparse import Namespace
from lightning.pytorch.cli import LightningArgumentParser

from amal_lightning.api.added_loggers import unbuildable_logger
from amal_lightning.errors import UsageError
from amal_lightning.parse_errors import command_name, one_line_error


class AmalArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, whose errors come first, in one or two lines, with the likely option.
    Abbreviated options are refused (``--trainer.max_epoch`` is a typo, not ``--trainer.max_epochs``).

    jsonargparse prints the whole usage (some sixty lines) and then the error, nested in the
    union types it tried: a typo in one option name was hard to find at the bottom.
    """

    # Set while LightningCLI parses the hyperparameters saved in this checkpoint (``--ckpt_path``):
    # an error then is the file's, not the command line's.
    reading_checkpoint: Optional[Path] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def instantiate(self, cfg: Any, *args: Any, **kwargs: Any) -> Any:
        """The classes built; a logger its class refuses to build (``--trainer.logger.tracking_uri=nosuch://``)
        is one line naming it with the class's own reason, not jsonargparse's traceback of the union it tried."""
        try:
            return super().instantiate(cfg, *args, **kwargs)
        except ValueError:
            reason = unbuildable_logger(cfg.get("trainer.logger")) if isinstance(cfg, Namespace) else None
            if reason is None:
                raise
            raise UsageError(reason) from None

    def error(self, message: str, ex: Optional[Exception] = None) -> NoReturn:
        if not self.exit_on_error:  # parsing a checkpoint's hyperparameters: the caller handles it
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        if self.reading_checkpoint is not None:
            reason = re.sub(r" \(given \{.*\}\)$", "", one_line_error(message, parser).removeprefix("--"))
            raise UsageError(f"{self.reading_checkpoint}: a hyperparameter it holds is not accepted: {reason}")
        raise UsageError(one_line_error(message, parser), hint=f"all options: {command_name(parser)} --help")


# How every amal command builds LightningCLI: any model and data by their class path, read by this parser.
CLI_ARGUMENTS: dict[str, Any] = {"model_class": None, "datamodule_class": None, "parser_class": AmalArgumentParser}
