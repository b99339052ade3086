"""Studies: a lab's comparison (several ``amal fit`` variants) run by one command, with its table and figures.

- :mod:`~amal_lightning.studies.spec`: study files (``configs/studies/*.yaml``) and ad-hoc grids;
- :mod:`~amal_lightning.studies.check`: every variant's command line checked before anything trains;
- :mod:`~amal_lightning.studies.runner`: the variants run one after another, resumably;
- :mod:`~amal_lightning.studies.records`: what the study folder remembers of each variant;
- :mod:`~amal_lightning.runs.events`: curves read back from the runs' TensorBoard files;
- :mod:`~amal_lightning.studies.summary` and :mod:`~amal_lightning.studies.figures.study`: ``summary.csv`` and the PNGs;
- :mod:`~amal_lightning.studies.gathering`: the study folder, its summary and figures gathered;
- :mod:`~amal_lightning.studies.array`: a study as a SLURM job array;
- :mod:`~amal_lightning.studies.figures.plot`: figures of any runs (``amal plot``).

The ``amal study`` and ``amal plot`` commands are in :mod:`amal_lightning.command_line`; from Python,
``from amal_lightning.studies import study`` (:mod:`~amal_lightning.studies.from_python`) runs a study and
returns its tables as pandas DataFrames.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``study`` and ``StudyResult``, imported when first asked for: the commands that only read a study's
    folder (``amal plot``, ``amal study --help``) do not pay for what running one needs."""
    if name in ("study", "StudyResult"):
        from amal_lightning.studies import from_python

        return getattr(from_python, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
