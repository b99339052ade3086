"""No band or bar of a figure leaves its axis or its quantity's range (the TME3 figures' faults, issue 29):
on a log axis the band is the geometric mean ×/÷ the geometric std, above zero; an accuracy's or a
gate's band stays in [0, 1]; a loss's band stays at 0 or above on a linear axis."""

import math
import statistics
from pathlib import Path

import pytest
from matplotlib.collections import LineCollection, PolyCollection

from amal_lightning.runs.events import RunLog, Series
from amal_lightning.studies.figures.bands import NON_NEGATIVE, UNBOUNDED, UNIT, bounds_of, spread
from amal_lightning.studies.figures.layers import draw_layers
from amal_lightning.studies.figures.plot import PlottedRun, draw
from amal_lightning.studies.figures.sweep_plot import SweptRun, draw_sweep

# One seed far below the two others: its spread is larger than the mean (the Highway band of
# tme3_highway-curves_50, which mean − std drew below zero, off the log axis).
SPREAD_OUT = [[2.0, 0.3, 0.02, 1e-3], [2.1, 0.4, 0.03, 2e-3], [2.2, 0.01, 1e-4, 1e-6]]


def seeds_of(label: str, curves: list[list[float]], metric: str) -> list[PlottedRun]:
    runs = []
    for seed, values in enumerate(curves):
        epochs = tuple(range(len(values)))
        series = Series(metric, epochs, epochs, tuple(float(epoch) for epoch in epochs), tuple(values))
        runs.append(PlottedRun(label, RunLog(Path(f"{label}{seed}"), {metric: series}, {}, {}), seed=seed))
    return runs


def band_heights(axes) -> list[float]:
    bands = [artist for artist in axes.collections if isinstance(artist, PolyCollection)]
    assert bands, "no band drawn"
    return [y for band in bands for path in band.get_paths() for y in path.vertices[:, 1]]


def bar_ends(axes) -> list[float]:
    bars = [artist for artist in axes.collections if isinstance(artist, LineCollection)]
    assert bars, "no error bar drawn"
    return [y for bar in bars for segment in bar.get_segments() for y in segment[:, 1]]


def assert_inside(values: list[float], axes, bounds: tuple[float, float]) -> None:
    axes.figure.canvas.draw()
    low, high = axes.get_ylim()
    assert all(math.isfinite(value) for value in values)
    assert min(values) >= max(low, bounds[0]) - 1e-12, (min(values), low, bounds)
    assert max(values) <= min(high, bounds[1]) + 1e-12, (max(values), high, bounds)
    if axes.get_yscale() == "log":
        assert min(values) > 0


def test_the_quantities_ranges_are_read_from_their_names():
    assert bounds_of("test/acc") == bounds_of("tested test/acc") == bounds_of("val/gate/layer_") == UNIT
    assert bounds_of("train/loss") == bounds_of("final train/loss") == bounds_of("test/mse") == NON_NEGATIVE
    assert bounds_of("time/train_seconds") == UNBOUNDED


def test_a_spread_on_a_log_axis_is_geometric_and_one_on_a_linear_axis_is_clipped_to_the_range():
    values = [1e-3, 2e-3, 1e-6]
    logs = [math.log(value) for value in values]
    found = spread(values, log=True, bounds=NON_NEGATIVE)
    centre, factor = math.exp(statistics.fmean(logs)), math.exp(statistics.stdev(logs))
    assert (found.centre, found.low, found.high) == pytest.approx((centre, centre / factor, centre * factor))
    assert found.low > 0 and found.n == 3
    linear = spread([0.01, 0.001, 1e-6], bounds=NON_NEGATIVE)
    assert linear.centre == pytest.approx(0.01100 / 3, rel=1e-3) and linear.low == 0.0  # mean − std < 0
    accuracies = spread([0.1, 0.1, 0.98], bounds=UNIT)
    assert accuracies.low == 0.0 and accuracies.high < 1.0
    assert spread([0.99, 0.5, 1.0], bounds=UNIT).high == 1.0
    assert spread([-1.0, 0.0], log=True).centre is None  # nothing positive to place on a log axis


def test_a_curve_band_on_a_log_axis_stays_on_the_axis_around_the_geometric_mean():
    runs = seeds_of("highway, 50", SPREAD_OUT, "train/loss")
    axes = draw(runs, ["train/loss"], y="log").axes[0]
    assert_inside(band_heights(axes), axes, NON_NEGATIVE)
    (centre,) = [line for line in axes.get_lines() if line.get_label() == "highway, 50: train/loss"]
    last = [curve[-1] for curve in SPREAD_OUT]
    assert centre.get_ydata()[-1] == pytest.approx(statistics.geometric_mean(last))
    assert "band: geometric mean ×/÷ geometric std over seeds" in [t.get_text() for t in axes.get_legend().get_texts()]
    auto = draw(runs, ["train/loss"]).axes[0]  # the values span decades: a log axis, the same band
    assert auto.get_yscale() == "log"
    assert_inside(band_heights(auto), auto, NON_NEGATIVE)


def test_an_accuracy_band_stays_in_0_1_and_a_loss_band_above_0_on_a_linear_axis():
    accuracies = seeds_of("plain, default init, 20", [[0.1, 0.5, 0.99], [0.1, 0.1, 0.98], [0.1, 0.95, 1.0]], "val/acc")
    axes = draw(accuracies, ["val/acc"], y="linear").axes[0]
    assert_inside(band_heights(axes), axes, UNIT)
    losses = seeds_of("plain", [[2.3, 2.3, 2.3], [2.3, 0.01, 0.001], [2.3, 2.3, 0.002]], "train/loss")
    axes = draw(losses, ["train/loss"], y="linear").axes[0]
    assert_inside(band_heights(axes), axes, NON_NEGATIVE)


def test_sweep_bars_stay_in_range_on_a_linear_axis_and_on_the_axis_on_a_log_one():
    accuracy = [SweptRun("d 20", 20, "plain", value, "stable", True) for value in (0.1, 0.1, 0.59)]
    accuracy += [SweptRun("d 50", 50, "plain", value, "stable", True) for value in (0.99, 0.9, 1.0)]
    axes = draw_sweep(accuracy, "", "", "tested test/acc", xlabel="depth", y="linear").axes[0]
    assert_inside(bar_ends(axes), axes, UNIT)
    loss = [SweptRun("d 50", 50, "he", value, "stable", True) for value in (0.3, 0.4, 1e-4)]
    loss += [SweptRun("d 10", 10, "he", value, "stable", True) for value in (1e-5, 2e-5, 1e-5)]
    axes = draw_sweep(loss, "", "", "final train/loss", xlabel="depth", y="log").axes[0]
    assert axes.get_yscale() == "log"
    assert_inside(bar_ends(axes), axes, NON_NEGATIVE)
    (line,) = [line for line in axes.get_lines() if line.get_label() == "he (n=3)"]
    assert line.get_ydata()[1] == pytest.approx(statistics.geometric_mean([0.3, 0.4, 1e-4]))


def test_gate_bars_stay_in_0_1_and_the_gates_start_is_a_line():
    def gates(values: list[float]) -> RunLog:
        epochs = (0, 1)
        curves = {
            f"val/gate/layer_{i:02d}": Series("x", epochs, epochs, (0.0, 1.0), (0.119, value))
            for i, value in enumerate(values, 1)
        }
        return RunLog(Path("x"), curves, {}, {})

    runs = [("highway, 50", True, gates(values)) for values in ([0.01, 0.2, 0.99], [0.09, 0.02, 0.9], [0.0, 0.1, 1.0])]
    start = 1 / (1 + math.exp(2.0))
    axes = draw_layers(runs, "val/gate/layer_", hline=(start, "σ(b_T) = σ(−2): the gates' start")).axes[0]
    assert_inside(bar_ends(axes), axes, UNIT)
    (line,) = [line for line in axes.get_lines() if line.get_label() == "σ(b_T) = σ(−2): the gates' start"]
    assert list(line.get_ydata()) == pytest.approx([0.1192, 0.1192], abs=1e-4)


def test_a_baseline_reference_is_a_dotted_line_named_by_the_figure():
    def coded(reference: float) -> RunLog:
        epochs = (0, 1)
        series = Series("test/mse", epochs, epochs, (0.0, 1.0), (0.05, 0.03))
        references = {"test/mse": reference, "mean_image/test/mse": 0.0663}
        return RunLog(Path("x"), {"test/mse": series}, {}, {}, references, {"latent_dim": 16})

    runs = [PlottedRun("code 16", coded(0.0271)), PlottedRun("code 80", coded(0.0074))]
    marks = {"reference/mean_image/test/mse": "mean training image"}
    axes = draw(runs, ["test/mse"], references=["test/mse"], marks=marks).axes[0]
    (line,) = [line for line in axes.get_lines() if line.get_label() == "mean training image"]
    assert list(line.get_ydata()) == [0.0663, 0.0663] and line.get_linestyle() == ":"
