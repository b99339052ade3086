"""``--trainer.callbacks.OPTION`` after ``--trainer.callbacks+=NAME`` reaches NAME's callback, whatever came before."""

from lightning.pytorch.callbacks import Callback, EarlyStopping, LearningRateMonitor

from amal_lightning.api import fit
from tests.helpers import CONFIGS, TEST_SETTINGS


class Callbacks(Callback):
    """Keeps the Trainer's callbacks as the fit starts."""

    def on_fit_start(self, trainer, pl_module) -> None:
        self.seen = list(trainer.callbacks)


def test_each_callback_s_options_reach_it_after_the_config_s_and_the_earlier_ones(workdir):
    seen = Callbacks()
    fit(
        CONFIGS / "tanh_mlp.yaml",  # its own callback first: EpochProgressBar
        *("--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val/loss"),
        "--trainer.callbacks.init_args.patience=7",
        *("--trainer.callbacks+=LearningRateMonitor", "--trainer.callbacks.logging_interval=epoch"),
        *("--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=train/loss"),
        *("--trainer.max_epochs=1", "--test=false", *(f"{name}={value}" for name, value in TEST_SETTINGS.items())),
        callbacks=[seen],
    )
    stops = [callback for callback in seen.seen if isinstance(callback, EarlyStopping)]
    assert [(stop.monitor, stop.patience) for stop in stops] == [("val/loss", 7), ("train/loss", 3)]
    (monitor,) = [callback for callback in seen.seen if isinstance(callback, LearningRateMonitor)]
    assert monitor.logging_interval == "epoch"
