"""Wigner kernels (WK): body-ordered kernel regression without a basis.

Real spherical harmonics and scaled Bessel functions (:mod:`.spherical`), real
Clebsch–Gordan coefficients (:mod:`.clebsch_gordan`), the closed-form ν = 1
equivariant kernel between atomic environments (:mod:`.density_kernel`, evaluated
on ragged neighbour lists by :mod:`.ragged`), the
Wigner iteration to higher body orders (:mod:`.iteration`), environments and
farthest-point sampling (:mod:`.sparse`), the sparse model (:mod:`.model`,
hyperparameters in :mod:`.hypers`) and its fit on energies and forces
(:mod:`.fit`, :mod:`.regression`).
"""

from ...nn.cutoffs import cosine_switch
from .clebsch_gordan import (
    complex_clebsch_gordan,
    complex_to_real_matrix,
    real_clebsch_gordan,
)
from .density_kernel import DensitySettings, gaussian_width, nu1_kernel
from .hypers import WKHypers
from .iteration import (
    KernelBlocks,
    equivariant_kernels,
    invariant_kernels,
    wigner_step,
)
from .model import WignerKernelModel
from .spherical import scaled_spherical_bessel_i, spherical_harmonics

__all__ = [
    "DensitySettings",
    "KernelBlocks",
    "WKHypers",
    "WignerKernelModel",
    "complex_clebsch_gordan",
    "complex_to_real_matrix",
    "cosine_switch",
    "equivariant_kernels",
    "gaussian_width",
    "invariant_kernels",
    "nu1_kernel",
    "real_clebsch_gordan",
    "scaled_spherical_bessel_i",
    "spherical_harmonics",
    "wigner_step",
]
