"""What every figure shares, fit to print: an Agg canvas at 150 dpi, a legend outside the axes,
a footer saying where the figure comes from, and the PNG file it is saved as.

The footer (the data, the seeds, the study) is drawn under the axes and written again in the PNG's
text metadata under ``Description``, where a script reads it back with
``PIL.Image.open(path).text["Description"]``.
"""

import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amal_lightning.errors import AmalError
from amal_lightning.png import write_png

DPI = 150  # at least 150 dots per inch: sharp on paper at the figure's size
SIZE = (8.0, 4.6)  # inches: room for the axes and a legend to their right


def plain(text: str) -> str:
    """Text drawn as written: matplotlib reads what lies between two ``$`` as a formula ($1000² is money here)."""
    return text.replace("$", r"\$")


def new_figure(size: tuple[float, float] = SIZE) -> tuple[Figure, Axes]:
    """A figure on its own Agg canvas (no pyplot, no display) and its one Axes."""
    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def outside_legend(axes: Axes, handles: Sequence[Artist]) -> None:
    """The legend to the right of the axes, where it covers no curve (constrained layout makes room)."""
    if handles:
        axes.legend(
            handles=list(handles), loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small"
        )


def set_title(figure: Figure, axes: Axes, text: str) -> None:
    """The axes' title, on as many lines as it takes to stay inside the figure: centred over axes that a
    legend beside them makes narrow, one line would run off the figure's left edge."""
    axes.set_title(plain(text))
    width = len(text)
    while width > 20:
        figure.canvas.draw()
        box, page = axes.title.get_window_extent(), figure.bbox
        if box.x0 >= page.x0 and box.x1 <= page.x1:
            return
        width = int(width * 0.8)
        axes.set_title(plain(textwrap.fill(text, width)))


def set_footer(figure: Figure, text: str) -> None:
    """The figure's provenance, in small grey type under everything else (and later in its PNG's metadata)."""
    if text:
        figure.supxlabel(plain(text), x=0.01, ha="left", fontsize="x-small", color="0.35")


def footer_of(figure: Figure) -> str:
    """The footer given to :func:`set_footer`, as written ("" if none)."""
    return figure.get_supxlabel().replace(r"\$", "$")


def save_png(figure: Figure, path: Path) -> None:
    """Writes the figure as a PNG file of at most 256 colours (:mod:`amal_lightning.png`), its dpi and its
    footer (``Description``) in it; one line of error if it cannot be written."""
    try:
        write_png(figure, path, description=footer_of(figure))
    except OSError as error:
        raise AmalError(f"{path}: cannot write the figure ({error.strerror or error})") from None
