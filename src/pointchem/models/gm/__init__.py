"""Gaussian-moment neural network (GM-NN, as implemented in apax)."""

from .hypers import GMHypers
from .model import GaussianMomentModel

__all__ = ["GMHypers", "GaussianMomentModel"]
