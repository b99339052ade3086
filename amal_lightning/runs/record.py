"""``run.json``: a fit's :class:`~amal_lightning.runs.outcome.Outcome`, saved in its checkpoint folder as it goes.

Written atomically (a temporary file renamed over the old one) when the fit starts, at most once a
second as epochs end, and when it ends (then it is the outcome :func:`amal_lightning.api.fit` returns):
its status, the epochs done out of the maximum, its best validation metric and epoch, the test after
the fit, and who runs it (host, pid, SLURM job). A record that still says ``running`` while its
process is gone (:func:`amal_lightning.runs.claims.holder_alive`) was killed: :func:`status` reads it
as ``interrupted``. Reading one needs neither torch nor the event files, so ``amal runs`` lists a
hundred runs in a fraction of a second, and a study says a variant it kept from its record.
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

from amal_lightning.runs.claims import holder_alive
from amal_lightning.runs.outcome import INTERRUPTED, RUNNING, Outcome

RUN_FILE = "run.json"


def write_json(path: Path, data: Any) -> None:
    """Writes ``data`` as JSON into ``path`` atomically: a temporary file renamed over it, so that a kill leaves
    the previous file or the new one, never half a file. Raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as file:
        file.write(json.dumps(data, indent=1) + "\n")
    os.replace(temporary, path)


def write_run_record(folder: Path, outcome: Outcome) -> None:
    """Writes ``folder/run.json`` atomically; a failed write is let go (the run itself matters more)."""
    with contextlib.suppress(OSError):
        write_json(folder / RUN_FILE, outcome.to_json())


def read_run_record(folder: Path) -> Optional[Outcome]:
    """The run's saved outcome, or None if it has none (or an unreadable one)."""
    try:
        data = json.loads((folder / RUN_FILE).read_text())
        return Outcome.from_json(data, folder) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def status(outcome: Outcome) -> str:
    """The run's status: as recorded, except that a ``running`` record whose process is gone is ``interrupted``."""
    if outcome.status == RUNNING and not holder_alive(outcome.holder or {}, float(outcome.updated or 0)):
        return INTERRUPTED
    return outcome.status
