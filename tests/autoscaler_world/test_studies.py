"""Autoscaler fields vary in compare/sweep like any other field (dotted paths)."""

from __future__ import annotations

import pytest

import stormsim
from stormsim.analysis.paths import set_path
from stormsim.analysis.variants import base_data, make_variants
from stormsim.errors import InputError
from tests.autoscaler_world.helpers import autoscaler, scenario, service

PATH = "autoscalers[0].spec.metricsSources[0].targetValue"


def _base():  # type: ignore[no-untyped-def]
    return scenario(service(2), [autoscaler("APA", "0.5", 1, 8, name="apa")], until_s=60)


def test_variants_reach_autoscaler_fields_by_index_and_name() -> None:
    sc = _base()
    a, b, c = make_variants(
        sc,
        [
            {PATH: "0.25"},
            {
                "autoscalers[apa].spec.maxReplicas": 3,
                "autoscalers[apa].spec.scalingStrategy": "KPA",
            },
            {"autoscaling.profile": "fixed-math"},
        ],
    )
    assert a.autoscalers[0].spec.metrics_sources[0].target_value == "0.25"
    assert b.autoscalers[0].spec.max_replicas == 3
    assert b.autoscalers[0].spec.scaling_strategy == "KPA"
    assert c.autoscaling.profile == "fixed-math"


def test_bad_autoscaler_override_is_an_input_error() -> None:
    data = base_data(_base())
    with pytest.raises(InputError, match="no element named 'nope'"):
        set_path(data, "autoscalers[nope].spec.maxReplicas", 3)
    with pytest.raises(InputError):
        make_variants(_base(), [{PATH: "0"}])  # AIBrix's webhook: must be greater than 0


def test_compare_over_target_value() -> None:
    res = stormsim.compare(
        _base(),
        [{"name": "t05", PATH: "0.5"}, {"name": "max3", "autoscalers[apa].spec.maxReplicas": 3}],
        plots=False,
        progress=False,
    )
    for r in res.results.values():
        assert r is not None
        assert "scale_events_per_hour" in r.summary
        assert "autoscaling" in r.frames
    assert "gpu_hours" in res.kpis
