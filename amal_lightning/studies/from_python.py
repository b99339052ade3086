"""A study run from Python (a notebook): :func:`study` runs it as ``amal study`` does and returns its tables.

::

    from amal_lightning.studies import study

    result = study("configs/studies/tme2_gd_variants.yaml")   # or a mapping with a study file's keys
    result.summary       # summary.csv as a pandas DataFrame: a row per variant (n, mean, std with seeds)
    result.runs          # runs.csv: a row per run (each seed of each variant)
    result.comparisons   # comparisons.csv: the paired differences and their intervals (empty without)
    result.figures       # {figure file name: its PNG}; IPython.display.Image(path) shows one inline

The variants train in this process, one after another (a study file's ``jobs`` starts worker
processes only from the command line), resumably: what finished is kept when it runs again. Its
progress lines are printed as ``amal study`` prints them. It lives with the studies rather than in
:mod:`amal_lightning.api`, which runs one fit and sits below them. pandas is imported only here,
when a study's tables are read (``pip install -e ".[notebooks]"`` brings it).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from amal_lightning.errors import INTERRUPTED_EXIT_STATUS, AmalError
from amal_lightning.studies.orchestration import Request, run_study_command
from amal_lightning.studies.spec import Study, build_study, load_study


@dataclass(frozen=True)
class StudyResult:
    """What a study left in its folder (``studies/<name>/``), its tables read as pandas DataFrames."""

    name: str
    folder: Path
    summary: Any
    runs: Any
    comparisons: Any
    figures: dict[str, Path]


def read_result(study: Study) -> StudyResult:
    """The tables and figures of ``study``'s folder; a table the study did not write is an empty DataFrame."""
    import pandas

    def table(name: str) -> Any:
        path = study.folder / name
        return pandas.read_csv(path) if path.is_file() else pandas.DataFrame()

    figures = {path.name: path for path in sorted(study.folder.glob("*.png"))}
    return StudyResult(
        study.name, study.folder, table("summary.csv"), table("runs.csv"), table("comparisons.csv"), figures
    )


def study(file_or_mapping: Union[str, Path, Mapping[str, Any]], name: Optional[str] = None) -> StudyResult:
    """Runs a study (a study file, or a mapping with its keys, see docs/STUDIES.md) here, as ``amal study``
    does, and returns its results. ``name`` names a mapping's study when it has no ``name`` key.

    Raises :class:`~amal_lightning.errors.AmalError` (one line) for a bad study and when Ctrl+C
    interrupts it (the same call resumes it).
    """
    if isinstance(file_or_mapping, Mapping):
        spec = build_study("the study given as a mapping", dict(file_or_mapping), name or "study")
    else:
        spec = load_study(Path(file_or_mapping))
    status = run_study_command(spec, Request(naming=[], own=[], jobs=1))
    if status == INTERRUPTED_EXIT_STATUS:
        raise AmalError(f"{spec.name}: interrupted; the same call resumes it")
    return read_result(spec)
