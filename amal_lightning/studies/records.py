"""What a study remembers of each variant: ``studies/<study>/variants/<slug>.json``.

One small file per variant, written when its fit starts (``running``) and when it ends
(``finished``, ``diverged`` or ``failed``). It is what makes a study resumable: a variant that
ended is not trained again, one still marked ``running`` was interrupted (killed, preempted)
and resumes from its run's ``last.ckpt``. A file per variant, not one shared file, because
the tasks of a SLURM job array each run one variant at the same time, and the summary is
gathered from the files afterwards.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Union

from amal_lightning.errors import AmalError
from amal_lightning.runs.folders import DEFAULT_CHECKPOINT_ROOT, LOG_DIR
from amal_lightning.runs.outcome import DIVERGED, FAILED, FINISHED, RUNNING
from amal_lightning.runs.record import write_json

__all__ = ["DIVERGED", "ENDED", "FAILED", "FINISHED", "RUNNING", "VariantRecord", "read_record", "write_record"]
ENDED = (FINISHED, DIVERGED)  # kept as they are when the study runs again (same options); a failed one runs again


@dataclass
class VariantRecord:
    """A variant's status, its run folder (``version_0``, ``slurm-123_4``) and its wall-clock seconds.

    ``seconds`` adds up the attempts: an attempt that was killed counts until its last checkpoint.
    """

    variant: str
    experiment: str
    status: str
    run: Optional[str] = None
    seconds: float = 0.0
    started: Optional[float] = None  # time.time() when the attempt now running began
    note: str = ""  # why it diverged or failed
    # what it runs (runner.variant_command: config, common options, its own options): a variant whose options
    # changed runs again; a list of words is an older version's record, read as another variant's
    command: Optional[Union[dict[str, Any], list[str]]] = None
    checkpoint_root: str = str(DEFAULT_CHECKPOINT_ROOT)  # its `--checkpoint_dir`

    @property
    def log_dir(self) -> Optional[Path]:
        """The run's log folder, ``logs/<experiment>/<run>``, once the run is known."""
        return None if self.run is None else LOG_DIR / self.experiment / self.run

    @property
    def checkpoint_dir(self) -> Optional[Path]:
        """The run's checkpoint folder, ``<checkpoint_root>/<experiment>/<run>``, once the run is known."""
        return None if self.run is None else Path(self.checkpoint_root) / self.experiment / self.run


def record_path(study_folder: Path, slug: str) -> Path:
    return study_folder / "variants" / f"{slug}.json"


def read_record(study_folder: Path, slug: str) -> Optional[VariantRecord]:
    """The variant's record, or None if it never started; one line of error for a damaged file."""
    path = record_path(study_folder, slug)
    if not path.is_file():
        return None
    try:
        return VariantRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise AmalError(f"{path}: not a variant record ({error}); delete it to run the variant again") from None


def write_record(study_folder: Path, slug: str, record: VariantRecord) -> None:
    """Writes the record atomically (a kill leaves the previous one or the new one, never half a file)."""
    path = record_path(study_folder, slug)
    try:
        write_json(path, asdict(record))
    except OSError as error:
        raise AmalError(f"{path}: cannot write the variant record ({error.strerror})") from None
