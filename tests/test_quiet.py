"""What a fit prints by default: what a student wants to read, without the warnings amal has already decided."""

import logging
import os
import warnings

import torchvision

from amal_lightning.api.quiet import CHECKPOINT_CONNECTOR, SEED_LOGGER, quiet_lightning
from amal_lightning.command_line.main import main
from tests.conftest import FEW_BATCHES
from tests.helpers import CONFIGS

LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", CHECKPOINT_CONNECTOR)


def test_an_offline_fit_on_a_login_node_prints_one_line_of_the_sample_and_no_srun_warning_or_table(
    workdir, monkeypatch, capsys, caplog
):
    """``amal fit --config configs/classifier.yaml --trainer.max_epochs 1 --data.source auto`` offline, with an
    ``srun`` on the PATH (a cluster's login node): no srun warning, no table of layers, one short line on the sample."""
    bin_folder = workdir / "bin"
    bin_folder.mkdir()
    (bin_folder / "srun").write_text("#!/bin/sh\n")
    (bin_folder / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # a closed port: offline
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    for logger in loggers:  # Lightning's lines, which its loggers do not pass to the root logger
        logger.addHandler(caplog.handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # every warning a run lets through is seen, even one seen before
            main(
                ["fit", "--config", str(CONFIGS / "classifier.yaml"), "--trainer.max_epochs", "1"]
                + ["--data.source", "auto", "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"]
                + list(FEW_BATCHES)
            )
    finally:
        for logger in loggers:
            logger.removeHandler(caplog.handler)
    printed = capsys.readouterr()
    lines = [record.getMessage() for record in caplog.records]
    lines += [str(warning.message) for warning in caught] + (printed.out + printed.err).splitlines()
    everything = "\n".join(lines)
    assert "srun" not in everything
    assert "Params" not in everything and "Total estimated model params size" not in everything
    assert "Classifier: 269,322 parameters (269,322 trainable)" in lines  # the table's one line
    about_the_sample = [line for line in lines if "sample" in line]
    assert len(about_the_sample) == 1 and len(about_the_sample[0]) <= 200, about_the_sample
    assert "no network: Connection refused" in about_the_sample[0]  # why, in a few words
    assert "Fit: 1 epoch in " in printed.out


def test_a_line_left_out_is_left_out_after_the_rank_that_slurm_jobs_put_before_it():
    """In a SLURM job or a multi-process run Lightning writes ``[rank: 0] Seed set to 0``."""
    quiet_lightning()
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = logging.getLogger(SEED_LOGGER)
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        for line in ("Seed set to 0", "[rank: 0] Seed set to 0", "[rank: 3] Seed set to 7", "[rank: 0] kept"):
            logger.info(line)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == ["[rank: 0] kept"]
