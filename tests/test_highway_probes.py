"""The probes of a Highway network: per-example gate outputs and lesioning, block by block."""

from pathlib import Path

import pytest
import torch
from torch import nn

from amal_lightning.tme3 import HighwayClassifier, highway_probes
from amal_lightning.tme3.highway import highway_blocks, lesion_accuracy_drops, lesioned_logits, per_example_gates
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist


@pytest.fixture
def model() -> HighwayClassifier:
    torch.manual_seed(0)
    return HighwayClassifier(hidden_dim=12, num_layers=4).eval()


def test_per_example_gates_are_each_images_t_per_block_and_unit(model):
    x = torch.rand(5, 784)
    gates = per_example_gates(model, x)
    assert gates.shape == (5, 4, 12)
    h = model.net[1](model.net[0](x))
    for index, block in enumerate(highway_blocks(model)):
        h, t = block.forward_with_gate(h)
        torch.testing.assert_close(gates[:, index], t)
    # their mean over the images and units is what validation logs per block
    torch.testing.assert_close(gates.mean((0, 2)), model.logits_and_gates(x)[1])
    assert gates[0].ne(gates[1]).any()  # one map per digit, not a mean


def test_a_lesioned_block_carries_its_input(model):
    x = torch.rand(6, 784)
    torch.testing.assert_close(lesioned_logits(model, x), model(x))
    blocks = highway_blocks(model)
    without_block_2 = nn.Sequential(*(module for module in model.net if module is not blocks[2]))
    torch.testing.assert_close(lesioned_logits(model, x, lesioned=2), without_block_2(x))
    assert not torch.allclose(lesioned_logits(model, x, lesioned=2), model(x))


def test_accuracy_drops_are_zero_for_a_closed_gate_and_positive_for_a_block_that_matters(model):
    blocks = highway_blocks(model)
    with torch.no_grad():
        blocks[0].gate.bias.fill_(-100.0)  # T = 0 already: the block carries, lesioned or not
        blocks[3].gate.bias.fill_(100.0)  # T = 1: the block replaces its input by H(x)
        blocks[3].transform.weight.mul_(20.0)
    images = torch.rand(64, 784)
    labels = model(images).argmax(1)  # the whole network is right on every image
    drops = lesion_accuracy_drops(model, images, labels)
    assert drops.shape == (4,)
    assert drops[0].item() == 0.0 and drops[3].item() > 0.2
    assert (drops >= 0).all()  # nothing beats a network that is right everywhere
    changed = (lesioned_logits(model, images, 3).argmax(1) != labels).float().mean().item()
    assert drops[3].item() == pytest.approx(changed)


def test_the_probe_figures_are_drawn_from_real_checkpoints(shrunk):
    write_synthetic_mnist(Path("mnist"), train=300, test=60)
    data = ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=50", "--data.test_each_epoch=false"]
    model_options = ["--model.hidden_dim=8", "--model.num_layers=3", "--trainer.max_epochs=1", "--test=false"]
    run_inprocess("fit", "--config", str(CONFIGS / "highway.yaml"), *model_options, *data, *shrunk)
    checkpoints = ["checkpoints/highway/version_0/last.ckpt"] * 2  # two networks' worth: one fit is enough here

    highway_probes.main("probes", [Path(checkpoint) for checkpoint in checkpoints])
    assert Path("probes-gate_maps.png").stat().st_size > 10_000
    assert Path("probes-lesioning.png").stat().st_size > 10_000

    model = HighwayClassifier.load_from_checkpoint(checkpoints[0], weights_only=True)
    images, labels = highway_probes.checkpoint_test_split(Path(checkpoints[0]))
    assert len(images) == 60  # the synthetic test split the network was trained beside
    shown = highway_probes.one_digit_per_class(labels, 4)
    assert len(set(labels[shown].tolist())) == len(shown) == 4
    figure = highway_probes.gate_maps_figure(model, images[shown], labels[shown])
    maps = [image for axes in figure.get_axes() for image in axes.get_images() if image.get_array().shape == (3, 8)]
    assert len(maps) == 4 and all(image.get_clim() == (0, 1) for image in maps)  # a gate's range, per digit

    drops = [torch.tensor([0.1, 0.0, -0.05]), torch.tensor([0.3, 0.02, 0.0])]
    lines = highway_probes.lesioning_figure(drops).get_axes()[0].get_lines()
    torch.testing.assert_close(torch.tensor(lines[2].get_ydata()), torch.tensor([0.2, 0.01, -0.025]))  # the mean
    assert [list(line.get_ydata()) for line in lines[:2]] == [drop.tolist() for drop in drops]  # each network's points
