"""Claim files: which process works on what, so that processes that share a folder share the work.

Every process that trains a study's variants (a plain ``amal study``, the tasks of a SLURM job
array, two ``amal study`` started at once) claims a variant before training it, and skips a variant
another live process holds. A claim is a file created exclusively (``O_CREAT | O_EXCL``): unlike
``flock`` or ``fcntl`` locks, which NFS may emulate or keep node-local, an exclusive create is
atomic on every filesystem a cluster shares. The file holds its holder: host, pid, SLURM job id
and start time. The holder touches it every :data:`HEARTBEAT_S` seconds while it works and removes
it when done.

A claim is **stale** when its holder is gone, and then it is taken over:

- on the same host, when its pid is no longer alive (``kill -9``, the OOM killer, a crash);
- on another host (a cluster's node, where the pid says nothing here), when its heartbeat is older
  than :data:`STALE_AFTER_S`: a node that died, or a job that SLURM killed, stops touching it.

Taking over renames the stale file to a name of the taker's own (atomic: of two takers, one
rename succeeds and the other finds nothing to rename), then claims anew.
"""

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from amal_lightning.errors import AmalError

HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0  # ten missed heartbeats
SUFFIX = ".claim"


def this_holder() -> dict[str, Any]:
    """Who this process is, as a claim (or a run's record) says it."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "slurm_job": None if job is None else f"{job}_{task}" if task is not None else job,
        "since": time.time(),
    }


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def holder_alive(holder: dict[str, Any], heartbeat: float) -> bool:
    """Whether the process ``holder`` names still works: by its pid on this host, by ``heartbeat`` elsewhere."""
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        return pid_alive(holder["pid"])
    return time.time() - heartbeat < STALE_AFTER_S


def read_holder(path: Path) -> Optional[tuple[dict[str, Any], float]]:
    """The holder a claim file names and its last heartbeat (its modification time); None if it is gone."""
    try:
        heartbeat = path.stat().st_mtime
        holder = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # half written by a holder killed at that instant: judged by its heartbeat
        holder = {}
    return (holder if isinstance(holder, dict) else {}), heartbeat


@dataclass
class Claim(contextlib.AbstractContextManager):
    """A claim this process holds; :meth:`release` (or leaving its ``with`` block) removes it."""

    path: Path
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        threading.Thread(target=self._beat, name=f"heartbeat {self.path.name}", daemon=True).start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        self.path.unlink(missing_ok=True)

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _create(path: Path) -> bool:
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as file:
        file.write(json.dumps(this_holder()) + "\n")
    return True


def try_claim(folder: Path, name: str) -> Optional[Claim]:
    """Claims ``name`` in ``folder``: the Claim, or None if a live process holds it. A stale claim is taken over."""
    path = folder / f"{name}{SUFFIX}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a holder may release, or another taker win, between two looks
            if _create(path):
                return Claim(path)
            found = read_holder(path)
            if found is not None and holder_alive(*found):
                return None
            if found is not None:  # stale: moved aside under a name of this process's own, then claimed anew
                aside = path.with_name(f"{path.name}.stale.{socket.gethostname()}.{os.getpid()}")
                try:
                    os.rename(path, aside)
                    aside.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass  # another taker was first
    except OSError as error:
        raise AmalError(f"{path}: cannot write the claim ({error.strerror or error})") from None
    return None


def live_claims(folder: Path) -> list[dict[str, Any]]:
    """The holders of the live claims in ``folder`` (stale ones are left out)."""
    holders = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        found = read_holder(path)
        if found is not None and holder_alive(*found):
            holders.append({**found[0], "claim": path.name.removesuffix(SUFFIX)})
    return holders
