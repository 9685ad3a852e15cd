"""Request records -> the ``requests`` and ``request_series`` frames and request KPIs.

Definitions (the KPIs' own are in :mod:`stormsim.metrics.catalogue`):

* a request's outcome is ``completed``, ``failed`` (with ``fail_reason``) or ``in_flight``
  at the end of the run;
* TTFT = first token − arrival; TPOT = (end − first token) / (output tokens − 1);
  E2E = end − arrival; a request meets its SLO when it completed with TTFT <= ``slo.ttft_s``
  and TPOT <= ``slo.tpot_s`` (TPOT is not checked for one-token outputs);
* KPIs are computed over the requests that *arrived* in the scope (whole run, or the update
  window for the ``window_`` keys), so arrived = completed + failed + in flight;
  percentiles over the completed ones; ``slo_attainment_frac`` = met ÷ (completed + failed);
  ``goodput_rps`` = met ÷ scope length (whole run: from the first arrival);
  ``request_availability_frac`` = met ÷ arrived in the window.
"""

from __future__ import annotations

import math
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from stormsim.metrics.catalogue import REQUEST, REQUEST_BASE, WINDOW_PREFIX
from stormsim.schema.serving import Slo

REQUEST_COLUMNS = (
    "request",
    "arrived_at_s",
    "prompt_tokens",
    "output_tokens",
    "roleset",
    "prefill_pod",
    "decode_pod",
    "prefill_revision",
    "decode_revision",
    "mixed_version",
    "retries",
    "routed_at_s",
    "prefill_started_at_s",
    "prefill_ended_at_s",
    "transfer_started_at_s",
    "transfer_ended_at_s",
    "decode_started_at_s",
    "first_token_at_s",
    "ended_at_s",
    "queue_s",
    "prefill_queue_s",
    "prefill_s",
    "decode_queue_s",
    "transfer_s",
    "decode_s",
    "ttft_s",
    "tpot_s",
    "e2e_s",
    "outcome",
    "fail_reason",
    "slo_met",
)

_ATTRS = (
    ("request", "id", "int64"),
    ("arrived_at_s", "arrived_at", "float64"),
    ("prompt_tokens", "prompt", "int64"),
    ("output_tokens", "output", "int64"),
    ("roleset", "roleset", None),
    ("prefill_pod", "prefill_pod", None),
    ("decode_pod", "decode_pod", None),
    ("prefill_revision", "prefill_rev", None),
    ("decode_revision", "decode_rev", None),
    ("mixed_version", "mixed", "bool"),
    ("retries", "retries", "int64"),
    ("routed_at_s", "routed_at", "float64"),
    ("prefill_started_at_s", "prefill_start", "float64"),
    ("prefill_ended_at_s", "prefill_end", "float64"),
    ("transfer_started_at_s", "transfer_start", "float64"),
    ("transfer_ended_at_s", "transfer_end", "float64"),
    ("decode_started_at_s", "decode_start", "float64"),
    ("first_token_at_s", "first_token", "float64"),
    ("ended_at_s", "ended_at", "float64"),
    ("outcome", "outcome", None),
    ("fail_reason", "reason", None),
)

SERIES_COLUMNS = (
    "t_s",
    "arrived",
    "completed",
    "failed",
    "throughput_rps",
    "goodput_rps",
    "slo_attainment_frac",
    "ttft_p50_s",
    "ttft_p99_s",
    "tpot_p50_s",
    "tpot_p99_s",
    "in_flight",
    "queued",
)

KPI_KEYS = tuple(k.name for k in REQUEST_BASE)
"""Request KPIs of one scope (catalogue order); the update window's carry a ``window_`` prefix."""
SUMMARY_KEYS = tuple(k.name for k in REQUEST)


def _strings(vals: list[str]) -> Any:
    """A pandas ``string`` column (pyarrow storage), built by pyarrow directly: about twice
    as fast as ``pd.array(..., dtype="string")`` for a million values, and the same array."""
    if not vals:
        return pd.array([], dtype="string")
    ref = pd.array(vals[:1], dtype="string")
    if getattr(ref.dtype, "storage", None) == "pyarrow":
        out = pd.arrays.ArrowStringArray(pa.array(vals, type=pa.large_string()))
        if out.dtype == ref.dtype:
            return out
    return pd.array(vals, dtype="string")  # (another pandas string storage)


def _numeric(records: list[Any], attrs: tuple[str, ...], dtype: str) -> np.ndarray:
    """The attributes ``attrs`` of every record as the columns of one ``(n, len(attrs))``
    array, read in one pass over the records (two to five times faster than a list per column
    for a million requests)."""
    n, k = len(records), len(attrs)
    get = attrgetter(*attrs)
    values = chain.from_iterable(map(get, records)) if k > 1 else map(get, records)
    return np.fromiter(values, dtype, count=n * k).reshape(n, k)


def requests_frame(records: list[Any], slo: Slo) -> pd.DataFrame:
    """One row per request (arrival order)."""
    cols: dict[str, Any] = {}
    for numeric in dict.fromkeys(d for _, _, d in _ATTRS if d is not None):
        mine = [(col, attr) for col, attr, d in _ATTRS if d == numeric]
        block = _numeric(records, tuple(attr for _, attr in mine), numeric)
        cols.update((col, block[:, j]) for j, (col, _) in enumerate(mine))
    for col, attr, dtype in _ATTRS:
        if dtype is None:
            cols[col] = _strings(list(map(attrgetter(attr), records)))
    df = pd.DataFrame({col: cols[col] for col, _, _ in _ATTRS})
    df["fail_reason"] = df["fail_reason"].mask(df["outcome"] != "failed")  # null unless failed
    done = (df["outcome"] == "completed").to_numpy(dtype=bool)
    arr = df["arrived_at_s"].to_numpy()
    routed = df["routed_at_s"].to_numpy()
    ps = df["prefill_started_at_s"].to_numpy()
    pe = df["prefill_ended_at_s"].to_numpy()
    ts = df["transfer_started_at_s"].to_numpy()
    te = df["transfer_ended_at_s"].to_numpy()
    ds = df["decode_started_at_s"].to_numpy()
    ft = df["first_token_at_s"].to_numpy()
    end = df["ended_at_s"].to_numpy()
    out = df["output_tokens"].to_numpy()
    df["queue_s"] = routed - arr
    df["prefill_queue_s"] = ps - routed
    df["prefill_s"] = pe - ps
    df["decode_queue_s"] = np.where(np.isnan(ts), ds - pe, ts - pe)
    df["transfer_s"] = te - ts
    df["decode_s"] = np.where(done, end - ds, np.nan)
    if slo.ttft_at == "prefill_end":
        ft = np.where(np.isnan(pe), ft, np.minimum(pe, ft))
    df["ttft_s"] = ft - arr
    with np.errstate(divide="ignore", invalid="ignore"):
        df["tpot_s"] = np.where(done & (out > 1), (end - ft) / np.maximum(out - 1, 1), np.nan)
    df["e2e_s"] = np.where(done, end - arr, np.nan)
    ttft = df["ttft_s"].to_numpy()
    tpot = df["tpot_s"].to_numpy()
    met = done & (ttft <= slo.ttft_s) & ((out <= 1) | (tpot <= slo.tpot_s))
    df["slo_met"] = met
    return df[list(REQUEST_COLUMNS)]


def _pcts(x: np.ndarray, qs: tuple[int, ...]) -> list[float | None]:
    """The percentiles ``qs`` of the non-NaN values of ``x`` (one selection for all; each the
    same value as alone), None when there are none."""
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return [None] * len(qs)
    return [float(v) for v in np.percentile(x, qs)]


def _is(col: pd.Series, value: str) -> np.ndarray:
    """``col == value`` as a numpy bool mask (compared by the string array itself, not via
    a million Python objects)."""
    return (col == value).to_numpy(dtype=bool, na_value=False)


def request_kpis(df: pd.DataFrame, a: float, b: float, prefix: str = "") -> dict[str, Any]:
    """Request KPIs over the requests arrived in [a, b]."""
    arr = df["arrived_at_s"].to_numpy()
    sel = (arr >= a) & (arr <= b)
    done = _is(df["outcome"], "completed")[sel]
    failed = _is(df["outcome"], "failed")[sel]
    met = df["slo_met"].to_numpy(dtype=bool)[sel]
    n = int(sel.sum())
    nd = int(done.sum())
    nf = int(failed.sum())
    span = b - a
    out: dict[str, Any] = {
        "requests_arrived": n,
        "requests_completed": nd,
        "requests_failed": nf,
        "requests_in_flight": n - nd - nf,
        "requests_retried": int((df["retries"].to_numpy()[sel] > 0).sum()),
    }
    ttft = df["ttft_s"].to_numpy()[sel][done]
    tpot = df["tpot_s"].to_numpy()[sel][done]
    e2e = df["e2e_s"].to_numpy()[sel][done]
    for name, x, qs in (("ttft", ttft, (50, 90, 99)), ("tpot", tpot, (50, 90, 99))):
        for q, v in zip(qs, _pcts(x, qs), strict=True):
            out[f"{name}_p{q}_s"] = v
    out["e2e_p50_s"], out["e2e_p99_s"] = _pcts(e2e, (50, 99))
    out["slo_attainment_frac"] = float(met.sum()) / (nd + nf) if nd + nf else None
    out["goodput_rps"] = float(met.sum()) / span if span > 0 else None
    out["mixed_version_requests"] = int(df["mixed_version"].to_numpy(dtype=bool)[sel].sum())
    if tuple(out) != KPI_KEYS:
        raise AssertionError("request KPIs computed and catalogued differ")
    return {prefix + k: v for k, v in out.items()}


def request_summary(df: pd.DataFrame, summary: dict[str, Any], end_s: float) -> dict[str, Any]:
    """The request keys of ``summary.json``: whole run, ``window_`` for the update window
    (start of the first template change to the end of the last rollout, or the run's end),
    and ``request_availability_frac`` (window)."""
    # the whole-run scope starts with the traffic (the first arrival), so goodput is not
    # diluted by the warm-up before the load begins
    first = float(df["arrived_at_s"].min()) if len(df) else 0.0
    out = request_kpis(df, first, end_s)
    start = summary.get("update_started_at_s")
    if start is None:
        out.update({f"{WINDOW_PREFIX}{k}": None for k in KPI_KEYS})
        out["request_availability_frac"] = None
        return _checked(out)
    stop = summary.get("update_ended_at_s")
    stop = end_s if stop is None else float(stop)
    w = request_kpis(df, float(start), stop, WINDOW_PREFIX)
    out.update(w)
    n = w["window_requests_arrived"]
    arr = df["arrived_at_s"].to_numpy()
    sel = (arr >= float(start)) & (arr <= stop)
    met = int(df["slo_met"].to_numpy(dtype=bool)[sel].sum())
    out["request_availability_frac"] = met / n if n else None
    return _checked(out)


def _checked(out: dict[str, Any]) -> dict[str, Any]:
    if tuple(out) != SUMMARY_KEYS:
        raise AssertionError("request summary keys and the KPI catalogue differ")
    return out


def request_series(df: pd.DataFrame, end_s: float, bin_s: float = 10.0) -> pd.DataFrame:
    """Per ``bin_s`` window: arrivals, completions and failures (by end time), throughput,
    goodput, SLO attainment of the requests that ended in it, TTFT/TPOT percentiles of the
    completions, and requests in flight / queued (not yet in prefill) at the window's end."""
    nb = max(1, math.ceil(end_s / bin_s))
    edges = np.arange(nb + 1) * bin_s
    arr = df["arrived_at_s"].to_numpy()
    end = df["ended_at_s"].to_numpy()
    done = _is(df["outcome"], "completed")
    failed = _is(df["outcome"], "failed")
    met = df["slo_met"].to_numpy(dtype=bool)
    ai = np.clip((arr // bin_s).astype(np.int64), 0, nb - 1) if len(arr) else arr.astype(int)
    ended = ~np.isnan(end)
    ei = np.clip(np.nan_to_num(end // bin_s, nan=0).astype(np.int64), 0, nb - 1)
    arrived_n = np.bincount(ai, minlength=nb)[:nb]
    comp_n = np.bincount(ei[done], minlength=nb)[:nb]
    fail_n = np.bincount(ei[failed], minlength=nb)[:nb]
    met_n = np.bincount(ei[met], minlength=nb)[:nb]
    fin = comp_n + fail_n
    with np.errstate(divide="ignore", invalid="ignore"):
        att = np.where(fin > 0, met_n / np.maximum(fin, 1), np.nan)
    t_end = edges[1:]
    arr_sorted = np.sort(arr)
    end_sorted = np.sort(np.where(ended, end, np.inf))
    ps = df["prefill_started_at_s"].to_numpy()
    leave_q = np.where(np.isnan(ps), np.where(ended, end, np.inf), ps)
    leave_sorted = np.sort(leave_q)
    n_arr = np.searchsorted(arr_sorted, t_end, side="right")
    in_flight = n_arr - np.searchsorted(end_sorted, t_end, side="right")
    queued = n_arr - np.searchsorted(leave_sorted, t_end, side="right")
    cols: dict[str, Any] = {
        "t_s": edges[:-1],
        "arrived": arrived_n,
        "completed": comp_n,
        "failed": fail_n,
        "throughput_rps": comp_n / bin_s,
        "goodput_rps": met_n / bin_s,
        "slo_attainment_frac": att,
    }
    comp = pd.DataFrame(
        {
            "bin": ei[done],
            "ttft": df["ttft_s"].to_numpy()[done],
            "tpot": df["tpot_s"].to_numpy()[done],
        }
    )
    g = comp.groupby("bin")
    for name, col, q in (
        ("ttft_p50_s", "ttft", 0.5),
        ("ttft_p99_s", "ttft", 0.99),
        ("tpot_p50_s", "tpot", 0.5),
        ("tpot_p99_s", "tpot", 0.99),
    ):
        s = g[col].quantile(q) if len(comp) else pd.Series(dtype=float)
        v = np.full(nb, np.nan)
        v[s.index.to_numpy(dtype=np.int64)] = s.to_numpy(dtype=float)
        cols[name] = v
    cols["in_flight"] = in_flight
    cols["queued"] = queued
    return pd.DataFrame(cols)[list(SERIES_COLUMNS)]


def add_request_results(
    frames: dict[str, pd.DataFrame],
    summary: dict[str, Any],
    records: list[Any],
    slo: Slo,
    end_s: float,
    bin_s: float = 10.0,
) -> None:
    """Add the ``requests`` and ``request_series`` frames and the request KPIs."""
    df = requests_frame(records, slo)
    frames["requests"] = df
    frames["request_series"] = request_series(df, end_s, bin_s)
    summary.update(request_summary(df, summary, end_s))
