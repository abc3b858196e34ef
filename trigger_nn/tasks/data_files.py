"""A user's own data: named arrays read from a ROOT, HDF5 or NumPy file, with one clear message per problem.

Every task that takes files reads them here: ECL clusters, labelled events of any shape, CDMS traces.
Everything the flow cannot take is a ``DataError`` whose one message names the file, the branch or
dataset, what is wrong and what to do (the card key to change): the user cannot fix what a library
traceback describes. uproot and h5py are imported inside the readers, so that the command line starts fast.
"""

from __future__ import annotations

import difflib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

#: suffix -> what the file is; the suffix alone decides how a file is read.
FORMATS = {".root": "ROOT", ".h5": "HDF5", ".hdf5": "HDF5", ".npz": "NumPy .npz"}

_TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD", "ROOT::RNTuple")


@dataclass(frozen=True)
class FileRoles:
    """What the file is to the card: the card key naming it, what one entry is, and an example of writing it."""

    key: str  # the card's key of the file's path, e.g. "data.user.path"
    entry: str  # one entry of the file, e.g. "cluster" or "event"
    tree_key: str  # the card's key naming the ROOT tree
    npz_example: str  # e.g. "np.savez(path, image=..., is_photon=...)"


@dataclass(frozen=True)
class Source:
    """Where the values came from, so that every message names the file and the branch or dataset."""

    path: Path
    noun: str  # "branch", "dataset" or "array"
    entry: str  # what one entry is: "cluster", "event"

    @property
    def nouns(self) -> str:
        return self.noun + ("es" if self.noun.endswith("ch") else "s")

    def at(self, name: str) -> str:
        return f"{self.path}: {self.noun} {name!r}"


def check_path(path: Path, spec: FileRoles) -> str:
    """The file exists and has a suffix the flow reads; returns that suffix."""
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"the {spec.entry} file {path} does not exist; check {spec.key} in the card "
            "(a relative path is taken from the card's own folder)"
        )
    if not path.is_file():
        raise DataError(f"the {spec.entry} file {path} is not a file; point {spec.key} at a .root, .h5 or .npz file")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"{path}: cannot read a {suffix or 'suffix-less'} file; {spec.key} must be a ROOT (.root), "
            "HDF5 (.h5, .hdf5) or NumPy (.npz) file"
        )
    return suffix


def read_arrays(path: Path, roles: dict[str, str], spec: FileRoles, *, tree: str) -> tuple[Source, dict[str, Any]]:
    """The arrays named in ``roles`` (name -> the card key that names it), as the file holds them."""
    suffix = check_path(path, spec)
    path = Path(path)
    if suffix == ".root":
        return Source(path, "branch", spec.entry), _read_root(path, tree, roles, spec)
    if suffix == ".npz":
        return Source(path, "array", spec.entry), _read_npz(path, roles, spec)
    return Source(path, "dataset", spec.entry), _read_hdf5(path, roles)


def _read_root(path: Path, tree: str, roles: dict[str, str], spec: FileRoles) -> dict[str, Any]:
    """The named branches (TTree) or fields (RNTuple) of one flat tree, as uproot's NumPy arrays."""
    import uproot

    with path.open("rb") as raw:
        magic = raw.read(4)
    if magic != b"root":
        raise DataError(
            f"{path} is not a ROOT file (it does not start with ROOT's signature 'root', but with {magic!r}); "
            f"{spec.key}'s suffix says ROOT: write the {spec.entry}s with ROOT or uproot, or fix the suffix"
        )
    try:
        file = uproot.open(path)
    except Exception as err:
        raise unreadable(path, "ROOT", err) from err
    with file:
        try:
            classes = file.classnames(cycle=False)
        except Exception as err:
            raise unreadable(path, "ROOT", err) from err
        trees = [key for key, cls in classes.items() if cls in _TREE_CLASSES]
        if tree not in classes:
            if not trees:
                raise DataError(
                    f"{path}: the file holds no TTree or RNTuple (its keys: {listing(list(classes))}); "
                    f"write the {spec.entry}s as a flat tree, one entry per {spec.entry}"
                )
            raise DataError(
                f"{path}: the file has no tree {tree!r}{nearest(tree, trees)}; its trees: {listing(trees)}. "
                f"Set {spec.tree_key} in the card to one of them"
            )
        if classes[tree] not in _TREE_CLASSES:
            raise DataError(
                f"{path}: {tree!r} is a {classes[tree]}, not a TTree or RNTuple; its trees: "
                f"{listing(trees) if trees else 'none'}. Set {spec.tree_key} in the card to the {spec.entry}s' tree"
            )
        try:
            obj = file[tree]
            available = [str(key) for key in obj.keys()]
        except Exception as err:
            raise unreadable(path, "ROOT", err) from err
        _require(path, "branch", f"tree {tree!r}", roles, available)
        out = {}
        for name in roles:
            try:
                out[name] = obj[name].array(library="np")
            except Exception as err:
                raise DataError(
                    f"{path}: could not read branch {name!r} of tree {tree!r} ({reason(err)}); the file may be "
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
        raise unreadable(path, "HDF5", err) from err
    with file:
        try:
            kinds = {str(key): file.get(key, getclass=True) for key in file.keys()}
        except Exception as err:
            raise unreadable(path, "HDF5", err) from err
        available = [key for key, kind in kinds.items() if kind is h5py.Dataset]
        groups = [f"{key}/" for key, kind in kinds.items() if kind is h5py.Group]
        _require(path, "dataset", "the file's top level", roles, available, groups)
        out = {}
        for name in roles:
            try:
                out[name] = file[name][()]
            except Exception as err:
                raise DataError(
                    f"{path}: could not read dataset {name!r} ({reason(err)}); the file may be cut short or "
                    "corrupt: write it again"
                ) from err
    return out


def _read_npz(path: Path, roles: dict[str, str], spec: FileRoles) -> dict[str, Any]:
    """The named arrays of an ``np.savez`` archive; never unpickles (a data file must not run code)."""
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path} is not a NumPy .npz archive (not a zip file; perhaps cut short, or a .npy renamed); "
            f"write it with {spec.npz_example}"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:
        raise unreadable(path, "NumPy .npz", err) from err
    with archive:
        _require(path, "array", "the archive", roles, list(archive.files))
        out = {}
        for name in roles:
            try:
                out[name] = archive[name]
            except ValueError as err:
                if "pickle" not in str(err):
                    raise DataError(f"{path}: could not read array {name!r} ({reason(err)}); write it again") from err
                raise DataError(
                    f"{path}: array {name!r} holds Python objects (a ragged or object array), which are never "
                    "loaded from a data file; save it as a fixed-size numeric array"
                ) from err
            except Exception as err:
                raise DataError(
                    f"{path}: could not read array {name!r} ({reason(err)}); the file may be cut short or "
                    "corrupt: write it again"
                ) from err
    return out


def _require(
    path: Path, noun: str, container: str, roles: dict[str, str], available: list[str], extra: tuple | list = ()
) -> None:
    """Every named branch exists; else name the nearest existing one and the card key to change."""
    missing = [name for name in roles if name not in available]
    if not missing:
        return
    name = missing[0]
    more = f" (nor {len(missing) - 1} more of the names in the card)" if len(missing) > 1 else ""
    listed = listing([*available, *extra]) if available or extra else "none"
    optional = roles[name].endswith(" (optional)")
    key = roles[name].removesuffix(" (optional)")
    raise DataError(
        f"{path}: {container} has no {noun} {name!r}{nearest(name, available)}{more}; it has: {listed}. "
        f"Set {key} in the card to the right name" + (" (or to null if the file has none)" if optional else "")
    )


def write_arrays(path: Path, data: dict[str, np.ndarray], *, tree: str = "events") -> Path:
    """Named arrays, one entry per event, in the format ``path``'s suffix names (what the readers take back):
    a ROOT file holds them as the branches of ``tree`` (uproot writes it), HDF5 as top-level datasets."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".root":
        import uproot

        with uproot.recreate(path) as f:
            f[tree] = data
    elif suffix == ".npz":
        np.savez(path, **data)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "w") as f:
            for name, values in data.items():
                f[name] = values
    else:
        raise DataError(f"{path}: cannot write a {suffix or 'suffix-less'} file; name a .root, .h5 or .npz file")
    return path


# ---------------------------------------------------------------- checks on what was read


def numeric(src: Source, name: str, arr: Any, *, per_entry: str) -> np.ndarray:
    """A plain numeric array, one fixed-size entry per event; variable-length and non-numeric ones refused.

    ``per_entry`` says what one entry should hold, for the messages ("one value", "7 x 7 values").
    """
    if not isinstance(arr, np.ndarray) or arr.dtype == object:
        lengths = _lengths(arr)
        if lengths is None:
            kind = type(arr[0]).__name__ if len(arr) else "object"
            raise DataError(
                f"{src.at(name)} holds {kind} values, not numbers; the flow needs {per_entry} per {src.entry}"
            )
        span = f"{lengths.min()} to {lengths.max()}" if len(lengths) else "no"
        raise DataError(
            f"{src.at(name)} is variable-length ({span} values per {src.entry}); the flow needs exactly "
            f"{per_entry} per {src.entry}: write it as a fixed-size {src.noun} (a fixed-size array in a TTree, "
            "std::array in an RNTuple, or one (n, ...) array)"
        )
    if arr.dtype.kind not in "biuf":
        raise DataError(
            f"{src.at(name)} holds {arr.dtype} values, not numbers; the flow needs {per_entry} per {src.entry}"
        )
    if arr.ndim == 0:
        raise DataError(
            f"{src.at(name)} holds a single value, not one entry per {src.entry}; write one per {src.entry}"
        )
    return arr


def _lengths(arr: Any) -> np.ndarray | None:
    """Per-entry lengths of a variable-length array, or None when its entries have no length (strings)."""
    try:
        if len(arr) and isinstance(arr[0], (str, bytes)):
            return None
        return np.array([len(x) for x in arr], dtype=np.int64)
    except TypeError:
        return None


def same_length(src: Source, arrays: dict[str, np.ndarray]) -> None:
    """One entry per event in every branch: different lengths mean different selections."""
    names = list(arrays)
    first = names[0]
    for name in names[1:]:
        if len(arrays[name]) != len(arrays[first]):
            raise DataError(
                f"{src.path}: {src.nouns} have different lengths: {first!r} has {len(arrays[first])} {src.entry}s "
                f"but {name!r} has {len(arrays[name])}; every {src.noun} needs one entry per {src.entry} "
                "(write them from the same selection)"
            )


def finite(src: Source, name: str, values: np.ndarray, what: str) -> None:
    """No NaN or infinite value; the message counts them and names the first entry."""
    bad = ~np.isfinite(values.reshape(len(values), -1))
    if bad.any():
        entries = bad.any(axis=1)
        raise DataError(
            f"{src.at(name)} holds {int(bad.sum())} NaN or infinite {what} in {int(entries.sum())} {src.entry}s "
            f"(the first at index {int(np.argmax(entries))}); remove those {src.entry}s or fix their values"
        )


# ---------------------------------------------------------------- message pieces


def unreadable(path: Path, kind: str, err: Exception) -> DataError:
    return DataError(
        f"{path} is not a readable {kind} file ({reason(err)}); check that it is complete (not cut short by "
        f"a copy) and really {'an' if kind == 'HDF5' else 'a'} {kind} file: its suffix decides how it is read"
    )


def reason(err: Exception) -> str:
    """The library's own words, on one line and short: a hint, not a traceback."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def nearest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"


def values_text(values: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:limit].astype(np.float64))
    return shown if len(values) <= limit else f"{shown}, ... ({len(values) - limit} more)"
