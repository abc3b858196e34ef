"""A user's own Belle II ECL clusters, read from a ROOT, HDF5 or NPZ file instead of the simulation.

The file holds, per cluster, a crystal-energy image (MeV) centred on its most energetic crystal, a
label (1 single photon, 0 merged two-photon cluster) and optionally the cluster energy (GeV). The
names come from the card's ``data.user`` section (``UserClusters``). Everything the flow cannot
take is a ``DataError`` whose one message names the file, the branch or dataset, what is wrong and
what to do: the user cannot fix what a library traceback describes. Nothing is changed silently: crystal
values the trigger word clips (``check_words``) are counted and warned about, or refused on request.

The files are read by ``tasks/data_files.py``, as every task's are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..data_files import FileRoles, Source, check_path, listing, numeric, read_arrays, same_length, values_text
from .config import EclPhotonData, OutOfRange, UserClusters
from .simulation import word_counts, word_top

log = logging.getLogger(__name__)

#: fewer clusters than this cannot be split into a training and a test set worth the name.
MIN_CLUSTERS = 20

#: the cluster file to the shared readers
ROLES = FileRoles(
    key="data.user.path",
    entry="cluster",
    tree_key="data.user.tree",
    npz_example="np.savez(path, image=..., is_photon=..., energy=...)",
)


@dataclass(frozen=True, kw_only=True)
class ClusterFile:
    """A user's clusters as the flow takes them."""

    images_mev: np.ndarray  # (n, image_size, image_size) float32, crystal energies in MeV
    is_photon: np.ndarray  # (n,) int8, 1 single photon, 0 merged
    energy_gev: np.ndarray  # (n,) float32; NaN everywhere when the file has no energy (user.energy is None)


@dataclass(frozen=True, kw_only=True)
class InputWords:
    """Per cluster, the crystal values the trigger word cannot hold and reads as 0 or as its top."""

    below_zero: np.ndarray  # (n,) int32: values that round below 0 counts of lsb_mev (read as 0)
    above_top: np.ndarray  # (n,) int32: values that round above 2**adc_bits - 1 counts (read as the top)
    all_zero: np.ndarray  # (n,) bool: every word of the cluster is 0


def read_clusters(user: UserClusters, image_size: int) -> ClusterFile:
    """Read and check a user's cluster file; raise ``DataError`` on anything the flow cannot take."""
    path = Path(user.path)
    check_path(path, ROLES)
    n_pixels = image_size**2
    if len(user.image) not in (1, n_pixels):
        raise DataError(
            f"{path}: data.user.image names {len(user.image)} branches; name one array branch of "
            f"image_size**2 = {n_pixels} values per cluster, or {n_pixels} scalar branches in row-major order"
        )

    for key, name in (("label", user.label), ("energy", user.energy)):
        if name in user.image or (key == "energy" and name == user.label):
            other = "data.user.image" if name in user.image else "data.user.label"
            raise DataError(
                f"{path}: data.user.{key} and {other} both name {name!r}; the image, the label and the energy "
                "each need their own branch"
            )
    roles = {name: "data.user.image" for name in user.image}
    roles[user.label] = "data.user.label"
    if user.energy is not None:
        roles[user.energy] = "data.user.energy (optional)"
    src, raw = read_arrays(path, roles, ROLES, tree=user.tree)

    single_image = len(user.image) == 1
    arrays = {}
    for name in roles:
        want = n_pixels if single_image and name == user.image[0] else 1
        arrays[name] = _numeric(src, name, raw[name], want, image_size)
    same_length(src, arrays)
    n = len(arrays[user.label])
    if n < MIN_CLUSTERS:
        raise DataError(
            f"{path}: the file holds only {n} clusters; the flow needs at least {MIN_CLUSTERS} to train and test "
            f"(data.user.test_fraction = {user.test_fraction} of them are kept for the test)"
        )

    if single_image:
        images = arrays[user.image[0]]
    else:
        images = np.stack([arrays[name] for name in user.image], axis=1)
    with np.errstate(over="ignore"):  # beyond float32's range is reported as infinite below
        images = images.reshape(n, image_size, image_size).astype(np.float32)
    is_photon = _labels(src, user.label, arrays[user.label])
    _check_images(src, user.image, images)
    if user.energy is None:
        energy = np.full(n, np.nan, dtype=np.float32)
    else:
        energy = _energies(src, user.energy, arrays[user.energy])
    return ClusterFile(images_mev=images, is_photon=is_photon, energy_gev=energy)


def check_words(images_mev: np.ndarray, data: EclPhotonData) -> InputWords:
    """Count the crystal values of a user's ``images_mev`` (n, size, size) that ``data``'s trigger word clips.

    A value below zero (by more than half a step, so that it rounds below 0 counts) reads as 0, one above
    the word's top as the top. Those values and the clusters left all zero are a warning on this module's
    logger; with ``data.user.out_of_range: error`` the first clipped value is a ``DataError``, and a file
    whose every cluster is all zero is one in any case (it carries no information for the network).
    """
    assert data.user is not None
    path, n = data.user.path, len(images_mev)
    counts = word_counts(images_mev, data).reshape(n, -1)
    low, high = counts < 0, counts > word_top(data)
    words = InputWords(
        below_zero=low.sum(axis=1, dtype=np.int32),
        above_top=high.sum(axis=1, dtype=np.int32),
        all_zero=(counts <= 0).all(axis=1),
    )
    half = data.lsb_mev / 2
    if words.all_zero.all():
        raise DataError(
            f"{path}: every one of the {n} clusters is all zero in {_word(data)}: the largest crystal energy is "
            f"{float(images_mev.max()):g} MeV, under half a step ({half:g} MeV), so the network would see no "
            "information. Check that the energies are in MeV and rescale them, or set a smaller data.lsb_mev"
        )
    clipped = low | high
    if clipped.any() and data.user.out_of_range == OutOfRange.ERROR:
        first, crystal = divmod(int(np.argmax(clipped)), clipped.shape[1])
        row, col = divmod(crystal, images_mev.shape[-1])
        raise DataError(
            f"{path}: cluster {first} holds {float(images_mev[first, row, col]):g} MeV at row {row}, column {col}, "
            f"outside {_word(data)}, and data.user.out_of_range is error: rescale the energies to MeV, or set "
            "data.lsb_mev / data.adc_bits so that the word holds them (or data.user.out_of_range: warn to clip them)"
        )
    if clipped.any():
        log.warning(
            "%s: %s clips %d crystal values in %d of %d clusters: %d below zero (under -%g MeV, half a step) read "
            "as 0, %d above the top read as the top. The network sees the clipped words; to keep the values, "
            "rescale the energies or set data.lsb_mev / data.adc_bits; to refuse such data, set "
            "data.user.out_of_range: error",
            path,
            _word(data),
            int(clipped.sum()),
            int(clipped.any(axis=1).sum()),
            n,
            int(low.sum()),
            half,
            int(high.sum()),
        )
    if words.all_zero.any():
        log.warning(
            "%s: %d of %d clusters are all zero in %s: every crystal is under half a step (%g MeV; the first such "
            "cluster at index %d), so they carry no information for the network; remove them, or set a smaller "
            "data.lsb_mev",
            path,
            int(words.all_zero.sum()),
            n,
            _word(data),
            half,
            int(np.argmax(words.all_zero)),
        )
    return words


def _word(data: EclPhotonData) -> str:
    """The input word and the crystal energies it holds, as the messages name it."""
    return f"the {data.adc_bits}-bit input word of {data.lsb_mev:g} MeV (0 to {word_top(data) * data.lsb_mev:.10g} MeV)"


# ---------------------------------------------------------------- readers: name -> array as stored


# ---------------------------------------------------------------- checks


def _numeric(src: Source, name: str, arr: Any, want: int, image_size: int) -> np.ndarray:
    """A plain numeric array with ``want`` values per cluster (an image, or one value)."""
    per = f"image_size**2 = {want} values" if want > 1 else "one value"
    arr = numeric(src, name, arr, per_entry=per)
    shape = arr.shape[1:]
    got = int(np.prod(shape))
    if want == 1 and shape not in ((), (1,)):
        hint = "" if got != image_size**2 else " (an image? then name only it in data.user.image)"
        raise DataError(f"{src.at(name)} holds {got} values per cluster; expected one{hint}")
    if want > 1 and shape not in ((want,), (image_size, image_size)):
        if got == want:
            raise DataError(
                f"{src.at(name)} holds images of shape {shape}; expected {want} values per cluster as "
                f"({want},) or ({image_size}, {image_size})"
            )
        hint = (
            f"name the one array branch of the images, or {want} scalar branches, one per crystal"
            if got == 1
            else f"check data.image_size ({image_size}) against the file's images"
        )
        raise DataError(
            f"{src.at(name)} holds {got} value{'s' if got != 1 else ''} per cluster; expected image_size**2 = "
            f"{want} values, got {got}: {hint}"
        )
    return arr.reshape(len(arr), want) if want > 1 else arr.reshape(len(arr))


def _labels(src: Source, name: str, values: np.ndarray) -> np.ndarray:
    """Labels are exactly 0 or 1, and both classes are present (a one-class file cannot train a classifier)."""
    found = np.unique(values)
    if not np.isin(found, (0, 1)).all():
        raise DataError(
            f"{src.at(name)} holds labels other than 0 and 1: found {values_text(found)}; "
            "use 1 for a single photon and 0 for a merged two-photon cluster"
        )
    is_photon = values.astype(np.int8)
    n_photon = int(is_photon.sum())
    if n_photon in (0, len(is_photon)):
        present, absent = ("1 (single photon)", "0 (merged)") if n_photon else ("0 (merged)", "1 (single photon)")
        raise DataError(
            f"{src.at(name)} labels every one of the {len(is_photon)} clusters {present}; the network needs "
            f"both classes: add clusters labelled {absent}"
        )
    return is_photon


def _check_images(src: Source, names: tuple[str, ...], images: np.ndarray) -> None:
    """Finite crystal energies, and each image centred on its most energetic crystal (as the simulation is)."""
    n, size = images.shape[0], images.shape[1]
    flat = images.reshape(n, -1)
    bad = ~np.isfinite(flat)
    if bad.any():
        clusters = bad.any(axis=1)
        columns = [names[0]] if len(names) == 1 else [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        if len(columns) == 1:
            where = f"{src.at(columns[0])} holds"
        else:
            where = f"{src.path}: {src.nouns} {listing(columns, limit=5)} hold"
        raise DataError(
            f"{where} {int(bad.sum())} NaN or infinite crystal energies in {int(clusters.sum())} clusters "
            f"(the first at index {int(np.argmax(clusters))}); remove those clusters or fix their values"
        )
    centre = size * size // 2
    off = flat[:, centre] < flat.max(axis=1)  # a tie with the centre is still centred
    if off.any():
        first = int(np.argmax(off))
        row, col = divmod(int(np.argmax(flat[first])), size)
        what = src.at(names[0]) if len(names) == 1 else f"{src.path}: the image {src.nouns}"
        raise DataError(
            f"{what}: {int(off.sum())} of {n} clusters are not centred on their most energetic crystal (the first "
            f"at index {first}: its maximum is at row {row}, column {col}, not the centre ({size // 2}, {size // 2})); "
            "the flow needs each image centred on its most energetic crystal: re-centre the images when writing "
            "the file"
        )


def _energies(src: Source, name: str, values: np.ndarray) -> np.ndarray:
    """Cluster energies in GeV: finite and positive (they bin the report's rejection-vs-energy figures)."""
    with np.errstate(over="ignore"):  # beyond float32's range is reported as infinite below
        energy = values.astype(np.float32)
    bad = ~np.isfinite(energy)
    if bad.any():
        raise DataError(
            f"{src.at(name)} holds {int(bad.sum())} NaN or infinite energies (the first at index "
            f"{int(np.argmax(bad))}); fix them, or set data.user.energy: null if the file has no energies"
        )
    low = energy <= 0
    if low.any():
        first = int(np.argmax(low))
        raise DataError(
            f"{src.at(name)} holds {int(low.sum())} energies <= 0 (the first at index {first}: {energy[first]:g}); "
            "cluster energies are in GeV and must be positive, or set data.user.energy: null"
        )
    return energy
