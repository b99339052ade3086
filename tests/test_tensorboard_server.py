"""TensorBoard asked through its own server, as a user opens it: what the docs promise is there.

A real ``tensorboard --logdir logs`` on 127.0.0.1 and a free port, over fresh housing, classifier and
autoencoder runs, read through its HTTP data API: the scalars and reference values, the autoencoder's
images and embedding (projector), the classifier's PR curves, and the HParams table.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from amal_lightning.api import fit
from tests.helpers import CONFIGS, TEST_SETTINGS

SETTINGS = [f"{name}={value}" for name, value in TEST_SETTINGS.items()]
MNIST = {"data.source": "sample", "trainer.max_epochs": 1, "trainer.limit_train_batches": 2}
MNIST |= {"trainer.limit_val_batches": 2, "trainer.limit_test_batches": 2}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture
def tensorboard(workdir) -> Iterator[Server]:
    fit(str(CONFIGS / "regression.yaml"), {"trainer.max_epochs": 3}, *SETTINGS)
    fit(str(CONFIGS / "classifier.yaml"), MNIST, *SETTINGS)
    fit(str(CONFIGS / "autoencoder.yaml"), MNIST, *SETTINGS)
    port = free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", "logs", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = Server(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if set(server.get("/data/runs")) >= {"regression/version_0", "autoencoder/version_0"}:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "TensorBoard did not serve the runs in 120 s"
            time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_tensorboard_serves_what_the_docs_promise(tensorboard: Server, workdir: Path):
    active = {name for name, plugin in tensorboard.get("/data/plugins_listing").items() if plugin.get("enabled")}
    assert {"scalars", "images", "pr_curves", "hparams"} <= active, active  # the projector decides in the background

    scalars = tensorboard.get("/data/plugin/scalars/tags")
    housing = set(scalars["regression/version_0"])
    assert {"train/loss", "val/loss", "train/predicted_loss", "reference/train/loss", "reference/step_limit"} <= housing
    assert "val/acc" in scalars["classifier/version_0"] and "reference/test/acc" in scalars["classifier/version_0"]
    points = tensorboard.get(f"/data/plugin/scalars/scalars?run={quote('regression/version_0')}&tag=train/loss")
    assert [step for _, step, _ in points] == sorted(step for _, step, _ in points) and len(points) == 3

    images = tensorboard.get("/data/plugin/images/tags")
    assert {"val/reconstructions", "test/interpolation"} <= set(images["autoencoder/version_0"])
    curves = tensorboard.get("/data/plugin/pr_curves/tags")
    assert curves.get("classifier/version_0"), curves
    assert any("autoencoder/version_0" in run for run in tensorboard.get("/data/plugin/projector/runs"))

    experiment = tensorboard.post("/data/plugin/hparams/experiment", {"experimentName": ""})
    options = {info["name"] for info in experiment["hparamInfos"]}
    metrics = {info["name"]["tag"] for info in experiment["metricInfos"]}
    # the run's options (the model's and data's, and the divergence bound amal adds to every run)
    assert {"batch_size", "divergence_factor"} <= options, " ".join(sorted(options))
    assert "hp/test/loss" in metrics, metrics
