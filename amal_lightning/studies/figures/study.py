"""A study's figures: the PNG files of ``studies/<study>/``, drawn from its variants' event files.

Each figure of the study file (:mod:`amal_lightning.studies.figures.spec`) is drawn by its kind
(:mod:`amal_lightning.studies.figures.registry`): ``curves`` one PNG per horizontal axis it asks for,
``<figure>-<axis>.png`` (``loss-epoch.png``, ``loss-time.png``), one colour per variant (a mean and a
band over its seeds, if the study has seeds), by :mod:`~amal_lightning.studies.figures.curves`; ``sweep``
(:mod:`~amal_lightning.studies.figures.sweep`) and ``layers`` (:mod:`~amal_lightning.studies.figures.layers`)
one PNG, ``<figure>.png``. The study's
description is the default title; each figure's footer says its data, seeds and study
(:mod:`~amal_lightning.studies.figures.provenance`). The pictures the runs logged (an autoencoder's
reconstructions and interpolation strip) are copied as ``<variant>-<tag>.png``, as TensorBoard
stored them. A figure whose variants have no curve yet is skipped with a message, so that a
study gathered while some array tasks still run draws what there is.
"""

from pathlib import Path
from typing import Optional

from matplotlib.figure import Figure

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import RunLog, XAxis
from amal_lightning.studies.figures.canvas import save_png
from amal_lightning.studies.figures.options import FigureOptions, Page, filled
from amal_lightning.studies.figures.plotted import PlottedRun
from amal_lightning.studies.figures.provenance import footer
from amal_lightning.studies.figures.registry import draw_figure
from amal_lightning.studies.records import DIVERGED, VariantRecord
from amal_lightning.studies.spec import Study, Variant, slug
from amal_lightning.studies.summary import diverged_epoch, summary_row

Result = tuple[Variant, Optional[VariantRecord], Optional[RunLog]]


def plotted_runs(results: list[Result]) -> list[PlottedRun]:
    """The runs that have a record and a log, in the study's order, each named by its variant (without its
    seed, which it carries apart), with its variant and its row of the summary."""
    runs = []
    for variant, record, log in results:
        if log is None or record is None:
            continue
        diverged = record.status == DIVERGED
        epoch = diverged_epoch(record) if diverged else None
        row = summary_row(variant, record, log)
        runs.append(PlottedRun(variant.label, log, diverged, epoch, variant.seed, variant, row))
    return runs


def figure_of(study: Study, spec: FigureOptions, axis: XAxis, runs: list[PlottedRun]) -> Figure:
    """One file's figure of ``spec``, drawn by its kind; AmalError if there is nothing to draw."""
    chosen = tuple(run for run in runs if not spec.variants or run.label in spec.variants)
    note = footer([run.log for run in chosen], study.name, study.seeds, study.splits)
    spec = spec.model_copy(update={"title": filled(spec.title, chosen), "ylabel": filled(spec.ylabel, chosen)})
    return draw_figure(spec, Page(chosen, axis, filled(study.description, chosen), note, study.common))


def draw_figures(study: Study, results: list[Result]) -> list[Path]:
    """Draws every figure of the study and copies the runs' pictures; returns the files written."""
    written, runs = [], plotted_runs(results)
    for spec in study.figures:
        for axis, name in spec.file_names():
            path = study.folder / name
            try:
                figure = figure_of(study, spec, axis, runs)
            except AmalError as error:
                print(f"{path}: not drawn ({error})")
                continue
            save_png(figure, path)
            written.append(path)
    for variant, _, log in results:
        for tag in study.images:
            if log is None or tag not in log.images:
                continue
            path = study.folder / f"{variant.slug}-{slug(tag.replace('/', '_'))}.png"
            try:
                path.write_bytes(log.images[tag])
            except OSError as error:
                raise AmalError(f"{path}: cannot write the picture ({error.strerror})") from None
            written.append(path)
    return written
