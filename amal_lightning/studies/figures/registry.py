"""The figure kinds, by the name a study file's ``kind`` gives: each kind's options (a pydantic model,
:class:`~amal_lightning.studies.figures.options.FigureOptions`'s subclass) and its drawing function, which
takes the options and a :class:`~amal_lightning.studies.figures.options.Page` and returns the Figure.

A study's figures (:mod:`amal_lightning.studies.figures.study`), the study file's ``figures`` entries
(:mod:`amal_lightning.studies.figures.spec`) and ``amal plot`` (its curves) find the kinds here. A new
kind is one module (its options and its drawing) and one line below, with its tests.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from matplotlib.figure import Figure

from amal_lightning.studies.figures.curves import Curves, draw_curves
from amal_lightning.studies.figures.layers import Layers, draw_layers_figure
from amal_lightning.studies.figures.options import FigureOptions, Page
from amal_lightning.studies.figures.sweep import Sweep, draw_sweep_figure


class FigureKind(NamedTuple):
    """A kind of figure: the model of its options, and the function that draws one file of it."""

    options: type[FigureOptions]
    draw: Callable[[Any, Page], Figure]


KINDS: dict[str, FigureKind] = {
    "curves": FigureKind(Curves, draw_curves),
    "sweep": FigureKind(Sweep, draw_sweep_figure),
    "layers": FigureKind(Layers, draw_layers_figure),
}


def draw_figure(spec: FigureOptions, page: Page) -> Figure:
    """One file of the figure ``spec``, drawn by its kind; AmalError if there is nothing to draw."""
    return KINDS[spec.kind].draw(spec, page)
