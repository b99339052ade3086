"""A study's folder: the study as run (``study.yaml``), and its summary and figures gathered from its runs."""

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from typing import Optional

import yaml

from amal_lightning.errors import AmalError
from amal_lightning.runs.claims import try_claim
from amal_lightning.studies.figures.study import draw_figures
from amal_lightning.studies.search.summary import finish_search
from amal_lightning.studies.spec import STUDY_DIR, Study, load_study
from amal_lightning.studies.summary import gather, write_summary

STUDY_FILE = "study.yaml"
# The claim, in the study folder, of the process writing its summary and figures: two array tasks that
# end at once, or `amal plot --study` during a study's own gathering, would otherwise write them together.
GATHERING = "gathering"


def save_study(study: Study) -> None:
    """``studies/<name>/study.yaml``: the study as run, for gathering it later (``amal plot --study``)."""
    path = study.folder / STUDY_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# written by `amal study` from {study.source}\n"
        path.write_text(header + yaml.safe_dump(study.data, sort_keys=False, allow_unicode=True))
    except OSError as error:
        raise AmalError(f"{path}: cannot write the study folder ({error.strerror})") from None


@contextlib.contextmanager
def one_gatherer(study: Study) -> Iterator[None]:
    """While this lasts no other process writes the study's files: one that does is waited for (then this
    one gathers after it, from every record, the latest included); a dead one's claim is taken over."""
    said = False
    while (claim := try_claim(study.folder, GATHERING)) is None:
        if not said:
            print(f"{study.name}: another process is gathering it; waiting for it", flush=True)
            said = True
        time.sleep(0.5)
    with claim:
        yield


def finish(study: Study) -> None:
    """Writes the summary and the figures, and says where they are (a search's: its trials, best first),
    one process at a time."""
    with one_gatherer(study):
        write_study_files(study)


def write_study_files(study: Study) -> None:
    if study.search is not None:
        finish_search(study)
        return
    results = gather(study)
    summary = write_summary(study, results)
    figures = draw_figures(study, results)
    counts = Counter("missing" if record is None else record.status for _, record, _ in results)
    print(f"{study.name}: " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    print(f"  summary: {summary}")
    if figures:
        print(f"  figures: {', '.join(str(path) for path in figures)}")


def saved_study(name: str) -> Optional[Study]:
    """The study of that name that ran (or runs) here, as saved (``studies/<name>/study.yaml``), or None."""
    path = STUDY_DIR / name / STUDY_FILE
    return load_study(path) if path.is_file() else None


def gather_study(name: str) -> None:
    """``amal plot --study NAME``: the summary and figures of a study that ran (or runs) elsewhere."""
    study = saved_study(name)
    if study is None:
        raise AmalError(
            f"--study {name}: no {STUDY_DIR / name / STUDY_FILE} (run `amal study` on it first, or --submit it)"
        )
    finish(study)
