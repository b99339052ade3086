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
then goes on: a failed trial counts as one of ``n_trials``. Except when a trial's run finished without
the metric among its summary columns (``final val/nonexistent``): no later trial would log it either,
so the search stops there, in one line listing the columns that run did produce.
"""

import dataclasses
from typing import Any, Optional

from amal_lightning.errors import AmalError
from amal_lightning.runs.outcome import number
from amal_lightning.studies.records import read_record, write_record
from amal_lightning.studies.runner import run_variant
from amal_lightning.studies.search.pruning import TrialPruning
from amal_lightning.studies.search.storage import next_trial, tell
from amal_lightning.studies.search.trials import (
    PRUNED_NOTE,
    best_of,
    short_params,
    trial_name,
    trial_result,
    trial_variants,
    unlogged_metric,
)
from amal_lightning.studies.spec import Study


def run_trial(study: Study, trial: Any) -> tuple[str, Optional[float], str, list[str]]:
    """Trains a trial's variants (resuming those interrupted); its state, value, note and progress lines.

    ``trial`` is the ``optuna.trial.Trial`` the worker took: with ``pruner: median`` each fit gets a
    :class:`TrialPruning` reporting to it, whose verdict goes to the variant's record (``pruned: ...``).
    """
    assert study.search is not None
    variants = trial_variants(study, trial.number, dict(trial.params))
    lines = []
    for variant in variants:
        pruning = TrialPruning(trial, study.search.monitor) if study.search.pruner == "median" else None
        line, _ = run_variant(study, variant, callbacks=[] if pruning is None else [pruning])
        record = read_record(study.folder, variant.slug)
        if pruning is not None and pruning.pruned and record is not None:  # the record says why its fit ended early
            write_record(study.folder, variant.slug, dataclasses.replace(record, note=f"{PRUNED_NOTE}{pruning.pruned}"))
        lines.append(f"{variant.name} ... {line}")
    state, value, note = trial_result(study, variants)
    return state, value, note, lines


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
        if state == "FAIL":  # a metric its finished run did not log: the next trials would train blind
            unlogged = unlogged_metric(study, trial_variants(study, trial.number, dict(trial.params)))
            if unlogged is not None:
                raise AmalError(unlogged)
        ran += 1
        if study.seeded:
            for line in lines:
                print(f"  {line}", flush=True)
        said = lines[0].split(" ... ", 1)[1] if len(lines) == 1 else f"{len(lines)} seeds"
        result = f"{spec.metric} {number(value)}" if value is not None else note
        best = best_of(study, optuna_study.get_trials(deepcopy=False))
        so_far = "" if best is None else f"; best so far: {trial_name(best.number)}, {number(best.value)}"
        print(f"{prefix} ... {said}; {state}: {result}{so_far}", flush=True)
