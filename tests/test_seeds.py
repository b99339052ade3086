"""Replicates: a study's seeds run each variant once per seed on one split; the summary says n, mean and std,
the runs stay in runs.csv, and paired comparisons give a 95 % interval."""

import csv
import math
import statistics

import pytest
from PIL import Image

from amal_lightning.command_line.main import main
from amal_lightning.errors import AmalError
from amal_lightning.studies.comparisons import (
    Comparison,
    comparison_row,
    paired_interval,
    summary_statistics,
    t_quantile,
)
from amal_lightning.studies.spec import load_study
from tests.helpers import CONFIGS

STUDY = f"""
name: seeded
config: {CONFIGS / "regression.yaml"}
common: {{trainer.max_epochs: 5, trainer.enable_progress_bar: false, trainer.enable_model_summary: false}}
seeds: [0, 1, 2]
variants:
  slow: {{model.learning_rate: 0.01}}
  fast: {{model.learning_rate: 0.05}}
comparisons:
  - {{a: fast, b: slow, metric: final train/loss}}
"""


def table(path) -> list[dict[str, str]]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_the_statistics():
    assert summary_statistics([1.0, 2.0, 3.0]) == {"n": 3, "mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0}
    assert summary_statistics([4.0])["std"] is None and summary_statistics([math.inf])["mean"] is None
    assert (t_quantile(2), t_quantile(4), t_quantile(9)) == (4.303, 2.776, 2.262)
    mean, low, high = paired_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and high - mean == pytest.approx(4.303 / math.sqrt(3))


def test_a_seeded_study_reports_every_run_and_each_variant_with_its_spread(workdir, capsys):
    (workdir / "seeded.yaml").write_text(STUDY)
    main(["study", "seeded.yaml"])
    assert "[6/6] fast (seed 2) ... finished in " in capsys.readouterr().out
    runs = table(workdir / "studies/seeded/runs.csv")
    assert [(row["variant"], row["seed"]) for row in runs] == [(v, s) for v in ("slow", "fast") for s in "012"]
    finals = {(row["variant"], row["seed"]): float(row["final train/loss"]) for row in runs}
    assert len({finals["slow", seed] for seed in "012"}) == 3  # the seed changes the initialization and order

    summary = table(workdir / "studies/seeded/summary.csv")
    assert [(row["variant"], row["n"], row["status"]) for row in summary] == [
        ("slow", "3", "3 finished"),
        ("fast", "3", "3 finished"),
    ]
    slow = [finals["slow", seed] for seed in "012"]
    assert float(summary[0]["final train/loss mean"]) == pytest.approx(sum(slow) / 3)
    assert float(summary[0]["final train/loss std"]) == pytest.approx(summary_statistics(slow)["std"])
    assert summary[0]["overrides"] == "--model.learning_rate=0.01"

    (comparison,) = table(workdir / "studies/seeded/comparisons.csv")
    differences = [finals["fast", seed] - finals["slow", seed] for seed in "012"]
    assert comparison["comparison"] == "fast - slow" and comparison["n"] == "3"
    assert float(comparison["mean"]) == pytest.approx(sum(differences) / 3)
    assert float(comparison["95% low"]) < float(comparison["mean"]) < float(comparison["95% high"])


def test_an_adhoc_grid_takes_a_number_of_seeds(workdir, capsys):
    grid = ["--name", "g", "--config", str(CONFIGS / "regression.yaml"), "--grid", "model.learning_rate=0.01,0.05"]
    main(["study", *grid, "--seeds", "2", "--", "--trainer.max_epochs=2", "--trainer.enable_progress_bar=false"])
    assert [(row["variant"], row["n"]) for row in table(workdir / "studies/g/summary.csv")] == [
        ("model.learning_rate=0.01", "2"),
        ("model.learning_rate=0.05", "2"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seeds: 3", r"bad\.yaml, seeds: expected a non-empty list of distinct seeds, e\.g\. \[0, 1, 2\]"),
        ("seeds: [0, 0]", "seeds repeat"),
        ("seeds: [-1]", "seeds, seed 1: expected an integer from 0 to 4294967295, got -1"),
        ("comparisons: [{a: slow, b: fast, metric: final train/loss}]", "paired comparisons need seeds"),
        ("seeds: [0]\ncomparisons: [{a: slow, b: nope, metric: final train/loss}]", "no variant named 'nope'"),
        (
            "seeds: [0]\ncomparisons: [{a: slow, b: fast, metric: train/loss}]",
            r"comparison 1, metric: expected a column like 'final train/loss'",
        ),
    ],
)
def test_bad_seeds_and_comparisons_are_one_line(tmp_path, text, message):
    study = tmp_path / "bad.yaml"
    study.write_text(
        f"config: {CONFIGS / 'regression.yaml'}\nvariants: {{slow: {{model.learning_rate: 0.01}}, "
        f"fast: {{model.learning_rate: 0.05}}}}\n{text}\n"
    )
    with pytest.raises(AmalError, match=message):
        load_study(study)


SPLIT_STUDY = f"""
name: split
config: {CONFIGS / "regression.yaml"}
common: {{trainer.max_epochs: 1, trainer.enable_progress_bar: false, trainer.enable_model_summary: false}}
seeds: [0, 1]
splits: 3
variants:
  linear: {{model.learning_rate: 0.05}}
comparisons:
  - {{a: linear, b: linear, metric: tested test/loss}}
"""


def test_splits_cross_the_seeds_and_the_summary_tells_their_spreads_apart(workdir, capsys):
    (workdir / "split.yaml").write_text(SPLIT_STUDY)
    main(["study", "split.yaml"])
    assert "[6/6] linear (split 2, seed 1) ... finished in " in capsys.readouterr().out
    runs = table(workdir / "studies/split/runs.csv")
    assert [(row["split"], row["seed"]) for row in runs] == [(split, seed) for split in "012" for seed in "01"]
    assert "--data.split_seed=2 --seed_everything=1" in runs[-1]["overrides"]
    tested = {(int(row["split"]), int(row["seed"])): float(row["tested test/loss"]) for row in runs}
    assert len(set(tested.values())) == 6

    (summary,) = table(workdir / "studies/split/summary.csv")
    assert (summary["n"], summary["overrides"]) == ("6", "--model.learning_rate=0.05")
    means = [(tested[split, 0] + tested[split, 1]) / 2 for split in range(3)]
    within = [(tested[split, 0] - tested[split, 1]) ** 2 / 2 for split in range(3)]  # each split's variance
    assert float(summary["tested test/loss split std"]) == pytest.approx(summary_statistics(means)["std"])
    assert float(summary["tested test/loss seed std"]) == pytest.approx(math.sqrt(sum(within) / 3))
    assert float(summary["tested test/loss std"]) == pytest.approx(summary_statistics(list(tested.values()))["std"])
    (comparison,) = table(workdir / "studies/split/comparisons.csv")  # a variant against itself: 0, spreads 0
    assert (comparison["n"], float(comparison["split std"]), float(comparison["seed std"])) == ("6", 0.0, 0.0)
    with Image.open(workdir / "studies/split/loss-epoch.png") as image:
        assert "3 splits × 2 seeds per variant (n = 6, split seeds 0–2, seeds [0, 1])" in image.text["Description"]


def test_a_comparison_with_splits_pairs_split_and_seed_and_its_interval_is_over_the_splits():
    a = {(split, seed): float(10 * split + seed) for split in range(3) for seed in range(2)}
    b = {key: 0.0 for key in a if key != (2, 1)}  # a run that one variant lacks is not paired
    row = comparison_row(Comparison("a - b", "a", "b", "tested test/loss"), a, b)
    assert row["n"] == "5" and row["differences"].startswith("0/0:0.0 0/1:1.0 1/0:10.0")
    split_means = [0.5, 10.5, 20.0]
    assert float(row["mean"]) == pytest.approx(sum(split_means) / 3)
    assert float(row["95% high"]) - float(row["mean"]) == pytest.approx(4.303 * statistics.stdev(split_means) / 3**0.5)
    assert float(row["split std"]) == pytest.approx(statistics.stdev(split_means))
    assert float(row["seed std"]) == pytest.approx(math.sqrt(0.5))  # splits 0 and 1: variance 0.5; split 2: one seed
    assert "split std" not in comparison_row(Comparison("a - b", "a", "b", "m"), {0: 1.0, 1: 2.0}, {0: 0.0, 1: 0.0})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("splits: 3", r"bad\.yaml, splits: splits are crossed with seeds: give seeds too"),
        ("seeds: [0]\nsplits: 0", r"splits: expected a positive number of data splits"),
    ],
)
def test_bad_splits_are_one_line(tmp_path, text, message):
    study = tmp_path / "bad.yaml"
    study.write_text(f"config: {CONFIGS / 'regression.yaml'}\nvariants: {{slow: {{}}}}\n{text}\n")
    with pytest.raises(AmalError, match=message):
        load_study(study)
