"""LightningDataModules for the labs' data sets."""

from amal_lightning.data.housing import HousingDataModule
from amal_lightning.data.mnist import MNISTDataModule

__all__ = ["HousingDataModule", "MNISTDataModule"]
