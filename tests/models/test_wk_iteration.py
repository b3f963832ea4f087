"""Wigner iteration (body orders ν ≥ 2) against independent references.

"haar" invariants and λ = 1 blocks against Monte-Carlo averages of exact Gaussian
overlaps ⟨ρ_A, R̂ρ_B⟩^ν over rotations and the inversion; "plain" against the
explicit CG sum; equivariance with fitted Wigner matrices, parity under inversion,
A ↔ B symmetry, reduced == full, positive semi-definiteness, derivatives, float32.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from pointchem.models.wk import DensitySettings, nu1_kernel, real_clebsch_gordan
from pointchem.models.wk.iteration import (
    HAAR_VOLUME,
    KernelBlocks,
    equivariant_kernels,
    invariant_kernels,
    wigner_step,
)
from pointchem.testing import random_rotation

from .wk_helpers import (
    EXACT,
    MC_STANDARD_ERRORS,
    SETTINGS,
    fitted_wigner_d,
    haar_rotations,
    kernel,
    overlaps,
    random_environment,
)

RELATIVE = 1e-10
"""Relative tolerance (to the block's largest entry) of exact identities, float64."""

CONVERGED = dataclasses.replace(SETTINGS, l_max=6)
"""l ≤ 6 converges the broad-Gaussian kernels of SETTINGS to ~2e-5 relative at ν ≤ 3
(l ≤ 3: 3e-2), far below the Monte-Carlo error (~4e-3)."""

SETTINGS_3 = dataclasses.replace(SETTINGS, l_max=3)
"""l_max = λ_max = 3 as in the reference configurations."""


def pair_blocks(a, species_a, b, species_b, settings, nu_max, lambda_max, norm):
    """Equivariant kernels ν = 0..ν_max of one environment pair (n_pairs = 1)."""
    k_1 = [k[None] for k in kernel(a, species_a, b, species_b, settings)]
    return equivariant_kernels(k_1, nu_max, lambda_max, norm)


def padded(envs):
    """Neighbour tables (n_env, n_max, 3) Å and (n_env, n_max) species, −1 = padding."""
    n_max = max(len(v) for v, _ in envs)
    vectors = torch.zeros(len(envs), n_max, 3, dtype=torch.float64)
    species = torch.full((len(envs), n_max), -1)
    for i, (v, z) in enumerate(envs):
        vectors[i, : len(v)] = torch.tensor(v)
        species[i, : len(z)] = torch.tensor(z)
    return vectors, species


def random_environments(rng, count):
    """``count`` environments of 2–5 neighbours of species 0 or 1."""
    sizes = rng.integers(2, 6, size=count)
    return [random_environment(rng, n, list(rng.integers(0, 2, n))) for n in sizes]


def assert_close(actual, expected, scale, what):
    """Assert max |actual − expected| ≤ RELATIVE · scale."""
    deviation = float(np.abs(np.asarray(actual) - np.asarray(expected)).max())
    assert deviation <= RELATIVE * scale, (what, deviation, scale)


def assert_within_mc(value, samples, what):
    """``value`` equals 8π² · mean(samples) within MC_STANDARD_ERRORS errors."""
    mean = HAAR_VOLUME * samples.mean(0)
    error = HAAR_VOLUME * samples.std(0) / math.sqrt(len(samples))
    assert np.abs(mean).max() > 20 * error.max(), ("Monte Carlo too noisy", what)
    deviation = np.abs(np.asarray(value) - mean) / error
    assert deviation.max() < MC_STANDARD_ERRORS, (what, value, mean, error)


# ---------------------------------------------------------------- normalisation


@pytest.fixture(scope="module")
def haar_average():
    """Two environments, their ν ≤ 3 "haar" kernels and MC overlap samples."""
    rng = np.random.default_rng(3)
    a, species_a = random_environment(rng, 4, [0, 1, 1, 0])
    b, species_b = random_environment(rng, 3, [0, 1, 0])
    rotations = haar_rotations(200_000, rng)
    proper = overlaps(a, species_a, b, species_b, rotations)  # ⟨ρ_A, R̂ρ_B⟩
    improper = overlaps(a, species_a, -b, species_b, rotations)  # ⟨ρ_A, R̂Îρ_B⟩
    kernels = pair_blocks(a, species_a, b, species_b, CONVERGED, 3, 6, "haar")
    return kernels, rotations, proper, improper


@pytest.mark.parametrize("nu", [1, 2, 3])
def test_haar_invariants_match_monte_carlo(haar_average, nu):
    """k^(ν)_{0+} = ∫dR ½[⟨ρ_A, R̂ρ_B⟩^ν + ⟨ρ_A, R̂Îρ_B⟩^ν], ∫dR = 8π²."""
    kernels, _, proper, improper = haar_average
    samples = 0.5 * (proper**nu + improper**nu)
    assert_within_mc(float(kernels[nu].invariant[0]), samples, nu)
    if nu < 3:  # no coupling path reaches the pseudoscalar (0, −) below ν = 3
        assert (0, -1) not in kernels[nu].blocks


def test_haar_pseudoscalar_matches_monte_carlo():
    """k^(3)_{0−} = ∫dR ½[⟨ρ_A, R̂ρ_B⟩³ − ⟨ρ_A, R̂Îρ_B⟩³] for chiral environments.

    Three neighbours of three species make A and B chiral, so that the pseudoscalar
    is ~7 % of the scalar; random environments give ~1e-3 of it, below the MC error.
    """
    a = np.array([[1.2, 0.0, 0.0], [0.0, 1.32, 0.0], [0.0, 0.0, 1.08]])
    b = a + np.array([[0.0, 0.03, -0.02], [0.01, 0.0, 0.02], [0.03, 0.01, 0.0]])
    species = np.array([0, 1, 2])
    rotations = haar_rotations(400_000, np.random.default_rng(5))
    proper = overlaps(a, species, b, species, rotations)
    improper = overlaps(a, species, -b, species, rotations)
    kernels = pair_blocks(a, species, b, species, CONVERGED, 3, 6, "haar")
    for sigma in (1, -1):
        samples = 0.5 * (proper**3 + sigma * improper**3)
        value = float(kernels[3].blocks[(0, sigma)][0, 0, 0])
        assert_within_mc(value, samples, sigma)


def test_haar_lambda_1_blocks_match_monte_carlo(haar_average):
    """k^(2)_{1σ} = ∫dR D¹(R) ½[⟨ρ_A, R̂ρ_B⟩² − σ⟨ρ_A, R̂Îρ_B⟩²]: both parities."""
    kernels, rotations, proper, improper = haar_average
    # Y_1 ∝ (y, z, x), so D¹(R) = P R Pᵀ with P the cyclic permutation x→y→z
    permutation = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    wigner_1 = permutation @ rotations @ permutation.T
    for sigma in (1, -1):
        weights = 0.5 * (proper**2 - sigma * improper**2)
        block = kernels[2].blocks[(1, sigma)][0].numpy()
        assert_within_mc(block, wigner_1 * weights[:, None, None], sigma)


def test_plain_differs_from_haar_by_channel_weights(rng):
    """For a single l channel, ν = 2 plain / haar = 8π²/(2l+1)² (λ = 0)."""
    a, species_a = random_environment(rng, 4, [0, 1, 1, 0])
    b, species_b = random_environment(rng, 3, [0, 1, 0])
    k_1 = [k[None] for k in kernel(a, species_a, b, species_b, SETTINGS_3)]
    for ell in range(4):
        single = [k if i == ell else torch.zeros_like(k) for i, k in enumerate(k_1)]
        haar = wigner_step(KernelBlocks.from_nu1(single), single, 3, "haar")
        plain = wigner_step(KernelBlocks.from_nu1(single), single, 3, "plain")
        ratio = plain.invariant / haar.invariant
        assert float(ratio) == pytest.approx(
            HAAR_VOLUME / (2 * ell + 1) ** 2, rel=EXACT
        )


def explicit_step(k_nu: KernelBlocks, k_1, lambda_max, weight):
    """The §1.3 formula, one (l1, σ1, l2, λ) term at a time (numpy, one pair)."""
    out: dict[tuple[int, int], np.ndarray] = {}
    for (l1, sigma_1), block in k_nu.blocks.items():
        for l2, k_l2 in enumerate(k_1):
            for lam in range(abs(l1 - l2), min(l1 + l2, lambda_max) + 1):
                c = real_clebsch_gordan(l1, l2, lam).numpy()
                term = np.einsum(
                    "abm,cdn,ac,bd->mn", c, c, block[0].numpy(), k_l2[0].numpy()
                )
                key = (lam, sigma_1 * (-1) ** (l1 + l2 + lam))
                out[key] = out.get(key, 0.0) + weight(l1, l2, lam) * term
    return out


@pytest.mark.parametrize("normalisation", ["plain", "haar"])
def test_step_is_the_explicit_cg_formula(rng, normalisation):
    a, species_a = random_environment(rng, 4, [0, 1, 1, 0])
    b, species_b = random_environment(rng, 3, [0, 1, 0])
    kernels = pair_blocks(a, species_a, b, species_b, SETTINGS_3, 3, 3, normalisation)

    def weight(l1, l2, lam):
        if normalisation == "plain":
            return 1.0
        return (2 * l1 + 1) * (2 * l2 + 1) / (HAAR_VOLUME * (2 * lam + 1))

    k_1 = [kernels[1].blocks[(ell, 1)] for ell in range(4)]
    for nu in (2, 3):
        expected = explicit_step(kernels[nu - 1], k_1, 3, weight)
        assert set(kernels[nu].blocks) == set(expected)
        for key, block in kernels[nu].blocks.items():
            scale = np.abs(expected[key]).max()
            assert scale > 0
            assert_close(block[0].numpy(), expected[key], scale, (nu, key))


# ---------------------------------------------------------------- symmetries


def test_blocks_equivariant_under_rotations(rng, device):
    """k(RA, B) = D^λ(R) k(A, B), k(A, RB) = k(A, B) D^λ(R)ᵀ, λ = 1, 2, both σ."""
    a, species_a = random_environment(rng, 5, [0, 1, 1, 0, 1])
    b, species_b = random_environment(rng, 4, [1, 0, 1, 0])
    rotation = random_rotation(rng)
    wigner = {lam: fitted_wigner_d(rotation, lam) for lam in (1, 2)}

    def blocks(va, vb):
        return pair_blocks(
            torch.tensor(va, device=device),
            species_a,
            torch.tensor(vb, device=device),
            species_b,
            SETTINGS_3,
            3,
            3,
            "haar",
        )

    plain = blocks(a, b)
    left = blocks(a @ rotation.T, b)
    right = blocks(a, b @ rotation.T)
    for nu in (2, 3):
        for lam in (1, 2):
            d = wigner[lam]
            for sigma in (1, -1):
                k = plain[nu].blocks[(lam, sigma)][0].cpu().numpy()
                scale = np.abs(k).max()
                assert np.abs(d @ k - k).max() > 1e-3 * scale  # the test has power
                k_left = left[nu].blocks[(lam, sigma)][0].cpu().numpy()
                k_right = right[nu].blocks[(lam, sigma)][0].cpu().numpy()
                assert_close(k_left, d @ k, scale, (nu, lam, sigma, "left"))
                assert_close(k_right, k @ d.T, scale, (nu, lam, sigma, "right"))


def test_parity_under_inversion(rng):
    """k_{λσ}(A, −B) = k_{λσ}(−A, B) = σ(−1)^λ k_{λσ}(A, B).

    Beyond the (−1)^λ of a proper tensor, σ = −1 blocks (pseudotensors) change sign
    under inverting one environment and σ = +1 blocks do not.
    """
    a, species_a = random_environment(rng, 5, [0, 1, 1, 0, 1])
    b, species_b = random_environment(rng, 4, [1, 0, 1, 0])
    plain = pair_blocks(a, species_a, b, species_b, SETTINGS_3, 3, 3, "haar")
    inverted_b = pair_blocks(a, species_a, -b, species_b, SETTINGS_3, 3, 3, "haar")
    inverted_a = pair_blocks(-a, species_a, b, species_b, SETTINGS_3, 3, 3, "haar")
    keys = set(plain[3].blocks)
    assert {(0, -1), (1, -1), (2, -1), (3, -1)} <= keys
    for nu in (2, 3):
        for (lam, sigma), block in plain[nu].blocks.items():
            k = block[0].numpy()
            scale = np.abs(k).max()
            assert scale > 1e-8, (nu, lam, sigma)
            expected = sigma * (-1) ** lam * k
            for inverted in (inverted_a, inverted_b):
                actual = inverted[nu].blocks[(lam, sigma)][0].numpy()
                assert_close(actual, expected, scale, (nu, lam, sigma))


@pytest.mark.parametrize("normalisation", ["haar", "plain"])
def test_swapping_environments_transposes_blocks(rng, normalisation):
    vectors, species = padded(random_environments(rng, 3))
    pairs = torch.tensor([[0, 1], [1, 2], [2, 0]])
    k_ab = nu1_kernel(vectors, species, vectors, species, pairs, SETTINGS_3)
    k_ba = nu1_kernel(vectors, species, vectors, species, pairs.flip(1), SETTINGS_3)
    forward = equivariant_kernels(k_ab, 3, 3, normalisation)
    backward = equivariant_kernels(k_ba, 3, 3, normalisation)
    for nu in (2, 3):
        assert set(forward[nu].blocks) == set(backward[nu].blocks)
        for key, block in forward[nu].blocks.items():
            k = block.numpy()
            scale = np.abs(k).max()
            assert np.abs(k - k.transpose(0, 2, 1)).max() > 1e-3 * scale or key[0] == 0
            transposed = backward[nu].blocks[key].numpy().transpose(0, 2, 1)
            assert_close(transposed, k, scale, (nu, key))


# ---------------------------------------------------------------- invariants


@pytest.fixture(scope="module")
def all_pairs():
    """ν = 1 blocks (l_max = 3) of all 100 ordered pairs of 10 environments."""
    envs = random_environments(np.random.default_rng(11), 10)
    vectors, species = padded(envs)
    index = torch.arange(len(envs))
    pairs = torch.cartesian_prod(index, index)
    return nu1_kernel(vectors, species, vectors, species, pairs, SETTINGS_3)


@pytest.mark.parametrize("normalisation", ["haar", "plain"])
def test_reduced_equals_full(all_pairs, normalisation):
    """Equal for λ_max ≥ l_max (module docstring); λ_max < l_max differs at ν = 4."""
    reduced = invariant_kernels(all_pairs, 5, 3, normalisation=normalisation)
    full = invariant_kernels(all_pairs, 5, 3, mode="full", normalisation=normalisation)
    assert reduced.shape == (6, 100)
    assert bool((reduced[0] == 1).all())
    for nu in range(6):
        scale = float(full[nu].abs().max())
        assert_close(reduced[nu].numpy(), full[nu].numpy(), scale, nu)
    low_reduced = invariant_kernels(all_pairs, 4, 1, normalisation=normalisation)
    low_full = invariant_kernels(
        all_pairs, 4, 1, mode="full", normalisation=normalisation
    )
    for nu in range(4):
        scale = float(low_full[nu].abs().max())
        assert_close(low_reduced[nu].numpy(), low_full[nu].numpy(), scale, ("low", nu))
    gap = (low_reduced[4] - low_full[4]).abs().max() / low_full[4].abs().max()
    assert float(gap) > 1e-3


@pytest.mark.parametrize("normalisation", ["haar", "plain"])
def test_invariant_kernel_matrices_are_psd(all_pairs, normalisation):
    invariants = invariant_kernels(all_pairs, 4, 3, normalisation=normalisation)
    for nu in range(1, 5):
        matrix = invariants[nu].reshape(10, 10).numpy()
        scale = np.abs(matrix).max()
        assert_close(matrix, matrix.T, scale, ("symmetric", nu))
        eigenvalues = np.linalg.eigvalsh(0.5 * (matrix + matrix.T))
        assert eigenvalues.min() >= -1e-10 * eigenvalues.max(), (nu, eigenvalues)


# ---------------------------------------------------------------- derivatives, dtypes


def test_invariants_second_derivatives(rng):
    """Gradcheck and gradgradcheck through ν = 1 and the iterations (forces)."""
    (a, species_a), (b, species_b) = random_environments(rng, 2)
    settings = DensitySettings(**{**dataclasses.asdict(SETTINGS), "l_max": 2})

    def invariants(va, vb):
        k_1 = [k[None] for k in kernel(va, species_a, vb, species_b, settings)]
        return invariant_kernels(k_1, 4, 2, normalisation="haar")[1:, 0]

    inputs = (torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True))
    assert torch.autograd.gradcheck(invariants, inputs)
    assert torch.autograd.gradgradcheck(invariants, inputs)


def test_float32_runs(all_pairs):
    high = invariant_kernels(all_pairs, 4, 3, normalisation="haar")
    low = invariant_kernels([k.float() for k in all_pairs], 4, 3, normalisation="haar")
    assert low.dtype == torch.float32
    np.testing.assert_allclose(low.double().numpy(), high.numpy(), rtol=1e-4)


def test_rejects_bad_arguments(all_pairs):
    with pytest.raises(ValueError, match="normalisation"):
        invariant_kernels(all_pairs, 3, 3, normalisation="unit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        invariant_kernels(all_pairs, 3, 3, mode="half", normalisation="haar")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        KernelBlocks(1, {(0, 1): all_pairs[0], (1, 1): all_pairs[2]})
    with pytest.raises(ValueError, match="differ"):
        wigner_step(KernelBlocks.from_nu1(all_pairs), [all_pairs[0][:3]], 2, "haar")
