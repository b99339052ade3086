"""The signal's scale at initialization by layer (amal_lightning/tme3/signal_scale.py): the default init's
1/6 per ReLU layer, He's 1, and the figure that `make figures` draws of them."""

import pytest
import torch
from torch import nn

from amal_lightning.data.mnist import bundled_sample
from amal_lightning.tme3.signal_scale import (
    FAMILIES,
    PLAIN_WIDTH,
    build,
    measure,
    per_layer_factor,
    signal_figure,
    signal_scale,
)

DEPTH = 10


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return bundled_sample()[0][:200].flatten(1).double() / 255


def scale_of(family: str, seed: int, digits: torch.Tensor, zero_biases: bool = False):
    torch.manual_seed(seed)
    model = build(family, DEPTH)
    if zero_biases:
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                nn.init.zeros_(layer.bias)
    return signal_scale(model, digits)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_default_init_divides_the_signal_by_about_6_a_layer(seed, digits):
    """Var(w) = 1/(3n), and a ReLU keeps half: E[h²] × 1/6 a layer (6.0 to 6.4 over seeds 0-5 at n = 71)."""
    without_biases = scale_of(FAMILIES[0], seed, digits, zero_biases=True)
    assert 1 / per_layer_factor(without_biases.second_moment, 1, DEPTH) == pytest.approx(6, rel=0.2)
    with_biases = scale_of(FAMILIES[0], seed, digits)
    # the biases add 1/(6n) a layer: E[h²] settles at 1/(5n), where only the part across inputs falls on
    assert with_biases.second_moment[-1].item() * 5 * PLAIN_WIDTH == pytest.approx(1, rel=0.6)
    assert 1 / per_layer_factor(with_biases.input_variance, 1, DEPTH) == pytest.approx(6, rel=0.3)


@pytest.mark.parametrize("seed", [0, 1])
def test_he_init_keeps_the_signal_and_highway_mostly_carries_it(seed, digits):
    he = scale_of(FAMILIES[1], seed, digits)
    assert per_layer_factor(he.second_moment, 0, DEPTH) == pytest.approx(1, rel=0.25)  # Var(w) = 2/n times ½
    highway = scale_of(FAMILIES[2], seed, digits)
    assert 0.7 < per_layer_factor(highway.second_moment, 0, DEPTH) < 0.95  # the carry's (1 − T)² ≈ 0.78, plus H·T


def test_each_layer_is_measured_after_its_relu_or_block(digits):
    for family in FAMILIES:
        scale = scale_of(family, 0, digits)
        assert scale.second_moment.shape == scale.input_variance.shape == (DEPTH + 1,)
        assert (scale.input_variance <= scale.second_moment).all() and (scale.input_variance > 0).all()
    torch.manual_seed(0)
    model = build(FAMILIES[0], DEPTH)
    first = torch.relu(model.net[0].double()(digits))
    torch.testing.assert_close(signal_scale(model, digits).second_moment[0], first.pow(2).mean())


def test_the_figure_draws_every_family_and_seed_on_log_axes(digits):
    figure = signal_figure(measure(4, digits[:50], seeds=2))
    panels = figure.get_axes()
    assert len(panels) == 2 and all(panel.get_yscale() == "log" for panel in panels)
    for panel in panels:
        labels = [line.get_label() for line in panel.get_lines()]
        assert all(family in labels for family in FAMILIES)
        assert len(panel.get_lines()) >= 3 * 2 + 1  # 3 families × 2 seeds, and a reference line
    assert "× 1/6 a layer" in [line.get_label() for line in panels[1].get_lines()]
    assert [panel.get_title() for panel in panels] == ["second moment E[h²]", "variance across the digits"]
