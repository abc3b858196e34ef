"""A user's own ECL clusters: ROOT, HDF5 and NPZ files in, checked (n, size, size) MeV images out."""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from trigger_nn.artifacts import DatasetInfo, FixedFormat
from trigger_nn.cli import main
from trigger_nn.dataset import Dataset, Split, write_dataset
from trigger_nn.errors import DataError
from trigger_nn.tasks.data_files import write_arrays
from trigger_nn.tasks.ecl import EclTask
from trigger_nn.tasks.ecl import physics as ecl_physics
from trigger_nn.tasks.ecl.clusters_file import read_clusters
from trigger_nn.tasks.ecl.config import EclPhotonData, OutOfRange, UserClusters
from trigger_nn.tasks.ecl.simulation import CLASS_NAMES


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
    return write_arrays(path, data, tree="clusters")


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


# ---------------------------------------------------------------- values the trigger word cannot hold

WORD = r"the 12-bit input word of 5\.25 MeV \(0 to 21498\.75 MeV\)"


def dataset_of(path: Path, **user) -> Dataset:
    """The task's dataset from a user file, through the card section (12-bit words of 5.25 MeV)."""
    return EclTask().dataset(EclPhotonData(user=UserClusters(path=path, **user)), seed=1)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_values_inside_the_word_give_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Noise down to -2 MeV rounds to 0 counts, as the word would read it: nothing is clipped."""
    ds = dataset_of(write(tmp_path / "c.npz", clusters()))
    assert warnings_of(caplog) == []
    for split in (ds.train, ds.test):
        assert split.truth["crystals_below_zero"].sum() == split.truth["crystals_above_top"].sum() == 0


def test_clipped_values_are_counted_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = clusters()
    data["image"][3, [0, 1]] = -50.0  # below -2.625 MeV: read as 0
    data["image"][11, 5] = -3.0
    data["image"][8, 24] = 1e7  # the centre: saturates at 4095 counts
    path = write(tmp_path / "c.npz", data)
    ds = dataset_of(path)
    (warning,) = warnings_of(caplog)
    assert warning.startswith(
        f"{path}: the 12-bit input word of 5.25 MeV (0 to 21498.75 MeV) clips 4 crystal values in 3 of 40 clusters: "
        "3 below zero (under -2.625 MeV, half a step) read as 0, 1 above the top read as the top."
    )
    assert "data.user.out_of_range: error" in warning
    for key, count in (("crystals_below_zero", 3), ("crystals_above_top", 1)):
        assert ds.train.truth[key].sum() + ds.test.truth[key].sum() == count
    assert max(ds.train.x.max(), ds.test.x.max()) == 4095 / 256  # the top word, read with 8 fraction bits


def test_out_of_range_error_names_the_cluster(tmp_path: Path) -> None:
    data = clusters()
    data["image"][6, 24] = 1e7
    data["image"][9, 0] = -50.0
    path = write(tmp_path / "c.npz", data)
    message = rf"c\.npz: cluster 6 holds 1e\+07 MeV at row 3, column 3, outside {WORD}, and data\.user\.out_of_range"
    with pytest.raises(DataError, match=message + r" is error: rescale .*data\.lsb_mev / data\.adc_bits"):
        dataset_of(path, out_of_range=OutOfRange.ERROR)


def test_out_of_range_error_from_the_card_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = clusters()
    data["image"][4, 10] = -40.0
    write(tmp_path / "c.h5", data)
    card = tmp_path / "mine.yaml"
    card.write_text("name: mine\ntask: ecl_photon\ndata:\n  user: {path: c.h5, out_of_range: error}\n")
    assert main(["simulate", str(card), "--projects", str(tmp_path / "projects")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cluster 4 holds -40 MeV at row 1, column 3" in err[0], err
    assert not (tmp_path / "projects" / "mine" / "data" / "dataset.h5").exists()


def test_all_zero_clusters_are_counted_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = clusters()
    data["image"][[2, 9]] = np.clip(data["image"][[2, 9]], -2.0, 2.0)  # under half a step everywhere
    data["image"][[2, 9], 24] = 2.5
    path = write(tmp_path / "c.npz", data)
    dataset_of(path)
    (warning,) = warnings_of(caplog)
    assert warning.startswith(f"{path}: 2 of 40 clusters are all zero in the 12-bit input word of 5.25 MeV")
    assert "the first such cluster at index 2" in warning


def test_a_file_of_all_zero_clusters_is_refused(tmp_path: Path) -> None:
    """All crystal energies non-positive (or in GeV where MeV are expected): no word is above zero, an error
    even before any value below zero is (the whole file says nothing, whatever data.user.out_of_range)."""
    data = clusters()
    data["image"] = np.where(data["image"] > 0, 0.0, data["image"] - 100.0).astype(np.float32)
    path = write(tmp_path / "c.npz", data)
    message = rf"c\.npz: every one of the 40 clusters is all zero in {WORD}: the largest crystal energy is 0 MeV"
    with pytest.raises(DataError, match=message + r".*set a smaller data\.lsb_mev"):
        dataset_of(path, out_of_range=OutOfRange.ERROR)


def test_the_report_counts_the_clipped_values(tmp_path: Path) -> None:
    data = clusters()
    data["image"][:, 0] = -50.0
    data["image"][:, 24] = 1e7
    cfg = EclPhotonData(user=UserClusters(path=write(tmp_path / "c.npz", data)))
    test = EclTask().dataset(cfg, seed=1).test
    n = len(test.y)
    info = DatasetInfo(
        path=tmp_path / "d.h5",
        task="ecl_photon",
        n_train=40 - n,
        n_test=n,
        input_shape=(7, 7),
        class_names=CLASS_NAMES,
        seed=1,
        description="",
    )
    scores = np.linspace(0.0, 1.0, n)
    found = ecl_physics.evaluate(cfg, test, info, scores, np.arange(n), tmp_path)
    assert found.metrics["input_words"] == {
        "clusters": n,
        "clusters_clipped": n,
        "values_below_zero": n,
        "values_above_top": n,
        "top_mev": 21498.75,
        "all_zero_clusters": 0,
    }
    assert (
        f"Input words (12 bits of 5.25 MeV, 0 to 21498.75 MeV): {n} of these {n} clusters hold crystal values the "
        f"word clips, {n} below zero read as 0 and {n} above the top read as the top; 0 clusters are all zero."
    ) in found.markdown


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_dataset_of_all_zero_inputs_is_refused(tmp_path: Path, split: str) -> None:
    def words(n: int, value: float) -> Split:
        return Split(x=np.full((n, 3), value, np.float32), y=np.zeros(n, np.int8), truth={})

    splits = {"train": words(10, 1.0), "test": words(5, 1.0)} | {split: words(7, 0.0)}
    ds = Dataset(**splits, input_kif=FixedFormat(0, 4, 8), class_names=("a", "b"))
    with pytest.raises(DataError, match=rf"every one of the 7 {split} inputs is zero: .*refusing to write .*d\.h5"):
        write_dataset(tmp_path / "d.h5", ds, attrs={})
    assert not (tmp_path / "d.h5").exists()


def test_an_empty_split_is_not_all_zero(tmp_path: Path) -> None:
    """An import has no training set: nothing to refuse."""
    empty = Split(x=np.zeros((0, 3), np.float32), y=np.zeros(0, np.int8), truth={})
    test = Split(x=np.ones((5, 3), np.float32), y=np.zeros(5, np.int8), truth={})
    write_dataset(
        tmp_path / "d.h5", Dataset(train=empty, test=test, input_kif=FixedFormat(0, 4, 8), class_names=("a",)), attrs={}
    )
