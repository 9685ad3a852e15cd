"""Request sources: synthetic arrivals and lengths drawn in numpy blocks, or trace replay.

The length distributions themselves are pure code of the performance layer
(:func:`stormsim.perf.lengths.draw_lengths`); arrival processes and trace files are here.

Each stochastic input has its own named stream (:func:`stormsim.sim.rng.stream`):
``workload/arrivals``, ``workload/prompt_tokens``, ``workload/output_tokens``. Lengths are
drawn per request index, independently of the arrival process, so two runs that differ only
in rollout settings (or even in the arrival rate) see the same lengths for request *i*, and
runs that differ only in rollout settings see identical requests.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import numpy as np

from stormsim.errors import InputError, Problem
from stormsim.perf.lengths import draw_lengths
from stormsim.schema.serving import (
    DiurnalArrival,
    GammaArrival,
    PiecewiseArrival,
    PoissonArrival,
    TraceArrival,
    Workload,
)
from stormsim.sim.rng import stream

BLOCK = 4096

TIME_COLUMNS = ("arrived_at", "arrival_time", "arrival_time_s", "timestamp", "time", "t_s")
PROMPT_COLUMNS = (
    "num_prefill_tokens",
    "prompt_tokens",
    "contexttokens",
    "context_tokens",
    "input_length",
    "input_tokens",
)
OUTPUT_COLUMNS = (
    "num_decode_tokens",
    "output_tokens",
    "generatedtokens",
    "generated_tokens",
    "output_length",
)

Block = tuple[list[float], list[int], list[int]]


class _Rate:
    """Instantaneous rate and its maximum for thinning."""

    def __init__(self, a: PiecewiseArrival | DiurnalArrival):
        self.a = a
        if isinstance(a, PiecewiseArrival):
            self.ts = np.array([p[0] for p in a.points], dtype=float)
            self.rs = np.array([p[1] for p in a.points], dtype=float)
            self.max = float(self.rs.max())
        else:
            self.max = a.mean_rps * (1.0 + a.amplitude_frac)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        a = self.a
        if isinstance(a, PiecewiseArrival):
            if a.interpolation == "linear":
                return np.interp(t, self.ts, self.rs)
            idx = np.clip(np.searchsorted(self.ts, t, side="right") - 1, 0, len(self.rs) - 1)
            return self.rs[idx]
        return a.mean_rps * (
            1.0 + a.amplitude_frac * np.sin(2.0 * np.pi * (t + a.phase_s) / a.period_s)
        )


class RequestSource:
    """Blocks of requests in arrival order: ``next_block()`` -> (times, prompts, outputs) or
    ``None`` when exhausted."""

    def __init__(self, wl: Workload, seed: int):
        self.wl = wl
        self.seed = seed
        self.count = 0
        self.done = False
        self._last = wl.start_s
        self._trace: Block | None = None
        a = wl.arrival
        if isinstance(a, TraceArrival):
            t, p, o = load_trace(a)
            t = wl.start_s + t
            self._trace = (t.tolist(), p.tolist(), o.tolist())
        else:
            self._g_arr = stream(seed, "workload/arrivals")
            self._g_prompt = stream(seed, "workload/prompt_tokens")
            self._g_output = stream(seed, "workload/output_tokens")
            self._rate = _Rate(a) if isinstance(a, PiecewiseArrival | DiurnalArrival) else None

    def _times(self) -> np.ndarray:
        a = self.wl.arrival
        g = self._g_arr
        if isinstance(a, PoissonArrival):
            if a.rate_rps <= 0:
                return np.empty(0)
            return self._last + np.cumsum(g.exponential(1.0 / a.rate_rps, BLOCK))
        if isinstance(a, GammaArrival):
            k = 1.0 / (a.cv * a.cv)
            return self._last + np.cumsum(g.gamma(k, 1.0 / (a.rate_rps * k), BLOCK))
        rate = self._rate
        assert rate is not None
        if rate.max <= 0:
            return np.empty(0)
        cand = self._last + np.cumsum(g.exponential(1.0 / rate.max, BLOCK))
        u = g.random(BLOCK)
        self._last = float(cand[-1])
        return cand[u * rate.max < rate(cand)]

    def next_block(self) -> Block | None:
        if self.done:
            return None
        wl = self.wl
        if self._trace is not None:
            t, p, o = self._trace
            self._trace = None
            self.done = True
            n = len(t)
            if wl.max_requests is not None:
                n = min(n, wl.max_requests)
            if wl.stop_s is not None:
                n = int(np.searchsorted(np.asarray(t[:n]), wl.stop_s, side="right"))
            self.count = n
            return (t[:n], p[:n], o[:n])
        times = np.empty(0)
        while True:
            times = self._times()
            if isinstance(wl.arrival, PoissonArrival | GammaArrival):
                if len(times) == 0:
                    self.done = True
                    return None
                self._last = float(times[-1])
            elif len(times) == 0:
                if wl.stop_s is not None and self._last > wl.stop_s:
                    self.done = True
                    return None
                continue
            break
        if wl.stop_s is not None and times[-1] > wl.stop_s:
            times = times[times <= wl.stop_s]
            self.done = True
        if wl.max_requests is not None and self.count + len(times) >= wl.max_requests:
            times = times[: wl.max_requests - self.count]
            self.done = True
        n = len(times)
        if n == 0:
            self.done = True
            return None
        prompts = draw_lengths(wl.prompt, self._g_prompt, n)
        outputs = draw_lengths(wl.output, self._g_output, n)
        self.count += n
        return (times.tolist(), prompts.tolist(), outputs.tolist())


# --------------------------------------------------------------------------- traces


def _find(header: list[str], names: tuple[str, ...], path: Path, what: str) -> int:
    low = [h.strip().lower() for h in header]
    for n in names:
        if n in low:
            return low.index(n)
    raise InputError(
        Problem(
            "workload.arrival.path",
            f"{path}: no {what} column (looked for {', '.join(names)}; found {header})",
        )
    )


def _seconds(values: list[str]) -> np.ndarray:
    try:
        return np.asarray([float(v) for v in values], dtype=float)
    except ValueError:
        pass
    stamps = []
    for v in values:
        v = v.strip()
        if "." in v:  # datetime.fromisoformat takes at most 6 fractional digits
            head, frac = v.rsplit(".", 1)
            v = f"{head}.{frac[:6]}"
        stamps.append(datetime.fromisoformat(v).timestamp())
    return np.asarray(stamps, dtype=float)


def load_trace(a: TraceArrival) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival times (s, first at ``offset_s``, scaled), prompt and output tokens of a trace,
    in arrival order (a stable sort; the files shipped with the traces are already sorted)."""
    path = Path(a.path)
    fmt = a.format or ("jsonl" if path.suffix.lower() in (".jsonl", ".json") else "csv")
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as e:
        raise InputError(Problem("workload.arrival.path", f"cannot read trace {path}: {e}")) from e
    with fh:
        if fmt == "csv":
            rows = list(csv.reader(fh))
            if not rows:
                raise InputError(Problem("workload.arrival.path", f"{path}: empty trace"))
            header, body = rows[0], [r for r in rows[1:] if r]
            it = _find(header, TIME_COLUMNS, path, "arrival time")
            ip = _find(header, PROMPT_COLUMNS, path, "prompt tokens")
            io = _find(header, OUTPUT_COLUMNS, path, "output tokens")
            t = _seconds([r[it] for r in body])
            p = np.asarray([int(float(r[ip])) for r in body], dtype=np.int64)
            o = np.asarray([int(float(r[io])) for r in body], dtype=np.int64)
        else:
            ts, ps, os_ = [], [], []
            for line in fh:
                if not line.strip():
                    continue
                d = json.loads(line)
                ts.append(float(d["timestamp"]) / 1000.0)
                ps.append(int(d["input_length"]))
                os_.append(int(d["output_length"]))
            t = np.asarray(ts, dtype=float)
            p = np.asarray(ps, dtype=np.int64)
            o = np.asarray(os_, dtype=np.int64)
    if a.max_requests is not None:
        t, p, o = t[: a.max_requests], p[: a.max_requests], o[: a.max_requests]
    order = np.argsort(t, kind="stable")
    t, p, o = t[order], p[order], o[order]
    if len(t):
        t = a.offset_s + (t - t[0]) * a.time_scale / a.rate_multiplier
    return t, np.maximum(p, 1), np.maximum(o, 1)
