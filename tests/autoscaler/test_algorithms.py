"""KPA and APA recommendations: the upstream unit-test tables (``algorithm/kpa_test.go``,
``algorithm/apa_test.go``) and derived production-form cases."""

from __future__ import annotations

import pytest

from stormsim.control.autoscaler.algorithms import (
    apa_target_replicas,
    clamp,
    kpa_in_panic,
    kpa_target_replicas,
    metric_recommendation,
)
from stormsim.control.autoscaler.context import ScalingContext


@pytest.mark.parametrize(
    ("case", "c", "t", "ru", "rd", "s", "p", "a", "in_panic", "max_panic", "expected"),
    [
        ("stable_mode_basic_scaling", 2, 10, 2, 2, 20, 20, 1, False, 0, 2),
        ("panic_mode_scaling_up", 2, 10, 2, 2, 30, 40, 1, True, 2, 4),
        ("panic_mode_no_scale_down", 5, 10, 2, 2, 20, 20, 1, True, 5, 5),
        ("scale_to_zero", 1, 10, 2, 2, 0, 0, 1, False, 0, 0),
        ("activation_scale_from_zero", 0, 10, 2, 2, 15, 15, 3, False, 0, 3),
        ("max_scale_up_rate_limit", 2, 10, 1.5, 2, 100, 100, 1, False, 0, 3),
        ("max_scale_down_rate_limit", 4, 10, 2, 2, 5, 5, 1, False, 0, 2),
    ],
)
def test_TestKPAAlgorithm_ComputeTargetReplicas(
    case: str,
    c: int,
    t: float,
    ru: float,
    rd: float,
    s: float,
    p: float,
    a: int,
    in_panic: bool,
    max_panic: int,
    expected: int,
) -> None:
    # the upstream mock context has zero tolerances
    got = kpa_target_replicas(
        c,
        s,
        p,
        t,
        max_scale_up_rate=ru,
        max_scale_down_rate=rd,
        up_tolerance=0.0,
        down_tolerance=0.0,
        in_panic=in_panic,
        activation_scale=a,
        max_panic_pods=max_panic,
    )
    assert got == expected, case


@pytest.mark.parametrize(
    ("case", "c", "u", "ru", "rd", "t", "expected"),
    [
        ("basic_scale_up", 2, 45, 2, 2, 30, 3),
        ("scale_up_upto_ceiling", 2, 35, 2, 2, 30, 3),
        ("scale_up_upto_max_scale_up", 2, 90, 2, 2, 30, 4),
        ("scale_up_upto_max_scale_up_ceiling", 2, 90, 2.5, 2, 30, 5),
        ("basic_scale_down", 6, 20, 2, 2, 30, 4),
        ("scale_down_upto_ceiling", 6, 18, 2, 2, 30, 4),
        ("scale_down_upto_max_scale_down", 6, 10, 2, 2, 30, 3),
        ("scale_down_upto_max_scale_down_floor", 6, 5, 2, 2.5, 30, 2),
        ("no_scaling_as_within_up_tolerance", 2, 33, 2, 2, 30, 2),
        ("no_scaling_as_within_down_tolerance", 2, 27, 2, 2, 30, 2),
        ("division_by_zero", 1, 10, 1000, 2, 0, 1),
    ],
)
def test_TestAPAAlgorithm_ComputeTargetReplicas(
    case: str, c: int, u: float, ru: float, rd: float, t: float, expected: int
) -> None:
    got = apa_target_replicas(
        c,
        u,
        t,
        max_scale_up_rate=ru,
        max_scale_down_rate=rd,
        up_tolerance=0.1,
        down_tolerance=0.1,
    )
    assert got == expected, case


CTX = ScalingContext(min_replicas=1, max_replicas=100)


@pytest.mark.parametrize(
    ("c", "t", "s", "p", "expected", "panic"),
    [
        (4, 0.5, 0.8, 0.8, 2, False),  # ceil(1.6) = 2 >= floor(4/2)
        (8, 10, 12, 12, 4, False),  # dspc 2 raised to maxDown 4: down while above target
        (3, 10, 10.5, 10.5, 3, False),  # within the band
        (2, 10, 5, 30, 3, True),  # 30/5 > 2: max(1, min(3, 4))
        (2, 10, 0, 0, 1, True),  # S <= 0 forces panic
    ],
)
def test_kpa_production_form(
    c: int, t: float, s: float, p: float, expected: int, panic: bool
) -> None:
    rec = metric_recommendation("KPA", c, s, p, t, CTX)
    assert (rec.replicas, rec.in_panic) == (expected, panic)


@pytest.mark.parametrize(("u", "expected"), [(0.55, 4), (0.56, 5), (0.0, 2)])
def test_apa_production_form(u: float, expected: int) -> None:
    # 0.55/0.5 = 1.1000000000000000888 is not > 1.1 in doubles
    assert metric_recommendation("APA", 4, u, u, 0.5, CTX).replicas == expected


def test_kpa_per_pod_fraction_never_exceeds_two_replicas() -> None:
    # gpu_cache_usage_perc <= 1 with target 0.5: ceil(S/0.5) <= 2 whatever C
    ctx = ScalingContext(min_replicas=1, max_replicas=50)
    assert metric_recommendation("KPA", 2, 1.0, 1.0, 0.5, ctx).replicas == 2
    assert metric_recommendation("KPA", 20, 1.0, 1.0, 0.5, ctx).replicas == 10  # floor(20/2)


def test_panic_threshold_is_strict() -> None:
    assert not kpa_in_panic(10, 20, 2.0)
    assert kpa_in_panic(10, 20.000001, 2.0)
    assert kpa_in_panic(0, 0, 2.0)


def test_missing_target_recommends_current_clamped() -> None:
    ctx = ScalingContext(min_replicas=3, max_replicas=5)
    assert metric_recommendation("APA", 2, 100, 100, None, ctx).replicas == 3
    assert metric_recommendation("KPA", 4, 100, 100, None, ctx).replicas == 4


def test_hpa_has_no_in_process_algorithm() -> None:
    with pytest.raises(ValueError, match="HPA"):
        metric_recommendation("HPA", 1, 1, 1, 1, CTX)


def test_clamp() -> None:
    assert clamp(0, 1, 5) == 1
    assert clamp(9, 1, 5) == 5
    assert clamp(3, 1, 5) == 3
