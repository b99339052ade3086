"""The README's first screen: what the project is and the five things a student does, one command each."""

import re
import shlex

from amal_lightning.command_line.study import parse_study
from tests.helpers import REPO

FIRST_SCREEN = 40


def first_screen() -> str:
    return "\n".join((REPO / "README.md").read_text().splitlines()[:FIRST_SCREEN])


def test_the_first_screen_shows_the_set_up_a_study_the_runs_the_notebooks_and_the_answers():
    screen = first_screen()
    for needed in ("make fit", "make test", "amal fit --config", "amal study configs/studies/", "--grid", "--seeds"):
        assert needed in screen
    for needed in ("amal runs", "make tensorboard", "make notebook", "notebooks/", "docs/LABS.md"):
        assert needed in screen
    assert "docs/CLUSTER.md" in screen and "make test-slurm" in screen  # the cluster's reference, linked


def test_the_study_commands_of_the_first_screen_parse_as_written(monkeypatch):
    monkeypatch.chdir(REPO)
    commands = re.findall(r"`(amal study [^`]*)`", first_screen())
    assert len(commands) >= 2
    for command in commands:
        study, _ = parse_study(shlex.split(command)[2:] + (["--quick"] if "--quick" not in command else []))
        assert study.variants  # a study with something to train, its options read as amal study reads them
