"""``amal lr-find``: Lightning's range test, its curve as a PNG with the suggestion marked, the option to use."""

from pathlib import Path

import pytest

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
