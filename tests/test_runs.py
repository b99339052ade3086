"""The run-folder policy on its own: names, versions and which checkpoint is resumed, with no Trainer."""

import os
import time
from pathlib import Path

import pytest
import torch

from amal_lightning.errors import AmalError
from amal_lightning.runs.checkpoint_files import check_checkpoint_model, check_checkpoint_weights, read_checkpoint
from amal_lightning.runs.folders import (
    RUN_NAME_VARIABLE,
    claim_run_folders,
    experiment_name,
    newest_checkpoint,
    next_free,
    next_hpc_checkpoint,
    plan_run,
    release_run_folders,
)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Runs in ``tmp_path``: the versions already under the current folder's ``logs/`` would count too."""
    monkeypatch.chdir(tmp_path)


def write_checkpoint(path: Path, age_s: float = 0.0) -> Path:
    """A minimal file that passes for a Lightning checkpoint, written ``age_s`` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.6.6"}, path)
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def plan(tmp_path: Path, subcommand: str = "fit", ckpt_path=None, **kwargs):
    kwargs.setdefault("config_files", ["configs/regression.yaml"])
    kwargs.setdefault("experiment", None)
    return plan_run(subcommand, kwargs.pop("config_files"), kwargs.pop("experiment"), tmp_path, ckpt_path, **kwargs)


def test_experiment_is_named_after_the_last_config_unless_given():
    assert experiment_name(["a/base.yaml", "b/regression.yaml"], None) == "regression"
    assert experiment_name(["a/base.yaml"], "mine") == "mine"
    assert experiment_name(None, None) == "default"


def test_next_version_skips_numbers_used_in_either_folder(tmp_path):
    (tmp_path / "checkpoints" / "version_0").mkdir(parents=True)
    (tmp_path / "logs" / "version_3").mkdir(parents=True)
    (tmp_path / "logs" / "version_x").mkdir()
    assert next_free("version_", tmp_path / "checkpoints", tmp_path / "logs") == "version_4"
    assert next_free("version_", tmp_path / "nowhere") == "version_0"


def test_a_new_run_takes_the_next_version_and_loads_nothing(tmp_path):
    write_checkpoint(tmp_path / "regression" / "version_0" / "last.ckpt")
    result = plan(tmp_path)
    assert (result.experiment, result.name, result.ckpt_path) == ("regression", "version_1", None)
    assert result.checkpoint_dir == tmp_path / "regression" / "version_1"
    assert result.log_dir == Path("logs/regression/version_1")


def test_last_resumes_the_newest_latest_state_in_its_own_folder(tmp_path):
    write_checkpoint(tmp_path / "regression" / "version_0" / "last.ckpt", age_s=30)
    newer = write_checkpoint(tmp_path / "regression" / "version_1" / "hpc_ckpt_2.ckpt", age_s=10)
    write_checkpoint(tmp_path / "regression" / "version_2" / "best.ckpt")  # newest, but not a latest state
    result = plan(tmp_path, ckpt_path="last")
    assert result.ckpt_path == newer
    assert result.name == "version_1"


def test_best_starts_a_new_run_and_testing_is_named_after_the_run_it_tests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # logs/ and predictions/ are read to number the evaluations
    best = write_checkpoint(tmp_path / "regression" / "version_0" / "best.ckpt")
    write_checkpoint(tmp_path / "regression" / "version_0" / "last.ckpt", age_s=5)
    fitted = plan(tmp_path, ckpt_path="best")
    assert (fitted.ckpt_path, fitted.name) == (best, "version_1")
    tested = plan(tmp_path, subcommand="test", ckpt_path="last")
    assert (tested.name, tested.new_version) == ("version_0/test-last-0", True)
    predicted = plan(tmp_path, subcommand="predict", ckpt_path="best")
    assert predicted.name == "version_0/predict-best-0"


def test_a_checkpoint_of_another_experiment_starts_a_new_run_here(tmp_path):
    elsewhere = write_checkpoint(tmp_path / "other" / "version_4" / "last.ckpt")
    result = plan(tmp_path, ckpt_path=str(elsewhere))
    assert (result.name, result.ckpt_path) == ("version_0", elsewhere)


def test_a_slurm_job_uses_its_own_folder_and_resumes_its_newest_state(tmp_path):
    fresh = plan(tmp_path, slurm_job_id="77")
    assert (fresh.name, fresh.ckpt_path) == ("slurm-77", None)
    write_checkpoint(tmp_path / "regression" / "slurm-77" / "last.ckpt", age_s=20)
    saved_on_signal = write_checkpoint(tmp_path / "regression" / "slurm-77" / "hpc_ckpt_1.ckpt")
    requeued = plan(tmp_path, slurm_job_id="77")
    assert (requeued.name, requeued.ckpt_path) == ("slurm-77", saved_on_signal)


def test_hpc_needs_a_slurm_job_and_a_saved_state(tmp_path):
    with pytest.raises(AmalError, match="only inside a SLURM job"):
        plan(tmp_path, ckpt_path="hpc")
    with pytest.raises(AmalError, match=r"no hpc_ckpt_N.ckpt in .*slurm-5"):
        plan(tmp_path, ckpt_path="hpc", slurm_job_id="5")


def test_child_processes_of_a_multi_device_run_share_its_folder(tmp_path):
    (tmp_path / "regression" / "version_0").mkdir(parents=True)  # the first process already made it
    inherited = {"LOCAL_RANK": "1", RUN_NAME_VARIABLE: "version_0"}
    assert plan(tmp_path, environ=inherited).name == "version_0"
    assert plan(tmp_path, environ={RUN_NAME_VARIABLE: "version_0"}).name == "version_1"  # not a child process


def test_missing_and_damaged_checkpoints_are_one_line_errors(tmp_path):
    with pytest.raises(AmalError, match=r"--ckpt_path last: no last.ckpt under"):
        plan(tmp_path, ckpt_path="last")
    with pytest.raises(AmalError, match="no such file"):
        plan(tmp_path, ckpt_path=str(tmp_path / "missing.ckpt"))
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(AmalError, match="not a readable checkpoint"):
        read_checkpoint(tmp_path / "junk.ckpt")
    torch.save([1, 2], tmp_path / "list.ckpt")
    with pytest.raises(AmalError, match="no dictionary"):
        read_checkpoint(tmp_path / "list.ckpt")


def test_newest_checkpoint_and_next_hpc_name(tmp_path):
    write_checkpoint(tmp_path / "exp" / "version_0" / "best.ckpt", age_s=10)
    newer = write_checkpoint(tmp_path / "exp" / "version_1" / "best.ckpt")
    assert newest_checkpoint(tmp_path / "exp", "best") == newer
    folder = tmp_path / "exp" / "version_1"
    assert next_hpc_checkpoint(folder).name == "hpc_ckpt_1.ckpt"
    write_checkpoint(folder / "hpc_ckpt_1.ckpt")
    write_checkpoint(folder / "hpc_ckpt_7.ckpt")
    assert next_hpc_checkpoint(folder).name == "hpc_ckpt_8.ckpt"


def test_a_checkpoint_must_hold_the_configs_model_with_options_it_accepts(tmp_path):
    path = tmp_path / "model.ckpt"
    saved = {"_class_path": "amal_lightning.tme2.AutogradRegression", "input_dim": 13, "learning_rate": 0.1}
    check_checkpoint_model(path, saved, "amal_lightning.tme2.AutogradRegression")
    check_checkpoint_model(path, saved, "amal_lightning.tme2.regression.AutogradRegression")  # the same class
    with pytest.raises(AmalError, match="a checkpoint of amal_lightning.tme2.AutogradRegression, but the config's"):
        check_checkpoint_model(path, saved, "amal_lightning.tme2.TanhMLP")
    hostile = {**saved, "_class_path": "os.system"}
    with pytest.raises(AmalError, match="a checkpoint of os.system"):
        check_checkpoint_model(path, hostile, "amal_lightning.tme2.AutogradRegression")
    older = {**saved, "num_images": 8}
    with pytest.raises(AmalError, match="hyperparameters num_images are not options of AutogradRegression"):
        check_checkpoint_model(path, older, "amal_lightning.tme2.AutogradRegression")


def test_experiment_names_are_plain_folder_names():
    for bad in ("../outside", "/abs", ".hidden", "a b", "x/y", ""):
        with pytest.raises(AmalError, match="not a plain folder name"):
            experiment_name(["configs/regression.yaml"], bad)
    with pytest.raises(AmalError, match=r"--config configs/\.\.\.yaml: '\.\.' is not"):
        experiment_name(["configs/...yaml"], None)
    assert experiment_name(None, "run-2.b_c") == "run-2.b_c"


def test_runs_started_together_claim_different_versions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = plan(Path("checkpoints")), plan(Path("checkpoints"))
    assert first.name == second.name == "version_0"  # both saw version_0 free
    first = claim_run_folders(first, checkpoints=True, logs=True)
    second = claim_run_folders(second, checkpoints=True, logs=True)
    assert (first.name, second.name) == ("version_0", "version_1")
    assert second.checkpoint_dir.is_dir() and second.log_dir.is_dir()


def test_a_resumed_run_keeps_its_folder_and_a_file_in_the_way_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_checkpoint(Path("checkpoints/regression/version_0/last.ckpt"))
    resumed = claim_run_folders(plan(Path("checkpoints"), ckpt_path="last"), checkpoints=True, logs=True)
    assert resumed.name == "version_0"
    Path("blocked").write_text("a file where the checkpoints go")
    with pytest.raises(AmalError, match="cannot create the run folder"):
        claim_run_folders(plan(Path("blocked")), checkpoints=True, logs=False)


def test_weights_must_have_the_names_and_shapes_of_the_model(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    saved = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    check_checkpoint_weights(tmp_path / "a.ckpt", saved, model)
    wrong = {"0.weight": (4, 3), "extra": (1,)}
    with pytest.raises(
        AmalError, match=r"a.ckpt: its weights do not fit Sequential \(0.bias missing; extra unexpected; "
    ):
        check_checkpoint_weights(tmp_path / "a.ckpt", wrong, model)


def test_a_new_run_that_wrote_nothing_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fresh = claim_run_folders(plan(Path("checkpoints")), checkpoints=True, logs=True)
    release_run_folders(fresh)
    assert not fresh.checkpoint_dir.exists() and not fresh.log_dir.exists()
    kept = claim_run_folders(plan(Path("checkpoints")), checkpoints=True, logs=True)
    (kept.log_dir / "events").write_text("something was written")
    release_run_folders(kept)
    assert kept.log_dir.is_dir() and not kept.checkpoint_dir.exists()
