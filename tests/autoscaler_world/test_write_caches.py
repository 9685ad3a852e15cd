"""The caches on the PodAutoscaler controller's write path: a pooled-role write reuses the
template built for the same content, role and value, and never one built for another
template."""

from __future__ import annotations

from typing import Any

from stormsim.schema.aibrix import RoleSetTemplate
from stormsim.sim.autoscaling import TemplateCache, with_role_replicas


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
