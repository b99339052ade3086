import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from amal_lightning.data import RandomRegressionDataModule
from amal_lightning.tme1 import HandGradientRegression
from tests.helpers import CONFIGS, run_inprocess


def splits(**options):
    data = RandomRegressionDataModule(**options)
    data.setup("fit")
    return data


def test_default_shapes_are_the_skeletons():
    data = splits()
    x, y = data.train_set.tensors
    assert (x.shape, y.shape) == ((50, 13), (50, 3))
    for held_out in (data.val_set, data.test_set):
        assert tuple(t.shape for t in held_out.tensors) == ((20, 13), (20, 3))


def test_sizes_follow_the_options():
    data = splits(num_examples=7, input_dim=4, output_dim=2, num_held_out=5)
    assert tuple(t.shape for t in data.train_set.tensors) == ((7, 4), (7, 2))
    assert tuple(t.shape for t in data.val_set.tensors) == ((5, 4), (5, 2))
    assert tuple(t.shape for t in data.test_set.tensors) == ((5, 4), (5, 2))


@pytest.mark.parametrize("seed", [0, 7])
def test_training_rows_are_those_of_the_skeleton(seed):
    torch.manual_seed(seed)
    x, y = torch.randn(50, 13), torch.randn(50, 3)  # as tp1_descente.py draws them
    data = splits(seed=seed)
    torch.testing.assert_close(data.train_set.tensors[0], x, rtol=0, atol=0)
    torch.testing.assert_close(data.train_set.tensors[1], y, rtol=0, atol=0)


def test_same_seed_same_data_other_seed_other_data():
    first, again, other = splits(seed=3), splits(seed=3), splits(seed=4)
    for name in ("train_set", "val_set", "test_set"):
        for a, b, c in zip(
            getattr(first, name).tensors, getattr(again, name).tensors, getattr(other, name).tensors, strict=True
        ):
            assert torch.equal(a, b)
            assert not torch.equal(a, c)
    # the held-out rows are new draws, not copies of the training rows or of each other
    assert not torch.equal(first.val_set.tensors[0], first.test_set.tensors[0])
    assert not torch.equal(first.val_set.tensors[0], first.train_set.tensors[0][:20])


def test_held_out_size_leaves_the_training_rows_alone():
    torch.testing.assert_close(splits(num_held_out=0).train_set.tensors[1], splits().train_set.tensors[1])


def test_no_held_out_rows_mean_no_validation_or_test_loop():
    data = splits(num_held_out=0)
    assert data.val_dataloader() == [] and data.test_dataloader() == []


@pytest.mark.parametrize(("batch_size", "sizes"), [("full", [50]), (16, [16, 16, 16, 2])])
def test_batch_sizes(batch_size, sizes):
    data = splits(batch_size=batch_size)
    batches = list(data.train_dataloader())
    assert sorted((len(x) for x, _ in batches), reverse=True) == sizes
    assert [len(x) for x, _ in data.val_dataloader()] == [20]
    served, rows = torch.cat([x for x, _ in batches]), data.train_set.tensors[0]
    assert torch.equal(served[served[:, 0].argsort()], rows[rows[:, 0].argsort()])  # each row once


def least_squares_mse(x: torch.Tensor, y: torch.Tensor) -> float:
    """The lowest MSE (summed over outputs, divided by the rows) of an affine map, with an intercept."""
    X = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.double)], 1)
    solution = torch.linalg.lstsq(X, y.double()).solution
    return ((X @ solution - y.double()) ** 2).sum().item() / len(x)


def test_config_trains_three_outputs_on_the_random_data(workdir):
    run_inprocess("fit", "--config", str(CONFIGS / "tme1_random.yaml"), "--trainer.max_epochs=3")
    checkpoint = torch.load("checkpoints/tme1_random/version_0/last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["global_step"] == 3  # full batch: one step an epoch
    assert checkpoint["state_dict"]["weight"].shape == (13, 3)
    assert checkpoint["datamodule_hyper_parameters"]["num_examples"] == 50
    events = EventAccumulator("logs/tme1_random/version_0")
    events.Reload()
    train_losses = [event.value for event in events.Scalars("train/loss")]
    assert len(train_losses) == 3 and train_losses[-1] < train_losses[0]
    assert len(events.Scalars("val/loss")) == 3


@pytest.mark.slow
def test_config_converges_to_the_least_squares_fit(workdir):
    run_inprocess("fit", "--config", str(CONFIGS / "tme1_random.yaml"))
    model = HandGradientRegression.load_from_checkpoint("checkpoints/tme1_random/version_0/last.ckpt")
    assert (model.hparams.input_dim, model.hparams.output_dim, model.hparams.learning_rate) == (13, 3, 0.05)
    x, y = splits().train_set.tensors
    with torch.no_grad():
        reached = ((model(x) - y) ** 2).sum().item() / len(x)
    optimum = least_squares_mse(x, y)
    assert optimum == pytest.approx(2.30, abs=0.01)  # about p (q - n - 1) / q = 2.16: fitting noise
    assert reached == pytest.approx(optimum, rel=1e-4)
