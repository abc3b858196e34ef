"""The cdms_lfn models (pulse template, optimal filter, ADC) against their formulas."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trigger_nn.tasks.cdms import simulation as cdms
from trigger_nn.tasks.cdms.config import CdmsLfnData, PulseShape
from trigger_nn.tasks.cdms.stream import stream_noise

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
    noise = next(stream_noise(CFG, 400 * n, rng)).reshape(400, n)
    assert of.apply(noise).std() == pytest.approx(of.resolution, rel=0.05)


def test_digitise_saturates_at_the_adc_range() -> None:
    np.testing.assert_array_equal(cdms.digitise(np.array([-1e6, -3.4, 0.5, 2.6, 1e6]), 8), [-128, -3, 0, 3, 127])
