"""``amal study``: run a study file or an ad-hoc grid, here or as a SLURM job array, then gather it.

::

    amal study configs/studies/tme2_gd_variants.yaml
    amal study configs/studies/tme2_step_size.yaml --quick   # a tenth of its steps, in studies/tme2_step_size-quick/
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

from jsonargparse import SUPPRESS, ArgumentParser
from jsonargparse.typing import PositiveInt

from amal_lightning.parse_errors import command_parser, parse, refuse
from amal_lightning.studies.orchestration import Request, run_study_command
from amal_lightning.studies.quick import quick_study
from amal_lightning.studies.spec import Study, adhoc_study, load_study, study_schema
from amal_lightning.words import split_after, split_at_separator


def build_parser() -> ArgumentParser:
    parser = command_parser(
        "amal study",
        "Run a study: several `amal fit` variants, a summary table and figures in studies/NAME/.",
        "Options after `--` go to every variant's `amal fit`, e.g. `-- --trainer.max_epochs 100`. "
        "After --submit come `amal submit`'s options (--time, --partition, --gpus-per-node, --profile, --dry-run, "
        "...) and --max-parallel N, the most array tasks running at once.",
    )
    add = parser.add_argument
    add("file", nargs="?", type=Optional[Path], help="a study file, e.g. configs/studies/tme2_gd_variants.yaml")
    add("--name", type=Optional[str], help="ad-hoc study: its name (a plain folder name)")
    add("--config", type=Optional[str], help="ad-hoc study: the config every variant starts from")
    add(
        "--grid",
        action="append",
        type=str,
        default=[],
        help="ad-hoc study: KEY=V1,V2,... (repeatable: all combinations)",
    )
    add(
        "--seeds",
        type=Optional[PositiveInt],
        help="ad-hoc study: run each variant with seeds 0 to N-1 (mean, std, bands)",
    )
    add("--variant-index", type=Optional[int], help="run only this variant (0-based), as a task of a job array does")
    add(
        "--jobs",
        type=Optional[Union[PositiveInt, Literal["auto"]]],
        help="worker processes training variants at once (auto: one per GPU, else one per core; "
        "default: the study file's jobs, else 1)",
    )
    add("--threads", type=Optional[PositiveInt], help="torch threads of each worker (default: its share of the cores)")
    add("--worker", action="store_true", help=SUPPRESS)  # one of the processes --jobs starts
    add(
        "--submit",
        action="store_true",
        help="run it on SLURM as a job array, one task per variant; amal submit's options follow it",
    )
    add(
        "--quick",
        action="store_true",
        help="a tenth of the epochs or steps (whichever the study counts), in studies/NAME-quick/",
    )
    add("--schema", action="store_true", help="print the study file's JSON Schema (docs/STUDIES.md)")
    return parser


def parse_study(argv: list[str]) -> Optional[tuple[Study, Request]]:
    """The study named on the command line, and what ``amal study`` is asked to do with it (None: ``--schema``)."""
    own, fit_options = split_at_separator(argv)
    naming_words, cluster_words = split_after(own, "--submit")  # the cluster options follow --submit
    parser = build_parser()
    args = parse(parser, naming_words)
    if args.schema:
        return None
    adhoc = args.name is not None or args.config is not None or args.grid or args.seeds is not None
    if args.file is not None and adhoc:
        refuse(parser, "give a study file or --name/--config/--grid, not both")
    if args.file is not None:
        study = load_study(args.file)
        study = dataclasses.replace(study, common=(*study.common, *fit_options))
        naming = [str(args.file)]
    else:
        if args.name is None or args.config is None or not args.grid:
            refuse(parser, "give a study file, or --name, --config and at least one --grid")
        grids = [word for grid in args.grid for word in ("--grid", grid)]
        naming = ["--name", args.name, "--config", args.config, *grids]
        if args.seeds is not None:
            naming += ["--seeds", str(args.seeds)]
        study = adhoc_study(args.name, args.config, args.grid, fit_options, args.seeds)
    if args.quick:
        study, naming = quick_study(study), [*naming, "--quick"]
    request = Request(
        naming,
        own,
        fit_options,
        variant_index=args.variant_index,
        jobs=args.jobs,
        threads=args.threads,
        worker=args.worker,
        cluster_words=cluster_words if args.submit else None,
    )
    return study, request


def study(argv: list[str]) -> int:
    """Runs ``amal study ARGV``; returns the exit status; raises AmalError on bad input."""
    parsed = parse_study(argv)
    if parsed is None:  # --schema: the study file's JSON Schema, nothing run
        print(study_schema())
        return 0
    chosen, request = parsed
    return run_study_command(chosen, request)
