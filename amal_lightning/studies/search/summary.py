"""A search's results: ``summary.csv`` best trial first, its figures, and the command that trains the best again.

Beside the search's own figures (:mod:`~amal_lightning.studies.search.figures`), the ``figures`` its study
file asks for are drawn as a grid's are (:mod:`amal_lightning.studies.figures.study`), a trial as a variant.

The rows are the trials' variants' rows (:mod:`amal_lightning.studies.summary`: one per trial, the
mean over seeds with ``runs.csv`` beside it when the study has ``seeds``), with in front: ``trial``
(its number), ``state`` (Optuna's: ``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING``), ``value``
(the search's metric as told to Optuna, the mean over seeds) and one ``param <option>`` column per
searched option. Completed trials come first, best first, then the pruned ones, the failed and
those still running.
"""

from collections import Counter
from pathlib import Path
from typing import Any, Optional

from amal_lightning.runs.outcome import number
from amal_lightning.studies.figures.study import Result, draw_figures
from amal_lightning.studies.records import read_record
from amal_lightning.studies.search.figures import draw_search
from amal_lightning.studies.search.spec import reproduce
from amal_lightning.studies.search.storage import all_trials
from amal_lightning.studies.search.trials import best_of, trial_name, trial_variants
from amal_lightning.studies.spec import Study
from amal_lightning.studies.summary import aggregate_rows, column_order, summary_row, variant_log, write_table

STATE_ORDER = {"COMPLETE": 0, "PRUNED": 1, "FAIL": 2, "RUNNING": 3, "WAITING": 4}
FRONT = ["trial", "state", "value"]


def trial_rows(study: Study, trials: list[Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(a row per trial, a row per run): the runs' rows of :func:`summary_row`, the trial's columns in front."""
    assert study.search is not None
    rows, runs = [], []
    for trial in trials:
        own = [summary_row(*result) for result in trial_results(study, [trial])]
        runs += own
        row = aggregate_rows(own)[0] if study.seeded else own[0]
        value = trial.value if trial.value is not None else pruned_value(study, row)
        front = {"trial": str(trial.number), "state": trial.state.name, "value": "" if value is None else repr(value)}
        params = {f"param {key}": str(value) for key, value in trial.params.items()}
        rows.append({**front, **params, **row})
    return rows, runs


def trial_results(study: Study, trials: list[Any]) -> list[Result]:
    """Each trial's variants (one per seed) with their record and run log, as a grid's figures draw them."""
    results: list[Result] = []
    for trial in trials:
        for variant in trial_variants(study, trial.number, dict(trial.params)):
            record = read_record(study.folder, variant.slug)
            results.append((variant, record, variant_log(record)))
    return results


def pruned_value(study: Study, row: dict[str, str]) -> Optional[float]:
    """A pruned trial's metric from its shortened run (Optuna keeps none): shown, never counted as best."""
    assert study.search is not None
    text = row.get(f"{study.search.metric} mean" if study.seeded else study.search.metric, "")
    return float(text) if text else None


def sort_key(study: Study, row: dict[str, str]) -> tuple:
    assert study.search is not None
    sign = 1.0 if study.search.direction == "minimize" else -1.0
    value = float(row["value"]) if row["value"] else float("inf")
    return (STATE_ORDER.get(row["state"], 5), sign * value if row["value"] else value, int(row["trial"]))


def write_search_summary(study: Study, rows: list[dict[str, str]], runs: list[dict[str, str]]) -> Path:
    """``summary.csv``, best first (and ``runs.csv`` with seeds); its path."""
    assert study.search is not None
    rows = sorted(rows, key=lambda row: sort_key(study, row))
    params = [f"param {param.key}" for param in study.search.params]
    rest = {column for row in rows for column in row if column not in FRONT and column not in params}
    if study.seeded:
        write_table(study.folder / "runs.csv", runs)
    return write_table(study.folder / "summary.csv", rows, [*FRONT, *params, *sorted(rest, key=column_order)])


def finish_search(study: Study) -> None:
    """Writes the summary and the figures; says where they are and which trial is best, with its command."""
    spec = study.search
    assert spec is not None and study.config is not None
    trials = all_trials(study.name, study.folder, spec, study.source)
    rows, runs = trial_rows(study, trials)
    summary = write_search_summary(study, rows, runs)
    figures = draw_search(study, rows)
    if study.data.get("figures") is not None:  # the figures its file asks for, a trial as a variant
        figures += draw_figures(study, trial_results(study, trials))
    counts = Counter(trial.state.name for trial in trials)
    states = ", ".join(f"{count} {state}" for state, count in counts.items()) or "no trials"
    print(f"{study.name}: {len(trials)} of {spec.n_trials} trials: {states}")
    print(f"  summary: {summary}")
    if figures:
        print(f"  figures: {', '.join(str(path) for path in figures)}")
    best = best_of(study, trials)
    if best is None:
        print(f"  best: none yet (no trial has completed with a {spec.metric})")
        return
    seeds = study.seeds
    seeded = f" (mean of {len(seeds)} seeds; one seed's run below)" if seeds else ""
    command = reproduce(study.config, study.common, dict(best.params), seeds[0] if seeds else None)
    print(f"  best: {trial_name(best.number)}, {spec.metric} {number(best.value)}{seeded}: {command}")
