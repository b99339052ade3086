"""``amal study FILE`` for a study with a ``search:`` block: its checks, its workers, its job array, its summary.

::

    amal study configs/studies/tme2_step_size_search.yaml              # one worker
    amal study configs/studies/tme2_step_size_search.yaml --jobs 2     # two workers on this machine
    amal study configs/studies/tme2_step_size_search.yaml --submit --workers 4 --time 01:00:00

Before anything trains: the ``pruner`` against the seeds and devices, the journal (damaged, of
another study, another search space), and each searched option at its ends (every choice of a
categorical one) through ``amal fit``'s own parser, each refusal one line naming the study file
and the key. Then each worker runs trials until the search has ``n_trials``
(:mod:`amal_lightning.studies.search.run`); the process that ends last writes ``summary.csv`` and
the figures (:mod:`amal_lightning.studies.search.summary`).
"""

from jsonargparse import Namespace

from amal_lightning.api import check_command_line
from amal_lightning.command_line.submit import parse_submit, split_fit_options
from amal_lightning.errors import INTERRUPTED_EXIT_STATUS, AmalError
from amal_lightning.studies.array import array_script, submit_array
from amal_lightning.studies.gathering import save_study
from amal_lightning.studies.runner import StudyInterruptedError, others_at_work
from amal_lightning.studies.search.run import run_search
from amal_lightning.studies.search.spec import trial_options
from amal_lightning.studies.search.storage import check_journal, journal_path, open_search
from amal_lightning.studies.search.summary import finish_search
from amal_lightning.studies.search.trials import pruning_options
from amal_lightning.studies.spec import Study
from amal_lightning.studies.workers import run_workers, threads_per_worker, worker_count


def check_search(study: Study) -> None:
    """Everything that can be refused before a search trains, each in one line naming the file and the key."""
    spec = study.search
    assert spec is not None and study.config is not None
    where = f"{study.source}, search"
    seeds = study.data.get("seeds") or []
    if spec.pruner == "median" and len(seeds) > 1:
        raise AmalError(f"{where}, pruner: median prunes one seed per trial; the study has seeds {seeds}")
    devices = [word for word in study.common if word.split("=", 1)[0] in ("--trainer.devices", "--trainer.num_nodes")]
    if spec.pruner == "median" and any(not word.endswith("=1") for word in devices):
        raise AmalError(f"{where}, pruner: median prunes a fit on one device; the options say {' '.join(devices)}")
    if journal_path(study.folder).exists():
        check_journal(journal_path(study.folder), study.source)
        open_search(study.name, study.folder, spec, study.source)
    base = ["fit", "--config", str(study.config), *study.common]
    try:
        check_command_line([*base, *pruning_options(spec)])
    except AmalError as error:
        raise AmalError(f"{study.source}: common options: {error}") from None
    for param in spec.params:
        for value in param.corners():
            try:
                check_command_line([*base, *trial_options({param.key: value})])
            except AmalError as error:
                raise AmalError(f"{where}, params, {param.key} = {value!r}: {error}") from None


def workers_option(words: list[str]) -> tuple[int, list[str]]:
    """``--workers W`` taken out of ``--submit``'s options: (W, default 1; the other options)."""
    workers, rest, index = 1, [], 0
    while index < len(words):
        name, equals, value = words[index].partition("=")
        if name == "--workers":
            if not equals:
                index += 1
                value = words[index] if index < len(words) else ""
            if not value.isdigit() or int(value) < 1:
                raise AmalError(f"--workers {value}: expected a positive number of array tasks")
            workers = int(value)
        else:
            rest.append(words[index])
        index += 1
    return workers, rest


def search_study(args: Namespace, study: Study, naming: list[str], argv: list[str]) -> int:
    """``amal study`` on a search (``args`` parsed by :mod:`amal_lightning.command_line.study`); the exit status."""
    spec = study.search
    assert spec is not None and study.config is not None
    if args.variant_index is not None:
        raise AmalError("--variant-index: a search has no fixed variants (its workers take the next trial)")
    if not args.worker:  # the process that started the workers has checked everything
        check_search(study)
    if args.submit:
        workers, slurm_words = workers_option(args.slurm)
        slurm = parse_submit([*slurm_words, "--config", str(study.config)], prog="amal study --submit", array=True)
        _, fit_options = split_fit_options(argv)
        script = array_script(slurm, study, naming, fit_options, workers=workers)
        if slurm.dry_run:
            print(script, end="")
            return 0
        save_study(study)
        submit_array(study, script, tasks=workers)
        return 0
    if not args.worker:
        save_study(study)
    workers = worker_count(args.jobs or study.jobs, spec.n_trials)
    if workers > 1 and not args.worker:
        threads = threads_per_worker(workers, args.threads)
        own, fit = split_fit_options(argv)
        worker_argv = [*own, "--worker", "--threads", str(threads), "--", *fit, "--trainer.enable_progress_bar=false"]
        status = run_workers(worker_argv, workers, threads)
        if status != 0:
            return status
    else:
        if args.threads is not None:
            import torch

            torch.set_num_threads(args.threads)
        try:
            run_search(study)
        except StudyInterruptedError:
            print(f"{study.name}: interrupted; the same command carries the trial on", flush=True)
            return INTERRUPTED_EXIT_STATUS
    if args.worker:
        return 0  # the process that started the workers gathers
    busy = others_at_work(study)
    if busy:
        print(f"{study.name}: {len(busy)} trial(s) still run by other processes; the last to end gathers")
        return 0
    finish_search(study)
    return 0
