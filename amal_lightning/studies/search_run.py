"""A search's worker: takes the next trial under the search's lock, trains it as a study's variant, tells Optuna.

A trial is a variant like any other (:mod:`amal_lightning.studies.runner`): ``trial N`` (slug
``trial_000N``), its options the trial's parameters, its own record, run folders and claim, and
with ``seeds`` one variant per seed. Its value is the search's ``metric`` read from the summary
row of each seed's run (:func:`amal_lightning.studies.summary.summary_row`), the mean over seeds.

Failures are data. A trial with a seed that diverged is recorded as ``diverged`` (its variant's
record) and told to Optuna as ``FAIL``, and so is one that failed otherwise or logged no value:
not ``PRUNED``, which is the pruner's verdict on a trial that was doing worse than the others at
the same epoch. Optuna counts a pruned trial with its last reported value (the TPE sampler ranks
it among the bad ones, the median pruner takes it into its medians); a diverged run has no finite
value to give, and a NaN would spoil those medians. ``FAIL`` keeps the sampler and the pruner on
the trials that produced numbers, and the summary says why each failed trial failed. The search
then goes on: a failed trial counts as one of ``n_trials``.
"""

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Optional

from amal_lightning.studies.records import DIVERGED, FAILED, FINISHED, read_record, write_record
from amal_lightning.studies.runner import run_variant
from amal_lightning.studies.search_pruning import JOURNAL_ENV, PRUNED_ENV, STUDY_ENV, TRIAL_ENV
from amal_lightning.studies.search_spec import SearchSpec, trial_options
from amal_lightning.studies.search_storage import journal_path, next_trial, tell
from amal_lightning.studies.spec import Study
from amal_lightning.studies.summary import number, summary_row, variant_log
from amal_lightning.studies.variants import Variant, with_seeds

PRUNING = "amal_lightning.studies.search_pruning.TrialPruning"


def trial_name(trial_number: int) -> str:
    return f"trial {trial_number}"


def pruning_options(spec: SearchSpec) -> tuple[str, ...]:
    """The options that put the median pruner in a trial's fit (one device: it prunes a single process)."""
    if spec.pruner != "median":
        return ()
    return (f"--trainer.callbacks+={PRUNING}", f"--trainer.callbacks.monitor={spec.monitor}", "--trainer.devices=1")


def trial_variants(study: Study, trial_number: int, params: dict[str, Any]) -> list[Variant]:
    """The variants of a trial: one, or one per seed of the study's ``seeds``."""
    assert study.search is not None and study.config is not None
    options = (*trial_options(params), *pruning_options(study.search))
    variant = Variant(trial_name(trial_number), f"trial_{trial_number:04d}", study.config, options)
    return with_seeds([variant], study.data.get("seeds"))


def pruned_marker(study: Study, variant: Variant) -> Path:
    return study.folder / "pruned" / f"{variant.slug}.txt"


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
        marker = pruned_marker(study, variant)
        if marker.is_file():
            pruned = marker.read_text().strip()
    mean = sum(values) / len(values)
    return ("PRUNED", mean, pruned) if pruned else ("COMPLETE", mean, "")


def run_trial(study: Study, trial: Any) -> tuple[str, Optional[float], str, list[str]]:
    """Trains a trial's variants (resuming those interrupted); its state, value, note and progress lines."""
    assert study.search is not None
    variants = trial_variants(study, trial.number, dict(trial.params))
    lines = []
    environment = {
        JOURNAL_ENV: str(journal_path(study.folder).resolve()),
        STUDY_ENV: study.name,
        TRIAL_ENV: str(trial.number),
    }
    for variant in variants:
        marker = pruned_marker(study, variant)
        saved = {key: os.environ.get(key) for key in (*environment, PRUNED_ENV)}
        os.environ.update({**environment, PRUNED_ENV: str(marker.resolve())})
        try:
            if study.search.pruner == "median":
                marker.parent.mkdir(parents=True, exist_ok=True)
            line, _ = run_variant(study, variant)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        lines.append(f"{variant.name} ... {line}")
    state, value, note = trial_result(study, variants)
    if state == "PRUNED":
        for variant in variants:  # the record says why its fit ended early
            record = read_record(study.folder, variant.slug)
            if record is not None and not record.note:
                write_record(study.folder, variant.slug, dataclasses.replace(record, note=f"pruned: {note}"))
    return state, value, note, lines


def best_of(study: Study, trials: list[Any]) -> Optional[Any]:
    """The best COMPLETE trial, None before the first."""
    assert study.search is not None
    done = [trial for trial in trials if trial.state.name == "COMPLETE" and trial.value is not None]
    if not done:
        return None
    pick = min if study.search.direction == "minimize" else max
    return pick(done, key=lambda trial: trial.value)


def run_search(study: Study) -> int:
    """Runs trials until the search has ``n_trials`` (done, or being run by live workers); how many it ran."""
    spec = study.search
    assert spec is not None
    ran = 0
    while True:
        taken = next_trial(study.name, study.folder, spec, study.source)
        if taken is None:
            return ran
        trial, claim, resumed = taken
        prefix = f"[{trial.number + 1}/{spec.n_trials}] {trial_name(trial.number)} ({short_params(trial.params)})"
        with claim:
            if resumed:
                print(f"{prefix} ... its worker is gone: carried on", flush=True)
            state, value, note, lines = run_trial(study, trial)
            optuna_study = tell(study.name, study.folder, spec, study.source, trial.number, value, state)
        ran += 1
        if study.seeded:
            for line in lines:
                print(f"  {line}", flush=True)
        said = lines[0].split(" ... ", 1)[1] if len(lines) == 1 else f"{len(lines)} seeds"
        result = f"{spec.metric} {number(value)}" if value is not None else note
        best = best_of(study, optuna_study.get_trials(deepcopy=False))
        so_far = "" if best is None else f"; best so far: {trial_name(best.number)}, {number(best.value)}"
        print(f"{prefix} ... {said}; {state}: {result}{so_far}", flush=True)
