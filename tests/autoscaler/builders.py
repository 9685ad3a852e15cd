"""Builders of PodAutoscaler objects and target snapshots for the autoscaler tests."""

from __future__ import annotations

import copy
from typing import Any

from stormsim.control.autoscaler.target import RoleView, TargetView
from stormsim.schema.autoscaler import PodAutoscaler


def pa_data(
    *,
    strategy: str = "APA",
    min_replicas: int | None = 1,
    max_replicas: int = 10,
    role: str | None = None,
    target_kind: str = "StormService",
    target_name: str = "llm",
    metric: str = "num_requests_waiting",
    target: str = "10",
    source_type: str = "pod",
    annotations: dict[str, str] | None = None,
    name: str = "pa",
    **spec: Any,
) -> dict[str, Any]:
    """A PodAutoscaler manifest (plain data, AIBrix field names)."""
    src: dict[str, Any] = {
        "metricSourceType": source_type,
        "targetMetric": metric,
        "targetValue": target,
    }
    if source_type == "pod":
        src.update(protocolType="http", port="8000", path="/metrics")
    s: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": "orchestration.aibrix.ai/v1alpha1"
            if target_kind == "StormService"
            else "apps/v1",
            "kind": target_kind,
            "name": target_name,
        },
        "maxReplicas": max_replicas,
        "scalingStrategy": strategy,
        "metricsSources": [src],
    }
    if min_replicas is not None:
        s["minReplicas"] = min_replicas
    if role is not None:
        s["subTargetSelector"] = {"roleName": role}
    s.update(spec)
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": "autoscaling.aibrix.ai/v1alpha1",
        "kind": "PodAutoscaler",
        "metadata": meta,
        "spec": s,
    }


def make_pa(**kw: Any) -> PodAutoscaler:
    return PodAutoscaler.model_validate(copy.deepcopy(pa_data(**kw)))


def ss_view(
    replicas: int | None = 1,
    roles: tuple[RoleView, ...] = (RoleView("prefill", 2, None), RoleView("decode", 2, None)),
    *,
    name: str = "llm",
    paused: bool = False,
) -> TargetView:
    return TargetView("StormService", name, replicas, roles, paused=paused)
