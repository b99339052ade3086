"""The classifiers' ``init`` option: PyTorch's default, He (kaiming) or Glorot (xavier) weights."""

import math

import lightning as L
import pytest
import torch
from torch import nn

from amal_lightning.tme3 import Classifier, HighwayClassifier
from amal_lightning.tme3.highway import HighwayLayer
from tests.helpers import CONFIGS, amal_status

WIDE = 1024  # fan_in of the layers measured: their sample statistics are close to the law's


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    return [module for module in model.modules() if isinstance(module, nn.Linear)]


def test_kaiming_gives_he_standard_deviation_and_zero_biases():
    torch.manual_seed(0)
    model = Classifier(input_dim=WIDE, hidden_dim=WIDE, num_hidden_layers=2, init="kaiming")
    assert model.hparams.init == "kaiming"
    for layer in linear_layers(model):
        fan_in = layer.weight.shape[1]
        std = layer.weight.std().item()
        assert std == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
        assert layer.weight.mean().abs().item() < 0.1 * std
        assert torch.count_nonzero(layer.bias) == 0


def test_xavier_gives_glorot_uniform_weights_and_zero_biases():
    torch.manual_seed(0)
    model = Classifier(input_dim=WIDE, hidden_dim=WIDE, num_hidden_layers=2, init="xavier")
    for layer in linear_layers(model):
        fan_out, fan_in = layer.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max().item() <= bound
        # a uniform law on [−a, a] has standard deviation a/√3
        assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert torch.count_nonzero(layer.bias) == 0


def test_default_keeps_pytorchs_initialization():
    torch.manual_seed(0)
    model = Classifier(input_dim=WIDE, hidden_dim=WIDE)
    assert model.hparams.init == "default"
    first = model.net[0]
    # nn.Linear's own: uniform on ±1/√fan_in, standard deviation 1/√(3·fan_in), and so are the biases
    assert first.weight.std().item() == pytest.approx(1 / math.sqrt(3 * WIDE), rel=0.05)
    assert first.bias.abs().max().item() <= 1 / math.sqrt(WIDE)
    assert torch.count_nonzero(first.bias) > 0
    torch.manual_seed(0)
    torch.testing.assert_close(
        Classifier(input_dim=WIDE, hidden_dim=WIDE, init="default").state_dict(), model.state_dict()
    )


@pytest.mark.parametrize("init", ["default", "kaiming", "xavier"])
def test_highway_gate_bias_stays_at_its_option_under_every_init(init):
    torch.manual_seed(0)
    model = HighwayClassifier(input_dim=WIDE, hidden_dim=WIDE, num_layers=2, gate_bias=-3.0, init=init)
    assert model.hparams.init == init
    highway = [module for module in model.net if isinstance(module, HighwayLayer)]
    for layer in highway:
        torch.testing.assert_close(layer.gate.bias, torch.full((WIDE,), -3.0))
    if init == "kaiming":
        for layer in highway:
            for linear in (layer.transform, layer.gate):
                assert linear.weight.std().item() == pytest.approx(math.sqrt(2 / WIDE), rel=0.05)
            assert torch.count_nonzero(layer.transform.bias) == 0
    if init != "default":
        assert torch.count_nonzero(model.net[0].bias) == 0 and torch.count_nonzero(model.net[-1].bias) == 0


@pytest.mark.parametrize("model_class", [Classifier, HighwayClassifier])
def test_a_checkpoint_saved_before_the_option_loads_with_the_default(tmp_path, model_class):
    old = model_class(hidden_dim=16)
    # no optimizer: built in Python, it is a class, which a weights-only load refuses (the CLI saves its path)
    hyper_parameters = {key: value for key, value in old.hparams.items() if key not in ("init", "optimizer")}
    checkpoint = {"state_dict": old.state_dict(), "hyper_parameters": hyper_parameters}
    torch.save({**checkpoint, "pytorch-lightning_version": L.__version__}, tmp_path / "old.ckpt")
    loaded = model_class.load_from_checkpoint(tmp_path / "old.ckpt", weights_only=True)
    assert loaded.hparams.init == "default"
    x = torch.rand(3, 784)
    torch.testing.assert_close(loaded(x), old(x))


@pytest.mark.parametrize("config", ["classifier", "highway"])
def test_a_bad_init_is_a_one_line_usage_error(workdir, capsys, config):
    capsys.readouterr()
    status = amal_status("fit", "--config", str(CONFIGS / f"{config}.yaml"), "--model.init=he", "--data.source=sample")
    output = capsys.readouterr()
    text = output.out + output.err
    assert status == 2, text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("amal: error:")]
    assert len(errors) == 1, text
    assert "--model.init: expected one of default, kaiming, xavier (given he)" in errors[0], text
    assert not (workdir / "checkpoints").exists() or not any((workdir / "checkpoints").rglob("*.ckpt"))
