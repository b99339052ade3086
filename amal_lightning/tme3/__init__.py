"""TME3: a tied-weight autoencoder, an MLP classifier and a Highway network on MNIST, and what their
runs draw (TensorBoard pictures and PR curves, PNG figures in the run's log folder)."""

from amal_lightning.tme3.autoencoder import Autoencoder
from amal_lightning.tme3.autoencoder_figures import AutoencoderFigures
from amal_lightning.tme3.classifier import Classifier
from amal_lightning.tme3.classifier_figures import ClassifierFigures
from amal_lightning.tme3.highway import HighwayClassifier
from amal_lightning.tme3.pictures import AutoencoderPictures
from amal_lightning.tme3.pr_curves import PRCurves

__all__ = [
    "Autoencoder",
    "AutoencoderFigures",
    "AutoencoderPictures",
    "Classifier",
    "ClassifierFigures",
    "HighwayClassifier",
    "PRCurves",
]
