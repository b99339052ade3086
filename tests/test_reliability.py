"""Nothing lost and nothing silent: atomic checkpoint writes and runs that diverge."""

import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import torch

from amal_lightning.callbacks.checkpoints import AtomicCheckpointIO
from amal_lightning.callbacks.divergence import DivergenceGuard
from amal_lightning.errors import DIVERGED_EXIT_STATUS
from amal_lightning.runs.outcome import diverged_record
from tests.helpers import CONFIGS, REPO, run_amal

REGRESSION = str(CONFIGS / "regression.yaml")

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


def test_a_kill_during_a_save_leaves_the_previous_checkpoint(tmp_path):
    config = ["fit", "--config", REGRESSION, "--trainer.enable_progress_bar=false"]
    run_amal(*config, "--trainer.max_epochs=3", cwd=tmp_path)
    last = tmp_path / "checkpoints/regression/version_0/last.ckpt"
    before = last.read_bytes()

    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(last)], cwd=REPO, capture_output=True)
    assert killed.returncode == -9
    assert last.read_bytes() == before
    assert torch.load(last, weights_only=True)["global_step"] == 3
    assert len(list(last.parent.glob(".last.ckpt.*.tmp"))) == 1  # what the killed writer left

    run_amal(*config, "--trainer.max_epochs=5", "--ckpt_path=last", cwd=tmp_path)
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


def test_a_diverging_run_stops_with_its_own_status_and_keeps_its_last_finite_state(tmp_path):
    result = run_amal("fit", "--config", REGRESSION, "--model.learning_rate=10", cwd=tmp_path, check=False)
    assert result.returncode == DIVERGED_EXIT_STATUS
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("amal: error: training diverged at epoch ")
    assert error.endswith("try a smaller learning rate")

    run = tmp_path / "checkpoints/regression/version_0"
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
        refused = run_amal("test", "--config", REGRESSION, f"--ckpt_path={which}", cwd=tmp_path, check=False)
        assert refused.returncode == 1 and "of a run that did not diverge" in refused.stderr
    quiet = ["--trainer.max_epochs=2", "--trainer.enable_progress_bar=false"]
    run_amal("fit", "--config", REGRESSION, *quiet, cwd=tmp_path)
    run_amal("test", "--config", REGRESSION, "--ckpt_path=last", cwd=tmp_path)


def test_training_a_diverged_run_again_clears_its_mark(tmp_path):
    (tmp_path / "diverged.json").write_text("{}")
    trainer = SimpleNamespace(is_global_zero=True)
    DivergenceGuard(tmp_path).on_train_start(trainer, None)
    assert diverged_record(tmp_path) is None
