"""Every variant's command line checked by ``amal fit``'s own parser before anything trains.

A misspelt option in the ninth variant of a study should stop the study at once, not after
eight trainings. The check parses each variant's full ``amal fit`` command line with the real
parser (LightningCLI's, with the config files, class paths and types it implies) and stops right
after parsing: no run folder is made, no model is built, no data is read.
"""

import contextlib
import io
import re
import sys
from collections.abc import Iterator
from typing import Any

from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from amal_lightning.cli import AmalCLI
from amal_lightning.errors import AmalError
from amal_lightning.studies.spec import Study
from amal_lightning.validation import check_run_options

# Lines of jsonargparse's error messages that say how it searched, not what is wrong.
NOISE = (
    "Does not validate against",
    "Subtypes:",
    "Errors:",
    "- Expected a <class 'NoneType'>",
    "Given value",
    "- Problem with given class_path",
    "tip:",
)
PARSER_KEY = re.compile(r'^Parser key "([^"]+)":$')


class _ParsedError(Exception):
    """Raised once the command line is parsed, to stop LightningCLI before it builds anything."""


class _ParseOnly(AmalCLI):
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        LightningCLI.parse_arguments(self, parser, args)  # not AmalCLI's: it would claim a run folder
        subcommand = self.config.get("subcommand")
        check_run_options(self.config[subcommand] if subcommand else self.config)
        raise _ParsedError


@contextlib.contextmanager
def alone_on_the_command_line() -> Iterator[None]:
    """``sys.argv`` without arguments while LightningCLI parses the ones it is given.

    LightningCLI given ``args`` warns about any arguments of the process itself, which here
    are those of ``amal study`` (or of pytest), not a mistake.
    """
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        yield
    finally:
        sys.argv = argv


def parser_error(stderr: str) -> str:
    """What a parser's error output says is wrong, in one line (jsonargparse's runs over many).

    Its nested ``Parser key "model": Parser key "learning_rate": Expected ...`` becomes
    ``model.learning_rate: Expected ...``.
    """
    text = stderr.rsplit("error: ", 1)[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    keys = [match.group(1) for line in lines if (match := PARSER_KEY.match(line))]
    useful = [line for line in lines if not line.startswith(NOISE) and not PARSER_KEY.match(line)]
    reason = (useful or lines or ["not accepted"])[-1]
    return f"{'.'.join(keys)}: {reason}" if keys else reason


def check_command_line(args: list[str]) -> None:
    """Parses ``amal ARGS`` as ``amal fit`` would; AmalError with the parser's reason if it refuses them."""
    errors = io.StringIO()
    try:
        with alone_on_the_command_line(), contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            _ParseOnly(model_class=None, datamodule_class=None, seed_everything_default=0, args=args)
    except _ParsedError:
        return
    except SystemExit as stop:
        if stop.code in (0, None):  # --help, --print_config: they print and end, nothing would train
            raise AmalError("an option that prints and exits (--help, --print_config) has no place here") from None
        raise AmalError(parser_error(errors.getvalue())) from None


def check_study(study: Study) -> None:
    """Checks the common options, then every variant's full ``amal fit`` command line.

    One line of error names the study file, the variant (or the common options) and the
    parser's reason, which names the option.
    """
    if study.variants:
        try:
            check_command_line(["fit", "--config", str(study.variants[0].config), *study.common])
        except AmalError as error:
            raise AmalError(f"{study.source}: common options: {error}") from None
    for variant in study.variants:
        try:
            check_command_line(study.fit_args(variant))
        except AmalError as error:
            raise AmalError(f"{study.source}: variant {variant.name!r}: {error}") from None
