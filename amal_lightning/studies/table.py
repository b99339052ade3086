"""A study's results as a table a person reads: what ``amal study`` prints at its end, and ``amal runs STUDY``.

``summary.csv`` keeps every column at full precision, for scripts and figures (a grid with seeds has
about forty). The table printed keeps the variant, its status (and ``n``, the seeds), and the
columns the study's figures and comparisons use, each number in four significant digits, a mean
with its standard deviation (``112.2 ± 0.0011``). A search's table has a row per trial: its
parameters, Optuna's state and the objective, read from the search's journal.
"""

import math
from collections.abc import Iterable
from typing import Any, Optional

import pandas as pd

from amal_lightning.studies.spec import Study

SIGNIFICANT = 4
MAX_METRICS = 6  # a table a terminal shows without wrapping
KINDS = ("tested", "best", "final")
DEFAULT_METRICS = ("train/loss", "val/loss", "val/acc", "test/loss", "test/acc")


def compact(value: Any, digits: int = SIGNIFICANT) -> str:
    """A number in ``digits`` significant digits (empty for a missing one); anything else as it is."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}g}" if isinstance(value, (int, float)) else str(value)


def with_spread(mean: Any, spread: Any) -> str:
    """``112.2 ± 0.0011``: a mean over seeds and its standard deviation (in two digits; none where it is 0)."""
    shown = compact(spread, 2)
    return compact(mean) + ("" if shown in ("", "0") else f" ± {shown}")


def figure_columns(study: Study) -> list[str]:
    """The summary columns (``tested test/loss``) or metrics (``train/loss``) the study's figures and
    comparisons draw on, in the order they come; a metric alone is shown by its most telling column."""
    wanted: list[str] = []
    for figure in study.figures:
        column = getattr(figure, "metric", None)
        if isinstance(column, str) and " " in column:
            wanted.append(column)
        else:
            wanted += [str(metric) for metric in type(figure).drawn_metrics(figure.model_dump())]
    wanted += [comparison.metric for comparison in study.comparisons]
    if study.search is not None:
        wanted.insert(0, study.search.metric)
    return list(dict.fromkeys(wanted))


def summary_columns(wanted: Iterable[str], available: Iterable[str]) -> list[str]:
    """The columns of ``available`` (without their statistic) that show ``wanted``: a column as it is, a metric by
    its ``tested``, else ``best`` (validation), else ``final`` column; the tests after the fits where none is wanted."""
    available = set(available)
    chosen = []
    for name in wanted:
        if " " in name:
            chosen.append(name)
            continue
        kinds = KINDS if name.startswith(("val/", "test/")) else ("final", "tested")
        chosen += [column for column in (f"{kind} {name}" for kind in kinds) if column in available][:1]
    chosen = [column for column in dict.fromkeys(chosen) if column in available]
    if not chosen:
        chosen = [f"tested {name}" for name in DEFAULT_METRICS if f"tested {name}" in available]
    return chosen[:MAX_METRICS]


def compact_frame(summary: pd.DataFrame, wanted: Iterable[str]) -> pd.DataFrame:
    """The summary's rows with its naming columns and the ``wanted`` numbers, written compactly."""
    seeded = "n" in summary.columns
    available = {str(column).removesuffix(" mean") for column in summary.columns}
    front = [column for column in ("trial", "state", "variant", "status", "n") if column in summary.columns]
    front += [column for column in summary.columns if str(column).startswith("param ")]
    shown = pd.DataFrame({column: summary[column].map(compact) for column in front})
    for column in summary_columns(wanted, available):
        if seeded and f"{column} mean" in summary.columns:
            spreads = summary[f"{column} std"] if f"{column} std" in summary.columns else [None] * len(summary)
            means = summary[f"{column} mean"]
            shown[column] = [with_spread(mean, spread) for mean, spread in zip(means, spreads, strict=True)]
        elif column in summary.columns:
            shown[column] = summary[column].map(compact)
    return shown.rename(columns=lambda column: str(column).removeprefix("param "))


def summary_table(study: Study) -> Optional[str]:
    """``studies/<name>/summary.csv`` as a compact table (None before the study has one)."""
    path = study.folder / "summary.csv"
    if not path.is_file():
        return None
    summary = pd.read_csv(path, dtype={"variant": str, "status": str, "state": str})
    if summary.empty:
        return None
    return compact_frame(summary, figure_columns(study)).to_string(index=False)


def trials_frame(study: Study) -> pd.DataFrame:
    """A search's trials from its journal, running ones included: number, Optuna's state, the objective, each
    parameter (by the last part of its option)."""
    from amal_lightning.studies.search.storage import all_trials

    assert study.search is not None
    rows = []
    for trial in all_trials(study.name, study.folder, study.search, study.source):
        row = {"trial": trial.number, "state": trial.state.name, study.search.metric: compact(trial.value)}
        row.update({key.rsplit(".", 1)[-1]: compact(value) for key, value in trial.params.items()})
        rows.append(row)
    return pd.DataFrame(rows)
