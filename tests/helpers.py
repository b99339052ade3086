"""Run ``amal`` in-process or as a subprocess, as the tests need."""

import os
import subprocess
import sys
from pathlib import Path

from amal_lightning.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
AMAL = [str(Path(sys.executable).with_name("amal"))]  # the console script, as a user runs it


def run_inprocess(subcommand: str, *args: str) -> None:
    """Runs ``amal SUBCOMMAND ARGS`` quietly in this process (no second import of torch)."""
    main([subcommand, *args, "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"])


def run_amal(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Runs ``amal ARGS`` as a user would, in a subprocess."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([*AMAL, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"amal {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
