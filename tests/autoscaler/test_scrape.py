"""The scrape outcome and cost model (``collector.go``, ``engine_fetcher.go``)."""

from __future__ import annotations

import pytest

from stormsim.control.autoscaler.scrape import (
    PodScrapeInput,
    ScrapeCosts,
    raw_metric_name,
    scrape_costs,
    scrape_global,
    scrape_pods,
)
from stormsim.schema.autoscaler import MetricSource
from stormsim.schema.scenario import Autoscaling

SRC = MetricSource(
    metric_source_type="pod",
    protocol_type="http",
    port="8000",
    path="/metrics",
    target_metric="num_requests_waiting",
    target_value="10",
)
COSTS = ScrapeCosts(rtt_s=0.01, failure_s=7.0, deadline_s=10.0)


def _pod(
    name: str,
    ip: bool = True,
    listening: bool = True,
    value: float | None = 5.0,
    engine: str | None = None,
) -> PodScrapeInput:
    return PodScrapeInput(
        name, ip, listening, {} if value is None else {"num_requests_waiting": value}, engine
    )


def test_outcomes_faithful() -> None:
    pods = [
        _pod("a"),
        _pod("pending", ip=False),
        _pod("loading", listening=False),
        _pod("b", value=7),
    ]
    r = scrape_pods(pods, SRC, profile="aibrix-e3e10f9e", costs=COSTS)
    assert [(o.name, o.value) for o in r.outcomes] == [
        ("a", 5.0),
        ("pending", None),
        ("loading", 0.0),
        ("b", 7.0),
    ]
    assert r.values == (5.0, 0.0, 7.0)
    assert r.elapsed_s == pytest.approx(7.02)
    assert not r.deadline_exceeded and not r.error


def test_outcomes_fixed_math_exclude_failures() -> None:
    pods = [_pod("a"), _pod("loading", listening=False), _pod("nofamily", value=None)]
    r = scrape_pods(pods, SRC, profile="fixed-math", costs=COSTS)
    assert r.values == (5.0,)
    # a failing pod still costs its retries; the deadline cuts the second one
    assert [o.cost_s for o in r.outcomes] == pytest.approx([0.01, 7.0, 2.99])
    assert r.deadline_exceeded


def test_two_failing_pods_exhaust_the_deadline_and_later_pods_read_zero() -> None:
    pods = [_pod("x", listening=False), _pod("y", listening=False), _pod("a"), _pod("b")]
    r = scrape_pods(pods, SRC, profile="aibrix-e3e10f9e", costs=COSTS)
    assert r.values == (0.0, 0.0, 0.0, 0.0)
    assert r.elapsed_s == pytest.approx(10.0) and r.deadline_exceeded
    r = scrape_pods([_pod("a")], SRC, profile="aibrix-e3e10f9e", costs=COSTS, elapsed_s=10.0)
    assert r.values == (0.0,) and r.elapsed_s == 0.0


def test_all_pods_without_ip_is_an_error_but_no_pods_is_not() -> None:
    r = scrape_pods([_pod("a", ip=False)], SRC, profile="aibrix-e3e10f9e", costs=COSTS)
    assert r.error and r.values == ()
    r = scrape_pods([], SRC, profile="aibrix-e3e10f9e", costs=COSTS)
    assert not r.error and r.values == () and r.elapsed_s == 0.0


def test_unknown_registry_key_reads_zero_without_a_request() -> None:
    src = SRC.model_copy(update={"target_metric": "prefill_queue_length"})
    r = scrape_pods([_pod("a"), _pod("b")], src, profile="aibrix-e3e10f9e", costs=COSTS)
    assert r.values == (0.0, 0.0) and r.elapsed_s == 0.0
    # an engine without a mapping for the key: same
    r = scrape_pods([_pod("t", engine="trtllm")], SRC, profile="aibrix-e3e10f9e", costs=COSTS)
    assert r.values == (0.0,)


def test_registry_names() -> None:
    assert raw_metric_name("num_requests_waiting", None) == "vllm:num_requests_waiting"
    assert raw_metric_name("num_requests_waiting", "sglang") == "sglang:num_queue_reqs"
    assert raw_metric_name("kv_cache_usage_perc", "trtllm") == "trtllm_kv_cache_utilization"
    assert raw_metric_name("vllm:num_requests_waiting", None) is None


def test_resource_source_reads_the_metrics_api() -> None:
    src = MetricSource(metric_source_type="resource", target_metric="cpu", target_value="500")
    pods = [PodScrapeInput("a", False, False, {"cpu": 800.0}), PodScrapeInput("b", True, True, {})]
    r = scrape_pods(pods, src, profile="aibrix-e3e10f9e", costs=COSTS)
    assert r.values == (800.0, 0.0)


def test_external_sources() -> None:
    ext = MetricSource(metric_source_type="external", target_metric="q", target_value="10")
    assert scrape_global(42.0, ext, profile="aibrix-e3e10f9e", costs=COSTS).values == (42.0,)
    assert scrape_global(None, ext, profile="aibrix-e3e10f9e", costs=COSTS).error
    opt = ext.model_copy(update={"endpoint": "gpu-optimizer:8080", "metric_source_type": "domain"})
    # the GPU-optimizer path always reads 0 at e3e10f9e
    assert scrape_global(42.0, opt, profile="aibrix-e3e10f9e", costs=COSTS).values == (0.0,)
    assert scrape_global(42.0, opt, profile="fixed-math", costs=COSTS).error


def test_scrape_costs_from_scenario_block() -> None:
    assert scrape_costs(Autoscaling()) == ScrapeCosts(0.002, 7.0, 10.0)


def test_custom_metrics_are_integers_rounded_up() -> None:
    src = MetricSource(metric_source_type="custom", target_metric="qps", target_value="5")
    r = scrape_pods([PodScrapeInput("a", True, True, {"qps": 2.1})], src, profile="aibrix-e3e10f9e")
    assert r.values == (3.0,)
