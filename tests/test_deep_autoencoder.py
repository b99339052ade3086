"""The autoencoder with several layers (latent_dim: [256, 64]): each decoder layer tied to its encoder layer."""

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.nn import functional as F

from amal_lightning.errors import AmalError
from amal_lightning.tme3 import Autoencoder
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist


def names(model: Autoencoder) -> set[str]:
    return {name for name, _ in model.named_parameters()}


def test_deep_tied_layers_share_each_encoder_weight():
    model = Autoencoder(latent_dim=[32, 8])
    layer_1, layer_2 = {"encoder.weight", "encoder.bias", "decoder_bias"}, {"encoder_2.weight", "encoder_2.bias"}
    assert names(model) == layer_1 | layer_2 | {"decoder_bias_2"}  # no decoder weight of its own
    assert sum(p.numel() for p in model.parameters()) == (784 * 32 + 32) + (32 * 8 + 8) + 784 + 32
    encoders = [model.encoder, model.encoder_2]
    for encoder, (layer_encoder, weight, _) in zip(encoders, model.layers(), strict=True):
        assert layer_encoder is encoder
        assert weight.shape == encoder.weight.t().shape
        assert weight.data_ptr() == encoder.weight.data_ptr()  # the same storage, not a copy

    # the decoder alone, on codes that do not come from the encoder, trains each encoder weight
    model.decode(torch.rand(5, 8)).sum().backward()
    for encoder in encoders:
        assert encoder.weight.grad is not None and encoder.weight.grad.abs().sum() > 0
        assert encoder.bias.grad is None  # the decoder has biases of its own
    assert model.decoder_bias.grad is not None and model.decoder_bias_2.grad is not None


def test_deep_untied_layers_are_independent():
    model = Autoencoder(latent_dim=[32, 8], tied=False)
    assert {"decoder_weight", "decoder_weight_2"} <= names(model)
    assert sum(p.numel() for p in model.parameters()) == 2 * (784 * 32 + 32 * 8) + 32 + 8 + 784 + 32
    z = torch.rand(5, 8)
    before = model.decode(z)
    model.decode(z).sum().backward()
    assert model.encoder.weight.grad is None and model.encoder_2.weight.grad is None
    assert model.decoder_weight.grad.abs().sum() > 0 and model.decoder_weight_2.grad.abs().sum() > 0
    with torch.no_grad():
        model.encoder.weight.mul_(3)
        model.encoder_2.weight.mul_(3)
    torch.testing.assert_close(model.decode(z), before)


@pytest.mark.parametrize("tied", [True, False])
def test_deep_layers_compute_relu_between_layers_and_sigmoid_at_the_output(tied):
    torch.manual_seed(0)
    model = Autoencoder(latent_dim=[32, 16, 8], tied=tied)
    with torch.no_grad():
        for bias in (model.decoder_bias, model.decoder_bias_2, model.decoder_bias_3):
            bias.uniform_(-0.5, 0.5)  # not zero, so that a bias used in the wrong layer shows
    x = torch.rand(4, 784)
    encoders = [model.encoder, model.encoder_2, model.encoder_3]
    h = x
    for encoder in encoders:
        h = F.relu(h @ encoder.weight.t() + encoder.bias)
    torch.testing.assert_close(model.encode(x), h)

    if tied:
        weights = [encoder.weight for encoder in encoders]
    else:
        weights = [model.decoder_weight.t(), model.decoder_weight_2.t(), model.decoder_weight_3.t()]
    biases = [model.decoder_bias, model.decoder_bias_2, model.decoder_bias_3]
    y = F.relu(h @ weights[2] + biases[2])
    y = F.relu(y @ weights[1] + biases[1])
    y = torch.sigmoid(y @ weights[0] + biases[0])
    torch.testing.assert_close(model(x), y)
    torch.testing.assert_close(model.decode(h), y)


def test_one_size_in_a_list_is_the_one_layer_model():
    torch.manual_seed(0)
    single = Autoencoder(latent_dim=20)
    torch.manual_seed(0)
    listed = Autoencoder(latent_dim=[20])
    assert list(listed.state_dict()) == list(single.state_dict()) == ["decoder_bias", "encoder.weight", "encoder.bias"]
    x = torch.rand(3, 784)
    torch.testing.assert_close(listed(x), single(x))


def test_no_layer_size_is_refused():
    with pytest.raises(AmalError, match="model.latent_dim"):
        Autoencoder(latent_dim=[])


def test_deep_autoencoder_trains_through_the_cli_with_its_pictures(workdir):
    write_synthetic_mnist(workdir / "mnist", train=300, test=90)
    options = [
        "--config",
        str(CONFIGS / "autoencoder.yaml"),
        "--model.latent_dim=[32, 8]",
        "--data.data_dir=mnist",
        "--data.source=full",
        "--data.batch_size=50",
        "--trainer.callbacks.init_args.num_embedded=60",
    ]
    run_inprocess("fit", *options, "--trainer.max_epochs=2")
    run_inprocess("test", *options, "--ckpt_path=last")

    model = Autoencoder.load_from_checkpoint("checkpoints/autoencoder/version_0/last.ckpt", weights_only=True)
    assert model.hparams.latent_dim == [32, 8] and model.encoder_2.weight.shape == (8, 32)
    fit_events = EventAccumulator("logs/autoencoder/version_0", size_guidance={"images": 0})
    fit_events.Reload()
    train_losses = [event.value for event in fit_events.Scalars("train/loss")]
    assert train_losses[-1] < train_losses[0]
    assert len(fit_events.Images("val/reconstructions")) == 2

    test_events = EventAccumulator("logs/autoencoder/version_0/test-last-0", size_guidance={"images": 0})
    test_events.Reload()
    assert test_events.Images("test/interpolation")  # decoded from mixed 8-number codes
    codes = next(Path("logs/autoencoder/version_0/test-last-0").rglob("tensors.tsv")).read_text().splitlines()
    assert len(codes) == 60 and all(len(line.split("\t")) == 8 for line in codes)  # the innermost code
