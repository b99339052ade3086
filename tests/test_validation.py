"""What the options and files accept: the checks of amal_lightning.validation and where the models and data use them."""

import gzip
import os

import pytest
import torch
from jsonargparse import ArgumentParser

from amal_lightning import checks as validation
from amal_lightning.api.arguments import check_no_special_files
from amal_lightning.checks import HeldOutFraction, check_optimizer, regular_file, shown
from amal_lightning.data import HousingDataModule, MNISTDataModule
from amal_lightning.data.housing import read_housing_table
from amal_lightning.data.idx import check_archives, raw_folder, write_idx
from amal_lightning.errors import AmalError
from amal_lightning.tme1 import HandGradientRegression
from amal_lightning.tme2 import AutogradRegression, OptimRegression, TanhMLP
from amal_lightning.tme3 import Autoencoder, Classifier, HighwayClassifier
from tests.helpers import synthetic_digits

ROW = "0.1 0 7 0 0.5 6 60 4 2 300 17 390 9 21"


def test_held_out_fractions_are_from_zero_to_below_one():
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--fraction", type=HeldOutFraction)
    assert parser.parse_args(["--fraction", "0"]).fraction == 0
    assert parser.parse_args(["--fraction", "0.25"]).fraction == 0.25
    for refused in ("1", "-0.1", "1.5"):
        with pytest.raises(Exception, match="does not conform"):
            parser.parse_args(["--fraction", refused])


def test_a_regular_file_is_checked_before_anything_opens_it(tmp_path):
    (tmp_path / "table.data").write_text(ROW)
    os.mkfifo(tmp_path / "fifo")
    assert regular_file(tmp_path / "table.data", "--data.path") == tmp_path / "table.data"
    for name, message in [("gone", "no such file"), (".", "a folder, not a file"), ("fifo", "not a regular file")]:
        with pytest.raises(AmalError, match=f"^--data.path .*: {message}"):
            regular_file(tmp_path / name, "--data.path")
    with pytest.raises(AmalError) as raised:
        regular_file("a\nb.data", "--data.path")
    assert "\n" not in str(raised.value) and "'a\\nb.data'" in str(raised.value)
    assert shown("plain name.data") == "plain name.data"


def test_no_command_line_value_may_name_a_fifo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("fifo")
    (tmp_path / "config.yaml").write_text("{}")
    check_no_special_files(["fit", "--config", "config.yaml", "--data.path=.", "--trainer.max_epochs", "5", "-c"])
    for argv in (["fit", "--config", "fifo"], ["fit", "--config=fifo"], ["submit", "--setup-file", "fifo"]):
        with pytest.raises(AmalError, match="^fifo: not a regular file"):
            check_no_special_files(argv)


MODELS = [
    lambda: HandGradientRegression(input_dim=5, output_dim=3),
    AutogradRegression,
    OptimRegression,
    lambda: TanhMLP(hidden_dim=7),
    Autoencoder,
    lambda: Autoencoder(latent_dim=[20, 5], tied=False),
    lambda: Classifier(hidden_dim=9, num_hidden_layers=3),
    lambda: HighwayClassifier(num_layers=3),
]


@pytest.mark.parametrize("make", MODELS)
def test_each_model_counts_its_parameters_before_building_them(make, monkeypatch):
    counted = []
    monkeypatch.setattr(validation, "check_memory", lambda what, needed: counted.append(needed))
    model = make()
    assert counted == [sum(p.numel() for p in model.parameters()) * validation.TRAINING_BYTES_PER_PARAMETER]


def test_a_model_too_large_for_the_memory_is_refused_with_its_sizes(monkeypatch):
    monkeypatch.setattr(validation, "available_memory", lambda: 2**30)
    TanhMLP(hidden_dim=1000)  # 15,001 parameters: well within a GiB
    with pytest.raises(AmalError) as raised:
        TanhMLP(hidden_dim=10_000_000)
    assert str(raised.value) == (
        "TanhMLP (input_dim 13, hidden_dim 10000000) has 150,000,001 parameters to train: "
        "2.2 GiB, more than the 1.0 GiB of memory available"
    )
    with pytest.raises(AmalError, match=r"^Classifier \(input_dim 784, hidden_dim 256, num_hidden_layers 10000000"):
        Classifier(num_hidden_layers=10_000_000)  # counted, not built: no list of ten million layers either
    assert 0 < validation.available_memory()


def test_the_optimizer_is_checked_when_the_model_is_built():
    model = torch.nn.Linear(2, 1)
    check_optimizer(torch.optim.Adam, model)
    with pytest.raises(AmalError, match=r"^model.optimizer: Invalid learning rate: -1"):
        check_optimizer(lambda parameters: torch.optim.SGD(parameters, lr=-1), model)


def test_housing_values_must_fit_float32_and_the_split_must_have_rows(tmp_path):
    path = tmp_path / "table.data"
    path.write_text(f"{ROW}\n{ROW.replace(' 21', ' 3.5e38')}\n")
    with pytest.raises(AmalError, match=r"table.data, line 2: 3.5e38 does not fit in float32"):
        read_housing_table(path)
    path.write_text(f"{ROW}\n{ROW.replace(' 21', ' 3.4e38')}\n")  # the largest float32 is about 3.40282e38
    assert read_housing_table(path).shape == (2, 14)

    path.write_text(f"{ROW}\n" * 4)
    HousingDataModule(path=str(path)).setup("fit")  # one row each for validation and test, two to train
    for fractions, message in [
        ({"val_fraction": 0.1, "test_fraction": 0}, r"too few rows \(4\) for data.val_fraction 0.1"),
        ({"val_fraction": 0, "test_fraction": 0.1}, r"too few rows \(4\) for data.test_fraction 0.1"),
    ]:
        with pytest.raises(AmalError, match=message):
            HousingDataModule(path=str(path), **fractions).setup("fit")
    HousingDataModule(path=str(path), val_fraction=0, test_fraction=0).setup("fit")  # none asked, none given


def write_archives(data_dir, content=lambda archive: archive) -> None:
    raw = raw_folder(data_dir)
    raw.mkdir(parents=True)
    images, labels = synthetic_digits(30, seed=0)
    for prefix in ("train", "t10k"):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            write_idx(raw / "plain", array)
            (raw / f"{prefix}-{kind}-ubyte.gz").write_bytes(content(gzip.compress((raw / "plain").read_bytes())))
    (raw / "plain").unlink()


def test_sound_archives_pass_and_damaged_ones_are_named(tmp_path):
    write_archives(tmp_path / "sound")
    check_archives(tmp_path / "sound")
    write_archives(tmp_path / "cut", lambda archive: archive[:-4])  # the size at the end is gone
    with pytest.raises(AmalError, match=r"train-images-idx3-ubyte.gz: a damaged gzip archive"):
        check_archives(tmp_path / "cut")
    write_archives(tmp_path / "labels", lambda archive: archive)
    labels = raw_folder(tmp_path / "labels") / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(bytes([0, 0, 8, 3, 0, 0, 0, 0])))  # an empty file of images
    with pytest.raises(AmalError, match=r"t10k-labels-idx1-ubyte.gz: does not hold an MNIST IDX file of labels"):
        check_archives(tmp_path / "labels")


def test_an_archive_beside_its_unpacked_file_is_left_alone(tmp_path):
    write_archives(tmp_path, lambda archive: b"damaged")
    raw = raw_folder(tmp_path)
    images, labels = synthetic_digits(30, seed=0)
    for prefix in ("train", "t10k"):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    check_archives(tmp_path)  # the IDX files are what is read
    data = MNISTDataModule(data_dir=str(tmp_path), source="auto", download=False)
    data.prepare_data()
    assert data.source_to_use() == "full"
