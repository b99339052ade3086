"""``amal study``: run a study file or an ad-hoc grid, here or as a SLURM job array, then gather it.

::

    amal study configs/studies/tme2_gd_variants.yaml
    amal study --name eps --config configs/tme1_gradient_descent.yaml \\
        --grid model.learning_rate=0.01,0.1,5 -- --trainer.max_epochs 100
    amal study configs/studies/tme3_depth.yaml --submit --time 01:00:00 --partition gpu
    amal plot --study tme3_depth          # after the array's tasks: summary and figures, no training

Every variant's command line is checked by ``amal fit``'s parser before anything trains. The
study folder ``studies/<name>/`` gets a copy of the study (``study.yaml``, which ``amal plot
--study`` reads), a record per variant, ``summary.csv`` and the figures.
"""

import dataclasses
from pathlib import Path
from typing import Literal, Optional, Union

from jsonargparse import SUPPRESS, ArgumentParser, Namespace
from jsonargparse.typing import PositiveInt

from amal_lightning.command_line.parsing import command_parser, parse, refuse
from amal_lightning.command_line.submit import parse_submit, split_fit_options
from amal_lightning.errors import INTERRUPTED_EXIT_STATUS, AmalError
from amal_lightning.studies.array import array_script, submit_array
from amal_lightning.studies.gathering import STUDY_FILE, finish, save_study
from amal_lightning.studies.spec import Study, adhoc_study, load_study
from amal_lightning.studies.workers import run_workers, threads_per_worker, worker_count


def build_parser() -> ArgumentParser:
    parser = command_parser(
        "amal study",
        "Run a study: several `amal fit` variants, a summary table and figures in studies/NAME/.",
        "Options after `--` go to every variant's `amal fit`, e.g. `-- --trainer.max_epochs 100`. "
        "After --submit come `amal submit`'s options (--time, --partition, --gpus-per-node, --profile, --dry-run, "
        "...) and --max-parallel N, the most array tasks running at once.",
    )
    parser.add_argument(
        "file", nargs="?", type=Optional[Path], help="a study file, e.g. configs/studies/tme2_gd_variants.yaml"
    )
    parser.add_argument("--name", type=Optional[str], help="ad-hoc study: its name (a plain folder name)")
    parser.add_argument("--config", type=Optional[str], help="ad-hoc study: the config every variant starts from")
    parser.add_argument(
        "--grid",
        action="append",
        type=str,
        default=[],
        help="ad-hoc study: KEY=V1,V2,... (repeatable: all combinations)",
    )
    parser.add_argument(
        "--seeds",
        type=Optional[PositiveInt],
        help="ad-hoc study: run each variant with seeds 0 to N-1 (mean, std, bands)",
    )
    parser.add_argument(
        "--variant-index", type=Optional[int], help="run only this variant (0-based), as a task of a job array does"
    )
    parser.add_argument(
        "--jobs",
        type=Optional[Union[PositiveInt, Literal["auto"]]],
        help="worker processes training variants at once (auto: one per GPU, else one per core; "
        "default: the study file's jobs, else 1)",
    )
    parser.add_argument(
        "--threads", type=Optional[PositiveInt], help="torch threads of each worker (default: its share of the cores)"
    )
    parser.add_argument("--worker", action="store_true", help=SUPPRESS)  # one of the processes --jobs starts
    parser.add_argument(
        "--submit",
        action="store_true",
        help="run it on SLURM as a job array, one task per variant; amal submit's options follow it",
    )
    return parser


def slurm_options(argv: list[str], study: Study) -> Namespace:
    """``amal submit``'s options (``--time``, ``--partition``, ``--profile``, ``--dry-run``, ...) and
    ``--max-parallel``, parsed."""
    # `amal submit` needs a config; the study has its own, so the first variant's stands in.
    return parse_submit([*argv, "--config", str(study.variants[0].config)], prog="amal study --submit", array=True)


def parse_study(argv: list[str]) -> tuple[Namespace, Study, list[str], list[str]]:
    """The options (``slurm``: those left for ``--submit``), the study, the words that name it, the fit options."""
    own, fit_options = split_fit_options(argv)
    slurm: list[str] = []
    if "--submit" in own:  # amal submit's options follow it
        own, slurm = own[: own.index("--submit") + 1], own[own.index("--submit") + 1 :]
    parser = build_parser()
    args = parse(parser, own)
    args.slurm = slurm
    adhoc = args.name is not None or args.config is not None or args.grid or args.seeds is not None
    if args.file is not None and adhoc:
        refuse(parser, "give a study file or --name/--config/--grid, not both")
    if args.file is not None:
        study = load_study(args.file)
        study = dataclasses.replace(study, common=(*study.common, *fit_options))
        return args, study, [str(args.file)], fit_options
    if args.name is None or args.config is None or not args.grid:
        refuse(parser, "give a study file, or --name, --config and at least one --grid")
    naming = ["--name", args.name, "--config", args.config, *(word for grid in args.grid for word in ("--grid", grid))]
    if args.seeds is not None:
        naming += ["--seeds", str(args.seeds)]
    return args, adhoc_study(args.name, args.config, args.grid, fit_options, args.seeds), naming, fit_options


def study(argv: list[str]) -> int:
    """Runs ``amal study ARGV``; returns the exit status; raises AmalError on bad input."""
    args, chosen, naming, fit_options = parse_study(argv)
    # what trains (torch, Lightning) is imported once the command line is known: `--help` answers at once
    from amal_lightning.studies.check import check_study
    from amal_lightning.studies.runner import StudyInterruptedError, others_at_work, report_ended, run_study

    if chosen.search is not None:  # a search's trials are made as it runs
        from amal_lightning.command_line.search import search_study

        return search_study(args, chosen, naming, argv)
    if not args.worker:  # the process that started the workers has checked every variant
        check_study(chosen)
    if args.submit:
        if args.variant_index is not None:
            raise AmalError("--submit runs every variant, one array task each: leave out --variant-index")
        slurm = slurm_options(args.slurm, chosen)
        script = array_script(slurm, chosen, naming, fit_options)
        if slurm.dry_run:
            print(script, end="")
            return 0
        save_study(chosen)
        submit_array(chosen, script)
        return 0
    if args.variant_index is not None:
        if not 0 <= args.variant_index < len(chosen.variants):
            last = len(chosen.variants) - 1
            raise AmalError(f"--variant-index {args.variant_index}: the study's variants are 0 to {last}")
        if not (chosen.folder / STUDY_FILE).is_file():  # the tasks of an array share the one --submit wrote
            save_study(chosen)
    elif not args.worker:  # the process that started the workers has saved it
        save_study(chosen)
    workers = worker_count(args.jobs or chosen.jobs, len(chosen.variants)) if args.variant_index is None else 1
    if workers > 1 and not args.worker:
        threads = threads_per_worker(workers, args.threads)
        own, fit = split_fit_options(argv)
        # several fits at once: no progress bars drawn over one another (not part of a variant's identity)
        worker_argv = [*own, "--worker", "--threads", str(threads), "--", *fit, "--trainer.enable_progress_bar=false"]
        report_ended(chosen)
        status = run_workers(worker_argv, workers, threads)
        if status != 0:
            return status
    else:
        try:
            indices = None if args.variant_index is None else [args.variant_index]
            run_study(chosen, indices, threads=args.threads, worker=args.worker)
        except StudyInterruptedError:
            return INTERRUPTED_EXIT_STATUS
    if args.worker:
        return 0  # the process that started the workers gathers
    busy = others_at_work(chosen)
    if args.variant_index is None and not busy:  # a task of an array leaves the gathering to the login node
        finish(chosen)
    elif busy:
        print(f"{chosen.name}: {len(busy)} variant(s) still trained by other processes; the last to end gathers")
    return 0
