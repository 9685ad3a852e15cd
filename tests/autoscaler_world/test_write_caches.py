"""The caches of the PodAutoscaler controller: a pooled-role write reuses the template built
for the same content, role and value, and never one built for another template; the pods by
role follow every pod write."""

from __future__ import annotations

from typing import Any

from stormsim.control.objects import evolve
from stormsim.schema.aibrix import RoleSetTemplate
from stormsim.sim.autoscaling import PodAutoscalerReconciler, TemplateCache, with_role_replicas
from stormsim.sim.store import POD
from stormsim.sim.world import World

from .helpers import autoscaler, scenario, service


def _template(prefill: int, decode: int, image: str = "vllm:1") -> RoleSetTemplate:
    def role(name: str, replicas: int) -> dict[str, Any]:
        return {
            "name": name,
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": name, "image": image}]}},
        }

    return RoleSetTemplate.model_validate(
        {
            "metadata": {"labels": {"app": "llm"}},
            "spec": {"roles": [role("prefill", prefill), role("decode", decode)]},
        }
    )


def _replicas(t: RoleSetTemplate) -> dict[str, int]:
    return {r.name: r.replicas for r in t.spec.roles}


def test_the_role_replicas_are_set_and_the_rest_kept() -> None:
    cache: TemplateCache = {}
    t = with_role_replicas(_template(2, 3), "decode", 7, cache)
    assert _replicas(t) == {"prefill": 2, "decode": 7}
    assert t.dump() == _template(2, 7).dump()
    assert t.canonical == _template(2, 7).canonical


def test_the_same_write_reuses_the_template() -> None:
    cache: TemplateCache = {}
    a = with_role_replicas(_template(2, 3), "decode", 7, cache)
    b = with_role_replicas(_template(2, 3), "decode", 7, cache)
    assert b is a
    assert len(cache) == 1


def test_another_template_is_not_served_from_the_cache() -> None:
    """The key is the template's content: the same role and value on a template that
    differs elsewhere (another role's replicas, an image) gives that template's edit."""
    cache: TemplateCache = {}
    with_role_replicas(_template(2, 3), "decode", 7, cache)
    other = with_role_replicas(_template(5, 3), "decode", 7, cache)
    assert _replicas(other) == {"prefill": 5, "decode": 7}
    image = with_role_replicas(_template(2, 3, image="vllm:2"), "decode", 7, cache)
    assert image.spec.roles[1].template.spec["containers"][0]["image"] == "vllm:2"
    other_role = with_role_replicas(_template(2, 3), "prefill", 7, cache)
    assert _replicas(other_role) == {"prefill": 7, "decode": 3}
    other_value = with_role_replicas(_template(2, 3), "decode", 8, cache)
    assert _replicas(other_value) == {"prefill": 2, "decode": 8}
    assert len(cache) == 5


def test_the_pods_by_role_follow_the_store() -> None:
    """The PodAutoscaler reads the pods of its role from an index rebuilt when the store's
    pods change: a pod created, updated (Ready) or removed shows at the next read."""
    sc = scenario(
        service(1, {"prefill": 2, "decode": 3}, mode="Pooled"),
        [autoscaler("APA", "1", 2, 8, role="decode")],
    )
    world = World(sc, 1)
    world.run(30.0)
    store = world.store
    rec = world.controllers["podautoscaler-controller"].reconcile
    assert isinstance(rec, PodAutoscalerReconciler)

    def names(role: str) -> list[str]:
        return [p.name for p in rec._role_pods(store, role)]

    decode = [p.name for p in store.pods.values() if p.role == "decode"]
    prefill = [p.name for p in store.pods.values() if p.role == "prefill"]
    assert len(decode) >= 2 and len(prefill) == 2
    assert names("decode") == decode and names("prefill") == prefill
    pod = store.pods[decode[0]]
    store.put(POD, evolve(pod, name="extra-decode", seq=10_000))
    assert names("decode") == [*decode, "extra-decode"]
    store.put(POD, evolve(pod, ready=not pod.ready))
    assert rec._role_pods(store, "decode")[0].ready is (not pod.ready)
    store.remove(POD, decode[1])
    assert names("decode") == [decode[0], *decode[2:], "extra-decode"]
    assert names("prefill") == prefill


def test_the_target_view_follows_the_stormservice() -> None:
    """The view of the target is kept for the StormService object last read: a write (a new
    object) is read afresh."""
    sc = scenario(service(2), [autoscaler("APA", "1", 2, 8)])
    world = World(sc, 1)
    world.run(5.0)
    rec = world.controllers["podautoscaler-controller"].reconcile
    assert isinstance(rec, PodAutoscalerReconciler)
    ss = world.store.stormservices["svc"]
    view = rec._view(ss)
    assert rec._view(ss) is view
    assert view.spec_replicas == 2
    scaled = evolve(ss, spec=ss.spec.model_copy(update={"replicas": 5}))
    assert rec._view(scaled).spec_replicas == 5
    assert rec._view(ss).spec_replicas == 2
