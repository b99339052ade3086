"""``amal submit``: checks a fit's options, writes its sbatch script into ``slurm/`` and submits it.

Its cluster options (those of ``amal study --submit`` too) are parsed by
:mod:`amal_lightning.cluster.submission`, a profile's included; the words after ``--`` go to the
job's ``amal fit`` and are checked by its parser before anything is written.
"""

from pathlib import Path

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
from amal_lightning.errors import AmalError
from amal_lightning.runs.folders import experiment_name
from amal_lightning.words import split_at_separator


def check_fit_options(config: Path, fit_options: list[str]) -> None:
    """The job's ``amal fit`` options, parsed by ``amal fit``'s parser: a typo is refused before anything is queued."""
    for option in fit_options:
        check_one_line("an option for amal fit", option)
    from amal_lightning.api import check_command_line  # imports torch and Lightning

    check_command_line(["fit", "--config", str(config), *fit_options])


def submit(argv: list[str]) -> int:
    """Runs ``amal submit ARGV``; raises AmalError on bad input."""
    own, fit_overrides = split_at_separator(argv)
    args = parse_submission(own)
    regular_file(args.config, "--config")
    lines, amal = setup_lines(args), amal_command()
    experiment = experiment_name([args.config], None)  # the job's `amal fit` would refuse any other name
    if args.job_name is None and experiment in RESERVED_JOB_NAMES:
        raise AmalError(f"--config {args.config}: a job named {experiment!r} is not seen as a batch job by Lightning")
    check_fit_options(args.config, fit_overrides)
    script = sbatch_script(args, experiment, lines, amal, fit_command(args, fit_overrides))
    if args.dry_run:
        print(script, end="")
        return 0
    print(submit_script(script, experiment))
    return 0
