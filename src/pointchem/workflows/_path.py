"""Stationary points for rate theory: relaxed end points, climbing-image NEB, Hessians.

All NEB images are evaluated in **one batched model call** per optimizer step when the
calculator is a :class:`~pointchem.PointChemCalculator`: each image gets a small
:class:`ImageCalculator` that defers to a shared :class:`BatchedImages`, which builds
one :class:`~pointchem.AtomicGraph` of every image whose geometry changed and calls
:func:`~pointchem.evaluate` once. ASE's :class:`~ase.mep.NEB` is used unchanged: it
asks image after image, the first request evaluates them all, the others read the
stored results. Any other ASE calculator is shared by the images and called image by
image.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import ase
import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.mep import NEB
from ase.mep.neb import NEBOptimizer
from ase.optimize import BFGS, FIRE
from ase.optimize.optimize import Optimizer

from ..calculator import PointChemCalculator
from ..evaluate import evaluate
from ..graph import atoms_to_graph
from ._modes import resolve_zero_modes
from ._settings import RateSettings

__all__ = [
    "FINITE_DIFFERENCE_STEP",
    "BatchedImages",
    "ImageCalculator",
    "NEBPath",
    "climbing_image_neb",
    "interpolated_band",
    "relax",
    "relaxed_band",
    "structure_hessian",
]

logger = logging.getLogger(__name__)

FINITE_DIFFERENCE_STEP = 1e-3
"""Å. Central-difference step of the fallback Hessian (calculators without
``get_hessian``): truncation error ~1e-6 of the fourth derivative."""

_OPTIMIZERS: dict[str, type[Optimizer]] = {"BFGS": BFGS, "FIRE": FIRE}


class BatchedImages:
    """Evaluates a set of structures together, in one model call per change.

    Args:
        calculator: supplies the model, its dtype and device.
        images: the structures (kept by reference: the NEB moves them in place).

    Attributes:
        n_model_calls: how many batched evaluations were made (for diagnostics).
    """

    def __init__(self, calculator: PointChemCalculator, images: Sequence[ase.Atoms]):
        self.calculator = calculator
        self.images = list(images)
        self._evaluated: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(
            self.images
        )
        self._results: list[dict[str, Any]] = [{} for _ in self.images]
        self.n_model_calls = 0

    def calculators(self) -> list[ImageCalculator]:
        """One ASE calculator per image, all backed by this batch."""
        return [ImageCalculator(self, index) for index in range(len(self.images))]

    def results(self, index: int) -> dict[str, Any]:
        """Energy (eV) and forces ((n_atoms, 3) eV/Å) of image ``index``."""
        if self._stale(index):
            self._evaluate_stale()
        return self._results[index]

    def _stale(self, index: int) -> bool:
        state = self._evaluated[index]
        image = self.images[index]
        return state is None or not (
            np.array_equal(state[0], image.positions)
            and np.array_equal(state[1], image.cell.array)
        )

    def _evaluate_stale(self) -> None:
        stale = [i for i in range(len(self.images)) if self._stale(i)]
        calculator = self.calculator
        graph = atoms_to_graph(
            [self.images[i] for i in stale],
            calculator.model.cutoff,
            calculator.dtype,
            calculator.device,
        )
        prediction = evaluate(calculator.model, graph, forces=True)
        assert prediction.forces is not None
        energies = prediction.energy.cpu().numpy()
        forces = prediction.forces.detach().cpu().double().numpy()
        if not (np.isfinite(energies).all() and np.isfinite(forces).all()):
            raise FloatingPointError("the model returned NaN or inf on a NEB image")
        system_index = graph.system_index.cpu().numpy()
        for system, index in enumerate(stale):
            image = self.images[index]
            energy = float(energies[system])
            self._results[index] = {
                "energy": energy,
                "free_energy": energy,
                "forces": forces[system_index == system],
            }
            self._evaluated[index] = (image.positions.copy(), image.cell.array.copy())
        self.n_model_calls += 1


class ImageCalculator(Calculator):
    """ASE calculator of one image of a :class:`BatchedImages`; reads its results."""

    implemented_properties: ClassVar[list[str]] = [  # type: ignore[misc]
        "energy",
        "free_energy",
        "forces",
    ]

    def __init__(self, batch: BatchedImages, index: int):
        super().__init__()
        self.batch = batch
        self.index = index

    def calculate(
        self,
        atoms: ase.Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Fill ``results`` from the batch (which evaluates it if it moved)."""
        super().calculate(atoms, properties or ["energy"], system_changes)
        if atoms is not None and atoms is not self.batch.images[self.index]:
            raise ValueError("an ImageCalculator serves only its own image")
        self.results = dict(self.batch.results(self.index))


def relax(
    atoms: ase.Atoms, calculator: Calculator, settings: RateSettings, label: str
) -> ase.Atoms:
    """A relaxed copy of ``atoms`` (to ``settings.fmax``), with ``calculator`` attached.

    Logs a warning if the optimizer stops at ``settings.max_steps`` unconverged.
    """
    relaxed = atoms.copy()
    relaxed.calc = calculator
    optimizer = _OPTIMIZERS[settings.optimizer](relaxed, logfile=None)
    if not optimizer.run(fmax=settings.fmax, steps=settings.max_steps):
        logger.warning(
            "%s not relaxed to fmax=%g eV/Å in %d steps",
            label,
            settings.fmax,
            settings.max_steps,
        )
    return relaxed


@dataclasses.dataclass(frozen=True)
class NEBPath:
    """The converged (or last) band of a climbing-image NEB.

    Attributes:
        images: n_images + 2 structures from reactant to product (no calculators).
        energies: (n_images + 2,) float64, eV, total energies of the images.
        converged: whether the band reached ``settings.neb_fmax``.
        n_model_calls: batched model evaluations the NEB made (one per force call);
            None when the images were evaluated one by one.
    """

    images: list[ase.Atoms]
    energies: np.ndarray
    converged: bool
    n_model_calls: int | None

    @property
    def saddle_index(self) -> int:
        """Index of the highest interior image (the climbing image)."""
        return 1 + int(np.argmax(self.energies[1:-1]))


def _attach_calculators(
    images: list[ase.Atoms], calculator: Calculator
) -> BatchedImages | None:
    if not isinstance(calculator, PointChemCalculator):
        for image in images:
            image.calc = calculator
        return None
    batch = BatchedImages(calculator, images)
    for image, image_calculator in zip(images, batch.calculators(), strict=True):
        image.calc = image_calculator
    return batch


def interpolated_band(
    reactant: ase.Atoms, product: ase.Atoms, settings: RateSettings
) -> list[ase.Atoms]:
    """The starting band: ``settings.n_images`` interpolated images between two ends.

    Interpolation as ``settings.interpolation`` (minimum image in periodic cells),
    then ``settings.band_noise`` random displacements of the interior images' free
    atoms. Returns n_images + 2 structures without calculators.
    """
    images = [reactant.copy() for _ in range(settings.n_images + 1)] + [product.copy()]
    NEB(images, method="improvedtangent").interpolate(
        method=settings.interpolation, mic=bool(reactant.pbc.any())
    )
    if settings.band_noise > 0:
        rng = np.random.default_rng(settings.seed)
        for image in images[1:-1]:
            noise = rng.normal(scale=settings.band_noise, size=image.positions.shape)
            image.set_positions(image.positions + noise, apply_constraint=True)
    for image in images:
        image.calc = None
    return images


class _Band(NEB):
    """ASE's NEB with the climbing image in its residual; optionally drift-free.

    ``get_residual`` (what ASE's ``NEBOptimizer`` converges) is the largest per-atom
    force norm over all interior images, climbing image included: the criterion of
    ASE's other optimizers. ASE's own leaves the climbing image out.

    For a periodic structure with free translations the energy is flat along a rigid
    shift, but the spring and climbing terms are not: a tangent with a small shift
    component makes the band slide. ``project_translations`` removes each image's
    mean force, which keeps every image's centroid where the interpolation put it;
    the true forces of a translation-invariant potential sum to zero, so only the
    drift is removed.
    """

    def __init__(
        self, images: list[ase.Atoms], *, project_translations: bool, **kwargs: Any
    ):
        super().__init__(images, **kwargs)
        self.project_translations = project_translations
        self._last_forces: np.ndarray | None = None

    def get_forces(self) -> np.ndarray:
        """NEB forces, (n_interior · n_atoms, 3) eV/Å."""
        forces = super().get_forces()
        if self.project_translations:
            per_image = forces.reshape(self.nimages - 2, self.natoms, 3)
            per_image = per_image - per_image.mean(axis=1, keepdims=True)
            forces = per_image.reshape(-1, 3)
        self._last_forces = forces
        return forces

    def get_residual(self) -> float:
        """Largest per-atom norm of the last NEB forces, eV/Å."""
        if self._last_forces is None:
            raise RuntimeError("get_residual() called before get_forces()")
        return float(np.linalg.norm(self._last_forces, axis=1).max())


def _band_optimizer(name: str, band: _Band) -> Optimizer | NEBOptimizer:
    if name == "ODE":
        return NEBOptimizer(band, method="ode", logfile=None)
    return _OPTIMIZERS[name](band, logfile=None)  # type: ignore[arg-type]


def _optimize_band(
    images: list[ase.Atoms],
    calculator: Calculator,
    settings: RateSettings,
    *,
    climb: bool,
    fmax: float,
) -> NEBPath:
    zero_modes = resolve_zero_modes(images[0], settings.zero_modes)
    neb = _Band(
        images,
        project_translations=zero_modes == "translations" and not images[0].constraints,
        k=settings.spring,
        climb=climb,
        method="improvedtangent",
        remove_rotation_and_translation=zero_modes == "translations+rotations",
        allow_shared_calculator=not isinstance(calculator, PointChemCalculator),
    )
    batch = _attach_calculators(images, calculator)
    optimizer = _band_optimizer(settings.neb_optimizer or settings.optimizer, neb)
    converged = bool(optimizer.run(fmax=fmax, steps=settings.max_steps))
    if not converged:
        logger.warning(
            "NEB (%s) not converged to fmax=%g eV/Å in %d steps",
            "climbing" if climb else "no climbing",
            fmax,
            settings.max_steps,
        )
    energies = np.array([image.get_potential_energy() for image in images])
    return NEBPath(
        images=[_without_calculator(image) for image in images],
        energies=energies,
        converged=converged,
        n_model_calls=batch.n_model_calls if batch else None,
    )


def relaxed_band(
    reactant: ase.Atoms,
    product: ase.Atoms,
    calculator: Calculator,
    settings: RateSettings,
) -> NEBPath:
    """A NEB band without climbing image, relaxed to ``settings.climb_after_fmax``.

    Starts from :func:`interpolated_band`. The tolerance is the larger of
    ``climb_after_fmax`` and ``neb_fmax``; the result is the starting band of
    :func:`climbing_image_neb`, and where its interior images relax to tells whether
    the path has intermediate minima.
    """
    images = interpolated_band(reactant, product, settings)
    fmax = max(settings.climb_after_fmax, settings.neb_fmax)
    return _optimize_band(images, calculator, settings, climb=False, fmax=fmax)


def climbing_image_neb(
    reactant: ase.Atoms,
    product: ase.Atoms,
    calculator: Calculator,
    settings: RateSettings,
) -> NEBPath:
    """Run a climbing-image NEB (improved tangent) between two relaxed structures.

    Two stages: the band without climbing (:func:`relaxed_band`), then with the
    highest image climbing, to ``settings.neb_fmax``.

    Args:
        reactant: relaxed initial state.
        product: relaxed final state (same atoms in the same order).
        calculator: evaluates the images (batched if a ``PointChemCalculator``).
        settings: number of images, spring, interpolation, optimizer, tolerances.

    Returns:
        The :class:`NEBPath` (``n_model_calls`` counts both stages); an unconverged
        band is returned with a logged warning.
    """
    start = relaxed_band(reactant, product, calculator, settings)
    images = [image.copy() for image in start.images]
    path = _optimize_band(
        images, calculator, settings, climb=True, fmax=settings.neb_fmax
    )
    if path.n_model_calls is None or start.n_model_calls is None:
        return path
    return dataclasses.replace(
        path, n_model_calls=path.n_model_calls + start.n_model_calls
    )


def _without_calculator(atoms: ase.Atoms) -> ase.Atoms:
    copy = atoms.copy()
    copy.calc = None
    return copy


def structure_hessian(atoms: ase.Atoms, calculator: Calculator) -> np.ndarray:
    """Hessian (3N, 3N) eV/Å², atom-major: analytic if the calculator has one.

    Uses ``calculator.get_hessian(atoms)`` when it exists (``PointChemCalculator``:
    autograd; matscipy's sparse Hessians are made dense); otherwise central
    differences of the forces with step
    :data:`FINITE_DIFFERENCE_STEP`.
    """
    get_hessian = getattr(calculator, "get_hessian", None)
    if callable(get_hessian):
        result = get_hessian(atoms)
        if hasattr(result, "toarray"):  # scipy sparse (matscipy's calculators)
            result = result.toarray()
        return np.asarray(result, dtype=np.float64)
    displaced = atoms.copy()
    displaced.calc = calculator
    size = 3 * len(atoms)
    hessian = np.empty((size, size))
    for column in range(size):
        atom, axis = divmod(column, 3)
        gradients = []
        for sign in (1.0, -1.0):
            displaced.positions = atoms.positions
            displaced.positions[atom, axis] += sign * FINITE_DIFFERENCE_STEP
            gradients.append(-displaced.get_forces().reshape(-1))
        hessian[:, column] = (gradients[0] - gradients[1]) / (
            2 * FINITE_DIFFERENCE_STEP
        )
    return hessian
