"""A study's figures, and ``amal plot``'s: drawn from the runs' TensorBoard event files.

- :mod:`~amal_lightning.studies.figures.spec`: a study file's ``figures:`` entries, read and checked;
- :mod:`~amal_lightning.studies.figures.study`: the study's PNG files, drawn from its variants' event files;
- :mod:`~amal_lightning.studies.figures.plot` and :mod:`~amal_lightning.studies.figures.plotted`: curves of runs;
- :mod:`~amal_lightning.studies.figures.sweep` and :mod:`~amal_lightning.studies.figures.layers`: the other kinds;
- :mod:`~amal_lightning.studies.figures.canvas`, :mod:`~amal_lightning.studies.figures.bands`,
  :mod:`~amal_lightning.studies.figures.provenance`: what every figure shares.
"""
