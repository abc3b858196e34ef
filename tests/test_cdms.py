"""The cdms_lfn simulator and its optimal-filter trigger against their formulas."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trigger_nn.tasks.cdms import simulation as cdms
from trigger_nn.tasks.cdms.config import CdmsLfnData, PulseShape
from trigger_nn.tasks.cdms.physics import TurnOn

CFG = CdmsLfnData()


@pytest.mark.parametrize("shape", list(PulseShape))
def test_template_is_the_qetpy_formula_with_unit_peak(shape: PulseShape) -> None:
    cfg = dataclasses.replace(CFG, pulse_shape=shape)
    onset, n = 10, 512
    pulse = cdms.pulse_template(cfg, n, onset)
    assert np.all(pulse[:onset] == 0)
    t = np.maximum(np.arange(n) - onset, 0) / cfg.sample_rate_hz
    tr, tf, tf2, b = (cfg.rise_time_us * 1e-6, cfg.fall_time_us * 1e-6, cfg.fall_time2_us * 1e-6, cfg.fall2_fraction)
    if shape is PulseShape.TWOPOLE:
        formula = np.exp(-t / tf) - np.exp(-t / tr)
        t_peak = tr * tf / (tf - tr) * np.log(tf / tr)
        assert abs(np.argmax(pulse) - (onset + t_peak * cfg.sample_rate_hz)) <= 1
    else:
        formula = (1 - b) * np.exp(-t / tf) + b * np.exp(-t / tf2) - np.exp(-t / tr)
    # unit peak of the continuous pulse: the sampled one is at most a hair below 1
    np.testing.assert_allclose(pulse, formula / cdms.template_peak(cfg) * (np.arange(n) >= onset), atol=1e-9)
    assert 0.995 < pulse.max() <= 1.0


def test_noise_rms_and_psd_match_what_they_were_drawn_from() -> None:
    noise = cdms._gen_noise(CFG, 2000, np.random.default_rng(3))
    assert noise.std() == pytest.approx(CFG.noise_rms_adc, rel=0.03)
    # measured two-sided PSD against the model, in octave-wide bands (statistical error ~ few %)
    psd_model = cdms.noise_psd(CFG)
    spectrum = np.abs(np.fft.fft(noise, axis=1)) ** 2 / (CFG.sample_rate_hz * CFG.trace_length)
    psd_measured = spectrum.mean(axis=0)
    for lo in (2, 8, 32, 128):
        band = slice(lo, 2 * lo)
        assert psd_measured[band].mean() == pytest.approx(psd_model[band].mean(), rel=0.1)
    assert psd_model[1] > 5 * psd_model[CFG.trace_length // 2 - 1]  # the 1/f rise is there


def test_optimal_filter_measures_noiseless_pulses_exactly() -> None:
    of = cdms.OptimalFilter.build(CFG)
    for amplitude, onset in ((7.0, 300), (0.5, 501), (40.0, 77)):
        stream = amplitude * cdms.pulse_template(CFG, CFG.trace_length, onset)
        y = of.apply(stream)[0]
        assert y.argmax() == onset - of.onset  # peaks where the template lines up with the pulse
        assert y.max() == pytest.approx(amplitude, rel=1e-9)


def test_optimal_filter_is_qetpys_and_its_resolution_is_what_qetpy_says() -> None:
    from qetpy import OptimumFilter

    of = cdms.OptimalFilter.build(CFG)
    n = CFG.of_length
    rng = np.random.default_rng(4)
    trace = 3.0 * cdms.pulse_template(CFG, n, of.onset) + rng.normal(size=n)
    amp = OptimumFilter(trace, cdms.pulse_template(CFG, n, of.onset), cdms.noise_psd(CFG, n), CFG.sample_rate_hz)
    assert of.apply(trace)[0, 0] == pytest.approx(amp.ofamp_nodelay()[0], rel=1e-9)
    # on noise, the FIR's output scatters by the resolution QETpy computes
    noise = cdms._gen_noise(CFG, 400, rng)
    assert of.apply(noise).std() == pytest.approx(of.resolution, rel=0.05)


def test_lfn_episodes_are_slow_and_each_a_new_shape() -> None:
    rng = np.random.default_rng(1)
    bursts = dataclasses.replace(CFG, lfn_slow_fraction=0.0)  # slow excursions are smooth drifts, alike by nature
    shapes = cdms.lfn_shapes(bursts, np.full(300, 500), rng)
    spectrum = np.abs(np.fft.rfft(shapes * np.hanning(CFG.trace_length), axis=1)) ** 2
    freqs = np.fft.rfftfreq(CFG.trace_length, 1 / CFG.sample_rate_hz)
    # band-limited to a few kHz, far below a pulse's 8 kHz rise
    assert np.all(spectrum[:, freqs > 4 * CFG.lfn_band_hz[1]].sum(axis=1) < 0.01 * spectrum.sum(axis=1))
    corr = np.corrcoef(shapes[:50])
    assert np.max(np.abs(corr - np.eye(50))) < 0.99  # no two alike


@pytest.fixture(scope="module")
def windows() -> cdms.Windows:
    return cdms.simulate(CFG, 3000, np.random.default_rng(7))


def test_windows_are_baseline_subtracted_adc_words_with_their_truth(windows: cdms.Windows) -> None:
    w = windows
    assert w.x.shape == (3000, CFG.window)
    np.testing.assert_array_equal(w.x, np.round(w.x))
    assert w.x.min() >= -(2 ** (CFG.adc_bits - 1)) and w.x.max() <= 2 ** (CFG.adc_bits - 1) - 1
    np.testing.assert_array_equal(w.label, w.kind == cdms.EventKind.SIGNAL)
    shares = np.bincount(w.kind, minlength=3) / len(w.kind)
    np.testing.assert_allclose(shares, [CFG.noise_fraction, 1 - CFG.noise_fraction - CFG.signal_fraction,
                                        CFG.signal_fraction], atol=0.03)  # fmt: skip
    sig = w.kind == cdms.EventKind.SIGNAL
    lo, hi = CFG.energy_range_sigma
    assert np.all((w.energy_sigma[sig] >= lo) & (w.energy_sigma[sig] <= hi)) and np.all(np.isnan(w.energy_sigma[~sig]))
    # well above threshold the OF finds the pulse where it is: a quarter into the window, within the jitter
    # and the OF's own timing resolution (a few samples at 10 sigma with a 12-sample rise)
    strong = sig & (w.energy_sigma > 10)
    assert np.mean(np.abs(w.onset[strong] - CFG.window // 4) <= CFG.window_jitter + 4) > 0.95
    assert np.median(w.onset[strong]) == pytest.approx(CFG.window // 4, abs=1)
    # the OF peak estimates the energy with the resolution as its spread
    assert np.std(w.of_peak_sigma[strong] - w.energy_sigma[strong]) == pytest.approx(1.0, abs=0.15)


def test_of_alone_turns_on_as_an_error_function_of_unit_width(windows: cdms.Windows) -> None:
    sig = windows.kind == cdms.EventKind.SIGNAL
    threshold = 6.0
    curve = TurnOn.fit(windows.energy_sigma[sig], windows.of_peak_sigma[sig] >= threshold, guess=threshold)
    assert curve.width == pytest.approx(1.0, abs=0.15)
    assert curve.e50 == pytest.approx(threshold, abs=0.3)  # the peak search biases it a little low
    assert curve.plateau > 0.99


def test_lfn_amplitudes_overlap_the_signals_as_the_of_sees_them(windows: cdms.Windows) -> None:
    lfn = windows.of_peak_sigma[windows.kind == cdms.EventKind.LFN]
    assert np.median(lfn) == pytest.approx(CFG.lfn_of_min_sigma + CFG.lfn_of_scale_sigma * np.log(2), abs=0.4)
    assert np.mean(lfn > 8.0) > 0.02  # a tail above where the OF alone would have to sit


def test_same_seed_same_windows() -> None:
    a = cdms.simulate(CFG, 50, np.random.default_rng(11))
    b = cdms.simulate(CFG, 50, np.random.default_rng(11))
    np.testing.assert_array_equal(a.x, b.x)


def test_digitise_saturates_at_the_adc_range() -> None:
    np.testing.assert_array_equal(cdms.digitise(np.array([-1e6, -3.4, 0.5, 2.6, 1e6]), 8), [-128, -3, 0, 3, 127])
