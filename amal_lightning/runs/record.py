"""``run.json``: what a fit says of itself as it goes, in its checkpoint folder, for ``amal runs``.

Written atomically (a temporary file renamed over the old one) when the fit starts, at most once a
second as epochs end, and when it ends: its status, the epochs done out of the maximum, its best
validation metric and epoch, the test after the fit, and who runs it (host, pid, SLURM job). A
record that still says ``running`` while its process is gone (:func:`amal_lightning.runs.claims.holder_alive`)
was killed: :func:`status` reads it as ``interrupted``. Reading one needs neither torch nor the
event files, so a table of a hundred runs takes a fraction of a second.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

from amal_lightning.runs.claims import holder_alive
from amal_lightning.runs.outcome import INTERRUPTED, RUNNING

RUN_FILE = "run.json"


def write_run_record(folder: Path, record: dict[str, Any]) -> None:
    """Writes ``folder/run.json`` atomically; a failed write is let go (the run itself matters more)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{RUN_FILE}.", suffix=".tmp")
        with os.fdopen(handle, "w") as file:
            file.write(json.dumps(record, indent=1, default=str) + "\n")
        os.replace(temporary, folder / RUN_FILE)
    except OSError:
        pass


def read_run_record(folder: Path) -> Optional[dict[str, Any]]:
    """The run's record, or None if it has none (or an unreadable one)."""
    try:
        record = json.loads((folder / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def status(record: dict[str, Any]) -> str:
    """The run's status: as recorded, except that a ``running`` record whose process is gone is ``interrupted``."""
    said = str(record.get("status", "unknown"))
    if said == RUNNING and not holder_alive(record.get("holder") or {}, float(record.get("updated") or 0)):
        return INTERRUPTED
    return said
