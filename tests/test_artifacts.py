"""Artifacts own their file contract: round trips, schema checks, atomic writes, bus packing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trigger_nn.artifacts import (
    BusFormat,
    CompileResult,
    CosimResult,
    ImplementationCheck,
    StagePlan,
    Timings,
    VerifyResult,
    atomic_path,
)
from trigger_nn.errors import ArtifactError

FMT_IN = BusFormat(n_elements=3, width=8, frac_bits=2, signed=True)
FMT_OUT = BusFormat(n_elements=1, width=19, frac_bits=8, signed=True)


def test_round_trips(tmp_path: Path, passing_cosim: CosimResult) -> None:
    compiled = CompileResult(
        hls_dir=tmp_path / "hls",
        rtl_dir=tmp_path / "rtl",
        vhdl_dir=tmp_path / "vhdl",
        top="m_top",
        input_format=FMT_IN,
        output_format=FMT_OUT,
        pipeline_stages=4,
        clock_period_ns=5.0,
        da4ml_cost=123.5,
        da4ml_reg_bits=77,
        source_hash="ab",
        stages=StagePlan(
            stage_logic_ns=(3.85, 3.85, 3.7, 1.2),
            cutoff_levels=None,
            slowest_stage_ns=3.95,
            usable_period_ns=4.5,
            clock_period_ns=5.0,
            latency_budget_ns=1600.0,
        ),
    )
    assert (compiled.stages.latency_cycles, compiled.stages.margin_cycles) == (4, 316)
    assert compiled.stages.timing_margin_ns == pytest.approx(0.55)
    verified = VerifyResult(
        reference="ref",
        n_random=3,
        n_edge=2,
        vectors_path=tmp_path / "verify" / "vectors.npz",
        checks=(ImplementationCheck(implementation="csim", how="g++", vectors=5, mismatches=0),),
    )
    for artifact in (compiled, verified, passing_cosim, Timings(stages={"train": 1.5})):
        path = artifact.save(tmp_path / f"{type(artifact).__name__}.json")
        assert type(artifact).load(path) == artifact
    assert passing_cosim.latency_ns == 20.0 and passing_cosim.margin_ns == 1580.0
    assert verified.passed


def test_paths_inside_a_project_are_stored_relative_so_it_can_move(tmp_path: Path) -> None:
    project = tmp_path / "a" / "tiny"
    verified = VerifyResult(
        reference="ref",
        n_random=0,
        n_edge=1,
        vectors_path=project / "verify" / "vectors.npz",
        checks=(ImplementationCheck(implementation="csim", how="g++", vectors=1, mismatches=0),),
    )
    verified.save(project / "verify.json")
    assert '"vectors_path": "verify/vectors.npz"' in (project / "verify.json").read_text()
    moved = tmp_path / "b" / "tiny"
    moved.parent.mkdir()
    project.rename(moved)
    assert VerifyResult.load(moved / "verify.json").vectors_path == moved / "verify" / "vectors.npz"


def test_load_names_the_stage_to_run(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="written by `trigger-nn cosim`"):
        CosimResult.load(tmp_path / "cosim.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not readable JSON"):
        Timings.load(tmp_path / "x.json")
    Timings(stages={}).save(tmp_path / "t.json")
    with pytest.raises(ArtifactError, match="expected 'CosimResult'"):
        CosimResult.load(tmp_path / "t.json")


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "out" / "report.json"
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert not final.exists()
    assert list((tmp_path / "out").iterdir()) == []
    with atomic_path(final) as tmp:
        tmp.write_text("whole")
    assert final.read_text() == "whole"


def test_atomic_path_replaces_a_directory(tmp_path: Path) -> None:
    final = tmp_path / "hls"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.txt"]


def test_bus_words_pack_and_unpack() -> None:
    values = np.array([[-32.0, 0.25, 31.75], [1.5, -0.25, 0.0]])
    words = FMT_IN.to_words(values)
    np.testing.assert_array_equal(words, [[-128, 1, 127], [6, -1, 0]])
    for row in words:
        bus = FMT_IN.pack(row)
        assert 0 <= bus < 2**FMT_IN.bus_width
        np.testing.assert_array_equal(FMT_IN.unpack(bus), row)
    np.testing.assert_array_equal(FMT_IN.from_words(words), values)
    with pytest.raises(ValueError, match="not a multiple of the bus LSB"):
        FMT_IN.to_words(np.array([[0.1, 0, 0]]))
    with pytest.raises(ValueError, match="do not fit 8-bit"):
        FMT_IN.to_words(np.array([[32.0, 0, 0]]))


def test_out_of_range_words_wrap_onto_the_bus() -> None:
    from trigger_nn.verify import outside_words

    signed = BusFormat(n_elements=2, width=4, frac_bits=1, signed=True)  # words -8..7
    outside, wrapped = outside_words(signed)
    assert outside[:4, 0].tolist() == [8, -9, 23, -24]  # one step and one turn beyond each end
    assert wrapped[:4, 0].tolist() == [-8, 7, 7, -8]
    unsigned = BusFormat(n_elements=1, width=12, frac_bits=8, signed=False)  # a 12-bit ECL word
    outside, wrapped = outside_words(unsigned)
    assert outside[:2, 0].tolist() == [4096, -1] and wrapped[:2, 0].tolist() == [0, 4095]
