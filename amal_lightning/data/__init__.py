"""LightningDataModules for the labs' data sets."""

from amal_lightning.data.housing import HousingDataModule
from amal_lightning.data.mnist import MNISTDataModule
from amal_lightning.data.random_regression import RandomRegressionDataModule

__all__ = ["HousingDataModule", "MNISTDataModule", "RandomRegressionDataModule"]
