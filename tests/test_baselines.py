"""Shower-shape baselines on images whose values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from trigger_nn.tasks.ecl.shower_shapes import BASELINES, MOMENT_THRESHOLD_MEV, shower_shapes


def test_ratios_and_second_moment_of_a_hand_made_cluster() -> None:
    img = np.zeros((1, 5, 5))
    img[0, 2, 2] = 600.0  # E1
    img[0, 2, 3] = 200.0
    img[0, 1, 2] = 100.0  # E9 = 900
    img[0, 0, 0] = 100.0  # outside the 3 x 3, inside the 5 x 5
    img[0, 4, 4] = MOMENT_THRESHOLD_MEV / 2  # too small for the moment, still in E25
    f = shower_shapes(img, crystal_size_cm=5.0)
    e25 = 1000.0 + MOMENT_THRESHOLD_MEV / 2
    assert f["e1_e9"][0] == pytest.approx(600 / 900)
    assert f["e9_e25"][0] == pytest.approx(900 / e25)
    # second moment: sum E r^2 / sum E about the energy-weighted centroid, crystals above threshold only
    pts = np.array([[0, 0], [0, 5], [-5, 0], [-10, -10]], dtype=float)  # (row, col) in cm from the centre
    e = np.array([600, 200, 100, 100], dtype=float)
    c = (e[:, None] * pts).sum(0) / e.sum()
    assert f["second_moment_cm2"][0] == pytest.approx((e * ((pts - c) ** 2).sum(1)).sum() / e.sum(), rel=1e-5)


def test_a_narrow_cluster_scores_more_photon_like_than_a_split_one() -> None:
    narrow = np.zeros((5, 5))
    narrow[2, 2], narrow[2, 3] = 800.0, 100.0
    split = np.zeros((5, 5))
    split[2, 2], split[2, 3], split[2, 4] = 500.0, 300.0, 100.0  # a second shower to the right
    f = shower_shapes(np.stack([narrow, split]), crystal_size_cm=5.0)
    for b in BASELINES:
        s = b.score(f[b.key])
        assert s[0] > s[1], b.name


def test_empty_images_give_finite_values() -> None:
    f = shower_shapes(np.zeros((2, 7, 7)), crystal_size_cm=5.0)
    for values in f.values():
        assert np.all(np.isfinite(values))
