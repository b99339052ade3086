"""TME3: a tied-weight autoencoder and an MLP classifier on MNIST."""

from amal_lightning.tme3.autoencoder import Autoencoder
from amal_lightning.tme3.classifier import Classifier
from amal_lightning.tme3.highway import HighwayClassifier
from amal_lightning.tme3.pictures import AutoencoderPictures

__all__ = ["Autoencoder", "AutoencoderPictures", "Classifier", "HighwayClassifier"]
