import logging
import re
import warnings

import numpy as np
import pytest
import torch
import torchvision
import yaml

from amal_lightning.data import MNISTDataModule
from amal_lightning.data.batching import batch_loader
from amal_lightning.data.mnist import MNISTDigits, bundled_sample
from amal_lightning.errors import AmalError
from tests.helpers import CONFIGS, amal_status, run_inprocess, synthetic_digits, write_idx, write_synthetic_mnist

# What Lightning needs to see a SLURM batch job (the job's name must not be `bash` or `interactive`).
SLURM_JOB = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "classifier", "SLURM_NTASKS": "1"}


@pytest.fixture
def offline(monkeypatch):
    """Points torchvision's MNIST mirrors at a closed local port, so a download attempt fails at once."""
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])


def test_reads_idx_files_through_torchvision(tmp_path):
    write_synthetic_mnist(tmp_path, train=120, test=30)
    data = MNISTDataModule(data_dir=str(tmp_path), source="full", batch_size=16)
    data.prepare_data()
    data.setup("fit")
    assert (len(data.train_set), len(data.val_set), len(data.test_set)) == (110, 10, 30)

    images, labels = synthetic_digits(30, seed=1)
    x, y = data.test_set[torch.arange(30)]
    assert x.dtype == torch.float32 and x.shape == (30, 784)
    torch.testing.assert_close(x, torch.from_numpy(images).reshape(30, 784).float() / 255)
    torch.testing.assert_close(y, torch.from_numpy(labels).long())


def test_loader_serves_whole_batches_of_unit_vectors(tmp_path):
    write_synthetic_mnist(tmp_path, train=120, test=30)
    data = MNISTDataModule(data_dir=str(tmp_path), source="full", batch_size=32)
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert [len(x) for x, _ in batches] == [32, 32, 32, 14]
    x, y = batches[0]
    assert x.shape == (32, 784) and 0 <= x.min() and x.max() <= 1 and y.dtype == torch.int64


def test_dataset_is_one_uint8_tensor():
    images, labels = bundled_sample()
    dataset = MNISTDigits(images, labels)
    assert dataset.images.dtype == torch.uint8 and dataset.images.shape == (5000, 784)
    x, y = dataset[3]
    assert x.shape == (784,) and y.shape == ()


def test_bundled_sample_is_500_real_digits_of_each_class():
    images, labels = bundled_sample()
    assert images.shape == (5000, 28, 28) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [500] * 10
    assert 0.1 < images.float().mean().item() / 255 < 0.2  # real MNIST ink coverage, about 13%


def test_sample_source_splits_train_val_test():
    data = MNISTDataModule(source="sample", val_fraction=0.25)
    data.prepare_data()
    data.setup("fit")
    assert (len(data.train_set), len(data.val_set), len(data.test_set)) == (3000, 1000, 1000)


def test_full_source_offline_without_files_says_how_to_get_them(tmp_path, offline):
    data = MNISTDataModule(data_dir=str(tmp_path / "empty"), source="full")
    with pytest.raises(AmalError, match=r"could not be downloaded .*Put train-images-idx3-ubyte.*--data.source sample"):
        data.prepare_data()


def test_full_source_never_falls_back_to_the_sample(tmp_path):
    with pytest.raises(AmalError, match="the files are missing"):
        MNISTDataModule(data_dir=str(tmp_path), source="full").setup("fit")


def sample_notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The lines of the run's output that say it uses the bundled sample."""
    return [record.getMessage() for record in caplog.records if "5,000-digit sample" in record.getMessage()]


@pytest.mark.parametrize(
    ("stage", "verb"), [("fit", "training on"), ("test", "testing on"), ("predict", "predicting with")]
)
def test_auto_source_offline_falls_back_to_the_sample_and_says_so(tmp_path, offline, caplog, stage, verb):
    data = MNISTDataModule(data_dir=str(tmp_path), source="auto")
    data.prepare_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a line of output, not a warning: filtering warnings does not hide it
        with caplog.at_level(logging.INFO):
            data.setup(stage)
    # the notice says which data (the sample, split 3,667/333/1,000), why (the failed download), with a fitting verb
    assert len(sample_notices(caplog)) == 1
    assert re.search(
        rf"MNIST: {verb} the 5,000-digit sample bundled .*3,667 training, 333 validation, 1,000 test.*"
        r"not the full set, which is not in .*MNIST/raw/ \(.*Connection refused",
        sample_notices(caplog)[0],
    )
    assert len(data.train_set) + len(data.val_set) == 4000


@pytest.mark.parametrize(
    ("source", "files", "expected"),
    [("auto", True, "full"), ("auto", False, "sample"), ("full", True, "full"), ("sample", True, "sample")],
)
def test_source_to_use_is_the_one_decision(tmp_path, caplog, source, files, expected):
    if files:
        write_synthetic_mnist(tmp_path, train=120, test=30)
    data = MNISTDataModule(data_dir=str(tmp_path), source=source, download=False)
    data.prepare_data()
    assert data.source_to_use() == expected
    with caplog.at_level(logging.INFO):
        data.setup("fit")
    assert data.used_source == expected
    # a notice only where `auto` fell back: `sample` asked for is no surprise
    assert bool(sample_notices(caplog)) == (source == "auto" and expected == "sample")
    assert len(data.test_set) == (30 if expected == "full" else 1000)


def test_full_source_without_files_and_downloads_off_is_an_error_everywhere(tmp_path):
    data = MNISTDataModule(data_dir=str(tmp_path), source="full", download=False)
    for step in (data.source_to_use, data.prepare_data, lambda: data.setup("fit")):
        with pytest.raises(AmalError, match=r"could not be downloaded .*Put train-images-idx3-ubyte"):
            step()
    assert data.used_source is None and data.train_set is None


def test_fetch_never_falls_back_to_the_sample(tmp_path):
    # even with source `sample`: fetch is for getting the full set, whatever the run would use
    for source in ("auto", "sample"):
        data = MNISTDataModule(data_dir=str(tmp_path), source=source, download=False)
        with pytest.raises(AmalError, match=r"could not be downloaded \(data.download is false\)"):
            data.fetch()
        assert data.train_set is None and data.used_source is None
    assert not (tmp_path / "MNIST").exists()


def test_fetch_keeps_files_that_are_there(tmp_path, offline):
    raw = write_synthetic_mnist(tmp_path, train=120, test=30)
    before = {path.name: path.read_bytes() for path in raw.iterdir()}
    MNISTDataModule(data_dir=str(tmp_path), download=False).fetch()
    assert {path.name: path.read_bytes() for path in raw.iterdir()} == before


def test_downloads_are_off_by_default_inside_a_slurm_job(tmp_path, monkeypatch, offline, caplog):
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    data = MNISTDataModule(data_dir=str(tmp_path))
    with pytest.raises(AmalError, match=r"downloads are off inside a SLURM job: run `amal prepare-data`"):
        data.fetch()
    data.prepare_data()  # auto: no download tried, and not an error
    with caplog.at_level(logging.INFO):
        data.setup("fit")
    assert re.search(r"5,000-digit sample .*\(downloads are off inside a SLURM job", sample_notices(caplog)[0])
    assert data.used_source == "sample"
    # an explicit `download: true` is obeyed there: the attempt fails on the closed port instead
    with pytest.raises(AmalError, match="Connection refused"):
        MNISTDataModule(data_dir=str(tmp_path), download=True).fetch()


def test_the_data_used_joins_the_hyperparameters(tmp_path, caplog):
    data = MNISTDataModule(data_dir=str(tmp_path), source="auto", download=False, val_fraction=0.25)
    data.prepare_data()
    with caplog.at_level(logging.INFO):
        data.setup("fit")
        data.setup("test")  # the splits are made once, and so is the notice
    assert len(sample_notices(caplog)) == 1
    expected = {"used_source": "sample", "train_images": 3000, "val_images": 1000, "test_images": 1000}
    # hparams_initial is what the loggers write; hparams is what the checkpoints keep
    for hparams in (data.hparams, data.hparams_initial):
        assert {key: hparams[key] for key in expected} == expected
        assert hparams["source"] == "auto"


def test_checkpoint_and_tensorboard_record_the_data_used_and_the_checkpoint_reloads(workdir):
    write_synthetic_mnist(workdir / "mnist", train=120, test=30)
    config = str(CONFIGS / "classifier.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=1", "--data.data_dir=mnist", "--data.batch_size=32")
    expected = {"used_source": "full", "train_images": 110, "val_images": 10, "test_images": 30}
    logged = yaml.safe_load((workdir / "logs/classifier/version_0/hparams.yaml").read_text())
    assert {key: logged[key] for key in expected} == expected
    path = workdir / "checkpoints/classifier/version_0/last.ckpt"
    saved = torch.load(path, weights_only=True)["datamodule_hyper_parameters"]
    assert {key: saved[key] for key in expected} == expected

    # what is recorded is not an __init__ argument, yet the datamodule is rebuilt from the checkpoint
    data = MNISTDataModule.load_from_checkpoint(path)
    assert (data.hparams.source, data.hparams.data_dir, data.hparams.batch_size) == ("auto", "mnist", 32)
    assert data.used_source is None
    data.setup("fit")
    assert data.used_source == "full" and len(data.train_set) == 110


def test_auto_source_prefers_files_that_are_there(tmp_path, offline):
    write_synthetic_mnist(tmp_path, train=120, test=30)
    data = MNISTDataModule(data_dir=str(tmp_path), source="auto")
    data.prepare_data()
    data.setup("fit")
    assert len(data.test_set) == 30


def test_truncated_idx_file_is_named(tmp_path):
    raw = write_synthetic_mnist(tmp_path, train=120, test=30)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(AmalError, match=rf"{images}: not a valid MNIST IDX file"):
        MNISTDataModule(data_dir=str(tmp_path), source="full").setup("fit")


def test_image_and_label_counts_must_agree(tmp_path):
    raw = write_synthetic_mnist(tmp_path, train=120, test=30)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(29, dtype=np.uint8))
    with pytest.raises(AmalError, match="holds 30 images but .* 29 labels"):
        MNISTDataModule(data_dir=str(tmp_path), source="full").setup("fit")


def test_cli_reports_a_truncated_file_in_one_line(workdir, capsys):
    raw = write_synthetic_mnist(workdir / "mnist", train=120, test=30)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:6])
    options = ["--data.data_dir", str(workdir / "mnist"), "--data.source", "full"]
    assert amal_status("fit", "--config", str(CONFIGS / "classifier.yaml"), *options) == 1  # no exception escaped
    stderr = capsys.readouterr().err
    assert stderr.strip().splitlines()[-1].startswith(f"amal: error: {labels}: not a valid MNIST IDX file")


def test_data_kept_on_a_device_is_batched_there():
    """The GPU path on a CPU-only machine: on the meta device, any copy to the host would fail."""
    images, labels = bundled_sample()
    device = torch.device("meta")
    dataset = MNISTDigits(images[:100], labels[:100]).to(device)
    loader = batch_loader(dataset, 32, shuffle=True, device=device)
    batches = list(loader)
    assert [len(x) for x, _ in batches] == [32, 32, 32, 4]
    assert all(x.device == device and y.device == device for x, y in batches)


def test_on_device_moves_the_splits_to_the_trainers_device(tmp_path):
    import lightning as L

    write_synthetic_mnist(tmp_path, train=120, test=30)
    data = MNISTDataModule(data_dir=str(tmp_path), source="full")
    data.trainer = L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False)
    data.setup("fit")
    root = data.trainer.strategy.root_device
    assert all(split.images.device == root for split in (data.train_set, data.val_set, data.test_set))
    assert next(iter(data.train_dataloader()))[0].device == root


def test_gzipped_files_are_unpacked_without_a_network(tmp_path, monkeypatch, offline):
    import gzip

    raw = write_synthetic_mnist(tmp_path, train=120, test=30)
    for path in list(raw.iterdir()):
        (raw / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    # torchvision checks the archives against the real MNIST's checksums: accept these ones
    monkeypatch.setattr(torchvision.datasets.utils, "check_md5", lambda *args, **kwargs: True)
    data = MNISTDataModule(data_dir=str(tmp_path), source="full", download=False)
    data.prepare_data()
    data.setup("fit")
    assert len(data.test_set) == 30
