import pytest
import torch

from amal_lightning.data import HousingDataModule
from amal_lightning.data.housing import bundled_housing_path, read_housing_table
from amal_lightning.errors import AmalError
from tests.helpers import CONFIGS, amal_status


def test_bundled_table_is_the_boston_housing_data():
    table = read_housing_table(bundled_housing_path())
    assert table.shape == (506, 14)
    assert table[0].tolist() == pytest.approx(
        [0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98, 24]
    )
    assert table[:, 13].mean().item() == pytest.approx(22.5328, abs=1e-3)


def test_split_sizes_and_seed():
    data = HousingDataModule(val_fraction=0.2, test_fraction=0.1, seed=3)
    data.setup("fit")
    assert (len(data.train_set), len(data.val_set), len(data.test_set)) == (354, 101, 51)
    again = HousingDataModule(val_fraction=0.2, test_fraction=0.1, seed=3)
    again.setup("fit")
    torch.testing.assert_close(data.train_set.tensors[1], again.train_set.tensors[1])
    other = HousingDataModule(val_fraction=0.2, test_fraction=0.1, seed=4)
    other.setup("fit")
    assert not torch.equal(data.train_set.tensors[1], other.train_set.tensors[1])


def test_features_are_standardized_with_training_statistics_only():
    data = HousingDataModule()
    data.setup("fit")
    train_x = data.train_set.tensors[0]
    torch.testing.assert_close(train_x.mean(0), torch.zeros(13), atol=1e-5, rtol=0)
    torch.testing.assert_close(train_x.std(0, unbiased=False), torch.ones(13), atol=1e-5, rtol=0)
    assert data.val_set.tensors[0].mean(0).abs().max() > 1e-3  # validation rows were not used for the statistics


def test_standardize_false_gives_the_raw_table():
    data = HousingDataModule(val_fraction=0.2, test_fraction=0.1, standardize=False)
    data.setup("fit")
    table = read_housing_table(bundled_housing_path()).float()
    splits = [torch.cat(subset.tensors, 1) for subset in (data.train_set, data.val_set, data.test_set)]
    rows = torch.cat(splits)
    assert rows.shape == (506, 14)
    # every row served is a row of the table, untouched, and every table row is served once
    matches = (rows[:, None, :] == table[None, :, :]).all(-1)
    assert (matches.sum(1) >= 1).all() and matches.any(0).all()
    standardized = HousingDataModule(val_fraction=0.2, test_fraction=0.1)
    standardized.setup("fit")
    assert torch.equal(data.train_set.tensors[1], standardized.train_set.tensors[1])  # same split, same targets
    assert data.train_set.tensors[0][:, 9].mean() > 300  # TAX, in dollars per $10,000: the raw scale


@pytest.mark.parametrize(("batch_size", "num_batches"), [("full", 1), (1, 304), (32, 10)])
def test_batch_size_modes(batch_size, num_batches):
    data = HousingDataModule(batch_size=batch_size)
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert len(batches) == num_batches
    assert sum(len(x) for x, _ in batches) == 304
    assert batches[0][0].shape[1] == 13 and batches[0][1].shape[1] == 1


def test_zero_fractions_mean_no_validation_or_test_loop():
    data = HousingDataModule(val_fraction=0, test_fraction=0)
    data.setup("fit")
    assert len(data.train_set) == 506
    assert data.val_dataloader() == [] and data.test_dataloader() == []


def test_shuffled_order_depends_on_seed_and_epoch_only():
    data = HousingDataModule(batch_size=8)
    data.setup("fit")

    def first_targets(epoch):
        loader = data.train_dataloader()
        loader.sampler.set_epoch(epoch)
        return next(iter(loader))[1]

    torch.testing.assert_close(first_targets(2), first_targets(2))
    assert not torch.equal(first_targets(2), first_targets(3))


def test_split_seed_draws_another_split_and_defaults_to_the_seed():
    def split(**options):
        data = HousingDataModule(**options)
        data.setup("fit")
        return data.test_set.tensors[1]

    torch.testing.assert_close(split(seed=3), split(seed=0, split_seed=3))  # the split follows split_seed alone
    assert not torch.equal(split(seed=0), split(seed=0, split_seed=1))
    torch.testing.assert_close(split(seed=0, split_seed=1), split(seed=5, split_seed=1))


GOOD_ROW = "0.1 0 7 0 0.5 6 60 4 2 300 17 390 9 21"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{GOOD_ROW}\n{GOOD_ROW} 5\n", "line 2: expected 14 columns"),
        (f"{GOOD_ROW}\n\n0.1 0 7 0 0.5 six 60 4 2 300 17 390 9 21\n", "line 3: 'six' is not a number"),
        (f"0.1 0 7 0 0.5 nan 60 4 2 300 17 390 9 21\n{GOOD_ROW}\n", "line 1: NaN or infinite value"),
        ("", "the housing table is empty"),
        ("\n  \n", "the housing table is empty"),
    ],
)
def test_malformed_table_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "housing.data"
    path.write_text(content)
    with pytest.raises(AmalError, match=message) as raised:
        HousingDataModule(path=str(path)).setup("fit")
    assert str(path) in str(raised.value)


def test_bad_fractions_are_refused():
    with pytest.raises(AmalError, match="val_fraction"):
        HousingDataModule(val_fraction=1.2)
    with pytest.raises(AmalError, match="no training rows"):
        HousingDataModule(val_fraction=0.5, test_fraction=0.5)


def test_cli_reports_a_malformed_file_in_one_line(workdir, capsys):
    path = workdir / "broken.data"
    path.write_text(f"{GOOD_ROW}\n{GOOD_ROW}\n1 2 3\n")
    assert amal_status("fit", "--config", str(CONFIGS / "regression.yaml"), "--data.path", str(path)) != 0
    stderr = capsys.readouterr().err  # and no exception escaped
    error_lines = [line for line in stderr.splitlines() if line.startswith("amal: error:")]
    assert error_lines == [f"amal: error: {path}, line 3: expected 14 columns (13 features and MEDV), found 3"]
    assert not (workdir / "checkpoints" / "regression" / "version_0" / "last.ckpt").exists()


@pytest.mark.parametrize(("num_batches", "world_size"), [(1, 3), (2, 5), (3, 8), (10, 4), (29, 2)])
def test_every_process_gets_the_same_number_of_batches(num_batches, world_size):
    """A process left without a batch would hang the others in the gradient all-reduce."""
    from amal_lightning.data.batching import SeededBatchSampler

    shares = [
        list(SeededBatchSampler(num_batches * 4, 4, shuffle=True, rank=rank, world_size=world_size))
        for rank in range(world_size)
    ]
    assert {len(share) for share in shares} == {-(-num_batches // world_size)}
    seen = {int(index) for share in shares for batch in share for index in batch}
    assert seen == set(range(num_batches * 4))
