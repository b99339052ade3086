"""A study's figures fit to print: bands over seeds, reference lines and gaps, the honest time axis,
sweeps and layers, legends outside the axes, 150 dpi PNGs whose footer says their provenance."""

import csv
import itertools
import statistics
from pathlib import Path

import pytest
from matplotlib.collections import PolyCollection
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import amal_lightning.studies.figures.study as figures_module
from amal_lightning.command_line.main import main
from amal_lightning.errors import AmalError
from amal_lightning.runs.events import RunLog, Series
from amal_lightning.studies.figures.layers import draw_layers
from amal_lightning.studies.figures.options import filled
from amal_lightning.studies.figures.plot import PlottedRun, draw
from amal_lightning.studies.figures.provenance import footer
from amal_lightning.studies.figures.sweep_plot import Guides, SweptRun, draw_sweep
from amal_lightning.studies.spec import load_study
from amal_lightning.studies.variants import Variant
from tests.helpers import CONFIGS

HOUSING = "the bundled housing data: 506 rows, 304 train + 101 validation + 101 test"
STUDY = f"""
name: seeded_figures
description: Step sizes, two seeds, {{trainer.max_epochs}} epochs at ε {{model.learning_rate}}
config: {CONFIGS / "regression.yaml"}
common: {{trainer.max_epochs: 3, trainer.enable_progress_bar: false}}
seeds: [0, 1]
variants:
  eps 0.01: {{model.learning_rate: 0.01}}
  eps 0.1: {{model.learning_rate: 0.1}}
  eps 1e6: {{model.learning_rate: 1e6}}
figures:
  - {{name: loss, variants: [eps 0.01, eps 0.1], metrics: [train/loss], x: [epoch, train_seconds],
     references: true, ylabel: MSE}}
  - {{name: step-size, kind: sweep, x: model.learning_rate, metric: final train/loss,
     vline: reference/step_limit, vline_label: "2/λ_max"}}
"""


def scalar_values(run: Path, tag: str) -> list[float]:
    events = EventAccumulator(str(run))
    events.Reload()
    return [event.value for event in events.Scalars(tag)]


def runs_of(variant: str) -> list[Path]:
    return [Path(f"logs/seeded_figures.{variant.replace(' ', '_')}.seed{seed}/version_0") for seed in (0, 1)]


def labels(axes) -> list[str]:
    return [text.get_text() for text in axes.get_legend().get_texts()]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The seeded study run once, in its own folder: (its folder, the figures it saved by file name)."""
    folder = tmp_path_factory.mktemp("study")
    saved = {}
    original = figures_module.save_png

    def recording(figure, path):
        saved[Path(path).name] = figure
        original(figure, path)

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setattr(figures_module, "save_png", recording)
        (folder / "study.yaml").write_text(STUDY)
        main(["study", "study.yaml"])
        yield folder, saved


@pytest.fixture
def inside_study(study, monkeypatch):
    monkeypatch.chdir(study[0])
    return study[1]


def made_up(values: list[float], metric: str = "train/loss", references: dict | None = None) -> RunLog:
    epochs = tuple(range(len(values)))
    series = Series(metric, epochs, epochs, tuple(0.5 * epoch for epoch in epochs), tuple(values))
    return RunLog(Path("nowhere"), {metric: series}, {}, {}, references or {})


def test_each_variant_is_its_seeds_mean_in_a_band_with_n_in_the_legend(inside_study):
    axes = inside_study["loss-epoch.png"].axes[0]
    bands = [artist for artist in axes.collections if isinstance(artist, PolyCollection)]
    assert len(bands) == 2  # one per variant, not one per run
    assert labels(axes) == ["eps 0.01 (n=2)", "eps 0.1 (n=2)", "least-squares optimum"]
    mean_line = next(line for line in axes.get_lines() if line.get_label() == "eps 0.1: train/loss")
    seeds = [scalar_values(run, "train/loss") for run in runs_of("eps 0.1")]
    assert seeds[0] != seeds[1]
    assert list(mean_line.get_ydata()) == pytest.approx([statistics.fmean(pair) for pair in zip(*seeds, strict=True)])
    assert list(mean_line.get_xdata()) == [0, 1, 2]
    spread = statistics.stdev([seeds[0][-1], seeds[1][-1]])
    edge = bands[1].get_paths()[0].vertices[:, 1]
    assert max(edge) >= mean_line.get_ydata()[-1] + spread * 0.999
    (optimum,) = [line for line in axes.get_lines() if line.get_label() == "least-squares optimum"]
    assert optimum.get_ydata()[0] == pytest.approx(scalar_values(runs_of("eps 0.1")[0], "reference/train/loss")[0])


def test_the_footer_says_the_data_the_seeds_and_the_study_in_the_png_too(inside_study):
    for name in ("loss-epoch.png", "loss-train_seconds.png", "step-size.png"):
        image = Image.open(Path("studies/seeded_figures") / name)
        assert min(image.info["dpi"]) >= 150
        footer = image.text["Description"]
        assert f"data: {HOUSING}" in footer and "2 seeds per variant (n = 2" in footer
        assert footer.endswith("study seeded_figures")
        assert inside_study[name].get_supxlabel() == footer


def test_train_seconds_place_each_epoch_at_the_seconds_spent_inside_training_steps(inside_study):
    axes = inside_study["loss-train_seconds.png"].axes[0]
    assert "seconds inside training steps" in axes.get_xlabel()
    mean_line = next(line for line in axes.get_lines() if line.get_label() == "eps 0.01: train/loss")
    seconds = [scalar_values(run, "time/train_seconds") for run in runs_of("eps 0.01")]
    assert list(mean_line.get_xdata()) == pytest.approx([statistics.fmean(pair) for pair in zip(*seconds, strict=True)])


def test_the_sweep_puts_each_variant_at_its_step_size_and_marks_the_diverged_one(inside_study):
    axes = inside_study["step-size.png"].axes[0]
    assert (axes.get_xscale(), axes.get_yscale()) == ("log", "log")
    (line,) = [line for line in axes.get_lines() if line.get_label() == "final train/loss (n=2)"]
    assert list(line.get_xdata()) == [0.01, 0.1]
    finals = [
        statistics.fmean(scalar_values(run, "train/loss")[-1] for run in runs_of(v)) for v in ("eps 0.01", "eps 0.1")
    ]
    assert list(line.get_ydata()) == pytest.approx(finals)
    limit = scalar_values(runs_of("eps 0.1")[0], "reference/step_limit")[0]
    (vline,) = [line for line in axes.get_lines() if line.get_label() == "2/λ_max"]
    assert list(vline.get_xdata()) == pytest.approx([limit, limit])
    (cross,) = [c for c in axes.collections if c.get_offsets().tolist() == [[1e6, 1.0]]]  # on the top edge
    assert "diverged (at the top, a row per line)" in labels(axes)


def test_a_gap_is_the_metric_less_its_reference_on_a_log_axis():
    log = made_up([100.0, 40.0, 21.0, 20.0], references={"train/loss": 20.0})
    axes = draw([PlottedRun("a", log)], ["train/loss"], y="gap", ylabel="MSE").axes[0]
    assert axes.get_yscale() == "log" and "L − L*" in axes.get_ylabel()
    (line,) = axes.get_lines()
    assert list(line.get_ydata()) == [80.0, 20.0, 1.0]  # the point at the optimum has no gap to draw
    with pytest.raises(AmalError, match="no run has reference/train/loss"):
        draw([PlottedRun("a", made_up([3.0, 2.0]))], ["train/loss"], y="gap")
    assert draw([PlottedRun("a", log)], ["train/loss"], y="log").axes[0].get_ylabel() == "train/loss (log scale)"


def test_the_legend_names_only_what_is_drawn_outside_the_axes():
    log = RunLog(Path("x"), {**made_up([0.5, 0.7], "val/acc").curves, **made_up([0.4, 0.6], "test/acc").curves}, {}, {})
    figure = draw([PlottedRun("a", log), PlottedRun("b", made_up([0.3, 0.2], "test/acc"))], ["val/acc", "test/acc"])
    axes = figure.axes[0]
    legend = axes.get_legend()
    assert labels(axes) == ["a", "b", "validation", "test"]  # no "train": nothing solid is drawn
    drawn = {line.get_linestyle() for line in axes.get_lines()}
    assert {handle.get_linestyle() for handle in legend.legend_handles} <= drawn
    figure.canvas.draw()
    assert legend.get_window_extent().x0 >= axes.get_window_extent().x1  # to the right of the axes
    only_test = draw([PlottedRun("b", made_up([0.3, 0.2], "test/acc"))], ["val/acc", "test/acc"]).axes[0]
    assert labels(only_test) == ["b"] and only_test.get_legend().legend_handles[0].get_linestyle() == "--"


def test_a_reference_that_differs_by_variant_is_drawn_in_its_colour_and_named_by_its_kind():
    def coded(size: int, reference: float) -> RunLog:
        log = made_up([0.05, 0.03], "test/mse", {"test/mse": reference})
        return RunLog(log.path, log.curves, {}, {}, log.references, {"latent_dim": size})

    runs = [PlottedRun("code 16", coded(16, 0.04)), PlottedRun("code 80", coded(80, 0.02))]
    axes = draw(runs, ["test/mse"], references=["test/mse"]).axes[0]
    assert labels(axes) == ["code 16", "code 80", "PCA, 16 components", "PCA, 80 components"]
    curve, _, reference, _ = axes.get_lines()
    assert reference.get_color() == curve.get_color() and list(reference.get_ydata()) == [0.04, 0.04]
    # the members of a pair share their reference: one line each, not one per variant
    pair = [PlottedRun("tied 16", coded(16, 0.04)), PlottedRun("untied 16", coded(16, 0.04)), runs[1]]
    axes = draw(pair, ["test/mse"], references=["test/mse"], pairs=[["tied 16", "untied 16"]]).axes[0]
    assert labels(axes)[-2:] == ["PCA, 16 components", "PCA, 80 components"] and len(axes.get_lines()) == 5
    chance = made_up([0.5, 0.9], "val/acc", {"val/acc": 0.1})
    assert labels(draw([PlottedRun("a", chance)], ["val/acc"], references=["val/acc"]).axes[0]) == ["a", "chance"]


def test_pairs_share_a_colour_and_differ_in_line_style():
    runs = [PlottedRun(name, made_up([3.0, 2.0], "test/mse")) for name in ("tied 80", "untied 80", "other")]
    axes = draw(runs, ["test/mse"], pairs=[["tied 80", "untied 80"]]).axes[0]
    tied, untied, other = axes.get_lines()
    assert tied.get_color() == untied.get_color() != other.get_color()
    assert (tied.get_linestyle(), untied.get_linestyle()) == ("-", "--")
    assert other.get_linestyle() == "-"  # in no pair: solid, although test curves are otherwise dashed


def test_the_sweep_marks_unstable_runs_hollow_and_averages_seeds():
    runs = [
        SweptRun("a", 0.01, "full", 5.0, "stable", True),
        SweptRun("a", 0.01, "full", 7.0, "stable", True),
        SweptRun("b", 0.1, "full", 50.0, "unstable", True),
        SweptRun("c", 1.0, "full", None, "diverged", True),
    ]
    axes = draw_sweep(runs, "model.learning_rate", "data.batch_size", "final train/loss").axes[0]
    (line,) = [line for line in axes.get_lines() if line.get_label() == "data.batch_size = full (n=1–2)"]
    assert list(line.get_ydata()) == pytest.approx([35**0.5, 50.0])  # on a log axis, the geometric mean
    assert labels(axes) == [
        "data.batch_size = full (n=1–2)",
        "bars: geometric mean ×/÷ geometric std",
        "stable: final training loss below the first",
        "unstable: not below the first",
        "diverged (at the top, a row per line)",
    ]
    only_stable = draw_sweep(runs[:2], "model.learning_rate", "data.batch_size", "final train/loss", y="linear")
    assert list(only_stable.axes[0].get_lines()[0].get_ydata()) == [6.0]  # on a linear axis, the mean
    assert labels(only_stable.axes[0]) == ["data.batch_size = full (n=2)"]  # no marker to tell apart, no key for it


def test_the_layers_figure_draws_each_layer_s_last_value_with_the_seeds_spread():
    def gates(values: list[float]) -> RunLog:
        curves = {f"val/gate/layer_{i:02d}": made_up([0.9, v], "x").curves["x"] for i, v in enumerate(values, 1)}
        return RunLog(Path("x"), curves, {}, {})

    runs = [("highway 50", True, gates([0.2, 0.4, 0.6])), ("highway 50", True, gates([0.4, 0.6, 0.8]))]
    axes = draw_layers(runs, "val/gate/layer_").axes[0]
    (line,) = [line for line in axes.get_lines() if line.get_label() == "highway 50 (n=2)"]
    assert list(line.get_xdata()) == [1, 2, 3] and list(line.get_ydata()) == pytest.approx([0.3, 0.5, 0.7])


@pytest.mark.parametrize(
    ("figure", "message"),
    [
        ("{name: f, kind: bars}", "figure 1: kind must be one of curves, sweep, layers"),
        ("{name: f, y: cubic}", "figure 1: y must be one of auto, linear, log, gap"),
        ("{name: f, kind: sweep, x: [a, b]}", "figure 1: x must name the swept option"),
        ("{name: f, vline: reference/step_limit}", "figure 1: vline is a key of sweep figures, not of curves ones"),
        ("{name: f, pairs: [[a, b]], metrics: [train/loss, test/loss]}", "figure 1: pairs tell a pair's variants"),
        ("{name: f, pairs: [[a, c]], metrics: [test/loss]}", "figure 1: pairs: no variant named 'c'"),
        ("{name: f, kind: layers}", "figure 1: metric_prefix must name the layers' curves"),
        ("{name: f, kind: sweep, x: lr, metric: train/loss}", "figure 1: metric 'train/loss' is not a column"),
        ("{name: f, kind: sweep, x: lr, lines: {l: {a: 1}}, xlabel: n}", "figure 1: give lines (each variant's x)"),
        ("{name: f, kind: sweep, lines: {l: {a: 1}}}", "figure 1: lines need an xlabel saying what their x counts"),
        ("{name: f, kind: sweep, lines: {l: {c: 1}}, xlabel: n}", "figure 1: lines: l: no variant named 'c'"),
        ("{name: f, kind: sweep, lines: {l: {a: ten}}, xlabel: n}", "figure 1: lines: l: a: x must be a number"),
        ("{name: f, kind: sweep, lines: {l: {a: 1}, m: {a: 2}}, xlabel: n}", "figure 1: lines: 'a' is on more than"),
        ("{name: f, kind: sweep, lines: [a, b], xlabel: n}", "figure 1: lines must map each line's label"),
        ("{name: f, xlabel: depth}", "figure 1: xlabel is a key of sweep and layers figures, not of curves ones"),
        ("{name: f, kind: sweep, x: lr, y: gap}", "figure 1: y of a sweep must be one of auto, linear, log, got 'gap'"),
    ],
)
def test_a_bad_figure_is_one_line_naming_the_file_and_the_key(tmp_path, figure, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"config: {CONFIGS / 'regression.yaml'}\nvariants: {{a: {{}}, b: {{}}}}\nfigures: [{figure}]\n")
    with pytest.raises(AmalError, match="^" + str(path).replace(".", r"\.") + ", figures, ") as error:
        load_study(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_footer_reads_which_mnist_a_run_used_from_its_hyperparameters():
    def trained_on(source: str, train: int, val: int, test: int) -> RunLog:
        sizes = {"train_images": train, "val_images": val, "test_images": test}
        return RunLog(Path("x"), {}, {}, {}, {}, {"used_source": source, **sizes})

    full = footer([trained_on("full", 55_000, 5_000, 10_000)] * 3, "depth", [0, 1, 2])
    assert full.startswith("data: full MNIST (60,000 + 10,000: 55,000 train, 5,000 validation, 10,000 test)")
    assert "3 seeds per variant (n = 3" in full and full.endswith("study depth")
    sample = footer([trained_on("sample", 3_667, 333, 1_000), RunLog(Path("y"), {}, {}, {})])
    assert (
        sample
        == "data: the bundled 5,000-digit sample (4,000 + 1,000: 3,667 train, 333 validation, 1,000 test) · 2 runs"
    )


DEPTH_STUDY = f"""
name: depth_sweep
description: Plain against Highway by depth, tiny
config: {CONFIGS / "classifier.yaml"}
common: {{data.source: sample, trainer.max_epochs: 1, trainer.limit_train_batches: 2, trainer.limit_val_batches: 2,
          trainer.limit_test_batches: 2, trainer.enable_progress_bar: false, model.hidden_dim: 4}}
seeds: [0, 1]
variants:
  plain 1: {{model.num_hidden_layers: 2}}
  plain 2: {{model.num_hidden_layers: 3}}
  highway 1: {{config: {CONFIGS / "highway.yaml"}, model.num_layers: 1}}
  highway 2: {{config: {CONFIGS / "highway.yaml"}, model.num_layers: 2}}
figures:
  - {{name: depth, kind: sweep, metric: final train/loss, xlabel: layers between the first and the last, y: linear,
     lines: {{plain: {{plain 1: 1, plain 2: 2}}, highway: {{highway 1: 1, highway 2: 2}}}}}}
  - {{name: gates, kind: layers, metric_prefix: val/gate/layer_, variant: highway 2, xlabel: highway block}}
"""


def test_a_sweep_over_depth_draws_one_line_per_family_at_the_x_its_lines_give_with_n_in_the_legend(tmp_path):
    saved = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        patch.setattr(figures_module, "save_png", lambda figure, path: saved.update({Path(path).name: figure}))
        (tmp_path / "study.yaml").write_text(DEPTH_STUDY)
        main(["study", "study.yaml"])
        with open("studies/depth_sweep/runs.csv", newline="") as file:
            runs = list(csv.DictReader(file))
    assert [run["status"] for run in runs] == ["finished"] * 8  # a Highway network of one block too
    axes = saved["depth.png"].axes[0]
    assert labels(axes)[:2] == ["plain (n=2)", "highway (n=2)"]  # then the markers' meanings
    assert axes.get_xlabel().startswith("layers between the first and the last") and axes.get_yscale() == "linear"
    for family in ("plain", "highway"):
        (line,) = [line for line in axes.get_lines() if line.get_label() == f"{family} (n=2)"]
        finals = [
            statistics.fmean(float(run["final train/loss"]) for run in runs if run["variant"] == f"{family} {depth}")
            for depth in (1, 2)
        ]
        assert list(line.get_xdata()) == [1, 2] and list(line.get_ydata()) == pytest.approx(finals)
    gates = saved["gates.png"].axes[0]
    assert gates.get_xlabel() == "highway block" and labels(gates) == ["highway 2 (n=2)"]


def test_a_sweep_of_close_values_never_prints_tick_labels_over_each_other():
    xs = [0.14, 0.145, 0.15, 0.155, 0.16]
    runs = [SweptRun(f"eps {x}", x, "full", 20.0 + x, "stable") for x in xs]
    figure = draw_sweep(runs, "model.learning_rate", "", "final train/loss", xlabel="step size ε")
    figure.canvas.draw()
    boxes = [label.get_window_extent() for label in figure.axes[0].get_xticklabels() if label.get_text()]
    assert len(boxes) >= 2  # the first and some others are labelled
    assert all(left.x1 < right.x0 for left, right in itertools.pairwise(sorted(boxes, key=lambda box: box.x0)))
    assert figure.axes[0].get_xlabel() == "step size ε (log scale)"


def test_a_sweep_draws_a_limit_per_line_in_its_colour_marks_and_rows_of_crosses_per_line():
    runs = [
        SweptRun("full 0.1", 0.1, "full", 20.0, "stable"),
        SweptRun("full 0.3", 0.3, "full", None, "diverged"),
        SweptRun("one 0.01", 0.01, "1", 30.0, "stable"),
        SweptRun("one 0.3", 0.3, "1", None, "diverged"),
    ]
    guides = Guides([0.162], "2/λ_max", {"1": [0.0185]}, "mean-square limit", [(0.160, "ε*")], [19.78], "L*")
    axes = draw_sweep(runs, "lr", "batch", "final train/loss", guides).axes[0]
    full, one = (line for line in axes.get_lines() if line.get_label().startswith("batch = "))
    (limit,) = [line for line in axes.get_lines() if line.get_label() == "mean-square limit, batch = 1"]
    assert list(limit.get_xdata()) == [0.0185, 0.0185] and limit.get_color() == one.get_color() != full.get_color()
    assert {"2/λ_max", "ε*", "L*"} <= set(labels(axes))
    (hline,) = [line for line in axes.get_lines() if line.get_label() == "L*"]
    assert list(hline.get_ydata()) == [19.78, 19.78]
    rows = [
        c.get_offsets().tolist() for c in axes.collections if c.get_offsets().tolist() in ([[0.3, 1.0]], [[0.3, 0.95]])
    ]
    assert sorted(rows) == [[[0.3, 0.95]], [[0.3, 1.0]]]  # each line's cross in a row of its own


def test_a_title_names_an_option_and_says_the_value_the_runs_were_given(inside_study):
    # the description names {trainer.max_epochs}: the runs were given 3 (common), and each its own ε
    assert inside_study["loss-epoch.png"].axes[0].get_title() == "Step sizes, two seeds, 3 epochs at ε 0.01/0.1"
    with pytest.raises(AmalError, match=r"\{trainer\.nope\} in a title: no run drawn recorded the option"):
        filled(
            "{trainer.nope}", [PlottedRun("a", RunLog(Path("logs/seeded_figures.eps_0.1.seed0/version_0"), {}, {}, {}))]
        )


def test_a_gap_curve_that_reaches_the_optimum_says_where_and_why_it_ends():
    reached = made_up([100.0, 40.0, 21.0, 20.0, 20.0], references={"train/loss": 20.0})
    axes = draw([PlottedRun("a", reached)], ["train/loss"], y="gap").axes[0]
    (marker,) = [c for c in axes.collections if c.get_offsets().tolist() == [[2.0, 1.0]]]  # its last drawn point
    assert "curve ends: L − L* ≤ 0 (L* reached within float32 rounding)" in labels(axes)
    still_falling = made_up([100.0, 40.0, 21.0], references={"train/loss": 20.0})
    assert "curve ends" not in " ".join(labels(draw([PlottedRun("a", still_falling)], ["train/loss"], y="gap").axes[0]))


def test_two_reference_values_of_one_name_are_told_apart_by_their_value_and_a_long_title_wraps():
    runs = [
        PlottedRun(f"{name}, ε 0.01", made_up([30.0, 25.0], "test/loss", {"test/loss": value}))
        for name, value in (("standardized", 32.68), ("raw", 40.0))
    ]
    title = "TME1: train and test MSE, and the least-squares fit's, with a title long enough to overflow"
    figure = draw(runs, ["test/loss"], references=["test/loss"], title=title)
    assert labels(figure.axes[0])[-2:] == ["least-squares optimum = 32.68", "least-squares optimum = 40"]
    figure.canvas.draw()
    box = figure.axes[0].title.get_window_extent()
    assert "\n" in figure.axes[0].get_title() and figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1


def test_with_splits_a_reference_is_drawn_once_at_its_mean_over_the_splits():
    def on_split(split: int, value: float) -> PlottedRun:
        variant = Variant(f"a (split {split}, seed 0)", "a", Path("c.yaml"), {}, "a", 0, split)
        return PlottedRun("a", made_up([30.0, 25.0], "test/loss", {"test/loss": value}), seed=0, variant=variant)

    axes = draw([on_split(0, 30.0), on_split(1, 20.0)], ["test/loss"], references=["test/loss"]).axes[0]
    assert labels(axes)[-1] == "least-squares optimum (mean over 2 splits)"
    assert list(axes.get_lines()[-1].get_ydata()) == [25.0, 25.0]
