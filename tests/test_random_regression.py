import pytest
import torch

from amal_lightning.data import RandomRegressionDataModule


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
