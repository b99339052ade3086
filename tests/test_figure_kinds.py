"""The figure kinds: each its options (a pydantic model refusing a misspelt key) and its drawing, in one
registry; one ``figures:`` entry as a pydantic type a study file's model can hold, with the same
one-line messages, and a JSON Schema an editor checks a study file's figures with."""

from pathlib import Path

import pytest
import yaml
from matplotlib.figure import Figure
from pydantic import BaseModel, ValidationError

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import RunLog, Series
from amal_lightning.studies.figures.curves import Curves
from amal_lightning.studies.figures.layers import Layers
from amal_lightning.studies.figures.options import FigureOptions, Page
from amal_lightning.studies.figures.plotted import PlottedRun
from amal_lightning.studies.figures.registry import KINDS, draw_figure
from amal_lightning.studies.figures.spec import DEFAULT_FIGURES, ENTRY, FigureEntry, figure_specs
from amal_lightning.studies.figures.sweep import Sweep
from tests.helpers import CONFIGS

SHIPPED = sorted((CONFIGS / "studies").glob("*.yaml"))


class StudyFigures(BaseModel):
    """What a study file's model holds: its figures, each a FigureEntry."""

    figures: list[FigureEntry]


def curve_log(values: list[float], reference: float) -> RunLog:
    epochs = tuple(range(len(values)))
    series = Series("train/loss", epochs, epochs, tuple(float(e) for e in epochs), tuple(values))
    return RunLog(Path("x"), {"train/loss": series}, {}, {}, {"train/loss": reference})


def test_every_kind_is_its_options_refusing_unknown_keys_and_its_drawing():
    assert list(KINDS) == ["curves", "sweep", "layers"]
    for name, kind in KINDS.items():
        assert issubclass(kind.options, FigureOptions) and kind.options.model_config["extra"] == "forbid"
        assert kind.options.model_fields["kind"].annotation.__args__ == (name,)
        assert callable(kind.draw)


def test_an_entry_without_a_kind_is_curves_and_each_kind_reads_its_own_options():
    read = StudyFigures.model_validate(
        {
            "figures": [
                {"name": "loss", "metrics": "train/loss", "x": ["epoch", "time"], "references": True},
                {"kind": "sweep", "x": "--model.learning_rate", "group": "--data.batch_size"},
                {"kind": "sweep", "lines": {"plain": {"plain 1": 1, "plain 2": 2}}, "xlabel": "depth"},
                {"kind": "layers", "metric_prefix": "val/gate/layer_", "variant": "highway 2"},
            ]
        }
    ).figures
    curves, swept, lines, layers = read
    assert isinstance(curves, Curves) and curves.metrics == ("train/loss",) and curves.references == ("train/loss",)
    assert curves.file_names() == [("epoch", "loss-epoch.png"), ("time", "loss-time.png")]
    assert isinstance(swept, Sweep) and (swept.x, swept.group, swept.name) == (
        "model.learning_rate",
        "data.batch_size",
        "train_loss",
    )
    assert swept.file_names() == [("", "train_loss.png")]
    assert lines.lines == (("plain", (("plain 1", 1.0), ("plain 2", 2.0))),)
    assert isinstance(layers, Layers) and layers.variants == ("highway 2",) and layers.name == "val_gate_layer"
    assert DEFAULT_FIGURES == (Curves(name="loss"),) and DEFAULT_FIGURES[0].metrics == ("train/loss", "test/loss")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "bars"}, "kind must be one of curves, sweep, layers, got 'bars'"),
        ({"vline": "reference/step_limit"}, "vline is a key of sweep figures, not of curves ones"),
        ({"metricz": ["train/loss"]}, "unknown key 'metricz' (known: name, kind, title, ylabel, variants, metrics"),
        ({"kind": "sweep", "x": ["a", "b"]}, "x must name the swept option"),
        ({"kind": "layers"}, "metric_prefix must name the layers' curves"),
        ("loss", "expected a mapping with name, kind"),
    ],
)
def test_a_study_file_s_model_holding_entries_says_the_kinds_own_messages_at_the_entry(entry, message):
    with pytest.raises(ValidationError) as raised:
        StudyFigures.model_validate({"figures": [entry]})
    first = raised.value.errors()[0]
    assert first["type"] == "value_error" and str(first["ctx"]["error"]).startswith(message)
    assert first["loc"][:2] == ("figures", 0) and set(first["loc"][2:]) <= set(KINDS)  # no key: the entry's


def test_a_value_of_the_wrong_type_is_one_line_naming_its_key():
    with pytest.raises(
        AmalError, match=r"^s\.yaml, figures, figure 1, title: expected the figure's title .*, got \[1\]$"
    ):
        figure_specs("s.yaml, figures", [{"title": [1]}], set())


def test_the_variants_named_are_checked_once_known_whether_entries_come_written_or_already_read():
    entries = [{"kind": "sweep", "lines": {"l": {"a": 1, "b": 2}}, "xlabel": "n"}]
    assert figure_specs("w", entries, {"a", "b"})[0].lines == (("l", (("a", 1.0), ("b", 2.0))),)
    already = StudyFigures.model_validate({"figures": entries}).figures
    with pytest.raises(AmalError, match=r"^w, figure 1: lines: l: no variant named 'b'$"):
        figure_specs("w", already, {"a"})
    with pytest.raises(AmalError, match=r"^w, figure 1: variant: no variant named 'c'$"):
        figure_specs("w", [{"kind": "layers", "metric_prefix": "g/", "variant": "c"}], {"a"})


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_every_shipped_study_file_s_figures_are_entries(path):
    figures = yaml.safe_load(path.read_text()).get("figures", [])
    for figure in figures:
        assert isinstance(ENTRY.validate_python(figure), FigureOptions)


def test_the_json_schema_has_one_closed_mapping_per_kind_and_a_kind_only_where_it_is_not_curves():
    schema = ENTRY.json_schema()
    kinds = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["oneOf"]}
    assert kinds == {"Curves", "Sweep", "Layers"}
    for name in kinds:
        assert schema["$defs"][name]["additionalProperties"] is False
    assert "kind" not in schema["$defs"]["Curves"].get("required", [])
    assert "kind" in schema["$defs"]["Sweep"]["required"]
    assert set(schema["$defs"]["Layers"]["required"]) == {"kind", "metric_prefix"}
    metrics = schema["$defs"]["Curves"]["properties"]["metrics"]
    assert {"type": "string"} in metrics["anyOf"]  # one metric, or a list of them
    lines = schema["$defs"]["Sweep"]["properties"]["lines"]
    assert lines["type"] == "object" and lines["additionalProperties"]["additionalProperties"]["type"] == "number"


def test_a_page_is_drawn_by_its_figure_s_kind():
    run = PlottedRun("eps 0.1", curve_log([4.0, 2.0, 1.0], reference=0.5))
    curves = Curves(name="loss", metrics=["train/loss"], references=True, title="T")
    figure = draw_figure(curves, Page((run,), "epoch", "the study", "a footer"))
    axes = figure.axes[0]
    assert isinstance(figure, Figure) and axes.get_title() == "T" and figure.get_supxlabel() == "a footer"
    (curve,) = [line for line in axes.get_lines() if line.get_label() == "eps 0.1: train/loss"]
    assert list(curve.get_ydata()) == [4.0, 2.0, 1.0]
    assert [list(line.get_ydata()) for line in axes.get_lines() if line is not curve] == [[0.5, 0.5]]
    swept = PlottedRun("eps 0.1", run.log, summary={"final train/loss": "1.0"})
    sweep = Sweep(kind="sweep", lines={"eps": {"eps 0.1": 0.1}}, xlabel="step size")
    axes = draw_figure(sweep, Page((swept,), title="the study")).axes[0]
    (line,) = [line for line in axes.get_lines() if line.get_label() == "eps"]
    assert list(line.get_xdata()) == [0.1] and list(line.get_ydata()) == [1.0] and axes.get_title() == "the study"
