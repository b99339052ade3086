"""What amal runs around every training step stays cheap: the bar over batches redraws every
``refresh_rate`` batches and at each epoch's end, no more; Lightning's calls to the profiler around
each hook cost nothing unless a profiler is asked for."""

import sys

import lightning as L
import pytest
import torch
from lightning.pytorch.profilers import SimpleProfiler
from torch.utils.data import DataLoader, TensorDataset

from amal_lightning.api.loggers import SilentProfiler
from amal_lightning.callbacks import RunProgressBar
from amal_lightning.command_line.main import main
from tests.helpers import CONFIGS, run_inprocess

QUIET_FIT = ["--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false", "--test", "false"]


class Regression(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class RecordedBar(RunProgressBar):
    """Records the batch count that the training bar shows at each redraw."""

    def __init__(self, refresh_rate: int) -> None:
        super().__init__(refresh_rate)
        self.shown: list[int] = []

    def init_train_tqdm(self):  # type: ignore[no-untyped-def]
        bar = super().init_train_tqdm()
        refresh = bar.refresh

        def recorded_refresh(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.shown.append(bar.n)
            return refresh(*args, **kwargs)

        bar.refresh = recorded_refresh
        return bar


def test_the_batch_bar_redraws_every_refresh_rate_batches_and_at_each_epochs_end(tmp_path):
    data = TensorDataset(torch.randn(14, 2), torch.randn(14, 1))
    bar = RecordedBar(refresh_rate=3)
    trainer = L.Trainer(
        max_epochs=2, callbacks=[bar], logger=False, enable_checkpointing=False, default_root_dir=tmp_path
    )
    trainer.fit(Regression(), DataLoader(data, batch_size=2))  # 7 batches an epoch
    # the counts shown, each once (a redraw refreshes the bar and its metrics), without the resets to 0
    shown = [count for count, before in zip(bar.shown, [None, *bar.shown], strict=False) if count and count != before]
    assert shown == [3, 6, 7, 3, 6, 7]


class ProfilerSeen(L.Callback):
    """Remembers which profiler the Trainer of an ``amal`` run was given."""

    seen: list = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        ProfilerSeen.seen.append(type(trainer.profiler))


ASKED = [([], SilentProfiler), (["--trainer.profiler=simple"], SimpleProfiler)]


@pytest.mark.parametrize(("option", "profiler"), ASKED)
def test_amal_profiles_nothing_unless_asked(workdir, option, profiler):
    ProfilerSeen.seen.clear()
    seen = "--trainer.callbacks+=tests.test_progress.ProfilerSeen"
    run_inprocess("fit", "--config", str(CONFIGS / "regression.yaml"), "--trainer.max_epochs=1", seen, *option)
    assert ProfilerSeen.seen == [profiler]


def test_the_silent_profiler_hands_back_one_reusable_context():
    profiler = SilentProfiler()
    with profiler.profile("outer") as outer, profiler.profile("inner"):  # Lightning nests them
        assert outer is None
    assert profiler.profile("a") is profiler.profile("b")  # nothing is built per call
    assert profiler.summary() == ""


def test_in_a_terminal_a_study_names_each_variant_before_its_bars(workdir, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # capsys's stdout, as a terminal
    study = [
        "study",
        "--name",
        "bars",
        "--config",
        str(CONFIGS / "regression.yaml"),
        "--grid",
        "model.learning_rate=0.1",
    ]
    main([*study, "--", *QUIET_FIT])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert [line.split(" finished ")[0] for line in lines] == [
        "[1/1] model.learning_rate=0.1 ... training",
        "[1/1] model.learning_rate=0.1 ...",
    ]
    main([*study, "--", *QUIET_FIT])
    again = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert len(again) == 1 and "training" not in again[0]  # kept: nothing to train, no bars to name
