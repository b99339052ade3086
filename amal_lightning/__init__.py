"""The first three AMAL labs (Sorbonne, Master DAC) as a PyTorch Lightning project."""

__version__ = "0.1.0"
