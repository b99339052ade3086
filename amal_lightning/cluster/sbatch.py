"""``amal submit``: writes an sbatch script for one experiment into ``slurm/`` and submits it.

The script asks SLURM for ``--nodes`` × ``--gpus-per-node`` GPUs with one task per GPU, sends
SIGUSR1 a little before the time limit (``--signal-lead``) and allows requeueing. ``amal fit``
then saves a checkpoint on that signal, requeues the job, and the requeued job resumes from it,
at most ``--max-requeues`` times: the script exports ``AMAL_MAX_REQUEUES`` for the job to know it.
Its ``#SBATCH`` lines are written by :mod:`~amal_lightning.cluster.directives`.
The ``srun amal fit`` line repeats the allocation as ``--trainer.num_nodes``/``--trainer.devices``
because Lightning's SLURM support refuses a mismatch between the two.

The job runs the ``amal`` that submitted it, by its absolute path: ``make`` installs into ``.venv``
and activates nothing, so a bare ``amal`` would not be found, whatever ``--setup`` activates. A
value holding a line break or NUL is refused: it would end its line and start a command nobody wrote.
"""

import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from jsonargparse import Namespace

from amal_lightning.checks import regular_file
from amal_lightning.cluster.directives import MAX_REQUEUES_VARIABLE, directives
from amal_lightning.errors import AmalError, first_line
from amal_lightning.words import named_values

SCRIPT_DIR = Path("slurm")
LINE_BREAKS = re.compile(r"[\n\r\x00]")


def amal_command() -> str:
    """The absolute path of the ``amal`` that runs now, quoted for the shell: beside this Python, else on PATH.

    Failing both (``python -m amal_lightning`` in an environment without the console script),
    the job runs this Python with ``-m amal_lightning``, which is the same command.
    """
    beside = Path(sys.executable).absolute().with_name("amal")
    found = str(beside) if beside.is_file() else shutil.which("amal")
    if found is not None:
        return shlex.quote(str(Path(found).absolute()))
    return shlex.join([str(Path(sys.executable).absolute()), "-m", "amal_lightning"])


def check_one_line(option: str, value: str) -> None:
    """Fails unless ``value`` holds no line break and no NUL character: each value takes one line of the script."""
    if LINE_BREAKS.search(value):
        raise AmalError(f"{option}: {value!r} holds a line break or a NUL character; each value must be one line")


def check_words(words: Sequence[str], label: str = "an option") -> None:
    """:func:`check_one_line` on every word of a command line, named by its option (``--x V`` or ``--x=V``).

    Run before parsing, so that a value holding a line break is refused as such whatever its option's type.
    """
    for option, value in named_values(words, label):
        check_one_line(option, value)


def setup_lines(args: Namespace) -> list[str]:
    """The shell lines run before training: ``--setup``'s, then those of ``--setup-file``, each one line."""
    file_lines = []
    if args.setup_file is not None:
        try:
            file_lines = regular_file(args.setup_file, "--setup-file").read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise AmalError(f"--setup-file {args.setup_file}: cannot read it as text ({first_line(error)})") from None
    for line in file_lines:  # --setup's were checked with the other words of the command line
        check_one_line(f"--setup-file {args.setup_file}", line)
    return [*args.setup, *file_lines]


def job_options(args: Namespace) -> list[str]:
    """``amal fit``'s options for the allocation: GPUs and DDP (or, with ``--gpus-per-node 0``, CPUs, DDP
    only across several tasks), and the nodes and devices (tasks per node) Lightning must agree with SLURM on."""
    allocation = ["--trainer.num_nodes", str(args.nodes), "--trainer.devices", str(args.ntasks_per_node)]
    if args.gpus_per_node == 0:
        strategy = "ddp" if args.nodes * args.ntasks_per_node > 1 else "auto"
        return ["--trainer.accelerator", "cpu", "--trainer.strategy", strategy, *allocation]
    return ["--trainer.accelerator", "gpu", "--trainer.strategy", "ddp", *allocation]


def fit_command(args: Namespace, fit_overrides: Sequence[str]) -> str:
    """The ``amal fit`` command line of ``amal submit``'s job, quoted for the shell (``amal`` itself left out)."""
    return shlex.join(["fit", "--config", str(args.config), *job_options(args), *fit_overrides])


def sbatch_script(
    args: Namespace,
    name: str,
    setup_lines: Sequence[str],
    amal: str,
    command: str,
    array: Optional[str] = None,
    note: Sequence[str] = (),
) -> str:
    """The text of the sbatch script of job ``name``: ``srun AMAL COMMAND``, both quoted for the shell.

    ``array`` (such as ``0-3``) makes it a job array, whose output files are named by job and task
    (``%A_%a``); ``note`` adds comment lines to the script's own. ``args`` are parsed by ``amal submit``'s
    parser, whose types refuse what an ``#SBATCH`` line cannot hold (a space in ``--partition``), and
    settled (:func:`~amal_lightning.cluster.directives.settle_allocation`). The job is named ``name``
    unless ``--job-name`` says otherwise; its script and logs are named ``name`` anyway.
    """
    for option, value in (("the path of amal", amal), ("the current folder", str(Path.cwd()))):
        check_one_line(option, value)
    log_name = SCRIPT_DIR / f"{name}-{'%A_%a' if array is not None else '%j'}"
    written = directives(args, name, str(log_name), array)
    lines = ["#!/bin/bash", *(f"#SBATCH {directive}" for directive in written), ""]
    lines += [
        "# Written by `amal submit`. A requeued job reruns this script unchanged: `amal fit` finds the",
        "# checkpoint it saved on SIGUSR1 in checkpoints/<experiment>/slurm-<job id>/ and resumes from it.",
        *note,
        "set -euo pipefail",
        f"cd {shlex.quote(str(Path.cwd()))}",
        *setup_lines,
        "",
        f"export {MAX_REQUEUES_VARIABLE}={args.max_requeues}  # requeues on SIGUSR1 before the job gives up",
        f"srun {amal} {command}",
        "",
    ]
    return "\n".join(lines)


def submit_script(script: str, name: str) -> str:
    """Writes ``slurm/<name>-<date>-<time>.sbatch`` and submits it; returns its path and sbatch's answer."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise AmalError("sbatch is not on PATH: submit from a SLURM login node (or use --dry-run)")
    stamp, suffix = time.strftime("%Y%m%d-%H%M%S"), 0
    while (path := SCRIPT_DIR / f"{name}-{stamp}{f'-{suffix}' if suffix else ''}.sbatch").exists():
        suffix += 1  # two submissions in the same second keep both scripts
    try:
        SCRIPT_DIR.mkdir(exist_ok=True)
        path.write_text(script)
        result = subprocess.run([sbatch, str(path)], capture_output=True, text=True)
    except OSError as error:
        raise AmalError(f"{error.filename or path}: {error.strerror}") from None
    if result.returncode != 0:
        reason = (result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}").splitlines()[0]
        raise AmalError(f"sbatch {path} failed: {reason}")
    return f"{path}: {result.stdout.strip()}"
