"""What is refused before a search trains: its pruner, its journal, and each searched option at its ends.

The ``pruner`` against the seeds and devices, the journal (damaged, of another study, another
search space), and each searched option at its ends (every choice of a categorical one) through
``amal fit``'s own parser, each refusal one line naming the study file and the key.
"""

from amal_lightning.api import check_command_line
from amal_lightning.errors import AmalError
from amal_lightning.studies.search.spec import trial_options
from amal_lightning.studies.search.storage import check_journal, journal_path, open_search
from amal_lightning.studies.search.trials import pruning_options
from amal_lightning.studies.spec import Study
from amal_lightning.words import option_of

PLACEMENT = ("--trainer.devices", "--trainer.num_nodes")  # a pruned fit runs on one device


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
    if journal_path(study.folder).exists():
        check_journal(journal_path(study.folder), study.source)
        open_search(study.name, study.folder, spec, study.source)
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
