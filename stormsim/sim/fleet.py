"""The initial fleet of ``service.initial_state: ready``: at t = 0 the service is already
deployed at its first revision."""

from __future__ import annotations

from dataclasses import replace

from stormsim.control.objects import READY, PodSet, RoleSet
from stormsim.control.revisions import compute_role_revisions, sync_revision
from stormsim.control.roleset import roleset_status, stateful_pod_name
from stormsim.schema.aibrix import StormService
from stormsim.sim.actions import Actions
from stormsim.sim.store import PS, RS


def deploy_ready(manifest: StormService, actions: Actions) -> None:
    """RoleSets (and PodSets) with finalizers, every pod bound, its images cached on its node,
    Ready and routable, each RoleSet with its Ready status. The controllers then find nothing
    to do but write the StormService's status. Raises
    :class:`~stormsim.errors.InputError` when the fleet does not fit the cluster."""
    st = actions.store
    rec = actions.recorder
    pods = actions.pods
    ss_name = manifest.name
    sync = sync_revision(ss_name, manifest.spec.template, [], "", 0, 0.0)
    actions.apply("scenario", list(sync.actions))
    rev = st.revisions[sync.update.name]
    role_revs = compute_role_revisions(None, rev)
    for i in range(manifest.spec.replicas):
        name = st.generate_name(f"{ss_name}-roleset-")
        rs = RoleSet(
            name,
            ss_name,
            rev.name,
            i,
            rev.template.spec,
            rev.role_hashes,
            role_revs,
            0.0,
            st.next_seq(),
            finalizer=True,
        )
        rec.roleset(name, revision=rev.name, index=i, created_at_s=0.0)
        rec.event(0.0, "scenario", "create", RS, name, rev.name, "initial: ready")
        st.put(RS, rs)
        for role in rs.spec.roles:
            h = rev.role_hashes[role.name]
            revision = role_revs[role.name][1]
            for slot in range(max(0, role.replicas)):
                if role.group_size > 1:
                    ps_name = stateful_pod_name(rs.name, role.name, h, slot)
                    size = role.group_size
                    st.put(
                        PS,
                        PodSet(
                            ps_name,
                            rs.name,
                            role.name,
                            h,
                            revision,
                            slot,
                            size,
                            0.0,
                            st.next_seq(),
                            finalizer=True,
                            ready_pods=size,
                            total_pods=size,
                            phase=READY,
                            template=role.template,
                        ),
                    )
                    for k in range(size):
                        pods.create(
                            "scenario",
                            rs,
                            role,
                            f"{ps_name}-{k}",
                            h,
                            revision,
                            slot,
                            ps_name,
                            k,
                            ready=True,
                        )
                else:
                    pod_name = (
                        stateful_pod_name(rs.name, role.name, h, slot)
                        if role.stateful
                        else st.generate_name(f"{rs.name}-{role.name}-")
                    )
                    pods.create(
                        "scenario",
                        rs,
                        role,
                        pod_name,
                        h,
                        revision,
                        slot if role.stateful else None,
                        None,
                        None,
                        ready=True,
                    )
        # the status its RoleSet controller would have written: Ready from t = 0, so a rollout
        # that starts at once sees a Ready fleet (not one without status, i.e. not Ready)
        st.put(RS, replace(rs, status=roleset_status(rs, st.pods_of(name), st.podsets_of(name))))
