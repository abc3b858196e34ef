"""The trigger chain as the FPGA runs it, in integers: the OF as a fixed-point FIR, its candidates, the window.

This is the reference the streaming firmware is checked against, and what the physics figures are
computed with (``thresholds.scan_streams``): a threshold, a candidate and a window here are the
FPGA's, word for word.

The FIR
    ``c[j] = round(b[j] 2^f)`` with ``b = OptimalFilter.kernel[::-1] / resolution`` (the causal FIR of
    ``stream.of_output``, in sigma_E per ADC count) and ``f`` the largest number of fraction bits for
    which the largest coefficient fits ``of_coefficient_bits`` signed bits. The OF word is the exact
    integer ``y[k] = sum_j c[j] x[k - j]`` over the ADC samples; ``y 2^-f`` is in sigma_E. A
    threshold of T sigma_E is the word ``ceil(T 2^f)``: ``y >= that`` exactly when ``y 2^-f >= T``.
    What quantising costs (``Fir.resolution_loss``): the quantised FIR's noise RMS on the stream's
    noise (``stream.noise_autocovariance``) over its response to a unit-energy pulse at the OF's
    onset, against the same for the float FIR. For the default card (8-bit coefficients, f = 11) it is
    below 0.1 % either way: the rounding errors of 256 taps average out.

The network's window at a candidate (``Chain.windows``)
    At a candidate's peak sample ``p`` the FIR's shift register holds ``x[p - taps + 1 .. p]`` and the
    OF's time estimate puts the pulse onset at register position ``of.onset``. The network sees the
    ``window`` samples from register position ``offset = of.onset - window // 4`` (the onset a quarter
    into the window, as in the training windows), minus the baseline: the mean of the
    ``baseline_samples`` register samples before the window, rounded half up (``floor((sum + B/2) / B)``,
    B a power of two so the FPGA divides by a shift), and saturated to the ADC's signed range. The
    window is a slice of the FIR's own register, so the firmware needs no second buffer.

    After the window comes one more input: the OF word at the peak in quarters of sigma_E (the word
    shifted right by ``frac_bits - 2``, i.e. rounded down, and saturated to the ADC's word, so every
    input shares one 8-bit format). The window spans 102 us, the OF 410 us: with the OF's amplitude
    the network can compare what the long filter saw with the window's own shape, as the classical
    amplitude-consistency veto compares a 64-tap OF with the 256-tap one (``thresholds.py``). Without
    it (measured on the default card, 1000 s, 1 Hz budget) OF + NN reached E50 4.57 sigma_E against
    4.25 for that veto: the network could not tell small pulses from LFN on the short window alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ...errors import CardError
from .config import CdmsLfnData
from .simulation import OptimalFilter, pulse_template
from .stream import Candidates, causal_fir, find_candidates, noise_autocovariance, samples_above, settle_samples

#: exact positions spot-checked per call of ``Fir.output`` against an integer dot product
EXACT_CHECKS = 64
#: the network's OF-amplitude input counts quarters of sigma_E (saturating at 31.75 sigma_E for an 8-bit ADC word)
AMPLITUDE_FRAC_BITS = 2


@dataclass(frozen=True, kw_only=True)
class Fir:
    """The OF as a fixed-point FIR: integer coefficients, an integer output word, ``frac_bits`` below sigma_E."""

    coefficients: np.ndarray  # (taps,) int64: c[j] multiplies the sample j before the newest
    frac_bits: int
    bits: int  # signed bits of the largest coefficient (the card's of_coefficient_bits)
    adc_bits: int
    resolution_loss: float  # quantised resolution / float resolution - 1, on the stream's noise
    gain: float  # the quantised FIR's response to a unit-energy pulse, sigma_E (the float FIR's is 1)

    @classmethod
    def quantise(cls, cfg: CdmsLfnData, of: OptimalFilter, bits: int) -> Fir:
        from scipy.linalg import toeplitz

        b = of.kernel[::-1] / of.resolution
        f = int(np.floor(np.log2((2 ** (bits - 1) - 1) / np.max(np.abs(b)))))
        c = np.round(b * 2.0**f).astype(np.int64)
        cov = toeplitz(noise_autocovariance(cfg, len(b)))
        pulse = pulse_template(cfg, len(b), of.onset)[::-1] * of.resolution  # unit energy, newest sample first

        def resolution(k: np.ndarray) -> float:
            return float(np.sqrt(k @ cov @ k) / (k @ pulse))

        q = c * 2.0**-f
        loss = resolution(q) / resolution(b) - 1.0
        return cls(coefficients=c, frac_bits=f, bits=bits, adc_bits=cfg.adc_bits, resolution_loss=loss,
                   gain=float(q @ pulse))  # fmt: skip

    def output(self, adc: np.ndarray) -> np.ndarray:
        """The OF word at every sample (int64), the delay line starting empty, as ``stream.of_output`` does.

        Computed with an FFT in float64 and rounded: every partial sum is an integer far below 2^53, so
        the rounding recovers it exactly; ``EXACT_CHECKS`` positions are checked against integer sums.
        """
        x = np.asarray(adc)
        y = np.rint(causal_fir(x, self.coefficients.astype(np.float64))).astype(np.int64)
        if len(x):
            at = np.random.default_rng(len(x)).integers(0, len(x), size=EXACT_CHECKS)
            taps = len(self.coefficients)
            padded = np.concatenate([np.zeros(taps - 1, dtype=np.int64), x.astype(np.int64)])
            exact = np.array([padded[k : k + taps][::-1] @ self.coefficients for k in at])
            if np.any(exact != y[at]):
                raise ArithmeticError("the FFT FIR lost integer exactness: the OF words are too wide for float64")
        return y

    def word(self, threshold_sigma: float) -> int:
        """The smallest OF word at or above ``threshold_sigma``."""
        return int(np.ceil(threshold_sigma * 2.0**self.frac_bits - 1e-9))

    def sigma(self, words: np.ndarray) -> np.ndarray:
        return np.asarray(words, dtype=np.float64) * 2.0**-self.frac_bits

    @property
    def output_bits(self) -> int:
        """Signed bits of the OF word for any ADC input."""
        return int(np.ceil(np.log2(np.sum(np.abs(self.coefficients)) * 2 ** (self.adc_bits - 1) + 1))) + 1


@dataclass(frozen=True, kw_only=True)
class Chain:
    """The FIR, the candidate logic and the network's window, with the card's numbers."""

    of: OptimalFilter  # the float OF: its onset, its kernel (the classical vetoes use it)
    fir: Fir
    window: int
    offset: int  # the window's first register position
    baseline: int
    hold: int
    adc_bits: int

    @classmethod
    def build(cls, cfg: CdmsLfnData, of: OptimalFilter | None = None) -> Chain:
        of = OptimalFilter.build(cfg) if of is None else of
        return cls(of=of, fir=Fir.quantise(cfg, of, cfg.of_coefficient_bits), window=cfg.window,
                   offset=window_offset(cfg), baseline=cfg.baseline_samples, hold=cfg.candidate_hold_samples,
                   adc_bits=cfg.adc_bits)  # fmt: skip

    @property
    def settle(self) -> int:
        return settle_samples(self.of)

    def candidates(self, y: np.ndarray, threshold_sigma: float, *, above: np.ndarray | None = None) -> Candidates:
        """The candidate logic on the OF words, from the first settled sample; peaks in sigma_E.

        ``above``: ``self.above(y, lowest)`` once for many thresholds from ``lowest`` up (faster, same result).
        """
        word = self.fir.word(threshold_sigma)
        c = find_candidates(y, word, hold=self.hold, start=self.settle, above=above)
        return dataclasses.replace(c, peak_sigma=self.fir.sigma(c.peak_sigma), threshold_sigma=threshold_sigma)

    def above(self, y: np.ndarray, lowest_sigma: float) -> np.ndarray:
        return samples_above(y, self.fir.word(lowest_sigma), start=self.settle)

    def network_inputs(self, adc: np.ndarray, y: np.ndarray, peak_sample: np.ndarray) -> np.ndarray:
        """What the network sees at each peak: the window, then the OF amplitude code (module docstring)."""
        p = np.asarray(peak_sample, dtype=np.int64)
        return np.concatenate([self.windows(adc, p), self.amplitude_code(y[p])[:, None]], axis=1)

    def amplitude_code(self, words: np.ndarray) -> np.ndarray:
        """The OF word in steps of ``2^-AMPLITUDE_FRAC_BITS`` sigma_E (a right shift), saturated to the ADC word."""
        code = np.floor(np.asarray(words, dtype=np.float64) * 2.0 ** (AMPLITUDE_FRAC_BITS - self.fir.frac_bits))
        lo, hi = -(2 ** (self.adc_bits - 1)), 2 ** (self.adc_bits - 1) - 1
        return np.clip(code, lo, hi).astype(np.float32)

    def windows(self, adc: np.ndarray, peak_sample: np.ndarray) -> np.ndarray:
        """The window at each peak sample: integer ADC counts (float32), baseline subtracted, saturated."""
        p = np.asarray(peak_sample, dtype=np.int64)
        first = p - self.settle + self.offset  # the window's first stream sample
        x = np.asarray(adc)
        base = x[first[:, None] + np.arange(-self.baseline, 0)[None, :]].astype(np.int64).sum(axis=1)
        base = (base + self.baseline // 2) // self.baseline
        w = x[first[:, None] + np.arange(self.window)[None, :]].astype(np.int64) - base[:, None]
        lo, hi = -(2 ** (self.adc_bits - 1)), 2 ** (self.adc_bits - 1) - 1
        return np.clip(w, lo, hi).astype(np.float32)


def window_offset(cfg: CdmsLfnData) -> int:
    """The window's first position in the FIR's register: the OF's onset less a quarter window."""
    return cfg.of_length // 8 - cfg.window // 4


def check_geometry(cfg: CdmsLfnData, where: str) -> None:
    """The window and its baseline must sit inside the FIR's register (``Chain.windows``)."""
    offset = window_offset(cfg)
    if offset < cfg.baseline_samples or offset + cfg.window > cfg.of_length:
        raise CardError(
            f"{where}: the network's window ({cfg.window} samples, a quarter of it before the OF's onset at "
            f"register sample {cfg.of_length // 8}) and its baseline ({cfg.baseline_samples} samples before it) "
            f"must fit in the OF's {cfg.of_length}-sample register: lengthen data.of_length or shorten data.window "
            "or data.baseline_samples"
        )
    if cfg.baseline_samples & (cfg.baseline_samples - 1):
        raise CardError(
            f"{where}: data.baseline_samples must be a power of two (the FPGA divides the baseline sum by a shift), "
            f"got {cfg.baseline_samples}"
        )
