"""A search's trials as a study's variants, torch-free: their names and options, their results, the best.

Read by the worker that runs trials (:mod:`amal_lightning.studies.search.run`) and by the summary
and figures, which ``amal plot --study`` draws without torch.
"""

import math
from typing import Any, Optional

from amal_lightning.runs.outcome import number
from amal_lightning.studies.records import DIVERGED, FAILED, FINISHED, read_record
from amal_lightning.studies.search.spec import SearchSpec
from amal_lightning.studies.spec import Study
from amal_lightning.studies.summary import METRIC_KINDS, column_order, summary_row, variant_log
from amal_lightning.studies.variants import Variant, with_seeds

PRUNED_NOTE = "pruned: "  # how a pruned trial's variant record begins its note


def trial_name(trial_number: int) -> str:
    return f"trial {trial_number}"


def pruning_options(spec: SearchSpec) -> dict[str, Any]:
    """The options of a pruned trial's fit: one device, as the median pruner prunes a single process
    (the pruning callback itself is an object the worker gives the fit, :mod:`.pruning`)."""
    return {"trainer.devices": 1} if spec.pruner == "median" else {}


def trial_variants(study: Study, trial_number: int, params: dict[str, Any]) -> list[Variant]:
    """The variants of a trial: one, or one per seed of the study's ``seeds``."""
    assert study.search is not None and study.config is not None
    options = {**params, **pruning_options(study.search)}
    variant = Variant(trial_name(trial_number), f"trial_{trial_number:04d}", study.config, options)
    return with_seeds([variant], study.seeds)


def short_params(params: dict[str, Any]) -> str:
    """``lr=0.0123, batch_size=8``: each parameter by the last part of its key."""
    shown = [f"{key.rsplit('.', 1)[-1]}={number(v) if isinstance(v, float) else v}" for key, v in params.items()]
    return ", ".join(shown)


def trial_result(study: Study, variants: list[Variant]) -> tuple[str, Optional[float], str]:
    """(the Optuna state, the metric's mean over seeds or None, why it failed or was pruned)."""
    assert study.search is not None
    metric, values, pruned = study.search.metric, [], ""
    for variant in variants:
        record = read_record(study.folder, variant.slug)
        if record is None or record.status not in (FINISHED, DIVERGED, FAILED):
            return "FAIL", None, f"{variant.name}: {'never started' if record is None else record.status}"
        if record.status == DIVERGED:
            return "FAIL", None, f"{variant.name} diverged"
        if record.status == FAILED:
            return "FAIL", None, f"{variant.name} failed: {record.note}"
        text = summary_row(variant, record, variant_log(record)).get(metric, "")
        value = float(text) if text else math.nan
        if not math.isfinite(value):
            return "FAIL", None, f"{variant.name}: {metric} is {text or 'missing'} (not a summary column of its run?)"
        values.append(value)
        if record.note.startswith(PRUNED_NOTE):  # written by the worker whose fit the pruner stopped
            pruned = record.note.removeprefix(PRUNED_NOTE)
    mean = sum(values) / len(values)
    return ("PRUNED", mean, pruned) if pruned else ("COMPLETE", mean, "")


def best_of(study: Study, trials: list[Any]) -> Optional[Any]:
    """The best COMPLETE trial, None before the first."""
    assert study.search is not None
    done = [trial for trial in trials if trial.state.name == "COMPLETE" and trial.value is not None]
    if not done:
        return None
    pick = min if study.search.direction == "minimize" else max
    return pick(done, key=lambda trial: trial.value)


def unlogged_metric(study: Study, variants: list[Variant]) -> Optional[str]:
    """Why the search must stop, in one line, when a trial's run finished without its metric among its summary
    columns (``final val/nonexistent``): every later trial would train blind, its sampler never given a value.
    The line lists the columns the run did produce; None when it has the metric, or did not finish."""
    assert study.search is not None
    metric = study.search.metric
    for variant in variants:
        record = read_record(study.folder, variant.slug)
        if record is None or record.status != FINISHED:
            continue
        row = summary_row(variant, record, variant_log(record))
        if metric in row:
            return None
        produced = sorted((column for column in row if column.startswith(METRIC_KINDS)), key=column_order)
        return (
            f"{study.source}, search, metric: {variant.name}'s run has no {metric!r} column, so no trial can be "
            f"ranked; its columns: {', '.join(produced) or 'none'}"
        )
    return None
