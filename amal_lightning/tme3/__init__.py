"""TME3: a tied-weight autoencoder, an MLP classifier and a Highway network on MNIST; their TensorBoard callbacks."""

from amal_lightning.tme3.autoencoder import Autoencoder
from amal_lightning.tme3.classifier import Classifier
from amal_lightning.tme3.highway import HighwayClassifier
from amal_lightning.tme3.pictures import AutoencoderPictures
from amal_lightning.tme3.pr_curves import PRCurves

__all__ = ["Autoencoder", "AutoencoderPictures", "Classifier", "HighwayClassifier", "PRCurves"]
