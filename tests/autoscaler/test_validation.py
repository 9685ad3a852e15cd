"""Admission and controller checks: ``pkg/webhook/podautoscaler_webhook_test.go``,
``podautoscaler_controller_test.go`` (validateSpec), ``context/context_test.go``, and the Go
parsers behind ``targetValue`` and the annotations."""

from __future__ import annotations

import math
from typing import Any

import pytest

from stormsim.control.autoscaler.bounds import Bounds
from stormsim.control.autoscaler.context import scaling_context
from stormsim.control.autoscaler.validate import SpecInvalid, validate_spec
from stormsim.schema.autoscaler import (
    PodAutoscaler,
    annotation_problems,
    parse_go_bool,
    parse_go_duration,
    parse_go_float,
    webhook_problems,
)
from tests.autoscaler.builders import make_pa, pa_data


def _messages(pa: PodAutoscaler) -> list[str]:
    from stormsim.schema.yamlio import format_path

    return [f"{format_path(p)}: {m}" for p, m in webhook_problems(pa)]


def _with_source(**src: Any) -> PodAutoscaler:
    d = pa_data()
    d["spec"]["metricsSources"] = [src]
    return PodAutoscaler.model_validate(d)


def test_TestValidate_accepts_hpa_cpu_and_external_without_endpoint() -> None:
    hpa = _with_source(metricSourceType="resource", targetMetric="cpu", targetValue="50")
    assert webhook_problems(hpa) == []
    for t in ("external", "domain"):
        pa = _with_source(
            metricSourceType=t, targetMetric="aibrix_test_queue_depth", targetValue="40"
        )
        assert webhook_problems(pa) == []


@pytest.mark.parametrize(
    ("case", "change", "needle"),
    [
        ("missing targetMetric", {"metric": ""}, "spec.metricsSources[0].targetMetric"),
        ("targetValue 0", {"target": "0"}, "must be greater than 0"),
        ("targetValue -5", {"target": "-5"}, "must be greater than 0"),
        ("targetValue abc", {"target": "abc"}, "must be a valid number"),
        ("targetValue 100m", {"target": "100m"}, "must be a valid number"),
        ("min -1", {"min_replicas": -1}, "must not be negative"),
        ("max 0", {"max_replicas": 0}, "must be positive"),
        ("HPA + roleName", {"strategy": "HPA", "role": "decode"}, "subTargetSelector"),
        ("observe 0", {"observeWindowSeconds": 0}, "observeWindowSeconds"),
        ("panic -1", {"panicWindowSeconds": -1}, "panicWindowSeconds"),
        ("observe 3601", {"observeWindowSeconds": 3601}, "less than or equal to 3600"),
        (
            "panic above observe",
            {"observeWindowSeconds": 60, "panicWindowSeconds": 120},
            "panicWindowSeconds",
        ),
        (
            "bad schedule",
            {
                "schedules": [
                    {"name": "a", "startTime": "9:00", "endTime": "10:00", "minReplicas": 2}
                ]
            },
            "spec.schedules[0].startTime",
        ),
        ("max below min", {"min_replicas": 5, "max_replicas": 3}, "greater than or equal"),
    ],
)
def test_TestValidate_rejections(case: str, change: dict[str, Any], needle: str) -> None:
    msgs = _messages(make_pa(**change))
    assert any(needle in m for m in msgs), (case, msgs)


def test_TestValidate_no_metric_sources_and_bad_second_source() -> None:
    d = pa_data()
    d["spec"]["metricsSources"] = []
    assert any(
        "at least one metricsSource" in m for m in _messages(PodAutoscaler.model_validate(d))
    )
    d = pa_data()
    d["spec"]["metricsSources"].append({"metricSourceType": "custom", "targetValue": "1"})
    assert _messages(PodAutoscaler.model_validate(d)) == [
        "spec.metricsSources[1].targetMetric: Required value: targetMetric must be specified"
    ]


def test_webhook_collects_every_problem_and_checks_source_fields() -> None:
    d = pa_data(min_replicas=-1, max_replicas=0)
    d["spec"]["metricsSources"] = [
        {"metricSourceType": "pod", "targetMetric": "x", "targetValue": "1"},
        {
            "metricSourceType": "resource",
            "targetMetric": "gpu",
            "targetValue": "1",
            "port": "80",
        },
        {
            "metricSourceType": "external",
            "endpoint": "opt:8080",
            "targetMetric": "q",
            "targetValue": "1",
        },
    ]
    msgs = _messages(PodAutoscaler.model_validate(d))
    assert msgs == [
        "spec.minReplicas: Invalid value: -1: must not be negative",
        "spec.maxReplicas: Invalid value: 0: must be positive",
        "spec.metricsSources[0].protocolType: Required value: protocolType is required for pod "
        "metrics",
        "spec.metricsSources[0].port: Required value: port is required for pod metrics",
        "spec.metricsSources[0].path: Required value: path is required for pod metrics",
        "spec.metricsSources[1].targetMetric: Unsupported value: 'gpu': supported values: "
        '"cpu", "memory"',
        "spec.metricsSources[1].port: Forbidden: port is not allowed for resource metrics",
        "spec.metricsSources[2].protocolType: Required value: protocolType is required for "
        "external metrics with an endpoint",
        "spec.metricsSources[2].path: Required value: path is required for external metrics "
        "with an endpoint",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"min_replicas": -1}, SpecInvalid("InvalidBounds", "minReplicas must not be negative.")),
        ({"max_replicas": 0}, SpecInvalid("InvalidBounds", "maxReplicas must be positive.")),
        (
            {"min_replicas": 5, "max_replicas": 3},
            SpecInvalid("InvalidBounds", "minReplicas cannot be greater than maxReplicas."),
        ),
        (
            {"strategy": "HPA", "role": "decode"},
            SpecInvalid(
                "InvalidScalingStrategy",
                "subTargetSelector.roleName is not supported with scalingStrategy=HPA; use APA "
                "or KPA for StormService role-level autoscaling.",
            ),
        ),
        (
            {"observeWindowSeconds": 0, "panicWindowSeconds": -1},
            SpecInvalid("InvalidSpec", "observeWindowSeconds must be greater than 0."),
        ),
        (
            {"observeWindowSeconds": 3601},
            SpecInvalid("InvalidSpec", "observeWindowSeconds must be less than or equal to 3600."),
        ),
        (
            {"observeWindowSeconds": 60, "panicWindowSeconds": 120},
            SpecInvalid(
                "InvalidSpec",
                "panicWindowSeconds must be less than or equal to observeWindowSeconds.",
            ),
        ),
        (
            {"observeWindowSeconds": 30},
            SpecInvalid(
                "InvalidSpec",
                "panicWindowSeconds must be less than or equal to observeWindowSeconds.",
            ),
        ),
        (
            {"metric": ""},
            SpecInvalid("MetricsConfigError", "metricsSource[0]: targetMetric must be specified"),
        ),
    ],
)
def test_TestValidateSpec_controller_messages(
    change: dict[str, Any], expected: SpecInvalid
) -> None:
    assert validate_spec(make_pa(**change)) == expected


def test_TestValidateSpec_external_without_endpoint_is_valid_and_value_unchecked() -> None:
    pa = _with_source(metricSourceType="domain", targetMetric="q", targetValue="abc")
    assert validate_spec(pa) is None  # the controller does not parse targetValue


def test_TestNewScalingContext_targets_and_annotations() -> None:
    d = pa_data(
        annotations={
            "autoscaling.aibrix.ai/max-scale-up-rate": "3.0",
            "autoscaling.aibrix.ai/max-scale-down-rate": "3.0",
            "autoscaling.aibrix.ai/scale-up-tolerance": "0.3",
            "autoscaling.aibrix.ai/scale-down-tolerance": "0.3",
            "autoscaling.aibrix.ai/panic-threshold": "3.0",
            "autoscaling.aibrix.ai/scale-up-cooldown-window": "30s",
            "autoscaling.aibrix.ai/scale-down-cooldown-window": "30s",
            "autoscaling.aibrix.ai/scale-to-zero": "true",
        }
    )
    d["spec"]["metricsSources"] = [
        {
            "metricSourceType": "pod",
            "protocolType": "http",
            "port": "8000",
            "path": "/metrics",
            "targetMetric": "gpu_cache_usage_perc",
            "targetValue": "50",
        },
        {"metricSourceType": "resource", "targetMetric": "cpu", "targetValue": "30"},
        {"metricSourceType": "resource", "targetMetric": "memory", "targetValue": "128"},
    ]
    ctx = scaling_context(PodAutoscaler.model_validate(d), Bounds(1, 10))
    assert dict(ctx.metric_targets) == {"gpu_cache_usage_perc": 50, "cpu": 30, "memory": 128}
    assert (ctx.max_scale_up_rate, ctx.max_scale_down_rate) == (3.0, 3.0)
    assert (ctx.up_tolerance, ctx.down_tolerance, ctx.panic_threshold) == (0.3, 0.3, 3.0)
    assert (ctx.scale_up_cooldown_s, ctx.scale_down_cooldown_s) == (30.0, 30.0)
    assert ctx.scale_to_zero is True
    assert ctx.errors == ()


def test_context_defaults_and_parse_failures_stop_parsing() -> None:
    ctx = scaling_context(make_pa(), Bounds(2, 7))
    assert (ctx.max_scale_up_rate, ctx.up_tolerance, ctx.scale_down_cooldown_s) == (2.0, 0.1, 300)
    assert (ctx.min_replicas, ctx.max_replicas, ctx.activation_scale, ctx.max_panic_pods) == (
        2,
        7,
        1,
        0,
    )
    # sorted key order: max-scale-down-rate, max-scale-up-rate (bad), panic-threshold
    pa = make_pa(
        annotations={
            "autoscaling.aibrix.ai/max-scale-down-rate": "4",
            "autoscaling.aibrix.ai/max-scale-up-rate": "fast",
            "autoscaling.aibrix.ai/panic-threshold": "5",
        }
    )
    ctx = scaling_context(pa, Bounds(1, 10))
    assert (ctx.max_scale_down_rate, ctx.max_scale_up_rate, ctx.panic_threshold) == (4, 2, 2)
    assert len(ctx.errors) == 1 and "max-scale-up-rate" in ctx.errors[0]
    # a bad targetValue (webhook bypassed) stops before any annotation
    pa = make_pa(target="0", annotations={"autoscaling.aibrix.ai/max-scale-up-rate": "4"})
    ctx = scaling_context(pa, Bounds(1, 10))
    assert dict(ctx.metric_targets) == {} and ctx.max_scale_up_rate == 2.0
    assert "must be greater than 0" in ctx.errors[0]


def test_annotation_problems_flag_ignored_and_unparsable_keys() -> None:
    pa = make_pa(
        annotations={
            "kpa.autoscaling.aibrix.ai/scale-down-delay": "3m",
            "autoscaling.aibrix.ai/scale-down-cooldown-window": "five minutes",
            "autoscaling.aibrix.ai/storm-service-mode": "pool",
        }
    )
    keys = [k for k, _ in annotation_problems(pa)]
    assert keys == [
        "kpa.autoscaling.aibrix.ai/scale-down-delay",
        "autoscaling.aibrix.ai/scale-down-cooldown-window",
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [("10", 10.0), ("0.5", 0.5), ("1e3", 1000.0), ("+2", 2.0), (".5", 0.5), ("0x1p-2", 0.25)],
)
def test_go_float(text: str, value: float) -> None:
    assert parse_go_float(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "1_000", "100m", "abc", "1e"])
def test_go_float_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_float(text)


def test_go_float_words() -> None:
    assert math.isinf(parse_go_float("Inf")) and math.isnan(parse_go_float("NaN"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("0", 0),
        ("-1s", -1),
    ],
)
def test_go_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["30", "", "5 m", "1d", "s"])
def test_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_go_bool() -> None:
    assert parse_go_bool("true") and parse_go_bool("T") and not parse_go_bool("0")
    with pytest.raises(ValueError):
        parse_go_bool("yes")
