"""gan-lightning: the GANs of the classic surveys as PyTorch Lightning modules."""

__version__ = "0.1.0"
