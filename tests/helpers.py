"""Run ``amal`` in-process or as a subprocess, as the tests need."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from amal_lightning.command_line.main import main
from amal_lightning.data.idx import write_idx

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


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Easy 28×28 'digits': label k lights up rows 2k+4 to 2k+6, over faint noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28))
    for index, label in enumerate(labels):
        images[index, 2 * label + 4 : 2 * label + 7, 4:24] = 255
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_synthetic_mnist(data_dir: Path, train: int = 600, test: int = 200) -> Path:
    """Puts the four MNIST IDX files, with synthetic digits, where torchvision looks for them."""
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = synthetic_digits(count, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw
