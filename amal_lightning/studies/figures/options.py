"""What every figure kind shares: the options of any figure (:class:`FigureOptions`, which each kind's
options extend), the checks the kinds reuse, and :class:`Page`, what one PNG file is drawn from.

A kind's options are a pydantic model read from one entry of a study file's ``figures``. Its
``mode="before"`` model validator checks the entry as written and raises ``ValueError`` with the
message a user reads (``x must name the swept option, e.g. x: model.learning_rate``): pydantic
reports it at the entry, which the study file's reader names (``study.yaml, figures, figure 2``).
The fields are typed for the JSON Schema an editor checks a study file with; whether the variants
they name exist is checked once the study's variants are known (:func:`FigureOptions.named_variants`).

A title (a figure's, or the study's description) never states a number that an option may change:
it names the option, ``{trainer.max_epochs}``, and :func:`filled` writes the value the runs drawn
were given, read from the config each run saved (``config.yaml`` in its log folder), so that a study
run with ``-- --trainer.max_epochs 3`` says 3.
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Optional, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import XAxis
from amal_lightning.studies.figures.plotted import PlottedRun
from amal_lightning.studies.variants import slug

PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")  # {trainer.max_epochs}, {model.optimizer.init_args.lr}
CONFIG_FILE = "config.yaml"  # the config each run saves in its log folder


def as_tuple(value: Any) -> Any:
    """One name as a tuple of one (``metrics: train/loss``); a list as a tuple; anything else as it is."""
    if isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, list) else value


# A name or a list of names, read as a tuple of names.
Names = Annotated[tuple[str, ...], BeforeValidator(as_tuple, json_schema_input_type=Union[str, list[str]])]


def names_of(key: str, value: Any) -> tuple[str, ...]:
    """A key's value as a tuple of strings: one string (or number), or a non-empty list of them."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or not all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in items):
        raise ValueError(f"{key} must be a name or a list of names, got {value!r}")
    return tuple(str(item) for item in items)


def text(value: Any) -> str:
    """A scalar of the file as text, as YAML may read ``10`` or ``1e-3`` as a number."""
    return value if isinstance(value, str) else str(value)


class FigureOptions(BaseModel):
    """A figure to draw: its files' ``name``, its ``title``, its y axis' label, the ``variants`` it shows
    (all if none), and its ``kind``, whose options extend these. Made from a study file's entry, or
    in code by keywords: ``Curves(name="loss")``."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    name: str = Field("", description="the figure's files: NAME-AXIS.png for curves, NAME.png otherwise")
    kind: str
    title: str = Field("", description="the figure's title (default: the study's description)")
    ylabel: str = Field("", description="the vertical axis' label, with its unit")
    variants: Names = Field((), description="the variants drawn (default: all)")

    @model_validator(mode="before")
    @classmethod
    def checked(cls, data: Any) -> Any:
        """The entry as written, checked in the order a user reads it and put in the fields' form."""
        if not isinstance(data, dict):
            return data  # a model already made, or not a mapping: pydantic says so
        values = dict(data)
        if data.get("variants"):
            values["variants"] = names_of("variants", data["variants"])
        else:
            values.pop("variants", None)
        values.update(cls.options_of(data))
        values["name"] = slug(text(data.get("name") or "-".join(cls.drawn_metrics(values))))
        return values

    @classmethod
    def options_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The kind's own keys of ``data``, checked (ValueError naming the key) and in the fields' form."""
        return {}

    @classmethod
    def drawn_metrics(cls, values: dict[str, Any]) -> Sequence[str]:
        """The metrics the figure draws, in the fields' form: its default name joins them."""
        return ()

    def file_names(self) -> list[tuple[str, str]]:
        """(x axis, PNG file name) of each file the figure makes: one, ``<name>.png``, unless a kind says more."""
        return [("", f"{self.name}.png")]

    def named_variants(self) -> Iterator[tuple[str, str]]:
        """(key, variant name) of each variant the figure names, to be checked against the study's."""
        for name in self.variants:
            yield "variants", name


@dataclass(frozen=True)
class Page:
    """What one PNG file of a figure is drawn from, besides its options: the figure's runs in order (each
    with its variant and record in a study), this file's x axis, the title if the figure gives none,
    the footer saying where it comes from, and the study's common options (read by a sweep)."""

    runs: tuple[PlottedRun, ...]
    axis: XAxis = "epoch"
    title: str = ""
    footer: str = ""
    common: tuple[str, ...] = ()


def run_option(run: PlottedRun, option: str) -> Optional[Any]:
    """The value the run was given for ``option`` (dotted, ``init_args`` skipped where the name is not found
    without it), from the config it saved; None if it saved none or has no such option."""
    try:
        node: Any = yaml.safe_load((run.log.path / CONFIG_FILE).read_text())
    except (OSError, yaml.YAMLError):
        return None
    for key in option.split("."):
        if isinstance(node, dict) and key not in node and isinstance(node.get("init_args"), dict):
            node = node["init_args"]
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def filled(text: str, runs: Sequence[PlottedRun]) -> str:
    """``text`` with each ``{option}`` replaced by the value the runs were given (their distinct values joined
    by ``/``); AmalError naming it if no run recorded it."""

    def value(match: re.Match) -> str:
        values = [run_option(run, match[1]) for run in runs]
        shown = list(
            dict.fromkeys(
                f"{value:g}" if isinstance(value, float) else str(value) for value in values if value is not None
            )
        )
        if not shown:
            raise AmalError(f"{match[0]} in a title: no run drawn recorded the option {match[1]}")
        return "/".join(shown)

    return PLACEHOLDER.sub(value, text)
