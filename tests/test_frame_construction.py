"""The fast constructions of the output phase give exactly what the plain pandas ones give.

The time series is built as one dense block from the recorder's sparse rows, the requests
frame reads each numeric dtype's attributes in one pass, percentiles share one selection and
the window KPIs read only the series they need. Each is compared here with the plain
construction (kept below as the reference): values, dtypes, column order and index.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stormsim
import stormsim.metrics.frames as frames_mod
import stormsim.metrics.requests as requests_mod
from stormsim.metrics.frames import TIMESERIES_FIXED, capacity_frac, timeseries_frame
from stormsim.metrics.kpis import WINDOW_SERIES, Series, window_kpis, window_series
from stormsim.metrics.requests import _ATTRS, _pcts, requests_frame
from stormsim.schema.serving import Slo
from stormsim.sim.recorder import COUNTERS, Recorder


def reference_timeseries(rec: Recorder) -> pd.DataFrame:
    """The time series by pandas from the sparse records (the construction before the dense
    block): missing counters 0, counters rounded to int64, fixed columns first."""
    cols = list(rec.columns)
    df = pd.DataFrame.from_records(rec.rows, columns=cols).fillna(0.0).astype("float64")
    df.insert(0, "t_s", rec.rows_t)
    df["capacity_frac"] = capacity_frac(df)
    ints = [c for c in cols if c != "capacity_frac"]
    df[ints] = df[ints].round().astype("int64")
    fixed = [c for c in TIMESERIES_FIXED if c in df.columns]
    rest = sorted(c for c in df.columns if c not in fixed)
    return df[fixed + rest].reset_index(drop=True)


def assert_identical(new: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(new.columns) == list(ref.columns)
    assert list(new.dtypes) == list(ref.dtypes)
    assert new.index.equals(ref.index)
    assert new.equals(ref)
    pd.testing.assert_frame_equal(new, ref, check_exact=True)


def test_sparse_rows_zero_only_columns_and_same_instant_rows() -> None:
    rec = Recorder()
    seen: list[str] = []
    rec.sample(0, {"pods_total": 2, "role.p.pods_desired": 2, "role.p.pods_ready": 0})
    # a revision counter that is only ever 0 (seen, never in a row) keeps its column
    seen += ["rev.b.pods_ready", "pool.h.nodes_ready"]
    rec.sample(1.0, {"pods_total": 2, "role.p.pods_desired": 2, "role.p.pods_ready": 1}, seen)
    rec.sample(1.0, {"pods_total": 3, "role.p.pods_desired": 2, "role.p.pods_ready": 2}, seen)
    rec.sample(2.5, {"pods_total": 3, "rev.a.pods_ready": 2, "role.p.pods_desired": 2}, seen)
    rec.sample(4.0, {"gpus_allocated": 8, "zeta": 1, "alpha": 2})
    assert rec.rows_t == [0, 1.0, 2.5, 4.0]
    new = timeseries_frame(rec)
    assert_identical(new, reference_timeseries(rec))
    fixed = ["t_s", *(c for c in COUNTERS if c in rec.columns), "capacity_frac"]
    rest = sorted(c for c in rec.columns if c not in COUNTERS)
    assert list(new.columns) == fixed + rest
    assert new["rev.b.pods_ready"].tolist() == [0, 0, 0, 0]
    assert new["pods_total"].tolist() == [2, 3, 3, 0]
    assert new["capacity_frac"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert new["t_s"].dtype == np.float64  # 0 then floats


def test_counters_rounded_after_the_capacity_and_integer_times() -> None:
    rec = Recorder()
    # capacity reads the counters as recorded: 1.5 of 2 desired is 0.75, rounded half to even
    rec.sample(0, {"role.d.pods_desired": 2, "role.d.pods_ready": 1.5, "pods_ready": 2.5})
    rec.sample(3, {"role.d.pods_desired": 2, "role.d.pods_ready": 0.5, "pods_ready": 3.5})
    new = timeseries_frame(rec)
    assert_identical(new, reference_timeseries(rec))
    assert new["t_s"].dtype == np.int64  # integer instants stay integers, as before
    assert new["capacity_frac"].tolist() == [0.75, 0.25]
    assert new["pods_ready"].tolist() == [2, 4]
    assert new["role.d.pods_ready"].tolist() == [2, 0]


def test_no_samples_and_a_sample_of_zeros() -> None:
    assert_identical(timeseries_frame(Recorder()), reference_timeseries(Recorder()))
    rec = Recorder()
    rec.sample(0.0, {"pods_total": 0, "gpus_capacity": 0})
    assert_identical(timeseries_frame(rec), reference_timeseries(rec))


def test_a_nan_counter_is_zero_as_before() -> None:
    rec = Recorder()
    rec.sample(0.0, {"pods_total": math.nan, "role.r.pods_desired": 1})
    assert_identical(timeseries_frame(rec), reference_timeseries(rec))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),  # time step (0: the same instant)
            st.dictionaries(
                st.sampled_from(
                    [
                        "pods_total",
                        "gpus_allocated",
                        "capacity_frac_like",
                        "role.a.pods_desired",
                        "role.a.pods_ready",
                        "role.b.pods_desired",
                        "rev.x.pods_ready",
                        "rev.y.rolesets_ready",
                        "pool.p.nodes_ready",
                    ]
                ),
                st.sampled_from([0, 1, 2, 3, 0.5, 1.5, 2.25, 7]),
                max_size=6,
            ),
            st.lists(st.sampled_from(["rev.z.pods_ready", "rev.x.pods_ready"]), max_size=2),
        ),
        max_size=12,
    )
)
def test_random_sample_sequences(steps: list[tuple[int, dict[str, float], list[str]]]) -> None:
    rec = Recorder()
    t = 0.0
    seen: list[str] = []
    for dt, counters, touched in steps:
        t += dt
        seen += touched
        rec.sample(t, counters, seen)
    assert_identical(timeseries_frame(rec), reference_timeseries(rec))


def _capture_recorder(monkeypatch: pytest.MonkeyPatch, scenario: str) -> tuple[Any, Any]:
    """Run a shipped scenario and keep the recorder the frames were built from."""
    captured: dict[str, Any] = {}
    build = frames_mod.build_frames
    add = requests_mod.add_request_results

    def keep_frames(rec: Recorder, autoscaling: bool = False) -> dict[str, pd.DataFrame]:
        captured["rec"] = rec
        return build(rec, autoscaling)

    def keep_requests(*args: Any) -> None:
        captured["requests"] = args[2:4]
        add(*args)

    monkeypatch.setattr(frames_mod, "build_frames", keep_frames)
    monkeypatch.setattr(requests_mod, "add_request_results", keep_requests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stormsim.run(stormsim.load_scenario(f"scenarios/{scenario}.yaml"))
    return res, captured


def test_a_real_runs_time_series(monkeypatch: pytest.MonkeyPatch) -> None:
    res, captured = _capture_recorder(monkeypatch, "events-tour")
    ts = res.frames["timeseries"]
    assert any(c.startswith("rev.") for c in ts.columns)
    assert any(c.startswith("role.") for c in ts.columns)
    assert_identical(ts, reference_timeseries(captured["rec"]))


def reference_raw_requests(records: list[Any]) -> dict[str, Any]:
    """The recorded columns of the requests frame, one list per column."""
    out: dict[str, Any] = {}
    for col, attr, dtype in _ATTRS:
        vals = [getattr(r, attr) for r in records]
        if dtype is None:
            out[col] = pd.array(vals, dtype="string")
        else:
            out[col] = np.asarray(vals, dtype=dtype) if vals else np.zeros(0, dtype=dtype)
    return out


def _check_raw_columns(df: pd.DataFrame, records: list[Any]) -> None:
    ref = reference_raw_requests(records)
    for col, _, dtype in _ATTRS:
        got = df[col]
        if dtype is None:
            want = pd.Series(ref[col])
            if col == "fail_reason":
                want = want.mask(df["outcome"] != "failed")
            assert got.dtype == want.dtype, col
            pd.testing.assert_series_equal(got, want, check_names=False)
        else:
            assert got.dtype == np.dtype(dtype), col
            np.testing.assert_array_equal(got.to_numpy(), ref[col], strict=True)


def test_a_real_runs_requests_read_as_per_column_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    res, captured = _capture_recorder(monkeypatch, "serving-trace")
    records, _ = captured["requests"]
    assert len(records) > 100
    assert set(res.frames["requests"]["outcome"]) >= {"completed"}
    _check_raw_columns(res.frames["requests"], records)


class _Req:
    __slots__ = tuple(attr for _, attr, _ in _ATTRS)

    def __init__(self, k: int) -> None:
        nan = math.nan
        for _, attr, dtype in _ATTRS:
            setattr(self, attr, {"int64": k, "float64": nan, "bool": False, None: ""}[dtype])
        self.arrived_at = float(k)
        self.outcome = ("completed", "failed", "in_flight")[k % 3]
        self.reason = "timeout" if k % 3 == 1 else ""
        self.mixed = k % 2 == 0
        if self.outcome == "completed":
            self.routed_at = self.prefill_start = k + 0.5
            self.prefill_end = self.decode_start = self.first_token = k + 1.0
            self.ended_at = k + 2.0
            self.output = 3


@pytest.mark.parametrize("n", [0, 1, 7])
def test_hand_made_requests_of_every_dtype(n: int) -> None:
    records = [_Req(k) for k in range(n)]
    df = requests_frame(records, Slo(ttft_s=1.0, tpot_s=1.0))
    assert len(df) == n
    _check_raw_columns(df, records)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan)), max_size=40),
    st.sampled_from([(50, 90, 99), (50, 99), (99,)]),
)
def test_percentiles_together_equal_each_alone(xs: list[float], qs: tuple[int, ...]) -> None:
    x = np.asarray(xs, dtype=float)
    kept = x[~np.isnan(x)]
    alone = [float(np.percentile(kept, q)) if len(kept) else None for q in qs]
    assert _pcts(x, qs) == alone


def _reference_window(s: Series, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """``Series.window`` as first written (np.searchsorted and np.append)."""
    i0 = max(0, int(np.searchsorted(s.t, a, side="right")) - 1)
    i1 = int(np.searchsorted(s.t, b, side="left"))
    t = s.t[i0:i1].copy()
    v = s.v[i0:i1]
    if len(t) == 0:
        return np.array([b - a]), np.array([s.at(a)])
    t[0] = max(t[0], a)
    return np.maximum(0.0, np.append(t[1:], b) - t), v


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=10),
    st.lists(st.integers(0, 9), min_size=10, max_size=10),
    st.integers(-2, 25),
    st.integers(0, 10),
)
def test_series_windows_as_first_written(steps: list[int], vals: list[int], a: int, w: int) -> None:
    t = np.cumsum(np.asarray(steps, dtype=float) * 1.5)
    s = Series(t, np.asarray(vals[: len(t)], dtype=float) / 4)
    lo, hi = float(a), float(a + w)
    d, v = s.window(lo, hi)
    rd, rv = _reference_window(s, lo, hi)
    np.testing.assert_array_equal(d, rd, strict=True)
    np.testing.assert_array_equal(v, rv, strict=True)
    assert s.max(lo, hi) == float(rv.max())
    assert s.min(lo, hi) == float(rv.min())
    assert s.integral(lo, hi, np.sqrt) == float(np.sum(rd * np.sqrt(rv)))


def test_window_kpis_read_only_the_window_series(monkeypatch: pytest.MonkeyPatch) -> None:
    res, _ = _capture_recorder(monkeypatch, "events-tour")
    ts = res.frames["timeseries"]
    t = ts["t_s"].to_numpy(dtype=float)
    every = {c: Series(t, ts[c].to_numpy(dtype=float)) for c in ts.columns if c != "t_s"}
    some = window_series(ts)
    assert set(some) == set(WINDOW_SERIES)
    ro = res.frames["rollouts"]
    assert len(ro) >= 2
    for a, b, outcome in zip(ro["started_at_s"], ro["ended_at_s"], ro["outcome"], strict=True):
        done = outcome == "completed"
        stop = float(b) if done else float(ts["t_s"].iloc[-1])
        assert window_kpis(some, float(a), stop, done) == window_kpis(every, float(a), stop, done)
    for missing in WINDOW_SERIES:  # each one is read
        fewer = {k: v for k, v in some.items() if k != missing}
        a, b = float(ro["started_at_s"].iloc[0]), float(ts["t_s"].iloc[-1])
        with pytest.raises(KeyError):
            window_kpis(fewer, a, b, completed=True)
