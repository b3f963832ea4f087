"""Mathematical foundations of the Wigner kernels, against independent references.

Real Y_lm against scipy's complex harmonics and by quadrature; ĩ_l against scipy,
mpmath and the Hankel asymptotic series; complex Clebsch–Gordan coefficients against
sympy; real ones through equivariance with Wigner matrices fitted by least squares;
the ν = 1 kernel against a Monte-Carlo Haar average of exact Gaussian overlaps.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.special
import torch
from sympy.physics.quantum.cg import CG

from pointchem.models.wk import (
    DensitySettings,
    complex_clebsch_gordan,
    nu1_kernel,
    real_clebsch_gordan,
    scaled_spherical_bessel_i,
    spherical_harmonics,
)
from pointchem.testing import random_rotation

from .wk_helpers import (
    EQUIVARIANCE,
    EXACT,
    MC_STANDARD_ERRORS,
    SETTINGS,
    fitted_wigner_d,
    haar_rotations,
    kernel,
    overlaps,
    random_environment,
    scipy_real_harmonics,
)

# ---------------------------------------------------------------- harmonics


def test_harmonics_match_scipy(rng):
    vectors = rng.normal(size=(64, 3)) * rng.uniform(0.1, 10.0, size=(64, 1))
    ours = spherical_harmonics(torch.tensor(vectors), 6)
    for ell in range(7):
        reference = scipy_real_harmonics(vectors, ell)
        np.testing.assert_allclose(
            ours[ell].numpy(), reference, atol=EXACT, err_msg=f"l={ell}"
        )


def test_harmonics_orthonormal_by_quadrature():
    l_max = 6
    nodes, weights = np.polynomial.legendre.leggauss(l_max + 2)
    n_azimuth = 2 * l_max + 2
    azimuth = 2 * math.pi * np.arange(n_azimuth) / n_azimuth
    cos_t, phi = np.meshgrid(nodes, azimuth, indexing="ij")
    sin_t = np.sqrt(1 - cos_t**2)
    points = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], -1)
    quadrature = np.repeat(weights, n_azimuth) * (2 * math.pi / n_azimuth)
    ys = torch.cat(spherical_harmonics(torch.tensor(points.reshape(-1, 3)), l_max), 1)
    gram = ys.numpy().T @ (quadrature[:, None] * ys.numpy())
    np.testing.assert_allclose(gram, np.eye((l_max + 1) ** 2), atol=EXACT)


def test_harmonics_second_derivatives(rng):
    vectors = torch.tensor(rng.normal(size=(5, 3)), requires_grad=True)

    def stacked(v):
        return torch.cat(spherical_harmonics(v, 4), 1)

    assert torch.autograd.gradcheck(stacked, (vectors,))
    assert torch.autograd.gradgradcheck(stacked, (vectors,))


def test_harmonics_zero_vector_is_finite():
    vectors = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    ys = spherical_harmonics(vectors, 3)
    (grad,) = torch.autograd.grad(sum(y.sum() for y in ys[1:]), vectors)
    assert torch.allclose(ys[0], torch.full_like(ys[0], 1 / math.sqrt(4 * math.pi)))
    assert all(bool((y == 0).all()) for y in ys[1:])
    assert bool(torch.isfinite(grad).all())


def test_harmonics_float32_and_device(device, rng):
    vectors = rng.normal(size=(32, 3))
    reference = spherical_harmonics(torch.tensor(vectors), 5)
    ours = spherical_harmonics(
        torch.tensor(vectors, dtype=torch.float32, device=device), 5
    )
    for low, high in zip(ours, reference, strict=True):
        assert low.dtype == torch.float32
        np.testing.assert_allclose(low.cpu().double().numpy(), high.numpy(), atol=1e-5)


# ---------------------------------------------------------------- Bessel ĩ_l


def test_scaled_bessel_matches_scipy():
    x = np.logspace(-8, math.log10(700.0), 400)
    ours = scaled_spherical_bessel_i(torch.tensor(x), 8).numpy()
    for ell in range(9):
        reference = scipy.special.spherical_in(ell, x) * np.exp(-x)
        np.testing.assert_allclose(
            ours[:, ell], reference, rtol=EXACT, err_msg=f"l={ell}"
        )


@pytest.mark.parametrize("x", [1e3, 1e4])
def test_scaled_bessel_large_argument(x):
    """Hankel series 1/(2x) Σ_k (−1)^k a_k(ν)/x^k (μ = 4ν², ν = l + ½) and mpmath."""
    ours = scaled_spherical_bessel_i(torch.tensor([x], dtype=torch.float64), 6)[0]
    for ell in range(7):
        mu, term, series = 4 * (ell + 0.5) ** 2, 1.0, 1.0
        for k in range(1, 12):
            term *= -(mu - (2 * k - 1) ** 2) / (k * 8 * x)
            series += term
        with mpmath.workdps(40):
            exact = mpmath.sqrt(mpmath.pi / (2 * x)) * mpmath.besseli(ell + 0.5, x)
            exact = float(exact * mpmath.exp(-x))
        assert float(ours[ell]) == pytest.approx(series / (2 * x), rel=EXACT)
        assert float(ours[ell]) == pytest.approx(exact, rel=EXACT)


def test_scaled_bessel_derivatives():
    # both sides of the series/closed-form switch at 10, near 0 and very large x
    x = torch.tensor(
        [1e-3, 0.3, 2.0, 9.99, 10.01, 17.0, 60.0, 1e3], dtype=torch.float64
    ).requires_grad_()

    def bessel(t):
        return scaled_spherical_bessel_i(t, 4)

    assert torch.autograd.gradcheck(bessel, (x,))
    assert torch.autograd.gradgradcheck(bessel, (x,))
    xs = x.detach().numpy()[:-1]  # scipy's i_l overflows beyond x ≈ 700
    for ell in range(5):
        (slope,) = torch.autograd.grad(bessel(x)[:-1, ell].sum(), x)
        i_l = scipy.special.spherical_in(ell, xs)
        di_l = scipy.special.spherical_in(ell, xs, derivative=True)
        np.testing.assert_allclose(
            slope.numpy()[:-1], np.exp(-xs) * (di_l - i_l), atol=EXACT
        )


def test_scaled_bessel_float32():
    x = np.logspace(-6, 3, 50)
    low = scaled_spherical_bessel_i(torch.tensor(x, dtype=torch.float32), 4)
    high = scaled_spherical_bessel_i(torch.tensor(x), 4)
    assert low.dtype == torch.float32
    np.testing.assert_allclose(
        low.double().numpy(), high.numpy(), rtol=1e-5, atol=1e-30
    )


# ---------------------------------------------------------------- Clebsch–Gordan


def test_complex_clebsch_gordan_matches_sympy():
    for l1 in range(4):
        for l2 in range(4):
            for lam in range(abs(l1 - l2), l1 + l2 + 1):
                for m1 in range(-l1, l1 + 1):
                    for m2 in range(-l2, l2 + 1):
                        if abs(m1 + m2) > lam:
                            continue
                        args = (l1, m1, l2, m2, lam, m1 + m2)
                        expected = float(CG(*args).doit())
                        assert complex_clebsch_gordan(*args) == pytest.approx(
                            expected, abs=EXACT
                        ), args
    assert complex_clebsch_gordan(1, 1, 1, 0, 2, 0) == 0.0


def test_real_clebsch_gordan_equivariance():
    l_max = 4
    for seed in range(3):
        rotation = random_rotation(np.random.default_rng(seed))
        wigner = [fitted_wigner_d(rotation, ell) for ell in range(l_max + 1)]
        for l1 in range(l_max + 1):
            for l2 in range(l_max + 1):
                for lam in range(abs(l1 - l2), min(l1 + l2, l_max) + 1):
                    c = real_clebsch_gordan(l1, l2, lam).numpy()
                    assert np.abs(c).max() > 0.1, (l1, l2, lam)
                    rotated_inputs = np.einsum(
                        "abc,ai,bj->ijc", c, wigner[l1], wigner[l2]
                    )
                    rotated_output = np.einsum("ijd,cd->ijc", c, wigner[lam])
                    np.testing.assert_allclose(
                        rotated_inputs,
                        rotated_output,
                        atol=EQUIVARIANCE,
                        err_msg=f"(l1, l2, λ) = ({l1}, {l2}, {lam})",
                    )


def test_real_clebsch_gordan_couples_harmonics(rng):
    vectors = torch.tensor(rng.normal(size=(20, 3)))
    ys = spherical_harmonics(vectors, 6)
    for l1 in range(4):
        for l2 in range(4):
            for lam in range(abs(l1 - l2), l1 + l2 + 1, 2):
                c = real_clebsch_gordan(l1, l2, lam)
                coupled = torch.einsum("abc,na,nb->nc", c, ys[l1], ys[l2])
                scale = math.sqrt(
                    (2 * l1 + 1) * (2 * l2 + 1) / (4 * math.pi * (2 * lam + 1))
                )
                scale *= complex_clebsch_gordan(l1, 0, l2, 0, lam, 0)
                np.testing.assert_allclose(
                    coupled.numpy(),
                    scale * ys[lam].numpy(),
                    atol=EXACT,
                    err_msg=f"(l1, l2, λ) = ({l1}, {l2}, {lam})",
                )


def test_real_clebsch_gordan_odd_convention(rng):
    """The −i of odd l1 + l2 + λ is pinned: C(1, 1, 1) couples a, b to +(a × b)/√2."""
    a, b = rng.normal(size=(2, 3))
    to_harmonic_order = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])  # (x,y,z)→(y,z,x)
    c = real_clebsch_gordan(1, 1, 1).numpy()
    coupled = np.einsum("abc,a,b->c", c, to_harmonic_order @ a, to_harmonic_order @ b)
    expected = to_harmonic_order @ np.cross(a, b) / math.sqrt(2)
    np.testing.assert_allclose(coupled, expected, atol=EXACT)


def test_real_clebsch_gordan_rejects_triangle_violation():
    with pytest.raises(ValueError, match="violates"):
        real_clebsch_gordan(1, 1, 3)


# ---------------------------------------------------------------- ν = 1 kernel


@pytest.mark.parametrize("seed", [0, 1])
def test_kernel_matches_haar_average(seed):
    """k_0 = ∫dR ⟨ρ_A, R̂ρ_B⟩ and k_1 = ∫dR D¹(R) ⟨ρ_A, R̂ρ_B⟩, ∫dR = 8π²."""
    rng = np.random.default_rng(seed)
    a, species_a = random_environment(rng, 4, [0, 1, 1, 0])
    b, species_b = random_environment(rng, 3, [0, 1, 0])
    rotations = haar_rotations(200_000, rng)
    overlap = overlaps(a, species_a, b, species_b, rotations)
    # Y_1 ∝ (y, z, x), so D¹(R) = P R Pᵀ with P the cyclic permutation x→y→z
    permutation = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    wigner_1 = permutation @ rotations @ permutation.T
    haar = 8 * math.pi**2
    samples = [overlap[:, None, None], wigner_1 * overlap[:, None, None]]
    blocks = kernel(a, species_a, b, species_b)
    for ell, sample in enumerate(samples):
        mean = haar * sample.mean(0)
        error = haar * sample.std(0) / math.sqrt(len(rotations))
        assert np.abs(mean).max() > 20 * error.max(), "Monte Carlo too noisy to test"
        deviation = np.abs(blocks[ell].numpy() - mean) / error
        assert deviation.max() < MC_STANDARD_ERRORS, (ell, blocks[ell], mean, error)


def test_kernel_equivariance(device, rng):
    a, species_a = random_environment(rng, 5, [0, 1, 1, 0, 1])
    b, species_b = random_environment(rng, 4, [1, 0, 1, 0])
    rotation = random_rotation(rng)
    wigner = [fitted_wigner_d(rotation, ell) for ell in range(3)]

    def on_device(*arrays):
        return [torch.as_tensor(x, device=device) for x in arrays]

    plain = kernel(*on_device(a, species_a, b, species_b))
    left = kernel(*on_device(a @ rotation.T, species_a, b, species_b))
    right = kernel(*on_device(a, species_a, b @ rotation.T, species_b))
    swapped = kernel(*on_device(b, species_b, a, species_a))
    for ell in (1, 2):
        k = plain[ell].cpu().numpy()
        assert np.abs(k).max() > 1e-3
        d = wigner[ell]
        np.testing.assert_allclose(left[ell].cpu().numpy(), d @ k, atol=EQUIVARIANCE)
        np.testing.assert_allclose(right[ell].cpu().numpy(), k @ d.T, atol=EQUIVARIANCE)
        np.testing.assert_allclose(swapped[ell].cpu().numpy(), k.T, atol=EQUIVARIANCE)
    np.testing.assert_allclose(
        left[0].cpu().numpy(), plain[0].cpu().numpy(), atol=EQUIVARIANCE
    )


def test_kernel_gradient_matches_finite_differences(rng):
    a, species_a = random_environment(rng, 4, [0, 1, 1, 0])
    a[3] *= 2.5 / np.linalg.norm(a[3])  # inside the cutoff switching region
    b, species_b = random_environment(rng, 4, [1, 0, 1, 0])
    projections = [
        torch.tensor(rng.normal(size=(2 * ell + 1,) * 2)) for ell in range(3)
    ]

    def scalar(vectors: torch.Tensor) -> torch.Tensor:
        blocks = kernel(vectors, species_a, b, species_b)
        return sum((p * k).sum() for p, k in zip(projections, blocks, strict=True))

    vectors = torch.tensor(a, requires_grad=True)
    (gradient,) = torch.autograd.grad(scalar(vectors), vectors)
    step = 1e-5
    for j in (0, 3):
        for axis in range(3):
            shift = torch.zeros_like(vectors)
            shift[j, axis] = step
            with torch.no_grad():
                numeric = (scalar(vectors + shift) - scalar(vectors - shift)) / (
                    2 * step
                )
            assert float(gradient[j, axis]) == pytest.approx(float(numeric), abs=1e-8)


def test_kernel_second_derivatives(rng):
    a, species_a = random_environment(rng, 3, [0, 1, 0])
    b, species_b = random_environment(rng, 2, [0, 1])
    b_tensor = torch.tensor(b, requires_grad=True)

    def blocks(va, vb):
        return torch.cat([k.reshape(-1) for k in kernel(va, species_a, vb, species_b)])

    inputs = (torch.tensor(a, requires_grad=True), b_tensor)
    assert torch.autograd.gradcheck(blocks, inputs)
    assert torch.autograd.gradgradcheck(blocks, inputs)


def test_kernel_padding_chunks_and_cutoff(rng):
    envs = [random_environment(rng, n, list(rng.integers(0, 2, n))) for n in (2, 4, 3)]
    n_max = 6
    vectors = torch.zeros(3, n_max, 3, dtype=torch.float64)
    species = torch.full((3, n_max), -1)
    for i, (v, z) in enumerate(envs):
        vectors[i, : len(v)] = torch.tensor(v)
        species[i, : len(z)] = torch.tensor(z)
    vectors[1, 5] = torch.tensor([0.0, 0.0, 3.2])  # beyond the cutoff: no effect
    species[1, 5] = 0
    pairs = torch.tensor([[0, 1], [1, 2], [2, 2], [1, 0]])
    batched = nu1_kernel(vectors, species, vectors, species, pairs, SETTINGS)
    one_by_one = nu1_kernel(
        vectors, species, vectors, species, pairs, SETTINGS, chunk_size=1
    )
    for ell in range(3):
        np.testing.assert_allclose(
            batched[ell].numpy(), one_by_one[ell].numpy(), atol=EXACT
        )
        for p, (i, k) in enumerate(pairs.tolist()):
            single = kernel(*envs[i], *envs[k])[ell]
            np.testing.assert_allclose(
                batched[ell][p].numpy(), single.numpy(), atol=EXACT
            )


def test_kernel_float32(rng):
    a, species_a = random_environment(rng, 4, [0, 1, 1, 0])
    b, species_b = random_environment(rng, 3, [1, 0, 1])
    high = kernel(a, species_a, b, species_b)
    low = kernel(a.astype(np.float32), species_a, b.astype(np.float32), species_b)
    for k32, k64 in zip(low, high, strict=True):
        assert k32.dtype == torch.float32
        np.testing.assert_allclose(k32.double().numpy(), k64.numpy(), atol=1e-5)


def test_density_settings_validation():
    with pytest.raises(ValueError, match="cutoff_width"):
        DensitySettings(cutoff=3.0, cutoff_width=4.0)
