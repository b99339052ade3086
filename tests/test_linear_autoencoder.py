"""The linear tied autoencoder (``linear: true``) and the autoencoder's baselines: PCA at the code size
and the mean training image."""

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.nn import functional as F

from amal_lightning.data import MNISTDataModule
from amal_lightning.data.mnist import bundled_sample
from amal_lightning.data.references import pca_mses
from amal_lightning.errors import AmalError
from amal_lightning.tme3 import Autoencoder
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist


def test_a_linear_tied_autoencoder_reaches_pcas_mse_at_its_code_size():
    """Baldi and Hornik (1989): its optimum spans PCA's subspace. PCA is the least training MSE of any
    linear code of that size, so the trained model cannot go below it on the training digits, and must
    come within 2 % of it on digits it never saw."""
    images = bundled_sample()[0].flatten(1).float() / 255
    train, test = images[:500], images[1000:1500]
    code_size = 8
    torch.manual_seed(0)
    model = Autoencoder(latent_dim=code_size, linear=True, loss="mse")
    # full batch, L-BFGS: 0.1 % above PCA's training MSE after 100 iterations (Adam needs 300 steps for 1 %)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=100, history_size=20, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = model.training_loss((train, None))
        value.backward()
        return value

    optimizer.step(loss)
    pca = pca_mses(train, {"train": train, "test": test}, code_size)
    with torch.no_grad():
        train_mse, test_mse = (F.mse_loss(model(x), x).item() for x in (train, test))
    assert pca["train"] * (1 - 1e-4) <= train_mse <= pca["train"] * 1.01  # float32 against PCA's float64
    assert test_mse == pytest.approx(pca["test"], rel=0.02)
    # not a trivial pass: the mean image (PCA with no component) is 40 % worse
    assert pca_mses(train, {"test": test}, 0)["test"] > 1.4 * pca["test"]


def test_the_linear_autoencoder_is_affine_and_tied():
    torch.manual_seed(0)
    model = Autoencoder(latent_dim=6, linear=True, loss="mse")
    with torch.no_grad():
        model.decoder_bias.uniform_(-0.5, 0.5)
    x = torch.rand(4, 784) - 0.5  # negative inputs too: a ReLU anywhere would change them
    weight, bias = model.encoder.weight, model.encoder.bias
    code = x @ weight.t() + bias
    torch.testing.assert_close(model.encode(x), code)
    torch.testing.assert_close(model(x), code @ weight + model.decoder_bias)
    assert (model(x) < 0).any()  # no sigmoid squeezes it into (0, 1)
    assert sum(p.numel() for p in model.parameters()) == 784 * 6 + 6 + 784


def test_a_linear_autoencoder_with_binary_cross_entropy_is_refused():
    with pytest.raises(AmalError, match="model.linear.*model.loss: mse"):
        Autoencoder(latent_dim=6, linear=True)


def test_the_references_hold_pca_and_the_mean_training_image():
    data = MNISTDataModule(source="sample")
    data.setup("fit")
    found = Autoencoder(latent_dim=16).reference_values(data)
    train = data.train_set.images.flatten(1).double() / 255
    for split in ("val", "test"):
        images = getattr(data, f"{split}_set").images.flatten(1).double() / 255
        mean_image = (images - train.mean(0)).pow(2).mean().item()
        assert found[f"mean_image/{split}/mse"] == pytest.approx(mean_image, rel=1e-9)
        assert found[f"{split}/mse"] < 0.8 * mean_image  # 16 components explain much of it
        probability = train.mean(0).clamp(1e-300, 1)  # a pixel never inked in training: log 0, clamped at -100
        never = (1 - train.mean(0)).clamp(1e-300, 1)
        bce = -(images * probability.log().clamp(min=-100) + (1 - images) * never.log().clamp(min=-100)).mean()
        assert found[f"mean_image/{split}/bce"] == pytest.approx(bce.item(), rel=1e-6)
        assert 0.1 < found[f"mean_image/{split}/bce"] < 0.5  # well above a trained model's 0.07 to 0.16
    assert set(found) == {"val/mse", "test/mse", *(f"mean_image/{split}/{metric}" for split in ("val", "test")
                                                   for metric in ("mse", "bce"))}  # fmt: skip
    pca_without_components = pca_mses(data.train_set.images, {"test": data.test_set.images}, 0)["test"]
    assert found["mean_image/test/mse"] == pytest.approx(pca_without_components, rel=1e-9)


def test_the_linear_config_trains_and_logs_both_baselines(workdir):
    write_synthetic_mnist(workdir / "mnist", train=300, test=90)
    options = ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=50", "--trainer.max_epochs=1"]
    options.append("--test=false")  # the references are logged when the fit starts
    run_inprocess("fit", "--config", str(CONFIGS / "autoencoder_linear.yaml"), *options)
    model = Autoencoder.load_from_checkpoint("checkpoints/autoencoder_linear/version_0/last.ckpt", weights_only=True)
    assert (model.hparams.linear, model.hparams.loss, model.hparams.latent_dim) == (True, "mse", 16)
    events = EventAccumulator("logs/autoencoder_linear/version_0")
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"reference/test/mse", "reference/mean_image/test/mse", "reference/mean_image/val/mse"} <= scalars
    pca, mean_image = (
        events.Scalars(name)[0].value for name in ("reference/test/mse", "reference/mean_image/test/mse")
    )
    assert 0 < pca < mean_image
