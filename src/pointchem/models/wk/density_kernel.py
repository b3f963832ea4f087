"""The ν = 1 equivariant Wigner kernel between atomic environments, in closed form.

An environment A_i is the set of neighbour vectors r_j (Å, centre excluded) with
species Z_j. Its species-resolved neighbour density is

    ρ^a_A(x) = Σ_{j: Z_j = a} f_c(r_j) g_{σ(r_j)}(x − r_j),
    g_σ(x) = (2πσ²)^{−3/2} exp(−|x|²/2σ²)   (Å⁻³),   σ(r) = C exp(r / L_R)  (Å),

with the cosine switch f_c of :func:`pointchem.nn.cutoffs.cosine_switch`. The ν = 1
kernel is the rotation-integrated overlap, summed over neighbour species a,

    k_l(A, B)_{m m′} = ∫ dR D^l_{m m′}(R) Σ_a ⟨ρ^a_A, R̂ ρ^a_B⟩        (Å⁻³),

with the Haar measure normalised to ∫ dR = 8π², real Wigner matrices defined by
Y_l(R r̂) = D^l(R) Y_l(r̂) and (R̂ρ)(x) = ρ(Rᵀx). Expanding the Gaussian overlap
exp(x r̂·r̂′) in spherical harmonics and integrating with ∫ dR D^l D^l′ =
8π²/(2l+1) δ gives the basis-free closed form (methods.md §1.2(a)): with r = |r_j|,
r′ = |r′_j′|, s² = σ(r)² + σ(r′)², A = 1/s² (Å⁻²) and x = A r r′,

    k_l(A, B)_{m m′} = Σ_{j j′: Z_j = Z′_j′} 32π³/(2l+1) (A/2π)^{3/2}
                       exp(−A (r − r′)²/2) ĩ_l(x) Y_lm(r̂_j) Y_lm′(r̂′_j′) f_c(r) f_c(r′),

ĩ_l(x) = e^{−x} i_l(x). The 8π²/(2l+1) Haar factor (inside 32π³/(2l+1)) is included:
k_0 is exactly ∫ dR ⟨ρ_A, R̂ρ_B⟩ and k_l(RA, B) = D^l(R) k_l(A, B),
k_l(A, RB) = k_l(A, B) D^l(R)ᵀ, k_l(B, A) = k_l(A, B)ᵀ. No (−1)^l factor appears
with the real harmonics of :mod:`pointchem.models.wk.spherical`.

The kernel knows nothing about the centre atoms: list only pairs of environments
whose centres have the same species.
"""

from __future__ import annotations

import dataclasses

import torch

__all__ = ["DensitySettings", "gaussian_width", "nu1_kernel"]

_CHUNK_ENTRIES = 2**20
"""Default budget of neighbour pairs (env pairs × n_max_a × n_max_b) per chunk; each
float64 temporary of a chunk is then ~8 MiB × (l_max + 2)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DensitySettings:
    """Parameters of the neighbour density behind the ν = 1 kernel.

    Attributes:
        l_max: largest angular degree l of the kernel blocks, 0 ≤ l_max ≤ 12.
        cutoff: r_c in Å, > 0; neighbours at r ≥ r_c do not contribute.
        cutoff_width: w in Å, 0 < w ≤ r_c; f_c switches from 1 to 0 on [r_c − w, r_c].
        width_scale: C in Å, > 0; Gaussian width σ(r) = C exp(r / L_R).
        width_length: L_R in Å, > 0 (use math.inf for a constant width C).
    """

    l_max: int = 3
    cutoff: float = 5.0
    cutoff_width: float = 0.5
    width_scale: float = 0.1
    width_length: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.l_max <= 12:
            raise ValueError(f"l_max must be in [0, 12], got {self.l_max}")
        if not self.cutoff > 0:
            raise ValueError(f"cutoff must be > 0 Å, got {self.cutoff}")
        if not 0 < self.cutoff_width <= self.cutoff:
            raise ValueError(
                f"cutoff_width must be in (0, cutoff={self.cutoff}] Å, "
                f"got {self.cutoff_width}"
            )
        if not self.width_scale > 0:
            raise ValueError(f"width_scale must be > 0 Å, got {self.width_scale}")
        if not self.width_length > 0:
            raise ValueError(f"width_length must be > 0 Å, got {self.width_length}")


def gaussian_width(distances: torch.Tensor, settings: DensitySettings) -> torch.Tensor:
    """σ(r) = C exp(r / L_R) in Å for distances r in Å (any shape)."""
    return settings.width_scale * torch.exp(distances / settings.width_length)


def _check_inputs(vectors: torch.Tensor, species: torch.Tensor, name: str) -> None:
    """Raise ValueError if a neighbour table has the wrong shapes."""
    if vectors.ndim != 3 or vectors.shape[-1] != 3:
        raise ValueError(
            f"vectors_{name} must be (n_env, n_max, 3), got {vectors.shape}"
        )
    if species.shape != vectors.shape[:2]:
        raise ValueError(
            f"species_{name} must be (n_env, n_max) = {tuple(vectors.shape[:2])}, "
            f"got {tuple(species.shape)}"
        )


def nu1_kernel(
    vectors_a: torch.Tensor,
    species_a: torch.Tensor,
    vectors_b: torch.Tensor,
    species_b: torch.Tensor,
    pairs: torch.Tensor,
    settings: DensitySettings,
    chunk_size: int | None = None,
) -> list[torch.Tensor]:
    """ν = 1 equivariant kernel blocks k_l(A_p, B_p) for a list of environment pairs.

    Formula, units and conventions in the module docstring. Everything is plain
    torch on the device and dtype of ``vectors_a``, so autograd gives forces
    (derivatives w.r.t. ``vectors_a`` or ``vectors_b``) and second derivatives.
    Padding is dropped and only same-species neighbour pairs are visited
    (:func:`~pointchem.models.wk.ragged.ragged_nu1_kernel`; the first, padded
    implementation is kept in ``tests/models/wk_reference.py`` as a reference).
    Pairs are processed in chunks to bound the memory of the forward pass; with
    autograd the graph of every chunk is kept, so for derivative kernels call this
    per chunk of pairs and reduce before the next call.

    Args:
        vectors_a: (n_env_a, n_max_a, 3) neighbour vectors r_j − r_i in Å; real
            neighbours must be non-zero vectors, padding entries are ignored.
        species_a: (n_env_a, n_max_a) int neighbour species, −1 for padding.
        vectors_b: (n_env_b, n_max_b, 3) as ``vectors_a``, same dtype and device.
        species_b: (n_env_b, n_max_b) as ``species_a``.
        pairs: (n_pairs, 2) int64; row p = (index into A, index into B). List only
            pairs whose centre atoms have the same species.
        settings: density parameters (l_max, cutoff, widths).
        chunk_size: environment pairs per chunk; by default as many as fit in
            2²⁰ neighbour pairs.

    Returns:
        List of l_max + 1 tensors; entry l has shape (n_pairs, 2l+1, 2l+1) in Å⁻³,
        rows indexed by m of environment A, columns by m′ of environment B.
    """
    _check_inputs(vectors_a, species_a, "a")
    _check_inputs(vectors_b, species_b, "b")
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"pairs must be (n_pairs, 2), got {tuple(pairs.shape)}")
    if chunk_size is None:
        per_pair = max(1, vectors_a.shape[1] * vectors_b.shape[1])
        chunk_size = max(1, _CHUNK_ENTRIES // per_pair)
    from .ragged import ragged_nu1_kernel, table_terms  # ragged imports this module

    valid = torch.cat([species_a[species_a >= 0], species_b[species_b >= 0]])
    known = torch.unique(valid)
    size = int(known.max()) + 1 if known.numel() else 1
    code_of = torch.zeros(size, dtype=torch.int64, device=known.device)
    code_of[known] = torch.arange(known.shape[0], device=known.device)
    n_species = max(1, known.shape[0])
    a = table_terms(vectors_a, species_a, code_of, n_species, settings)
    b = table_terms(vectors_b, species_b, code_of, n_species, settings)
    parts: list[list[torch.Tensor]] = [[] for _ in range(settings.l_max + 1)]
    for start in range(0, pairs.shape[0], chunk_size):
        chunk = pairs[start : start + chunk_size]
        blocks = ragged_nu1_kernel(a, b, chunk, settings.l_max)
        for ell, block in enumerate(blocks):
            parts[ell].append(block)
    return [
        torch.cat(blocks)
        if blocks
        else vectors_a.new_zeros((0, 2 * ell + 1, 2 * ell + 1))
        for ell, blocks in enumerate(parts)
    ]
