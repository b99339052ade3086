"""The linear probe of an autoencoder's codes: logistic regression on frozen features, against PCA's codes
and the pixels (amal_lightning/tme3/code_probe.py)."""

import csv
from pathlib import Path

import pytest
import torch

from amal_lightning.tme3 import code_probe
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist


def labelled(count: int, seed: int, informative: bool) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (count,), generator=generator)
    features = torch.randn(count, 20, generator=generator)
    if informative:  # the class is written in ten of the features, one-hot, five times the noise's scale
        features[:, :10] += 5.0 * torch.nn.functional.one_hot(labels, 10).float()
    return features, labels


def test_the_probe_reads_a_class_that_the_features_hold_and_not_one_they_do_not():
    informative = {name: labelled(400, seed, True) for name, seed in (("train", 0), ("val", 1), ("test", 2))}
    found = code_probe.probe(informative)
    assert found["test_accuracy"] > 0.95 and found["penalty"] in code_probe.PENALTIES
    noise = {name: labelled(400, seed, False) for name, seed in (("train", 0), ("val", 1), ("test", 2))}
    assert code_probe.probe(noise)["test_accuracy"] < 0.25  # chance is 0.1


def test_pca_features_are_the_training_images_coordinates_on_their_principal_axes():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(200, 30, generator=generator) @ torch.rand(30, 30, generator=generator)
    splits = {"train": (images, torch.zeros(200)), "test": (images[:10], torch.zeros(10))}
    codes = code_probe.pca_features(splits, 5)
    train = codes["train"][0]
    assert train.shape == (200, 5) and train.mean(0).abs().max() < 1e-9
    variances = train.var(0)
    assert (variances[:-1] >= variances[1:]).all()  # the first axis carries the most
    full = code_probe.pca_features(splits, 30)["train"][0]  # all the axes: a rotation, distances kept
    centred = images.double() - images.double().mean(0)
    torch.testing.assert_close(torch.cdist(full, full), torch.cdist(centred, centred), atol=1e-6, rtol=1e-6)


def test_the_probe_runs_on_real_checkpoints_and_writes_its_table_and_figure(shrunk):
    write_synthetic_mnist(Path("mnist"), train=300, test=60)
    data = ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=50", "--data.test_each_epoch=false"]
    options = ["--model.latent_dim=8", "--trainer.max_epochs=1", "--test=false", "--trainer.callbacks=[]"]
    run_inprocess("fit", "--config", str(CONFIGS / "autoencoder.yaml"), *options, *data, *shrunk)
    checkpoint = Path("checkpoints/autoencoder/version_0/last.ckpt")

    rows = code_probe.main("probe", [checkpoint, checkpoint])
    assert [(row["features"], row["code"]) for row in rows] == [
        ("autoencoder, tied", 8),
        ("autoencoder, tied", 8),
        ("PCA", 8),
        ("pixels", 784),
    ]
    assert rows[0]["test_accuracy"] == rows[1]["test_accuracy"]  # deterministic: same codes, same probe
    with open("probe.csv", newline="") as file:
        written = list(csv.DictReader(file))
    assert [float(row["test_accuracy"]) for row in written] == pytest.approx([row["test_accuracy"] for row in rows])
    assert all(0.0 <= row["test_accuracy"] <= 1.0 for row in rows)
    assert Path("probe.png").stat().st_size > 10_000
    splits = code_probe.checkpoint_splits(checkpoint)
    assert len(splits["test"][0]) == 60  # the synthetic test split the autoencoder was trained beside


def test_the_probe_is_unchanged_by_a_rotation_of_the_features():
    informative = {name: labelled(400, seed, True) for name, seed in (("train", 0), ("val", 1), ("test", 2))}
    rotation, _ = torch.linalg.qr(torch.randn(20, 20, generator=torch.Generator().manual_seed(3)))
    rotated = {name: (features @ rotation, labels) for name, (features, labels) in informative.items()}
    found, turned = code_probe.probe(informative), code_probe.probe(rotated)
    assert turned["penalty"] == found["penalty"]
    assert turned["test_accuracy"] == pytest.approx(found["test_accuracy"], abs=0.005)


def test_a_file_that_is_not_an_autoencoders_checkpoint_is_one_line(tmp_path):
    text, regression = tmp_path / "notes.ckpt", tmp_path / "regression.ckpt"
    text.write_text("not a checkpoint")
    torch.save({"hyper_parameters": {"learning_rate": 0.1}, "state_dict": {}}, regression)
    for path, says in ((text, "not a readable checkpoint"), (regression, "not an autoencoder's checkpoint")):
        with pytest.raises(code_probe.argparse.ArgumentTypeError, match=f"{path.name}: {says}") as refused:
            code_probe.autoencoder_checkpoint(str(path))
        assert "\n" not in str(refused.value)


def test_checkpoints_of_two_splits_are_refused(tmp_path):
    paths = [tmp_path / "seed0.ckpt", tmp_path / "seed1.ckpt"]
    for seed, path in enumerate(paths):
        torch.save({"datamodule_hyper_parameters": {"seed": seed, "source": "sample"}}, path)
    with pytest.raises(ValueError, match="2 different data settings"):
        code_probe.probe_rows(paths)
