"""Dataset files (HDF5): inputs, labels and the simulation truth, split into train and test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .artifacts import FixedFormat, atomic_path
from .errors import ArtifactError, DataError


@dataclass(frozen=True, kw_only=True)
class Split:
    x: np.ndarray
    y: np.ndarray
    truth: dict[str, np.ndarray]


@dataclass(frozen=True, kw_only=True)
class Dataset:
    train: Split
    test: Split
    input_kif: FixedFormat
    class_names: tuple[str, ...]


def write_dataset(path: Path, ds: Dataset, *, attrs: dict[str, str | int | float]) -> None:
    import h5py

    for name, split in (("train", ds.train), ("test", ds.test)):
        if not np.all(np.isfinite(split.x)):
            raise DataError(
                f"the {name} inputs hold NaN or infinite values; refusing to write {path}: remove those events or "
                "fix their values"
            )
        if split.x.size and not split.x.any():
            raise DataError(
                f"every one of the {len(split.x)} {name} inputs is zero: they carry no information to train or "
                f"check a network on (trained on them, it gets a 0-bit input bus); refusing to write {path}. Check "
                "the data's units and scale against the input word the card's data section sets (its step and bits)"
            )
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for name, split in (("train", ds.train), ("test", ds.test)):
            g = f.create_group(name)
            g.create_dataset("x", data=split.x, compression="gzip", compression_opts=4)
            g.create_dataset("y", data=split.y)
            t = g.create_group("truth")
            for key, arr in split.truth.items():
                t.create_dataset(key, data=arr)
        f.attrs["input_kif"] = np.asarray(ds.input_kif, dtype=np.int64)
        f.attrs["class_names"] = ",".join(ds.class_names)
        for k, v in attrs.items():
            f.attrs[k] = v


def read_dataset(path: Path) -> Dataset:
    import h5py

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"dataset {path} does not exist: it is written by `trigger-nn simulate`; run that first")
    try:
        with h5py.File(path, "r") as f:
            splits = {}
            for name in ("train", "test"):
                g = f[name]
                splits[name] = Split(
                    x=g["x"][()],
                    y=g["y"][()],
                    truth={k: v[()] for k, v in g["truth"].items()},
                )
            kif = FixedFormat(*(int(v) for v in f.attrs["input_kif"]))
            class_names = tuple(str(f.attrs["class_names"]).split(","))
    except (OSError, KeyError) as err:
        raise ArtifactError(
            f"dataset {path} is unreadable or incomplete ({err}); re-run `trigger-nn simulate`"
        ) from err
    return Dataset(train=splits["train"], test=splits["test"], input_kif=kif, class_names=class_names)
