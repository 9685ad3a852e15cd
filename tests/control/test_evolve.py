"""``evolve``: the copy-with-changes of the controllers' objects equals
``dataclasses.replace`` (derived fields recomputed, unknown fields refused)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stormsim.control.objects import (
    READY,
    Condition,
    Pod,
    RoleSetStatus,
    StormServiceStatus,
    evolve,
)

from .builders import roleset


@given(
    ready=st.booleans(),
    deleting=st.booleans(),
    node=st.none() | st.text(max_size=5),
    restarts=st.integers(0, 5),
)
def test_a_pod_copy_equals_replace(
    ready: bool, deleting: bool, node: str | None, restarts: int
) -> None:
    pod = Pod("p", "rs", "decode", "h1", "rev1", 2.0, 7, slot=3, gpus=1, images=("img",))
    changes: dict[str, Any] = {
        "ready": ready,
        "deleting": deleting,
        "node": node,
        "restart_count": restarts,
    }
    new = evolve(pod, **changes)
    assert new == replace(pod, **changes)
    assert type(new) is Pod
    expected = replace(pod, **changes)
    assert all(getattr(new, f.name) == getattr(expected, f.name) for f in fields(Pod))
    assert pod.ready is False and pod.node is None  # the original is untouched


def test_statuses_and_conditions() -> None:
    c = Condition(READY, "True", "AllRolesReady", "ok")
    assert evolve(c, message="") == Condition(READY, "True", "AllRolesReady", "")
    s = StormServiceStatus()
    assert evolve(s, replicas=3) == replace(s, replicas=3)


def test_derived_fields_are_recomputed() -> None:
    """A RoleSet derives ``ready`` from its status in ``__post_init__``: its copy runs it."""
    rs = roleset("rs-a", ready=True)
    assert rs.ready
    not_ready = evolve(rs, status=RoleSetStatus())
    assert not not_ready.ready
    assert not_ready == replace(rs, status=RoleSetStatus())


def test_an_unknown_field_is_refused() -> None:
    pod = Pod("p", "rs", "decode", "h1", "rev1", 2.0, 7)
    with pytest.raises(TypeError, match="no field 'redy'"):
        evolve(pod, redy=True)
    with pytest.raises(TypeError):
        evolve(roleset("rs-a"), redy=True)
