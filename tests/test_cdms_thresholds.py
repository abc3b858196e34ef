"""The classical cdms_lfn triggers at an accidental-rate budget: vetoes, threshold search, turn-ons, on real streams."""

from __future__ import annotations

import numpy as np
import pytest

from trigger_nn.tasks.cdms import stream as st
from trigger_nn.tasks.cdms import thresholds as th
from trigger_nn.tasks.cdms.chain import Chain
from trigger_nn.tasks.cdms.config import CdmsLfnData
from trigger_nn.tasks.cdms.simulation import EventKind, OptimalFilter

CFG = CdmsLfnData()
GRID = np.round(np.arange(3.0, 8.51, 0.25), 2)


@pytest.fixture(scope="module")
def of() -> OptimalFilter:
    return OptimalFilter.build(CFG)


@pytest.fixture(scope="module")
def vetoes(of: OptimalFilter) -> tuple[th.AmplitudeConsistency, th.OfChi2]:
    return th.AmplitudeConsistency.build(CFG, of), th.OfChi2.build(CFG, of)


@pytest.fixture(scope="module")
def lfn_rich(vetoes) -> th.Scan:
    """12 s, LFN episodes and pulses at 20 Hz each; a network would join as a ``ScoreVeto`` (here a stand-in)."""
    consistency = vetoes[0]
    stand_in = th.ScoreVeto(name="score hook", score=lambda adc, peak: -consistency.statistic(adc, peak))
    config = th.measurement_stream(CFG, seconds=12.0, lfn_rate_hz=20.0, seed=11)
    return th.scan_streams(config, GRID, (*vetoes, stand_in))


def test_vetoes_keep_clean_pulses_and_reject_lfn_more_than_noise(of, vetoes, lfn_rich: th.Scan) -> None:
    consistency, chi2 = vetoes
    # clean pulses far above threshold (no other pulse within 1 ms): both statistics are noise-like at any energy
    config = st.StreamConfig(data=CFG, seconds=4.0, signal_rate_hz=20.0, lfn_rate_hz=0, energy_range_sigma=(20, 40),
                             seed=12)  # fmt: skip
    stream = st.simulate_stream(config)
    candidates = st.find_candidates(st.of_output(stream.adc, of), 5.0, start=st.settle_samples(of))
    matched = st.match(candidates, stream.truth, of)
    gaps = np.diff(stream.truth.sample, prepend=-(10**9), append=10**9)
    isolated = np.minimum(gaps[:-1], gaps[1:]) > th.ISOLATION_MS * 1e-3 * CFG.sample_rate_hz
    clean = (matched.kind == EventKind.SIGNAL) & isolated[np.maximum(matched.truth_index, 0)]
    peaks = candidates.peak_sample[clean]
    assert len(peaks) >= 60
    long, short = consistency.amplitudes(stream.adc, peaks)
    assert np.all(np.abs(short - long) < 5)  # both OFs measure the same pulse: 20-40 sigma_E, differing by ~1
    d = consistency.statistic(stream.adc, peaks)  # N(0, 1)
    c = chi2.statistic(stream.adc, peaks)  # chi^2 of ~255 dof over 256: 1 +- 0.09
    assert np.mean(d <= 3.0) >= 0.97 and np.median(d) == pytest.approx(0.0, abs=0.3)
    assert np.mean(c <= 1.3) >= 0.97 and np.median(c) == pytest.approx(1.0, abs=0.05)

    # candidates at 4 sigma_E on an LFN-rich stream: noise passes like pulses (no shape veto can do better), LFN fails
    at = lfn_rich.threshold_index == list(GRID).index(4.0)
    noise, lfn = at & (lfn_rich.kind == EventKind.NOISE), at & (lfn_rich.kind == EventKind.LFN)
    assert noise.sum() >= 10 and lfn.sum() >= 100
    for column, cut in ((0, 2.0), (1, 1.2)):
        passes = lfn_rich.statistic[:, column] <= cut
        assert passes[lfn].mean() < 0.6 * passes[noise].mean(), (lfn_rich.veto_names[column], passes[lfn].mean())
        assert passes[noise].mean() > 0.85


def test_threshold_search_meets_the_budget_and_drops_when_it_is_raised(of, lfn_rich: th.Scan) -> None:
    low, high = th.operating_point(lfn_rich, 3.0), th.operating_point(lfn_rich, 30.0)
    for point in (low, high):
        assert point.total_hz <= point.budget_hz
        assert point.noise.seconds <= point.lfn.seconds == pytest.approx(12.0, rel=0.01)
    assert high.threshold_sigma < low.threshold_sigma
    # an LFN episode makes several candidates: fewer independent events than candidates, a wider threshold range
    assert low.lfn.count > low.lfn_episodes and low.effective_count < low.noise.count + low.lfn.count
    lo, hi = low.threshold_range_sigma
    assert lo <= low.threshold_sigma <= hi and hi > lo
    # a lower threshold would be over budget (the lowest grid T from which on all are within it)
    t = list(GRID).index(low.threshold_sigma)
    assert t > 0 and lfn_rich.total_hz(t - 1) > 3.0
    # with a veto at a fixed cut: the veto removes LFN, so the threshold is lower at the same budget
    t_veto = th.lowest_threshold(lfn_rich, 3.0, "amplitude consistency", cut=3.0)
    assert t_veto is not None and GRID[t_veto] < low.threshold_sigma
    # the scan's rates are stream.accidental_rates' on the same stream, with the FPGA's FIR and candidate logic
    stream = st.simulate_stream(lfn_rich.config)
    chain = Chain.build(CFG, of)
    rates = st.accidental_rates(stream, chain.candidates(chain.fir.output(stream.adc), low.threshold_sigma), of)
    assert (rates.noise, rates.lfn) == (low.noise, low.lfn)


def test_of_alone_turns_on_at_its_threshold_with_unit_width() -> None:
    # no LFN, pulses at 50 Hz (the 10 % with a neighbour within 1 ms are left out): E50 sits at T, slightly below
    # (the hold takes the largest of a few correlated noise samples around the pulse's peak), width ~1 sigma_E
    config = th.measurement_stream(CFG, seconds=16.0, lfn_rate_hz=0.0, signal_rate_hz=50.0, seed=13)
    scan = th.scan_streams(config, [4.0, 5.0])
    assert scan.pulse_isolated.sum() >= 600
    for t, threshold in enumerate(scan.thresholds_sigma):
        eff = th.turn_on(scan, t)
        assert eff.e50_sigma == pytest.approx(threshold, abs=0.5)
        assert 0.7 < eff.turn_on.width < 1.5 and eff.turn_on.plateau > 0.99
        assert eff.e99_sigma == pytest.approx(eff.e50_sigma + 2.33 * eff.turn_on.width, abs=0.2)
        assert eff.plateau_pass > 0.99


def test_best_classical_trigger_is_not_worse_than_the_of_alone_on_an_lfn_rich_stream(lfn_rich: th.Scan) -> None:
    alone, *vetoed = th.all_points(lfn_rich, 10.0, min_plateau_efficiency=0.95)
    best = th.best_classical(vetoed)
    assert best.e50_sigma <= alone.e50_sigma and best.threshold_sigma < alone.threshold_sigma
    assert best.total_hz <= 10.0 and best.efficiency.plateau_pass >= 0.95 - 0.02
    # a veto that keeps 95-99 % of high-energy pulses never reaches 99 % efficiency: E99 is None, and says why
    for point in vetoed:
        if point.e99_sigma is None:
            assert "plateau" in point.efficiency.e99_why
    # the hook a network will use gives the same operating point for the same statistic
    hook = next(p for p in vetoed if p.veto == "score hook")
    same = next(p for p in vetoed if p.veto == "amplitude consistency")
    assert (hook.threshold_sigma, hook.e50_sigma) == (same.threshold_sigma, same.e50_sigma)


def test_what_the_threshold_depends_on_the_lfn_episode_rate() -> None:
    # the table's function: one row per LFN model (here two episode rates; the card's amplitude scale and band)
    rows = th.lfn_dependence(
        CFG,
        budget_hz=5.0,
        lfn_rates_hz=(2.0, 20.0),
        thresholds_sigma=GRID,
        seconds=6.0,
        seed=14,
        min_plateau_efficiency=0.95,
    )
    few, many = rows
    assert (few.lfn_rate_hz, many.lfn_rate_hz) == (2.0, 20.0) and few.lfn_band_hz == CFG.lfn_band_hz
    assert [p.trigger for p in few.points] == ["OF alone", "OF + amplitude consistency", "OF + OF chi2"]
    # ten times the episodes: the OF alone must sit ~2 ln(10) ~ 4.6 sigma_E higher (exponential LFN amplitudes of
    # mean 2 sigma_E); the best classical trigger moves less
    assert many.of_alone.threshold_sigma > few.of_alone.threshold_sigma + 2.0
    rise_alone = many.of_alone.e50_sigma - few.of_alone.e50_sigma
    assert many.best.e50_sigma - few.best.e50_sigma < rise_alone
