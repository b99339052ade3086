"""scripts/resume_demo.py: a fit stopped and resumed through amal fit, drawn over an uninterrupted one."""

import importlib.util

import pytest

from tests.conftest import FEW_BATCHES
from tests.helpers import CONFIGS, REPO

spec = importlib.util.spec_from_file_location("resume_demo", REPO / "scripts" / "resume_demo.py")
resume_demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(resume_demo)


def test_the_resumed_curves_are_the_uninterrupted_ones_and_are_drawn(workdir):
    options = (*resume_demo.SETTINGS, *FEW_BATCHES, "--trainer.accelerator=cpu", "--model.latent_dim=8")
    straight, resumed = resume_demo.fit_both(str(CONFIGS / "autoencoder.yaml"), epochs=3, stop=1, options=options)
    assert resumed.path != straight.path
    for metric in resume_demo.METRICS:
        assert resumed.curves[metric].epochs == straight.curves[metric].epochs == (0, 1, 2)  # each epoch once
        assert resumed.curves[metric].values == pytest.approx(straight.curves[metric].values, rel=1e-6)
        assert resume_demo.largest_difference(straight, resumed, metric) < 1e-6

    figure = resume_demo.resume_figure(straight, resumed, stop=1)
    for axes in figure.get_axes():
        lines = {line.get_label(): line for line in axes.get_lines()}
        assert list(lines["epochs 0–0"].get_xdata()) == [0]
        assert list(lines["resumed from epoch 1"].get_xdata()) == [1, 2]
        assert list(lines["uninterrupted"].get_xdata()) == [0, 1, 2]
