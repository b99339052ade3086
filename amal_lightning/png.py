"""Figures written as PNG files of at most 256 colours: the studies' figures and the labs' pictures alike.

A figure holds a dozen colours, but antialiasing makes thousands of shades: in full colour each file
weighs about three times as much, which matters for the figures committed under docs/figures/.
Pillow's fast octree quantizer, without its ``optimize`` pass, takes 0.03 s for a figure (its default
median cut and ``optimize`` took 0.18 s, a third of ``amal plot``'s own time) and gives a smaller file.
"""

from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from PIL.PngImagePlugin import PngInfo


def write_png(figure: Figure, path: Path, dpi: Optional[float] = None, description: str = "") -> None:
    """Writes ``figure`` at ``dpi`` (its own if None), recorded in the file with ``description``
    (its ``Description``, if any); OSError if it cannot be written."""
    if dpi is not None:
        figure.set_dpi(dpi)
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    image = rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    info = PngInfo()
    if description:
        info.add_text("Description", description)
    info.add_text("Software", "amal_lightning (matplotlib)")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", dpi=(figure.dpi, figure.dpi), pnginfo=info)
