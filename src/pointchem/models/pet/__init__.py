"""Point Edge Transformer (PET): an unconstrained transformer over neighbour edges."""

from .hypers import PETHypers
from .model import PointEdgeTransformer

__all__ = ["PETHypers", "PointEdgeTransformer"]
