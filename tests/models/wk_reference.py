"""The first (padded-table) implementation of the WK ν = 1 kernel and model energy.

Kept as an independent reference for the ragged fast path of
:mod:`pointchem.models.wk.ragged` and :class:`~pointchem.models.wk.WignerKernelModel`:
every environment pair is evaluated on its full n_max_a × n_max_b neighbour table,
padding and different-species neighbour pairs masked by zero weights.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from pointchem.graph import AtomicGraph, edge_vectors
from pointchem.models.wk import WignerKernelModel, invariant_kernels
from pointchem.models.wk.density_kernel import DensitySettings, gaussian_width
from pointchem.models.wk.sparse import graph_environments, same_centre_pairs
from pointchem.models.wk.spherical import (
    scaled_spherical_bessel_i,
    spherical_harmonics,
)
from pointchem.nn.cutoffs import cosine_switch


@dataclasses.dataclass(frozen=True)
class _Neighbours:
    """Per-neighbour terms of a batch of environments (leading dims: (n_env, n_max)).

    Attributes:
        distances: r in Å.
        variances: σ(r)² in Å².
        weights: f_c(r), 0 for padding, dimensionless.
        species: Z (int), −1 for padding.
        harmonics: per l, (n_env, n_max, 2l+1) real Y_lm(r̂).
    """

    distances: torch.Tensor
    variances: torch.Tensor
    weights: torch.Tensor
    species: torch.Tensor
    harmonics: list[torch.Tensor]

    def select(self, index: torch.Tensor) -> _Neighbours:
        """The environments ``index`` (n,), in that order."""
        return _Neighbours(
            self.distances[index],
            self.variances[index],
            self.weights[index],
            self.species[index],
            [y[index] for y in self.harmonics],
        )


def neighbour_terms(
    vectors: torch.Tensor, species: torch.Tensor, settings: DensitySettings
) -> _Neighbours:
    """Distances, widths, cutoff weights and Y_lm of padded neighbour tables.

    Padding entries (species < 0) are replaced by a unit vector with weight 0, so
    their values and gradients are finite and do not contribute.
    """
    valid = species >= 0
    placeholder = torch.zeros_like(vectors)
    placeholder[..., 0] = 1.0
    safe = torch.where(valid[..., None], vectors, placeholder)
    distances = torch.linalg.vector_norm(safe, dim=-1)
    weights = cosine_switch(distances, settings.cutoff, settings.cutoff_width)
    weights = torch.where(valid, weights, torch.zeros_like(weights))
    flat = spherical_harmonics(safe.reshape(-1, 3), settings.l_max)
    harmonics = [y.reshape(*species.shape, y.shape[-1]) for y in flat]
    variances = gaussian_width(distances, settings) ** 2
    return _Neighbours(distances, variances, weights, species, harmonics)


def pair_blocks(
    a: _Neighbours, b: _Neighbours, settings: DensitySettings
) -> list[torch.Tensor]:
    """Kernel blocks for aligned environment pairs (a[p], b[p]), p = 0..P−1.

    Returns:
        Per l, (P, 2l+1, 2l+1) in Å⁻³.
    """
    precision = 1.0 / (a.variances[:, :, None] + b.variances[:, None, :])
    same_species = (a.species[:, :, None] == b.species[:, None, :]).to(precision)
    difference = a.distances[:, :, None] - b.distances[:, None, :]
    gaussian = (precision / (2.0 * math.pi)) ** 1.5 * torch.exp(
        -0.5 * precision * difference * difference
    )
    weights = a.weights[:, :, None] * b.weights[:, None, :] * same_species
    argument = precision * a.distances[:, :, None] * b.distances[:, None, :]
    bessel = scaled_spherical_bessel_i(argument, settings.l_max)
    radial = gaussian * weights
    blocks = []
    for ell in range(settings.l_max + 1):
        coupling = radial * bessel[..., ell] * (32.0 * math.pi**3 / (2 * ell + 1))
        right = torch.bmm(coupling, b.harmonics[ell])
        blocks.append(torch.bmm(a.harmonics[ell].transpose(1, 2), right))
    return blocks


def padded_nu1_kernel(
    vectors_a: torch.Tensor,
    species_a: torch.Tensor,
    vectors_b: torch.Tensor,
    species_b: torch.Tensor,
    pairs: torch.Tensor,
    settings: DensitySettings,
) -> list[torch.Tensor]:
    """k_l(A_p, B_p) from padded tables (n_env, n_max, 3) and (n_env, n_max), Å⁻³."""
    a = neighbour_terms(vectors_a, species_a, settings)
    b = neighbour_terms(vectors_b, species_b, settings)
    return pair_blocks(a.select(pairs[:, 0]), b.select(pairs[:, 1]), settings)


def reference_energies(model: WignerKernelModel, graph: AtomicGraph) -> torch.Tensor:
    """Per-atom energies (eV) as the first WignerKernelModel.forward computed them."""
    hypers = model.hypers
    mine = graph_environments(graph, edge_vectors(graph), model.cutoff)
    support = model.support()
    pairs = same_centre_pairs(mine.centres, support.centres)
    k_1 = padded_nu1_kernel(
        mine.vectors,
        mine.species,
        support.vectors,
        support.species,
        pairs,
        hypers.density(),
    )
    kernels = invariant_kernels(
        k_1,
        hypers.nu_max,
        hypers.lambda_max,
        mode=hypers.mode,  # type: ignore[arg-type]
        normalisation=hypers.normalisation,  # type: ignore[arg-type]
    )
    contributions = (model.mixture() @ kernels) * model.weights[pairs[:, 1]]
    energies = graph.positions.new_zeros(graph.n_atoms)
    return energies.index_add(0, pairs[:, 0], contributions)
