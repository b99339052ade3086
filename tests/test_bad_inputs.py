"""Bad input, as a hostile new user would give it, to every entry point of ``amal``.

Each case must end with a non-zero exit status and one ``amal: error:`` line (a usage error for an
option's value) naming what is wrong, with no traceback and no hang, and must leave an earlier
run's checkpoints byte for byte as they were. Most cases run in this process, where the exit
status is ``SystemExit``'s code and a traceback would be any other exception escaping ``main``;
those that could hang (FIFOs) and a few of each kind run as a user runs them, in a subprocess
with a time limit (marked slow: each starts torch and Lightning anew).
"""

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from amal_lightning.api import fit
from amal_lightning.command_line.main import main
from tests.helpers import AMAL, CONFIGS, inside, synthetic_digits, write_idx

REGRESSION = str(CONFIGS / "regression.yaml")
TANH = str(CONFIGS / "tanh_mlp.yaml")
TME1 = str(CONFIGS / "tme1_gradient_descent.yaml")
RANDOM = str(CONFIGS / "tme1_random.yaml")
CLASSIFIER = str(CONFIGS / "classifier.yaml")
AUTOENCODER = str(CONFIGS / "autoencoder.yaml")
HIGHWAY = str(CONFIGS / "highway.yaml")
SAMPLE = "--data.source=sample"
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
ROW = "0.1 0 7 0 0.5 6 60 4 2 300 17 390 9 21"
HUGE = "1000000000000"
USAGE, BAD_INPUT = 2, 1  # the exit statuses
TIME_LIMIT_S = 120  # for the subprocess cases: a hang fails the case instead of the whole run


def table(name: str, *rows: str) -> Callable[[Path], None]:
    """Writes a housing table of these lines as ``name``."""
    return lambda folder: (folder / name).write_text("".join(f"{row}\n" for row in rows))


def five_good_rows_and(row: str) -> Callable[[Path], None]:
    return table("bad.data", *[ROW] * 5, row)


def fifo(folder: Path) -> None:
    os.mkfifo(folder / "fifo")


def folder_named(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


def file_named(name: str, text: str = "") -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def mnist_archives(content: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """MNIST's four ``.gz`` archives in ``data/MNIST/raw``, each ``content(gzipped IDX file)``."""

    def write(folder: Path) -> None:
        raw = folder / "data" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for prefix, count in (("train", 60), ("t10k", 20)):
            images, labels = synthetic_digits(count, seed=0)
            for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
                write_idx(raw / "plain", array)
                (raw / f"{prefix}-{kind}-ubyte.gz").write_bytes(content(gzip.compress((raw / "plain").read_bytes())))
        (raw / "plain").unlink()

    return write


def checkpoint_with(**hyperparameters: object) -> Callable[[Path], None]:
    """``odd.ckpt``: the earlier run's last checkpoint with these hyperparameters changed."""

    def write(folder: Path) -> None:
        checkpoint = torch.load(folder / "checkpoints/regression/version_0/last.ckpt", weights_only=True)
        checkpoint["hyper_parameters"].update(hyperparameters)
        torch.save(checkpoint, folder / "odd.ckpt")

    return write


class OutOfMemoryAtFirstStep(Callback):
    """What a GPU too small for the batch does at the first training step (no GPU needed)."""

    def on_train_batch_start(self, *args: object) -> None:
        raise torch.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 7.60 GiB of which"
            " 1.10 GiB is free. Of the allocated memory 5.9 GiB is allocated by PyTorch. See documentation"
        )


def case(
    argv: list[str],
    status: int,
    message: str,
    prepare: Optional[Callable[[Path], None]] = None,
    name: str = "",
    in_subprocess: bool = False,
) -> object:
    """One row of the table: the command, its exit status, what its error line must say, what to set up first.

    A case run in a subprocess starts torch and Lightning anew (seconds): those are marked slow.
    """
    marks = [pytest.mark.slow] if in_subprocess else []
    return pytest.param(argv, status, message, prepare, in_subprocess, id=name, marks=marks)


CASES = [
    # fit: options that a type refuses while parsing (usage errors) or a constructor refuses
    case(
        ["fit", "--config", REGRESSION, "--data.val_fraction=-0.1"],
        USAGE,
        "--data.val_fraction",
        name="val-negative",
        in_subprocess=True,
    ),
    case(["fit", "--config", REGRESSION, "--data.test_fraction=1"], USAGE, "--data.test_fraction", name="test-one"),
    case(
        ["fit", "--config", REGRESSION, "--data.val_fraction=0.6", "--data.test_fraction=0.5"],
        BAD_INPUT,
        "data.val_fraction 0.6 + data.test_fraction 0.5 leave no training rows",
        name="fractions-past-one",
        in_subprocess=True,  # the console script's status for an error raised in a datamodule's constructor
    ),
    case(
        ["fit", "--config", REGRESSION, "--trainer.max_epochs=-5"],
        USAGE,
        "`max_epochs` must be",
        name="epochs-neg",
    ),
    case(["fit", "--config", REGRESSION, "--trainer.max_steps=-5"], USAGE, "`max_steps` must be", name="steps-neg"),
    case(
        ["fit", "--config", REGRESSION, "--trainer.accelerator=foo"],
        USAGE,
        "--trainer: You selected an invalid accelerator name",
        name="accelerator-unknown",
    ),
    case(["fit", "--config", REGRESSION, "--trainer.max_epochs=abc"], USAGE, "max_epochs", name="epochs-text"),
    case(
        [
            "fit",
            "--config",
            REGRESSION,
            "--ckpt_path=last",
            "--trainer.callbacks+=tests.test_bad_inputs.OutOfMemoryAtFirstStep",
        ],
        BAD_INPUT,
        "CUDA out of memory. Tried to allocate 2.00 GiB: try a smaller --data.batch_size or a smaller model",
        name="gpu-out-of-memory",
    ),
    case(
        ["fit", "--config", REGRESSION, "--trainer.check_val_every_n_epoch=0"],
        USAGE,
        "--trainer.check_val_every_n_epoch 0: expected validate every N epochs, 1 or more",
        name="val-every-zero",
    ),
    case(["fit", "--config", REGRESSION, "--trainer.min_epochs=-3"], USAGE, "--trainer.min_epochs -3", name="min-neg"),
    case(
        ["fit", "--config", REGRESSION, "--trainer.val_check_interval=0"],
        USAGE,
        "--trainer.val_check_interval 0: expected a share of the epoch in (0, 1]",
        name="val-interval-zero",
    ),
    case(
        ["fit", "--config", REGRESSION, "--trainer.accumulate_grad_batches=0"],
        USAGE,
        "--trainer.accumulate_grad_batches 0: expected a number of batches, 1 or more",
        name="accumulate-zero",
    ),
    case(
        ["fit", "--config", REGRESSION, "--trainer.gradient_clip_val=-1"],
        USAGE,
        "--trainer.gradient_clip_val -1.0: expected a norm or value, 0 or more",
        name="clip-neg",
    ),
    case(
        ["fit", "--config", REGRESSION, "--seed_everything=-1"],
        USAGE,
        "--seed_everything -1: expected a seed from 0 to 4294967295",
        name="seed-neg",
    ),
    case(
        ["fit", "--config", REGRESSION, "--trainer.limit_train_batches=-1"],
        USAGE,
        "limit_train_batches",
        name="limit-neg",
    ),
    case(["fit", "--config", REGRESSION, "--model.learning_rate=-1"], USAGE, "--model.learning_rate", name="lr-neg"),
    case(["fit", "--config", TME1, "--model.learning_rate=0"], USAGE, "--model.learning_rate", name="lr-zero"),
    case(["fit", "--config", REGRESSION, "--model.learnin_rate=0.1"], USAGE, "did you mean", name="option-typo"),
    case(
        ["fit", "--config", TANH, "--model.optimizer.init_args.lr=-1"],
        BAD_INPUT,
        "model.optimizer: Invalid learning rate: -1.0",
        name="optimizer-lr-neg",
    ),
    case(
        ["fit", "--config", TANH, "--model.optimizer.init_args.betas=[0.9, 1.5]"],
        BAD_INPUT,
        "model.optimizer: Invalid beta parameter",
        name="optimizer-beta",
    ),
    case(
        ["fit", "--config", REGRESSION, "--model.input_dim=5"],
        BAD_INPUT,
        "model.input_dim 5 does not fit the data: the examples of HousingDataModule have 13 features",
        name="input-dim",
    ),
    case(
        ["fit", "--config", RANDOM, "--model.output_dim=1"],
        BAD_INPUT,
        "model.output_dim 1 does not fit the data: the examples of RandomRegressionDataModule have 3 targets",
        name="output-dim",
    ),
    case(
        ["fit", "--config", TANH, f"--model.hidden_dim={HUGE}"],
        BAD_INPUT,
        f"TanhMLP (input_dim 13, hidden_dim {HUGE}) has 15,000,000,000,001 parameters to train",
        name="hidden-huge",
    ),
    case(
        ["fit", "--config", RANDOM, "--data.batch_size=-3"],  # Union[PositiveInt, Literal["full"]]
        USAGE,
        "--data.batch_size: Not of type PositiveInt: does not conform to restriction v>0",
        name="batch-negative-or-full",
    ),
    case(
        ["fit", "--config", RANDOM, f"--data.num_examples={HUGE}"],
        BAD_INPUT,
        "memory available",
        name="rows-huge",
    ),
    case(["fit", "--config", REGRESSION, "--experiment=../outside"], BAD_INPUT, "not a plain folder", name="escape"),
    case(
        ["fit", "--config", REGRESSION, "--checkpoint_dir=taken"],
        BAD_INPUT,
        "cannot create the run folder",
        file_named("taken"),
        name="checkpoint-dir-file",
    ),
    case(
        ["fit", "--config", REGRESSION],
        BAD_INPUT,
        "logs/regression: cannot create the run folder",
        file_named("logs"),
        name="logs-file",
    ),
    # fit: configs
    case(
        ["fit", "--config", "broken.yaml"],
        USAGE,
        "Problems parsing config",
        file_named("broken.yaml", "a: [b\n"),
        name="yaml",
    ),
    case(
        ["fit", "--config", REGRESSION, "--config", "other.yaml"],
        USAGE,
        "--model",
        file_named("other.yaml", "model:\n  class_path: amal_lightning.tme2.NoSuchModel\n"),
        name="unknown-class",
    ),
    case(["fit", "--config", "missing.yaml"], USAGE, "missing.yaml", name="config-missing"),
    case(
        ["fit", "--config", "fifo"], BAD_INPUT, "fifo: not a regular file", fifo, name="config-fifo", in_subprocess=True
    ),
    case(
        ["fit", "--config=empty.yaml"],
        BAD_INPUT,
        "--config empty.yaml: empty, not a mapping of sections",
        file_named("empty.yaml"),
        name="config-empty",
    ),
    case(
        ["fit", "-c", "list.yaml"],
        BAD_INPUT,
        "--config list.yaml: a list, not a mapping of sections",
        file_named("list.yaml", "- trainer\n- model\n"),
        name="config-list",
    ),
    case(
        ["fit", "--config", "binary.yaml"],
        BAD_INPUT,
        "--config binary.yaml: not UTF-8 text (byte 2)",
        lambda folder: (folder / "binary.yaml").write_bytes(b"a:\xff\xfe"),
        name="config-binary",
    ),
    # fit: the housing table
    case(
        ["fit", "--config", REGRESSION, "--data.path=fifo"],
        BAD_INPUT,
        "fifo: not a regular file",
        fifo,
        name="fifo",
        in_subprocess=True,
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=here"],
        BAD_INPUT,
        "--data.path here: a folder, not a file",
        folder_named("here"),
        name="path-folder",
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=gone.data"],
        BAD_INPUT,
        "gone.data: no such file",
        name="path-missing",
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=binary.data"],
        BAD_INPUT,
        "binary.data: cannot read the housing table",
        lambda folder: (folder / "binary.data").write_bytes(b"\xff\xfe\x00\x81" * 10),
        name="path-binary",
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=one.data"],
        BAD_INPUT,
        "one.data: too few rows (1) for data.val_fraction 0.2",
        table("one.data", ROW),
        name="one-row",
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=two.data", "--data.val_fraction=0"],
        BAD_INPUT,
        "two.data: too few rows (2) for data.test_fraction 0.2",
        table("two.data", ROW, ROW),
        name="two-rows",
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=bad.data"],
        BAD_INPUT,
        "bad.data, line 6: 1e39 does not fit in float32",
        five_good_rows_and(ROW.replace(" 21", " 1e39")),
        name="target-overflow",
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=bad.data"],
        BAD_INPUT,
        "bad.data, line 6: -5e38 does not fit in float32",
        five_good_rows_and(ROW.replace(" 300 ", " -5e38 ")),
        name="feature-overflow",
    ),
    case(
        ["fit", "--config", REGRESSION, "--data.path=bad.data"],
        BAD_INPUT,
        "bad.data, line 6: NaN or infinite value",
        five_good_rows_and(ROW.replace(" 6 ", " nan ")),
        name="nan",
    ),
    case(
        ["fit", "--config", REGRESSION, "--ckpt_path=last", "--data.path=gone.data", "--trainer.max_epochs=5"],
        BAD_INPUT,
        "gone.data: no such file",
        name="resume-missing-path",
    ),
    # fit: MNIST
    case(
        ["fit", "--config", CLASSIFIER, SAMPLE, "--data.val_fraction=1.5"],
        USAGE,
        "--data.val_fraction",
        name="mnist-val",
    ),
    case(
        ["fit", "--config", CLASSIFIER, SAMPLE, "--model.num_classes=5"],
        BAD_INPUT,
        "model.num_classes 5 does not fit the data: the examples of MNISTDataModule have 10 classes",
        name="classes",
    ),
    case(
        ["fit", "--config", CLASSIFIER, SAMPLE, "--model.input_dim=100"],
        BAD_INPUT,
        "model.input_dim 100 does not fit the data",
        name="mnist-input-dim",
    ),
    case(
        ["fit", "--config", AUTOENCODER, SAMPLE, "--model.latent_dim=[]"],
        BAD_INPUT,
        "model.latent_dim",
        name="no-layers",
    ),
    case(
        ["fit", "--config", HIGHWAY, SAMPLE, "--model.num_layers=1000000000"],
        BAD_INPUT,
        "HighwayClassifier (input_dim 784, hidden_dim 50, num_layers 1000000000",
        name="layers-huge",
    ),
    case(
        ["fit", "--config", CLASSIFIER],
        BAD_INPUT,
        "train-images-idx3-ubyte.gz: a damaged gzip archive",
        mnist_archives(lambda archive: b"not gzip" + archive),
        name="gz-garbage",
    ),
    case(
        ["fit", "--config", CLASSIFIER],
        BAD_INPUT,
        "train-images-idx3-ubyte.gz: a damaged gzip archive",
        mnist_archives(lambda archive: archive[: len(archive) // 2]),
        name="gz-truncated",
    ),
    case(
        ["fit", "--config", CLASSIFIER, "--data.download=false"],
        BAD_INPUT,
        "train-images-idx3-ubyte.gz: does not hold an MNIST IDX file of images",
        mnist_archives(lambda archive: gzip.compress(b"<html>a proxy's error page</html>")),
        name="gz-not-idx",
    ),
    # test and validate
    case(
        ["test", "--config", REGRESSION, "--ckpt_path=last", "--data.test_fraction=0"],
        BAD_INPUT,
        "the test split is empty (set by data.test_fraction): amal test has nothing to evaluate",
        name="test-empty",
    ),
    case(
        ["validate", "--config", REGRESSION, "--ckpt_path=last", "--data.val_fraction=0"],
        BAD_INPUT,
        "the validation split is empty",
        name="validate-empty",
    ),
    case(
        ["test", "--config", REGRESSION, "--ckpt_path=odd.ckpt"],
        USAGE,
        "odd.ckpt: a hyperparameter it holds is not accepted: model.learning_rate: Not of type PositiveFloat",
        checkpoint_with(learning_rate=-1.0),
        name="ckpt-lr-neg",
    ),
    case(
        ["test", "--config", REGRESSION, "--ckpt_path=odd.ckpt"],
        BAD_INPUT,
        f"AutogradRegression (input_dim {HUGE}) has",
        checkpoint_with(input_dim=int(HUGE)),
        name="ckpt-input-huge",
    ),
    case(
        ["test", "--config", REGRESSION, "--ckpt_path=here"],
        BAD_INPUT,
        "here",
        folder_named("here"),
        name="ckpt-folder",
    ),
    # predict
    case(
        ["predict", "--config", REGRESSION, "--ckpt_path=last", "--data.predict_path=gone.data"],
        BAD_INPUT,
        "--data.predict_path gone.data: no such file",
        name="predict-missing",
    ),
    case(
        ["predict", "--config", REGRESSION, "--ckpt_path=last", "--data.predict_path=fifo"],
        BAD_INPUT,
        "fifo: not a regular file",
        fifo,
        name="predict-fifo",
        in_subprocess=True,
    ),
    case(
        ["predict", "--config", REGRESSION, "--ckpt_path=last", "--data.predict_path=bad.data"],
        BAD_INPUT,
        "bad.data, line 6: 1e39 does not fit in float32",
        five_good_rows_and(ROW.replace(" 21", " 1e39")),
        name="predict-overflow",
    ),
    case(
        ["predict", "--config", REGRESSION, "--ckpt_path=last"],
        BAD_INPUT,
        "predictions: a file where amal predict needs a folder",
        file_named("predictions"),
        name="predictions-file",
    ),
    case(
        ["predict", "--config", CLASSIFIER, SAMPLE, "--data.predict_path=one.data"],
        BAD_INPUT,
        "--data.predict_path one.data: not a folder",
        table("one.data", ROW),
        name="predict-digits-file",
    ),
    # submit (dry runs: nothing would reach sbatch anyway)
    case(
        ["submit", "--config", REGRESSION, "--time=01:00:00", "--dry-run", "--setup", "module load cuda\nrm -rf ~"],
        BAD_INPUT,
        "--setup: 'module load cuda\\nrm -rf ~' holds a line break",
        name="setup-newline",
    ),
    case(
        ["submit", "--config", REGRESSION, "--time=01:00:00", "--dry-run", "--account", "lab\r#SBATCH --uid=0"],
        BAD_INPUT,
        "--account",
        name="account-return",
    ),
    case(
        ["submit", "--config", REGRESSION, "--time=01:00:00", "--dry-run", "--partition", "gpu --uid=0"],
        BAD_INPUT,
        "--partition 'gpu --uid=0': not a SLURM name",
        name="partition-space",
    ),
    case(
        ["submit", "--config", REGRESSION, "--time=01:00:00", "--dry-run", "--", "--trainer.max_epochs=5\nreboot"],
        BAD_INPUT,
        "an option for amal fit",
        name="fit-option-newline",
    ),
    case(
        ["submit", "--config", "my config.yaml", "--time=01:00:00", "--dry-run"],
        BAD_INPUT,
        "'my config' is not a plain folder name",
        file_named("my config.yaml", "trainer:\n  max_epochs: 1\n"),
        name="config-space",
    ),
    case(
        ["submit", "--config", REGRESSION, "--time=01:00:00", "--dry-run", "--setup-file", "fifo"],
        BAD_INPUT,
        "fifo: not a regular file",
        fifo,
        name="setup-file-fifo",
        in_subprocess=True,
    ),
    case(["submit", "--config", REGRESSION, "--time=1h", "--dry-run"], USAGE, "--time", name="time"),
    case(["submit", "--config", REGRESSION, "--time=٠١:٠٠:٠٠", "--dry-run"], USAGE, "--time", name="time-digits"),
    case(["submit", "--config", REGRESSION, "--time=01:00:00", "--nodes=0"], USAGE, "--nodes", name="nodes-zero"),
    case(
        ["submit", "--config", "here", "--time=01:00:00"],
        BAD_INPUT,
        "a folder",
        folder_named("here"),
        name="submit-dir",
    ),
    # prepare-data
    case(
        ["prepare-data", "--config", CLASSIFIER],
        BAD_INPUT,
        "train-images-idx3-ubyte.gz: a damaged gzip archive",
        mnist_archives(lambda archive: archive[:-20]),
        name="prepare-gz",
    ),
    case(
        ["prepare-data", "--config", "broken.yaml"],
        USAGE,
        "Problems parsing config",
        file_named("broken.yaml", "a: [b\n"),
        name="prepare-yaml",
    ),
    case(["prepare-data", "--config", REGRESSION, "--data.val_fraction=2"], USAGE, "val_fraction", name="prepare-val"),
    case(
        ["prepare-data", "--config", REGRESSION, "--data.path=here"],
        BAD_INPUT,
        "--data.path here: a folder, not a file",
        folder_named("here"),
        name="prepare-folder",
    ),
]


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one short housing run: the checkpoints that no bad input may touch."""
    folder = tmp_path_factory.mktemp("earlier")
    with inside(folder):
        fit(REGRESSION, "--trainer.max_epochs=2", *QUIET)
    return folder


def checkpoint_files(folder: Path) -> dict[str, str]:
    """Every checkpoint under ``folder``, by path, with the SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.rglob("*.ckpt")
    }


def run_in_process(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[Optional[int], str]:
    """``main(argv)`` here: its exit status, or None if an exception escaped (a traceback), and its output."""
    capsys.readouterr()
    try:
        main(argv)
    except SystemExit as exit_info:
        status = exit_info.code
    except BaseException as error:  # noqa: BLE001 - what escapes is what a user would see as a traceback
        output = capsys.readouterr()
        return None, f"{output.out}{output.err}Traceback: {type(error).__name__}: {error}"
    else:
        status = 0
    output = capsys.readouterr()
    return status, output.out + output.err


def run_subprocess(argv: list[str], cwd: Path) -> tuple[Optional[int], str]:
    """``amal ARGV`` as a user runs it; a run past the time limit is killed and counts as a hang."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        result = subprocess.run([*AMAL, *argv], cwd=cwd, capture_output=True, text=True, env=env, timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        return None, f"amal {' '.join(argv)} still ran after {TIME_LIMIT_S} s (a hang)"
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(("argv", "status", "message", "prepare", "in_subprocess"), CASES)
def test_bad_input_stops_with_one_line_and_leaves_earlier_checkpoints_alone(
    earlier_run, tmp_path, monkeypatch, capsys, argv, status, message, prepare, in_subprocess
):
    shutil.copytree(earlier_run / "checkpoints", tmp_path / "checkpoints")
    if prepare is not None:
        prepare(tmp_path)
    before = checkpoint_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["amal"])
    quiet = QUIET if argv[0] in ("fit", "validate", "test", "predict") else []
    if in_subprocess:
        got, output = run_subprocess([*argv, *quiet], tmp_path)
    else:
        got, output = run_in_process([*argv, *quiet], capsys)

    assert got == status, output
    assert "Traceback" not in output
    errors = [
        line for line in output.splitlines() if line.startswith(("amal: error:", "amal submit: error:", "error:"))
    ]
    assert len(errors) == 1, output
    assert message in errors[0], output
    if status == BAD_INPUT:
        assert errors[0].startswith("amal: error:")
    assert checkpoint_files(tmp_path) == before
