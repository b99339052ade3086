"""Questions the ``amal`` command asks of any datamodule: is its data here, is there a test split."""

from typing import Any

import lightning as L


def fetch_for_offline_use(datamodule: L.LightningDataModule) -> None:
    """Gets the datamodule's data now and checks it reads, for compute nodes without a network.

    A datamodule with files to download has a ``fetch`` method, which never falls back to a
    bundled sample: the compute nodes need the real data.
    """
    getattr(datamodule, "fetch", datamodule.prepare_data)()
    datamodule.setup("fit")


def has_test_data(datamodule: Any) -> bool:
    """Whether a datamodule has a non-empty test split."""
    if datamodule is None or not callable(getattr(datamodule, "test_dataloader", None)):
        return False
    datamodule.setup("test")
    return len(datamodule.test_dataloader()) > 0
