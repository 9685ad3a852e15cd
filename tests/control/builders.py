"""Compact factories for the pure control layer's inputs (spec models and object snapshots).

Conventions follow the upstream Go tests restated in spec §8: a role template hash forced to
``new-hash`` (``NEW``) and pods carrying ``test-hash`` (``OLD``) being outdated.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from stormsim.control.objects import (
    FAILED,
    READY,
    RUNNING,
    Condition,
    Pod,
    Revision,
    RoleSet,
    RoleSetStatus,
    RoleStatus,
    StormServiceObj,
    StormServiceStatus,
)
from stormsim.control.revisions import role_hashes
from stormsim.control.roleset import RoleCtx
from stormsim.schema.aibrix import (
    IntOrPercent,
    RoleSetSpec,
    RoleSetTemplate,
    RoleSpec,
    StormServiceSpec,
)

NEW = "new-hash"
OLD = "test-hash"
SS_NAME = "svc"
LABELS = {"app": SS_NAME}

_seq = itertools.count(1)


# ----------------------------------------------------------------------------- spec models


def role(
    name: str = "r",
    replicas: int = 1,
    surge: IntOrPercent | None = None,
    unav: IntOrPercent | None = None,
    *,
    stateful: bool = False,
    order: int | None = None,
    image: str = "img:v1",
    env: Mapping[str, str] | None = None,
    group_size: int | None = None,
) -> RoleSpec:
    """A role with one container; ``surge``/``unav`` fill ``updateStrategy`` when given."""
    container: dict[str, Any] = {"name": "main", "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    data: dict[str, Any] = {
        "name": name,
        "replicas": replicas,
        "stateful": stateful,
        "template": {"spec": {"containers": [container]}},
    }
    if order is not None:
        data["upgradeOrder"] = order
    if group_size is not None:
        data["podGroupSize"] = group_size
    if surge is not None or unav is not None:
        us: dict[str, Any] = {"type": "Recreate"}
        if surge is not None:
            us["maxSurge"] = surge
        if unav is not None:
            us["maxUnavailable"] = unav
        data["updateStrategy"] = us
    return RoleSpec.model_validate(data)


def rs_spec(*roles: RoleSpec, strategy: str | None = None) -> RoleSetSpec:
    if not roles:
        roles = (role(),)
    return RoleSetSpec(roles=list(roles), update_strategy=strategy)


def template(
    *roles: RoleSpec, strategy: str | None = None, labels: Mapping[str, str] | None = None
) -> RoleSetTemplate:
    return RoleSetTemplate.model_validate(
        {
            "metadata": {"labels": dict(labels or LABELS)},
            "spec": rs_spec(*roles, strategy=strategy).dump(),
        }
    )


def ss_spec(
    replicas: int = 3,
    surge: IntOrPercent | None = None,
    unav: IntOrPercent | None = None,
    *,
    type: str = "RollingUpdate",
    paused: bool = False,
    roles: Iterable[RoleSpec] | None = None,
    strategy: str | None = None,
    history: int | None = None,
    image: str = "img:v1",
) -> StormServiceSpec:
    us: dict[str, Any] = {"type": type}
    if surge is not None:
        us["maxSurge"] = surge
    if unav is not None:
        us["maxUnavailable"] = unav
    tmpl = template(*(roles or (role(image=image),)), strategy=strategy)
    data: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(LABELS)},
        "template": tmpl.dump(),
        "updateStrategy": us,
        "paused": paused,
    }
    if history is not None:
        data["revisionHistoryLimit"] = history
    return StormServiceSpec.model_validate(data)


# ----------------------------------------------------------------------------- snapshots


def revision(
    name: str,
    number: int,
    tmpl: RoleSetTemplate | None = None,
    created_at: float = 0.0,
) -> Revision:
    tmpl = tmpl if tmpl is not None else template()
    return Revision(name, number, tmpl, role_hashes(tmpl), created_at)


def ready_cond(ready: bool = True) -> Condition:
    return Condition(READY, "True" if ready else "False")


def rs_status(ready: bool | None = True, roles: Iterable[RoleStatus] = ()) -> RoleSetStatus | None:
    """A RoleSet status with a Ready condition (``ready=None``: no condition at all)."""
    conds = () if ready is None else (ready_cond(ready),)
    return RoleSetStatus(tuple(roles), conds)


def rstat(name: str, *counts: int) -> RoleStatus:
    """RoleStatus from the spec's tuple notation replicas/ready/notReady/updated/updatedReady."""
    return RoleStatus(name, *counts)


def roleset(
    name: str,
    rev: str = "rev1",
    ready: bool | None = True,
    *,
    deleting: bool = False,
    spec: RoleSetSpec | None = None,
    hashes: Mapping[str, str] | None = None,
    status: RoleSetStatus | bool | None = True,
    roles: Iterable[RoleStatus] = (),
    created_at: float | None = None,
    finalizer: bool = True,
    index: int = 0,
) -> RoleSet:
    """A RoleSet at revision label ``rev``. ``ready`` sets the Ready condition; ``status=None``
    gives a RoleSet with no status at all (freshly created)."""
    spec = spec if spec is not None else rs_spec()
    if hashes is None:
        hashes = dict.fromkeys((r.name for r in spec.roles), NEW)
    seq = next(_seq)
    if status is True:
        st: RoleSetStatus | None = rs_status(ready, roles)
    elif status is False or status is None:
        st = None
    else:
        st = status
    return RoleSet(
        name,
        SS_NAME,
        rev,
        index,
        spec,
        hashes,
        {},
        float(seq) if created_at is None else created_at,
        seq,
        status=st,
        finalizer=finalizer,
        deleting=deleting,
    )


def pod(
    name: str | None = None,
    *,
    role: str = "r",
    hash: str = OLD,
    ready: bool = True,
    phase: str = RUNNING,
    deleting: bool = False,
    slot: int | None = None,
    roleset: str = "rs",
    created_at: float | None = None,
) -> Pod:
    seq = next(_seq)
    return Pod(
        name or f"pod-{seq}",
        roleset,
        role,
        hash,
        "rev",
        float(seq) if created_at is None else created_at,
        seq,
        slot=slot,
        phase=phase,
        ready=ready and phase == RUNNING,
        deleting=deleting,
    )


def pods(n: int, **kw: Any) -> list[Pod]:
    return [pod(**kw) for _ in range(n)]


def failed(**kw: Any) -> Pod:
    """What the upstream stateless tests call a "terminating" pod: phase Failed (spec §8.8)."""
    return pod(phase=FAILED, ready=False, **kw)


def ctx(r: RoleSpec, ps: Iterable[Pod], rs_name: str = "rs") -> RoleCtx:
    """A RoleCtx for role ``r`` of a RoleSet whose template hash for it is ``NEW``."""
    rset = roleset(rs_name, spec=rs_spec(r), hashes={r.name: NEW})
    return RoleCtx(rset, r, list(ps))


def ss_obj(
    spec: StormServiceSpec,
    status: StormServiceStatus | None = None,
    *,
    finalizer: bool = True,
    deleting: bool = False,
    generation: int = 1,
) -> StormServiceObj:
    return StormServiceObj(SS_NAME, spec, generation, status, finalizer, deleting)
