"""A user's own ECL clusters: ROOT, HDF5 and NPZ files in, checked (n, size, size) MeV images out."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

from trigger_nn.errors import DataError
from trigger_nn.tasks.ecl.clusters_file import read_clusters
from trigger_nn.tasks.ecl.config import UserClusters


def clusters(n: int = 40, size: int = 7, seed: int = 0) -> dict[str, np.ndarray]:
    """Images as the flow wants them: small noise (negative too) and the hottest crystal in the centre."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(-2.0, 10.0, (n, size * size)).astype(np.float32)
    image[:, size * size // 2] = rng.uniform(100.0, 2000.0, n)
    return {
        "image": image,
        "is_photon": (np.arange(n) % 2).astype(np.int8),
        "energy": rng.uniform(1.0, 8.0, n).astype(np.float32),
    }


def write(path: Path, data: dict) -> Path:
    """One file per test, in the format its suffix names (uproot writes an RNTuple, fixed-size arrays as std::array)."""
    if path.suffix == ".root":
        with uproot.recreate(path) as f:
            f["clusters"] = data
    elif path.suffix == ".npz":
        np.savez(path, **data)
    else:
        with h5py.File(path, "w") as f:
            for name, values in data.items():
                f[name] = values
    return path


def test_root_array_branch_round_trips_exactly(tmp_path: Path) -> None:
    data = clusters()
    got = read_clusters(UserClusters(path=write(tmp_path / "c.root", data)), image_size=7)
    assert got.images_mev.shape == (40, 7, 7) and got.images_mev.dtype == np.float32
    assert np.array_equal(got.images_mev.reshape(40, 49), data["image"])
    assert got.is_photon.dtype == np.int8 and np.array_equal(got.is_photon, data["is_photon"])
    assert got.energy_gev.dtype == np.float32 and np.array_equal(got.energy_gev, data["energy"])


def test_root_ttree_with_fixed_size_branch(tmp_path: Path) -> None:
    """Belle II ntuples are TTrees: a float[49] branch reads like the RNTuple's std::array."""
    data = clusters()
    with uproot.recreate(tmp_path / "c.root") as f:
        f.mktree("clusters", {"image": (np.float32, (49,)), "is_photon": np.int8, "energy": np.float32})
        f["clusters"].extend(data)
    got = read_clusters(UserClusters(path=tmp_path / "c.root"), image_size=7)
    assert np.array_equal(got.images_mev.reshape(40, 49), data["image"])


def test_root_scalar_branches_in_row_major_order(tmp_path: Path) -> None:
    data = clusters(size=5)
    names = tuple(f"e{row}{col}" for row in range(5) for col in range(5))
    columns = {name: data["image"][:, i] for i, name in enumerate(names)}
    path = write(tmp_path / "c.root", {**columns, "is_photon": data["is_photon"], "energy": data["energy"]})
    got = read_clusters(UserClusters(path=path, image=names), image_size=5)
    assert np.array_equal(got.images_mev, data["image"].reshape(40, 5, 5))


@pytest.mark.parametrize("name", ["c.h5", "c.hdf5", "c.npz"])
def test_hdf5_and_npz(tmp_path: Path, name: str) -> None:
    data = clusters()
    data["image"] = data["image"].reshape(40, 7, 7)  # (n, size, size) is taken as well as (n, size**2)
    got = read_clusters(UserClusters(path=write(tmp_path / name, data)), image_size=7)
    assert np.array_equal(got.images_mev, data["image"])
    assert np.array_equal(got.is_photon, data["is_photon"])


def test_no_energy_gives_nan(tmp_path: Path) -> None:
    data = clusters()
    del data["energy"]
    got = read_clusters(UserClusters(path=write(tmp_path / "c.npz", data), energy=None), image_size=7)
    assert got.energy_gev.shape == (40,) and np.isnan(got.energy_gev).all()


# ---------------------------------------------------------------- files the flow cannot read


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.root does not exist; check data\.user\.path"):
        read_clusters(UserClusters(path=tmp_path / "nope.root"), image_size=7)


def test_unsupported_suffix(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("image,is_photon\n")
    with pytest.raises(DataError, match=r"c\.csv: cannot read a \.csv file.*\.root.*\.h5.*\.npz"):
        read_clusters(UserClusters(path=tmp_path / "c.csv"), image_size=7)


@pytest.mark.parametrize("name", ["c.root", "c.h5", "c.npz"])
def test_truncated_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, clusters())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=rf"{name}.*(cut short|corrupt)"):
        read_clusters(UserClusters(path=path), image_size=7)


def test_text_file_named_root(tmp_path: Path) -> None:
    (tmp_path / "c.root").write_text("image is_photon energy\n1 2 3\n")
    with pytest.raises(DataError, match=r"c\.root is not a ROOT file \(it does not start with ROOT's signature"):
        read_clusters(UserClusters(path=tmp_path / "c.root"), image_size=7)


def test_missing_tree_lists_the_trees(tmp_path: Path) -> None:
    path = write(tmp_path / "c.root", clusters())
    with pytest.raises(DataError, match=r"no tree 'cluster' \(did you mean 'clusters'\?\); its trees: 'clusters'"):
        read_clusters(UserClusters(path=path, tree="cluster"), image_size=7)


@pytest.mark.parametrize("name", ["c.root", "c.h5", "c.npz"])
def test_missing_branch_names_the_nearest(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, clusters())
    with pytest.raises(DataError, match=r"no \w+ 'is_foton' \(did you mean 'is_photon'\?\).*data\.user\.label"):
        read_clusters(UserClusters(path=path, label="is_foton"), image_size=7)


# ---------------------------------------------------------------- values the flow cannot take


def test_jagged_branch(tmp_path: Path) -> None:
    data = clusters()
    data["image"] = ak.Array([row[: 49 - i % 2] for i, row in enumerate(data["image"].tolist())])
    path = write(tmp_path / "c.root", data)
    with pytest.raises(DataError, match=r"branch 'image' is variable-length \(48 to 49 values per cluster\)"):
        read_clusters(UserClusters(path=path), image_size=7)


def test_wrong_image_size(tmp_path: Path) -> None:
    path = write(tmp_path / "c.root", clusters())
    with pytest.raises(DataError, match=r"expected image_size\*\*2 = 25 values, got 49"):
        read_clusters(UserClusters(path=path), image_size=5)


def test_different_lengths(tmp_path: Path) -> None:
    data = clusters()
    data["is_photon"] = data["is_photon"][:-1]
    path = write(tmp_path / "c.h5", data)
    with pytest.raises(DataError, match=r"different lengths: 'image' has 40 clusters but 'is_photon' has 39"):
        read_clusters(UserClusters(path=path), image_size=7)


def test_non_finite_crystal_energies(tmp_path: Path) -> None:
    data = clusters()
    data["image"][3, 0] = np.nan
    data["image"][5, 1] = np.inf
    path = write(tmp_path / "c.npz", data)
    with pytest.raises(DataError, match=r"array 'image' holds 2 NaN or infinite crystal energies in 2 clusters"):
        read_clusters(UserClusters(path=path), image_size=7)


def test_image_not_centred_on_its_hottest_crystal(tmp_path: Path) -> None:
    data = clusters()
    data["image"][[4, 9, 30], 0] = 5000.0
    path = write(tmp_path / "c.npz", data)
    with pytest.raises(DataError, match=r"3 of 40 clusters are not centred .*first at index 4.*row 0, column 0"):
        read_clusters(UserClusters(path=path), image_size=7)


def test_labels_other_than_0_and_1(tmp_path: Path) -> None:
    data = clusters()
    data["is_photon"][7] = 2
    path = write(tmp_path / "c.npz", data)
    with pytest.raises(DataError, match=r"labels other than 0 and 1: found 0, 1, 2"):
        read_clusters(UserClusters(path=path), image_size=7)


def test_too_few_clusters(tmp_path: Path) -> None:
    path = write(tmp_path / "c.npz", clusters(n=12))
    with pytest.raises(DataError, match=r"only 12 clusters; the flow needs at least 20"):
        read_clusters(UserClusters(path=path), image_size=7)


def test_one_class_only(tmp_path: Path) -> None:
    data = clusters()
    data["is_photon"][:] = 1
    path = write(tmp_path / "c.npz", data)
    with pytest.raises(DataError, match=r"every one of the 40 clusters 1 \(single photon\).*labelled 0"):
        read_clusters(UserClusters(path=path), image_size=7)


@pytest.mark.parametrize(
    ("value", "message"), [(np.nan, r"1 NaN or infinite energies"), (0.0, r"1 energies <= 0 \(the first at index 2")]
)
def test_bad_cluster_energy(tmp_path: Path, value: float, message: str) -> None:
    data = clusters()
    data["energy"][2] = value
    path = write(tmp_path / "c.npz", data)
    with pytest.raises(DataError, match=rf"array 'energy' holds {message}"):
        read_clusters(UserClusters(path=path), image_size=7)
