"""Runs a study's variants one after another, each a full ``amal fit`` (and the test that follows it).

The fits run in this process, through :func:`amal_lightning.cli.main`: starting a Python process
per variant costs the import of torch and Lightning again, several seconds, more than a whole
housing fit (measured in docs/LABS.md). Each variant has its own experiment,
``<study>.<variant slug>``, hence its own run folders, and a record in the study folder
(:mod:`amal_lightning.studies.records`) that makes the study resumable:

- a variant that finished or diverged is kept as it is;
- a variant still marked ``running`` was interrupted: it resumes from its run's ``last.ckpt``
  (``--ckpt_path <that file>``), in the same run folders;
- a variant that failed, or never started, runs from the start.

A variant that diverges or fails does not stop the study. Ctrl+C does: the variant stays
``running`` and resumes next time.
"""

import contextlib
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, TextIO

from lightning.pytorch.utilities.rank_zero import rank_zero_only

from amal_lightning.cli import main
from amal_lightning.divergence import DIVERGED_EXIT_STATUS
from amal_lightning.errors import AmalError, first_line
from amal_lightning.runs import DIVERGED_FILE, LOG_DIR, newest_state
from amal_lightning.studies.check import alone_on_the_command_line
from amal_lightning.studies.records import (
    DIVERGED,
    ENDED,
    FAILED,
    FINISHED,
    RUNNING,
    VariantRecord,
    read_record,
    write_record,
)
from amal_lightning.studies.spec import Study, Variant
from amal_lightning.studies.summary import outcome

CHECKPOINT_ROOT = Path("checkpoints")
ERROR_PREFIX = "amal: error: "
# Where and how a variant runs, not what it is: a variant that finished on a GPU node of a job
# array is the one the login node gathers, without them.
PLACEMENT = {
    "--trainer.accelerator",
    "--trainer.devices",
    "--trainer.num_nodes",
    "--trainer.strategy",
    "--trainer.enable_progress_bar",
    "--trainer.enable_model_summary",
}


class StudyInterruptedError(Exception):
    """Ctrl+C during a variant: the study stops, the variant resumes when the study runs again."""


class _ErrorLines:
    """A stand-in for stderr that passes everything on and keeps the ``amal: error:`` lines."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.errors: list[str] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.startswith(ERROR_PREFIX):
                self.errors.append(line[len(ERROR_PREFIX) :])
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def fit_in_process(args: list[str]) -> tuple[int, str]:
    """Runs ``amal ARGS`` here: (its exit status, the error it reported or '').

    Raises StudyInterruptedError on Ctrl+C. Lightning turns Ctrl+C into exit status 1 and ignores
    further Ctrl+C from then on; this tells the two apart and restores the handler.
    """
    interrupted = False

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    stderr = _ErrorLines(sys.stderr)
    code, message = 0, ""
    try:
        with alone_on_the_command_line(), contextlib.redirect_stderr(stderr):
            main(args)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except KeyboardInterrupt:
        interrupted = True
    except Exception as error:  # a bug or an unforeseen error in one variant must not end the study
        traceback.print_exc()
        code, message = 1, f"{type(error).__name__}: {first_line(error)}"
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise StudyInterruptedError
    return code, message or (stderr.errors[-1] if stderr.errors else "")


def identity(command: Optional[list[str]]) -> Optional[list[str]]:
    """A variant's command without its PLACEMENT options: what must match for an earlier run to count."""
    if command is None:
        return None
    kept, skip = [], False
    for word in command:
        if skip:
            skip = False
        elif word.split("=", 1)[0] in PLACEMENT:
            skip = "=" not in word  # `--trainer.devices 2`: its value is the next word
        else:
            kept.append(word)
    return kept


def run_folders(experiment: str) -> set[str]:
    folder = LOG_DIR / experiment
    return {child.name for child in folder.iterdir() if child.is_dir()} if folder.is_dir() else set()


def newest_run(experiment: str, before: set[str]) -> Optional[str]:
    """The run folder a fit just wrote: the one it created, else the most recently written."""
    after = run_folders(experiment)
    candidates = (after - before) or after
    if not candidates:
        return None
    return max(candidates, key=lambda name: (LOG_DIR / experiment / name).stat().st_mtime)


def interrupted_state(experiment: str, record: VariantRecord) -> Optional[Path]:
    """The latest state (``last.ckpt``, ``hpc_ckpt_N.ckpt``) that an interrupted attempt left, if any."""
    experiment_dir = CHECKPOINT_ROOT / experiment
    if record.run is not None:
        folders = [experiment_dir / record.run]
    else:  # killed before it could say which run: the newest written since it started
        folders = [folder for folder in experiment_dir.glob("*") if folder.is_dir()]
    states = [
        state
        for folder in folders
        if not (folder / DIVERGED_FILE).exists() and (state := newest_state(folder)) is not None
        if record.run is not None or state.stat().st_mtime >= (record.started or 0)
    ]
    return max(states, key=lambda path: path.stat().st_mtime, default=None)


def run_variant(study: Study, variant: Variant) -> str:
    """Runs one variant unless it ended before; returns what became of it, for the progress line."""
    record = read_record(study.folder, variant.slug)
    command = study.fit_args(variant)
    if record is not None and identity(record.command) != identity(command):
        record = None  # another variant under the same name now: its earlier runs are not its own
    if record is not None and record.status in ENDED:
        return outcome(study, variant, record, kept=True)
    experiment = study.experiment(variant)
    seconds, resume = 0.0, None
    if record is not None and record.status == RUNNING:
        resume = interrupted_state(experiment, record)
        if resume is not None:  # the interrupted attempt counts up to its last checkpoint
            seconds = record.seconds + max(0.0, resume.stat().st_mtime - (record.started or resume.stat().st_mtime))
    args = [*command, "--experiment", experiment]
    if resume is not None:
        args += ["--ckpt_path", str(resume)]
    started = time.time()
    run = None if resume is None else resume.parent.name
    running = VariantRecord(variant.name, experiment, RUNNING, run, seconds, started, "", command)
    if rank_zero_only.rank == 0:  # the other processes of a multi-GPU task run the same fit
        write_record(study.folder, variant.slug, running)
    before = run_folders(experiment)
    code, message = fit_in_process(args)
    run = run or newest_run(experiment, before)
    status = FINISHED if code == 0 else DIVERGED if code == DIVERGED_EXIT_STATUS else FAILED
    note = "" if code == 0 else message or f"exit status {code}"
    record = VariantRecord(variant.name, experiment, status, run, seconds + time.time() - started, None, note, command)
    if rank_zero_only.rank == 0:
        write_record(study.folder, variant.slug, record)
    return outcome(study, variant, record, kept=False)


def run_study(study: Study, indices: Optional[Sequence[int]] = None) -> None:
    """Runs the study's variants (those at ``indices``, else all), one progress line each."""
    total = len(study.variants)
    chosen = range(total) if indices is None else indices
    for index in chosen:
        variant = study.variants[index]
        prefix = f"[{index + 1}/{total}] {variant.name} ..."
        try:
            line = run_variant(study, variant)
        except StudyInterruptedError:
            print(f"{prefix} interrupted; the same command resumes it", flush=True)
            raise
        except AmalError as error:  # a damaged record, an unwritable study folder
            raise AmalError(f"{prefix} {error}") from None
        print(f"{prefix} {line}", flush=True)
