"""``amal submit``: checks a fit's options, writes its sbatch script into ``slurm/`` and submits it.

Its options (and those of ``amal study --submit``, which reuses this parser) may come from a
cluster profile (``--profile FILE.yaml``, :mod:`amal_lightning.cluster.profile`): its words are put
before the command line's, so the command line wins.
"""

import re
from pathlib import Path
from typing import Optional

from jsonargparse import ActionYesNo, ArgumentParser, Namespace
from jsonargparse.typing import NonNegativeInt, PositiveInt

from amal_lightning.checks import regular_file
from amal_lightning.cluster.directives import RESERVED_JOB_NAMES, sbatch_entries, settle_allocation
from amal_lightning.cluster.options import (
    SLURM_NAME,
    Constraint,
    Gres,
    MailType,
    MailUser,
    Memory,
    SlurmName,
    TimeLimit,
)
from amal_lightning.cluster.profile import FLAG, IGNORED, LIST, VALUE, profile_path, profile_words
from amal_lightning.cluster.sbatch import (
    amal_command,
    check_one_line,
    check_words,
    fit_command,
    sbatch_script,
    setup_lines,
    submit_script,
)
from amal_lightning.command_line.parsing import command_parser, parse, refuse
from amal_lightning.errors import AmalError, UsageError
from amal_lightning.parse_errors import given_value
from amal_lightning.runs.folders import experiment_name

HINT = "all options: amal submit --help"
# Options of the command, not of a cluster: never read from a profile.
NOT_IN_PROFILES = {"help", "config", "dry-run", "profile"}
MEMORY = ("--mem", "--mem-per-gpu")


def build_parser(prog: str = "amal submit", array: bool = False, profile: bool = False) -> ArgumentParser:
    """``amal submit``'s parser; ``array`` adds ``--max-parallel``; ``profile`` requires nothing (a profile's words)."""
    parser = command_parser(
        prog,
        "Write an sbatch script that runs `amal fit` on a SLURM cluster, and submit it.",
        "Options after `--` are passed to `amal fit`, e.g. `-- --trainer.max_epochs 50`. The job runs this "
        "`amal` by its absolute path, whatever the --setup lines activate: no environment needs activating.",
    )
    add = parser.add_argument
    add("--profile", type=Optional[str], help="a cluster profile: a YAML file of these options (the command line wins)")
    add("--config", required=not profile, type=Path, help="the experiment's config file")
    add("--nodes", type=PositiveInt, default=1, help="number of nodes")
    add("--gpus-per-node", type=Optional[PositiveInt], help="GPUs, and tasks, per node (default: --gres's count, or 1)")
    add("--gres", type=Optional[Gres], help="generic resources, e.g. gpu:a100:2 (its GPU count is --gpus-per-node's)")
    add("--time", required=not profile, type=TimeLimit, help="time limit, HH:MM:SS or D-HH:MM:SS")
    add("--partition", type=Optional[SlurmName], help="SLURM partition, else the cluster's default")
    add("--account", type=Optional[SlurmName], help="SLURM account to charge")
    add("--qos", type=Optional[SlurmName], help="SLURM quality of service")
    add("--cpus-per-task", type=Optional[PositiveInt], help="CPU cores per task")
    add("--mem", type=Optional[Memory], help="memory per node, e.g. 64G (not with --mem-per-gpu)")
    add("--mem-per-gpu", type=Optional[Memory], help="memory per GPU, e.g. 16G (not with --mem)")
    add("--constraint", type=Optional[Constraint], help="node features, e.g. a100 or 'v100&ib'")
    add("--exclusive", action=ActionYesNo(no_prefix="no-"), default=False, help="whole nodes, shared with no job")
    add("--mail-type", type=Optional[MailType], help="mail on these events, e.g. END,FAIL")
    add("--mail-user", type=Optional[MailUser], help="where SLURM sends the mail")
    add("--job-name", type=Optional[SlurmName], help="the job's name in squeue (default: the experiment's)")
    add("--sbatch", action="append", type=str, default=[], help="any other directive, KEY=VALUE (repeatable)")
    add("--signal-lead", type=PositiveInt, default=90, help="seconds before the time limit to checkpoint (SIGUSR1)")
    add("--max-requeues", type=NonNegativeInt, default=10, help="requeues on SIGUSR1 before the job gives up")
    if array:
        add("--max-parallel", type=Optional[PositiveInt], help="array tasks running at once (#SBATCH --array=0-K%%N)")
    add("--setup", action="append", type=str, default=[], help="a shell line run before training (repeatable)")
    add("--setup-file", type=Optional[Path], help="a file of shell lines run before training")
    add("--dry-run", action="store_true", help="print the script, write and submit nothing")
    return parser


def profile_options(parser: ArgumentParser, array: bool) -> dict[str, str]:
    """The options a profile may hold, by name (``gpus-per-node``), and how each becomes words."""
    options = {} if array else {"max-parallel": IGNORED}  # a profile serves amal study --submit too
    for action in parser._actions:
        names = [option[2:] for option in action.option_strings if option.startswith("--")]
        name = next((name for name in names if not name.startswith("no-")), None)  # --exclusive, not --no-exclusive
        if name is not None and name not in NOT_IN_PROFILES:
            kind = FLAG if isinstance(action, ActionYesNo) else LIST if name in ("setup", "sbatch") else VALUE
            options[name] = kind
    return options


def split_fit_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """The words before ``--`` and those after it, which go to ``amal fit``."""
    return (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])


def read_profile(path: str, argv: list[str], prog: str, array: bool) -> list[str]:
    """The profile's words, each checked as the command line's are, with errors naming the file."""
    given_memory = any(word.split("=")[0] in MEMORY for word in argv)  # then the profile's is left out
    leave_out = {option[2:] for option in MEMORY} if given_memory else set()
    words = profile_words(path, profile_options(build_parser(prog, array), array), leave_out)
    try:
        check_words(words)
        sbatch_entries(parse(build_parser(prog, array, profile=True), words))  # its own --sbatch keys and values
    except UsageError as error:
        raise UsageError(f"--profile {path}: {error}", hint=error.hint or HINT) from None
    except AmalError as error:
        raise AmalError(f"--profile {path}: {error}") from None
    return words


def check_names(argv: list[str]) -> None:
    """A partition or account that cannot stand on an ``#SBATCH`` line is bad input (exit status 1), as it was
    before the parser typed these options, not a usage error; checked as given, before the parser sees it."""
    for option in ("--partition", "--account"):
        value = given_value(option, argv)
        if value is not None and not re.match(SLURM_NAME, value):
            raise AmalError(f"{option} {value!r}: not {SlurmName.__doc__}")


def parse_submit(argv: list[str], prog: str = "amal submit", array: bool = False) -> Namespace:
    """``amal submit``'s options (those before ``--``), each value checked to be one line first, and settled:
    the profile's first, the options against each other, ``--gpus-per-node`` from ``--gres`` if not given."""
    check_words(argv)
    check_names(argv)
    if not array and any(word.split("=")[0] == "--max-parallel" for word in argv):
        raise UsageError("--max-parallel: only for a job array (amal study --submit)", hint=HINT)
    path = profile_path(argv)
    profile = [] if path is None else read_profile(path, argv, prog, array)
    parser = build_parser(prog, array)
    args = parse(parser, [*profile, *argv], HINT)
    try:
        settle_allocation(args)
    except UsageError as error:
        refuse(parser, str(error), HINT)
    return args


def check_fit_options(config: Path, fit_options: list[str]) -> None:
    """The job's ``amal fit`` options, parsed by ``amal fit``'s parser: a typo is refused before anything is queued."""
    for option in fit_options:
        check_one_line("an option for amal fit", option)
    from amal_lightning.api import check_command_line  # imports torch and Lightning

    check_command_line(["fit", "--config", str(config), *fit_options])


def submit(argv: list[str]) -> None:
    """Runs ``amal submit ARGV``; raises AmalError on bad input."""
    own, fit_overrides = split_fit_options(argv)
    args = parse_submit(own)
    regular_file(args.config, "--config")
    lines, amal = setup_lines(args), amal_command()
    experiment = experiment_name([args.config], None)  # the job's `amal fit` would refuse any other name
    if args.job_name is None and experiment in RESERVED_JOB_NAMES:
        raise AmalError(f"--config {args.config}: a job named {experiment!r} is not seen as a batch job by Lightning")
    check_fit_options(args.config, fit_overrides)
    script = sbatch_script(args, experiment, lines, amal, fit_command(args, fit_overrides))
    if args.dry_run:
        print(script, end="")
        return
    print(submit_script(script, experiment))
