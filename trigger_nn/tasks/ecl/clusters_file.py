"""A user's own Belle II ECL clusters, read from a ROOT, HDF5 or NPZ file instead of the simulation.

The file holds, per cluster, a crystal-energy image (MeV) centred on its most energetic crystal, a
label (1 single photon, 0 merged two-photon cluster) and optionally the cluster energy (GeV). The
names come from the card's ``data.user`` section (``UserClusters``). Everything the flow cannot
take is a ``DataError`` whose one message names the file, the branch or dataset, what is wrong and
what to do: the user cannot fix what a library traceback describes. Nothing is changed silently: crystal
values the trigger word clips (``check_words``) are counted and warned about, or refused on request.

uproot and h5py are imported inside the readers, so that the command line starts fast.
"""

from __future__ import annotations

import difflib
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from .config import EclPhotonData, OutOfRange, UserClusters
from .simulation import word_counts, word_top

log = logging.getLogger(__name__)

#: suffix -> what the file is; the suffix alone decides how a file is read.
FORMATS = {".root": "ROOT", ".h5": "HDF5", ".hdf5": "HDF5", ".npz": "NumPy .npz"}

#: fewer clusters than this cannot be split into a training and a test set worth the name.
MIN_CLUSTERS = 20

_TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD", "ROOT::RNTuple")


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


@dataclass(frozen=True)
class _Source:
    """Where the values came from, so that every message names the file and the branch or dataset."""

    path: Path
    noun: str  # "branch", "dataset" or "array"

    @property
    def nouns(self) -> str:
        return self.noun + ("es" if self.noun.endswith("ch") else "s")

    def at(self, name: str) -> str:
        return f"{self.path}: {self.noun} {name!r}"


def read_clusters(user: UserClusters, image_size: int) -> ClusterFile:
    """Read and check a user's cluster file; raise ``DataError`` on anything the flow cannot take."""
    path = Path(user.path)
    if not path.exists():
        raise DataError(
            f"the user cluster file {path} does not exist; check data.user.path in the card "
            "(a relative path is taken from the card's own folder)"
        )
    if not path.is_file():
        raise DataError(
            f"the user cluster file {path} is not a file; point data.user.path at a .root, .h5 or .npz file"
        )
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"{path}: cannot read a {suffix or 'suffix-less'} file; data.user.path must be a ROOT (.root), "
            "HDF5 (.h5, .hdf5) or NumPy (.npz) file"
        )
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
        roles[user.energy] = "data.user.energy"
    if suffix == ".root":
        src, raw = _Source(path, "branch"), _read_root(path, user.tree, roles)
    elif suffix == ".npz":
        src, raw = _Source(path, "array"), _read_npz(path, roles)
    else:
        src, raw = _Source(path, "dataset"), _read_hdf5(path, roles)

    single_image = len(user.image) == 1
    arrays = {}
    for name in roles:
        want = n_pixels if single_image and name == user.image[0] else 1
        arrays[name] = _numeric(src, name, raw[name], want, image_size)
    _same_length(src, arrays)
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


def _read_root(path: Path, tree: str, roles: dict[str, str]) -> dict[str, Any]:
    """The named branches (TTree) or fields (RNTuple) of one flat tree, as uproot's NumPy arrays."""
    import uproot

    with path.open("rb") as raw:
        magic = raw.read(4)
    if magic != b"root":
        raise DataError(
            f"{path} is not a ROOT file (it does not start with ROOT's signature 'root', but with {magic!r}); "
            "data.user.path's suffix says ROOT: write the clusters with ROOT or uproot, or fix the suffix"
        )
    try:
        file = uproot.open(path)
    except Exception as err:
        raise _unreadable(path, "ROOT", err) from err
    with file:
        try:
            classes = file.classnames(cycle=False)
        except Exception as err:
            raise _unreadable(path, "ROOT", err) from err
        trees = [key for key, cls in classes.items() if cls in _TREE_CLASSES]
        if tree not in classes:
            if not trees:
                raise DataError(
                    f"{path}: the file holds no TTree or RNTuple (its keys: {_listing(list(classes))}); "
                    "write the clusters as a flat tree, one entry per cluster"
                )
            raise DataError(
                f"{path}: the file has no tree {tree!r}{_nearest(tree, trees)}; its trees: {_listing(trees)}. "
                "Set data.user.tree in the card to one of them"
            )
        if classes[tree] not in _TREE_CLASSES:
            raise DataError(
                f"{path}: {tree!r} is a {classes[tree]}, not a TTree or RNTuple; its trees: "
                f"{_listing(trees) if trees else 'none'}. Set data.user.tree in the card to the clusters' tree"
            )
        try:
            obj = file[tree]
            available = [str(key) for key in obj.keys()]
        except Exception as err:
            raise _unreadable(path, "ROOT", err) from err
        _require(path, "branch", f"tree {tree!r}", roles, available)
        out = {}
        for name in roles:
            try:
                out[name] = obj[name].array(library="np")
            except Exception as err:
                raise DataError(
                    f"{path}: could not read branch {name!r} of tree {tree!r} ({_reason(err)}); the file may be "
                    "cut short or corrupt, or the branch of a type uproot cannot read: write it as a plain "
                    "numeric branch"
                ) from err
    return out


def _read_hdf5(path: Path, roles: dict[str, str]) -> dict[str, Any]:
    """The named datasets at the file's top level."""
    import h5py

    try:
        file = h5py.File(path, "r")
    except Exception as err:
        raise _unreadable(path, "HDF5", err) from err
    with file:
        try:
            kinds = {str(key): file.get(key, getclass=True) for key in file.keys()}
        except Exception as err:
            raise _unreadable(path, "HDF5", err) from err
        available = [key for key, kind in kinds.items() if kind is h5py.Dataset]
        groups = [f"{key}/" for key, kind in kinds.items() if kind is h5py.Group]
        _require(path, "dataset", "the file's top level", roles, available, groups)
        out = {}
        for name in roles:
            try:
                out[name] = file[name][()]
            except Exception as err:
                raise DataError(
                    f"{path}: could not read dataset {name!r} ({_reason(err)}); the file may be cut short or "
                    "corrupt: write it again"
                ) from err
    return out


def _read_npz(path: Path, roles: dict[str, str]) -> dict[str, Any]:
    """The named arrays of an ``np.savez`` archive; never unpickles (a data file must not run code)."""
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path} is not a NumPy .npz archive (not a zip file; perhaps cut short, or a .npy renamed); "
            "write it with np.savez(path, image=..., is_photon=..., energy=...)"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:
        raise _unreadable(path, "NumPy .npz", err) from err
    with archive:
        _require(path, "array", "the archive", roles, list(archive.files))
        out = {}
        for name in roles:
            try:
                out[name] = archive[name]
            except ValueError as err:
                if "pickle" not in str(err):
                    raise DataError(f"{path}: could not read array {name!r} ({_reason(err)}); write it again") from err
                raise DataError(
                    f"{path}: array {name!r} holds Python objects (a ragged or object array), which are never "
                    "loaded from a data file; save it as a fixed-size numeric array"
                ) from err
            except Exception as err:
                raise DataError(
                    f"{path}: could not read array {name!r} ({_reason(err)}); the file may be cut short or "
                    "corrupt: write it again"
                ) from err
    return out


# ---------------------------------------------------------------- checks


def _require(
    path: Path, noun: str, container: str, roles: dict[str, str], available: list[str], extra: tuple | list = ()
) -> None:
    """Every named branch exists; else name the nearest existing one and the card key to change."""
    missing = [name for name in roles if name not in available]
    if not missing:
        return
    name = missing[0]
    more = f" (nor {len(missing) - 1} more of the names in the card)" if len(missing) > 1 else ""
    listed = _listing([*available, *extra]) if available or extra else "none"
    raise DataError(
        f"{path}: {container} has no {noun} {name!r}{_nearest(name, available)}{more}; it has: {listed}. "
        f"Set {roles[name]} in the card to the right name"
        + (" (or to null if the file has no energies)" if roles[name] == "data.user.energy" else "")
    )


def _numeric(src: _Source, name: str, arr: Any, want: int, image_size: int) -> np.ndarray:
    """A plain numeric array with ``want`` values per cluster; reject variable-length and non-numeric ones."""
    per = f"image_size**2 = {want} values" if want > 1 else "one value"
    if not isinstance(arr, np.ndarray) or arr.dtype == object:
        lengths = _lengths(arr)
        if lengths is None:
            kind = type(arr[0]).__name__ if len(arr) else "object"
            raise DataError(f"{src.at(name)} holds {kind} values, not numbers; the flow needs {per} per cluster")
        span = f"{lengths.min()} to {lengths.max()}" if len(lengths) else "no"
        fixed = f"float[{want}] in a TTree, std::array<float,{want}> in an RNTuple" if want > 1 else "a scalar"
        raise DataError(
            f"{src.at(name)} is variable-length ({span} values per cluster); the flow needs exactly {per} "
            f"per cluster: write it as a fixed-size {src.noun} ({fixed}, or an (n, {want}) array)"
        )
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{src.at(name)} holds {arr.dtype} values, not numbers; the flow needs {per} per cluster")
    if arr.ndim == 0:
        raise DataError(f"{src.at(name)} holds a single value, not one entry per cluster; write one per cluster")
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


def _lengths(arr: Any) -> np.ndarray | None:
    """Per-cluster lengths of a variable-length array, or None when its entries have no length (strings)."""
    try:
        if len(arr) and isinstance(arr[0], (str, bytes)):
            return None
        return np.array([len(x) for x in arr], dtype=np.int64)
    except TypeError:
        return None


def _same_length(src: _Source, arrays: dict[str, np.ndarray]) -> None:
    """One entry per cluster in every branch: different lengths mean different selections."""
    names = list(arrays)
    first = names[0]
    for name in names[1:]:
        if len(arrays[name]) != len(arrays[first]):
            raise DataError(
                f"{src.path}: {src.nouns} have different lengths: {first!r} has {len(arrays[first])} clusters "
                f"but {name!r} has {len(arrays[name])}; every {src.noun} needs one entry per cluster "
                "(write them from the same selection)"
            )


def _labels(src: _Source, name: str, values: np.ndarray) -> np.ndarray:
    """Labels are exactly 0 or 1, and both classes are present (a one-class file cannot train a classifier)."""
    found = np.unique(values)
    if not np.isin(found, (0, 1)).all():
        raise DataError(
            f"{src.at(name)} holds labels other than 0 and 1: found {_values(found)}; "
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


def _check_images(src: _Source, names: tuple[str, ...], images: np.ndarray) -> None:
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
            where = f"{src.path}: {src.nouns} {_listing(columns, limit=5)} hold"
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


def _energies(src: _Source, name: str, values: np.ndarray) -> np.ndarray:
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


# ---------------------------------------------------------------- message pieces


def _unreadable(path: Path, kind: str, err: Exception) -> DataError:
    return DataError(
        f"{path} is not a readable {kind} file ({_reason(err)}); check that it is complete (not cut short by "
        f"a copy) and really {'an' if kind == 'HDF5' else 'a'} {kind} file: its suffix decides how it is read"
    )


def _reason(err: Exception) -> str:
    """The library's own words, on one line and short: a hint, not a traceback."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _nearest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"


def _values(values: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:limit].astype(np.float64))
    return shown if len(values) <= limit else f"{shown}, ... ({len(values) - limit} more)"
