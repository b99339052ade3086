"""``amal submit``: writes an sbatch script for one experiment into ``slurm/`` and submits it.

The script asks SLURM for ``--nodes`` × ``--gpus-per-node`` GPUs with one task per GPU, sends
SIGUSR1 a little before the time limit (``--signal-lead``) and allows requeueing. ``amal fit``
then saves a checkpoint on that signal, requeues the job, and the requeued job resumes from it.
The ``srun amal fit`` line repeats the allocation as ``--trainer.num_nodes``/``--trainer.devices``
because Lightning's SLURM support refuses a mismatch between the two.

The job runs the ``amal`` that submitted it, by its absolute path: ``make`` installs into ``.venv``
and activates nothing, so a bare ``amal`` would not be found, whatever ``--setup`` activates. A
value holding a line break or NUL is refused: it would end its line and start a command nobody wrote.
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from amal_lightning.errors import AmalError, first_line
from amal_lightning.runs import experiment_name, next_hpc_checkpoint
from amal_lightning.validation import check_slurm_name, positive_int, regular_file, time_limit

SCRIPT_DIR = Path("slurm")
LINE_BREAKS = re.compile(r"[\n\r\x00]")
# Lightning does not treat jobs with these names as batch jobs (they are interactive shells).
RESERVED_JOB_NAMES = {"bash", "interactive"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amal submit",
        description="Write an sbatch script that runs `amal fit` on a SLURM cluster, and submit it.",
        epilog=(
            "Options after `--` are passed to `amal fit`, e.g. `-- --trainer.max_epochs 50`. The job runs this "
            "`amal` by its absolute path, whatever the --setup lines activate: no environment needs activating."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, help="the experiment's config file")
    parser.add_argument("--nodes", type=positive_int, default=1, help="number of nodes (default 1)")
    parser.add_argument("--gpus-per-node", type=positive_int, default=1, help="GPUs, and tasks, per node (default 1)")
    parser.add_argument("--time", required=True, type=time_limit, help="time limit, HH:MM:SS or D-HH:MM:SS")
    parser.add_argument("--partition", help="SLURM partition (default: the cluster's default partition)")
    parser.add_argument("--account", help="SLURM account to charge")
    parser.add_argument("--cpus-per-task", type=positive_int, help="CPU cores per task")
    parser.add_argument(
        "--signal-lead", type=positive_int, default=90, help="seconds before the time limit to checkpoint (default 90)"
    )
    parser.add_argument(
        "--setup",
        action="append",
        default=[],
        help="a shell line run before training, e.g. 'module load cuda' (repeatable)",
    )
    parser.add_argument("--setup-file", type=Path, help="a file of shell lines run before training")
    parser.add_argument("--dry-run", action="store_true", help="print the script, write and submit nothing")
    return parser


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


def sbatch_script(
    args: argparse.Namespace, experiment: str, setup_lines: list[str], fit_overrides: list[str], amal: str
) -> str:
    """The text of the sbatch script; ``amal`` is the command to run, quoted for the shell."""
    for option, value in (("--partition", args.partition), ("--account", args.account)):
        check_slurm_name(option, value)  # written unquoted on an #SBATCH line
    log_name = SCRIPT_DIR / f"{experiment}-%j"
    directives = [
        f"--job-name={experiment}",
        f"--nodes={args.nodes}",
        f"--ntasks-per-node={args.gpus_per_node}",
        f"--gpus-per-node={args.gpus_per_node}",
        f"--time={args.time}",
        *([f"--partition={args.partition}"] if args.partition else []),
        *([f"--account={args.account}"] if args.account else []),
        *([f"--cpus-per-task={args.cpus_per_task}"] if args.cpus_per_task else []),
        f"--signal=SIGUSR1@{args.signal_lead}",
        "--requeue",
        "--open-mode=append",
        f"--output={log_name}.out",
        f"--error={log_name}.err",
    ]
    fit = ["fit", "--config", str(args.config), "--trainer.accelerator", "gpu", "--trainer.strategy", "ddp"]
    allocation = ["--trainer.num_nodes", str(args.nodes), "--trainer.devices", str(args.gpus_per_node)]
    lines = ["#!/bin/bash", *(f"#SBATCH {directive}" for directive in directives), ""]
    lines += [
        "# Written by `amal submit`. A requeued job reruns this script unchanged: `amal fit` finds the",
        "# checkpoint it saved on SIGUSR1 in checkpoints/<experiment>/slurm-<job id>/ and resumes from it.",
        "set -euo pipefail",
        f"cd {shlex.quote(str(Path.cwd()))}",
        *setup_lines,
        "",
        f"srun {amal} {shlex.join([*fit, *allocation, *fit_overrides])}",
        "",
    ]
    return "\n".join(lines)


def submit(argv: list[str]) -> None:
    """Runs ``amal submit ARGV``; raises AmalError on bad input."""
    own, fit_overrides = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = build_parser().parse_args(own)
    regular_file(args.config, "--config")
    file_lines = []
    if args.setup_file is not None:
        try:
            file_lines = regular_file(args.setup_file, "--setup-file").read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise AmalError(f"--setup-file {args.setup_file}: cannot read it as text ({first_line(error)})") from None
    setup_lines, amal = [*args.setup, *file_lines], amal_command()
    values = [
        ("--config", str(args.config)),
        ("--partition", args.partition or ""),
        ("--account", args.account or ""),
        ("the path of amal", amal),
        ("the current folder", str(Path.cwd())),
        *(("--setup", line) for line in args.setup),
        *((f"--setup-file {args.setup_file}", line) for line in file_lines),
        *(("an option for amal fit", option) for option in fit_overrides),
    ]
    for option, value in values:
        check_one_line(option, value)
    experiment = experiment_name([args.config], None)  # the job's `amal fit` would refuse any other name
    if experiment in RESERVED_JOB_NAMES:
        raise AmalError(f"--config {args.config}: a job named {experiment!r} is not seen as a batch job by Lightning")
    script = sbatch_script(args, experiment, setup_lines, fit_overrides, amal)
    if args.dry_run:
        print(script, end="")
        return
    print(submit_script(script, experiment))


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


def in_slurm_job() -> bool:
    """Whether this process runs as a SLURM batch job, as Lightning sees it (the one test used everywhere)."""
    return SLURMEnvironment.detect()


def slurm_job_id() -> str:
    """This job's id as ``scontrol`` knows it (``<array job>_<task>`` for an array task)."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job is not None:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ["SLURM_JOB_ID"]


class CheckpointAndRequeue(Callback):
    """On SIGUSR1 (SLURM's warning before the time limit), checkpoint and requeue the job.

    The checkpoint ``hpc_ckpt_N.ckpt`` goes to the trainer's ``default_root_dir``, where
    Lightning looks for it when the requeued job starts without ``ckpt_path``. It is taken at the
    end of the batch during which the signal arrived, a point from which Lightning and the
    datamodules resume exactly; all processes of a multi-device run agree on that batch.
    """

    def __init__(self) -> None:
        self.signalled = False
        self._previous_handler: Any = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signalled = True

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._previous_handler = signal.signal(signal.SIGUSR1, self._on_signal)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self._previous_handler is not None:
            signal.signal(signal.SIGUSR1, self._previous_handler)
            self._previous_handler = None

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        signalled = self.signalled
        if trainer.world_size > 1:
            signalled = trainer.strategy.reduce_boolean_decision(signalled, all=False)
        if not signalled:
            return
        self.signalled = False
        path = next_hpc_checkpoint(Path(trainer.default_root_dir))
        trainer.save_checkpoint(path, weights_only=False)
        if trainer.is_global_zero:
            job_id = slurm_job_id()
            result = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True)
            if result.returncode == 0:
                rank_zero_info(f"Saved {path} and requeued SLURM job {job_id}")
            else:
                rank_zero_warn(f"Saved {path}, but `scontrol requeue {job_id}` failed: {result.stderr.strip()}")
