"""Issue 11: the role-revision number written after a rollback.

``syncRevision`` (``pkg/controller/stormservice/revision.go``) rolls back by bumping the old
ControllerRevision's number through ``updateControllerRevision``, which returns a bumped copy
as the update revision, but it finds the *current* revision in the revisions as listed
before the bump. When the rollback target is the current revision (a rollout to a new
template is still under way), ``computeRoleRevisions(current, update)``
(``pkg/controller/stormservice/utils.go``) gives every role the current CR, i.e. the pre-bump
number, so RoleSets created or updated in that pass carry ``role-revision.<role>`` = the old
number (and their pods the same ``role-revision`` label), although the CR now has the new one.

The numbers are not part of stormsim's output frames; this test reads the RoleSet objects of
the simulated API store at the end of the run.

Constant durations: Ready 16 s after creation.
"""

from __future__ import annotations

from pathlib import Path

from stormsim.sim.world import World
from tests.issue3.helpers import IMAGE_V2, load, manifest, role, scenario

T = 100.0


def test_rollback_to_current_writes_the_pre_bump_number(tmp_path: Path) -> None:
    """replicas 2, maxSurge 1 / maxUnavailable 0: the image change at T creates one surge
    RoleSet at revision 2; at T + 1 the service is scaled to 3 and rolled back to revision 1
    (still current) in the same instant. That pass bumps revision 1 to 3, deletes the
    not-ready revision-2 RoleSet and creates one RoleSet at the rolled-back revision,
    annotated with role revision number 1."""
    svc = manifest([role("decode", 1)], replicas=2, max_surge=1, max_unavailable=0)
    data = scenario(
        svc,
        [
            {"at_s": T, "kind": "set_image", "image": IMAGE_V2},
            {"at_s": T + 1, "kind": "scale", "replicas": 3},
            {"at_s": T + 1, "kind": "rollback", "to_revision": 1},
        ],
    )
    world = World(load(data, tmp_path), 1)
    world.run()
    revs = {r.name: r.revision for r in world.store.revisions.values()}
    (first,) = [name for name, n in revs.items() if n == 3]  # bumped from 1
    assert sorted(revs.values()) == [2, 3]
    rolesets = sorted(world.store.rolesets.values(), key=lambda r: r.seq)
    assert [(r.revision, r.created_at) for r in rolesets] == [
        (first, 0.0),
        (first, 0.0),
        (first, T + 1),
    ]
    assert [dict(r.role_revisions) for r in rolesets] == [{"decode": (1, first)}] * 3
    rec = world.recorder.events
    bump = [e for e in rec if e[3] == "ControllerRevision" and e[2] == "update"]
    assert [(e[0], e[6]) for e in bump] == [(T + 1, "revision 1 -> 3 (an earlier template again)")]
