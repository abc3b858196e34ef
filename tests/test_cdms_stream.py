"""Continuous cdms_lfn streams: their noise, the OF trigger's candidates and its accidental rates against formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from trigger_nn.tasks.cdms import stream as st
from trigger_nn.tasks.cdms.chain import Chain
from trigger_nn.tasks.cdms.config import CdmsLfnData
from trigger_nn.tasks.cdms.simulation import EventKind, OptimalFilter, noise_psd

CFG = CdmsLfnData()
FS = CFG.sample_rate_hz


@pytest.fixture(scope="module")
def of() -> OptimalFilter:
    return OptimalFilter.build(CFG)


@pytest.fixture(scope="module")
def pure_noise(of: OptimalFilter) -> tuple[st.Stream, np.ndarray]:
    """20 s of noise alone (12.5 M samples) and the OF's output over it."""
    stream = st.simulate_stream(st.StreamConfig(data=CFG, seconds=20.0, signal_rate_hz=0, lfn_rate_hz=0, seed=1))
    return stream, st.of_output(stream.adc, of)


def test_long_stream_noise_has_the_tasks_psd(pure_noise: tuple[st.Stream, np.ndarray]) -> None:
    stream, _ = pure_noise
    assert len(stream.adc) == 12_500_000 and not np.any(stream.truth.kind)
    # the stream's density is noise_psd's on the grid the per-event simulator draws from (trace_length bins)
    grid = np.fft.fftfreq(CFG.trace_length, d=1 / FS)
    np.testing.assert_allclose(st.noise_density(CFG, grid), noise_psd(CFG), rtol=1e-12)
    # Welch on long segments (19 Hz bins: the Hann window's leakage from the 1/f rise stays below 0.1 % above
    # 500 Hz), averaged in octaves; the model is the density plus the ADC's rounding (1/12 count^2, white)
    f, measured = welch(stream.adc, fs=FS, nperseg=2**15)  # one-sided
    model = 2 * st.input_psd(CFG, f)
    for lo in (500.0, 1e3, 2e3, 4e3, 8e3, 16e3, 32e3):  # the OF keeps 99 % of its output noise in 0.4-40 kHz
        band = (f >= lo) & (f < 2 * lo)
        assert measured[band].mean() == pytest.approx(model[band].mean(), rel=0.01), lo
    assert model[np.searchsorted(f, 500.0)] > 5 * model[-1]  # the 1/f rise is in the band


def test_noise_autocovariance_is_the_streams(pure_noise: tuple[st.Stream, np.ndarray]) -> None:
    # the covariance the pulse-shape vetoes weight residuals by: the noise FIR's autocorrelation plus the rounding
    stream, _ = pure_noise
    x = stream.adc.astype(np.float64)
    x -= x.mean()
    model = st.noise_autocovariance(CFG, 257)
    # not noise_rms_adc^2 + 1/12: the stream holds the 1/f noise down to 9.5 Hz, the 1024-sample grid only to 610 Hz
    assert CFG.noise_rms_adc**2 + 1 / 12 < model[0] < 1.1 * (CFG.noise_rms_adc**2 + 1 / 12)
    for lag in (0, 1, 4, 16, 64, 256):
        measured = np.mean(x[: len(x) - lag] * x[lag:])
        assert measured == pytest.approx(model[lag], abs=0.01 * model[0]), lag


def test_of_over_the_stream_is_the_offline_of_run_causally(of: OptimalFilter) -> None:
    stream = st.simulate_stream(st.StreamConfig(data=CFG, seconds=0.5, signal_rate_hz=50, lfn_rate_hz=20, seed=2))
    y = st.of_output(stream.adc, of, chunk=10_000)  # many chunk edges
    taps = len(of.kernel)
    offline = of.apply(stream.adc.astype(np.float64))[0] / of.resolution
    np.testing.assert_allclose(y[taps - 1 :], offline, atol=1e-9)  # output k measures the onset k - taps + 1 + onset


def test_noise_trigger_rate_of_the_of_alone_against_rice(of: OptimalFilter, pure_noise) -> None:
    stream, y = pure_noise
    freqs, psd = st.of_output_psd(CFG, of)
    start = st.settle_samples(of)
    seconds = (len(y) - start) / FS
    assert st.rice_nu0(psd, freqs) == pytest.approx(9340, rel=0.01)  # the review's 9.3 kHz, with the ADC's rounding
    assert y[start:].var() == pytest.approx(np.trapezoid(psd, freqs), rel=0.01)  # 0.994 sigma_E^2, not exactly 1

    for threshold in (3.0, 3.5):
        crossings = st.upward_crossings(y, threshold, start=start)
        candidates = st.find_candidates(y, threshold, start=start)
        rice = st.rice_rate(threshold, psd, freqs) * seconds
        sampled = st.sampled_crossing_rate(threshold, psd, freqs, FS) * seconds
        # Crossings come in clusters (the OF output's fast ripple re-crosses within a few samples), so their count
        # is compound Poisson: its variance is the sum over clusters (one per candidate) of the cluster size squared.
        sizes = np.diff(np.searchsorted(crossings, np.append(candidates.crossing, len(y))))
        assert sizes.sum() == len(crossings) and np.all(sizes >= 1)
        sigma = np.sqrt(np.sum(sizes**2.0))
        assert abs(len(crossings) - sampled) < 3 * sigma, (threshold, len(crossings), sampled, sigma)
        # Rice counts the continuous output's crossings, some of them between samples: 8 % more for this OF
        assert rice / sampled == pytest.approx(1.08, abs=0.02)
        assert abs(len(crossings) - rice) < 3 * sigma + 0.1 * rice, (threshold, len(crossings), rice, sigma)
        # Why the candidates are the crossings, less the clusters: at tens of Hz the excursions above threshold are
        # ~10 ms apart, far longer than the 64-sample hold and any time above threshold, so every excursion is one
        # candidate; a cluster of crossings within one excursion (ripple) is one candidate too.
        assert len(candidates) == len(sizes) <= len(crossings)
        assert 0.7 < len(candidates) / len(crossings) < 1.0


def test_noise_triggers_of_the_fpgas_fir_against_rice_for_its_own_spectrum(pure_noise) -> None:
    # the firmware's OF: 8-bit coefficients, integer words; Rice and the sampled-crossing formula on the spectrum of
    # that FIR's output, the count on its words
    stream, _ = pure_noise
    chain = Chain.build(CFG)
    y = chain.fir.output(stream.adc)
    freqs, psd = st.of_output_psd(CFG, fir=chain.fir.sigma(chain.fir.coefficients))
    seconds = (len(y) - chain.settle) / FS
    assert chain.fir.sigma(y[chain.settle :]).var() == pytest.approx(np.trapezoid(psd, freqs), rel=0.01)
    for threshold in (3.0, 3.5):
        level = float(chain.fir.sigma(chain.fir.word(threshold)))  # the word's own level, a hair above the threshold
        crossings = st.upward_crossings(y, chain.fir.word(threshold), start=chain.settle)
        candidates = chain.candidates(y, threshold)
        sizes = np.diff(np.searchsorted(crossings, np.append(candidates.crossing, len(y))))
        sigma = np.sqrt(np.sum(sizes**2.0))  # compound Poisson, as above
        sampled = st.sampled_crossing_rate(level, psd, freqs, FS) * seconds
        rice = st.rice_rate(level, psd, freqs) * seconds
        assert abs(len(crossings) - sampled) < 3 * sigma, (threshold, len(crossings), sampled, sigma)
        assert abs(len(crossings) - rice) < 3 * sigma + 0.1 * rice, (threshold, len(crossings), rice, sigma)


def test_candidate_logic_is_the_fpga_state_machine(pure_noise) -> None:
    _, y = pure_noise
    y = y[255:120_000]

    def fpga(threshold: float, hold: int) -> list[tuple[int, int]]:
        """Sample by sample: armed -> (crossing) hold -> (hold over) wait -> (below threshold) armed."""
        state, out, count, peak = ("armed" if y[0] < threshold else "wait"), [], 0, 0
        for k in range(1, len(y)):
            if state == "armed" and y[k] >= threshold:
                state, count, peak, crossing = "hold", 0, k, k
            if state == "hold":
                peak = k if y[k] > y[peak] else peak
                count += 1
                if count == hold:
                    out.append((crossing, peak))
                    state = "wait"
                continue
            if state == "wait" and y[k] < threshold:
                state = "armed"
        return out

    for threshold, hold in ((1.0, 64), (2.0, 3), (2.5, 64)):
        cand = st.find_candidates(y[: len(y) - hold], threshold, hold=hold)  # no hold cut by the end
        expected = [(c, p) for c, p in fpga(threshold, hold) if c < len(y) - hold]
        assert list(zip(cand.crossing.tolist(), cand.peak_sample.tolist(), strict=True)) == expected
        assert len(expected) > 20


def test_pulses_well_above_threshold_are_all_found_once_at_their_onset(of: OptimalFilter) -> None:
    config = st.StreamConfig(data=CFG, seconds=4.0, signal_rate_hz=5.0, lfn_rate_hz=0, energy_range_sigma=(20, 40),
                             seed=3)  # fmt: skip
    stream = st.simulate_stream(config)
    candidates = st.find_candidates(st.of_output(stream.adc, of), 5.0, start=st.settle_samples(of))
    rates = st.accidental_rates(stream, candidates, of)
    assert rates.signals >= 10 and rates.signals_found == rates.signals
    sig = rates.matched.kind == EventKind.SIGNAL
    assert sig.sum() == rates.signals  # one candidate per pulse: no re-trigger on its tail
    truth = rates.matched.truth_index[sig]
    dt = st.onset_of_peak(candidates.peak_sample[sig], of) - stream.truth.sample[truth]
    assert np.all(np.abs(dt) <= 2)  # well inside the 32-sample match window
    de = candidates.peak_sigma[sig] - stream.truth.energy_sigma[truth]
    assert np.all(np.abs(de) < 4) and abs(de.mean()) < 1  # noise of 1 sigma_E on the peak
    assert rates.noise.count == 0 and rates.lfn.count == 0  # 5 sigma_E: 0.03 Hz of noise (Rice)


def test_lfn_triggers_grow_with_the_episode_rate_and_carry_intervals(of: OptimalFilter) -> None:
    threshold = 4.0
    found = {}
    for rate_hz in (0.0, 5.0, 20.0):
        stream = st.simulate_stream(st.StreamConfig(data=CFG, seconds=4.0, signal_rate_hz=0, lfn_rate_hz=rate_hz,
                                                    seed=4))  # fmt: skip
        candidates = st.find_candidates(st.of_output(stream.adc, of), threshold, start=st.settle_samples(of))
        found[rate_hz] = rates = st.accidental_rates(stream, candidates, of)
        lo, hi = rates.lfn.interval_hz
        assert lo <= rates.lfn.hz <= hi
        assert rates.noise.seconds <= rates.lfn.seconds == pytest.approx(4.0, rel=1e-3)
        assert np.all(stream.truth.kind == EventKind.LFN)
        assert len(stream.truth.kind) == pytest.approx(4 * rate_hz, abs=4 * rate_hz**0.5 + 1)  # Poisson arrivals
    assert found[0.0].lfn.count == 0 and found[0.0].lfn.interval_hz[1] == pytest.approx(1.841 / 4, rel=1e-3)
    assert found[5.0].lfn.interval_hz[0] > found[0.0].lfn.interval_hz[1]
    assert found[20.0].lfn.interval_hz[0] > found[5.0].lfn.interval_hz[1]
    # the noise triggers outside the episodes are not inflated by them: below Rice's 3 Hz at 4 sigma_E
    for rates in found.values():
        assert rates.noise.interval_hz[0] < 3.0


def test_rate_intervals_are_garwoods() -> None:
    from scipy.stats import poisson

    assert st.poisson_interval(0) == pytest.approx((0.0, -np.log(1 - st.CONFIDENCE) + np.log(2)), rel=1e-9)
    for count in (1, 10, 300):
        lo, hi = st.poisson_interval(count)
        tail = (1 - st.CONFIDENCE) / 2  # each end: the mean at which the observed count is that improbable
        assert poisson.sf(count - 1, lo) == pytest.approx(tail, rel=1e-6)
        assert poisson.cdf(count, hi) == pytest.approx(tail, rel=1e-6)
    rate = st.Rate(count=10, seconds=4.0)
    assert rate.hz == 2.5 and rate.interval_hz == pytest.approx(np.array(st.poisson_interval(10)) / 4.0)
