"""``amal submit``: checks a fit's options, writes its sbatch script into ``slurm/`` and submits it.

Its cluster options (those of ``amal study --submit`` too) are parsed by
:mod:`amal_lightning.cluster.submission`, a profile's included; the words after ``--`` go to the
job's ``amal fit`` and are checked by its parser, with the config, before anything is written or
submitted. A dry run of the config alone (nothing after ``--``) reads it as YAML only and answers at once,
without importing torch and Lightning.
"""

from pathlib import Path

import yaml

from amal_lightning.checks import regular_file
from amal_lightning.cluster.directives import RESERVED_JOB_NAMES
from amal_lightning.cluster.sbatch import (
    amal_command,
    check_one_line,
    fit_command,
    sbatch_script,
    setup_lines,
    submit_script,
)
from amal_lightning.cluster.submission import parse_submission
from amal_lightning.errors import AmalError, first_line
from amal_lightning.runs.folders import experiment_name
from amal_lightning.words import split_at_separator


def check_fit_options(config: Path, fit_options: list[str]) -> None:
    """The job's ``amal fit`` options, parsed by ``amal fit``'s parser: a typo is refused before anything is queued."""
    for option in fit_options:
        check_one_line("an option for amal fit", option)
    from amal_lightning.api import check_command_line  # imports torch and Lightning

    check_command_line(["fit", "--config", str(config), *fit_options])


def check_config_text(config: Path) -> None:
    """The config read as a YAML mapping: what a dry run without options for ``amal fit`` checks of it (its keys
    are checked by ``amal fit``'s parser when it is submitted, or given options after ``--``)."""
    try:
        content = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise AmalError(f"--config {config}: cannot read it as YAML ({first_line(error)})") from None
    if content is not None and not isinstance(content, dict):
        raise AmalError(f"--config {config}: not a mapping of options (such as `trainer: ...`)")


def submit(argv: list[str]) -> int:
    """Runs ``amal submit ARGV``; raises AmalError on bad input."""
    own, fit_overrides = split_at_separator(argv)
    args = parse_submission(own)
    regular_file(args.config, "--config")
    lines, amal = setup_lines(args), amal_command()
    experiment = experiment_name([args.config], None)  # the job's `amal fit` would refuse any other name
    if args.job_name is None and experiment in RESERVED_JOB_NAMES:
        raise AmalError(f"--config {args.config}: a job named {experiment!r} is not seen as a batch job by Lightning")
    if fit_overrides or not args.dry_run:
        check_fit_options(args.config, fit_overrides)
    else:  # a dry run of the config alone answers at once: torch and Lightning are not imported to check it
        check_config_text(args.config)
    script = sbatch_script(args, experiment, lines, amal, fit_command(args, fit_overrides))
    if args.dry_run:
        print(script, end="")
        return 0
    print(submit_script(script, experiment))
    return 0
