"""A study's figures: the PNG files of ``studies/<study>/``, drawn from its variants' event files.

Each figure of the study file (:mod:`amal_lightning.studies.figures.spec`) is drawn by its kind:
``curves`` one PNG per horizontal axis it asks for, ``<figure>-<axis>.png`` (``loss-epoch.png``,
``loss-time.png``), one colour per variant (a mean and a band over its seeds, if the study has
seeds), by :mod:`~amal_lightning.studies.figures.plot`; ``sweep`` (:mod:`~amal_lightning.studies.figures.sweep`)
and ``layers`` (:mod:`~amal_lightning.studies.figures.layers`) one PNG, ``<figure>.png``. The study's
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
from amal_lightning.runs.events import RunLog
from amal_lightning.studies.figures.layers import draw_layers
from amal_lightning.studies.figures.plot import PlottedRun, draw, save_png
from amal_lightning.studies.figures.provenance import footer
from amal_lightning.studies.figures.sweep import draw_sweep, placed_runs, reference_values, swept_runs
from amal_lightning.studies.records import DIVERGED, VariantRecord
from amal_lightning.studies.spec import FigureSpec, Study, Variant, slug
from amal_lightning.studies.summary import diverged_epoch

Result = tuple[Variant, Optional[VariantRecord], Optional[RunLog]]


def chosen_results(spec: FigureSpec, results: list[Result]) -> list[tuple[Variant, VariantRecord, RunLog]]:
    """The figure's variants that have a run log, in the study's order."""
    return [
        (variant, record, log)
        for variant, record, log in results
        if log is not None and record is not None and (not spec.variants or variant.label in spec.variants)
    ]


def plotted_runs(spec: FigureSpec, results: list[Result]) -> list[PlottedRun]:
    """The figure's runs, each named by its variant (without its seed, which it carries apart)."""
    runs = []
    for variant, record, log in chosen_results(spec, results):
        diverged = record.status == DIVERGED
        epoch = diverged_epoch(record) if diverged else None
        runs.append(PlottedRun(variant.label, log, diverged, epoch, variant.seed))
    return runs


def figure_of(study: Study, spec: FigureSpec, axis: str, results: list[Result]) -> Figure:
    """One file's figure of ``spec``; AmalError if there is nothing to draw."""
    chosen = chosen_results(spec, results)
    seeds = study.data.get("seeds") if study.seeded else None
    note = footer([log for _, _, log in chosen], study.name, seeds)
    title = spec.title or study.description
    if spec.kind == "sweep":
        option, column = spec.x[0] if spec.x else "", spec.metric
        if spec.lines:  # each line's variants at the x it gives them
            placed = {name: (x, label) for label, points in spec.lines for name, x in points}
            runs = placed_runs(chosen, placed, column)
        else:
            runs = swept_runs(chosen, study.common, option, spec.group, column)
        lines = reference_values([log for _, _, log in chosen], spec.vline) if spec.vline else []
        label = spec.vline_label or spec.vline
        texts = (title, spec.ylabel, note, spec.xlabel)
        return draw_sweep(runs, option, spec.group, column, lines, label, *texts, y=spec.y)
    if spec.kind == "layers":
        runs = [(variant.label, variant.seed is not None, log) for variant, _, log in chosen]
        return draw_layers(runs, spec.metric_prefix, title, spec.ylabel, note, spec.xlabel)
    options = {"references": spec.references, "reference_label": spec.reference_label, "pairs": spec.pairs}
    curves = plotted_runs(spec, results)
    return draw(curves, spec.metrics, axis, title, spec.ylabel, y=spec.y, footer=note, **options)


def draw_figures(study: Study, results: list[Result]) -> list[Path]:
    """Draws every figure of the study and copies the runs' pictures; returns the files written."""
    written = []
    for spec in study.figures:
        for axis, name in spec.file_names():
            path = study.folder / name
            try:
                figure = figure_of(study, spec, axis, results)
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
