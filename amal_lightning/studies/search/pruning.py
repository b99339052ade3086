"""The median pruner inside a trial's fit: Optuna's own Lightning callback, told the trial by the search.

A search with ``pruner: median`` adds ``--trainer.callbacks+=amal_lightning.studies.search.pruning.TrialPruning``
to each trial's ``amal fit``. The fit runs in the search's process (one seed per trial, one device:
``optuna_integration.PyTorchLightningPruningCallback`` prunes in a single process only), which says
which trial it is through the environment (:data:`JOURNAL_ENV`, :data:`STUDY_ENV`, :data:`TRIAL_ENV`).

Every validation reports the monitored value to the trial (its intermediate values); when the median
pruner judges the trial worse than the median of the others at that epoch, the callback would raise
``optuna.TrialPruned`` out of the fit. Here the fit ends instead as an early stop does
(``trainer.should_stop``): its checkpoints, test and logs are those of any finished run, and the file
named by :data:`PRUNED_ENV` tells the search to record the trial as ``PRUNED``.
"""

import os
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from optuna_integration import PyTorchLightningPruningCallback

from amal_lightning.errors import AmalError

JOURNAL_ENV = "AMAL_SEARCH_JOURNAL"
STUDY_ENV = "AMAL_SEARCH_STUDY"
TRIAL_ENV = "AMAL_SEARCH_TRIAL"
PRUNED_ENV = "AMAL_SEARCH_PRUNED"


def current_trial() -> Any:
    """The trial the search runs now, from the environment; one line of error outside a search."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    try:
        journal, name, number = os.environ[JOURNAL_ENV], os.environ[STUDY_ENV], int(os.environ[TRIAL_ENV])
    except (KeyError, ValueError):
        raise AmalError(f"TrialPruning: only a search's trials use it ({TRIAL_ENV} is not set)") from None
    storage = optuna.storages.JournalStorage(JournalFileBackend(journal))
    study = optuna.load_study(study_name=name, storage=storage, pruner=optuna.pruners.MedianPruner())
    frozen = study.get_trials(deepcopy=False)[number]
    return optuna.trial.Trial(study, frozen._trial_id)


class TrialPruning(PyTorchLightningPruningCallback):
    """Reports ``monitor`` to the search's trial after each validation; stops the fit when it is pruned."""

    def __init__(self, monitor: str = "val/loss") -> None:
        super().__init__(current_trial(), monitor)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.world_size > 1:
            raise AmalError("pruner: median prunes a fit on one device only (set --trainer.devices=1)")
        super().on_fit_start(trainer, pl_module)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        import optuna

        try:
            super().on_validation_end(trainer, pl_module)
        except optuna.TrialPruned as pruned:
            trainer.should_stop = True
            marker = os.environ.get(PRUNED_ENV)
            if marker:
                Path(marker).write_text(f"{pruned} (median pruner on {self.monitor})\n")
