"""The median pruner inside a trial's fit: Optuna's own Lightning callback, given the trial it reports to.

A search with ``pruner: median`` gives each trial's fit a :class:`TrialPruning` object built from the
``optuna.trial.Trial`` its worker holds (:func:`amal_lightning.studies.search.run.run_trial`), through
:func:`amal_lightning.api.fit`'s ``callbacks``. The fit runs in the search's process, on one device
(``optuna_integration.PyTorchLightningPruningCallback`` prunes in a single process only).

Every validation reports the monitored value to the trial (its intermediate values); when the median
pruner judges the trial worse than the median of the others at that epoch, the callback would raise
``optuna.TrialPruned`` out of the fit. Here the fit ends instead as an early stop does
(``trainer.should_stop``): its checkpoints, test and logs are those of any finished run, and the
callback's :attr:`TrialPruning.pruned` says why, for the worker to record the trial as ``PRUNED``.
"""

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from optuna_integration import PyTorchLightningPruningCallback

from amal_lightning.errors import AmalError


class TrialPruning(PyTorchLightningPruningCallback):
    """Reports ``monitor`` to ``trial`` after each validation; stops the fit when the pruner prunes it.

    Attributes:
        pruned: why the pruner stopped the fit (empty while it has not).
    """

    def __init__(self, trial: Any, monitor: str = "val/loss") -> None:
        super().__init__(trial, monitor)
        self.pruned = ""

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
            self.pruned = f"{pruned} (median pruner on {self.monitor})"
