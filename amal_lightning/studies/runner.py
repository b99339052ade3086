"""Runs a study's variants one after another, each a full ``amal fit`` (and the test that follows it).

The fits run in this process, through :func:`amal_lightning.api.fit`: starting a Python process
per variant costs the import of torch and Lightning again, several seconds, more than a whole
housing fit (measured in docs/LABS.md). Each variant has its own experiment,
``<study>.<variant slug>``, hence its own run folders, and a record in the study folder
(:mod:`amal_lightning.studies.records`) that makes the study resumable:

- a variant that finished or diverged is kept as it is;
- a variant still marked ``running`` was interrupted: it resumes from its run's ``last.ckpt``
  (its ``ckpt_path``), in the same run folders;
- a variant that failed, or never started, runs from the start.

A variant that diverges or fails does not stop the study. Ctrl+C does: the variant stays
``running`` and resumes next time. Before training a variant the process claims it
(:mod:`amal_lightning.runs.claims`): other processes on the same study skip it while this one lives,
and take it over, resuming it, once this one is gone.
"""

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from amal_lightning.api import fit
from amal_lightning.errors import AmalError, DivergedError, first_line
from amal_lightning.runs.claims import try_claim
from amal_lightning.runs.folders import DEFAULT_CHECKPOINT_ROOT, DIVERGED_FILE, LOG_DIR, newest_state
from amal_lightning.runs.outcome import DIVERGED, FAILED, INTERRUPTED, RUNNING, Outcome
from amal_lightning.studies.records import ENDED, VariantRecord, read_record, write_record
from amal_lightning.studies.spec import Study, Variant
from amal_lightning.studies.summary import outcome
from amal_lightning.words import given_value, take_options

# Where and how a variant runs, not what it is: a variant that finished on a GPU node of a job
# array is the one the login node gathers, without them.
PLACEMENT = (
    "trainer.accelerator",
    "trainer.devices",
    "trainer.num_nodes",
    "trainer.strategy",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
)


CLAIMS = "claims"  # the study folder's claims: which process trains which variant
# A variant's record, written by the first process of a multi-GPU task only (the others run the same fit).
write_first = rank_zero_only(write_record)


class StudyInterruptedError(Exception):
    """Ctrl+C during a variant: the study stops, the variant resumes when the study runs again."""


def fit_variant(
    study: Study, variant: Variant, placed: dict[str, Any], callbacks: Sequence[Callback] = ()
) -> tuple[str, Optional[str], str, Optional[Outcome]]:
    """Fits the variant here, with ``placed`` (its ``experiment``, the ``ckpt_path`` it resumes from) over its
    options: (its status, its run folder's name or None, why it diverged or failed, the outcome if it ended).

    A bug or an unforeseen error in one variant is reported as a failure and does not end the study.
    """
    try:
        result = fit(variant.config, study.common, study.fit_options(variant), placed, callbacks=callbacks)
    except DivergedError as error:
        return DIVERGED, error.outcome.run if error.outcome else None, str(error), error.outcome
    except AmalError as error:
        return FAILED, error.outcome.run if error.outcome else None, str(error), error.outcome
    except Exception as error:
        return FAILED, None, f"{type(error).__name__}: {first_line(error)}", None
    return result.status, result.run, "", result


def variant_command(study: Study, variant: Variant) -> dict[str, Any]:
    """What the variant runs, as its record keeps it (JSON): its config, the study's common options and its own."""
    command = {"config": str(variant.config), "common": list(study.common), "options": study.fit_options(variant)}
    return json.loads(json.dumps(command, default=str))


def without_placement(command: Any) -> Any:
    """A variant's command without its PLACEMENT options: what must match for an earlier run to count.
    A record of an older version (its command a list of words) is another variant's: it runs again."""
    if not isinstance(command, dict) or not isinstance(command.get("common"), list):
        return command
    if not isinstance(command.get("options"), dict):
        return command
    _, common = take_options([str(word) for word in command["common"]], {f"--{name}" for name in PLACEMENT})
    options = {key: value for key, value in command["options"].items() if key not in PLACEMENT}
    return {**command, "common": common, "options": options}


def checkpoint_root(study: Study, variant: Variant) -> Path:
    """The variant's ``checkpoint_dir``: its own option, else the study's common one, else the default."""
    options = study.fit_options(variant)
    if options.get("checkpoint_dir") is not None:
        return Path(str(options["checkpoint_dir"]))
    common = given_value("--checkpoint_dir", list(study.common))
    return DEFAULT_CHECKPOINT_ROOT if common is None else Path(common)


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
    experiment_dir = Path(record.checkpoint_root) / experiment
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


def current_record(study: Study, variant: Variant) -> Optional[VariantRecord]:
    """The variant's record, unless it belongs to another variant of the same name (other options)."""
    record = read_record(study.folder, variant.slug)
    if record is not None and without_placement(record.command) != without_placement(variant_command(study, variant)):
        return None  # another variant under the same name now: its earlier runs are not its own
    return record


def run_variant(study: Study, variant: Variant, callbacks: Sequence[Callback] = ()) -> tuple[str, bool]:
    """Runs one variant unless it ended before or another process has it: what became of it, and whether
    this process trained it. ``callbacks`` join its fit's Trainer (a search's pruning)."""
    record = current_record(study, variant)
    if record is not None and record.status in ENDED:
        return outcome(study, variant, record, kept=True), False
    if rank_zero_only.rank != 0:  # another process of a multi-GPU task: its first process holds the claim
        return train_variant(study, variant, record, callbacks), True
    claim = try_claim(study.folder / CLAIMS, variant.slug)
    if claim is None:
        return "being trained by another process, skipped", False
    with claim:
        record = current_record(study, variant)  # it may have ended between the first look and the claim
        if record is not None and record.status in ENDED:
            return outcome(study, variant, record, kept=True), False
        return train_variant(study, variant, record, callbacks), True


def train_variant(
    study: Study, variant: Variant, record: Optional[VariantRecord], callbacks: Sequence[Callback] = ()
) -> str:
    """Trains the variant (resuming an interrupted attempt), records what became of it and says it,
    from the outcome its fit returned."""
    command = variant_command(study, variant)
    experiment = study.experiment(variant)
    seconds, resume = 0.0, None
    if record is not None and record.status == RUNNING:
        resume = interrupted_state(experiment, record)
        if resume is not None:  # the interrupted attempt counts up to its last checkpoint
            seconds = record.seconds + max(0.0, resume.stat().st_mtime - (record.started or resume.stat().st_mtime))
    placed: dict[str, Any] = {"experiment": experiment}
    if resume is not None:
        placed["ckpt_path"] = str(resume)
    started = time.time()
    run_name = None if resume is None else resume.parent.name
    root = str(checkpoint_root(study, variant))
    running = VariantRecord(variant.name, experiment, RUNNING, run_name, seconds, started, "", command, root)
    write_first(study.folder, variant.slug, running)
    before = run_folders(experiment)
    status, run_name_now, note, result = fit_variant(study, variant, placed, callbacks)
    run_name = run_name or run_name_now or newest_run(experiment, before)
    if status == INTERRUPTED:  # the record stays `running`, with its run: the same command resumes it
        write_first(study.folder, variant.slug, dataclasses.replace(running, run=run_name))
        raise StudyInterruptedError
    seconds += time.time() - started
    record = VariantRecord(variant.name, experiment, status, run_name, seconds, None, note, command, root)
    write_first(study.folder, variant.slug, record)
    return outcome(study, variant, record, kept=False, result=result)


def ended(study: Study, variant: Variant) -> bool:
    """Whether the variant ended before (it is not trained again)."""
    record = current_record(study, variant)
    return record is not None and record.status in ENDED


def run_study(
    study: Study, indices: Optional[Sequence[int]] = None, threads: Optional[int] = None, worker: bool = False
) -> None:
    """Runs the study's variants (those at ``indices``, else all), one progress line each.

    In a terminal, a variant about to train is named first, so that its progress bars stand under its
    name and the next variant's under the next. A variant that another live process has claimed is
    skipped: two ``amal study`` on one study,
    or two array tasks, share the work (:mod:`amal_lightning.runs.claims`). A ``worker`` of
    ``--jobs`` says only what it trained: the lines of the others are theirs to print.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    total = len(study.variants)
    chosen = range(total) if indices is None else indices
    for index in chosen:
        variant = study.variants[index]
        prefix = f"[{index + 1}/{total}] {variant.name} ..."
        if not worker and sys.stdout.isatty() and not ended(study, variant):  # its bars come next, under its name
            print(f"{prefix} training", flush=True)
        try:
            line, trained = run_variant(study, variant)
        except StudyInterruptedError:
            print(f"{prefix} interrupted; the same command resumes it", flush=True)
            raise
        except AmalError as error:  # a damaged record, an unwritable study folder
            raise AmalError(f"{prefix} {error}") from None
        if trained or not worker:
            print(f"{prefix} {line}", flush=True)


def report_ended(study: Study) -> None:
    """One line for each variant that ended before this command: what ``--jobs`` workers will not train."""
    total = len(study.variants)
    for index, variant in enumerate(study.variants):
        record = current_record(study, variant)
        if record is not None and record.status in ENDED:
            print(f"[{index + 1}/{total}] {variant.name} ... {outcome(study, variant, record, kept=True)}", flush=True)
