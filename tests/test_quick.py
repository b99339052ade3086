"""``amal study FILE --quick``: a shipped study at a tenth of its budget, whether it counts epochs or steps."""

from amal_lightning.command_line.study import parse_study
from amal_lightning.studies.quick import cut
from amal_lightning.words import given_value
from tests.helpers import REPO


def quick(monkeypatch, name: str, *more: str):
    monkeypatch.chdir(REPO)  # the study files name their configs from the project's folder
    study, request = parse_study([f"configs/studies/{name}.yaml", "--quick", *more])
    return study, request


def test_a_study_driven_by_steps_is_cut_to_a_tenth_of_its_steps(monkeypatch):
    study, request = quick(monkeypatch, "tme2_step_size")
    assert study.name == "tme2_step_size-quick" and "--quick" in request.naming  # its own folder; array tasks too
    assert given_value("--trainer.max_steps", list(study.common)) == "60"  # 600 steps
    assert given_value("--trainer.max_epochs", list(study.common)) == "-1"  # still no limit on epochs
    assert study.data["common"]["trainer.max_steps"] == 60  # study.yaml says what ran


def test_a_study_driven_by_epochs_is_cut_to_a_tenth_of_its_epochs_even_after_options(monkeypatch):
    study, _ = quick(monkeypatch, "tme2_gd_variants")
    assert given_value("--trainer.max_epochs", list(study.common)) == "5"  # 50 epochs
    study, _ = quick(monkeypatch, "tme2_gd_variants", "--", "--trainer.max_epochs", "30")
    assert given_value("--trainer.max_epochs", list(study.common)) == "3"  # a tenth of what it would have run
    assert [cut(value) for value in (1, 9, 11, -1, "x")] == [1, 1, 2, -1, "x"]
