"""What a run may change of its process while it runs, and puts back afterwards.

A fit started from Python (a notebook, a study, pytest) leaves ``sys.argv`` and ``os.environ`` as it
found them. While it runs, LightningCLI reads ``sys.argv`` (it warns when it holds the caller's
arguments), amal's run folders write the run's name into the environment (``AMAL_RUN_NAME``, which
the processes of a multi-device run inherit), Lightning's ``seed_everything`` writes its seed there
and MLflow's file store wants a variable of its own; all of that is undone when the run ends.

Two runs keep what they changed, as they need it afterwards: the ``amal`` command's own run
(``sys.argv[1:]`` is its command line), whose process ends with it, and a run that started other
processes (``LOCAL_RANK`` appeared: Lightning's launcher sets it and its address variables in this
process), whose later fits in this process, a study's next variants, must find the processes and
the run names it shared with them.

jsonargparse's deprecation warnings about the functions LightningCLI still calls are a matter for
Lightning, not for users: they are left out while the run lasts (``warnings.catch_warnings``), and
so are the warnings expected in amal's runs (:mod:`amal_lightning.api.quiet`).
"""

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Optional

from amal_lightning.api.quiet import quiet_lightning
from amal_lightning.api.trainer_parts import LOGGER_FOLDER


def is_console_run(argv: Optional[Sequence[str]]) -> bool:
    """Whether ``argv`` is this process's own command line: the ``amal`` command running it."""
    if argv is None:
        return False
    given = [list(argv), [word for word in argv if not word.startswith(LOGGER_FOLDER)]]
    return list(sys.argv[1:]) in given


def restore_environment(saved: dict[str, str]) -> None:
    """``os.environ`` back to ``saved``: variables added are removed, changed or removed ones set again."""
    for key in [key for key in os.environ if key not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@contextlib.contextmanager
def run_scope(argv: Optional[Sequence[str]] = None) -> Iterator[None]:
    """``sys.argv``, the environment and the warnings filters as a run of ``amal ARGV`` needs them, then back.

    Run from the ``amal`` command (``sys.argv[1:]`` is ``argv``), ``sys.argv`` becomes ``argv`` as
    amal completed it: a multi-device run's other processes are started by running ``sys.argv``
    again, and must run the same command. Run from Python, ``sys.argv`` holds the caller's own
    arguments, which LightningCLI given ``args`` would warn about: it is left without arguments.
    """
    saved_argv, saved_environment = sys.argv, dict(os.environ)
    console = is_console_run(argv)
    sys.argv = [saved_argv[0], *(argv or [])] if console else saved_argv[:1]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"lightning\.pytorch\.cli")
            warnings.filterwarnings("ignore", message=r".*JSONARGPARSE_DEPRECATION_WARNINGS.*")
            quiet_lightning()
            yield
    finally:
        sys.argv = saved_argv
        started_processes = "LOCAL_RANK" in os.environ and "LOCAL_RANK" not in saved_environment
        if not console and not started_processes:
            restore_environment(saved_environment)
