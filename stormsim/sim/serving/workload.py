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

import codecs
import csv
import json
import math
import stat
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
    found = repr(header)
    found = found if len(found) <= 120 else f"{found[:116]}...]"
    raise _trace_error(path, f"no {what} column (looked for {', '.join(names)}; found {found})", 1)


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


MAX_TRACE_BYTES = 4 * 2**30
"""Largest trace file read (bytes); rows past ``max_requests`` are never read."""


def _trace_error(path: Path, msg: str, line: int | None = None) -> InputError:
    where = f"{path}, line {line}" if line is not None else str(path)
    return InputError(Problem("workload.arrival.path", f"{where}: {msg}"))


def _bad_utf8(path: Path) -> tuple[int, int] | None:
    """(byte offset, line) of the first bytes of ``path`` that are not UTF-8, or None."""
    carry, base, newlines = b"", 0, 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            data = carry + chunk
            try:
                _, used = codecs.utf_8_decode(data, "strict", not chunk)
            except UnicodeDecodeError as e:
                return base + e.start, newlines + data.count(b"\n", 0, e.start) + 1
            newlines += data.count(b"\n", 0, used)
            base += used
            carry = data[used:]
            if not chunk:
                return None


def _tokens(v: object, path: Path, line: int, what: str) -> int:
    try:
        x = float(v) if not isinstance(v, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _trace_error(path, f"{what} {v!r} is not a number", line) from None
    if not math.isfinite(x) or x < 0 or x > 10**9:
        raise _trace_error(path, f"{what} {v!r} is not a token count in [0, 1e9]", line)
    return int(x)


def _instant(v: object, path: Path, line: int, scale: float = 1.0) -> float:
    try:
        x = float(v) / scale if not isinstance(v, bool) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        try:
            text = str(v).strip()
            if "." in text:  # datetime.fromisoformat takes at most 6 fractional digits
                head, frac = text.rsplit(".", 1)
                text = f"{head}.{frac[:6]}"
            x = datetime.fromisoformat(text).timestamp()
        except (TypeError, ValueError, OverflowError):
            raise _trace_error(
                path, f"arrival time {v!r} is neither seconds nor ISO", line
            ) from None
    if not math.isfinite(x):
        raise _trace_error(path, f"arrival time {v!r} is not finite", line)
    return x


def load_trace(a: TraceArrival) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival times (s, first at ``offset_s``, scaled), prompt and output tokens of a trace,
    in arrival order (a stable sort; the files shipped with the traces are already sorted).

    Reads a regular file only (no FIFO, device or directory), at most :data:`MAX_TRACE_BYTES`,
    row by row, stopping after ``max_requests`` rows. A malformed row is an
    :class:`InputError` naming the file and line."""
    path = Path(a.path)
    fmt = a.format or ("jsonl" if path.suffix.lower() in (".jsonl", ".json") else "csv")
    try:
        st = path.stat()
    except OSError as e:
        raise _trace_error(path, f"cannot read trace: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _trace_error(path, "not a regular file")
    if st.st_size > MAX_TRACE_BYTES:
        raise _trace_error(path, f"larger than {MAX_TRACE_BYTES / 2**30:g} GiB")
    limit = a.max_requests
    ts: list[float] = []
    ps: list[int] = []
    os_: list[int] = []
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as e:
        raise _trace_error(path, f"cannot read trace: {e.strerror or e}") from None
    try:
        with fh:
            if fmt == "csv":
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    raise _trace_error(path, "empty trace (no header row)", 1)
                it = _find(header, TIME_COLUMNS, path, "arrival time")
                ip = _find(header, PROMPT_COLUMNS, path, "prompt tokens")
                io = _find(header, OUTPUT_COLUMNS, path, "output tokens")
                need = max(it, ip, io)
                for r in reader:
                    if limit is not None and len(ts) >= limit:
                        break
                    if not r:
                        continue
                    line = reader.line_num
                    if len(r) <= need:
                        raise _trace_error(path, f"{len(r)} fields, need {need + 1}", line)
                    ts.append(_instant(r[it], path, line))
                    ps.append(_tokens(r[ip], path, line, "prompt tokens"))
                    os_.append(_tokens(r[io], path, line, "output tokens"))
            else:
                for line, text in enumerate(fh, 1):
                    if limit is not None and len(ts) >= limit:
                        break
                    if not text.strip():
                        continue
                    try:
                        d = json.loads(text)
                    except ValueError as e:
                        raise _trace_error(path, f"not JSON: {e}", line) from None
                    if not isinstance(d, dict):
                        raise _trace_error(path, "a JSONL row must be an object", line)
                    for k in ("timestamp", "input_length", "output_length"):
                        if k not in d:
                            raise _trace_error(path, f"no {k!r}", line)
                    ts.append(_instant(d["timestamp"], path, line, 1000.0))
                    ps.append(_tokens(d["input_length"], path, line, "input_length"))
                    os_.append(_tokens(d["output_length"], path, line, "output_length"))
    except UnicodeDecodeError as e:
        at = _bad_utf8(path)
        if at is None:  # pragma: no cover - the file changed while it was read
            raise _trace_error(path, f"not UTF-8 text ({e.reason})") from None
        raise _trace_error(path, f"not UTF-8 text ({e.reason} at byte {at[0]})", at[1]) from None
    except csv.Error as e:
        raise _trace_error(path, f"malformed CSV: {e}", reader.line_num) from None
    t = np.asarray(ts, dtype=float)
    p = np.asarray(ps, dtype=np.int64)
    o = np.asarray(os_, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    t, p, o = t[order], p[order], o[order]
    if len(t):
        t = a.offset_s + (t - t[0]) * a.time_scale / a.rate_multiplier
    return t, np.maximum(p, 1), np.maximum(o, 1)
