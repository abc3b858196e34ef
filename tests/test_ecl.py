"""The ECL cluster simulator against its formulas: decay kinematics, shower containment, the two views."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from trigger_nn.tasks.ecl import simulation as ecl
from trigger_nn.tasks.ecl.config import EclPhotonData, Granularity, Spectrum

QUIET = EclPhotonData(  # no noise, no background, no fluctuations: only the formulas
    crystal_noise_mev=0.0,
    tc_noise_mev=0.0,
    background_occupancy=0.0,
    shape_fluctuation=0.0,
    resolution_noise_term=0.0,
    resolution_stochastic_term=0.0,
    resolution_constant_term=0.0,
)


def test_pi0_mass_is_the_pdg_value() -> None:
    assert ecl.pi0_mass_gev() == pytest.approx(0.1349768, abs=1e-6)


@pytest.mark.parametrize("energy", [1.0, 2.0, 4.0, 8.0])
def test_opening_angle_is_never_below_the_minimum_and_reaches_it_at_symmetric_decays(energy: float) -> None:
    m = ecl.pi0_mass_gev()
    cos_star = np.linspace(-1.0, 1.0, 20001)
    d = ecl.two_photon_decay(np.full(cos_star.size, energy), m, cos_star)
    theta_min = 2 * math.asin(m / energy)
    assert ecl.minimum_opening_angle(energy, m) == pytest.approx(theta_min)
    assert d.opening_angle.min() >= theta_min * (1 - 1e-9)
    assert d.opening_angle[np.argmin(np.abs(cos_star))] == pytest.approx(theta_min, rel=1e-6)  # cos theta* = 0


def test_decay_conserves_energy_and_mass_and_balances_transverse_momentum() -> None:
    rng = np.random.default_rng(3)
    energy = rng.uniform(1.0, 8.0, 1000)
    m = 0.2
    d = ecl.two_photon_decay(energy, m, rng.uniform(-1, 1, 1000))
    np.testing.assert_allclose(d.e1 + d.e2, energy)
    assert np.all(d.e1 >= d.e2)
    np.testing.assert_allclose(2 * d.e1 * d.e2 * (1 - np.cos(d.opening_angle)), m**2, rtol=1e-9)
    np.testing.assert_allclose(d.e1 * np.sin(d.theta1), d.e2 * np.sin(d.theta2), rtol=1e-9)
    # photon energies E/2 (1 +- beta cos theta*): with cos theta* uniform, E2/E is uniform on [(1-beta)/2, 1/2]
    frac = d.e2 / energy
    assert frac.min() >= 0.0 and frac.max() <= 0.5
    assert np.mean(frac < 0.25) == pytest.approx(0.5, abs=0.05)


def test_minimum_separation_at_the_barrel_matches_the_physics_table() -> None:
    # docs/physics.md (pi0 kinematics): at 125 cm, 34 cm at 1 GeV, 17 cm at 2 GeV, 8.4 cm at 4 GeV, 6.8 cm at 5 GeV
    m = ecl.pi0_mass_gev()
    for energy, cm in [(1.0, 34.0), (2.0, 17.0), (4.0, 8.4), (5.0, 6.8)]:
        assert 125.0 * ecl.minimum_opening_angle(energy, m) == pytest.approx(cm, rel=0.02)


def test_resolution_is_belles_three_terms_in_quadrature() -> None:
    # NIM A 479 (2002) 117: sigma_E/E = 0.066 %/E (+) 0.81 %/E^(1/4) (+) 1.34 %, E in GeV
    cfg = EclPhotonData()
    for energy, expected in [(1.0, 0.015672), (4.0, 0.014574), (8.0, 0.014240)]:
        by_hand = math.sqrt((0.00066 / energy) ** 2 + (0.0081 / energy**0.25) ** 2 + 0.0134**2)
        assert by_hand == pytest.approx(expected, rel=1e-4)
        assert float(ecl.resolution(np.array([energy]), cfg)[0]) == pytest.approx(by_hand, rel=1e-12)
    # the showers' total deposits spread by it: 4 GeV photons on a wide patch, no noise, no shape fluctuations
    cfg = dataclasses.replace(QUIET, resolution_noise_term=0.00066, resolution_stochastic_term=0.0081,
                              resolution_constant_term=0.0134)  # fmt: skip
    n = 2000
    dep = ecl.deposit_showers(cfg, 41, np.arange(n), np.full(n, 4.0), np.zeros(n), np.zeros(n),
                              np.random.default_rng(5), n)  # fmt: skip
    total = dep.sum(axis=(1, 2))
    assert np.std(total) / np.mean(total) == pytest.approx(0.014574, rel=0.05)  # 1/sqrt(2n) = 1.6 % statistical


def test_separation_at_the_face_follows_the_polar_angle() -> None:
    """A symmetric decay (cos theta* = 0) lands its photons 2 R m / (p sin theta) apart on the barrel face."""
    cfg = EclPhotonData()
    m = ecl.pi0_mass_gev()
    for energy in (2.0, 5.0, 8.0):
        d = ecl.two_photon_decay(np.full(3, energy), m, np.zeros(3))
        theta = np.radians([90.0, 60.0, 32.2])
        distance = ecl.face_distance(theta, cfg)
        np.testing.assert_allclose(distance, 125.0 / np.sin(theta))
        p = math.sqrt(energy**2 - m**2)
        np.testing.assert_allclose(ecl.separation_at_face(distance, d), 2 * 125.0 * m / (p * np.sin(theta)), rtol=1e-9)
    # at the barrel's forward edge the photons land 1 / sin(32.2 deg) = 1.88 times farther apart than at 90 deg
    assert 1 / math.sin(math.radians(32.2)) == pytest.approx(1.876, abs=1e-3)


def test_a_falling_spectrum_draws_e_to_the_minus_index() -> None:
    cfg = EclPhotonData(energy_spectrum=Spectrum.FALLING, energy_spectrum_index=2.0, energy_range_gev=(1.0, 8.0))
    e = ecl.parent_energies(cfg, 200_000, np.random.default_rng(1))
    assert e.min() >= 1.0 and e.max() <= 8.0
    # dN/dE ~ E^-2 on [1, 8]: P(E < x) = (1 - 1/x) / (1 - 1/8)
    for x in (1.5, 2.0, 4.0):
        assert np.mean(e < x) == pytest.approx((1 - 1 / x) / (1 - 1 / 8), abs=0.005)
    flat = ecl.parent_energies(EclPhotonData(), 200_000, np.random.default_rng(1))
    assert np.mean(flat < 4.5) == pytest.approx(0.5, abs=0.005)


def test_containment_formula_gives_the_moliere_radius_definition() -> None:
    rm = QUIET.moliere_radius_cm
    f = ecl.containment(np.array([rm, 2 * rm, 3.5 * rm]), QUIET)
    assert f[0] == pytest.approx(0.90, abs=0.01)  # ~90 % inside one Moliere radius
    assert f[1] == pytest.approx(0.95, abs=0.02)  # ~95 % inside two
    assert f[2] > 0.98


def _square_fraction(cfg: EclPhotonData, half_width_cm: float) -> float:
    """The profile integrated over a square centred on the shower axis (numerically, from the density)."""
    n = 2001
    xs = np.linspace(-half_width_cm, half_width_cm, n)
    x, y = np.meshgrid(xs, xs)
    r2 = x**2 + y**2
    rc, rt = cfg.core_radius_rm * cfg.moliere_radius_cm, cfg.tail_radius_rm * cfg.moliere_radius_cm
    # 2D density of F(r) = r^2 / (r^2 + R^2) is R^2 / (pi (r^2 + R^2)^2)
    density = cfg.core_fraction * rc**2 / (np.pi * (r2 + rc**2) ** 2) + (1 - cfg.core_fraction) * rt**2 / (
        np.pi * (r2 + rt**2) ** 2
    )
    return float(np.trapezoid(np.trapezoid(density, xs, axis=1), xs))


def test_shower_deposits_follow_the_profile_crystal_by_crystal() -> None:
    cfg = dataclasses.replace(QUIET, spots_per_gev=20000.0)
    grid, n = 21, 40
    c = cfg.crystal_size_cm
    rng = np.random.default_rng(5)
    energy = np.full(n, 2.0)
    deposits = ecl.deposit_showers(cfg, grid, np.arange(n), energy, np.zeros(n), np.zeros(n), rng, n)
    assert deposits.sum(axis=(1, 2)).mean() == pytest.approx(2000.0 * float(ecl.containment(grid * c / 2, cfg)), 0.01)
    centre = grid // 2
    e1 = deposits[:, centre, centre].mean() / 2000.0
    e9 = deposits[:, centre - 1 : centre + 2, centre - 1 : centre + 2].sum(axis=(1, 2)).mean() / 2000.0
    assert e1 == pytest.approx(_square_fraction(cfg, c / 2), abs=0.005)
    assert e9 == pytest.approx(_square_fraction(cfg, 1.5 * c), abs=0.005)


@pytest.fixture(scope="module")
def clusters() -> ecl.Clusters:
    return ecl.simulate(EclPhotonData(), 3000, np.random.default_rng(11))


def test_merged_clusters_hold_both_photons_and_singles_share_their_energies(clusters: ecl.Clusters) -> None:
    cfg = EclPhotonData()
    merged = clusters.label == 0
    assert 0.45 < merged.mean() < 0.55
    assert np.all(clusters.separation_cm[merged] <= (cfg.image_size // 2) * cfg.crystal_size_cm + 1e-4)
    assert np.all(clusters.separation_cm[~merged] == 0)
    assert set(np.unique(clusters.source[merged])) == {ecl.SOURCE_PI0, ecl.SOURCE_ALP}
    assert np.mean(clusters.source[merged] == ecl.SOURCE_ALP) == pytest.approx(cfg.alp_fraction, abs=0.05)
    # the cluster energy alone must not tell the classes apart
    q = [0.1, 0.5, 0.9]
    np.testing.assert_allclose(
        np.quantile(clusters.energy_gev[~merged], q), np.quantile(clusters.energy_gev[merged], q), rtol=0.05
    )


def test_crystal_view_is_the_digitised_image_centred_on_its_hottest_crystal(clusters: ecl.Clusters) -> None:
    cfg = EclPhotonData()
    s = cfg.image_size
    flat = clusters.image_mev.reshape(len(clusters.label), -1)
    assert np.all(flat.argmax(axis=1) == s * s // 2)
    counts = clusters.x * 2**cfg.input_frac_bits
    np.testing.assert_array_equal(counts, np.round(counts))  # whole counts of lsb_mev
    assert counts.min() >= 0 and counts.max() <= 2**cfg.adc_bits - 1
    np.testing.assert_array_equal(clusters.x, ecl.digitise(clusters.image_mev, cfg))
    # the 7 x 7 image holds the energy within resolution, noise and leakage
    ratio = clusters.image_mev.sum(axis=(1, 2)) / 1000 / clusters.energy_gev
    assert np.median(ratio) == pytest.approx(0.99, abs=0.02)


def test_trigger_cell_view_sums_4x4_crystals_in_12_bit_words_of_5_25_mev() -> None:
    cfg = dataclasses.replace(QUIET, granularity=Granularity.TRIGGER_CELL)
    c = ecl.simulate(cfg, 400, np.random.default_rng(2))
    assert c.x.shape == (400, cfg.tc_image_size, cfg.tc_image_size)
    counts = c.x * 2**cfg.input_frac_bits
    np.testing.assert_array_equal(counts, np.round(counts))
    # without noise, the 3 x 3 cells (12 x 12 crystals) hold nearly all of the energy, to within the word's LSB
    total_mev = counts.sum(axis=(1, 2)) * cfg.lsb_mev
    assert np.median(total_mev / (1000 * c.energy_gev)) == pytest.approx(0.99, abs=0.02)
    assert np.all(counts.reshape(400, -1).argmax(axis=1) == cfg.tc_image_size**2 // 2)


def test_same_seed_same_clusters_in_both_views() -> None:
    a = ecl.simulate(EclPhotonData(), 200, np.random.default_rng(9))
    b = ecl.simulate(EclPhotonData(), 200, np.random.default_rng(9))
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.energy_gev, b.energy_gev)
    # the trigger-cell card sees the same clusters: only the network's input differs
    tc = ecl.simulate(EclPhotonData(granularity=Granularity.TRIGGER_CELL), 200, np.random.default_rng(9))
    np.testing.assert_array_equal(tc.image_mev, a.image_mev)
    np.testing.assert_array_equal(tc.tc_image_mev, a.tc_image_mev)
    np.testing.assert_array_equal(tc.x, ecl.digitise(a.tc_image_mev, EclPhotonData()))


def test_single_bump_only_keeps_clusters_with_one_local_maximum() -> None:
    from trigger_nn.tasks.ecl.shower_shapes import CRYSTAL, local_maxima

    cfg = EclPhotonData(single_bump_only=True)
    c = ecl.simulate(cfg, 600, np.random.default_rng(4))
    assert len(c.label) == 600 and c.label.sum() == 300
    assert np.all(local_maxima(c.image_mev, CRYSTAL.local_maximum_mev) == 1)
    # merged pi0s with one bump are the close pairs: within about two crystals, mostly at high energy
    merged = c.label == 0
    assert np.median(c.separation_cm[merged]) < 2 * cfg.crystal_size_cm
    everything = ecl.simulate(EclPhotonData(), 600, np.random.default_rng(4))
    assert np.median(c.energy_gev[merged]) > np.median(everything.energy_gev[everything.label == 0])


def test_the_word_reads_below_zero_as_0_and_above_its_top_as_the_top() -> None:
    """What the user-file check counts as clipped is exactly what ``digitise`` clips: rounding is not clipping."""
    cfg = EclPhotonData()
    mev = np.array([-1e7, -2.7, -2.6, 0.0, 2.6, 21498.75, 21501.3, 21501.4, 1e7], dtype=np.float32)
    counts = ecl.word_counts(mev, cfg)
    np.testing.assert_array_equal(counts < 0, [1, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(counts > ecl.word_top(cfg), [0, 0, 0, 0, 0, 0, 0, 1, 1])
    words = ecl.digitise(mev, cfg) * 2**cfg.input_frac_bits
    np.testing.assert_array_equal(words, [0, 0, 0, 0, 0, 4095, 4095, 4095, 4095])
