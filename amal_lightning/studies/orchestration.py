"""``amal study``'s one sequence, for a grid of variants and for a search alike.

Check everything before anything trains; with ``--submit``, print (``--dry-run``) or submit a job
array (:mod:`~amal_lightning.studies.array`); else save the study (``studies/<name>/study.yaml``),
train here or in ``--jobs`` workers (:mod:`~amal_lightning.studies.workers`), and gather the summary
and figures once no other process is at work on it (:mod:`~amal_lightning.studies.gathering`, one
process at a time).

What trains (torch, Lightning) is imported where it is used, so that ``amal study`` reads its
command line (``--help``) at once. A grid and a search differ only in what they check, how they
train here (the variants, or trials until the search has ``n_trials``), and what a task of a job
array is (a variant, or a worker).
"""

from dataclasses import dataclass, field
from typing import Optional

from amal_lightning.errors import INTERRUPTED_EXIT_STATUS, AmalError
from amal_lightning.studies.array import last_array_task, submit_study
from amal_lightning.studies.gathering import STUDY_FILE, finish, save_study
from amal_lightning.studies.spec import Study
from amal_lightning.studies.workers import Jobs, start_workers, worker_count


@dataclass(frozen=True)
class Request:
    """What ``amal study`` was asked, as its parser read it."""

    naming: list[str]  # the words that name the study: its file, or the ad-hoc study's options
    own: list[str]  # amal study's words (before `--`): what its workers are started with
    fit_options: list[str] = field(default_factory=list)  # the words after `--`, for every fit
    variant_index: Optional[int] = None
    jobs: Optional[Jobs] = None
    threads: Optional[int] = None
    worker: bool = False  # one of the processes that --jobs started
    cluster_words: Optional[list[str]] = None  # the options after --submit; None: not submitted


def check(study: Study, request: Request) -> None:
    """Refuses, in one line, what would fail later: every variant's options, or the search's."""
    if study.search is not None:
        if request.variant_index is not None:
            raise AmalError("--variant-index: a search has no fixed variants (its workers take the next trial)")
        if not request.worker:  # the process that started the workers has checked everything
            from amal_lightning.studies.search.check import check_search

            check_search(study)
        return
    if not request.worker:
        from amal_lightning.studies.check import check_study

        check_study(study)
    if request.cluster_words is not None and request.variant_index is not None:
        raise AmalError("--submit runs every variant, one array task each: leave out --variant-index")


def save(study: Study, request: Request) -> None:
    """Saves the study as run, once: by the process that starts the workers, or by a job array's first task."""
    if request.variant_index is not None:
        if not 0 <= request.variant_index < len(study.variants):
            last = len(study.variants) - 1
            raise AmalError(f"--variant-index {request.variant_index}: the study's variants are 0 to {last}")
        if not (study.folder / STUDY_FILE).is_file():  # the tasks of an array share the one --submit wrote
            save_study(study)
    elif not request.worker:
        save_study(study)


def train_here(study: Study, request: Request) -> int:
    """Trains in this process: the variants (or the one of ``--variant-index``), or trials; the exit status."""
    import torch

    from amal_lightning.studies.runner import StudyInterruptedError, run_study
    from amal_lightning.studies.search.run import run_search

    try:
        if study.search is None:
            indices = None if request.variant_index is None else [request.variant_index]
            run_study(study, indices, threads=request.threads, worker=request.worker)
            return 0
        if request.threads is not None:
            torch.set_num_threads(request.threads)
        run_search(study)
    except StudyInterruptedError:
        if study.search is not None:
            print(f"{study.name}: interrupted; the same command carries the trial on", flush=True)
        return INTERRUPTED_EXIT_STATUS
    return 0


def run_study_command(study: Study, request: Request) -> int:
    """``amal study`` on ``study``: checked, submitted or trained, then gathered; the exit status."""
    check(study, request)
    if request.cluster_words is not None:
        submit_study(study, request.cluster_words, request.naming, request.fit_options)
        return 0
    save(study, request)
    units = len(study.variants) if study.search is None else study.search.n_trials
    workers = worker_count(request.jobs or study.jobs, units) if request.variant_index is None else 1
    if workers > 1 and not request.worker:
        if study.search is None:
            from amal_lightning.studies.runner import report_ended

            report_ended(study)
        status = start_workers(request.own, request.fit_options, workers, request.threads)
    else:
        status = train_here(study, request)
    if status != 0 or request.worker:
        return status  # the process that started the workers gathers
    from amal_lightning.runs.claims import live_claims
    from amal_lightning.studies.runner import CLAIMS

    busy = live_claims(study.folder / CLAIMS)  # other processes' claims on the variants: none, this one ends last
    if busy:
        what = "variant(s) still trained" if study.search is None else "trial(s) still run"
        print(f"{study.name}: {len(busy)} {what} by other processes; the last to end gathers")
    elif request.variant_index is None or last_array_task(study):  # a job array's last task gathers it
        finish(study)
        if study.search is None:  # a search ends with its best trial's command; `amal runs NAME` lists its trials
            print_summary_table(study)
    return 0


def print_summary_table(study: Study) -> None:
    """The summary as a person reads it (summary.csv keeps every column at full precision)."""
    from amal_lightning.studies.table import summary_table  # pandas: once the study has run

    table = summary_table(study)
    if table is not None:
        print(f"\n{table}\n  (again: amal runs {study.name} --summary)")
