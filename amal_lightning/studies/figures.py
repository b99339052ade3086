"""A study's figures: the PNG files of ``studies/<study>/``, drawn from its variants' event files.

Each figure of the study file becomes one PNG per horizontal axis it asks for,
``<figure>-<axis>.png`` (``loss-epoch.png``, ``loss-time.png``), with one colour per variant and
the study's description as the title. The pictures the runs logged (an autoencoder's
reconstructions and interpolation strip) are copied as ``<variant>-<tag>.png``, as TensorBoard
stored them. A figure whose variants have no curve yet is skipped with a message, so that a
study gathered while some array tasks still run draws what there is.
"""

from pathlib import Path
from typing import Optional

from amal_lightning.errors import AmalError
from amal_lightning.studies.events import RunLog
from amal_lightning.studies.plot import PlottedRun, draw, save_png
from amal_lightning.studies.records import DIVERGED, VariantRecord
from amal_lightning.studies.spec import FigureSpec, Study, Variant, slug
from amal_lightning.studies.summary import diverged_epoch

Result = tuple[Variant, Optional[VariantRecord], Optional[RunLog]]


def plotted_runs(spec: FigureSpec, results: list[Result]) -> list[PlottedRun]:
    """The figure's variants that have a run log, in the study's order, each named by its variant."""
    runs = []
    for variant, record, log in results:
        if log is None or record is None or (spec.variants and variant.label not in spec.variants):
            continue
        diverged = record.status == DIVERGED
        runs.append(PlottedRun(variant.name, log, diverged, diverged_epoch(record) if diverged else None))
    return runs


def draw_figures(study: Study, results: list[Result]) -> list[Path]:
    """Draws every figure of the study and copies the runs' pictures; returns the files written."""
    written = []
    for spec in study.figures:
        runs = plotted_runs(spec, results)
        for axis in spec.x:
            path = study.folder / f"{spec.name}-{axis}.png"
            try:
                figure = draw(runs, spec.metrics, axis, spec.title or study.description, spec.ylabel)
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
