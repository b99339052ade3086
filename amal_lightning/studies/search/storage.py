"""A search's trials in Optuna's own storage: ``studies/<name>/search.journal``, shared by its workers.

The journal (``JournalStorage(JournalFileBackend(...))``) is an append-only file, no server: every
worker (``--jobs``, the tasks of a job array, two ``amal study`` started at once) opens the same
file. What Optuna does not offer is to count the trials and start one as a single step, so that
``n_trials`` workers together start exactly ``n_trials``. That step is taken here under a lock of
the study's own, an exclusive claim (:mod:`amal_lightning.runs.claims`, safe on NFS) named
``search.lock``; the trial started is claimed (``search-trial-N``) before the lock is released.

A trial still ``RUNNING`` in the journal whose claim is free lost its worker (killed, preempted):
the next worker takes it over under the same number and parameters, and its variants resume from
their ``last.ckpt``. So the total stays ``n_trials``; a larger ``n_trials`` extends the search.
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from amal_lightning.errors import AmalError
from amal_lightning.runs.claims import Claim, try_claim
from amal_lightning.studies.search.spec import SearchSpec

JOURNAL = "search.journal"
LOCK = "search.lock"
CLAIMS = "claims"  # the study folder's claims, beside its variants'
LOCK_WAIT_S = 600.0


def optuna_module() -> Any:
    """Optuna, imported on first use (a study without a search never needs it), quiet at INFO."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def journal_path(folder: Path) -> Path:
    return folder / JOURNAL


def trial_claim(number: int) -> str:
    return f"search-trial-{number}"


def check_journal(path: Path, source: str) -> None:
    """Refuses a damaged journal in one line: every line an operation (JSON with an ``op_code``).

    An unterminated last line is what a writer killed mid-line leaves, and Optuna skips it.
    """
    if not path.exists():
        return
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise AmalError(f"{source}, search: {path}: cannot read the journal ({error})") from None
    lines = text.split("\n")
    for number, line in enumerate(lines[:-1], 1):  # the last piece has no newline after it
        try:
            operation = json.loads(line)
        except ValueError:
            operation = None
        if not isinstance(operation, dict) or "op_code" not in operation:
            raise AmalError(
                f"{source}, search: {path}, line {number}: not an Optuna journal entry "
                f"(a damaged journal: move it aside to start the search again)"
            )


def storage(folder: Path) -> Any:
    """The study's JournalStorage (its folder made)."""
    optuna = optuna_module()
    from optuna.storages.journal import JournalFileBackend

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AmalError(f"{folder}: cannot write the study folder ({error.strerror})") from None
    return optuna.storages.JournalStorage(JournalFileBackend(str(journal_path(folder))))


def sampler_and_pruner(spec: SearchSpec, offset: int = 0) -> tuple[Any, Any]:
    """The TPE sampler seeded with ``seed + offset`` (the trials so far: workers that ask in turn do not
    draw the same parameters, and one worker draws the same ones every time), and the pruner."""
    optuna = optuna_module()
    sampler = optuna.samplers.TPESampler(seed=spec.seed + offset)
    pruner = optuna.pruners.MedianPruner() if spec.pruner == "median" else optuna.pruners.NopPruner()
    return sampler, pruner


def open_search(name: str, folder: Path, spec: SearchSpec, source: str, offset: int = 0) -> Any:
    """The Optuna study of the search, created if new; refused if the journal holds another study or space."""
    check_journal(journal_path(folder), source)
    optuna = optuna_module()
    store = storage(folder)
    sampler, pruner = sampler_and_pruner(spec, offset)
    names = optuna.get_all_study_names(store)
    if names and name not in names:
        raise AmalError(
            f"{source}, search: {journal_path(folder)} holds the search {names[0]!r}, not {name!r} "
            "(another study's journal: move it aside)"
        )
    if name not in names:
        study = optuna.create_study(study_name=name, storage=store, direction=spec.direction, sampler=sampler)
        study.set_user_attr("space", spec.space())
        study.set_user_attr("source", source)
    study = optuna.load_study(study_name=name, storage=store, sampler=sampler, pruner=pruner)
    space = study.user_attrs.get("space")
    if space != spec.space():
        changed = next((key for key in spec.space() if (space or {}).get(key) != spec.space()[key]), "params")
        raise AmalError(
            f"{source}, search, {changed}: the search in {journal_path(folder)} has another {changed} "
            f"({json.dumps((space or {}).get(changed))}); give the study another name or move the journal aside"
        )
    return study


@contextmanager
def search_lock(folder: Path) -> Iterator[None]:
    """The study's search lock, waited for (at most :data:`LOCK_WAIT_S`): count and start trials under it."""
    deadline = time.monotonic() + LOCK_WAIT_S
    claim = try_claim(folder / CLAIMS, LOCK)
    while claim is None:
        if time.monotonic() > deadline:
            raise AmalError(f"{folder / CLAIMS / LOCK}: held by another process for {LOCK_WAIT_S:.0f} s")
        time.sleep(0.05)
        claim = try_claim(folder / CLAIMS, LOCK)
    try:
        yield
    finally:
        claim.release()


def next_trial(name: str, folder: Path, spec: SearchSpec, source: str) -> Optional[tuple[Any, Claim, bool]]:
    """The trial this worker runs next, claimed: (the ``optuna.trial.Trial``, its claim, whether it is taken
    over), or None once ``n_trials`` trials are done or in other live hands. A Trial, not a FrozenTrial:
    the median pruner's callback reports to it while its fit runs."""
    optuna = optuna_module()
    from optuna.trial import TrialState

    with search_lock(folder):
        study = open_search(name, folder, spec, source)
        trials = study.get_trials(deepcopy=False)
        for trial in trials:
            if trial.state == TrialState.RUNNING:
                claim = try_claim(folder / CLAIMS, trial_claim(trial.number))
                if claim is not None:  # its worker is gone: this one carries it on
                    return running_trial(study, folder, name, trial.number), claim, True
        started = [trial for trial in trials if trial.state != TrialState.WAITING]
        if len(started) >= spec.n_trials:
            return None
        study = open_search(name, folder, spec, source, offset=len(trials))
        distributions = {param.key: distribution(optuna, param) for param in spec.params}
        asked = study.ask(distributions)
        claim = try_claim(folder / CLAIMS, trial_claim(asked.number))
        if claim is None:  # cannot happen under the lock, unless a claim of that name was left by hand
            raise AmalError(f"{folder / CLAIMS}: trial {asked.number} is claimed already; remove its claim file")
        return asked, claim, False


def running_trial(study: Any, folder: Path, name: str, number: int) -> Any:
    """The ``optuna.trial.Trial`` of trial ``number``, still running, that another worker left: ``study.ask()``
    gives one for a new trial only, so its id comes from the storage's public API (the journal's ids are
    the same in every JournalStorage of the file)."""
    optuna = optuna_module()
    store = storage(folder)
    identifier = store.get_trial_id_from_study_id_trial_number(store.get_study_id_from_name(name), number)
    return optuna.trial.Trial(study, identifier)


def distribution(optuna: Any, param: Any) -> Any:
    """The Optuna distribution of a :class:`~amal_lightning.studies.search.spec.Param`."""
    if param.type == "categorical":
        return optuna.distributions.CategoricalDistribution(list(param.choices))
    if param.type == "int":
        return optuna.distributions.IntDistribution(param.low, param.high, log=param.log)
    return optuna.distributions.FloatDistribution(param.low, param.high, log=param.log)


def tell(
    name: str, folder: Path, spec: SearchSpec, source: str, number: int, value: Optional[float], state: str
) -> Any:
    """Tells Optuna how trial ``number`` ended (``COMPLETE`` with its value, ``PRUNED``, ``FAIL``); the study."""
    optuna = optuna_module()
    states = {"COMPLETE": optuna.trial.TrialState.COMPLETE, "PRUNED": optuna.trial.TrialState.PRUNED}
    states["FAIL"] = optuna.trial.TrialState.FAIL
    study = open_search(name, folder, spec, source)
    study.tell(number, value if state == "COMPLETE" else None, state=states[state], skip_if_finished=True)
    return study


def all_trials(name: str, folder: Path, spec: SearchSpec, source: str) -> list[Any]:
    """Every trial of the search so far (none when it never started)."""
    if not journal_path(folder).exists():
        return []
    return open_search(name, folder, spec, source).get_trials(deepcopy=False)
