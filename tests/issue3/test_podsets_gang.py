"""PodSets and gang semantics (spec §4.7), gang scheduling and topology policies (issue 3
item 8), and every real AIBrix sample manifest running through a rollout (item 10)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

import stormsim
from stormsim.control.revisions import role_hashes
from stormsim.schema.loader import StormsimWarning

from .helpers import (
    GRACE,
    IMAGE_V2,
    READY_AFTER_CREATE,
    SAMPLES,
    TIMING,
    events,
    load,
    manifest,
    pods,
    pools,
    role,
    run,
    scenario,
    status_at,
)

ZONE = "topology.kubernetes.io/zone"
T = 100.0


def test_podset_ready_only_when_all_pods_ready(tmp_path: Path) -> None:
    """podGroupSize 2, 8 GPUs per pod: pod 0 lands on the warm node (image prepulled), pod 1
    on the cold one (20 s pull). The PodSet, hence the RoleSet, is Ready only at the later
    pod's ready time (36 s), not when the first pod is (16 s)."""
    svc = manifest([role("worker", 1, gpus=8, pod_group_size=2)])
    node_pools = [*pools(("warm", 1, 8)), {"name": "cold", "count": 1, "gpus_per_node": 8}]
    data = scenario(svc, node_pools=node_pools, role_timing={"worker": {"image_pull_s": 20}})
    res = run(data, tmp_path)
    p = pods(res).sort_values("pod").reset_index(drop=True)
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    ps = f"{rs}-worker-{p['template_hash'].iloc[0]}-0"
    assert list(p["pod"]) == [f"{ps}-0", f"{ps}-1"]
    assert set(p["podset"]) == {ps}
    assert list(p["node"]) == ["warm-0", "cold-0"]
    assert list(p["ready_at_s"]) == [READY_AFTER_CREATE, READY_AFTER_CREATE + 20]
    assert float(res.frames["rolesets"]["ready_at_s"].iloc[0]) == READY_AFTER_CREATE + 20
    assert status_at(res, 30)["ready_replicas"] == 0
    assert status_at(res, 36)["ready_replicas"] == 1
    assert res.frames["timeseries"].set_index("t_s").loc[16.0, "pods_ready"] == 1


def test_podset_rollout_recreates_podsets_slot_by_slot(tmp_path: Path) -> None:
    """PodSet roles never update in place (spec §4.7): InPlaceIfPossible emits an
    InPlaceFallback event and PodSets are replaced delete-first, slot 0 then slot 1: a
    deleted PodSet is gone once its pods are (grace 5 s), Scale recreates the slot, and the
    next slot goes when the new PodSet is Ready."""
    svc = manifest(
        [role("worker", 2, gpus=1, pod_group_size=2, update_type="InPlaceIfPossible")],
        update_type="InPlaceUpdate",
    )
    res = run(scenario(svc, [{"at_s": T, "kind": "set_image", "image": IMAGE_V2}]), tmp_path)
    ev = events(res, kind="PodSet")
    ev = ev[ev["t_s"] >= T]
    rs = str(res.frames["rolesets"]["roleset"].iloc[0])
    p = pods(res)
    old = str(p["template_hash"].iloc[0])
    new = str(p[p["created_at_s"] > T]["template_hash"].iloc[0])
    step = GRACE + READY_AFTER_CREATE
    got = [(float(t), v, n) for t, v, n in zip(ev["t_s"], ev["verb"], ev["name"], strict=True)]
    assert got == [
        (T, "delete", f"{rs}-worker-{old}-0"),
        (T + GRACE, "create", f"{rs}-worker-{new}-0"),
        (T + step, "delete", f"{rs}-worker-{old}-1"),
        (T + step + GRACE, "create", f"{rs}-worker-{new}-1"),
    ]
    fb = events(res, "event")
    assert fb["detail"].str.startswith("InPlaceFallback").any()
    assert events(res, "patch").empty
    newp = p[p["created_at_s"] > T]
    assert len(newp) == 4
    assert sorted(newp["pod"]) == sorted(
        f"{rs}-worker-{new}-{s}-{k}" for s in range(2) for k in range(2)
    )
    assert res.summary["update_ended_at_s"] == T + 2 * step


@pytest.mark.parametrize(
    "strategy",
    [
        {"coschedulingSchedulingStrategy": {"minMember": 4}},
        {"godelSchedulingStrategy": {"minMember": 4}},
        {"volcanoSchedulingStrategy": {"minMember": 4}},
    ],
    ids=["coscheduling", "godel", "volcano"],
)
def test_roleset_gang_that_cannot_fit_stays_pending(tmp_path: Path, strategy) -> None:
    """A RoleSet-level gang of 4 pods x 4 GPUs on one 8-GPU node: nothing binds, no GPU is
    allocated; the non-gang equivalent binds 2 pods (8 GPUs) and leaves 2 Pending."""
    roles = [role("prefill", 2, gpus=4), role("decode", 2, gpus=4)]
    gang = run(
        scenario(manifest(roles, scheduling_strategy=strategy), node_pools=pools(("gpu", 1, 8))),
        tmp_path,
        until_s=200,
    )
    p = pods(gang)
    assert len(p) == 4 and p["node"].isna().all() and p["scheduled_at_s"].isna().all()
    ts = gang.frames["timeseries"]
    assert ts["gpus_allocated"].max() == 0
    assert ts["pods_pending"].iloc[-1] == 4
    un = events(gang, "unschedulable")
    assert len(un) == 4 and un["detail"].str.contains("minMember=4").all()

    plain = run(scenario(manifest(roles), node_pools=pools(("gpu", 1, 8))), tmp_path, until_s=200)
    p = pods(plain)
    assert p["node"].notna().sum() == 2
    ts = plain.frames["timeseries"]
    assert ts["gpus_allocated"].max() == 8 and ts["pods_pending"].iloc[-1] == 2


def test_roleset_gang_that_fits_binds_together(tmp_path: Path) -> None:
    roles = [role("prefill", 2, gpus=4), role("decode", 2, gpus=4)]
    svc = manifest(roles, scheduling_strategy={"coschedulingSchedulingStrategy": {"minMember": 4}})
    res = run(scenario(svc, node_pools=pools(("gpu", 2, 8))), tmp_path)
    p = pods(res)
    assert list(p["scheduled_at_s"]) == [1.0] * 4
    assert float(res.frames["rolesets"]["ready_at_s"].iloc[0]) == READY_AFTER_CREATE


def test_podset_gang_role_strategy_cannot_fit(tmp_path: Path) -> None:
    """Role schedulingStrategy on a PodSet role (one PodGroup per PodSet, minMember 2): two
    8-GPU pods on one 8-GPU node -> neither binds; without the strategy pod 0 binds."""
    gang_role = role(
        "worker",
        1,
        gpus=8,
        pod_group_size=2,
        scheduling_strategy={"godelSchedulingStrategy": {"minMember": 2}},
    )
    res = run(
        scenario(manifest([gang_role]), node_pools=pools(("gpu", 1, 8))), tmp_path, until_s=200
    )
    p = pods(res)
    assert len(p) == 2 and p["node"].isna().all()
    assert res.frames["timeseries"]["gpus_allocated"].max() == 0

    plain_role = role("worker", 1, gpus=8, pod_group_size=2)
    res = run(
        scenario(manifest([plain_role]), node_pools=pools(("gpu", 1, 8))), tmp_path, until_s=200
    )
    p = pods(res)
    assert p["node"].notna().sum() == 1
    assert res.frames["timeseries"]["gpus_allocated"].max() == 8


def _zoned_pools() -> list[dict]:
    """zone-a: a 4-GPU and an 8-GPU node; zone-b: a 6-GPU node. Bin packing (fewest free
    GPUs first) spreads three 4-GPU pods over a-small, b, a-big."""
    return pools(
        {"name": "a-small", "count": 1, "gpus_per_node": 4, "labels": {ZONE: "zone-a"}},
        {"name": "b", "count": 1, "gpus_per_node": 6, "labels": {ZONE: "zone-b"}},
        {"name": "a-big", "count": 1, "gpus_per_node": 8, "labels": {ZONE: "zone-a"}},
    )


def test_topology_required_zone_keeps_roleset_in_one_zone(tmp_path: Path) -> None:
    zone_of = {"a-small-0": "zone-a", "a-big-0": "zone-a", "b-0": "zone-b"}
    plain = run(
        scenario(manifest([role("worker", 3, gpus=4)]), node_pools=_zoned_pools()), tmp_path
    )
    p = pods(plain)
    assert sorted(p["node"]) == ["a-big-0", "a-small-0", "b-0"]
    assert {zone_of[n] for n in p["node"]} == {"zone-a", "zone-b"}

    tp = {"scope": "RoleSet", "mode": "Required", "key": ZONE}
    svc = manifest([role("worker", 3, gpus=4)], topology_policy=tp)
    res = run(scenario(svc, node_pools=_zoned_pools()), tmp_path)
    p = pods(res)
    assert p["node"].notna().all()
    assert {zone_of[n] for n in p["node"]} == {"zone-a"}
    assert sorted(p["node"]) == ["a-big-0", "a-big-0", "a-small-0"]
    assert res.summary["pods_unscheduled_at_end"] == 0


# ----------------------------------------------------------------------------- samples


def _sample_cases() -> list[tuple[str, str | None]]:
    if not SAMPLES.is_dir():
        return [("<absent>", None)]
    out: list[tuple[str, str | None]] = []
    for f in sorted(SAMPLES.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)]
        names = [d["metadata"]["name"] for d in docs if d.get("kind") == "StormService"]
        if len(names) == 1:
            out.append((f.name, None))
        else:
            out.extend((f.name, n) for n in names)
    return out


@pytest.mark.parametrize(("filename", "service_name"), _sample_cases(), ids=lambda v: v or "-")
def test_every_sample_rolls_out(tmp_path: Path, filename: str, service_name: str | None) -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"AIBrix samples not found at {SAMPLES}")
    cluster = pools(
        {"name": "zone-a", "count": 4, "gpus_per_node": 8, "labels": {ZONE: "zone-a"}},
        {"name": "zone-b", "count": 4, "gpus_per_node": 8, "labels": {ZONE: "zone-b"}},
        prepulled=[],
    )
    data = {
        "name": f"sample-{filename}",
        "seed": 1,
        "cluster": {"node_pools": cluster},
        "timing": dict(TIMING),
        "service": {"manifest": str(SAMPLES / filename)},
        "events": [{"at_s": 300, "kind": "set_image", "image": "example.com/engine:v2"}],
    }
    if service_name is not None:
        data["service"]["name"] = service_name
    with warnings.catch_warnings():
        # samples with PodAutoscaler / Pod documents warn that those are skipped
        warnings.simplefilter("ignore", StormsimWarning)
        sc = load(data, tmp_path)
    old = set(role_hashes(sc.service.manifest.spec.template).values())
    res = stormsim.run(sc, seed=1)
    s = res.summary
    assert s["update_completed"] is True, (filename, service_name)
    assert s["update_ended_at_s"] > 300
    assert s["pods_unscheduled_at_end"] == 0
    # every live pod runs the new image's template (its hash changed)
    p = res.frames["pods"]
    live = p[p["gone_at_s"].isna() & p["deleted_at_s"].isna()]
    assert len(live) and not (set(live["template_hash"]) & old)
    st = res.frames["status"].iloc[-1]
    assert st["condition"] == "Ready" and st["current_revision"] == st["update_revision"]


def _sample_run(tmp_path: Path, filename: str) -> stormsim.RunResult:
    if not SAMPLES.is_dir():
        pytest.skip(f"AIBrix samples not found at {SAMPLES}")
    cluster = pools(
        {"name": "zone-a", "count": 4, "gpus_per_node": 8, "labels": {ZONE: "zone-a"}},
        {"name": "zone-b", "count": 4, "gpus_per_node": 8, "labels": {ZONE: "zone-b"}},
    )
    data = {
        "name": "sample",
        "seed": 1,
        "cluster": {"node_pools": cluster},
        "timing": dict(TIMING),
        "service": {"manifest": str(SAMPLES / filename)},
        "events": [{"at_s": 300, "kind": "set_image", "image": "example.com/engine:v2"}],
    }
    return run(data, tmp_path)


def test_sample_inplace_update_keeps_the_pod(tmp_path: Path) -> None:
    """The upstream in-place sample (InPlaceUpdate + InPlaceIfPossible, maxUnavailable 1):
    the image change restarts the one pod in place: no pod created or deleted after 300."""
    res = _sample_run(tmp_path, "orchestration__stormservice-inplace-update.yaml")
    p = pods(res)
    assert len(p) == 1 and p["deleted_at_s"].isna().all()
    patch = events(res, "patch", "Pod")
    assert list(patch["t_s"]) == [300.0] and list(patch["name"]) == list(p["pod"])
    assert (
        res.summary["update_ended_at_s"] == 300.0 + 15.0
    )  # restart: pull 0 s (TIMING) + load 10 s + init 5 s
    assert len(res.frames["rolesets"]) == 1


def test_sample_role_zone_required_keeps_each_role_in_one_zone(tmp_path: Path) -> None:
    res = _sample_run(tmp_path, "orchestration__topology-policy__role-zone-required.yaml")
    assert res.summary["update_completed"] is True
    p = pods(res)
    live = p[p["deleted_at_s"].isna()]
    zone = {f"zone-{z}-{i}": f"zone-{z}" for z in "ab" for i in range(4)}
    for r, grp in live.groupby("role"):
        assert grp["node"].map(zone).nunique() == 1, r
    # 3 RoleSets x (2 PodSets x 2 pods + 4 decode pods)
    assert len(live) == 3 * (2 * 2 + 4)
