"""TME3: a tied-weight autoencoder, an MLP classifier and a Highway network on MNIST."""

from amal_lightning.tme3.autoencoder import Autoencoder
from amal_lightning.tme3.classifier import Classifier
from amal_lightning.tme3.highway import HighwayClassifier

__all__ = ["Autoencoder", "Classifier", "HighwayClassifier"]
