"""Engine metrics read from the serving plane at scrape time."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest

import stormsim
from stormsim.perf.startup import resolve_startup
from stormsim.sim.serving.engines import DONE
from stormsim.sim.serving.metrics import IDLE, QUANTITIES
from stormsim.sim.world import World

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "autoscale-apa-diurnal.yaml"


def _world() -> World:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc = resolve_startup(stormsim.load_scenario(SCENARIO))
    # no autoscaler: only the test reads the engines (the throughput gauges average since
    # the previous read of the pod)
    return World(sc.model_copy(update={"autoscalers": []}), 11)


def test_metrics_follow_the_engines() -> None:
    w = _world()
    plane = w.serving
    assert plane is not None
    w.run(200.0)
    pods = [p for p in w.store.pods.values() if not p.deleting]
    first = {p.name: plane.engine_metrics(p) for p in pods}
    w.run(260.0)
    second = {p.name: plane.engine_metrics(p) for p in pods}
    done = [r for r in plane.records if r.state == DONE and r.outcome == "completed"]
    for p in pods:
        a, b = first[p.name], second[p.name]
        assert 0.0 <= b.kv_cache_usage_perc <= 1.0
        for q in (
            "http_requests_total",
            "request_success_total",
            "prompt_tokens_total",
            "generation_tokens_total",
        ):
            assert b.value(q) >= a.value(q), q
        if p.role == "decode" and p.name in plane.pods:
            gen = b.generation_tokens_total - a.generation_tokens_total
            assert b.avg_generation_throughput_toks_per_s == pytest.approx(gen / 60.0)
        if p.role == "prefill" and p.name in plane.pods:
            pt = b.prompt_tokens_total - a.prompt_tokens_total
            assert b.avg_prompt_throughput_toks_per_s == pytest.approx(pt / 60.0)
    success = sum(s.request_success_total for n, s in second.items())
    assert 0 < success <= len(done)
    # under load the prefill side prefilled something and the decode side holds KV
    assert any(s.prompt_tokens_total > 0 for s in second.values())
    assert any(s.kv_cache_usage_perc > 0 for s in second.values())
    # the gateway rate: arrivals in the last minute per second
    rate = plane.arrivals_per_s(60.0)
    n = sum(1 for r in plane.records if 200.0 <= r.arrived_at < 260.0)
    assert rate == pytest.approx(n / 60.0, rel=0.05)


def test_a_second_read_at_the_same_instant_sees_the_same_gauges() -> None:
    """Two readers of one pod at one instant (two metric sources, or two PodAutoscalers)
    both see the gauges of that instant; the second is not an average over 0 s (it read 0
    before)."""
    w = _world()
    plane = w.serving
    assert plane is not None
    w.run(200.0)
    pods = [p for p in w.store.pods.values() if not p.deleting and p.name in plane.pods]
    for p in pods:
        plane.engine_metrics(p)
    w.run(260.0)
    busy = 0
    at_260 = {}
    for p in pods:
        a = plane.engine_metrics(p)
        b = plane.engine_metrics(p)
        assert b == a
        busy += a.avg_prompt_throughput_toks_per_s > 0 or a.avg_generation_throughput_toks_per_s > 0
        at_260[p.name] = a
    assert busy > 0
    # the next read averages over the 30 s since 260 s
    w.run(290.0)
    for p in pods:
        a, c = at_260[p.name], plane.engine_metrics(p)
        assert c.avg_prompt_throughput_toks_per_s == pytest.approx(
            (c.prompt_tokens_total - a.prompt_tokens_total) / 30.0
        )
        assert c.avg_generation_throughput_toks_per_s == pytest.approx(
            (c.generation_tokens_total - a.generation_tokens_total) / 30.0
        )


def test_pods_without_engines_read_zero() -> None:
    w = _world()
    plane = w.serving
    assert plane is not None
    w.run(1.0)
    pod = next(iter(w.store.pods.values()))
    fake = dataclasses.replace(pod, seq=pod.seq + 999)  # another incarnation: no engine
    assert plane.engine_metrics(fake) == IDLE
    assert all(IDLE.value(q) == 0.0 for q in QUANTITIES)
    with pytest.raises(KeyError):
        IDLE.value("nope")


def test_external_gateway_rate_drives_kpa() -> None:
    """An ``external`` source on the gateway's request rate: one global value per reconcile
    (arrivals over the last 60 s per second); KPA's ``ceil(value / target)`` is then a total
    over the service."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc = stormsim.load_scenario(SCENARIO)
    pa = sc.autoscalers[0]
    src = pa.spec.metrics_sources[0].model_copy(
        update={
            "metric_source_type": "external",
            "target_metric": "gateway_requests_per_s",
            "target_value": "4",
            "protocol_type": None,
            "port": None,
            "path": None,
        }
    )
    spec = pa.spec.model_copy(update={"metrics_sources": [src], "scaling_strategy": "KPA"})
    sc = sc.model_copy(
        update={"autoscalers": [pa.model_copy(update={"spec": spec})], "until_s": 300.0}
    )
    res = stormsim.run(sc)
    df = res.frames["autoscaling"]
    req = res.frames["requests"]
    row = df[(df.t_s > 200.0) & (df.metric == "gateway_requests_per_s")].iloc[0]
    t = row.t_s
    n = ((req.arrived_at_s > t - 60.0) & (req.arrived_at_s <= t)).sum()
    assert row.value == pytest.approx(n / 60.0, abs=1.0 / 60.0)
    assert row.scrape_s == pytest.approx(0.002)
    assert df.value.notna().all()
