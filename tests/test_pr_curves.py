"""PRCurves: one precision–recall curve per class in TensorBoard, from `amal test` of a classifier."""

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util
from torch.utils.data import DataLoader, TensorDataset

from amal_lightning.tme3 import Classifier, HighwayClassifier, PRCurves
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist

DIGITS = [f"test/pr_curve/digit_{digit}" for digit in range(10)]


def pr_curves(log_dir: Path) -> dict[str, np.ndarray]:
    """The PR-curve tensors of an event folder, by tag: rows TP, FP, TN, FN, precision, recall."""
    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    curves = {}
    for tag in events.Tags()["tensors"]:
        if events.SummaryMetadata(tag).plugin_data.plugin_name == "pr_curves":
            curves[tag] = tensor_util.make_ndarray(events.Tensors(tag)[-1].tensor_proto)
    return curves


def test_one_curve_per_class_counts_the_test_set(tmp_path):
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.rand(70, 784, generator=generator), torch.arange(70) % 10
    labels[:7] = 3  # digit 3 is more frequent: 13 of the 70
    logger = TensorBoardLogger(tmp_path, name="curves")
    trainer = L.Trainer(logger=logger, callbacks=[PRCurves(num_thresholds=11)], enable_progress_bar=False)
    model = Classifier(hidden_dim=16)
    trainer.test(model, DataLoader(TensorDataset(images, labels), batch_size=32), verbose=False)

    curves = pr_curves(Path(logger.log_dir))
    assert sorted(curves) == sorted(DIGITS)
    with torch.no_grad():
        probabilities = model(images).softmax(1)
    for digit in range(10):
        true_positives, false_positives, true_negatives, false_negatives = curves[DIGITS[digit]][:4]
        assert true_positives.shape == (11,)
        positives = int((labels == digit).sum())
        assert true_positives[0] + false_negatives[0] == positives  # every image of the digit, once
        assert true_positives[0] + false_positives[0] + true_negatives[0] + false_negatives[0] == 70
        # at threshold 0.5, the images of the digit scored 0.5 or more (add_pr_curve's bins)
        expected = int(((labels == digit) & (probabilities[:, digit] >= 0.5)).sum())
        assert true_positives[5] == pytest.approx(expected, abs=1)  # a score on a bin's edge may fall either side


def test_without_tensorboard_nothing_is_kept_or_written(tmp_path):
    curves = PRCurves()
    trainer = L.Trainer(logger=CSVLogger(tmp_path), callbacks=[curves], enable_progress_bar=False)
    loader = DataLoader(TensorDataset(torch.rand(20, 784), torch.arange(20) % 10), batch_size=8)
    trainer.test(Classifier(hidden_dim=8), loader, verbose=False)
    assert curves.probabilities == [] and curves.labels == []
    assert not list(tmp_path.rglob("events.out.tfevents*"))


@pytest.mark.parametrize(("config", "model_class"), [("classifier", Classifier), ("highway", HighwayClassifier)])
def test_the_classifiers_test_run_holds_the_curves(workdir, config, model_class):
    write_synthetic_mnist(workdir / "mnist", train=300, test=90)
    options = ["--config", str(CONFIGS / f"{config}.yaml"), "--data.data_dir=mnist", "--data.source=full"]
    run_inprocess("fit", *options, "--trainer.max_epochs=1", "--model.hidden_dim=16")
    run_inprocess("test", *options, "--ckpt_path=last", "--model.hidden_dim=16")

    curves = pr_curves(Path(f"logs/{config}/version_0/test-last-0"))
    assert sorted(curves) == sorted(DIGITS)
    for tag in DIGITS:
        true_positives, false_positives, _, false_negatives = curves[tag][:4, 0]
        assert true_positives + false_negatives == 9  # the synthetic test set has 9 of each digit
        assert true_positives + false_positives == 90
    checkpoint = torch.load(f"checkpoints/{config}/version_0/last.ckpt", weights_only=True)
    assert not [name for name in checkpoint["hyper_parameters"] if "threshold" in name]  # not the model's
