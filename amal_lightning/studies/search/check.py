"""What is refused before a search trains: its metric, size, pruner, journal, and each searched option at its ends.

The metric against the summary columns a run can have, the trials (times the seeds) against
``max_variants`` as a grid's, the ``pruner`` against the seeds and devices,
the journal (damaged, of another study, another search space), and each searched option at its ends
(every choice of a categorical one) through ``amal fit``'s own parser, each refusal one line naming
the study file and the key.
"""

from amal_lightning.api import check_command_line
from amal_lightning.errors import AmalError
from amal_lightning.studies.search.spec import trial_options
from amal_lightning.studies.search.storage import check_journal, journal_path, open_search
from amal_lightning.studies.search.trials import pruning_options, trial_variants, unlogged_metric
from amal_lightning.studies.spec import Study
from amal_lightning.studies.summary import BEST
from amal_lightning.studies.variants import MAX_VARIANTS, check_count
from amal_lightning.words import option_of

PLACEMENT = ("--trainer.devices", "--trainer.num_nodes")  # a pruned fit runs on one device


def check_metric(where: str, metric: str) -> None:
    """Refuses a metric that no run's summary ever has: a ``best`` of a curve that keeps no best value, a
    ``tested`` of a curve the test after a fit does not log. A metric of a curve the model may not log is
    found once the first trial ends (:func:`~amal_lightning.studies.search.trials.unlogged_metric`)."""
    kind, curve = metric.split(" ", 1)
    if kind == "best" and curve.rsplit("/", 1)[-1] not in BEST:
        kept = ", ".join(f"*/{name}" for name in BEST)
        raise AmalError(
            f"{where}, metric: {metric!r} is never a summary column (a best is kept of {kept}); try final {curve}"
        )
    if kind == "tested" and not curve.startswith("test/"):
        raise AmalError(f"{where}, metric: {metric!r} is never a summary column (the test after a fit logs test/*)")


def check_search(study: Study) -> None:
    """Everything that can be refused before a search trains, each in one line naming the file and the key."""
    spec = study.search
    assert spec is not None and study.config is not None
    where = f"{study.source}, search"
    seeds = study.seeds or []
    if spec.pruner == "median" and len(seeds) > 1:
        raise AmalError(f"{where}, pruner: median prunes one seed per trial; the study has seeds {seeds}")
    devices = [word for word in study.common if option_of(word) in PLACEMENT]
    if spec.pruner == "median" and any(not word.endswith("=1") for word in devices):
        raise AmalError(f"{where}, pruner: median prunes a fit on one device; the options say {' '.join(devices)}")
    check_metric(where, spec.metric)
    # each trial counted once per seed, as a grid's variants are
    check_count(where, [spec.n_trials], len(seeds) or 1, study.data.get("max_variants", MAX_VARIANTS), " trials")
    if journal_path(study.folder).exists():
        check_journal(journal_path(study.folder), study.source)
        trials = open_search(study.name, study.folder, spec, study.source).get_trials(deepcopy=False)
        for trial in (trial for trial in trials if trial.state.name == "FAIL"):
            # a trial whose run did not log the metric: the next would not either (the search stopped there)
            unlogged = unlogged_metric(study, trial_variants(study, trial.number, dict(trial.params)))
            if unlogged is not None:
                raise AmalError(unlogged)
    base = ["fit", "--config", str(study.config), *study.common]
    try:
        check_command_line([*base, *trial_options(pruning_options(spec))])
    except AmalError as error:
        raise AmalError(f"{study.source}: common options: {error}") from None
    for param in spec.params:
        for value in param.corners():
            try:
                check_command_line([*base, *trial_options({param.key: value})])
            except AmalError as error:
                raise AmalError(f"{where}, params, {param.key} = {value!r}: {error}") from None
