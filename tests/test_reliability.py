"""Nothing lost and nothing silent: atomic checkpoint writes and runs that diverge."""

import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch

from amal_lightning.api import fit
from amal_lightning.callbacks.checkpoints import AtomicCheckpointIO
from amal_lightning.callbacks.divergence import DivergenceGuard
from amal_lightning.errors import DIVERGED_EXIT_STATUS
from amal_lightning.runs.outcome import diverged_record
from tests.helpers import CONFIGS, REPO, amal_status, run_amal, run_inprocess

REGRESSION = str(CONFIGS / "regression.yaml")
QUIET = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--test=false")

# A process that starts writing a checkpoint over `last.ckpt` and is killed after half the bytes.
KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    from amal_lightning.callbacks.checkpoints import AtomicCheckpointIO

    real_save = torch.save

    def dying_save(obj, file, *args, **kwargs):
        import io
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        file.write(data[: len(data) // 2])
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = dying_save
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(1000)}}, sys.argv[1])
    """
)


@pytest.mark.slow  # a process killed with SIGKILL, as only a subprocess can be
def test_a_kill_during_a_save_leaves_the_previous_checkpoint(workdir):
    config = ["fit", "--config", REGRESSION]
    run_inprocess(*config, "--trainer.max_epochs=3")
    last = workdir / "checkpoints/regression/version_0/last.ckpt"
    before = last.read_bytes()

    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(last)], cwd=REPO, capture_output=True)
    assert killed.returncode == -9
    assert last.read_bytes() == before
    assert torch.load(last, weights_only=True)["global_step"] == 3
    assert len(list(last.parent.glob(".last.ckpt.*.tmp"))) == 1  # what the killed writer left

    run_inprocess(*config, "--trainer.max_epochs=5", "--ckpt_path=last")
    assert torch.load(last, weights_only=True)["global_step"] == 5
    assert not list(last.parent.glob(".*.tmp"))  # removed by the next save


def test_atomic_writes_keep_the_usual_permissions_and_fail_in_one_line(tmp_path):
    path = tmp_path / "run" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, path)
    assert torch.load(path, weights_only=True) == {"state_dict": {}}
    reference = tmp_path / "reference"
    reference.touch()
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777

    (tmp_path / "blocked").write_text("a file where a folder should be")
    try:
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, tmp_path / "blocked" / "last.ckpt")
    except Exception as error:  # noqa: BLE001 - the type is what is under test
        assert type(error).__name__ == "AmalError"
        assert "cannot write the checkpoint" in str(error)
    else:
        raise AssertionError("writing under a file did not fail")


def test_best_ckpt_saves_within_a_second_are_held_and_written_before_anything_else(tmp_path):
    best, last = tmp_path / "best.ckpt", tmp_path / "last.ckpt"
    checkpoint_io = AtomicCheckpointIO(coalesced=("best.ckpt",), min_interval_s=60)

    def epoch_of(path):
        return torch.load(path, weights_only=True)["epoch"]

    weights = torch.zeros(2)
    checkpoint_io.save_checkpoint({"epoch": 0, "w": weights}, best)  # the first is written at once
    checkpoint_io.save_checkpoint({"epoch": 1, "w": weights}, best)
    weights += 1  # the held save is the state of its instant, not of the tensors later
    assert epoch_of(best) == 0
    assert checkpoint_io.load_checkpoint(best)["w"].tolist() == [0.0, 0.0]  # a read writes it out first
    assert epoch_of(best) == 1
    checkpoint_io.save_checkpoint({"epoch": 2}, best)
    checkpoint_io.save_checkpoint({"epoch": 2}, last)  # a last.ckpt never names a best that is not on disk
    assert epoch_of(best) == 2
    checkpoint_io.save_checkpoint({"epoch": 3}, best)
    assert epoch_of(best) == 2
    checkpoint_io.teardown()  # the end of the fit, even after an error
    assert epoch_of(best) == 3
    checkpoint_io.save_checkpoint({"epoch": 4}, best)
    checkpoint_io.remove_checkpoint(best)
    checkpoint_io.teardown()
    assert not best.exists()


def test_a_fit_improving_at_every_epoch_ends_with_its_best_state_in_best_ckpt(workdir):
    outcome = fit(REGRESSION, "--trainer.max_epochs=30", "--model.learning_rate=0.003", *QUIET)
    saved = torch.load(outcome.best_checkpoint, weights_only=False)
    assert outcome.best_epoch == 29 and saved["epoch"] == 29  # written at the fit's end, not a second earlier
    # last.ckpt, written after it at the same epoch's end, knows it as the best: a fit resumed from it
    # compares its next epochs with epoch 29's score, not epoch 28's
    last = torch.load(outcome.checkpoint_dir / "last.ckpt", weights_only=False)
    (best_state,) = [state for state in last["callbacks"].values() if "best_model_score" in state]
    assert best_state["best_model_score"].item() == pytest.approx(outcome.best_metrics["val/loss"], rel=1e-6)


def test_a_diverging_run_stops_with_its_own_status_and_keeps_its_last_finite_state(workdir, capsys):
    status = amal_status("fit", "--config", REGRESSION, "--model.learning_rate=10")
    assert status == DIVERGED_EXIT_STATUS  # and no exception escaped
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("amal: error: training diverged at epoch ")
    assert error.endswith("try a smaller learning rate")

    run = workdir / "checkpoints/regression/version_0"
    record = json.loads((run / "diverged.json").read_text())
    assert record["metric"] in ("train/loss", "val/loss") and record["epoch"] >= 1
    for name in ("last.ckpt", "best.ckpt"):
        checkpoint = torch.load(run / name, weights_only=True)
        assert all(torch.isfinite(value).all() for value in checkpoint["state_dict"].values())
        assert checkpoint["epoch"] <= record["epoch"]
    states = torch.load(run / "best.ckpt", weights_only=True)["callbacks"].values()
    scores = [state["best_model_score"] for state in states if "best_model_score" in state]
    assert scores and all(torch.isfinite(score) for score in scores)

    # `last` and `best` pass over the diverged run; a sound run is found again
    for which in ("last", "best"):
        assert amal_status("test", "--config", REGRESSION, f"--ckpt_path={which}") == 1
        assert "of a run that did not diverge" in capsys.readouterr().err
    run_inprocess("fit", "--config", REGRESSION, "--trainer.max_epochs=2")
    run_inprocess("test", "--config", REGRESSION, "--ckpt_path=last")


@pytest.mark.slow  # the exit status as a user's shell sees it
def test_a_diverging_run_exits_with_its_own_status_as_a_user_sees_it(tmp_path):
    result = run_amal("fit", "--config", REGRESSION, "--model.learning_rate=10", cwd=tmp_path, check=False)
    assert result.returncode == DIVERGED_EXIT_STATUS
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("amal: error: training diverged at epoch ")


def test_training_a_diverged_run_again_clears_its_mark(tmp_path):
    (tmp_path / "diverged.json").write_text("{}")
    trainer = SimpleNamespace(is_global_zero=True)
    DivergenceGuard(tmp_path).on_train_start(trainer, None)
    assert diverged_record(tmp_path) is None
