import csv
import math

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from amal_lightning.data import MNISTDataModule
from amal_lightning.tme3 import HighwayClassifier
from amal_lightning.tme3.highway import HighwayLayer
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist


def test_highway_layer_computes_the_papers_formula():
    layer = HighwayLayer(2)
    with torch.no_grad():
        layer.transform.weight.copy_(torch.tensor([[1.0, 2.0], [-1.0, 0.5]]))
        layer.transform.bias.copy_(torch.tensor([0.5, -3.0]))
        layer.gate.weight.copy_(torch.tensor([[0.0, 1.0], [2.0, -1.0]]))
        layer.gate.bias.copy_(torch.tensor([-1.0, 0.0]))
    x = torch.tensor([[1.0, 2.0]])
    # H = relu([1 + 4 + 0.5, -1 + 1 - 3]) = [5.5, 0]; T = sigmoid([2 - 1, 2 - 2 + 0]) = [σ(1), σ(0)]
    t = torch.tensor([1 / (1 + math.exp(-1)), 0.5])
    expected = torch.tensor([5.5, 0.0]) * t + x[0] * (1 - t)
    y, gate = layer.forward_with_gate(x)
    torch.testing.assert_close(gate[0], t)
    torch.testing.assert_close(y[0], expected)
    torch.testing.assert_close(layer(x), y)


@pytest.mark.parametrize("gate_bias", [-2.0, -1.0, 0.5])
def test_gate_bias_starts_at_the_option(gate_bias):
    model = HighwayClassifier(hidden_dim=8, num_layers=4, gate_bias=gate_bias)
    layers = [module for module in model.net if isinstance(module, HighwayLayer)]
    assert len(layers) == 4
    for layer in layers:
        torch.testing.assert_close(layer.gate.bias, torch.full((8,), gate_bias))
        assert layer.transform.bias.abs().max() < 1  # only the gate's bias is set: H keeps PyTorch's init
        # on a zero input the gate is exactly sigmoid(b_T): with −2, 12% transform, 88% carry
        _, gate = layer.forward_with_gate(torch.zeros(1, 8))
        torch.testing.assert_close(gate, torch.full((1, 8), torch.sigmoid(torch.tensor(gate_bias)).item()))


@pytest.mark.parametrize("num_layers", [1, 3, 12])
def test_network_is_a_linear_layer_highway_layers_and_a_linear_layer(num_layers):
    model = HighwayClassifier(hidden_dim=16, num_layers=num_layers)
    kinds = [type(module).__name__ for module in model.net]
    assert kinds == ["Linear", "ReLU"] + ["HighwayLayer"] * num_layers + ["Linear"]
    shapes = [tuple(module.weight.shape) for module in model.modules() if isinstance(module, nn.Linear)]
    assert shapes == [(16, 784)] + [(16, 16)] * (2 * num_layers) + [(10, 16)]
    x = torch.rand(5, 784)
    logits, gates = model.logits_and_gates(x)
    assert logits.shape == (5, 10) and gates.shape == (num_layers,)
    torch.testing.assert_close(model(x), logits)


def test_fit_logs_the_classifier_metrics_and_the_gates_once_per_epoch(tmp_path):
    write_synthetic_mnist(tmp_path / "mnist", train=600, test=200)
    # 50 validation images in batches of 32: the short last batch must count for 18 images
    data = MNISTDataModule(data_dir=str(tmp_path / "mnist"), source="full", download=False, batch_size=32)
    torch.manual_seed(0)
    model = HighwayClassifier(hidden_dim=16, num_layers=3)
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        log_every_n_steps=1,
        logger=CSVLogger(tmp_path / "csv"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, data)
    trainer.test(model, data, verbose=False)

    with open(tmp_path / "csv/lightning_logs/version_0/metrics.csv") as file:
        rows = list(csv.DictReader(file))
    gate_names = ["val/gate/layer_01", "val/gate/layer_02", "val/gate/layer_03"]
    columns = set(rows[0])
    assert {"train/loss", "val/loss", "val/acc", "test/loss", "test/acc", *gate_names} <= columns
    assert not any(name.startswith("val/gate/") for name in columns - set(gate_names))
    for name in ["train/loss", "val/loss", "val/acc", *gate_names]:
        assert len([row for row in rows if row[name]]) == 2, name  # one point per epoch, no sanity check
    assert float([row for row in rows if row["test/acc"]][-1]["test/acc"]) > 0.5  # it learned something

    # the last epoch's gate activity is the mean of T over every validation image and unit
    x, _ = data.val_set[torch.arange(len(data.val_set))]
    assert len(x) == 50
    with torch.no_grad():
        h = model.net[1](model.net[0](x))
        for layer_index, name in enumerate(gate_names):
            h, gate = model.net[2 + layer_index].forward_with_gate(h)
            logged = float([row for row in rows if row[name]][-1][name])
            assert logged == pytest.approx(gate.mean().item(), rel=1e-5)


def test_config_trains_through_the_cli(workdir):
    write_synthetic_mnist(workdir / "mnist", train=600, test=200)
    data = ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=50"]
    run_inprocess("fit", "--config", str(CONFIGS / "highway.yaml"), "--trainer.max_epochs=1", *data)
    model = HighwayClassifier.load_from_checkpoint("checkpoints/highway/version_0/last.ckpt", weights_only=True)
    assert (model.hparams.hidden_dim, model.hparams.num_layers, model.hparams.gate_bias) == (50, 10, -2.0)
    events = EventAccumulator("logs/highway/version_0")
    events.Reload()
    gate_tags = {f"val/gate/layer_{i:02d}" for i in range(1, 11)}
    assert {"train/loss", "val/loss", "val/acc", *gate_tags} <= set(events.Tags()["scalars"])
