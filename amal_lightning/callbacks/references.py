"""Reference values beside a run's curves: what the data itself allows, logged once at step 0.

At the start of each fit, on global rank zero, the callback asks the model for its reference values
(``pl_module.reference_values(datamodule)``, a method every lab model may give, computed with
:mod:`amal_lightning.data.references`) and logs each to every logger (TensorBoard's and those added) once at step 0, as
``reference/<name>``; the study figures read them under these names. What each lab logs:

- the regressions (TME1, TME2): ``reference/{train,val,test}/loss``, the least-squares MSE on each
  split, in the unit of the model's ``train/loss``, and for a linear model ``reference/step_limit``,
  2/λ_max of the Hessian of that loss;
- the classifiers (TME3): ``reference/{val,test}/acc``, chance;
- the autoencoder (TME3): ``reference/{val,test}/mse``, PCA with as many components as the code, and
  ``reference/mean_image/{val,test}/mse``, the mean training image's.

A fit resumed in its own run logs nothing: its event files hold the values already. A model with no
``reference_values``, or a run without a logger, logs nothing; a failure is a warning,
never a failed run.
"""

from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn

PREFIX = "reference/"


def reference_values(model: L.LightningModule, datamodule: Any) -> dict[str, float]:
    """What ``model`` says of its references on ``datamodule``, named without the prefix (none if it says nothing)."""
    says = getattr(model, "reference_values", None)
    return dict(says(datamodule)) if callable(says) else {}


class ReferenceValues(L.Callback):
    """Logs, once at step 0 of a fit, the reference values of :mod:`amal_lightning.callbacks.references`.

    Args:
        skip: log nothing: a fit resumed in its own run, whose event files hold them already.
    """

    def __init__(self, skip: bool = False) -> None:
        super().__init__()
        self.skip = skip
        self.logged: dict[str, float] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.skip or not trainer.is_global_zero:
            return
        if not trainer.loggers or trainer.datamodule is None:
            return
        try:
            values = reference_values(pl_module, trainer.datamodule)
            for logger in trainer.loggers if values else []:  # TensorBoard and every logger added beside it
                logger.log_metrics({f"{PREFIX}{name}": value for name, value in values.items()}, step=0)
        except Exception as error:  # noqa: BLE001 - a reference is a side output: never a failed run
            rank_zero_warn(f"Reference values not logged: {type(error).__name__}: {error}")
            return
        self.logged = {f"{PREFIX}{name}": value for name, value in values.items()}
