import csv as csv_module
from copy import deepcopy
from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.nn import functional as F

from amal_lightning.base_module import BatchMean
from amal_lightning.data import MNISTDataModule
from amal_lightning.tme3 import Autoencoder, Classifier
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist


def tensorboard_tags(log_dir: Path) -> dict[str, list[str]]:
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    return events.Tags()


def test_tied_decoder_uses_the_encoder_weight():
    model = Autoencoder(latent_dim=20)
    assert sum(p.numel() for p in model.parameters()) == 784 * 20 + 20 + 784
    x = torch.rand(3, 784)
    before = model(x)
    with torch.no_grad():
        model.encoder.weight[0].zero_()
        model.encoder.bias.fill_(1.0)  # keep every code unit active so the decoder sees the change
        after_encoder_change = model(x)
        z = model.encode(x)
        model.encoder.weight.mul_(2)
    assert not torch.allclose(before, after_encoder_change)
    # the decoder alone changes too, on the same code z
    assert not torch.allclose(model.decode(z), torch.sigmoid(z @ (model.encoder.weight / 2) + model.decoder_bias))
    torch.testing.assert_close(model.decode(z), torch.sigmoid(z @ model.encoder.weight + model.decoder_bias))


def test_untied_decoder_has_its_own_weight():
    model = Autoencoder(latent_dim=20, tied=False)
    assert sum(p.numel() for p in model.parameters()) == 2 * 784 * 20 + 20 + 784
    z = torch.rand(2, 20)
    before = model.decode(z)
    with torch.no_grad():
        model.encoder.weight.mul_(3)
    torch.testing.assert_close(model.decode(z), before)


def test_classifier_is_linear_relu_linear_relu_linear():
    model = Classifier(hidden_dim=32)
    kinds = [type(layer).__name__ for layer in model.net]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert model(torch.rand(5, 784)).shape == (5, 10)


@pytest.mark.parametrize("num_hidden_layers", [1, 2, 3, 5])
def test_classifier_depth_builds_the_layers_it_says(num_hidden_layers):
    model = Classifier(hidden_dim=32, num_hidden_layers=num_hidden_layers)
    shapes = [tuple(layer.weight.shape) for layer in model.net if isinstance(layer, nn.Linear)]
    assert shapes == [(32, 784)] + [(32, 32)] * (num_hidden_layers - 1) + [(10, 32)]
    kinds = [type(layer).__name__ for layer in model.net]
    assert kinds == ["Linear", "ReLU"] * num_hidden_layers + ["Linear"]
    assert model(torch.rand(5, 784)).shape == (5, 10)


def test_two_hidden_layers_load_a_checkpoint_saved_before_the_depth_option(tmp_path):
    old = Classifier(hidden_dim=32)
    assert list(old.state_dict()) == [f"net.{i}.{kind}" for i in (0, 2, 4) for kind in ("weight", "bias")]
    # no optimizer: built in Python, it is a class, which a weights-only load refuses (the CLI saves its path)
    hyper_parameters = {
        key: value for key, value in old.hparams.items() if key not in ("num_hidden_layers", "optimizer")
    }
    checkpoint = {"state_dict": old.state_dict(), "hyper_parameters": hyper_parameters}
    torch.save({**checkpoint, "pytorch-lightning_version": L.__version__}, tmp_path / "old.ckpt")
    loaded = Classifier.load_from_checkpoint(tmp_path / "old.ckpt")  # strict: every key must match
    assert loaded.hparams.num_hidden_layers == 2
    x = torch.rand(3, 784)
    torch.testing.assert_close(loaded(x), old(x))


@pytest.fixture
def mnist_dir(workdir):
    write_synthetic_mnist(workdir / "mnist", train=600, test=200)
    return ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=50"]


def test_classifier_learns_and_logs_its_metrics(workdir, mnist_dir):
    config = str(CONFIGS / "classifier.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=3", "--model.hidden_dim=32", *mnist_dir)
    run_inprocess("test", "--config", config, "--ckpt_path=last", "--model.hidden_dim=32", *mnist_dir)

    fit_tags = tensorboard_tags(Path("logs/classifier/version_0"))["scalars"]
    assert {"train/loss", "val/loss", "val/acc"} <= set(fit_tags)
    test_events = EventAccumulator("logs/classifier/version_0/test-last-0")
    test_events.Reload()
    assert test_events.Scalars("test/acc")[-1].value > 0.9  # the synthetic digits are easy
    assert "test/loss" in test_events.Tags()["scalars"]


def test_autoencoder_logs_losses_images_and_embeddings(workdir, mnist_dir):
    config = str(CONFIGS / "autoencoder.yaml")
    pictures = [  # the options of the config's AutoencoderPictures callback
        "--trainer.callbacks.init_args.num_images=4",
        "--trainer.callbacks.init_args.interpolation_steps=5",
        "--trainer.callbacks.init_args.num_embedded=120",  # two batches of 50 and part of a third
    ]
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=2", "--model.latent_dim=16", *mnist_dir, *pictures)
    run_inprocess("test", "--config", config, "--ckpt_path=best", "--model.latent_dim=16", *mnist_dir, *pictures)

    fit_events = EventAccumulator("logs/autoencoder/version_0", size_guidance={"images": 0})
    fit_events.Reload()
    assert {"train/loss", "val/loss", "val/mse"} <= set(fit_events.Tags()["scalars"])
    reconstructions = fit_events.Images("val/reconstructions")
    assert len(reconstructions) == 2  # one per epoch, none from the sanity check's untrained model
    # 28-pixel digits with 2 pixels of padding: 4 digits in a row above their reconstructions
    assert (reconstructions[-1].width, reconstructions[-1].height) == (4 * 30 + 2, 2 * 30 + 2)

    test_events = EventAccumulator("logs/autoencoder/version_0/test-best-0", size_guidance={"images": 0})
    test_events.Reload()
    assert {"test/loss", "test/mse"} <= set(test_events.Tags()["scalars"])
    strip = test_events.Images("test/interpolation")[-1]
    assert (strip.width, strip.height) == (5 * 30 + 2, 30 + 2)
    assert list(Path("logs/autoencoder/version_0/test-best-0").rglob("projector_config.pbtxt"))
    metadata = next(Path("logs/autoencoder/version_0/test-best-0").rglob("metadata.tsv")).read_text().split()
    assert len(metadata) == 120 and set(metadata) == {str(d) for d in range(10)}

    checkpoint = torch.load("checkpoints/autoencoder/version_0/last.ckpt", weights_only=True)
    saved = {name for name in checkpoint["hyper_parameters"] if not name.startswith("_")}  # "_": the CLI's
    assert saved == {"input_dim", "latent_dim", "tied", "linear", "loss", "optimizer"}  # the model, not its pictures


def test_mse_loss_option(workdir, mnist_dir):
    run_inprocess(
        "fit", "--config", str(CONFIGS / "autoencoder.yaml"), "--trainer.max_epochs=1", "--model.loss=mse", *mnist_dir
    )
    events = EventAccumulator("logs/autoencoder/version_0")
    events.Reload()
    # with the MSE loss, val/loss and val/mse are the same quantity
    assert events.Scalars("val/loss")[-1].value == pytest.approx(events.Scalars("val/mse")[-1].value, rel=1e-5)


def test_checkpoints_load_with_weights_only(workdir, mnist_dir):
    run_inprocess("fit", "--config", str(CONFIGS / "classifier.yaml"), "--trainer.max_epochs=1", *mnist_dir)
    for name in ("last", "best"):
        checkpoint = torch.load(f"checkpoints/classifier/version_0/{name}.ckpt", weights_only=True)
        assert checkpoint["epoch"] == 0
    model = Classifier.load_from_checkpoint("checkpoints/classifier/version_0/last.ckpt", weights_only=True)
    assert model.hparams.hidden_dim == 256


def test_epoch_metrics_cover_one_epoch_each(workdir, mnist_dir):
    """val/loss of epoch 1 is the loss of epoch 1's weights, not a mean that still holds epoch 0."""
    config = str(CONFIGS / "classifier.yaml")
    csv = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir=csv"]
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=2", "--model.hidden_dim=32", *mnist_dir, *csv)
    with open("csv/lightning_logs/version_0/metrics.csv") as file:
        rows = list(csv_module.DictReader(file))
    val_losses = [float(row["val/loss"]) for row in rows if row["val/loss"]]
    val_accs = [float(row["val/acc"]) for row in rows if row["val/acc"]]

    model = Classifier.load_from_checkpoint("checkpoints/classifier/version_0/last.ckpt", weights_only=True)
    data = MNISTDataModule(data_dir="mnist", source="full")
    data.setup("fit")
    x, y = data.val_set[torch.arange(len(data.val_set))]
    with torch.no_grad():
        logits = model(x)
    assert len(val_losses) == 2
    assert val_losses[-1] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-4)
    assert val_accs[-1] == pytest.approx((logits.argmax(1) == y).float().mean().item(), abs=1e-6)


def test_batch_mean_weights_each_example_and_keeps_nan():
    mean = BatchMean()
    mean.update(torch.tensor(1.0), 3)
    mean.update(torch.tensor(5.0), 1)  # a short last batch counts for one example, not for a whole batch
    assert mean.compute().item() == pytest.approx(2.0)
    mean.update(torch.tensor(float("nan")), 2)
    assert torch.isnan(mean.compute())  # shown, not silently dropped


@pytest.mark.slow
@pytest.mark.parametrize("model_class", [Classifier, Autoencoder])
def test_compiled_model_computes_the_same_and_keeps_parameter_names(model_class):
    torch.manual_seed(0)
    eager = model_class()
    compiled = model_class(compile=True)
    compiled.load_state_dict(eager.state_dict())  # same names: checkpoints work either way
    for size in (16, 16, 5):  # a short last batch as well
        x = torch.rand(size, 784)
        torch.testing.assert_close(compiled(x), eager(x), rtol=1e-4, atol=1e-5)
    compiled(x).sum().backward()
    eager(x).sum().backward()
    for (name, a), (_, b) in zip(eager.named_parameters(), compiled.named_parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5, msg=name)
    assert "compile" not in compiled.hparams  # a checkpoint loads uncompiled unless asked
    copy = deepcopy(compiled)  # as SWA or EMA callbacks do: the copy must compute with its own weights
    with torch.no_grad():
        for parameter in copy.parameters():
            parameter.zero_()
    assert not torch.allclose(copy(x), compiled(x))
    torch.testing.assert_close(compiled(x), eager(x), rtol=1e-4, atol=1e-5)
