"""Belle II ECL barrel clusters: single photons vs merged two-photon clusters (pi0 / ALP -> gamma gamma).

The model, and where its numbers come from (sources in ``docs/physics.md`` unless said otherwise):

- Geometry: the barrel seen locally as a plane of square crystal faces ``crystal_size_cm`` wide
  (5.0 cm, basf2's average), perpendicular to the parent's flight direction, at a distance
  ``D = barrel_radius_cm / sin(theta)`` from the interaction point (inner radius 125 cm; polar
  angle ``theta`` uniform in cos(theta) over the barrel, 32.2-128.7 degrees). So the photons of a
  decay land ``D (tan theta1 + tan theta2)`` apart (``separation_at_face``): at theta = 32.2 degrees
  1.88 times farther apart than at 90 degrees. Barrel crystals point (almost) at the interaction
  point, so a photon from the interaction point meets its crystal's face at (almost) normal incidence
  at every theta and the faces keep their size: the oblique incidence a non-pointing calorimeter would
  have is left out for that reason (the small tilt of real crystals away from the interaction point
  is not modelled).
- Two-photon decays X -> gamma gamma (X = pi0 with the PDG mass, or an axion-like particle of
  ``alp_mass_gev``): isotropic in the X rest frame, so ``E1,2 = E/2 (1 +- beta cos theta*)`` with
  cos theta* uniform; the opening angle follows from ``cos theta12 = 1 - m^2 / (2 E1 E2)`` (its
  minimum is ``2 arcsin(m/E)``), and each photon's angle to the parent axis from the balance of
  transverse momenta, ``E1 sin theta1 = E2 sin theta2``. Photon i lands ``D tan(theta_i)`` from the
  parent's impact point, the two on opposite sides along a random azimuth.
- A two-photon event is a *merged cluster* when both photons land within ``image_size // 2``
  crystals of each other (15 cm for 7 x 7), i.e. the second photon is inside the image around the
  first. Resolved decays (two separate clusters, each a single-photon cluster) are not kept: they
  are not the trigger problem. Parent energies are drawn in ``energy_range_gev`` before that
  selection, flat or (``energy_spectrum: falling``) as ``E**-energy_spectrum_index`` (an assumption:
  pi0 spectra at a B factory fall with energy; no public spectrum of merged clusters was at hand);
  single photons are then drawn with the energy spectrum of the kept merged clusters,
  so the cluster energy alone does not tell the classes apart.
- Electromagnetic shower in CsI(Tl): the depth-integrated lateral profile is a core plus a tail,
  ``dE/dr = p f(r; Rc) + (1 - p) f(r; Rt)`` with ``f(r; R) = 2 r R^2 / (r^2 + R^2)^2`` (the
  Grindhammer-Peters form), so the energy inside radius r is
  ``p r^2/(r^2 + Rc^2) + (1 - p) r^2/(r^2 + Rt^2)``. With the Moliere radius 3.53 cm (PDG, CsI),
  p = 0.85, Rc = 0.17 R_M and Rt = R_M, 90 % of the energy is inside R_M and 96 % inside 2 R_M,
  the textbook containments. These three numbers are a model, not a fit to Belle II data.
- Shower-to-shower fluctuations: each shower's p, Rc and Rt are varied by ``shape_fluctuation``
  (relative, Gaussian) and the energy is deposited as ``spots_per_gev * E`` discrete spots drawn
  from the profile, so fluctuations of the lateral shape fall as 1/sqrt(E), as real showers' do.
- Energy resolution: each photon's deposit is smeared by Belle's three-term resolution
  ``sigma_E/E = a/E (+) b/E**(1/4) (+) c`` (E in GeV, terms added in quadrature; a = 0.066 %,
  b = 0.81 %, c = 1.34 %: the Belle detector paper's (NIM A 479 (2002) 117) ECL parametrisation as
  docs/physics.md quotes it), card keys
  ``resolution_noise_term``, ``resolution_stochastic_term``, ``resolution_constant_term``. The noise
  term (0.66 MeV) is the formula's; the crystals' electronics noise below comes on top and dominates
  it. Longitudinal leakage (16.1 X0 crystals) is neglected.
- Photon conversions in front of the calorimeter are left out: no public figure of the material
  between the interaction point and the barrel ECL was at hand to set their probability from. What
  one would do: a pair made in the tracker is bent apart in the 1.5 T field (radius p / (0.3 B),
  2.2 m for 1 GeV), so a conversion at small radius gives two showers centimetres to tens of
  centimetres apart in phi, a photon that looks merged; a conversion just before the crystals gives
  the photon's own shower.
- Per-crystal electronics noise ``crystal_noise_mev`` (Gaussian; 2 MeV, an estimate: the 8 MeV
  trigger-cell noise spread over 16 crystals), and beam-background deposits: each crystal hit with
  probability ``background_occupancy`` by an exponential deposit of mean ``background_mean_mev``
  (an estimate; Belle II beam backgrounds are photons of a few to tens of MeV).
- Crystal view: ``image_size`` x ``image_size`` crystals around the most energetic one, digitised
  as the trigger word: ``adc_bits`` unsigned bits of ``lsb_mev`` (12 bits, 5.25 MeV), negative
  values clipped to zero, saturating at the top.
- Trigger-cell view: the noise-free deposits (and background) summed over the fixed 4 x 4-crystal
  trigger-cell grid, plus ``tc_noise_mev`` (8 MeV) per cell, digitised the same way, and
  ``tc_image_size`` x ``tc_image_size`` cells around the most energetic cell. The impact point is
  uniform over one trigger cell, so every alignment of shower and cell grid occurs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...artifacts import FixedFormat
from ...errors import CardError
from .config import EclPhotonData, Granularity, Spectrum

CLASS_NAMES = ("merged", "photon")
#: ``Clusters.source`` values: what made the cluster.
SOURCE_PHOTON, SOURCE_PI0, SOURCE_ALP = 0, 1, 2
TC_CRYSTALS = 4  # a barrel trigger cell is 4 x 4 crystals
CHUNK = 2000  # events per vectorised batch (bounds memory: ~1 M shower spots)


def pi0_mass_gev() -> float:
    from particle import Particle

    return float(Particle.from_pdgid(111).mass) / 1000.0


@dataclass(frozen=True, kw_only=True)
class Decays:
    """Two-photon decays in the lab; photon 1 is the more energetic one."""

    energy: np.ndarray  # parent energy, GeV
    e1: np.ndarray
    e2: np.ndarray
    opening_angle: np.ndarray  # rad
    theta1: np.ndarray  # photon 1's angle to the parent direction, rad
    theta2: np.ndarray


def two_photon_decay(energy: np.ndarray, mass: float | np.ndarray, cos_theta_star: np.ndarray) -> Decays:
    """X -> gamma gamma for parents of ``energy`` (GeV) decaying at ``cos_theta_star`` in their rest frame."""
    energy = np.asarray(energy, dtype=np.float64)
    beta = np.sqrt(1.0 - (mass / energy) ** 2)
    ea = 0.5 * energy * (1.0 + beta * cos_theta_star)
    eb = energy - ea
    e1, e2 = np.maximum(ea, eb), np.minimum(ea, eb)
    cos12 = np.clip(1.0 - mass**2 / (2.0 * e1 * e2), -1.0, 1.0)
    opening = np.arccos(cos12)
    theta1 = np.arctan2(e2 * np.sin(opening), e1 + e2 * cos12)
    return Decays(energy=energy, e1=e1, e2=e2, opening_angle=opening, theta1=theta1, theta2=opening - theta1)


def minimum_opening_angle(energy: float, mass: float) -> float:
    return 2.0 * math.asin(mass / energy)


def resolution(energy_gev: np.ndarray, cfg: EclPhotonData) -> np.ndarray:
    """Relative energy resolution sigma_E / E of a shower of ``energy_gev``: Belle's three terms in quadrature."""
    e = np.asarray(energy_gev, dtype=np.float64)
    return np.sqrt(
        (cfg.resolution_noise_term / e) ** 2
        + (cfg.resolution_stochastic_term / e**0.25) ** 2
        + cfg.resolution_constant_term**2
    )


def parent_energies(cfg: EclPhotonData, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` energies (GeV) in ``energy_range_gev``: flat, or falling as E**-index (inverse of the CDF)."""
    lo, hi = cfg.energy_range_gev
    u = rng.random(n)
    if cfg.energy_spectrum is Spectrum.FLAT or lo == hi:
        return lo + (hi - lo) * u
    k = 1.0 - cfg.energy_spectrum_index
    if abs(k) < 1e-9:  # E**-1: uniform in log E
        return lo * (hi / lo) ** u
    return (lo**k + u * (hi**k - lo**k)) ** (1.0 / k)


def separation_at_face(distance_cm: np.ndarray, d: Decays) -> np.ndarray:
    """Distance (cm) between the two photons' impact points on a face ``distance_cm`` from the decay,
    perpendicular to the parent's flight: they land on opposite sides of the parent's line."""
    return distance_cm * (np.tan(d.theta1) + np.tan(d.theta2))


def face_distance(polar_rad: np.ndarray, cfg: EclPhotonData) -> np.ndarray:
    """Distance (cm) from the interaction point to the barrel's inner face at polar angle ``polar_rad``."""
    return cfg.barrel_radius_cm / np.sin(polar_rad)


def containment(r_cm: np.ndarray, cfg: EclPhotonData) -> np.ndarray:
    """Mean fraction of a shower's energy within ``r_cm`` of its axis (the profile above, no fluctuations)."""
    rc, rt = cfg.core_radius_rm * cfg.moliere_radius_cm, cfg.tail_radius_rm * cfg.moliere_radius_cm
    r2 = np.asarray(r_cm, dtype=np.float64) ** 2
    return cfg.core_fraction * r2 / (r2 + rc**2) + (1.0 - cfg.core_fraction) * r2 / (r2 + rt**2)


def grid_size(cfg: EclPhotonData) -> int:
    """Crystals per side of the simulated patch: an odd number of trigger cells, wide enough for both crops."""
    half = cfg.image_size // 2
    # impact within +-2 crystals of the centre, the hottest crystal within half/2 more, then the crop's half
    cells = max(cfg.tc_image_size + 2, math.ceil((2 * (2 + half / 2 + half) + 2) / TC_CRYSTALS))
    return TC_CRYSTALS * (cells + 1 - cells % 2)


@dataclass(frozen=True, kw_only=True)
class Clusters:
    """Simulated clusters with the truth kept for analysis."""

    x: np.ndarray  # (n, s, s) float32: the trigger words (crystal or trigger-cell view) as fixed-point values
    label: np.ndarray  # (n,) int8: 1 single photon, 0 merged
    image_mev: np.ndarray  # (n, image_size, image_size) float32: the crystal image in MeV (noise included)
    tc_image_mev: np.ndarray  # (n, tc_image_size, tc_image_size) float32: the trigger cells in MeV (noise included)
    energy_gev: np.ndarray  # (n,) float32: true energy of the photon or the parent
    source: np.ndarray  # (n,) int8: SOURCE_*
    opening_angle: np.ndarray  # (n,) float32, rad (0 for single photons)
    separation_cm: np.ndarray  # (n,) float32: distance between the photons' impact points (0 for single photons)


def _select(d: Decays, idx: np.ndarray) -> Decays:
    return Decays(**{k: getattr(d, k)[idx] for k in Decays.__dataclass_fields__})


def _join(parts: list[Decays]) -> Decays:
    return Decays(**{k: np.concatenate([getattr(d, k) for d in parts]) for k in Decays.__dataclass_fields__})


def _merged_of(cfg: EclPhotonData, mass: float, n: int, rng: np.random.Generator) -> tuple[Decays, np.ndarray]:
    """``n`` decays of a particle of ``mass`` whose photons land close enough to merge, and each one's distance D."""
    max_sep = (cfg.image_size // 2) * cfg.crystal_size_cm
    cos_lo, cos_hi = (math.cos(math.radians(a)) for a in cfg.polar_range_deg)
    kept: list[Decays] = [two_photon_decay(np.ones(0), mass, np.zeros(0))]
    distances = [np.zeros(0)]
    have = 0
    for _ in range(1000):
        if have == n:
            break
        m = max(4 * (n - have), 1000)
        d = two_photon_decay(parent_energies(cfg, m, rng), mass, rng.uniform(-1.0, 1.0, size=m))
        distance = face_distance(np.arccos(rng.uniform(cos_hi, cos_lo, size=m)), cfg)
        # a photon going backwards (theta_i >= 90 deg, only for slow parents) never reaches this patch
        forward = (d.theta1 < np.pi / 2) & (d.theta2 < np.pi / 2)
        sep = np.where(forward, separation_at_face(distance, d), np.inf)
        ok = np.flatnonzero(forward & (sep <= max_sep))[: n - have]
        kept.append(_select(d, ok))
        distances.append(distance[ok])
        have += len(ok)
    else:
        raise CardError(
            f"a particle of {mass:g} GeV in data.energy_range_gev {list(cfg.energy_range_gev)} hardly ever gives a "
            f"merged cluster (photons within {max_sep:g} cm); raise the energies or data.image_size"
        )
    return _join(kept), np.concatenate(distances)


def _merged_decays(cfg: EclPhotonData, n: int, rng: np.random.Generator) -> tuple[Decays, np.ndarray, np.ndarray]:
    """``n`` merged two-photon clusters, ``alp_fraction`` of them from ALPs: decays, source, distance D."""
    n_alp = int(rng.binomial(n, cfg.alp_fraction))
    pi0, d_pi0 = _merged_of(cfg, pi0_mass_gev(), n - n_alp, rng)
    alp, d_alp = _merged_of(cfg, cfg.alp_mass_gev, n_alp, rng)
    order = rng.permutation(n)
    source = np.repeat(np.array([SOURCE_PI0, SOURCE_ALP], dtype=np.int8), [n - n_alp, n_alp])
    return _select(_join([pi0, alp]), order), source[order], np.concatenate([d_pi0, d_alp])[order]


def deposit_showers(
    cfg: EclPhotonData,
    grid: int,
    event: np.ndarray,
    energy: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    rng: np.random.Generator,
    n_events: int,
) -> np.ndarray:
    """Showers of ``energy`` GeV at (x0, y0) cm in event ``event`` -> deposits (n_events, grid, grid) in MeV."""
    e_dep = energy * (1.0 + rng.normal(size=energy.size) * resolution(energy, cfg))
    e_dep = np.maximum(e_dep, 0.0)
    fl = cfg.shape_fluctuation
    p = np.clip(cfg.core_fraction * (1.0 + fl * rng.normal(size=energy.size)), 0.0, 1.0)
    rc = cfg.core_radius_rm * cfg.moliere_radius_cm * np.exp(fl * rng.normal(size=energy.size))
    rt = cfg.tail_radius_rm * cfg.moliere_radius_cm * np.exp(fl * rng.normal(size=energy.size))
    n_spots = np.maximum(np.round(cfg.spots_per_gev * energy).astype(np.int64), 10)
    shower = np.repeat(np.arange(energy.size), n_spots)
    u = rng.random(shower.size)
    radius = np.where(rng.random(shower.size) < p[shower], rc[shower], rt[shower]) * np.sqrt(u / (1.0 - u))
    phi = rng.uniform(0.0, 2 * np.pi, size=shower.size)
    half = grid * cfg.crystal_size_cm / 2
    ix = np.floor((x0[shower] + radius * np.cos(phi) + half) / cfg.crystal_size_cm).astype(np.int64)
    iy = np.floor((y0[shower] + radius * np.sin(phi) + half) / cfg.crystal_size_cm).astype(np.int64)
    inside = (ix >= 0) & (ix < grid) & (iy >= 0) & (iy < grid)  # spots beyond the patch leak out
    flat = (event[shower] * grid + iy) * grid + ix
    weights = (e_dep * 1000.0 / n_spots)[shower]
    out = np.bincount(flat[inside], weights=weights[inside], minlength=n_events * grid * grid)
    return out.reshape(n_events, grid, grid)


def word_counts(energy_mev: np.ndarray, cfg: EclPhotonData) -> np.ndarray:
    """Counts of ``lsb_mev`` before the word's clip: below 0 the word reads 0, above ``word_top`` its top."""
    return np.round(energy_mev / cfg.lsb_mev)


def word_top(cfg: EclPhotonData) -> int:
    """The largest count the ``adc_bits``-bit trigger word holds."""
    return 2**cfg.adc_bits - 1


def digitise(energy_mev: np.ndarray, cfg: EclPhotonData) -> np.ndarray:
    """The trigger word: counts of ``lsb_mev``, clipped to [0, 2**adc_bits - 1], as a fixed-point value."""
    counts = np.clip(word_counts(energy_mev, cfg), 0, word_top(cfg))
    return (counts * 2.0**-cfg.input_frac_bits).astype(np.float32)


def input_format(cfg: EclPhotonData) -> FixedFormat:
    """Unsigned, ``adc_bits`` bits of which ``input_frac_bits`` are read as fraction."""
    return FixedFormat(0, cfg.adc_bits - cfg.input_frac_bits, cfg.input_frac_bits)


def _crop(images: np.ndarray, centre: np.ndarray, size: int) -> np.ndarray:
    """``size`` x ``size`` windows of ``images`` (n, g, g) centred on ``centre`` (n, 2) = (row, col)."""
    h = size // 2
    offsets = np.arange(-h, h + 1)
    rows = (centre[:, 0, None] + offsets)[:, :, None]
    cols = (centre[:, 1, None] + offsets)[:, None, :]
    return images[np.arange(len(images))[:, None, None], rows, cols]


def _hottest(images: np.ndarray, size: int) -> np.ndarray:
    """(row, col) of each image's maximum, kept far enough from the edge for a ``size`` crop."""
    g = images.shape[-1]
    flat = images.reshape(len(images), -1).argmax(axis=1)
    centre = np.stack([flat // g, flat % g], axis=1)
    return np.clip(centre, size // 2, g - 1 - size // 2)


def _views(cfg: EclPhotonData, deposits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Both views of deposits (n, g, g) in MeV, noise included: the crystal image and the trigger cells.

    Every cluster has both, so each view's baselines can be computed on the same clusters."""
    n, g, _ = deposits.shape
    hits = rng.random(deposits.shape) < cfg.background_occupancy
    deposits = deposits + hits * rng.exponential(cfg.background_mean_mev, size=deposits.shape)
    crystals = deposits + rng.normal(scale=cfg.crystal_noise_mev, size=deposits.shape)
    image_mev = _crop(crystals, _hottest(crystals, cfg.image_size), cfg.image_size)
    k = g // TC_CRYSTALS
    cells = deposits.reshape(n, k, TC_CRYSTALS, k, TC_CRYSTALS).sum(axis=(2, 4))
    cells = cells + rng.normal(scale=cfg.tc_noise_mev, size=cells.shape)
    tc_mev = _crop(cells, _hottest(cells, cfg.tc_image_size), cfg.tc_image_size)
    return image_mev.astype(np.float32), tc_mev.astype(np.float32)


def _take(c: Clusters, idx: np.ndarray) -> Clusters:
    return Clusters(**{k: getattr(c, k)[idx] for k in Clusters.__dataclass_fields__})


def single_bump(image_mev: np.ndarray) -> np.ndarray:
    """Clusters with one local maximum in the crystal image: the ones offline clustering cannot split."""
    from .shower_shapes import CRYSTAL, local_maxima

    return local_maxima(image_mev, CRYSTAL.local_maximum_mev) == 1


def simulate(cfg: EclPhotonData, n: int, rng: np.random.Generator, *, progress=None) -> Clusters:
    """``n`` clusters, half single photons and half merged two-photon clusters, in random order.

    With ``single_bump_only``, batches are simulated until each class has its half of single-bump clusters."""
    if not cfg.single_bump_only:
        return _simulate(cfg, n, rng, progress=progress)
    want = {1: (n + 1) // 2, 0: n // 2}
    parts: list[Clusters] = []
    for _ in range(100):
        if max(want.values()) == 0:
            break
        batch = _simulate(cfg, max(4 * max(want.values()), 1000), rng)
        keep = single_bump(batch.image_mev)
        for label in (0, 1):
            idx = np.flatnonzero(keep & (batch.label == label))[: want[label]]
            want[label] -= idx.size
            parts.append(_take(batch, idx))
        if progress is not None:
            progress(n - sum(want.values()), n)
    else:
        raise CardError(
            "data.single_bump_only: too few single-bump merged clusters in this energy range; raise "
            "data.energy_range_gev (photons merge into one local maximum above about 5 GeV)"
        )
    joined = Clusters(**{k: np.concatenate([getattr(c, k) for c in parts]) for k in Clusters.__dataclass_fields__})
    return _take(joined, rng.permutation(n))


def _simulate(cfg: EclPhotonData, n: int, rng: np.random.Generator, *, progress=None) -> Clusters:
    label = rng.permutation(np.arange(n) % 2).astype(np.int8)
    merged = np.flatnonzero(label == 0)
    single = np.flatnonzero(label == 1)
    decays, source_m, distance_m = _merged_decays(cfg, merged.size, rng)

    energy = np.empty(n)
    source = np.full(n, SOURCE_PHOTON, dtype=np.int8)
    opening = np.zeros(n)
    separation = np.zeros(n)
    energy[merged], source[merged], opening[merged] = decays.energy, source_m, decays.opening_angle
    separation[merged] = separation_at_face(distance_m, decays)
    # single photons with the merged clusters' energy spectrum
    energy[single] = (
        rng.choice(decays.energy, size=single.size) if merged.size else parent_energies(cfg, single.size, rng)
    )
    e1 = np.where(label == 1, energy, 0.0)
    e2 = np.zeros(n)
    d1, d2 = np.zeros(n), np.zeros(n)
    e1[merged], e2[merged] = decays.e1, decays.e2
    d1[merged] = distance_m * np.tan(decays.theta1)
    d2[merged] = distance_m * np.tan(decays.theta2)

    grid = grid_size(cfg)
    # the parent's impact: uniform over the centre trigger cell (every alignment with crystals and cells)
    half_tc = TC_CRYSTALS * cfg.crystal_size_cm / 2
    px, py = rng.uniform(-half_tc, half_tc, size=(2, n))
    azimuth = rng.uniform(0.0, 2 * np.pi, size=n)
    ux, uy = np.cos(azimuth), np.sin(azimuth)

    s, tc = cfg.image_size, cfg.tc_image_size
    image_mev = np.empty((n, s, s), dtype=np.float32)
    tc_mev = np.empty((n, tc, tc), dtype=np.float32)
    for start in range(0, n, CHUNK):
        sl = slice(start, min(start + CHUNK, n))
        m = sl.stop - sl.start
        ev = np.arange(m)
        two = e2[sl] > 0
        event = np.concatenate([ev, ev[two]])
        energies = np.concatenate([e1[sl], e2[sl][two]])
        x0 = np.concatenate([px[sl] + d1[sl] * ux[sl], (px[sl] - d2[sl] * ux[sl])[two]])
        y0 = np.concatenate([py[sl] + d1[sl] * uy[sl], (py[sl] - d2[sl] * uy[sl])[two]])
        deposits = deposit_showers(cfg, grid, event, energies, x0, y0, rng, m)
        image_mev[sl], tc_mev[sl] = _views(cfg, deposits, rng)
        if progress is not None:
            progress(sl.stop, n)
    return Clusters(
        x=digitise(image_mev if cfg.granularity is Granularity.CRYSTAL else tc_mev, cfg),
        label=label,
        image_mev=image_mev,
        tc_image_mev=tc_mev,
        energy_gev=energy.astype(np.float32),
        source=source,
        opening_angle=opening.astype(np.float32),
        separation_cm=separation.astype(np.float32),
    )


def description(cfg: EclPhotonData) -> str:
    if cfg.user is not None:
        return f"user clusters from {cfg.user.path}: {cfg.image_size} x {cfg.image_size} crystal images"
    view = (
        f"{cfg.image_size} x {cfg.image_size} crystals"
        if cfg.granularity is Granularity.CRYSTAL
        else f"{cfg.tc_image_size} x {cfg.tc_image_size} trigger cells of 4 x 4 crystals"
    )
    lo, hi = cfg.energy_range_gev
    alp = f" and a({cfg.alp_mass_gev:g} GeV) in {cfg.alp_fraction:.0%} of them" if cfg.alp_fraction > 0 else ""
    return (
        f"Belle II ECL barrel clusters, {view}, {cfg.adc_bits}-bit words of {cfg.lsb_mev:g} MeV; single photons vs "
        f"merged pi0 -> gamma gamma{alp}, {lo:g}-{hi:g} GeV"
    )
