"""Shower-shape variables, what a Belle II calorimeter physicist tells photons from merged pi0s with.

They follow basf2's ECL shower-shape module (basf2 ecl/modules/eclShowerShape, ``ECLShowerShapeModule``):
E1/E9, E9/E21, the second moment, the lateral moment LAT and the Zernike moments |Znm|. basf2 computes
them on the crystals of a reconstructed shower projected on the plane perpendicular to its direction;
here they are computed on an image of cells (n, s, s) in MeV, s odd, centred on its most energetic cell,
either crystals or 4 x 4-crystal trigger cells (a ``View`` says which). The image is taken as that
plane. Negative cells (noise) are clipped to 0 before anything else: an energy is never negative.
Quantities with no energy to measure (an empty image) are 0, as in basf2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class View:
    """How big a cell is and which thresholds suit it, so one code serves crystals and trigger cells."""

    name: str  # "crystal" / "trigger cell", for reports
    cell_cm: float  # width of one cell at the calorimeter face
    local_maximum_mev: float  # a local maximum must exceed this
    zernike_rho0_cm: float  # radius that normalises rho in the Zernike moments
    lat_r0_cm: float  # r0 of the lateral moment
    count_threshold_mev: float  # cells above this count towards n_cells; the second moment and centroid use only them


#: Crystals. rho0 = 10 cm is basf2's ``zernike_n1_rho0`` (photon hypothesis) and r0 = 5 cm its
#: ``avgCrystalDimension`` (basf2 ecl/modules/eclShowerShape). The 50 MeV local-maximum threshold is our
#: choice: well above the 2 MeV crystal noise and most beam-background hits. The 10 MeV count threshold
#: is our choice too: noise far from the axis would otherwise dominate the second moment.
CRYSTAL = View(
    name="crystal",
    cell_cm=5.0,
    local_maximum_mev=50.0,
    zernike_rho0_cm=10.0,
    lat_r0_cm=5.0,
    count_threshold_mev=10.0,
)

#: 4 x 4-crystal trigger cells. 100 MeV, for both local maxima and counted cells, is the default trigger-cell
#: threshold of the Belle II trigger simulation (basf2 trg/ecl, ``TRGECLFAMModule``'s ``TCThreshold``; the
#: upper end of Belle's 50-100 MeV, docs/physics.md section 1.2): a cell below it is not a trigger-cell hit.
#: rho0 = 30 cm (a 3 x 3 of 20 cm cells fits inside) and r0 = one cell are our choices, basf2's scaled to the cell.
TRIGGER_CELL = View(
    name="trigger cell",
    cell_cm=20.0,
    local_maximum_mev=100.0,
    zernike_rho0_cm=30.0,
    lat_r0_cm=20.0,
    count_threshold_mev=100.0,
)

#: The (n, m) that basf2 stores as |Znm| and this module reports; Belle II's photon ID uses |Z40| and |Z51|.
ZERNIKE_ORDERS = ((2, 0), (4, 0), (4, 2), (5, 1), (5, 3))

#: How reports show each key of ``shower_shapes``.
SHAPE_NAMES: dict[str, str] = {
    "e1_e9": "E1/E9",
    "e9_e21": "E9/E21",
    "second_moment_cm2": "second moment",
    "lat": "LAT",
    **{f"z{n}{m}": f"|Z{n}{m}|" for n, m in ZERNIKE_ORDERS},
    "n_local_maxima": "local maxima",
    "n_cells": "cells",
    "energy_mev": "energy",
}


def _energies(images_mev: np.ndarray) -> np.ndarray:
    """Cell energies (n, s, s) in float64, negatives clipped, after checking the shape every function relies on."""
    e = np.asarray(images_mev, dtype=np.float64)
    if e.ndim != 3 or e.shape[1] != e.shape[2] or e.shape[1] % 2 == 0:
        raise ValueError(f"images must be (n, s, s) with s odd, got shape {e.shape}")
    return np.maximum(e, 0.0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where there is nothing to divide by (basf2 returns 0 there too)."""
    ok = den > 0
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def _polar(e: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray]:
    """Distance (cm) and angle of each cell centre about the shower centre, each (n, s, s).

    The shower centre is the energy-weighted centroid of the cells above ``view.count_threshold_mev``
    (the image centre when there are none), so a noise hit far out does not drag it.
    """
    s = e.shape[1]
    pos = (np.arange(s) - s // 2) * view.cell_cm
    w = np.where(e > view.count_threshold_mev, e, 0.0)
    total = w.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    y0 = (w.sum(axis=2) @ pos) / safe  # zero when total is zero: the image centre
    x0 = (w.sum(axis=1) @ pos) / safe
    dy = pos[None, :, None] - y0[:, None, None]
    dx = pos[None, None, :] - x0[:, None, None]
    return np.hypot(dx, dy), np.arctan2(dy, dx)


def local_maxima(images: np.ndarray, threshold_mev: float) -> np.ndarray:
    """Number of local maxima above ``threshold_mev`` per image (n,), int: the count of separate bumps.

    A cell is a local maximum when it exceeds the threshold, is strictly greater than its neighbours
    that come before it in raster order (the row above and the cell to its left) and at least as large
    as those after it (the cell to its right and the row below). Cells beyond the edge count as 0.
    So a plateau of two equal neighbouring cells counts once (its first cell in raster order), and so
    does any plateau whose cells, but the first, each touch an earlier cell of it.
    """
    e = _energies(images)
    n, s, _ = e.shape
    p = np.pad(e, ((0, 0), (1, 1), (1, 1)))
    centre = p[:, 1:-1, 1:-1]
    peak = centre > threshold_mev
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            neighbour = p[:, 1 + dy : 1 + dy + s, 1 + dx : 1 + dx + s]
            earlier = dy < 0 or (dy == 0 and dx < 0)
            peak &= centre > neighbour if earlier else centre >= neighbour
    return peak.sum(axis=(1, 2))


def zernike_radial(n: int, m: int, rho: np.ndarray) -> np.ndarray:
    """Zernike's radial polynomial R_nm(rho), for n - m even and 0 <= m <= n.

    The standard sum over k of (-1)^k (n - k)! / (k! ((n + m)/2 - k)! ((n - m)/2 - k)!) rho^(n - 2k)
    (Born & Wolf, Principles of Optics, appendix on Zernike's circle polynomials).
    """
    if not 0 <= m <= n or (n - m) % 2:
        raise ValueError(f"Zernike R_nm needs 0 <= m <= n and n - m even, got n={n}, m={m}")
    rho = np.asarray(rho, dtype=np.float64)
    out = np.zeros_like(rho)
    for k in range((n - m) // 2 + 1):
        c = math.factorial(n - k) / (
            math.factorial(k) * math.factorial((n + m) // 2 - k) * math.factorial((n - m) // 2 - k)
        )
        out += (-1) ** k * c * rho ** (n - 2 * k)
    return out


def _zernike(
    e: np.ndarray, r: np.ndarray, alpha: np.ndarray, view: View, orders: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], np.ndarray]:
    total = e.sum(axis=(1, 2))
    rho = np.minimum(r / view.zernike_rho0_cm, 1.0)  # basf2's zernike_useFarCrystals: far cells sit on the rim
    out = {}
    for n, m in orders:
        er = e * zernike_radial(n, m, rho)
        re = (er * np.cos(m * alpha)).sum(axis=(1, 2))
        im = (er * np.sin(m * alpha)).sum(axis=(1, 2))
        out[(n, m)] = _ratio((n + 1) / np.pi * np.hypot(re, im), total)
    return out


def zernike_moments(
    images: np.ndarray, view: View, orders: Iterable[tuple[int, int]] = ZERNIKE_ORDERS
) -> dict[tuple[int, int], np.ndarray]:
    """|A_nm| per image (n,) for each (n, m) in ``orders``: how round (m = 0) or lopsided (m > 0) the shower is.

    |A_nm| = (n + 1)/pi |sum_i E_i R_nm(rho_i) exp(-i m alpha_i)| / sum_i E_i over all cells, with
    rho_i = r_i / rho0 and cells beyond rho0 put at rho = 1, as basf2 does for the photon hypothesis
    (basf2 ecl/modules/eclShowerShape: rho0 = 10 cm, ``zernike_useFarCrystals`` true).
    """
    e = _energies(images)
    r, alpha = _polar(e, view)
    return _zernike(e, r, alpha, view, orders)


def _lat(e: np.ndarray, r: np.ndarray, view: View) -> np.ndarray:
    n = e.shape[0]
    flat_e = e.reshape(n, -1)
    order = np.argsort(-flat_e, axis=1, kind="stable")
    se = np.take_along_axis(flat_e, order, axis=1)
    sr2 = np.take_along_axis(r.reshape(n, -1) ** 2, order, axis=1)
    tail = (se[:, 2:] * sr2[:, 2:]).sum(axis=1)
    lat = _ratio(tail, tail + view.lat_r0_cm**2 * (se[:, 0] + se[:, 1]))
    return np.where((flat_e > 0).sum(axis=1) >= 3, lat, 0.0)


def lateral_moment(images: np.ndarray, view: View) -> np.ndarray:
    """LAT per image (n,): the share of the energy spread beyond the two hottest cells, larger for hadrons and pairs.

    LAT = sum_{i>=3} E_i r_i^2 / (sum_{i>=3} E_i r_i^2 + r0^2 (E_1 + E_2)), cells sorted by energy and r_i
    about the shower centre (ARGUS's lateral moment, as basf2 ecl/modules/eclShowerShape computes it with
    r0 = ``avgCrystalDimension`` = 5 cm). 0 when fewer than 3 cells hold energy.
    """
    e = _energies(images)
    r, _ = _polar(e, view)
    return _lat(e, r, view)


def shower_shapes(images_mev: np.ndarray, view: View) -> dict[str, np.ndarray]:
    """Every shower-shape variable of images (n, s, s) in MeV, as float32 arrays (n,) keyed as ``SHAPE_NAMES``.

    E1/E9 is the centre cell over the 3 x 3 around it; E9/E21 (only for s >= 5) the 3 x 3 over the 5 x 5
    without its 4 corners, basf2's 21 cells. The second moment is sum E r^2 / sum E over the cells above
    ``view.count_threshold_mev`` about their centroid (cm^2; basf2 also corrects it for the polar angle,
    which a plane has not). ``energy_mev`` sums the positive cells.
    """
    e = _energies(images_mev)
    s = e.shape[1]
    c = s // 2
    r, alpha = _polar(e, view)
    counted = e > view.count_threshold_mev
    w = np.where(counted, e, 0.0)
    e9 = e[:, c - 1 : c + 2, c - 1 : c + 2].sum(axis=(1, 2))
    out = {"e1_e9": _ratio(e[:, c, c], e9)}
    if s >= 5:
        e25 = e[:, c - 2 : c + 3, c - 2 : c + 3]
        e21 = e25.sum(axis=(1, 2)) - e25[:, ::4, ::4].sum(axis=(1, 2))
        out["e9_e21"] = _ratio(e9, e21)
    out["second_moment_cm2"] = _ratio((w * r**2).sum(axis=(1, 2)), w.sum(axis=(1, 2)))
    out["lat"] = _lat(e, r, view)
    out |= {f"z{n}{m}": a for (n, m), a in _zernike(e, r, alpha, view, ZERNIKE_ORDERS).items()}
    out["n_local_maxima"] = local_maxima(e, view.local_maximum_mev)
    out["n_cells"] = counted.sum(axis=(1, 2))
    out["energy_mev"] = e.sum(axis=(1, 2))
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}
