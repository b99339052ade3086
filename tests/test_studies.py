"""``amal study``: variants run, summarized from their logs, drawn, resumed, submitted as a job array."""

import csv
import json
import os
import shlex
import signal
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import amal_lightning.studies.figures.study as figures_module
import amal_lightning.studies.summary as summary_module
from amal_lightning.command_line.main import main
from amal_lightning.runs.events import RunLog, Series, read_run
from amal_lightning.studies.check import check_study
from amal_lightning.studies.records import VariantRecord
from amal_lightning.studies.spec import Variant, load_study
from amal_lightning.studies.summary import summary_row
from tests.helpers import AMAL, CONFIGS, REPO, start_to_be_killed

REGRESSION = CONFIGS / "regression.yaml"
QUIET = "trainer.enable_progress_bar: false"
TINY = f"""
name: tiny
description: Two step sizes
config: {REGRESSION}
common: {{trainer.max_epochs: 2, {QUIET}}}
variants:
  eps 0.05: {{model.learning_rate: 0.05}}
  eps 0.1: [--model.learning_rate, "0.1"]
figures:
  - {{name: loss, metrics: [train/loss, test/loss], x: [epoch, time], ylabel: MSE}}
"""


def write_study(folder: Path, text: str, name: str = "tiny.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def summary(name: str) -> list[dict[str, str]]:
    with open(f"studies/{name}/summary.csv", newline="") as file:
        return list(csv.DictReader(file))


def scalar_values(log_dir: str, tag: str) -> list[float]:
    events = EventAccumulator(log_dir)
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


def files_and_times(*folders: str) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for folder in folders for path in Path(folder).rglob("*")}


@pytest.fixture
def drawn(monkeypatch):
    """The figures a study saves, by file name (they are still written)."""
    saved = {}
    original = figures_module.save_png

    def recording(figure, path):
        saved[Path(path).name] = figure
        original(figure, path)

    monkeypatch.setattr(figures_module, "save_png", recording)
    return saved


def test_a_study_runs_its_variants_summarizes_them_from_their_logs_and_draws_them(workdir, capsys, drawn):
    study_file = write_study(workdir, TINY)
    main(["study", str(study_file)])
    out = capsys.readouterr().out
    assert [line.split(" ... ")[0] for line in out.splitlines() if line.startswith("[")] == [
        "[1/2] eps 0.05",
        "[2/2] eps 0.1",
    ]
    assert "[2/2] eps 0.1 ... finished in " in out and ", test/loss " in out

    rows = summary("tiny")
    assert [(row["variant"], row["status"], row["epochs"]) for row in rows] == [
        ("eps 0.05", "finished", "2"),
        ("eps 0.1", "finished", "2"),
    ]
    assert [row["overrides"] for row in rows] == ["--model.learning_rate=0.05", "--model.learning_rate=0.1"]
    assert [row["run"] for row in rows] == ["logs/tiny.eps_0.05/version_0", "logs/tiny.eps_0.1/version_0"]
    for row in rows:
        train = scalar_values(row["run"], "train/loss")
        val = scalar_values(row["run"], "val/loss")
        assert float(row["final train/loss"]) == train[-1] and float(row["best train/loss"]) == min(train)
        assert float(row["final val/loss"]) == val[-1] and float(row["best val/loss"]) == min(val)
        assert float(row["tested test/loss"]) == scalar_values(row["run"], "hp/test/loss")[-1]
        assert float(row["seconds"]) > 0
    assert rows[0]["final train/loss"] != rows[1]["final train/loss"]

    for name in ("loss-epoch.png", "loss-time.png"):
        assert (workdir / "studies/tiny" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    axes = drawn["loss-epoch.png"].axes[0]
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == [
        "eps 0.05: train/loss",
        "eps 0.05: test/loss",
        "eps 0.1: train/loss",
        "eps 0.1: test/loss",
    ]
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color() == lines[3].get_color()
    assert list(lines[2].get_ydata()) == scalar_values(rows[1]["run"], "train/loss")
    assert (axes.get_title(), axes.get_ylabel()) == ("Two step sizes", "MSE")

    before = files_and_times("logs", "checkpoints")
    main(["study", str(study_file)])
    again = capsys.readouterr().out
    assert "[1/2] eps 0.05 ... finished earlier in " in again and "[2/2] eps 0.1 ... finished earlier in " in again
    assert files_and_times("logs", "checkpoints") == before  # nothing trained, nothing written
    assert summary("tiny") == rows


def test_an_adhoc_grid_reports_a_diverging_variant_and_goes_on(workdir, capsys, drawn):
    grid = "model.learning_rate=1e6,0.1"
    main(["study", "--name", "eps", "--config", str(REGRESSION), "--grid", grid, "--", "--trainer.max_epochs=4"])
    out = capsys.readouterr().out
    assert "[1/2] model.learning_rate=1e6 ... diverged at epoch 1 after " in out
    assert "[2/2] model.learning_rate=0.1 ... finished in " in out
    assert "eps: 1 diverged, 1 finished" in out
    rows = summary("eps")
    assert [(row["status"], row["epochs"]) for row in rows] == [("diverged", "1"), ("finished", "4")]
    assert rows[0]["note"].startswith("training diverged at epoch 1")
    assert rows[0]["tested test/loss"] == ""  # a diverged fit tests nothing
    axes = drawn["loss-epoch.png"].axes[0]
    assert len(axes.get_lines()) == 4
    markers = [marker.get_offsets()[0][0] for marker in axes.collections]
    assert markers == [1, 1]  # its train and test curves each end where it diverged
    assert "model.learning_rate=1e6 (diverged at epoch 1)" in [
        text.get_text() for text in axes.get_legend().get_texts()
    ]


@pytest.mark.slow
def test_a_study_killed_midway_resumes_where_it_stopped(workdir, capsys):
    long = "long: {model.learning_rate: 0.1, trainer.max_epochs: 60}"
    study_file = write_study(workdir, TINY.replace('eps 0.1: [--model.learning_rate, "0.1"]', long))
    kill = ["--", "--trainer.callbacks+=tests.helpers.KillGroup", "--trainer.callbacks.epoch=30"]  # half-way
    with open(workdir / "first.out", "w") as output:
        process = start_to_be_killed([*AMAL, "study", str(study_file), *kill], workdir, stdout=output, stderr=output)
    assert process.wait(timeout=300) == -signal.SIGKILL, (workdir / "first.out").read_text()
    record = json.loads((workdir / "studies/tiny/variants/long.json").read_text())
    assert record["status"] == "running", (workdir / "first.out").read_text()  # killed mid-way
    state = workdir / "checkpoints/tiny.long/version_0/last.ckpt"
    interrupted_at = torch.load(state, weights_only=True)["global_step"]
    assert 0 < interrupted_at < 60
    first = files_and_times("logs/tiny.eps_0.05", "checkpoints/tiny.eps_0.05")

    main(["study", str(study_file), *kill])  # the same command, in this process
    out = capsys.readouterr().out
    assert "[1/2] eps 0.05 ... finished earlier in " in out
    assert "[2/2] long ... finished in " in out
    assert files_and_times("logs/tiny.eps_0.05", "checkpoints/tiny.eps_0.05") == first
    assert sorted(path.name for path in Path("logs/tiny.long").iterdir()) == ["version_0"]  # resumed in its run
    assert torch.load(state, weights_only=True)["global_step"] == 60
    epochs = read_run("logs/tiny.long/version_0").curves["train/loss"].epochs
    assert list(epochs) == sorted(set(epochs)) and epochs[-1] == 59  # one curve, no epoch twice
    assert [(row["status"], row["epochs"]) for row in summary("tiny")] == [("finished", "2"), ("finished", "60")]


def test_submit_dry_run_prints_a_job_array_and_its_tasks_are_gathered_afterwards(workdir, capsys, monkeypatch):
    study_file = write_study(workdir, TINY)
    main(["study", str(study_file), "--submit", "--time", "01:00:00", "--gpus-per-node", "2", "--dry-run"])
    script = capsys.readouterr().out
    lines = script.splitlines()
    assert "#SBATCH --array=0-1" in lines and "#SBATCH --output=slurm/tiny-%A_%a.out" in lines
    assert "#SBATCH --requeue" in lines and "#SBATCH --signal=SIGUSR1@90" in lines
    (srun,) = [line for line in lines if line.startswith("srun ")]
    words = shlex.split(srun)
    assert Path(words[1]).is_absolute() and words[2:6] == [
        "study",
        str(study_file),
        "--variant-index",
        "$SLURM_ARRAY_TASK_ID",
    ]
    assert words[6] == "--" and "--trainer.devices" in words and words[words.index("--trainer.devices") + 1] == "2"
    assert not any(Path(name).exists() for name in ("logs", "checkpoints", "studies", "slurm"))

    fake = workdir / "bin" / "sbatch"  # submitted for real, to an sbatch that answers like SLURM's
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {workdir}/sbatch.args\necho "Submitted batch job 77"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    main(["study", str(study_file), "--submit", "--time", "01:00:00"])
    (written,) = Path("slurm").glob("tiny-array-*.sbatch")
    assert (workdir / "sbatch.args").read_text().split() == [str(written)]
    assert "#SBATCH --array=0-1" in written.read_text().splitlines()
    assert capsys.readouterr().out.startswith(f"{written}: Submitted batch job 77 (2 tasks;")
    assert Path("studies/tiny/study.yaml").is_file() and not Path("logs").exists()

    main(["study", str(study_file), "--variant-index", "1"])  # what task 1 of the array runs
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("[2/2] eps 0.1 ... finished in ") and "summary" not in out
    assert not Path("logs/tiny.eps_0.05").exists()
    main(["plot", "--study", "tiny"])
    assert "tiny: 1 missing, 1 finished" in capsys.readouterr().out
    assert [row["status"] for row in summary("tiny")] == ["missing", "finished"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TINY + "varaints: {}\n", "tiny.yaml: unknown key 'varaints' (known: name,"),
        (
            TINY.replace("model.learning_rate: 0.05", "model.learnin_rate: 0.05"),
            "tiny.yaml: variant 'eps 0.05': --model.learnin_rate is not an option of amal_lightning.tme2."
            "AutogradRegression (did you mean --model.learning_rate?)",  # the line amal fit gives
        ),
        (
            TINY.replace("model.learning_rate: 0.05", "model.learning_rate: fast"),
            "tiny.yaml: variant 'eps 0.05': --model.learning_rate: Not of type PositiveFloat",  # and the value
        ),
        (TINY.replace("trainer.max_epochs: 2", "trainer.max_epochz: 2"), "tiny.yaml: common options:"),
        (
            TINY.replace("{model.learning_rate: 0.05}", "{model.learning_rate: 0.05, trainer.gradient_clip_val: -1}"),
            "tiny.yaml: variant 'eps 0.05': --trainer.gradient_clip_val -1.0: expected a norm or value, 0 or more",
        ),
        (
            f"config: {REGRESSION}\ngrid: {{model.learning_rate: []}}\n",
            "tiny.yaml, grid: model.learning_rate has no values",
        ),
        (f"config: {REGRESSION}\ngrid: {{}}\n", "tiny.yaml, grid: the grid is empty"),
        ("config: nowhere.yaml\ngrid: {model.learning_rate: [1]}\n", "tiny.yaml, config: nowhere.yaml: no such file"),
        (f"config: {REGRESSION}\n", "tiny.yaml: give either variants or a grid"),
        ("config: [unclosed\n", "tiny.yaml, line 2: not valid YAML"),
    ],
)
def test_bad_study_files_get_one_line_errors_before_anything_trains(workdir, capsys, text, message):
    study_file = write_study(workdir, text)
    with pytest.raises(SystemExit) as stop:
        main(["study", str(study_file)])
    assert stop.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith(f"amal: error: {study_file.parent}/{message}"), error
    assert error.count("\n") == 1
    assert not any(Path(name).exists() for name in ("logs", "checkpoints", "studies"))


def test_a_variant_index_out_of_range_is_refused(workdir, capsys):
    study_file = write_study(workdir, TINY)
    with pytest.raises(SystemExit):
        main(["study", str(study_file), "--variant-index", "2"])
    assert "--variant-index 2: the study's variants are 0 to 1" in capsys.readouterr().err
    assert sys.argv == ["amal"]


SHIPPED = [
    "report",
    "tme1_random",
    "tme1_step_size",
    "tme2_gd_variants",
    "tme2_linear_vs_tanh",
    "tme2_momentum",
    "tme2_step_size",
    "tme2_step_size_grid",
    "tme3_autoencoder",
    "tme3_depth",
    "tme3_highway",
]
SEARCHES = ["tme2_step_size_search", "tme3_classifier_search"]  # checked in tests/test_search.py


def test_the_shipped_studies_are_there(monkeypatch):
    assert sorted(path.stem for path in (CONFIGS / "studies").glob("*.yaml")) == sorted(SHIPPED + SEARCHES)


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_study_is_accepted_by_amal_fit_s_parser(monkeypatch, name):
    monkeypatch.chdir(REPO)  # their configs are named from the project folder, as a user runs them
    study = load_study(Path("configs/studies") / f"{name}.yaml")
    check_study(study)  # parses every variant's command line, trains nothing
    assert study.name == name and len(study.variants) >= 2
    for figure in study.figures:
        assert figure.ylabel and all(variant in {v.label for v in study.variants} for variant in figure.variants)


def test_summary_rows_give_a_best_value_only_where_one_exists():
    def series(metric: str, values: tuple[float, ...]) -> Series:
        epochs = tuple(range(len(values)))
        return Series(metric, epochs, epochs, epochs, values)

    curves = {
        "val/acc": series("val/acc", (0.5, 0.9, 0.8)),
        "train/loss": series("train/loss", (3.0, 1.0, 2.0)),
        "val/gate/layer_01": series("val/gate/layer_01", (0.2, 0.1, 0.3)),
    }
    log = RunLog(Path("logs/x/version_0"), curves, {"test/acc": 0.85}, {})
    variant = Variant("v", "v", REGRESSION, {"model.learning_rate": 1})
    record = VariantRecord("v", "s.v", "finished", "version_0", 12.5)
    row = summary_row(variant, record, log)
    assert (row["best val/acc"], row["final val/acc"]) == ("0.9", "0.8")  # the highest accuracy
    assert (row["best train/loss"], row["final train/loss"]) == ("1.0", "2.0")  # the lowest loss
    assert row["final val/gate/layer_01"] == "0.3" and "best val/gate/layer_01" not in row
    assert (row["tested test/acc"], row["epochs"], row["seconds"]) == ("0.85", "3", "12.5")


def test_a_trained_variant_s_line_comes_from_its_outcome_and_an_older_record_of_words_runs_again(
    workdir, capsys, monkeypatch
):
    study_file = write_study(workdir, TINY)

    def no_event_files(log):
        raise AssertionError("a variant trained here is said from its outcome, not from its event files")

    with monkeypatch.context() as patched:
        patched.setattr(summary_module, "headline", no_event_files)
        main(["study", str(study_file), "--", "--trainer.devices=1"])
    trained = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    record_file = workdir / "studies/tiny/variants/eps_0.1.json"
    record = json.loads(record_file.read_text())
    assert record["command"]["options"] == {"trainer.enable_model_summary": False, "model.learning_rate": "0.1"}
    record_file.write_text(json.dumps({**record, "command": ["fit", "--config", str(REGRESSION)]}))

    main(["study", str(study_file)])  # without the placement option: the same variants
    again = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert again[0].startswith("[1/2] eps 0.05 ... finished earlier in ")
    assert again[0].split(", kept, ")[1] == trained[0].split(" s, ")[1]  # the same metrics, read back
    assert again[1].startswith("[2/2] eps 0.1 ... finished in ")  # an older record's words: trained again
