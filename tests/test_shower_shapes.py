"""Shower-shape variables on hand-made images, against their formulas worked out in each test."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from trigger_nn.tasks.ecl.shower_shapes import (
    CRYSTAL,
    SHAPE_NAMES,
    TRIGGER_CELL,
    lateral_moment,
    local_maxima,
    shower_shapes,
    zernike_moments,
    zernike_radial,
)


def image(cells: dict[tuple[int, int], float], size: int = 7) -> np.ndarray:
    """One image (1, size, size) in MeV with the given (row, column) cells filled, the rest empty."""
    img = np.zeros((1, size, size))
    for (row, col), mev in cells.items():
        img[0, row, col] = mev
    return img


# Zernike's radial polynomials written out (basf2 ecl/modules/eclShowerShape lists the same ones).
WRITTEN_OUT = {
    (2, 0): lambda p: 2 * p**2 - 1,
    (4, 0): lambda p: 6 * p**4 - 6 * p**2 + 1,
    (4, 2): lambda p: 4 * p**4 - 3 * p**2,
    (5, 1): lambda p: 10 * p**5 - 12 * p**3 + 3 * p,
    (5, 3): lambda p: 5 * p**5 - 4 * p**3,
}


@pytest.mark.parametrize(("n", "m"), list(WRITTEN_OUT))
def test_the_general_radial_polynomial_is_the_written_out_one(n: int, m: int) -> None:
    rho = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(zernike_radial(n, m, rho), WRITTEN_OUT[(n, m)](rho), atol=1e-12)


def test_radial_polynomials_need_n_minus_m_even() -> None:
    with pytest.raises(ValueError, match="n - m even"):
        zernike_radial(3, 0, np.zeros(1))


def test_zernike_moments_of_a_point_are_the_polynomials_at_zero() -> None:
    # all the energy in the centre cell: the shower centre is that cell, rho = 0 and |A_nm| = (n+1)/pi |R_nm(0)|
    z = zernike_moments(image({(3, 3): 1000.0}), CRYSTAL)
    assert z[(2, 0)][0] == pytest.approx(3 / math.pi)  # R_20(0) = -1
    assert z[(4, 0)][0] == pytest.approx(5 / math.pi)  # R_40(0) = 1
    for nm in [(4, 2), (5, 1), (5, 3)]:  # R_nm(0) = 0 for m > 0
        assert z[nm][0] == pytest.approx(0.0, abs=1e-12)


def test_zernike_moments_of_a_ring_of_four_edge_neighbours() -> None:
    # 4 cells at r = 5 cm (rho = 0.5) around an empty centre, at alpha = 0, 90, 180, 270 degrees
    ring = image({(2, 3): 100.0, (4, 3): 100.0, (3, 2): 100.0, (3, 4): 100.0})
    z = zernike_moments(ring, CRYSTAL)
    assert z[(2, 0)][0] == pytest.approx(3 / math.pi * abs(2 * 0.25 - 1))  # 3/pi * 0.5
    assert z[(4, 0)][0] == pytest.approx(5 / math.pi * abs(6 * 0.5**4 - 6 * 0.25 + 1))  # 5/pi * 0.125
    # sum of exp(-i m alpha) over the 4 angles: 0 for m = 1, 2, 3 (m = 2 gives 1 - 1 + 1 - 1)
    for nm in [(4, 2), (5, 1), (5, 3)]:
        assert z[nm][0] == pytest.approx(0.0, abs=1e-12)


def test_zernike_moments_of_a_diagonal_ring() -> None:
    # the 4 diagonal neighbours: r = 5 sqrt(2) cm, rho = 0.7071, rho^2 = 0.5
    ring = image({(2, 2): 50.0, (2, 4): 50.0, (4, 2): 50.0, (4, 4): 50.0})
    z = zernike_moments(ring, CRYSTAL)
    assert z[(2, 0)][0] == pytest.approx(0.0, abs=1e-12)  # R_20 = 2 * 0.5 - 1
    assert z[(4, 0)][0] == pytest.approx(5 / math.pi * 0.5)  # R_40 = 6 * 0.25 - 3 + 1 = -0.5
    assert z[(5, 1)][0] == pytest.approx(0.0, abs=1e-12)


def test_cells_beyond_rho0_sit_on_the_rim() -> None:
    # 8 cells at (+-1, +-2) and (+-2, +-1) crystals: r = 5 sqrt(5) = 11.18 cm, beyond rho0 = 10 cm, so rho = 1,
    # where R_n0(1) = 1; the ring is symmetric under 90 degree turns, so m = 1, 2, 3 cancel
    offsets = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)]
    ring = image({(3 + dy, 3 + dx): 100.0 for dy, dx in offsets})
    z = zernike_moments(ring, CRYSTAL)
    assert z[(2, 0)][0] == pytest.approx(3 / math.pi)
    assert z[(4, 0)][0] == pytest.approx(5 / math.pi)
    for nm in [(4, 2), (5, 1), (5, 3)]:
        assert z[nm][0] == pytest.approx(0.0, abs=1e-12)
    # with rho0 = 20 cm the same ring is inside: rho = sqrt(5)/4, rho^2 = 5/16
    wide = zernike_moments(ring, dataclasses.replace(CRYSTAL, zernike_rho0_cm=20.0), orders=[(2, 0)])
    assert wide[(2, 0)][0] == pytest.approx(3 / math.pi * abs(2 * 5 / 16 - 1))


def test_zernike_moments_of_a_gaussian_blob() -> None:
    # a 2-D Gaussian (sigma 6 cm) on the 7 x 7 crystal grid: symmetric under 90 degree turns about the centre
    pos = (np.arange(7) - 3) * 5.0
    r = np.hypot(pos[:, None], pos[None, :])
    blob = 1000.0 * np.exp(-(r**2) / (2 * 6.0**2))
    z = zernike_moments(blob[None], CRYSTAL)
    for nm in [(4, 2), (5, 1), (5, 3)]:  # exp(-i m alpha) changes by exp(-i m pi/2) != 1 under a turn
        assert z[nm][0] == pytest.approx(0.0, abs=1e-9)
    # |A_20| by hand: every cell, those beyond 10 cm taken at rho = 1
    num = den = 0.0
    for row in range(7):
        for col in range(7):
            rho = min(math.hypot(pos[row], pos[col]) / 10.0, 1.0)
            num += blob[row, col] * (2 * rho**2 - 1)
            den += blob[row, col]
    assert z[(2, 0)][0] == pytest.approx(3 / math.pi * abs(num) / den, rel=1e-12)
    # the rim matters: left at their own rho the far cells would give a different value
    unclipped = (blob * (2 * (r / 10.0) ** 2 - 1)).sum() / blob.sum()
    assert abs(3 / math.pi * abs(unclipped) - z[(2, 0)][0]) > 0.05


def test_zernike_moments_of_a_shifted_shower_are_taken_about_its_centroid() -> None:
    # the same 4-cell ring moved by one crystal gives the same moments: they describe the shape, not the position
    ring = {(2, 3): 100.0, (4, 3): 100.0, (3, 2): 100.0, (3, 4): 100.0}
    moved = image({(row, col + 1): mev for (row, col), mev in ring.items()})
    a, b = zernike_moments(image(ring), CRYSTAL), zernike_moments(moved, CRYSTAL)
    for nm in a:
        assert b[nm][0] == pytest.approx(a[nm][0], abs=1e-12)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({(3, 3): 500.0}, 1),  # one peak
        ({(3, 3): 500.0, (3, 4): 100.0, (1, 1): 300.0}, 2),  # two peaks with a gap between them
        ({(3, 3): 500.0, (4, 4): 300.0}, 1),  # diagonal neighbours: the smaller is not a maximum
        ({(3, 3): 400.0, (3, 4): 400.0}, 1),  # a two-cell plateau, side by side
        ({(3, 3): 400.0, (4, 3): 400.0}, 1),  # ... one above the other
        ({(3, 3): 400.0, (4, 2): 400.0}, 1),  # ... diagonal
        ({(3, 3): 40.0}, 0),  # below the 50 MeV threshold
        ({(0, 0): 200.0}, 1),  # in a corner: cells beyond the edge count as 0
        ({(6, 3): 200.0, (3, 3): 500.0}, 2),  # at the bottom edge, besides the centre
        ({(3, 3): 500.0, (3, 4): -30.0, (0, 6): -80.0}, 1),  # negative noise is no energy
    ],
)
def test_local_maxima_of_hand_made_images(cells: dict[tuple[int, int], float], expected: int) -> None:
    assert local_maxima(image(cells), CRYSTAL.local_maximum_mev).tolist() == [expected]


def test_local_maxima_count_each_image_of_a_batch() -> None:
    batch = np.concatenate([image({(3, 3): 500.0}), image({}), image({(3, 3): 500.0, (3, 5): 200.0})])
    assert local_maxima(batch, 50.0).tolist() == [1, 0, 2]


def test_ratios_moments_and_lat_of_a_hand_made_cluster() -> None:
    img = image(
        {
            (2, 2): 600.0,  # E1, the centre
            (2, 3): 200.0,  # E2, right of it
            (1, 2): 100.0,  # E9 = 900
            (0, 2): 50.0,  # in the 21 cells: E21 = 950
            (0, 0): 100.0,  # a corner of the 5 x 5: not in E21, a second local maximum
            (4, 4): 5.0,  # below the 10 MeV count threshold: in LAT, not in the second moment
        },
        size=5,
    )
    f = shower_shapes(img, CRYSTAL)
    assert f["e1_e9"][0] == pytest.approx(600 / 900)
    assert f["e9_e21"][0] == pytest.approx(900 / 950)
    assert f["n_cells"][0] == 5
    assert f["n_local_maxima"][0] == 2
    assert f["energy_mev"][0] == pytest.approx(1055.0)
    # Cells above 10 MeV in (row, col) cm from the centre: 600 (0, 0), 200 (0, 5), 100 (-5, 0), 50 (-10, 0),
    # 100 (-10, -10); sum 1050. Centroid: col (5*200 - 10*100)/1050 = 0, row -(500 + 500 + 1000)/1050 = -40/21.
    # sum E r^2 about the centre = 200*25 + 100*25 + 50*100 + 100*200 = 32500; the parallel-axis theorem
    # takes off the centroid's offset: 32500/1050 - (40/21)^2 = 12050/441 cm^2.
    assert f["second_moment_cm2"][0] == pytest.approx(12050 / 441, rel=1e-6)
    # LAT: E1 + E2 = 800, r0^2 = 25; the rest's r^2 about the centroid (0, -40/21), in cm^2 * 441:
    # (-5, 0) -> 65^2 = 4225, (-10, -10) -> 170^2 + 44100 = 73000, (-10, 0) -> 28900, (10, 10) -> 250^2 + 44100
    # = 106600; so sum E r^2 = (100*4225 + 100*73000 + 50*28900 + 5*106600)/441 = 9700500/441.
    expected_lat = 9700500 / (9700500 + 25 * 800 * 441)
    assert f["lat"][0] == pytest.approx(expected_lat, rel=1e-6)
    assert lateral_moment(img, CRYSTAL)[0] == pytest.approx(expected_lat)


def test_lat_needs_three_cells() -> None:
    two = image({(3, 3): 800.0, (3, 4): 100.0})
    three = image({(3, 3): 800.0, (3, 4): 100.0, (3, 5): 10.0})
    assert lateral_moment(two, CRYSTAL)[0] == 0.0
    # 10 MeV is not above the count threshold, so the centroid is 100*5/900 = 5/9 cm right of the centre
    # and the third cell r = 10 - 5/9 = 85/9 cm from it: LAT = 10 (85/9)^2 / (10 (85/9)^2 + 25 * 900)
    assert lateral_moment(three, CRYSTAL)[0] == pytest.approx(72250 / (72250 + 22500 * 81))


def test_every_key_has_a_report_name_and_values_are_float32() -> None:
    f = shower_shapes(image({(3, 3): 500.0}), CRYSTAL)
    assert list(f) == list(SHAPE_NAMES)
    assert all(v.dtype == np.float32 and v.shape == (1,) for v in f.values())
    assert SHAPE_NAMES["e9_e21"] == "E9/E21" and SHAPE_NAMES["z40"] == "|Z40|"


@pytest.mark.parametrize("fill", [0.0, -5.0])
def test_empty_and_all_negative_images_give_finite_zeros(fill: float) -> None:
    f = shower_shapes(np.full((2, 7, 7), fill), CRYSTAL)
    for key, values in f.items():
        assert np.all(np.isfinite(values)), key
        assert np.all(values == 0.0), key


def test_the_trigger_cell_view_of_a_3_x_3_image() -> None:
    # 20 cm cells: the centre 1000 MeV and 200 MeV to its right, both above the 100 MeV threshold; 50 MeV below it
    tc = image({(1, 1): 1000.0, (1, 2): 200.0, (0, 0): 50.0}, size=3)
    f = shower_shapes(tc, TRIGGER_CELL)
    assert "e9_e21" not in f
    assert all(np.all(np.isfinite(v)) for v in f.values())
    assert f["e1_e9"][0] == pytest.approx(1000 / 1250)
    assert f["n_cells"][0] == 2
    assert f["n_local_maxima"][0] == 1
    # centroid 200*20/1200 = 10/3 cm right of the centre: 1000 (10/3)^2 + 200 (50/3)^2 over 1200 = 500/9 cm^2
    assert f["second_moment_cm2"][0] == pytest.approx(500 / 9, rel=1e-6)
    empty = shower_shapes(np.zeros((1, 3, 3)), TRIGGER_CELL)
    assert all(np.all(np.isfinite(v)) for v in empty.values())


def test_images_must_be_square_and_odd() -> None:
    with pytest.raises(ValueError, match="s odd"):
        shower_shapes(np.zeros((1, 4, 4)), CRYSTAL)


def test_a_narrow_shower_looks_more_photon_like_than_a_split_one() -> None:
    narrow = image({(3, 3): 800.0, (3, 4): 60.0, (3, 2): 50.0, (2, 3): 40.0, (4, 3): 30.0})
    # the same energy, with a second photon two crystals to the right
    split = image({(3, 3): 500.0, (3, 4): 120.0, (3, 5): 250.0, (3, 2): 40.0, (2, 3): 30.0, (4, 3): 40.0})
    f = shower_shapes(np.concatenate([narrow, split]), CRYSTAL)
    assert f["energy_mev"][0] == pytest.approx(f["energy_mev"][1])
    assert f["e1_e9"][0] > f["e1_e9"][1]
    assert f["second_moment_cm2"][0] < f["second_moment_cm2"][1]
    assert f["lat"][0] < f["lat"][1]
    assert f["n_local_maxima"].tolist() == [1, 2]
