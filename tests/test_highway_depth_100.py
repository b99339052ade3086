"""Depth 100, the paper's deepest: the models build and run, and the tme3_highway study has it in every family."""

from pathlib import Path

import torch
from torch import nn

from amal_lightning.studies.spec import load_study
from amal_lightning.tme3 import Classifier, HighwayClassifier
from tests.helpers import CONFIGS


def test_the_100_layer_networks_build_and_run():
    highway = HighwayClassifier(hidden_dim=50, num_layers=100)
    logits, gates = highway.logits_and_gates(torch.rand(3, 784))
    assert logits.shape == (3, 10) and gates.shape == (100,)
    plain = Classifier(hidden_dim=71, num_hidden_layers=101, init="kaiming")
    assert sum(isinstance(layer, nn.Linear) for layer in plain.net) == 102  # first, 100 after it, output
    assert plain(torch.rand(3, 784)).shape == (3, 10)


def test_the_highway_study_has_depth_100_in_each_family():
    study = load_study(Path(CONFIGS / "studies" / "tme3_highway.yaml"))
    deepest = {variant.group: variant.options for variant in study.variants if variant.group.endswith(", 100")}
    assert set(deepest) == {"plain, default init, 100", "plain, He init, 100", "highway, 100"}
    assert deepest["highway, 100"]["model.num_layers"] == 100
    assert deepest["plain, He init, 100"]["model.num_hidden_layers"] == 101  # depth d is d + 1 hidden layers
    assert len(study.variants) == 15 * 3  # 5 depths × 3 families × 3 seeds
