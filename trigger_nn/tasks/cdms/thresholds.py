"""The trigger threshold at a fixed accidental-rate budget: OF alone and OF + a classical pulse-shape veto.

SuperCDMS judges a trigger by the energy at which it is 50 % and 99 % efficient (E50, E99, here in
units of the OF resolution sigma_E) at a given accidental (noise + LFN) trigger rate in Hz, on
continuous data (Wilson et al., JINST 17 P07010, arXiv:2204.13002; ``docs/physics.md``). This module
measures that on the streams of ``stream.py``: OF candidates (``find_candidates``), matched to the
truth (``match``), each given a veto statistic computed as the FPGA would, then the lowest OF
threshold (and veto cut) whose accidental rate fits the budget, and the turn-on there.

The vetoes (evaluated on each candidate at its peak sample ``p``, the OF's own time estimate)
    Both read only the ``of_length`` ADC samples ``x[p - of_length + 1 .. p]``, the ones the 256-tap
    OF read for its peak output: the FPGA keeps the last ``hold + of_length`` samples in a buffer and
    evaluates the veto when the candidate's hold ends (``hold - 1`` samples after its crossing), so it is
    causal and has a fixed latency. Both are linear or quadratic forms with constant coefficients.

    *Amplitude consistency* (``AmplitudeConsistency``): a short OF, ``OptimalFilter.build`` of the card
    with ``of_length = 64`` (same template, same PSD model on its own 64-bin grid, AC-coupled, as the
    256-tap one), applied to the 64 samples that start ``short.onset`` before the onset the long OF
    found (``onset_of_peak``). Statistic ``(A_256 - A_64) / sigma_d``, the short OF's amplitude deficit:
    the difference (ADC counts) over its noise RMS, ``sigma_d^2 = k^T C k`` with ``k`` the difference of
    the two kernels on the 256 samples and ``C`` the stream noise's covariance
    (``stream.noise_autocovariance``). For a pulse both amplitudes are unbiased, so the statistic is
    N(0, 1) whatever the energy; a noise excursion gives the same (the long OF is the efficient
    estimator, so the difference is independent of its amplitude: no pulse-shape veto can reject noise
    triggers more than it rejects pulses). LFN, whose shape is not the template's, has more of its
    power at low frequencies than a pulse: the long OF (410 us) picks up its slow lobes, the short one
    (102 us, AC-coupled) much less, so LFN gives a deficit (median ~3 sigma at 4 sigma_E). The cut is
    one-sided (``statistic <= cut``): an excess of the short amplitude comes from pulses whose onset the
    long OF misplaced by a sample (at 20-40 sigma_E, 1 % of them above +3) and from pile-up, not LFN.

    *OF chi^2* (``OfChi2``): the noise-weighted residual of the OF's own fit, in the time domain over
    the OF's 256 samples: ``chi2 = r^T C^-1 r / 256`` with ``r = x - A_256 s``, ``s`` the OF's unit-peak
    template at the OF's onset and ``C`` the 256 x 256 noise covariance above (computed as
    ``|L^-1 r|^2``, ``L`` its Cholesky factor: a fixed 256 x 256 triangular matrix per candidate). For
    pulses and noise its mean is ~1 (a chi^2 of ~255 degrees of freedom, over 256).

    A candidate passes a veto if its statistic is at most the cut. The candidate logic runs first: a
    vetoed candidate has still held the logic for its hold (the veto adds no dead time and removes none).

The threshold at a budget (``operating_point``)
    On a grid of OF thresholds (``scan_streams``: every threshold's candidates on the same streams), the
    accidental rate at (T, cut) is the noise candidates that pass per second of stream outside the truth
    windows plus the LFN candidates that pass per second of stream (``stream.accidental_rates``). The
    threshold for a cut is the lowest grid T from which on every grid threshold's rate is within the
    budget (so one low fluctuation below a higher one does not set it). For a veto the cut is chosen
    from the statistic's quantiles on pulses far above threshold (E >= T + ``PLATEAU_ABOVE_SIGMA``),
    keeping fractions from ``min_plateau_efficiency`` (the card's, 0.995: cuts that lose more of the
    high-energy pulses are refused) to 0.999, and from its quantiles on pulses of every energy (looser
    cuts; ``operating_point``); of these (T, cut) pairs the one with the lowest E50 is taken. Rice's
    formula (``stream.rice_rate``) is reported as a cross-check of the OF-alone noise rate only; it
    never sets a threshold. Counts and their Garwood 68 % intervals come with every rate: where
    a count is small (tens or fewer), the threshold is as uncertain as that count. The LFN count is not
    Poisson: an episode makes several candidates (one per excursion of its carrier above threshold; 985
    from 309 episodes at 5.30 sigma_E in 1000 s of the default card), so the total's interval, and the threshold
    range it gives (``OperatingPoint.threshold_range_sigma``: the same search run on the interval's
    ends), use the effective count ``n^2 / (n_noise + sum over episodes of n_i^2)``.

Efficiency, E50 and E99 (``turn_on``)
    Pulses are injected into the same streams at ``INJECTION_RATE_HZ`` (20 Hz, Poisson), energies
    uniform in ``INJECTION_ENERGY_SIGMA``. A pulse with another pulse within ``ISOLATION_MS`` (1 ms, ten
    fall times; 1 - exp(-0.04) = 4 % of them at 20 Hz) is left out of the efficiency, so pile-up does
    not enter it; LFN episodes and noise candidates that hold the logic do (they are part of the
    stream). A pulse is found if a candidate matched to it (``match``: onset within 32 samples) passes
    the veto. Efficiency vs energy is fitted with ``physics.TurnOn`` (an error function times a plateau,
    unbinned); E50 is its 50 % point, E99 its 99 % point, None when the fitted plateau stays below 99 %
    (a veto that keeps 95 % of high-energy pulses never reaches 99 %; so the card's
    ``min_plateau_efficiency`` defaults to 0.995, and a (threshold, cut) pair is refused only when the
    high-energy pulses it loses are too many for that fraction beyond their binomial statistics,
    ``loses_too_many``). For the OF alone E50 sits 0.1-0.2
    sigma_E below T: the hold keeps the largest of several noisy samples around a pulse's peak. The cut
    with the lowest E50 is picked on the same pulses E50 is measured on; the bias this leaves is below
    E50's error (bootstrap, ``turn_on(bootstrap=...)``: ~0.05 sigma_E on 200 s of stream, 0.02-0.03 on 1000 s).

The default budget (``data.accidental_budget_hz: 1`` Hz of accidental triggers, noise + LFN, per channel)
    An assumption: no public SuperCDMS number gives the accidental rate a detector may trigger at. The
    L1 trigger paper (arXiv:2204.13002) and the neural-trigger proposal (arXiv:2212.07864, which
    compares at equal noise-trigger rate) judge a trigger at a given rate but, in what this project has
    of them, name none. Reasons: (1) Rice's formula puts the OF alone's noise rate at 2-3 Hz at 4
    sigma_E and 0.03 Hz at 5 sigma_E for this card (``docs/physics.md``): 1 Hz asks for a threshold of a
    few sigma, where an OF trigger works; (2) the hand-set floor it replaces
    (the retired ``of_threshold_floor_sigma: 4``) stood for "about the noise rate at 4 sigma_E", ~2 Hz, so 1 Hz is
    no looser than the old headline; (3) accidentals must stay well below what the readout can record (a
    trace of tens of ms per trigger) and should not swamp the physics rate at threshold, which in a
    low-background experiment is far below 1 Hz: 1 Hz is generous rather than tight (an assumption). (4)
    Measured on the default card with LFN episodes at 1 Hz (itself an assumption, the card's
    ``lfn_rate_hz``), 1000 s, float OF, plateau rule 0.95: at 1 Hz the OF alone is LFN-limited (at its 5.30 sigma_E
    threshold 985 LFN against 4 noise triggers) while the vetoed ones are mostly noise-limited (519
    noise, 389 LFN for amplitude consistency), the regime an LFN veto is for; at 3-10 Hz noise dominates
    every trigger and no pulse-shape veto gains more than 2-7 %; at 0.1 Hz the LFN's exponential tail
    sets the OF alone at ~9 sigma_E. For Gaussian noise alone the threshold moves ~0.5 sigma_E per
    decade of budget (nu0 exp(-T^2/2), nu0 ~9 kHz); LFN-limited, by up to ``lfn_of_scale_sigma`` x ln 10
    (4.6 sigma_E) per decade (measured: 3.9 from 0.1 to 1 Hz). The headline therefore depends on the
    budget as much as on the LFN model: the report shows 0.1, 0.3, 3 and 10 Hz as well (``physics.py``).

The NN column
    A network enters as a veto: its score on each candidate's inputs as the stream presents them
    (``chain.Chain.network_inputs``; higher = more signal-like), as a ``ScoreVeto(name, score)`` passed
    to ``scan_streams`` or, for scores computed elsewhere (the firmware's, in the report), added to a
    scan with ``Scan.with_veto``; ``operating_point`` then treats it like the classical ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Literal, Protocol

import numpy as np

from ...errors import CardError, TriggerNNError
from .chain import Chain
from .config import CdmsLfnData
from .simulation import EventKind, OptimalFilter, pulse_template
from .stream import (
    Rate,
    StreamConfig,
    accidental_rates,
    match,
    noise_autocovariance,
    of_output_psd,
    poisson_interval,
    rice_rate,
    stream_segment,
)

SHORT_OF_TAPS = 64
INJECTION_RATE_HZ = 20.0
INJECTION_ENERGY_SIGMA = (1.0, 20.0)
ISOLATION_MS = 1.0
PLATEAU_ABOVE_SIGMA = 4.0  # "high-energy" pulses: at least this far above the threshold (turn-on width ~1)
KEEP_FRACTIONS = (0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999)  # of high-energy pulses, for the cut grid
ALL_PULSE_KEEP_FRACTIONS = (0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)  # of pulses of any energy, looser cuts
OF_ALONE = "OF alone"
Bound = Literal["central", "lower", "upper"]


# -- the turn-on curve -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TurnOn:
    """Trigger efficiency vs energy, ``eps/2 (1 + erf((E - mu) / (sqrt(2) width)))``, fitted unbinned."""

    mu: float
    width: float
    plateau: float

    @classmethod
    def fit(cls, energy: np.ndarray, passed: np.ndarray, guess: float) -> TurnOn:
        from scipy.optimize import minimize
        from scipy.special import erf

        y = passed.astype(np.float64)

        def nll(p: np.ndarray) -> float:
            eff = np.clip(p[2] / 2 * (1 + erf((energy - p[0]) / (np.sqrt(2) * p[1]))), 1e-9, 1 - 1e-9)
            return -float(np.sum(y * np.log(eff) + (1 - y) * np.log(1 - eff)))

        lo, hi = float(energy.min()), float(energy.max())
        best = minimize(nll, x0=[guess, 1.0, 0.99], bounds=[(lo, hi), (0.05, hi - lo), (0.5, 1.0)], method="L-BFGS-B")
        return cls(mu=float(best.x[0]), width=float(best.x[1]), plateau=float(best.x[2]))

    def __call__(self, energy: np.ndarray) -> np.ndarray:
        from scipy.special import erf

        return self.plateau / 2 * (1 + erf((energy - self.mu) / (np.sqrt(2) * self.width)))

    @property
    def e50(self) -> float:
        """The energy at 50 % efficiency."""
        from scipy.special import erfinv

        return float(self.mu + np.sqrt(2) * self.width * erfinv(1 / self.plateau - 1))


# -- the vetoes ----------------------------------------------------------------------------------------------------


class Veto(Protocol):
    """A per-candidate statistic from the stream; a candidate passes if it is at most the cut."""

    name: str

    def statistic(self, adc: np.ndarray, peak_sample: np.ndarray) -> np.ndarray: ...


def of_windows(adc: np.ndarray, peak_sample: np.ndarray, taps: int) -> np.ndarray:
    """The ``taps`` samples ``x[p - taps + 1 .. p]`` the OF read for its output at each peak sample ``p`` (float64)."""
    peak_sample = np.asarray(peak_sample, dtype=np.int64)
    if len(peak_sample) and peak_sample.min() < taps - 1:
        raise ValueError(f"a candidate peak at sample {peak_sample.min()} is before the OF settled ({taps - 1})")
    idx = peak_sample[:, None] + np.arange(1 - taps, 1)[None, :]
    return np.asarray(adc)[idx].astype(np.float64)


def _covariance(cfg: CdmsLfnData, n: int) -> np.ndarray:
    from scipy.linalg import toeplitz

    return toeplitz(noise_autocovariance(cfg, n))


@dataclass(frozen=True, kw_only=True)
class AmplitudeConsistency:
    """``(A_long - A_short) / sigma_d`` at the long OF's peak: the short OF's deficit (module docstring)."""

    of: OptimalFilter
    short: OptimalFilter
    difference: np.ndarray  # (of taps,) kernel on x[p - taps + 1 .. p]: short (embedded) minus long, ADC counts
    sigma_adc: float
    name: str = "amplitude consistency"

    @classmethod
    def build(cls, cfg: CdmsLfnData, of: OptimalFilter | None = None, *, taps: int = SHORT_OF_TAPS
              ) -> AmplitudeConsistency:  # fmt: skip
        of = OptimalFilter.build(cfg) if of is None else of
        short = OptimalFilter.build(dataclasses.replace(cfg, of_length=taps))
        offset = of.onset - short.onset  # the short OF's first sample in the long OF's window, same onset
        if offset < 0 or offset + taps > len(of.kernel):
            raise CardError(f"the {taps}-tap OF does not fit in the {len(of.kernel)}-tap OF's window at its onset")
        diff = -of.kernel.copy()
        diff[offset : offset + taps] += short.kernel
        sigma = float(np.sqrt(diff @ _covariance(cfg, len(diff)) @ diff))
        return cls(of=of, short=short, difference=diff, sigma_adc=sigma)

    def amplitudes(self, adc: np.ndarray, peak_sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The long and the short OF's amplitudes (sigma_E of the long OF) for the onset the long OF found."""
        w = of_windows(adc, peak_sample, len(self.of.kernel))
        long = w @ self.of.kernel
        return long / self.of.resolution, (long + w @ self.difference) / self.of.resolution

    def statistic(self, adc: np.ndarray, peak_sample: np.ndarray) -> np.ndarray:
        return -(of_windows(adc, peak_sample, len(self.of.kernel)) @ self.difference) / self.sigma_adc


@dataclass(frozen=True, kw_only=True)
class OfChi2:
    """``r^T C^-1 r / taps`` of the OF's fit over its own window (module docstring)."""

    of: OptimalFilter
    template: np.ndarray  # (taps,) unit-peak pulse at the OF's onset
    whitener: np.ndarray  # (taps, taps) L^-1, L the Cholesky factor of the noise covariance
    name: str = "OF chi2"

    @classmethod
    def build(cls, cfg: CdmsLfnData, of: OptimalFilter | None = None) -> OfChi2:
        from scipy.linalg import cholesky, solve_triangular

        of = OptimalFilter.build(cfg) if of is None else of
        taps = len(of.kernel)
        lower = cholesky(_covariance(cfg, taps), lower=True)
        whitener = solve_triangular(lower, np.eye(taps), lower=True)
        return cls(of=of, template=pulse_template(cfg, taps, of.onset), whitener=whitener)

    def statistic(self, adc: np.ndarray, peak_sample: np.ndarray) -> np.ndarray:
        w = of_windows(adc, peak_sample, len(self.of.kernel))
        residual = w - (w @ self.of.kernel)[:, None] * self.template[None, :]
        return np.sum((residual @ self.whitener.T) ** 2, axis=1) / len(self.template)


@dataclass(frozen=True, kw_only=True)
class ScoreVeto:
    """The hook for a network (or any scorer): ``score(adc, peak_sample)``, higher = more signal-like.

    Its statistic is ``-score``, so "passes if the statistic is at most the cut" is "score >= -cut".
    """

    name: str
    score: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def statistic(self, adc: np.ndarray, peak_sample: np.ndarray) -> np.ndarray:
        return -np.asarray(self.score(adc, peak_sample), dtype=np.float64)


def classical_vetoes(cfg: CdmsLfnData, of: OptimalFilter | None = None) -> tuple[Veto, ...]:
    """The two classical pulse-shape vetoes of the module docstring."""
    of = OptimalFilter.build(cfg) if of is None else of
    return AmplitudeConsistency.build(cfg, of), OfChi2.build(cfg, of)


# -- the scan: every threshold's candidates on the same streams ------------------------------------------------------


def measurement_stream(data: CdmsLfnData, *, seconds: float, lfn_rate_hz: float = 1.0, seed: int = 0,
                       signal_rate_hz: float = INJECTION_RATE_HZ) -> StreamConfig:  # fmt: skip
    """A stream for thresholds and turn-ons: LFN at ``lfn_rate_hz``, pulses injected at ``signal_rate_hz``."""
    return StreamConfig(data=data, seconds=seconds, signal_rate_hz=signal_rate_hz, lfn_rate_hz=lfn_rate_hz,
                        energy_range_sigma=INJECTION_ENERGY_SIGMA, seed=seed)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Scan:
    """The candidates of every grid threshold on the same streams, with their truth and veto statistics."""

    config: StreamConfig  # the first segment's; segment i has seed config.seed + i
    segments: int
    thresholds_sigma: np.ndarray  # (n_t,)
    veto_names: tuple[str, ...]
    threshold_index: np.ndarray  # (n,) int: which threshold each candidate is of
    kind: np.ndarray  # (n,) int8 EventKind of the candidate's match
    pulse: np.ndarray  # (n,) int: the injected pulse it is matched to (index into pulse_*), -1 if none
    episode: np.ndarray  # (n,) int: the LFN episode it is matched to (numbered over all segments), -1 if none
    peak_sigma: np.ndarray  # (n,)
    statistic: np.ndarray  # (n, n_veto)
    segment: np.ndarray  # (n,) int32: the stream segment the candidate is in
    peak_sample: np.ndarray  # (n,) int64: its peak sample in that segment (where the network's window is cut)
    window: np.ndarray  # (n,) int64: its distinct (segment, peak sample), numbered in order: a row of ``windows``
    pulse_energy: np.ndarray  # (n_pulses,) sigma_E
    pulse_isolated: np.ndarray  # (n_pulses,) bool: no other pulse within ISOLATION_MS
    seconds: float  # stream time after the OF settled
    noise_seconds: float  # of which outside every truth window (``AccidentalRates.noise``)
    rice_hz: np.ndarray  # (n_t,) Rice's noise rate of the OF output at each threshold (cross-check only)
    windows: np.ndarray | None = None  # (n_windows, window) the network's input at each distinct peak, if kept

    #: fields stored as arrays by ``arrays`` (the rest: the stream config, rebuilt from the card)
    STORED: ClassVar[tuple[str, ...]] = (
        "thresholds_sigma", "threshold_index", "kind", "pulse", "episode", "peak_sigma", "statistic", "segment",
        "peak_sample", "window", "pulse_energy", "pulse_isolated", "rice_hz",
    )  # fmt: skip

    def arrays(self) -> dict[str, np.ndarray]:
        """The scan as named arrays (without the windows), for a file; ``from_arrays`` reads them back."""
        out = {k: np.asarray(getattr(self, k)) for k in self.STORED}
        out["veto_names"] = np.array(self.veto_names, dtype="S")
        out["seconds"] = np.array([self.seconds, self.noise_seconds, self.segments], dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, config: StreamConfig, arrays: dict[str, np.ndarray]) -> Scan:
        seconds, noise_seconds, segments = (float(v) for v in arrays["seconds"])
        names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in arrays["veto_names"])
        return cls(config=config, segments=int(segments), seconds=seconds, noise_seconds=noise_seconds,
                   veto_names=names, **{k: np.asarray(arrays[k]) for k in cls.STORED})  # fmt: skip

    def with_veto(self, name: str, statistic: np.ndarray) -> Scan:
        """This scan with one more veto column (one statistic per candidate row, at most the cut passes)."""
        if name in self.veto_names:
            raise ValueError(f"the scan already has a veto {name!r}")
        column = np.asarray(statistic, dtype=np.float64).reshape(-1, 1)
        if len(column) != len(self.kind):
            raise ValueError(f"{len(column)} statistics for {len(self.kind)} candidate rows")
        return dataclasses.replace(self, veto_names=(*self.veto_names, name),
                                   statistic=np.concatenate([self.statistic, column], axis=1))  # fmt: skip

    @cached_property
    def _bounds(self) -> np.ndarray:
        """Row offsets of each threshold's candidates (``scan_streams`` sorts the rows by threshold)."""
        if np.any(np.diff(self.threshold_index) < 0):
            raise ValueError("the scan's rows are not sorted by threshold")
        return np.searchsorted(self.threshold_index, np.arange(len(self.thresholds_sigma) + 1))

    def passing(self, t: int, veto: str | None = None, cut: float = np.inf) -> np.ndarray:
        """Row indices of the candidates of threshold ``t`` that pass ``veto`` at ``cut`` (all for OF alone)."""
        lo, hi = self._bounds[t], self._bounds[t + 1]
        if veto is None:
            return np.arange(lo, hi)
        return lo + np.flatnonzero(self.statistic[lo:hi, self._veto(veto)] <= cut)

    def rates(self, t: int, veto: str | None = None, cut: float = np.inf) -> tuple[Rate, Rate]:
        """Noise and LFN accidental rates at threshold ``t`` after the veto."""
        kind = self.kind[self.passing(t, veto, cut)]
        return (Rate(int(np.sum(kind == EventKind.NOISE)), self.noise_seconds),
                Rate(int(np.sum(kind == EventKind.LFN)), self.seconds))  # fmt: skip

    def lfn_clusters(self, t: int, veto: str | None = None, cut: float = np.inf) -> np.ndarray:
        """How many passing LFN candidates each LFN episode made (episodes with none left out)."""
        ok = self.passing(t, veto, cut)
        return np.unique(self.episode[ok[self.kind[ok] == EventKind.LFN]], return_counts=True)[1]

    def effective_count(self, t: int, veto: str | None = None, cut: float = np.inf) -> float:
        """The total count's equivalent number of independent events, ``n^2 / var``.

        An LFN episode makes several candidates (one per excursion of its carrier above threshold), so
        the LFN count is compound Poisson: its variance is the sum over episodes of their count squared.
        Noise candidates are independent (``stream.py``: the hold merges the ripple's clusters).
        """
        noise, lfn = self.rates(t, veto, cut)
        var = noise.count + float(np.sum(self.lfn_clusters(t, veto, cut) ** 2.0))
        count = noise.count + lfn.count
        return 0.0 if count == 0 else count**2 / var

    def total_hz(self, t: int, veto: str | None = None, cut: float = np.inf, *, bound: Bound = "central") -> float:
        """Noise + LFN accidental rate; ``bound`` "lower" / "upper": the ends of its 68 % interval.

        The interval is Garwood's for the effective count (``effective_count``), scaled to the rate.
        """
        noise, lfn = self.rates(t, veto, cut)
        total = noise.hz + lfn.hz
        if bound == "central":
            return total
        n_eff = self.effective_count(t, veto, cut)
        end = 0 if bound == "lower" else 1
        if n_eff == 0:
            return poisson_interval(0)[end] / self.seconds
        return total * poisson_interval(n_eff)[end] / n_eff

    def found(self, t: int, veto: str | None = None, cut: float = np.inf) -> np.ndarray:
        """Per injected pulse: found by a candidate of threshold ``t`` that passes."""
        pulse = self.pulse[self.passing(t, veto, cut)]
        out = np.zeros(len(self.pulse_energy), dtype=bool)
        out[pulse[pulse >= 0]] = True
        return out

    def veto_statistic_of_pulses(self, t: int, veto: str) -> tuple[np.ndarray, np.ndarray]:
        """(pulse index, statistic) of the candidates of threshold ``t`` matched to isolated pulses."""
        ok = self.passing(t)
        ok = ok[self.pulse[ok] >= 0]
        ok = ok[self.pulse_isolated[self.pulse[ok]]]
        return self.pulse[ok], self.statistic[ok, self._veto(veto)]

    def _veto(self, name: str) -> int:
        if name not in self.veto_names:
            raise KeyError(
                f"no veto {name!r} in this scan; it has {', '.join(map(repr, self.veto_names))} "
                "(pass the veto to scan_streams)"
            )
        return self.veto_names.index(name)


def scan_streams(config: StreamConfig, thresholds_sigma: Sequence[float], vetoes: Sequence[Veto] = (), *,
                 segments: int = 1, chain: Chain | None = None, keep_windows: bool = False,
                 progress: Callable[[int, int], None] | None = None) -> Scan:  # fmt: skip
    """Make ``segments`` streams (``stream.stream_segment``), run the chain, keep every threshold's candidates.

    The OF words, thresholds and candidates are the FPGA's (``chain.Chain``, default: the card's);
    the veto statistics are computed once per distinct peak sample. ``keep_windows``: the network's
    inputs at each distinct peak (``Chain.network_inputs``) are kept in ``Scan.windows``, and ``Scan.window``
    points every candidate row at its own. One stream is in memory at a time (a 20 s segment: ~50 MB
    of ADC, 100 MB of OF words). ``progress(done, segments)`` after each segment.
    """
    thresholds = np.sort(np.asarray(thresholds_sigma, dtype=np.float64))
    if len(thresholds) == 0 or segments < 1:
        raise ValueError("scan_streams needs at least one threshold and one segment")
    cfg = config.data
    chain = Chain.build(cfg) if chain is None else chain
    of = chain.of
    isolation = ISOLATION_MS * 1e-3 * cfg.sample_rate_hz
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("t", "kind", "pulse", "episode", "peak", "stat", "segment", "sample", "window")
    }
    windows: list[np.ndarray] = []
    n_windows = 0
    energies, isolated = [], []
    seconds = noise_seconds = 0.0
    n_pulses = n_truth = 0
    for seg in range(segments):
        stream = stream_segment(config, seg)
        truth = stream.truth
        y = chain.fir.output(stream.adc)
        sig = truth.efficiency_pulses
        every = np.sort(truth.sample[truth.kind == EventKind.SIGNAL])  # a recording's own pulses pile up too
        at = np.searchsorted(every, truth.sample[sig])
        before = every[np.maximum(at - 1, 0)]
        after = every[np.minimum(at + 1, len(every) - 1)]
        alone = ((at == 0) | (truth.sample[sig] - before > isolation)) & (
            (at + 1 >= len(every)) | (after - truth.sample[sig] > isolation)
        )
        pulse_of_truth = np.full(len(truth.sample), -1, dtype=np.int64)
        pulse_of_truth[sig] = n_pulses + np.arange(len(sig))
        episode_of_truth = n_truth + np.arange(len(truth.sample))
        n_truth += len(truth.sample)
        energies.append(truth.energy_sigma[sig])
        isolated.append(alone)
        n_pulses += len(sig)

        base = accidental_rates(stream, chain.candidates(y, thresholds[0]), of)
        seconds += base.lfn.seconds
        noise_seconds += base.noise.seconds
        peaks = []
        above = chain.above(y, thresholds[0])
        for t, threshold in enumerate(thresholds):
            cand = chain.candidates(y, float(threshold), above=above)
            matched = match(cand, truth, of)
            is_sig = matched.kind == EventKind.SIGNAL
            cols["t"].append(np.full(len(cand), t))
            cols["kind"].append(matched.kind)
            cols["pulse"].append(np.where(is_sig, pulse_of_truth[np.maximum(matched.truth_index, 0)], -1))
            is_lfn = matched.kind == EventKind.LFN
            cols["episode"].append(np.where(is_lfn, episode_of_truth[np.maximum(matched.truth_index, 0)], -1))
            cols["peak"].append(cand.peak_sigma)
            cols["segment"].append(np.full(len(cand), seg))
            cols["sample"].append(cand.peak_sample)
            peaks.append(cand.peak_sample)
        distinct, where = np.unique(np.concatenate(peaks), return_inverse=True)
        stats = [v.statistic(stream.adc, distinct)[where] for v in vetoes]
        cols["stat"].append(np.stack(stats, axis=1) if stats else np.zeros((len(where), 0)))
        cols["window"].append(n_windows + where)
        n_windows += len(distinct)
        if keep_windows:
            windows.append(chain.network_inputs(stream.adc, y, distinct))
        del stream, y
        if progress is not None:
            progress(seg + 1, segments)

    freqs, psd = of_output_psd(cfg, fir=chain.fir.sigma(chain.fir.coefficients))
    rows = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.argsort(rows["t"], kind="stable")  # each threshold's rows together (``Scan.passing``)
    rows = {k: v[order] for k, v in rows.items()}
    return Scan(
        config=config,
        segments=segments,
        thresholds_sigma=thresholds,
        veto_names=tuple(v.name for v in vetoes),
        threshold_index=rows["t"],
        kind=rows["kind"].astype(np.int8),
        pulse=rows["pulse"],
        episode=rows["episode"],
        peak_sigma=rows["peak"],
        statistic=rows["stat"],
        segment=rows["segment"].astype(np.int32),
        peak_sample=rows["sample"].astype(np.int64),
        window=rows["window"].astype(np.int64),
        windows=np.concatenate(windows) if keep_windows else None,
        pulse_energy=np.concatenate(energies),
        pulse_isolated=np.concatenate(isolated),
        seconds=seconds,
        noise_seconds=noise_seconds,
        rice_hz=np.asarray(rice_rate(thresholds, psd, freqs)),
    )


# -- thresholds, cuts and turn-ons --------------------------------------------------------------------------------


def lowest_threshold(scan: Scan, budget_hz: float, veto: str | None = None, cut: float = np.inf, *,
                     bound: Bound = "central") -> int | None:  # fmt: skip
    """Index of the lowest grid threshold from which on every grid threshold's accidental rate is within budget.

    ``bound="upper"`` (``"lower"``) uses the upper (lower) end of each rate's 68 % interval: the
    threshold's statistical range (the rate's count, not the turn-on's).
    """
    if budget_hz <= 0:
        raise ValueError(f"the accidental-rate budget must be positive, got {budget_hz} Hz")
    over = [scan.total_hz(t, veto, cut, bound=bound) > budget_hz for t in range(len(scan.thresholds_sigma))]
    if over[-1]:
        return None
    above = np.flatnonzero(over)
    return 0 if len(above) == 0 else int(above[-1]) + 1


@dataclass(frozen=True, kw_only=True)
class Efficiency:
    """The turn-on at one (threshold, cut): the fit, E50, E99 (or why not) and the high-energy pass fraction."""

    turn_on: TurnOn
    e50_sigma: float
    e99_sigma: float | None
    e99_why: str
    pulses: int  # isolated pulses the fit used
    plateau_pass: float  # of isolated pulses with E >= T + PLATEAU_ABOVE_SIGMA, the fraction found and passing
    plateau_pulses: int
    e50_error_sigma: float = float("nan")  # bootstrap over the pulses (``turn_on(bootstrap=...)``); NaN if not run


def energy_at(curve: TurnOn, efficiency: float) -> float | None:
    """The energy at which the fitted turn-on reaches ``efficiency``; None if its plateau stays below it."""
    from scipy.special import erfinv

    if curve.plateau <= efficiency:
        return None
    return float(curve.mu + np.sqrt(2) * curve.width * erfinv(2 * efficiency / curve.plateau - 1))


def turn_on(scan: Scan, t: int, veto: str | None = None, cut: float = np.inf, *, bootstrap: int = 0) -> Efficiency:
    """Fit the efficiency of the isolated injected pulses at threshold ``t`` (and veto cut) with ``TurnOn``.

    ``bootstrap`` > 0 refits that many resamples of the pulses for E50's statistical error.
    """
    threshold = float(scan.thresholds_sigma[t])
    found = scan.found(t, veto, cut)[scan.pulse_isolated]
    energy = scan.pulse_energy[scan.pulse_isolated]
    if len(energy) < 20:
        raise ValueError(f"only {len(energy)} isolated pulses in the scan: lengthen the stream")
    curve = TurnOn.fit(energy, found, guess=threshold)
    high = energy >= threshold + PLATEAU_ABOVE_SIGMA
    e99 = energy_at(curve, 0.99)
    why = "" if e99 is not None else f"the fitted plateau is {curve.plateau:.3f} < 0.99"
    if e99 is not None and e99 > energy.max():
        e99, why = None, f"beyond the injected energies (fit: {e99:.2f} > {energy.max():.2f} sigma_E)"
    error = float("nan")
    if bootstrap > 0:
        rng = np.random.default_rng(0)
        idx = (rng.integers(0, len(energy), size=len(energy)) for _ in range(bootstrap))
        error = float(np.std([TurnOn.fit(energy[i], found[i], guess=threshold).e50 for i in idx]))
    return Efficiency(turn_on=curve, e50_sigma=curve.e50, e99_sigma=e99, e99_why=why, pulses=int(len(energy)),
                      plateau_pass=float(found[high].mean()) if high.any() else float("nan"),
                      plateau_pulses=int(high.sum()), e50_error_sigma=error)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class OperatingPoint:
    """One trigger at one budget: its threshold (and cut), accidental rates, and turn-on there."""

    trigger: str  # OF_ALONE or "OF + <veto name>"
    veto: str | None
    budget_hz: float
    threshold_sigma: float
    cut: float | None  # the veto statistic's cut (None for OF alone)
    keep_fraction: float  # the share of high-energy pulses the cut keeps (1 for OF alone)
    noise: Rate
    lfn: Rate
    threshold_range_sigma: tuple[float | None, float | None]  # (low, high): at the rates' 68 % interval ends
    lfn_episodes: int  # distinct LFN episodes behind the LFN count (it is compound Poisson)
    effective_count: float  # the total count's equivalent independent events (``Scan.effective_count``)
    rice_noise_hz: float  # Rice's formula for the OF output's upward crossings at the threshold (no veto)
    efficiency: Efficiency

    @property
    def total_hz(self) -> float:
        return self.noise.hz + self.lfn.hz

    @property
    def total(self) -> Rate:
        """The total count as one rate (over the whole stream time: the noise time is within 1 % of it)."""
        return Rate(self.noise.count + self.lfn.count, self.lfn.seconds)

    @property
    def e50_sigma(self) -> float:
        return self.efficiency.e50_sigma

    @property
    def e99_sigma(self) -> float | None:
        return self.efficiency.e99_sigma


class OverBudget(TriggerNNError, ValueError):
    """No grid threshold keeps the trigger within the budget: raise the grid's top."""


def loses_too_many(eff: Efficiency, floor: float, *, p_value: float = 0.05) -> bool:
    """Whether the high-energy pulses lost are too many for a pass probability of ``floor`` (binomial, one-sided).

    A cut chosen to keep 99.5 % of a few hundred pulses loses a handful; the measured fraction scatters
    around 0.995 by ~0.4 %, so comparing it with the floor directly would refuse good cuts at random.
    """
    from scipy.stats import binom

    lost = round((1.0 - eff.plateau_pass) * eff.plateau_pulses)
    return eff.plateau_pulses > 0 and float(binom.sf(lost - 1, eff.plateau_pulses, 1.0 - floor)) < p_value


def operating_point(scan: Scan, budget_hz: float, veto: str | None = None, *,
                    min_plateau_efficiency: float | None = None, bootstrap: int = 0) -> OperatingPoint:  # fmt: skip
    """The lowest threshold within ``budget_hz`` (OF alone), or the (threshold, cut) with the lowest E50 (veto).

    Cuts come from the veto statistic's quantiles on isolated pulses far above the lowest grid
    threshold, keeping ``KEEP_FRACTIONS`` of them from ``min_plateau_efficiency`` (default: the card's) up,
    and on isolated pulses of every energy found there (``ALL_PULSE_KEEP_FRACTIONS``: looser cuts, for a
    statistic that is less sure of small pulses); ``keep_fraction`` is the share of high-energy pulses
    the cut keeps there;
    a pair whose measured high-energy pass fraction is below ``min_plateau_efficiency`` beyond its
    statistics is refused (``loses_too_many``).
    ``threshold_range_sigma``: the thresholds the same search gives with the lower and the upper end of
    each rate's 68 % interval (None where the grid has none). ``bootstrap``: E50's error (``turn_on``).
    """
    floor = scan.config.data.min_plateau_efficiency if min_plateau_efficiency is None else min_plateau_efficiency
    name = OF_ALONE if veto is None else f"OF + {veto}"
    if veto is None:
        choices = [(1.0, None)]
    else:
        pulse, stat = scan.veto_statistic_of_pulses(0, veto)
        high = scan.pulse_energy[pulse] >= scan.thresholds_sigma[0] + PLATEAU_ABOVE_SIGMA
        if high.sum() < 20:
            raise ValueError(f"only {high.sum()} high-energy pulses to set the {veto} cut on: lengthen the stream")
        keeps = [k for k in KEEP_FRACTIONS if k >= floor - 1e-12] or [max(KEEP_FRACTIONS)]
        cuts = {float(np.quantile(stat[high], k)) for k in keeps}
        # looser cuts too: a score that is less sure of small pulses needs a cut set on pulses of every energy
        cuts |= {float(np.quantile(stat, k)) for k in ALL_PULSE_KEEP_FRACTIONS}
        choices = [(float(np.mean(stat[high] <= c)), c) for c in sorted(cuts)]

    best: OperatingPoint | None = None
    refused = 0
    for keep, cut in choices:
        c = np.inf if cut is None else cut
        t = lowest_threshold(scan, budget_hz, veto, c)
        if t is None:
            continue
        eff = turn_on(scan, t, veto, c)
        if veto is not None and loses_too_many(eff, floor):
            refused += 1
            continue
        noise, lfn = scan.rates(t, veto, c)
        ends = (lowest_threshold(scan, budget_hz, veto, c, bound=b) for b in ("lower", "upper"))
        point = OperatingPoint(trigger=name, veto=veto, budget_hz=budget_hz,
                               threshold_sigma=float(scan.thresholds_sigma[t]), cut=cut, keep_fraction=keep,
                               noise=noise, lfn=lfn, rice_noise_hz=float(scan.rice_hz[t]), efficiency=eff,
                               lfn_episodes=len(scan.lfn_clusters(t, veto, c)),
                               effective_count=scan.effective_count(t, veto, c),
                               threshold_range_sigma=tuple(None if e is None else float(scan.thresholds_sigma[e])
                                                           for e in ends))  # fmt: skip
        if best is None or point.e50_sigma < best.e50_sigma:
            best = point
    if best is not None and bootstrap > 0:
        t = list(scan.thresholds_sigma).index(best.threshold_sigma)
        c = np.inf if best.cut is None else best.cut
        best = dataclasses.replace(best, efficiency=turn_on(scan, t, veto, c, bootstrap=bootstrap))
    if best is None and refused:
        raise OverBudget(
            f"{name}: every cut within the budget loses more than {1 - floor:.2%} of the pulses far "
            "above threshold (min_plateau_efficiency); lengthen the stream for more of them or lower it"
        )
    if best is None:
        top = scan.thresholds_sigma[-1]
        raise OverBudget(f"{name}: the accidental rate at the grid's top threshold ({top:g} sigma_E) is above "
                         f"{budget_hz:g} Hz; extend the threshold grid")  # fmt: skip
    return best


def best_classical(points: Sequence[OperatingPoint]) -> OperatingPoint:
    """The point with the lowest E50 (at equal budget): the classical trigger the NN is compared to."""
    return min(points, key=lambda p: p.e50_sigma)


def all_points(scan: Scan, budget_hz: float, *, min_plateau_efficiency: float | None = None, bootstrap: int = 0
               ) -> list[OperatingPoint]:  # fmt: skip
    """OF alone and OF + each veto of the scan at ``budget_hz``."""
    return [operating_point(scan, budget_hz, v, min_plateau_efficiency=min_plateau_efficiency, bootstrap=bootstrap)
            for v in (None, *scan.veto_names)]  # fmt: skip


# -- what the headline depends on ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LfnRow:
    """One LFN model: its parameters, OF alone and the best classical trigger at the budget."""

    lfn_rate_hz: float
    lfn_of_scale_sigma: float
    lfn_band_hz: tuple[float, float]
    of_alone: OperatingPoint
    best: OperatingPoint  # the lowest-E50 trigger among OF + each veto (and OF alone)
    points: tuple[OperatingPoint, ...]  # every trigger measured (the NN's too, when its veto is given)


def lfn_dependence(data: CdmsLfnData, *, budget_hz: float | None = None,
                   lfn_rates_hz: Sequence[float] = (1.0,), scales_sigma: Sequence[float] | None = None,
                   bands_hz: Sequence[tuple[float, float]] | None = None, thresholds_sigma: Sequence[float],
                   seconds: float, segments: int = 1, seed: int = 0, bootstrap: int = 0,
                   min_plateau_efficiency: float | None = None,
                   vetoes_for: Callable[[CdmsLfnData], Sequence[Veto]] = classical_vetoes) -> list[LfnRow]:  # fmt: skip
    """OF alone and the best classical trigger's E50 at ``budget_hz`` for every combination of LFN parameters.

    The card's ``lfn_of_scale_sigma`` and ``lfn_band_hz`` are varied with ``dataclasses.replace``, the
    episode rate on the stream. The same seeds for every row, so rows differ by the LFN alone.
    ``vetoes_for`` gives each row's vetoes (the NN column: add a ``ScoreVeto`` trained for that row's
    data); ``best`` is taken among all of them. ``bootstrap``: E50 errors (``turn_on``).
    """
    budget = data.accidental_budget_hz if budget_hz is None else budget_hz
    scales = (data.lfn_of_scale_sigma,) if scales_sigma is None else tuple(scales_sigma)
    bands = (data.lfn_band_hz,) if bands_hz is None else tuple(tuple(b) for b in bands_hz)
    rows = []
    for rate in lfn_rates_hz:
        for scale in scales:
            for band in bands:
                d = dataclasses.replace(data, lfn_of_scale_sigma=float(scale), lfn_band_hz=band)
                d.validate("lfn_dependence")
                config = measurement_stream(d, seconds=seconds, lfn_rate_hz=float(rate), seed=seed)
                scan = scan_streams(config, thresholds_sigma, vetoes_for(d), segments=segments)
                points = tuple(
                    all_points(scan, budget, min_plateau_efficiency=min_plateau_efficiency, bootstrap=bootstrap)
                )
                rows.append(LfnRow(lfn_rate_hz=float(rate), lfn_of_scale_sigma=float(scale), lfn_band_hz=band,
                                   of_alone=points[0], best=best_classical(points), points=points))  # fmt: skip
    return rows


def format_point(p: OperatingPoint) -> str:
    """One line: threshold, cut, rates with counts, E50, E99."""
    cut = "" if p.cut is None else f", cut {p.cut:.3g} (keeps {p.keep_fraction:.1%})"
    e99 = f"{p.e99_sigma:.2f}" if p.e99_sigma is not None else f"None ({p.efficiency.e99_why})"
    lo, hi = (f"{x:.2f}" if x is not None else "?" for x in p.threshold_range_sigma)
    err = "" if np.isnan(p.efficiency.e50_error_sigma) else f" +- {p.efficiency.e50_error_sigma:.2f}"
    return (f"{p.trigger}: T = {p.threshold_sigma:.2f} sigma_E [{lo}, {hi}]{cut}; noise {p.noise}; "
            f"LFN {p.lfn} from {p.lfn_episodes} episodes; "
            f"total {p.total_hz:.3g} Hz (effective count {p.effective_count:.0f}), "
            f"Rice for the OF's noise: {p.rice_noise_hz:.3g} Hz; E50 = {p.e50_sigma:.2f}{err}, "
            f"E99 = {e99}, plateau {p.efficiency.turn_on.plateau:.3f}, "
            f"high-E pass {p.efficiency.plateau_pass:.3f}")  # fmt: skip
