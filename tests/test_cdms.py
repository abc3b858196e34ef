"""The cdms_lfn simulator against its formulas."""

from __future__ import annotations

import numpy as np
import pytest

from trigger_nn.card import CdmsLfnData
from trigger_nn.data import cdms

CFG = CdmsLfnData(window=64, trace_length=1024)


def test_template_is_the_two_pole_formula_with_unit_peak() -> None:
    onset = 10
    pulse = cdms.pulse_template(CFG, onset)
    assert np.all(pulse[:onset] == 0)
    t = (np.arange(CFG.window) - onset) / CFG.sample_rate_hz
    tr, tf = CFG.rise_time_us * 1e-6, CFG.fall_time_us * 1e-6
    formula = np.where(t >= 0, np.exp(-t / tf) - np.exp(-t / tr), 0.0)
    np.testing.assert_allclose(pulse, formula / formula.max(), rtol=0, atol=2e-3)  # sampled vs analytic peak
    t_peak = tr * tf / (tf - tr) * np.log(tf / tr)
    assert abs(np.argmax(pulse) - (onset + t_peak * CFG.sample_rate_hz)) <= 1


def test_noise_rms_and_psd_match_what_they_were_drawn_from() -> None:
    rng = np.random.default_rng(3)
    noise = cdms._noise(CFG, 2000, rng)
    assert noise.std() == pytest.approx(CFG.noise_rms_adc, rel=0.03)
    # Measured two-sided PSD against the model, in octave-wide bands (statistical error ~ few %).
    psd_model = cdms.noise_psd(CFG)
    spectrum = np.abs(np.fft.fft(noise, axis=1)) ** 2 / (CFG.sample_rate_hz * CFG.trace_length)
    psd_measured = spectrum.mean(axis=0)
    for lo in (2, 8, 32, 128):
        band = slice(lo, 2 * lo)
        assert psd_measured[band].mean() == pytest.approx(psd_model[band].mean(), rel=0.1)
    assert psd_model[1] > 5 * psd_model[CFG.trace_length // 2 - 1]  # the 1/f rise is there


def test_lfn_is_unit_peak_and_slow() -> None:
    lfn = cdms.lfn_excursions(CFG, 500, np.random.default_rng(1))
    np.testing.assert_allclose(np.abs(lfn).max(axis=1), 1.0)
    # Band-limited to a few kHz: with a Hann taper, (almost) no power above the window's 3rd bin (~29 kHz).
    power = np.abs(np.fft.rfft(lfn * np.hanning(CFG.window), axis=1)) ** 2
    assert np.max(power[:, 4:].sum(axis=1) / power.sum(axis=1)) < 0.01


def test_windows_are_adc_words_with_balanced_labels_and_truth() -> None:
    w = cdms.simulate(CFG, 400, np.random.default_rng(7))
    assert w.x.shape == (400, CFG.window)
    np.testing.assert_array_equal(w.x, np.round(w.x))
    assert w.x.min() >= -(2 ** (CFG.adc_bits - 1)) and w.x.max() <= 2 ** (CFG.adc_bits - 1) - 1
    assert w.label.sum() == 200
    assert np.all(w.onset[w.label == 0] == -1) and np.all(w.onset[w.label == 1] >= 0)
    # Baseline-subtracted: the pre-onset samples of every window average to ~0 (up to ADC rounding).
    assert np.abs(w.x[:, : CFG.baseline_samples].mean(axis=1)).max() <= 0.5
    lo, hi = CFG.signal_amplitude_sigma
    assert np.all((w.amplitude_sigma >= lo) & (w.amplitude_sigma <= hi))


def test_same_seed_same_windows() -> None:
    a = cdms.simulate(CFG, 50, np.random.default_rng(11))
    b = cdms.simulate(CFG, 50, np.random.default_rng(11))
    np.testing.assert_array_equal(a.x, b.x)


def test_digitise_saturates_at_the_adc_range() -> None:
    np.testing.assert_array_equal(cdms.digitise(np.array([-1e6, -3.4, 0.5, 2.6, 1e6]), 8), [-128, -3, 0, 3, 127])
