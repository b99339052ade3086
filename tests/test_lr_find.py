"""``amal lr-find``: Lightning's range test, its curve as a PNG with the suggestion marked, the option to use."""

import math
from pathlib import Path

import pytest

from amal_lightning.api.lr_find import BETA, find_learning_rate, unsmoothed
from amal_lightning.command_line.main import main
from tests.helpers import CONFIGS


def project_files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_lr_find_writes_its_png_prints_the_option_and_changes_nothing_else(workdir, capsys):
    before = project_files(workdir)
    main(["lr-find", "--config", str(CONFIGS / "classifier.yaml"), "--data.source", "sample", "--num_training", "30"])
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("lr_find/classifier.png: the loss against ")
    assert out[-1].startswith("suggested: --model.optimizer.init_args.lr ") or out[-1].startswith("no suggestion")
    assert project_files(workdir) - before == {workdir / "lr_find/classifier.png"}  # nothing else written


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (["--config", str(CONFIGS / "regression.yaml")], "AutogradRegression has no optimizer to tune", 1),
        (["--config", str(CONFIGS / "classifier.yaml"), "--min_lr", "1", "--max_lr", "0.1"], "must be smaller", 2),
        (["--config", str(CONFIGS / "classifier.yaml"), "--num_training", "0"], "--num_training", 2),
    ],
)
def test_lr_find_refuses_in_one_line(workdir, capsys, args, message, status):
    with pytest.raises(SystemExit) as stop:
        main(["lr-find", *args])
    error = capsys.readouterr().err.splitlines()[0]
    assert stop.value.code == status and error.startswith("amal: error: ") and message in error
    assert not (workdir / "lr_find").exists()


def test_each_steps_loss_is_recovered_from_lightnings_smoothed_curve(workdir):
    losses = [2.3, 2.1, float("nan"), 1.7, 5.0]
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, start=1):  # Lightning's finder: its global step is already k + 1
        if loss != loss:
            smoothed.append(loss)
            continue
        average = BETA * average + (1 - BETA) * loss
        smoothed.append(average / (1 - BETA ** (step + 1)))
    recovered = unsmoothed(smoothed)
    assert recovered[2] != recovered[2] and [round(x, 9) for x in recovered[:2] + recovered[3:]] == [2.3, 2.1, 1.7, 5.0]
    # on a real range test, the first step's loss is the untrained classifier's: ln 10 for 10 classes
    found = find_learning_rate(
        ["--config", str(CONFIGS / "classifier.yaml"), "--data.source", "sample"], num_training=3
    )
    assert abs(found.raw_losses[0] - math.log(10)) < 0.1 and len(found.raw_losses) == len(found.learning_rates)
    assert abs(found.losses[0] - found.raw_losses[0] / 2) < 0.05  # the smoothed curve starts at half of it
