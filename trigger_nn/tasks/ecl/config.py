"""The card's ``data:`` section of the ``ecl_photon`` task, its defaults and its checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self

from ...errors import CardError
from ..protocol import TaskData


class Granularity(StrEnum):
    """What the ECL trigger network sees: single crystals, or the L1 trigger's 4 x 4-crystal trigger cells."""

    CRYSTAL = "crystal"
    TRIGGER_CELL = "trigger_cell"


class OutOfRange(StrEnum):
    """What a user's crystal value outside the input word's range does: clipped with a warning, or refused."""

    WARN = "warn"
    ERROR = "error"


class Spectrum(StrEnum):
    """How the parents' (and single photons') energies are spread over ``energy_range_gev``."""

    FLAT = "flat"
    FALLING = "falling"  # dN/dE proportional to E**-energy_spectrum_index


RETIRED = {
    "resolution_stochastic": "the energy resolution is Belle's three-term formula: set data.resolution_noise_term "
    "(x 1/E), data.resolution_stochastic_term (x E**-1/4) and data.resolution_constant_term",
}


@dataclass(frozen=True, kw_only=True)
class UserClusters:
    """A user's own ECL clusters instead of the simulation: a ROOT flat ntuple, an HDF5 or an NPZ file.

    ``image`` names one fixed-size array branch (or dataset) of ``image_size**2`` crystal energies per
    cluster, or ``image_size**2`` scalar branches in row-major order; energies in MeV, each image
    centred on its most energetic crystal. ``label`` is 1 for a single photon and 0 for a merged
    two-photon cluster; ``energy`` (GeV, optional) is only used for the report's rejection-vs-energy
    figures. A relative ``path`` is taken from the card's own folder. A crystal value the ``adc_bits``-bit
    word of ``lsb_mev`` cannot hold (below zero, or above its top) reads as 0 or as the top: ``out_of_range``
    ``warn`` (the default) counts and reports those values, ``error`` refuses the file at the first one.
    """

    path: Path
    tree: str = "clusters"
    image: tuple[str, ...] = ("image",)
    label: str = "is_photon"
    energy: str | None = "energy"
    test_fraction: float = 0.3
    out_of_range: OutOfRange = OutOfRange.WARN


@dataclass(frozen=True, kw_only=True)
class EclPhotonData(TaskData):
    """Belle II ECL barrel clusters: single photons vs merged two-photon clusters (pi0 / ALP -> gamma gamma).

    Energies of the parent (or of the single photon) are in GeV, detector sizes in cm, noise in MeV.
    The trigger word is ``adc_bits`` unsigned bits of ``lsb_mev`` each, read by the network as a
    fixed-point number with ``input_frac_bits`` fractional bits (the same wires, a power-of-two scale).
    The shower-shape parameters are a model, see ``tasks/ecl/simulation.py``. ``single_bump_only`` keeps
    only clusters with one local maximum in the crystal image (``shower_shapes.CRYSTAL``), photons and
    merged alike: the merged clusters offline clustering cannot split, the hard case for a photon trigger.
    """

    n_train: int = 40000
    n_test: int = 15000
    granularity: Granularity = Granularity.CRYSTAL
    image_size: int = 7
    tc_image_size: int = 3
    energy_range_gev: tuple[float, float] = (1.0, 8.0)
    energy_spectrum: Spectrum = Spectrum.FLAT
    energy_spectrum_index: float = 2.0
    single_bump_only: bool = False
    alp_fraction: float = 0.25
    alp_mass_gev: float = 0.2
    crystal_size_cm: float = 5.0
    barrel_radius_cm: float = 125.0
    polar_range_deg: tuple[float, float] = (32.2, 128.7)
    moliere_radius_cm: float = 3.53
    core_fraction: float = 0.85
    core_radius_rm: float = 0.17
    tail_radius_rm: float = 1.0
    shape_fluctuation: float = 0.1
    spots_per_gev: float = 200.0
    resolution_noise_term: float = 0.00066
    resolution_stochastic_term: float = 0.0081
    resolution_constant_term: float = 0.0134
    crystal_noise_mev: float = 2.0
    tc_noise_mev: float = 8.0
    background_occupancy: float = 0.02
    background_mean_mev: float = 20.0
    lsb_mev: float = 5.25
    adc_bits: int = 12
    input_frac_bits: int = 8
    user: UserClusters | None = None

    retired: ClassVar[dict[str, str]] = RETIRED

    def validate(self, where: str) -> None:
        d = self
        if d.image_size < 5 or d.image_size % 2 == 0:
            raise CardError(f"{where}: data.image_size must be odd and at least 5 (E9/E21 needs a 5 x 5 image)")
        if d.tc_image_size < 1 or d.tc_image_size % 2 == 0:
            raise CardError(
                f"{where}: data.tc_image_size must be odd and positive (centred on the hottest trigger cell)"
            )
        lo, hi = d.energy_range_gev
        if not 0 < lo <= hi:
            raise CardError(f"{where}: data.energy_range_gev must be [low, high] with 0 < low <= high, got {[lo, hi]}")
        if not 0.0 <= d.alp_fraction <= 1.0:
            raise CardError(f"{where}: data.alp_fraction must be in [0, 1], got {d.alp_fraction}")
        if d.alp_mass_gev <= 0:
            raise CardError(f"{where}: data.alp_mass_gev must be positive, got {d.alp_mass_gev}")
        if d.alp_fraction > 0 and not 0 < 2 * d.alp_mass_gev < lo:
            raise CardError(
                f"{where}: data.alp_mass_gev ({d.alp_mass_gev}) must be positive and below half the lowest parent "
                f"energy ({lo} GeV), or the ALP cannot be produced"
            )
        p_lo, p_hi = d.polar_range_deg
        if not 0 < p_lo < p_hi < 180:
            raise CardError(f"{where}: data.polar_range_deg must be [low, high] within (0, 180), got {[p_lo, p_hi]}")
        for key in (
            "crystal_size_cm",
            "barrel_radius_cm",
            "moliere_radius_cm",
            "core_radius_rm",
            "tail_radius_rm",
            "spots_per_gev",
            "lsb_mev",
        ):
            if getattr(d, key) <= 0:
                raise CardError(f"{where}: data.{key} must be positive")
        for key in (
            "shape_fluctuation",
            "resolution_noise_term",
            "resolution_stochastic_term",
            "resolution_constant_term",
            "energy_spectrum_index",
            "crystal_noise_mev",
            "tc_noise_mev",
            "background_mean_mev",
        ):
            if getattr(d, key) < 0:
                raise CardError(f"{where}: data.{key} must not be negative")
        for key in ("core_fraction", "background_occupancy"):
            if not 0.0 <= getattr(d, key) <= 1.0:
                raise CardError(f"{where}: data.{key} must be in [0, 1]")
        if not 1 <= d.adc_bits <= 24 or not 0 <= d.input_frac_bits <= d.adc_bits:
            raise CardError(f"{where}: data.adc_bits must be in [1, 24] and data.input_frac_bits in [0, adc_bits]")
        if d.user is not None:
            if d.granularity is not Granularity.CRYSTAL:
                raise CardError(
                    f"{where}: data.user holds crystal images; the trigger-cell view needs the trigger-cell grid, "
                    "which a cropped image does not carry (set data.granularity: crystal)"
                )
            if not 0.0 < d.user.test_fraction < 1.0:
                raise CardError(f"{where}: data.user.test_fraction must be in (0, 1), got {d.user.test_fraction}")
            if len(d.user.image) not in (1, d.image_size**2):
                raise CardError(
                    f"{where}: data.user.image names one array branch or {d.image_size**2} scalar branches "
                    f"(image_size {d.image_size} squared), got {len(d.user.image)}"
                )
        elif min(d.n_train, d.n_test) < 10:
            raise CardError(f"{where}: data.n_train and data.n_test must be at least 10")

    def dataset_bytes(self) -> int:
        """Simulated clusters: inputs (float32, read once and copied twice by training), both views' images
        (float32, and float64 thrice for the shower shapes), the truth, and one chunk's shower spots and grids.
        A user's file: 0 (its size is known only when read)."""
        if self.user is not None:
            return 0
        from .simulation import CHUNK, grid_size

        view = self.image_size if self.granularity is Granularity.CRYSTAL else self.tc_image_size
        per_event = 3 * 4 * view**2 + (4 + 3 * 8) * (self.image_size**2 + self.tc_image_size**2) + 256
        spots = 2 * self.spots_per_gev * self.energy_range_gev[1]  # two photons at most, of the highest energy
        working = CHUNK * (64 * spots + 4 * 8 * grid_size(self) ** 2)
        return (self.n_train + self.n_test) * per_event + int(working)

    def with_paths_from(self, folder: Path, where: str) -> Self:
        if self.user is None or self.user.path.is_absolute():
            return self
        return dataclasses.replace(self, user=dataclasses.replace(self.user, path=folder / self.user.path))
