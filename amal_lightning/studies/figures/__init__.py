"""A study's figures, and ``amal plot``'s: drawn from the runs' TensorBoard event files.

- :mod:`~amal_lightning.studies.figures.registry`: the figure kinds, each its options and its drawing;
- :mod:`~amal_lightning.studies.figures.curves`, :mod:`~amal_lightning.studies.figures.sweep`,
  :mod:`~amal_lightning.studies.figures.layers`: the kinds, one module each (a new kind: one module
  and one line of the registry);
- :mod:`~amal_lightning.studies.figures.spec`: a study file's ``figures`` entries (``FigureEntry``), read and checked;
- :mod:`~amal_lightning.studies.figures.study`: the study's PNG files, drawn from its variants' event files;
- :mod:`~amal_lightning.studies.figures.plot`, :mod:`~amal_lightning.studies.figures.plotted` and
  :mod:`~amal_lightning.studies.figures.sweep_plot`: the curves' and the sweep's drawing;
- :mod:`~amal_lightning.studies.figures.options`: what every kind's options share, and the page it draws;
- :mod:`~amal_lightning.studies.figures.canvas`, :mod:`~amal_lightning.studies.figures.bands`,
  :mod:`~amal_lightning.studies.figures.provenance`: what every figure shares.
"""
