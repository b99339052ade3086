"""The ``amal`` command as a user runs it: configs, loggers, checkpoints and errors."""

import csv
import logging
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from amal_lightning.command_line.main import main
from tests.helpers import CONFIGS, amal_status, inside, run_inprocess

HOUSING_CONFIGS = ["tme1_gradient_descent", "regression", "regression_sgd", "regression_minibatch", "tanh_mlp"]


def scalar_tags(log_dir: Path) -> set[str]:
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return set(events.Tags()["scalars"])


@pytest.mark.parametrize("config", HOUSING_CONFIGS)
def test_each_housing_config_fits_and_tests_from_the_command_line(workdir, config):
    config_path = str(CONFIGS / f"{config}.yaml")
    run_inprocess("fit", "--config", config_path, "--trainer.max_epochs", "3")
    assert (workdir / "checkpoints" / config / "version_0" / "last.ckpt").is_file()
    assert (workdir / "checkpoints" / config / "version_0" / "best.ckpt").is_file()
    assert {"train/loss", "val/loss"} <= scalar_tags(workdir / "logs" / config / "version_0")

    run_inprocess("test", "--config", config_path, "--ckpt_path", "last")
    # logged beside the run whose checkpoint it tested, in a folder of its own
    assert "test/loss" in scalar_tags(workdir / "logs" / config / "version_0" / "test-last-0")


def test_logger_can_be_swapped_from_the_command_line(workdir):
    run_inprocess(
        "fit",
        "--config",
        str(CONFIGS / "regression.yaml"),
        "--trainer.max_epochs=4",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir=csv_logs",
    )
    with next(Path("csv_logs").rglob("metrics.csv")).open(newline="") as file:
        rows = list(csv.DictReader(file))
    # the points TensorBoard gets: time/train_seconds (the TrainStepTimer amal adds), train/predicted_loss (what
    # theory says of this linear full-batch descent), the references and the test of best.ckpt after the fit
    logged = {"train/loss", "val/loss", "test/loss", "time/train_seconds", "train/predicted_loss", "best/test/loss"}
    assert logged | {"epoch", "step", "reference/train/loss"} <= set(rows[0])
    # one point per epoch for each curve (test/loss too: test_each_epoch), one test of best.ckpt
    assert [sum(1 for row in rows if row[name]) for name in sorted(logged)] == [1, 4, 4, 4, 4, 4]
    assert Path("logs/regression/version_0").is_dir()  # TensorBoard is kept beside the logger given


def test_manual_optimization_counts_its_steps(workdir):
    run_inprocess("fit", "--config", str(CONFIGS / "tme1_gradient_descent.yaml"), "--trainer.max_steps=7")
    checkpoint = torch.load("checkpoints/tme1_gradient_descent/version_0/last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 7
    assert checkpoint["epoch"] == 6


def test_runs_never_overwrite_earlier_runs(workdir):
    config = str(CONFIGS / "regression.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=2")
    first = Path("checkpoints/regression/version_0/last.ckpt").read_bytes()
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=3")
    assert Path("checkpoints/regression/version_0/last.ckpt").read_bytes() == first
    assert Path("checkpoints/regression/version_1/last.ckpt").is_file()
    assert Path("logs/regression/version_1").is_dir()


def test_resume_from_last_continues_the_newest_run_in_its_folders(workdir):
    config = str(CONFIGS / "regression.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=3")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=5")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=8", "--ckpt_path=last")
    assert not Path("checkpoints/regression/version_2").exists()
    assert torch.load("checkpoints/regression/version_0/last.ckpt", weights_only=True)["global_step"] == 3
    resumed = torch.load("checkpoints/regression/version_1/last.ckpt", weights_only=True)
    assert resumed["global_step"] == 8
    steps = [event.step for event in _scalars(Path("logs/regression/version_1"), "train/loss")]
    assert steps == list(range(8))  # one continuous curve

    straight_through = Path("straight")
    straight_through.mkdir()
    with inside(straight_through):
        run_inprocess("fit", "--config", config, "--trainer.max_epochs=8")
    expected = torch.load(straight_through / "checkpoints/regression/version_0/last.ckpt", weights_only=True)
    for name, value in expected["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], value)


def test_fitting_from_a_best_checkpoint_starts_a_new_run(workdir):
    config = str(CONFIGS / "regression.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=3")
    before = Path("checkpoints/regression/version_0/last.ckpt").read_bytes()
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=5", "--ckpt_path=best")
    assert Path("checkpoints/regression/version_0/last.ckpt").read_bytes() == before
    assert torch.load("checkpoints/regression/version_1/last.ckpt", weights_only=True)["global_step"] == 5


def test_fit_tests_its_best_checkpoint_in_the_same_run_and_says_what_it_did(workdir, capsys, caplog):
    config = str(CONFIGS / "classifier.yaml")
    few = ["--trainer.limit_train_batches=5", "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2"]
    lightning_loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    for logger in lightning_loggers:  # Lightning's own lines, which its loggers do not pass to the root logger
        logger.addHandler(caplog.handler)
    try:
        # with its progress bar, as a user sees it
        main(["fit", "--config", config, "--trainer.max_epochs=2", "--data.source=sample", *few])
    finally:
        for logger in lightning_loggers:
            logger.removeHandler(caplog.handler)
    result = capsys.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Classifier: 269,322 parameters" in logged  # the lines of Lightning's loggers are seen here
    assert "Seed set to" not in logged  # but not its seed's: the config's, in the run's config.yaml
    assert "Loaded model weights" not in logged  # but not its lines of the test after the fit: the summary says it
    run = workdir / "logs/classifier/version_0"
    # the test of best.ckpt after the fit, apart from any test/* curve of the epochs
    assert {"train/loss", "val/loss", "val/acc", "best/test/loss", "best/test/acc"} <= scalar_tags(run)
    assert len(list(run.glob("events.out.tfevents.*"))) == 1  # one event file for the fit and its test
    summary = result.out[result.out.index("Fit: 2 epochs") :]
    assert "(max_epochs=2 reached)" in summary
    assert re.search(r"best validation \(epoch \d\): val/acc 0\.\d+, val/loss \d", summary)
    assert re.search(r"test of best.ckpt: test/acc 0\.\d+, test/loss \d", summary)
    assert "checkpoints: checkpoints/classifier/version_0/" in summary
    assert "tensorboard --logdir logs/classifier" in summary
    assert "GPU available" not in result.out + result.err + logged
    assert "v_num" not in result.out and "run=version_0" in result.out

    events = EventAccumulator(str(run))
    events.Reload()
    assert "hp_metric" not in events.Tags()["scalars"]
    assert events.Scalars("hp/test/acc")[0].value == pytest.approx(events.Scalars("best/test/acc")[-1].value)


def test_testing_a_checkpoint_logs_beside_its_run_in_a_folder_of_its_own(workdir, capsys):
    config = str(CONFIGS / "regression.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=2", "--test=false", "--data.test_each_epoch=false")
    run_inprocess("test", "--config", config, "--ckpt_path=best")
    capsys.readouterr()
    run_inprocess("test", "--config", config, "--ckpt_path=best")
    said = "Test of checkpoints/regression/version_0/best.ckpt: logs in logs/regression/version_0/test-best-1/"
    assert capsys.readouterr().out.splitlines()[-1] == said
    assert "test/loss" in scalar_tags(Path("logs/regression/version_0/test-best-0"))
    assert "test/loss" in scalar_tags(Path("logs/regression/version_0/test-best-1"))  # the second, apart
    assert "test/loss" not in scalar_tags(Path("logs/regression/version_0"))
    assert sorted(path.name for path in Path("logs/regression").iterdir()) == ["version_0"]
    assert sorted(path.name for path in Path("checkpoints/regression").iterdir()) == ["version_0"]
    assert not list(Path("checkpoints/regression/version_0").glob("test-*"))


def _scalars(log_dir: Path, tag: str) -> list:
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return events.Scalars(tag)


def test_experiment_option_names_the_run_folders(workdir):
    run_inprocess("fit", "--config", str(CONFIGS / "regression.yaml"), "--trainer.max_epochs=1", "--experiment=mine")
    assert Path("checkpoints/mine/version_0/last.ckpt").is_file()
    assert Path("logs/mine/version_0").is_dir()


def test_print_config_shows_the_experiment(workdir, capsys):
    assert amal_status("fit", "--config", str(CONFIGS / "tanh_mlp.yaml"), "--print_config", settings=False) == 0
    out = capsys.readouterr().out
    assert "class_path: amal_lightning.tme2.TanhMLP" in out
    assert "hidden_dim: 100" in out
    assert not (workdir / "checkpoints").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ckpt_path", "last"], "no last.ckpt under checkpoints/regression/"),
        (["--ckpt_path", "missing.ckpt"], "--ckpt_path missing.ckpt: no such file"),
        (["--ckpt_path", "corrupt.ckpt"], "corrupt.ckpt: not a readable checkpoint"),
    ],
)
def test_bad_checkpoint_paths_get_one_line_errors(workdir, capsys, args, message):
    (workdir / "corrupt.ckpt").write_bytes(b"this is not a checkpoint")
    assert amal_status("fit", "--config", str(CONFIGS / "regression.yaml"), *args) == 1  # and no exception escaped
    stderr = capsys.readouterr().err
    assert stderr.strip().splitlines()[-1].startswith("amal: error:")
    assert message in stderr


def test_wrong_option_is_refused_before_anything_runs(workdir, capsys):
    status = amal_status("fit", "--config", str(CONFIGS / "regression.yaml"), "--data.batch_size", "-3")
    assert status != 0  # and no exception escaped
    assert "batch_size" in capsys.readouterr().err
    assert not (workdir / "logs").exists()


def test_a_copied_project_resumes_in_its_run_folder(workdir):
    config = str(CONFIGS / "regression.yaml")
    original = Path("original")
    original.mkdir()
    with inside(original):
        run_inprocess("fit", "--config", config, "--trainer.max_epochs=3")
    before = sorted(p.name for p in (original / "checkpoints/regression/version_0").iterdir())
    shutil.copytree(original, "copy")
    with inside(Path("copy")):
        run_inprocess("fit", "--config", config, "--trainer.max_epochs=6", "--ckpt_path=last")
    run = Path("copy/checkpoints/regression/version_0")
    assert sorted(p.name for p in run.iterdir()) == ["best.ckpt", "last.ckpt", "run.json"]  # no last-v1.ckpt
    assert torch.load(run / "last.ckpt", weights_only=True)["global_step"] == 6
    assert sorted(p.name for p in (original / "checkpoints/regression/version_0").iterdir()) == before
    assert torch.load(original / "checkpoints/regression/version_0/last.ckpt", weights_only=True)["global_step"] == 3


def test_hpc_outside_slurm_and_half_checkpoints_get_one_line_errors(workdir, capsys, monkeypatch):
    for name in [name for name in os.environ if name.startswith("SLURM_")]:
        monkeypatch.delenv(name)  # outside a SLURM job, even where the tests run inside one
    torch.save({"state_dict": {}}, workdir / "bare.ckpt")
    for args, message in (
        (["--ckpt_path", "hpc"], "--ckpt_path hpc: only inside a SLURM job"),
        (["--ckpt_path", "bare.ckpt"], "bare.ckpt: not a Lightning checkpoint (no pytorch-lightning_version)"),
    ):
        assert amal_status("fit", "--config", str(CONFIGS / "regression.yaml"), *args) == 1  # no exception escaped
        assert message in capsys.readouterr().err


def test_last_checkpoint_is_written_at_most_once_a_second_and_at_the_end(workdir, monkeypatch):
    saved: list[tuple[float, str, int]] = []
    save = Trainer.save_checkpoint

    def recording_save(trainer, filepath, *args, **kwargs):
        saved.append((time.monotonic(), Path(filepath).name, trainer.global_step))
        return save(trainer, filepath, *args, **kwargs)

    monkeypatch.setattr(Trainer, "save_checkpoint", recording_save)
    run_inprocess("fit", "--config", str(CONFIGS / "regression.yaml"), "--trainer.max_epochs=60")
    last_saves = [(when, step) for when, name, step in saved if name == "last.ckpt"]
    assert last_saves[0][1] == 1  # the first epoch is saved at once
    assert last_saves[-1][1] == 60  # and the end of training always
    gaps = [later - earlier for (earlier, _), (later, _) in zip(last_saves[:-1], last_saves[1:-1], strict=False)]
    assert all(gap >= 1.0 for gap in gaps)
    assert len(last_saves) < 60
    assert torch.load("checkpoints/regression/version_0/last.ckpt", weights_only=True)["global_step"] == 60


def test_housing_progress_bar_counts_epochs_and_resumes_where_it_stopped(workdir, capsys):
    config = str(CONFIGS / "regression.yaml")
    bar = "--trainer.enable_progress_bar=true"
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=20", bar)
    first = capsys.readouterr().out
    assert "Training: 100%" in first and "20/20" in first
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=30", "--ckpt_path=last", bar)
    counts = [int(done) for done in re.findall(r"(\d+)/30 ", capsys.readouterr().out)]
    assert min(counts) == 20 and max(counts) == 30
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=2", "--trainer.enable_progress_bar=false")
    assert "Training" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (
            ["--model.hiden_dim", "3"],
            "--model.hiden_dim is not an option of amal_lightning.tme3.Classifier (did you mean --model.hidden_dim?)",
        ),
        (["--trainer.max_epochz", "3"], "--trainer.max_epochz is not an option (did you mean --trainer.max_epochs?)"),
        (["--data.batch_size", "-3"], "--data.batch_size: Not of type PositiveInt: -3 does not conform"),
        (["--model.optimizer.lr", "abc"], "--model.optimizer.lr: expected a number (given abc)"),
        (
            ["--model.compile", "fast"],
            "--model.compile: expected true or false or one of default, reduce-overhead, cuda_graphs (given fast)",
        ),
        (["--data.source", "nope"], "--data.source: expected one of auto, full, sample (given nope)"),
    ],
)
def test_a_mistyped_option_is_named_first_with_the_closest_one(workdir, capsys, args, first_line):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config", str(CONFIGS / "classifier.yaml"), *args])
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith(f"amal: error: {first_line}")
    assert lines[1:] == ["  (all options: amal fit --help)"]
    assert not Path("logs").exists()


def test_a_command_that_fails_at_once_leaves_no_empty_run_folder(workdir, capsys):
    config = str(CONFIGS / "regression.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=1", "--test=false")
    checkpoint = torch.load("checkpoints/regression/version_0/last.ckpt", weights_only=True)
    checkpoint["state_dict"]["weight"] = torch.zeros(5, 1)
    torch.save(checkpoint, "reshaped.ckpt")
    with pytest.raises(SystemExit):
        main(["test", "--config", config, "--ckpt_path=reshaped.ckpt"])
    assert "its weights do not fit" in capsys.readouterr().err
    assert sorted(path.name for path in Path("logs/regression").iterdir()) == ["version_0"]
