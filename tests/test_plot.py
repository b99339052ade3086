"""``amal plot``: the data each figure hands to matplotlib, checked against the runs' event files."""

from pathlib import Path

import matplotlib.image
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import amal_lightning.command_line.plot as plot_command
from amal_lightning.command_line.main import main
from amal_lightning.runs.events import RunLog, Series, read_run
from amal_lightning.studies.figures.plot import PlottedRun, draw
from tests.helpers import CONFIGS, run_inprocess

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def scalars(log_dir: Path, tag: str) -> list:
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return events.Scalars(tag)


def synthetic(values: list[float], metric: str = "train/loss") -> RunLog:
    epochs = tuple(range(len(values)))
    series = Series(metric, epochs, epochs, tuple(0.5 * epoch for epoch in epochs), tuple(values))
    return RunLog(Path("nowhere"), {metric: series}, {}, {})


@pytest.fixture
def saved_figures(monkeypatch):
    """The figures `amal plot` saves, by path (they are still written)."""
    saved = {}
    original = plot_command.save_png

    def recording(figure, path):
        saved[Path(path)] = figure
        original(figure, path)

    monkeypatch.setattr(plot_command, "save_png", recording)
    return saved


def test_plot_draws_each_run_in_one_colour_train_solid_test_dashed(workdir, saved_figures, capsys):
    run_inprocess("fit", "--config", str(CONFIGS / "regression.yaml"), "--trainer.max_epochs=3")
    run_inprocess("fit", "--config", str(CONFIGS / "tanh_mlp.yaml"), "--trainer.max_epochs=3")
    runs = [Path("logs/regression/version_0"), Path("logs/tanh_mlp/version_0")]
    main(["plot", *map(str, runs), "--metric", "train/loss", "--metric", "test/loss", "-o", "out/losses.png"])

    assert Path("out/losses.png").read_bytes().startswith(PNG_SIGNATURE)
    assert matplotlib.image.imread("out/losses.png").shape[:2] == (690, 1200)  # 8 × 4.6 inches at 150 dpi
    assert "out/losses.png: train/loss, test/loss of 2 run(s) against epoch" in capsys.readouterr().out
    axes = saved_figures[Path("out/losses.png")].axes[0]
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == [
        "regression/version_0: train/loss",
        "regression/version_0: test/loss",
        "tanh_mlp/version_0: train/loss",
        "tanh_mlp/version_0: test/loss",
    ]
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color() == lines[3].get_color()
    for line, (run, tag) in zip(
        lines, [(run, tag) for run in runs for tag in ("train/loss", "test/loss")], strict=True
    ):
        # one point per epoch: the test of best.ckpt logged after the fit is not part of the curve
        assert list(line.get_xdata()) == [0, 1, 2]
        assert list(line.get_ydata()) == [event.value for event in scalars(run, tag)][:3]
    assert axes.get_xlabel().startswith("epoch")
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "regression/version_0",
        "tanh_mlp/version_0",
        "train",
        "test",
    ]

    main(["plot", str(runs[0]), "--metric", "train/loss", "--x", "time", "-o", "time.png", "--title", "T"])
    axes = saved_figures[Path("time.png")].axes[0]
    seconds = list(axes.get_lines()[0].get_xdata())
    assert seconds == sorted(seconds) and seconds[0] >= 0
    assert axes.get_xlabel() == "wall-clock time since the start (s)" and axes.get_title() == "T"


def test_the_final_test_is_read_apart_from_the_test_curve(workdir):
    run_inprocess("fit", "--config", str(CONFIGS / "regression.yaml"), "--trainer.max_epochs=3")
    log = read_run("logs/regression/version_0")
    raw = scalars(Path("logs/regression/version_0"), "test/loss")
    assert len(raw) == 3  # three epochs: the test of best.ckpt is logged apart, as best/test/loss
    assert len(scalars(Path("logs/regression/version_0"), "best/test/loss")) == 1
    assert log.curves["test/loss"].values == tuple(event.value for event in raw)
    assert log.tested == {"test/loss": scalars(Path("logs/regression/version_0"), "hp/test/loss")[-1].value}
    assert log.epochs == 3


def test_values_spanning_more_than_two_decades_get_a_log_axis():
    wide = draw([PlottedRun("a", synthetic([1000.0, 10.0, 5.0]))], ["train/loss"])
    assert wide.axes[0].get_yscale() == "log"
    narrow = draw([PlottedRun("a", synthetic([50.0, 10.0, 5.0]))], ["train/loss"])
    assert narrow.axes[0].get_yscale() == "linear"


def test_a_diverged_run_ends_with_a_marker_and_does_not_squash_the_others():
    sound = PlottedRun("eps 0.1", synthetic([100.0, 40.0, 10.0, 10.0]))
    diverged = PlottedRun("eps 5", synthetic([100.0, 1e10, 1e30, float("inf")]), diverged=True, diverged_at=3)
    axes = draw([sound, diverged], ["train/loss"], "epoch", "Step sizes", "MSE").axes[0]
    assert axes.get_yscale() == "linear"  # the run that did not diverge spans one decade
    assert axes.get_ylim()[1] == pytest.approx(100 + 0.25 * 90)
    assert list(axes.get_lines()[1].get_ydata()) == [100.0, 1e10, 1e30]  # the infinite value is left out
    (marker,) = axes.collections
    assert marker.get_offsets().tolist() == [[3.0, pytest.approx(122.5)]]  # at the epoch it diverged, on the edge
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["eps 0.1", "eps 5 (diverged at epoch 3)"]
    assert (axes.get_title(), axes.get_ylabel()) == ("Step sizes", "MSE")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["logs/none/version_0", "--metric", "train/loss", "-o", "a.png"], "logs/none/version_0: no such run folder"),
        (["logs/regression/version_0", "--metric", "train/los", "-o", "a.png"], "no run has train/los (their curves:"),
    ],
)
def test_bad_runs_and_metrics_get_one_line_errors(workdir, capsys, args, message):
    run_inprocess("fit", "--config", str(CONFIGS / "regression.yaml"), "--trainer.max_epochs=1")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(["plot", *args])
    assert stop.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith(f"amal: error: {message}") and error.count("\n") == 1
    assert not Path("a.png").exists()


def test_an_output_that_is_not_png_is_a_usage_error(workdir, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["plot", "logs/x/version_0", "--metric", "train/loss", "-o", "a.jpg"])
    assert stop.value.code == 2
    assert "-o FILE.png" in capsys.readouterr().err


def test_a_resumed_run_reads_as_the_one_curve_it_followed(workdir):
    """Epochs logged after the checkpoint that a run resumed from are dropped: they were trained again."""
    config = ["--config", str(CONFIGS / "regression.yaml")]
    state = Path("checkpoints/regression/version_0/last.ckpt")
    run_inprocess("fit", *config, "--trainer.max_epochs=1")
    early = state.read_bytes()
    run_inprocess("fit", *config, "--trainer.max_epochs=3", f"--ckpt_path={state}")
    state.write_bytes(early)  # as if killed after epoch 2 was logged but before its checkpoint
    run_inprocess("fit", *config, "--trainer.max_epochs=5", f"--ckpt_path={state}")
    raw = scalars(Path("logs/regression/version_0"), "train/loss")
    assert [event.step for event in raw] == [0, 1, 2, 3, 4]  # the resumed writer's purge_step drops steps 1-2
    curve = read_run("logs/regression/version_0").curves["train/loss"]
    assert curve.epochs == (0, 1, 2, 3, 4)
    assert curve.values == tuple(event.value for event in raw)
