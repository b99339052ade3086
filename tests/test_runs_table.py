"""``amal runs``: one row per fit, its status told apart from real fits' run.json files, without torch."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback

from amal_lightning.api import fit
from amal_lightning.command_line.main import main
from amal_lightning.errors import DivergedError
from amal_lightning.runs.record import read_run_record
from tests.helpers import AMAL, CONFIGS, inside

REGRESSION = str(CONFIGS / "regression.yaml")
QUIET = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false")


class InterruptAtEpoch(Callback):
    """Presses Ctrl+C (SIGINT to this process) at the end of epoch ``epoch``."""

    def __init__(self, epoch: int = 2) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def rows(capsys) -> list[list[str]]:
    main(["runs", "--csv"])
    lines = capsys.readouterr().out.splitlines()
    return [line.split(",") for line in lines[1:]]


def test_finished_diverged_and_interrupted_runs_are_told_apart(workdir, capsys):
    fit(REGRESSION, "--trainer.max_epochs", "6", *QUIET)
    with pytest.raises(DivergedError):
        fit(REGRESSION, "--model.learning_rate=10", "--trainer.max_epochs", "40", *QUIET)
    interrupted = fit(
        REGRESSION,
        "--trainer.max_epochs",
        "50",
        "--trainer.callbacks+=tests.test_runs_table.InterruptAtEpoch",
        *QUIET,
    )
    assert (interrupted.status, interrupted.reason) == ("interrupted", "interrupted")
    assert interrupted.tested_checkpoint is None  # an interrupted fit is not tested
    capsys.readouterr()
    table = {row[1]: row for row in rows(capsys)}
    assert table["version_0"][2:5] == ["finished", "6/6", table["version_0"][4]]
    assert table["version_0"][6].startswith("test/loss ") and table["version_0"][7] == ""
    assert table["version_1"][2] == "diverged" and table["version_1"][7] == ""
    assert table["version_2"][2:4] == ["interrupted", "3/50"]
    assert table["version_2"][7] == "checkpoints/regression/version_2/last.ckpt"  # what resumes it

    resumed = fit(REGRESSION, "--trainer.max_epochs", "50", "--ckpt_path", table["version_2"][7], *QUIET)
    assert (resumed.run, resumed.status, resumed.epochs) == ("version_2", "finished", 47)
    assert {row[1]: row[2] for row in rows(capsys)}["version_2"] == "finished"


def test_run_json_is_the_saved_outcome_and_a_record_of_an_earlier_version_still_reads(workdir, capsys):
    outcome = fit(REGRESSION, "--trainer.max_epochs", "3", *QUIET)
    saved = read_run_record(outcome.checkpoint_dir)
    assert saved is not None and saved.holder and saved.updated > 0
    assert dataclasses.replace(saved, holder={}, updated=0.0) == outcome
    older = workdir / "checkpoints/regression/version_1"
    older.mkdir()
    (older / "run.json").write_text(
        json.dumps(
            {"experiment": "regression", "run": "version_1", "status": "finished", "epochs": 5, "max_epochs": 5,
             "steps": 5, "monitor": "val/loss", "best": 21.5, "best_epoch": 4, "tested": {"test/loss": 22.25},
             "resume": None, "holder": {}, "updated": 0}
        )
    )  # fmt: skip
    (damaged := workdir / "checkpoints/regression/version_2").mkdir()
    (damaged / "run.json").write_text('{"epochs": {"not": "a number"}, "command": "fit", "status": 3}')
    capsys.readouterr()
    table = {row[1]: row for row in rows(capsys)}
    assert table["version_1"][2:7] == ["finished", "5/5", "val/loss 21.5", "4", "test/loss 22.25"]
    assert table["version_0"][3] == "3/3" and table["version_2"][1] == "version_2"  # a damaged one: no crash


@pytest.mark.slow
def test_a_killed_fit_reads_as_interrupted_and_a_live_one_as_running(tmp_path, capsys):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [*AMAL, "fit", "--config", REGRESSION, "--trainer.max_epochs", "100000", *QUIET, "--test", "false"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    record = tmp_path / "checkpoints/regression/version_0/run.json"
    try:
        deadline = time.monotonic() + 120
        while not record.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        with inside(tmp_path):  # here, while the fit trains: the subprocess below checks the command without torch
            main(["runs"])
        listing = capsys.readouterr().out
        assert "regression  version_0  running" in listing
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    script = (
        "import sys; from amal_lightning.command_line.main import main; main(['runs']); print('torch' in sys.modules)"
    )
    listing = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "regression  version_0  interrupted" in listing and listing.strip().endswith("False")


def test_a_run_driven_by_steps_shows_its_steps(workdir, capsys):
    fit(REGRESSION, "--trainer.max_steps", "4", "--trainer.max_epochs", "-1", "--test", "false", *QUIET)
    capsys.readouterr()
    assert rows(capsys)[0][3] == "4/4 steps"  # not 4/-1 epochs
