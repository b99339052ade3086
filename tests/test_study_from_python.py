"""A study run from Python: the tables it returns are its CSV files, as pandas DataFrames."""

import csv

import pytest

from amal_lightning.errors import AmalError
from amal_lightning.studies import study
from tests.helpers import CONFIGS


def rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_a_study_from_a_mapping_returns_its_summary_runs_and_comparisons(workdir, capsys):
    result = study(
        {
            "name": "py",
            "config": str(CONFIGS / "regression.yaml"),
            "common": {"trainer.max_epochs": 3, "trainer.enable_progress_bar": False},
            "seeds": [0, 1],
            "variants": {"slow": {"model.learning_rate": 0.01}, "fast": {"model.learning_rate": 0.1}},
            "comparisons": [{"name": "fast - slow", "a": "fast", "b": "slow", "metric": "final train/loss"}],
        }
    )
    assert "[1/4] slow (seed 0) ..." in capsys.readouterr().out  # the progress lines amal study prints
    assert result.folder.resolve() == (workdir / "studies" / "py").resolve()
    for table, name in (
        (result.summary, "summary.csv"),
        (result.runs, "runs.csv"),
        (result.comparisons, "comparisons.csv"),
    ):
        expected = rows(result.folder / name)
        assert len(table) == len(expected) > 0, name
        for column in expected[0]:
            for got, want in zip(table[column].tolist(), (row[column] for row in expected), strict=True):
                if want == "":
                    assert got != got or got == "", (name, column)  # NaN for an empty cell
                else:
                    try:
                        assert float(got) == pytest.approx(float(want)), (name, column)
                    except ValueError:
                        assert str(got) == want, (name, column)
    assert len(result.runs) == 4 and set(result.summary["variant"]) == {"slow", "fast"}
    assert result.figures and all(path.suffix == ".png" and path.is_file() for path in result.figures.values())


def test_a_bad_study_mapping_is_one_line(workdir):
    with pytest.raises(AmalError, match=r"the study given as a mapping: unknown key 'seedz'"):
        study({"config": str(CONFIGS / "regression.yaml"), "seedz": [0]}, name="bad")
