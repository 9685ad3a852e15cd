"""Invariants of the autoscaler's pure functions, over random inputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stormsim.control.autoscaler.algorithms import metric_recommendation
from stormsim.control.autoscaler.bounds import Bounds
from stormsim.control.autoscaler.context import ScalingContext
from stormsim.control.autoscaler.decide import REASON_DISABLED, decide
from stormsim.control.autoscaler.hpa import (
    HpaBehavior,
    HpaPolicy,
    HpaRules,
    HpaSpec,
    HpaState,
    hpa_step,
)
from stormsim.control.autoscaler.scrape import PodScrapeInput, ScrapeCosts, scrape_pods
from stormsim.control.autoscaler.stabilize import Recommendation, stabilize
from stormsim.control.autoscaler.window import TimeWindow
from stormsim.schema.autoscaler import MetricSource

values = st.floats(min_value=0, max_value=1e6, allow_nan=False)
profiles = st.sampled_from(["aibrix-e3e10f9e", "fixed-math"])


@st.composite
def bounds(draw: st.DrawFn) -> Bounds:
    lo = draw(st.integers(0, 50))
    hi = draw(st.integers(max(lo, 1), 100))
    return Bounds(lo, hi, None, draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["KPA", "APA"]),
    st.integers(0, 200),
    values,
    values,
    st.floats(min_value=1e-3, max_value=1e4),
    bounds(),
    st.floats(min_value=1.01, max_value=10),
    st.floats(min_value=1.01, max_value=10),
    st.floats(min_value=0, max_value=0.9),
)
def test_recommendation_always_within_resolved_bounds(
    strategy: str,
    c: int,
    s: float,
    p: float,
    t: float,
    b: Bounds,
    ru: float,
    rd: float,
    tol: float,
) -> None:
    ctx = ScalingContext(
        max_scale_up_rate=ru,
        max_scale_down_rate=rd,
        up_tolerance=tol,
        down_tolerance=tol,
        min_replicas=b.min_replicas,
        max_replicas=b.max_replicas,
    )
    rec = metric_recommendation(strategy, c, s, p, t, ctx)  # type: ignore[arg-type]
    assert b.min_replicas <= rec.replicas <= b.max_replicas


history = st.lists(
    st.tuples(st.integers(0, 300), st.floats(min_value=0, max_value=1000)), max_size=30
).map(lambda xs: tuple(Recommendation(r, t) for r, t in sorted(xs, key=lambda x: x[1])))


@settings(max_examples=300, deadline=None)
@given(
    bounds(),
    st.integers(0, 300),
    st.lists(st.one_of(st.none(), st.integers(0, 300)), min_size=1, max_size=4),
    history,
    st.floats(min_value=0, max_value=600),
    st.floats(min_value=0, max_value=600),
    profiles,
)
def test_decision_never_outside_bounds(
    b: Bounds,
    c: int,
    recs: list[int | None],
    h: tuple[Recommendation, ...],
    up: float,
    down: float,
    profile: str,
) -> None:
    d, h2 = decide(
        c,
        b,
        recs,
        strategy="APA",
        history=h,
        now_s=1000.0,
        up_window_s=up,
        down_window_s=down,
        profile=profile,  # type: ignore[arg-type]
    )
    if d.reason == REASON_DISABLED:
        assert (d.desired, d.should_scale) == (0, False)
    elif d.error:
        assert (d.desired, d.should_scale) == (c, False)
    else:
        assert b.min_replicas <= d.desired <= b.max_replicas
        assert d.should_scale == (d.desired != c)
    assert all(r.t_s > 1000.0 - max(up, down) for r in h2 if r.t_s != 1000.0) or h2 == h


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 50),
    st.integers(0, 50),
    history,
    st.integers(0, 300),
    st.integers(0, 300),
    st.floats(min_value=0, max_value=600),
    st.floats(min_value=0, max_value=600),
    profiles,
)
def test_stabilization_stays_within_the_range_of_its_inputs(
    lo: int,
    span: int,
    h: tuple[Recommendation, ...],
    r: int,
    c: int,
    up: float,
    down: float,
    profile: str,
) -> None:
    hi = lo + span
    clip = lambda x: max(lo, min(hi, x))  # noqa: E731
    h = tuple(Recommendation(clip(x.replicas), x.t_s) for x in h)
    d, _ = stabilize(h, 1000.0, clip(r), clip(c), up, down, profile=profile)  # type: ignore[arg-type]
    assert lo <= d <= hi


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(min_value=0, max_value=1000), values), min_size=1, max_size=60),
    st.integers(1, 200),
)
def test_window_mean_is_a_mean_of_recent_records(recs: list[tuple[float, float]], dur: int) -> None:
    w = TimeWindow(float(dur))
    for t, v in sorted(recs):
        w = w.record(t, v)
    vals = w.values()
    assert vals and min(vals) <= w.avg() * (1 + 1e-12) + 1e-9
    assert w.avg() <= max(vals) * (1 + 1e-12) + 1e-9
    assert len(vals) <= dur + 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), max_size=12),
    st.floats(min_value=0, max_value=12),
    profiles,
)
def test_scrape_respects_the_deadline(
    pods: list[tuple[bool, bool, bool]], start: float, profile: str
) -> None:
    src = MetricSource(
        metric_source_type="pod",
        protocol_type="http",
        port="8000",
        path="/metrics",
        target_metric="num_requests_waiting",
        target_value="1",
    )
    inputs = [
        PodScrapeInput(f"p{i}", ip, on, {"num_requests_waiting": 1.0} if fam else {})
        for i, (ip, on, fam) in enumerate(pods)
    ]
    r = scrape_pods(
        inputs, src, profile=profile, costs=ScrapeCosts(0.01, 7.0, 10.0), elapsed_s=start
    )  # type: ignore[arg-type]
    assert r.elapsed_s <= max(0.0, 10.0 - start) + 1e-9
    assert len(r.outcomes) == len(pods)
    # pods without an IP never count; with the faithful profile every other pod does
    with_ip = sum(1 for ip, _, _ in pods if ip)
    if profile == "aibrix-e3e10f9e":
        assert len(r.values) == with_ip
    else:
        assert len(r.values) <= with_ip
        assert all(v == 1.0 for v in r.values)


@settings(max_examples=200, deadline=None)
@given(
    bounds().filter(lambda b: b.min_replicas >= 1),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)), min_size=1, max_size=20),
)
def test_hpa_step_stays_within_bounds(b: Bounds, steps: list[tuple[int, int]]) -> None:
    spec = HpaSpec(
        "x",
        b.min_replicas,
        b.max_replicas,
        (),
        HpaBehavior(
            HpaRules(0.0, (HpaPolicy("Percent", 100, 60.0),), "Max"),
            HpaRules(300.0, (HpaPolicy("Percent", 50, 60.0),), "Min"),
        ),
    )
    state = HpaState()
    c = max(b.min_replicas, min(b.max_replicas, steps[0][0]))
    for k, (_, rec) in enumerate(steps):
        d, state = hpa_step(c, spec, [rec], state, 15.0 * k)
        assert b.min_replicas <= d.desired <= b.max_replicas
        c = d.desired
