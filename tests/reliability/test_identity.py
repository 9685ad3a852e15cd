"""Objects are recorded by identity: a pod or ControllerRevision re-created under an old name is
a new row with its own ``uid`` (issue 14, issue 11 item 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import stormsim
from stormsim.report.history import rollout_history


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> stormsim.RunResult:
    from tests.conftest import make_manifest, make_scenario, write_scenario

    m = make_manifest(replicas=1, roles=(("prefill", 2, 1), ("decode", 1, 1)))
    m["spec"]["template"]["spec"]["roles"][0]["stateful"] = True
    m["spec"]["revisionHistoryLimit"] = 1
    image0 = m["spec"]["template"]["spec"]["roles"][0]["template"]["spec"]["containers"][0]["image"]
    events: list[dict[str, Any]] = [
        {"at_s": 20, "kind": "fail_node", "node": "gpu-0", "down_s": 30},
        {"at_s": 100, "kind": "set_image", "image": "x:2"},
        {"at_s": 200, "kind": "set_image", "image": "x:3"},
        {"at_s": 300, "kind": "set_image", "image": image0},  # back to revision 1's template
    ]
    sc = make_scenario(m, nodes=2, events=events, until_s=500)
    return stormsim.run(write_scenario(tmp_path_factory.mktemp("id"), sc))


def test_a_stateful_pod_recreated_under_its_name_is_a_new_row(result: stormsim.RunResult) -> None:
    pods = result.frames["pods"]
    assert pods["uid"].is_unique
    assert pods["uid"].tolist() == [f"pod-{i}" for i in range(len(pods))]
    first = pods[pods["pod"] == pods["pod"].iloc[0]]  # prefill slot 0 of the first RoleSet
    assert first["node"].tolist() == ["gpu-0", "gpu-1"]  # lost with its node, re-created
    assert first["created_at_s"].tolist() == pytest.approx([0.3, 20.1])
    assert first["gone_at_s"].iloc[0] == 20.0
    lived = pods.dropna(subset=["gone_at_s"])
    assert (lived["gone_at_s"] >= lived["created_at_s"]).all()
    assert result.summary["n_pods_created"] == len(pods) == 15
    assert pods["pod"].nunique() == 13


def test_a_revision_recreated_after_the_history_limit_is_live(
    result: stormsim.RunResult, tmp_path: Path
) -> None:
    revs = result.frames["revisions"]
    again = revs[revs["name"] == revs["name"].iloc[0]]
    assert again["revision"].tolist() == [1, 4]
    assert again["uid"].tolist() == ["revision-0", "revision-3"]
    assert again["deleted_at_s"].iloc[0] == pytest.approx(209.9)
    assert again["deleted_at_s"].isna().iloc[1]  # the new object did not inherit the deletion
    out = result.save(tmp_path / "r", plots=False)
    hist = rollout_history(out)
    assert hist["revision"].tolist() == [3, 4]
    assert hist["current"].tolist() == [False, True]
    assert hist["name"].iloc[1] == revs["name"].iloc[0]


def test_events_name_the_object_they_are_about(result: stormsim.RunResult) -> None:
    ev = result.frames["events"]
    pods = result.frames["pods"].set_index("uid")
    creates = ev[(ev["kind"] == "Pod") & (ev["verb"] == "create")]
    assert creates["uid"].is_unique and len(creates) == len(pods)
    for _, e in creates.iterrows():
        assert pods.loc[e["uid"], "pod"] == e["name"]
        assert pods.loc[e["uid"], "created_at_s"] == e["t_s"]
