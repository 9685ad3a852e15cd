"""A tiny planning case shared by the plan tests: one plan run per session (cached in a temp
directory, so the CLI test re-uses its runs)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import stormsim
from stormsim.schema.yamlio import dump_yaml

REPO = Path(__file__).resolve().parents[2]
PLAN_SCENARIO = REPO / "scenarios" / "plan-small.yaml"


def tiny_plan_data() -> dict[str, Any]:
    """scenarios/plan-small.yaml with an inline manifest and a much smaller search: H100 only,
    24 req/s, 60 s measured, 2 seeds, one rollout setting, a coarse goodput search."""
    data = yaml.safe_load(PLAN_SCENARIO.read_text())
    man_path = PLAN_SCENARIO.parent / data["service"]["manifest"]
    data["service"] = {"manifest": yaml.safe_load(man_path.read_text())}
    plan = copy.deepcopy(data["plan"])
    plan.update(
        load={"rate_rps": 24},
        gpus=[{"type": "H100-80GB", "price_per_hour": 3.0, "gpus_per_node": 8}],
        rollout={
            "image": "vllm/vllm-openai:v0.11.0",
            "max_surge": [1],
            "max_unavailable": [0],
            "max_extra": 2,
        },
        seeds=[1, 2],
        warmup_s=0,
        settle_s=10,
        duration_s=60,
        drain_s=20,
        max_pods=8,
        goodput_max_factor=2.0,
        goodput_rel_tol=0.2,
    )
    data["plan"] = plan
    data["name"] = "plan-tiny"
    return data


@pytest.fixture(scope="session")
def tiny_plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("plan-scenario")
    p = d / "plan-tiny.yaml"
    p.write_text(dump_yaml(tiny_plan_data()))
    return p


@pytest.fixture(scope="session")
def tiny_plan(
    tiny_plan_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[stormsim.PlanResult, Path]:
    out = tmp_path_factory.mktemp("plan-out") / "plan"
    res = stormsim.plan(tiny_plan_file, out=out, jobs=2)
    return res, out
