"""LightningDataModules for the labs' data sets."""

from amal_lightning.data.housing import HousingDataModule

__all__ = ["HousingDataModule"]
