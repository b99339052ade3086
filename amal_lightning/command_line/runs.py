"""``amal runs [NAME]``: a table of the fits, one row per run folder, from their ``run.json`` files (their outcomes).

Each row says the run's status (finished, diverged, failed, interrupted or running: a ``running``
record whose process is gone reads as interrupted), its epochs done out of the maximum, its best
validation metric and epoch, the test after the fit, and the checkpoint that resumes it. ``NAME``
is an experiment, or a study (its variants' experiments, ``<study>.<variant>``). Reads small files
only: no torch, no event files. A search (a study with ``search:``) is listed as its trials instead:
each one's number, Optuna's state, the objective and its parameters, from the search's journal.
``--summary`` prints a study's summary table again, as ``amal study`` printed it at its end.
"""

import csv
import sys
from pathlib import Path
from typing import Optional

from jsonargparse import ArgumentParser

from amal_lightning.errors import AmalError
from amal_lightning.parse_errors import command_parser, parse
from amal_lightning.runs.folders import DEFAULT_CHECKPOINT_ROOT, newest_state
from amal_lightning.runs.outcome import Outcome, diverged_record, number
from amal_lightning.runs.record import read_run_record, status

COLUMNS = ("experiment", "run", "status", "epochs", "best", "best_epoch", "tested", "resume")


def build_parser() -> ArgumentParser:
    parser = command_parser("amal runs", "List the fits: status, epochs, best validation, test, what resumes each.")
    parser.add_argument("name", nargs="?", type=Optional[str], help="an experiment, or a study's name")
    parser.add_argument("--checkpoint_dir", type=Path, default=DEFAULT_CHECKPOINT_ROOT, help="where the runs are")
    parser.add_argument("--csv", action="store_true", help="comma-separated values, for scripts")
    parser.add_argument("--summary", action="store_true", help="a study's summary table, as amal study printed it")
    return parser


def study_tables(name: Optional[str], summary: bool, as_csv: bool) -> Optional[str]:
    """What ``amal runs NAME`` prints for a study: its summary table (``summary``) or a search's trials; None for
    an experiment or a grid, listed by run folder."""
    if name is None:
        return None
    from amal_lightning.studies.gathering import saved_study  # pydantic and the figure kinds: only for a study's name

    study = saved_study(name)
    if study is None:
        if summary:
            raise AmalError(f"--summary: no study named {name} here (studies/{name}/study.yaml)")
        return None
    from amal_lightning.studies.table import summary_table, trials_frame  # pandas

    if summary:
        return summary_table(study) or f"{study.name}: no summary yet (studies/{study.name}/summary.csv)"
    if study.search is None:
        return None
    trials = trials_frame(study)
    if trials.empty:
        return f"{study.name}: no trial yet"
    return trials.to_csv(index=False).rstrip("\n") if as_csv else trials.to_string(index=False)


def row(folder: Path) -> dict[str, str]:
    """One run folder's row, from its saved outcome; a run older than ``run.json`` is read from its files."""
    outcome = read_run_record(folder)
    said = status(outcome) if outcome else ("diverged" if diverged_record(folder) is not None else "unknown")
    state = newest_state(folder)
    best = None if outcome is None else outcome.best
    tested = {} if outcome is None else outcome.test_metrics
    return {
        "experiment": folder.parent.name,
        "run": folder.name,
        "status": said,
        "epochs": "" if outcome is None else epochs(outcome),
        "best": "" if best is None or outcome is None else f"{outcome.monitor} {number(best)}",
        "best_epoch": "" if outcome is None or outcome.best_epoch is None else str(outcome.best_epoch),
        "tested": ", ".join(f"{name} {number(value)}" for name, value in sorted(tested.items())),
        "resume": "" if state is None or said in ("finished", "diverged") else str(state),
    }


def epochs(outcome: Outcome) -> str:
    """``done/maximum`` of what drives the run: its epochs, or its steps (``60/600 steps``) under ``max_steps``."""
    if outcome.driven_by_steps:
        return f"{outcome.steps}/{outcome.max_steps} steps"
    return f"{outcome.total_epochs}/{outcome.max_epochs}"


def run_folders(root: Path, name: Optional[str]) -> list[Path]:
    experiments = sorted(folder for folder in root.iterdir() if folder.is_dir()) if root.is_dir() else []
    if name is not None:
        experiments = [folder for folder in experiments if folder.name == name or folder.name.startswith(f"{name}.")]
        if not experiments:
            raise AmalError(f"{name}: no experiment or study of that name under {root}/")
    runs = [run for experiment in experiments for run in experiment.iterdir() if run.is_dir()]
    return sorted(runs, key=lambda run: (run.parent.name, run.stat().st_mtime))


def table(rows: list[dict[str, str]]) -> str:
    """The rows as aligned columns, the empty ones left out."""
    shown = [column for column in COLUMNS if column in ("experiment", "run", "status") or any(r[column] for r in rows)]
    widths = {column: max(len(column), *(len(r[column]) for r in rows)) for column in shown}
    lines = ["  ".join(column.ljust(widths[column]) for column in shown)]
    lines += ["  ".join(r[column].ljust(widths[column]) for column in shown) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def runs(argv: list[str]) -> None:
    """Prints the table of ``amal runs ARGV``; raises AmalError for a name that matches nothing."""
    args = parse(build_parser(), argv)
    tables = study_tables(args.name, args.summary, args.csv)
    if tables is not None:
        print(tables)
        return
    rows = [row(folder) for folder in run_folders(args.checkpoint_dir, args.name)]
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif rows:
        print(table(rows))
    else:
        print(f"no runs under {args.checkpoint_dir}/")
