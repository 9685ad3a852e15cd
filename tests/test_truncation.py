"""No silent truncation: a run that ends with a rollout in progress warns with its progress and
how to extend it, a rollout whose pods cannot be placed is reported as stalled with the reason,
``summary.json`` lists every warning, and the default horizon covers long rollouts."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import stormsim
from stormsim.control.horizon import MIN_CAP_S, estimate_rollouts_s, p99, settle_cap_s
from stormsim.schema.scenario import Lognormal

UPDATE = [{"at_s": 20, "kind": "set_image", "image": "vllm:v2"}]


def _run(data: dict[str, Any]) -> tuple[stormsim.RunResult, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stormsim.run(stormsim.load_scenario(data))
    return res, [str(w.message) for w in caught if issubclass(w.category, stormsim.StormsimWarning)]


def test_truncated_rollout_warns_with_progress_and_lists_it(
    make_manifest: Any, make_scenario: Any, tmp_path: Path
) -> None:
    # 4 RoleSets, one at a time, 8 s start-up each: the run ends after three of them
    m = make_manifest(replicas=4, max_surge=1, max_unavailable=0)
    res, shown = _run(make_scenario(m, nodes=2, events=UPDATE, until_s=45))
    assert res.summary["update_completed"] is False
    first = shown[0]
    assert first.startswith(
        "the run ended at t=45 s (its --until / until_s) with rollout 0 (set_image at 20 s) "
        "still in progress: 3 of 4 RoleSets updated and Ready"
    )
    assert "--until 95" in first
    assert res.summary["warnings"] == shown == res.warnings
    saved = json.loads((res.save(tmp_path / "out") / "summary.json").read_text())
    assert saved["warnings"] == shown
    # a complete run has none
    done, shown = _run(make_scenario(m, nodes=2, events=UPDATE))
    assert done.summary["update_completed"] is True
    assert done.summary["warnings"] == shown == []


def test_stalled_rollout_names_the_reason(make_manifest: Any, make_scenario: Any) -> None:
    # 2 RoleSets of 2 GPUs on a 4-GPU node: no room for the surge RoleSet
    m = make_manifest(replicas=2, max_surge=1, max_unavailable=0)
    _, shown = _run(make_scenario(m, gpus_per_node=4, events=UPDATE, until_s=600))
    assert len(shown) == 2
    assert "0 of 2 RoleSets updated and Ready" in shown[0]
    assert "Extend the run" not in shown[0]  # a longer run cannot help a stall
    assert shown[1] == (
        "rollout 0 stalled: 2 pods unschedulable since t=20.3 s (no node has enough free "
        "resources) and no RoleSet updated since: the rollout is stalled; the pools whose "
        "nodes fit these 1-GPU pods are full: node pool gpu (1 node) without a node "
        "autoscaler (more nodes, or free GPUs for the surge, a lower maxSurge or a higher "
        "maxUnavailable, would let it go on)"
    )
    # progress after the pods were created is no stall: only the truncation is reported
    m = make_manifest(replicas=4, max_surge=1, max_unavailable=0)
    _, shown = _run(make_scenario(m, nodes=2, events=UPDATE, until_s=45))
    assert len(shown) == 1


def test_stall_at_max_nodes_in_place_names_the_pool_and_no_surge(make_manifest: Any) -> None:
    # one 8-GPU node (the pool's max_nodes) holds the 1P1D RoleSet; the in-place role scale
    # to 3 prefill pods leaves two 4-GPU pods Pending, which no new node can take
    from tests.nodes.node_helpers import ROLES, node_scenario

    data = node_scenario(
        max_nodes=1,
        events=[{"at_s": 5, "kind": "scale", "role": "prefill", "replicas": 3}],
        until_s=300,
    )
    data["service"]["manifest"] = make_manifest(
        replicas=1, roles=ROLES, update_type="InPlaceUpdate"
    )
    res, shown = _run(data)
    ro = res.frames["rollouts"]
    assert list(ro["rollout"]) == [0] and ro["outcome"].iloc[-1] == "incomplete"
    assert len(shown) == 2
    assert shown[0].startswith("the run ended at t=300 s (its --until / until_s) with rollout 0 ")
    assert "Extend the run" not in shown[0]
    assert shown[1].startswith("rollout 0 stalled: 2 pods unschedulable since t=5")
    assert shown[1].endswith(
        "and no RoleSet updated since: the rollout is stalled; the pools whose nodes fit "
        "these 4-GPU pods are full: node pool gpu (max_nodes 1) at max_nodes: the node "
        "autoscaler cannot add nodes (a higher max_nodes would let it go on)"
    )


def test_load_warnings_are_in_the_summary(make_manifest: Any, make_scenario: Any) -> None:
    m = make_manifest(replicas=2, max_surge="1", max_unavailable=0)  # AIBrix: 0 / 0
    res, _ = _run(make_scenario(m, nodes=2, events=UPDATE, until_s=100))
    assert any("is not an int or 'N%'" in w for w in res.summary["warnings"])
    assert any("stalled" in w or "still in progress" in w for w in res.summary["warnings"])


def test_default_horizon_covers_a_long_rollout(make_manifest: Any, make_scenario: Any) -> None:
    """8 RoleSets one at a time, each pod 15 minutes to start: the rollout takes about
    2 h after the image change, beyond a fixed hour; the default horizon sees it finish."""
    timing = {
        "scheduling_s": 1, "image_pull_s": 300, "model_load_s": 500, "engine_init_s": 100,
        "readiness_probe_s": 0, "router_registration_s": 1, "termination_grace_s": 30,
    }  # fmt: skip
    m = make_manifest(replicas=8, max_surge=1, max_unavailable=0)
    data = make_scenario(m, nodes=3, events=[{**UPDATE[0], "at_s": 1000}], timing=timing)
    sc = stormsim.load_scenario(data)
    assert settle_cap_s(sc) == pytest.approx(2 * (932 + 8 * 932))
    res, shown = _run(data)
    s = res.summary
    assert s["update_completed"] is True and shown == []
    assert s["update_duration_s"] > MIN_CAP_S
    assert s["sim_end_s"] == pytest.approx(s["update_ended_at_s"])


def test_horizon_estimate_units() -> None:
    assert p99(5.0) == 5.0
    assert p99(Lognormal(kind="lognormal", median_s=100, p90_s=100)) == pytest.approx(100)
    assert p99(Lognormal(kind="lognormal", median_s=90, p90_s=180)) == pytest.approx(
        90 * 2 ** (2.3263478740408408 / 1.2815515655446004)
    )
    sc = stormsim.default_scenario()
    assert settle_cap_s(sc) >= MIN_CAP_S and estimate_rollouts_s(sc) > 0


def test_cli_prints_the_truncation_warning(
    make_manifest: Any, make_scenario: Any, write_scenario: Any, tmp_path: Path
) -> None:
    m = make_manifest(replicas=4, max_surge=1, max_unavailable=0)
    path = write_scenario(tmp_path, make_scenario(m, nodes=2, events=UPDATE))
    proc = subprocess.run(
        [sys.executable, "-m", "stormsim.cli", "run", str(path), "--until", "45",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "warning: the run ended at t=45 s" in proc.stderr
    assert "3 of 4 RoleSets updated and Ready" in proc.stderr
