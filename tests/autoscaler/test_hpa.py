"""The HPA strategy: the generated HPA (``hpa_resources_test.go``) and the Kubernetes HPA
algorithm (tolerance, readiness, stabilization, rate-limit policies)."""

from __future__ import annotations

from stormsim.control.autoscaler.bounds import Bounds
from stormsim.control.autoscaler.context import ScalingContext, scaling_context
from stormsim.control.autoscaler.hpa import (
    HpaBehavior,
    HpaMetric,
    HpaPod,
    HpaPolicy,
    HpaRules,
    HpaSpec,
    HpaState,
    hpa_behavior,
    hpa_metric_replicas,
    hpa_spec,
    hpa_step,
)
from stormsim.control.autoscaler.stabilize import Recommendation
from stormsim.schema.autoscaler import PodAutoscaler
from tests.autoscaler.builders import pa_data


def _llm_pa() -> PodAutoscaler:
    d = pa_data(
        strategy="HPA",
        min_replicas=1,
        max_replicas=5,
        name="test-llm-pa",
        annotations={"autoscaling.aibrix.ai/storm-service-mode": "replica"},
    )
    d["metadata"]["labels"] = {"app": "llm"}
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
    return PodAutoscaler.model_validate(d)


def test_TestMakeHPA() -> None:
    pa = _llm_pa()
    spec = hpa_spec(pa, Bounds(1, 5), scaling_context(pa, Bounds(1, 5)))
    assert spec.name == "test-llm-pa-hpa"
    assert (spec.min_replicas, spec.max_replicas) == (1, 5)
    assert spec.behavior == HpaBehavior(
        HpaRules(0.0, (HpaPolicy("Percent", 100, 60.0),), "Max"),
        HpaRules(300.0, (HpaPolicy("Percent", 50, 60.0),), "Min"),
    )
    assert spec.metrics == (
        HpaMetric("Pods", "gpu_cache_usage_perc", "AverageValue", 50.0),
        HpaMetric("Resource", "cpu", "Utilization", 30.0),
        HpaMetric("Resource", "memory", "AverageValue", 128.0 * 2**20),
    )


def test_TestMakeHPA_scheduled_bounds() -> None:
    pa = _llm_pa()
    spec = hpa_spec(pa, Bounds(3, 12, "peak", True), scaling_context(pa, Bounds(3, 12)))
    assert (spec.min_replicas, spec.max_replicas) == (3, 12)


def test_hpa_spec_truncates_pods_targets_and_defaults_min() -> None:
    pa = PodAutoscaler.model_validate(pa_data(strategy="HPA", min_replicas=0, target="0.5"))
    spec = hpa_spec(pa, Bounds(0, 10), scaling_context(pa, Bounds(0, 10)))
    assert spec.metrics[0].target == 0.0  # "0.5" becomes 0
    assert spec.min_replicas == 1  # nil min: Kubernetes defaults to 1


def test_hpa_behavior_rates() -> None:
    b = hpa_behavior(ScalingContext(max_scale_up_rate=1.0, max_scale_down_rate=4.0))
    assert b.scale_up.policies[0].value == 0  # the 0 % policy AIBrix generates at rate 1.0
    assert b.scale_down.policies[0].value == 75
    assert hpa_behavior(ScalingContext(max_scale_up_rate=0.5)).scale_up.policies[0].value == 100


def _ready(values: list[float]) -> list[HpaPod]:
    return [HpaPod(f"p{i}", "Running", v) for i, v in enumerate(values)]


def test_replicas_tolerance_and_ratio() -> None:
    assert hpa_metric_replicas(4, _ready([105, 95, 100, 108]), 100) == 4  # ratio 1.02
    assert hpa_metric_replicas(4, _ready([150] * 4), 100) == 6
    assert hpa_metric_replicas(4, _ready([40] * 4), 100) == 2
    assert hpa_metric_replicas(4, [], 100) is None


def test_missing_metrics_count_as_target_on_scale_down_and_zero_on_scale_up() -> None:
    pods = [*_ready([50, 50, 50]), HpaPod("m", "Running", None)]
    assert hpa_metric_replicas(4, pods, 100) == 3  # (150 + 100)/4 = 62.5 % -> ceil(2.5)
    pods = [*_ready([300, 300, 300]), HpaPod("m", "Running", None)]
    assert hpa_metric_replicas(4, pods, 100) == 9  # 900/4 = 2.25 -> ceil(9)


def test_pending_pods_damp_scale_up_and_deleting_failed_are_ignored() -> None:
    pods = [*_ready([200, 200]), HpaPod("x", "Pending", None), HpaPod("y", "Pending", None)]
    assert hpa_metric_replicas(4, pods, 100) == 4  # new ratio 1.0: keep
    pods = [*_ready([150, 150]), HpaPod("d", "Running", 0, deleting=True), HpaPod("f", "Failed", 0)]
    assert hpa_metric_replicas(4, pods, 100) == 3


def test_cpu_readiness() -> None:
    starting = HpaPod("s", "Running", 10, ready=False, started_s=0, ready_changed_s=0)
    pods = [*_ready([200, 200]), starting]
    # within the 5 min initialisation period and not ready: unready, filled with 0
    assert hpa_metric_replicas(3, pods, 100, cpu=True, now_s=60) == 4  # (400 + 0)/3 % -> 4
    # other metrics do not look at readiness: its 10 counts
    assert hpa_metric_replicas(3, pods, 100, now_s=60) == 5  # 410/3 % -> ceil(4.1)
    # past the initialisation period, a pod that was never ready is still unready
    late = HpaPod("s", "Running", 10, ready=False, started_s=0, ready_changed_s=10)
    assert hpa_metric_replicas(3, [*_ready([200, 200]), late], 100, cpu=True, now_s=600) == 4


SPEC = HpaSpec(
    "x-hpa",
    1,
    20,
    (),
    HpaBehavior(
        HpaRules(0.0, (HpaPolicy("Percent", 100, 60.0),), "Max"),
        HpaRules(300.0, (HpaPolicy("Percent", 50, 60.0),), "Min"),
    ),
)


def test_hpa_step_rate_limit_doubles_per_minute() -> None:
    d, st = hpa_step(4, SPEC, [20], HpaState(), 0)
    assert (d.desired, d.reason) == (8, "ScaleUpLimit")
    d, st = hpa_step(8, SPEC, [20], st, 15)  # the +4 of t=0 is in the period: start 4
    assert (d.desired, d.should_scale) == (8, False)
    d, st = hpa_step(8, SPEC, [20], st, 61)
    assert d.desired == 16
    d, st = hpa_step(16, SPEC, [30], st, 122)
    assert (d.desired, d.reason) == (20, "TooManyReplicas")


def test_hpa_step_scale_down_stabilization_and_limit() -> None:
    st = HpaState()
    d, st = hpa_step(10, SPEC, [10], st, 0)
    assert not d.should_scale
    d, st = hpa_step(10, SPEC, [2], st, 15)  # max over 300 s is 10
    assert (d.desired, d.reason) == (10, "ScaleDownStabilized")
    d, st = hpa_step(10, SPEC, [2], st, 301)  # the 10 aged out; 50 %/60 s floor
    assert (d.desired, d.reason) == (5, "ScaleDownLimit")
    d, st = hpa_step(5, SPEC, [2], st, 330)  # within the period: start 10 -> floor 5
    assert d.desired == 5
    d, st = hpa_step(5, SPEC, [2], st, 362)
    assert d.desired == 2  # int(5 * 0.5): the scale-down floor is truncated, not rounded up


def test_hpa_step_bounds_and_disabled() -> None:
    assert hpa_step(0, SPEC, [5], HpaState(), 0)[0].reason == "ScalingDisabled"
    d, _ = hpa_step(25, SPEC, [5], HpaState(), 0)
    assert (d.desired, d.should_scale) == (20, True)
    d, st = hpa_step(4, SPEC, [None], HpaState(), 0)
    assert (d.desired, d.should_scale) == (4, False)
    assert st == HpaState((Recommendation(4, 0),))  # (the initial recommendation only)


# The reason of an HPA sync: the conditions the Kubernetes HPA controller sets
# (``reconcileAutoscaler``, ``computeReplicasForMetrics``,
# ``normalizeDesiredReplicasWithBehaviors``, ``convertDesiredReplicasWithBehaviorRate``), one
# case each on constant inputs.
GOT_SCALE = ("AbleToScale", "True", "SucceededGetScale")
VALID = ("ScalingActive", "True", "ValidMetricFound")
WITHIN = ("ScalingLimited", "False", "DesiredWithinRange")
RESCALED = ("AbleToScale", "True", "SucceededRescale")


def _spec(
    lo: int = 1, hi: int = 20, up_window_s: float = 0.0, down_window_s: float = 300.0
) -> HpaSpec:
    return HpaSpec(
        "x-hpa",
        lo,
        hi,
        (),
        HpaBehavior(
            HpaRules(up_window_s, (HpaPolicy("Percent", 100, 60.0),), "Max"),
            HpaRules(down_window_s, (HpaPolicy("Percent", 50, 60.0),), "Min"),
        ),
    )


def test_reason_ready_for_new_scale_when_nothing_changes() -> None:
    d, _ = hpa_step(4, SPEC, [4], HpaState(), 0)
    assert (d.desired, d.should_scale, d.reason) == (4, False, "ReadyForNewScale")
    assert d.conditions == (GOT_SCALE, VALID, ("AbleToScale", "True", "ReadyForNewScale"), WITHIN)


def test_reason_succeeded_rescale_within_range() -> None:
    d, _ = hpa_step(4, SPEC, [6], HpaState(), 0)
    assert (d.desired, d.should_scale, d.reason) == (6, True, "SucceededRescale")
    assert d.conditions == (
        GOT_SCALE,
        VALID,
        ("AbleToScale", "True", "ReadyForNewScale"),
        WITHIN,
        RESCALED,
    )


def test_reason_scale_up_limit_and_too_many_replicas() -> None:
    d, _ = hpa_step(4, SPEC, [20], HpaState(), 0)  # doubling per 60 s: 8, below max 20
    assert (d.desired, d.reason) == (8, "ScaleUpLimit")
    assert d.conditions[-2:] == (("ScalingLimited", "True", "ScaleUpLimit"), RESCALED)
    d, _ = hpa_step(12, SPEC, [30], HpaState(), 0)  # the rate allows 24: max 20 limits
    assert (d.desired, d.reason) == (20, "TooManyReplicas")


def test_reason_scale_down_limit_and_too_few_replicas() -> None:
    no_window = _spec(lo=1, down_window_s=0.0)
    d, _ = hpa_step(10, no_window, [2], HpaState(), 0)  # 50 % per 60 s: 5, above min 1
    assert (d.desired, d.reason) == (5, "ScaleDownLimit")
    d, _ = hpa_step(4, _spec(lo=3, down_window_s=0.0), [1], HpaState(), 0)  # rate: 2; min 3
    assert (d.desired, d.reason) == (3, "TooFewReplicas")
    assert d.conditions[-2:] == (("ScalingLimited", "True", "TooFewReplicas"), RESCALED)


def test_reason_stabilized_in_both_directions() -> None:
    up = _spec(up_window_s=60.0)
    _, st = hpa_step(4, up, [4], HpaState(), 0)
    d, _ = hpa_step(4, up, [8], st, 15)  # min over the 60 s up window: 4
    assert (d.desired, d.should_scale, d.reason) == (4, False, "ScaleUpStabilized")
    assert d.conditions[-1] == WITHIN
    _, st = hpa_step(10, SPEC, [10], HpaState(), 0)
    d, _ = hpa_step(10, SPEC, [2], st, 15)  # max over the 300 s down window: 10
    assert (d.desired, d.reason) == (10, "ScaleDownStabilized")
    # stabilized part of the way, then written: the write's reason is what the HPA shows
    _, st = hpa_step(6, up, [6], HpaState(), 0)  # a 6 in the up window
    d, _ = hpa_step(6, up, [9], st, 15)
    assert (d.desired, d.reason) == (6, "ScaleUpStabilized")
    d, _ = hpa_step(4, up, [9], st, 15)  # 9 stabilized to 6, still above 4: written
    assert (d.desired, d.reason) == (6, "SucceededRescale")
    assert d.conditions[2:] == (("AbleToScale", "True", "ScaleUpStabilized"), WITHIN, RESCALED)


def test_reason_outside_the_bounds_is_a_plain_rescale() -> None:
    # current above max / below min: rescaled to the bound without reading metrics
    d, st = hpa_step(25, SPEC, [None], HpaState(), 0)
    assert (d.desired, d.reason, d.conditions) == (20, "SucceededRescale", (GOT_SCALE, RESCALED))
    assert st.recommendations == (Recommendation(25, 0),)  # the initial one, nothing else
    d, _ = hpa_step(2, _spec(lo=3), [None], HpaState(), 0)
    assert (d.desired, d.reason) == (3, "SucceededRescale")


def test_reason_scaling_active_false() -> None:
    d, _ = hpa_step(0, SPEC, [5], HpaState(), 0)
    assert (d.desired, d.reason) == (0, "ScalingDisabled")
    assert d.conditions == (GOT_SCALE, ("ScalingActive", "False", "ScalingDisabled"))
    d, st = hpa_step(4, SPEC, [None], HpaState(), 0)
    assert (d.desired, d.should_scale, d.reason) == (4, False, "FailedGetPodsMetric")
    assert st == HpaState((Recommendation(4, 0),))
    reasons = ["FailedGetPodsMetric", "FailedGetResourceMetric"]
    d, _ = hpa_step(4, SPEC, [6, None], HpaState(), 0, reasons)  # one valid, scaling up: acts
    assert (d.desired, d.reason) == (6, "SucceededRescale")
    # one invalid while the valid one would scale down: no scaling, the first invalid's reason
    d, _ = hpa_step(10, SPEC, [2, None], HpaState(), 0, reasons)
    assert (d.desired, d.should_scale, d.reason) == (10, False, "FailedGetResourceMetric")


def test_first_sync_seeds_the_history_with_the_current_replicas() -> None:
    """``recordInitialRecommendation``: a new HPA's history starts with the current replicas
    at its first sync, so it cannot scale down before the down-stabilization window (300 s)
    has passed since it appeared; it can scale up at once (no up window by default)."""
    d, st = hpa_step(16, SPEC, [1], HpaState(), 100)
    assert (d.desired, d.reason) == (16, "ScaleDownStabilized")
    assert st.recommendations[0] == Recommendation(16, 100)
    d, st = hpa_step(16, SPEC, [1], st, 399)  # 299 s later: still held
    assert (d.desired, d.reason) == (16, "ScaleDownStabilized")
    d, st = hpa_step(16, SPEC, [1], st, 400.5)  # the initial 16 and the 1s: only 1s in window
    assert d.desired < 16
    d, _ = hpa_step(4, SPEC, [8], HpaState(), 0)  # scale-up at the first sync
    assert (d.desired, d.should_scale) == (8, True)
    # an HPA whose first syncs fail keeps its initial recommendation
    _, st = hpa_step(16, SPEC, [None], HpaState(), 0)
    d, _ = hpa_step(16, SPEC, [1], st, 15)
    assert (d.desired, d.reason) == (16, "ScaleDownStabilized")
