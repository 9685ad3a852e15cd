"""Append-only records written by the simulated world. Plain Python only (no pandas).

The world calls these methods at every state change; :mod:`stormsim.metrics.frames` turns the
records into DataFrames. All times are seconds of simulated time.
"""

from __future__ import annotations

from typing import Any

COUNTERS = (
    "rolesets_total",
    "rolesets_ready",
    "rolesets_updated",
    "rolesets_terminating",
    "pods_total",
    "pods_ready",
    "pods_pending",
    "pods_terminating",
    "gpus_allocated",
    "gpus_live",
    "gpus_pending",
    "gpus_capacity",
    "replicas_desired",
)
"""The fixed state counters the world keeps (time-series columns, in this order)."""

POD_FIELDS = (
    "pod",
    "roleset",
    "podset",
    "role",
    "revision",
    "template_hash",
    "slot",
    "node",
    "gpus",
    "created_at_s",
    "scheduled_at_s",
    "ready_at_s",
    "routable_at_s",
    "deleted_at_s",
    "gone_at_s",
    "uid",
)
ROLESET_FIELDS = (
    "roleset",
    "revision",
    "index",
    "created_at_s",
    "ready_at_s",
    "deleted_at_s",
    "gone_at_s",
    "uid",
)
NODE_FIELDS = (
    "node",
    "pool",
    "gpus",
    "origin",
    "created_at_s",
    "ready_at_s",
    "gpus_ready_at_s",
    "deleted_at_s",
    "gone_at_s",
    "uid",
)
"""The ``nodes`` frame (recorded with a node autoscaler only)."""
EVENT_FIELDS = ("t_s", "source", "verb", "kind", "name", "revision", "detail", "uid")
REVISION_FIELDS = ("name", "revision", "created_at_s", "deleted_at_s", "uid")
"""Every object frame has a ``uid``: objects are recorded by identity, so an object re-created
under an old name (a stateful pod, a ControllerRevision after the history limit) is a new row.
A ``uid`` is ``<kind>-<n>``, ``n`` counting that kind's creations from 0 in creation order."""

UID_KINDS = {
    "Pod": "pods",
    "RoleSet": "rolesets",
    "ControllerRevision": "revisions",
    "Node": "nodes",
}
"""Event kinds whose ``uid`` the recorder knows (the object frames)."""
STATUS_FIELDS = (
    "t_s",
    "observed_generation",
    "generation",
    "replicas",
    "ready_replicas",
    "not_ready_replicas",
    "current_replicas",
    "updated_replicas",
    "updated_ready_replicas",
    "current_revision",
    "update_revision",
    "condition",
    "reason",
    "conditions",
    "paused",
    "spec_replicas",
)
AUTOSCALING_FIELDS = (
    "t_s",
    "autoscaler",
    "target",
    "role",
    "strategy",
    "profile",
    "metric",
    "target_value",
    "value",
    "stable",
    "panic",
    "recommendation",
    "desired",
    "current",
    "ready",
    "min_replicas",
    "max_replicas",
    "reason",
    "should_scale",
    "written",
    "target_replicas",
    "written_replicas",
    "scrape_s",
    "error",
)
"""One row per PodAutoscaler reconcile (KPA/APA) or HPA sync and metric source (see the
README's output reference, ``autoscaling``)."""
ROLE_STATUS_FIELDS = (
    "replicas",
    "ready_replicas",
    "not_ready_replicas",
    "updated_replicas",
    "updated_ready_replicas",
)


class Recorder:
    """Collects the raw records of one run.

    ``counters`` is a live mapping of named state counters (kept by the world); ``sample(t)``
    snapshots it as one time-series row, replacing the previous row when ``t`` is unchanged,
    so the series has one row per instant at which the state changed.
    """

    def __init__(self) -> None:
        self.columns: list[str] = []
        self._col_index: dict[str, int] = {}
        self.rows_t: list[float] = []
        self.rows: list[dict[str, float]] = []
        self._seen_n = 0
        self.pods: dict[str, dict[str, Any]] = {}
        """Name -> record of the latest pod of that name (records of earlier pods of the same
        name are in ``pod_records`` only)."""
        self.rolesets: dict[str, dict[str, Any]] = {}
        self.events: list[tuple[Any, ...]] = []
        self.revisions: dict[str, dict[str, Any]] = {}
        self.pod_records: list[dict[str, Any]] = []
        """Every pod ever created, in creation order (one record per object)."""
        self.roleset_records: list[dict[str, Any]] = []
        self.revision_records: list[dict[str, Any]] = []
        self.status: list[tuple[Any, ...]] = []
        self.status_roles: list[dict[str, int]] = []
        self.template_changes: list[tuple[float, int | None, str, int]] = []
        """(t, event index, action, position in ``settled_changes`` when it happened)."""
        self.settled_changes: list[tuple[float, bool]] = []
        self.warnings: list[str] = []
        self.autoscaling: list[tuple[Any, ...]] = []
        """Rows of :data:`AUTOSCALING_FIELDS`."""
        self.requests: list[Any] = []
        self.nodes: dict[str, dict[str, Any]] = {}
        self.node_records: list[dict[str, Any]] = []
        self.nodes_tracked = False
        """Whether nodes are recorded (a node autoscaler runs): the ``nodes`` frame exists."""
        """Request objects of the serving data plane, in arrival order (read at frame time)."""

    # time series -----------------------------------------------------------------------
    def sample(self, t: float, counters: dict[str, float], seen: list[str] | None = None) -> None:
        """A row of the counters at ``t``, kept sparse (the non-zero ones: a long autoscaled
        run has thousands of revisions, each with its own counters, nearly all 0 at any
        instant); ``columns`` lists every counter ever seen (``seen``: counters touched so far,
        also those back at 0 and left out of ``counters``), in order of appearance."""
        idx = self._col_index
        if seen is not None:
            for k in seen[self._seen_n :]:  # (append-only: only the new ones)
                if k not in idx:
                    idx[k] = len(self.columns)
                    self.columns.append(k)
            self._seen_n = len(seen)
        for k in counters:
            if k not in idx:
                idx[k] = len(self.columns)
                self.columns.append(k)
        row = {k: v for k, v in counters.items() if v}
        if self.rows and self.rows[-1] == row:
            return  # nothing changed: no new row
        if self.rows_t and self.rows_t[-1] == t:
            self.rows[-1] = row
            if len(self.rows) > 1 and self.rows[-2] == row:
                self.rows.pop()  # the instant ended where it started
                self.rows_t.pop()
        else:
            self.rows_t.append(t)
            self.rows.append(row)

    # objects ---------------------------------------------------------------------------
    def pod(self, name: str, **fields: Any) -> None:
        """Update the pod ``name``; ``created_at_s`` among ``fields`` means a new pod."""
        self._object(self.pods, self.pod_records, "pod", POD_FIELDS, "pod", name, fields)

    def roleset(self, name: str, **fields: Any) -> None:
        """Update the RoleSet ``name``; ``created_at_s`` among ``fields`` means a new one."""
        self._object(
            self.rolesets, self.roleset_records, "roleset", ROLESET_FIELDS, "roleset", name, fields
        )

    def node(self, name: str, **fields: Any) -> None:
        """Update the node ``name``; ``created_at_s`` among ``fields`` means a new one."""
        self._object(self.nodes, self.node_records, "node", NODE_FIELDS, "node", name, fields)

    def revision(self, name: str, **fields: Any) -> None:
        """Update the ControllerRevision ``name``; ``created_at_s`` means a new one."""
        self._object(
            self.revisions, self.revision_records, "revision", REVISION_FIELDS, "name", name, fields
        )

    @staticmethod
    def _object(
        latest: dict[str, dict[str, Any]],
        records: list[dict[str, Any]],
        kind: str,
        fields_of: tuple[str, ...],
        key: str,
        name: str,
        fields: dict[str, Any],
    ) -> None:
        rec = latest.get(name)
        if rec is None or "created_at_s" in fields:
            rec = latest[name] = dict.fromkeys(fields_of)
            rec[key] = name
            rec["uid"] = f"{kind}-{len(records)}"
            records.append(rec)
        rec.update(fields)

    def event(
        self,
        t: float,
        source: str,
        verb: str,
        kind: str,
        name: str,
        revision: str = "",
        detail: str = "",
    ) -> None:
        objects = getattr(self, UID_KINDS[kind]) if kind in UID_KINDS else None
        rec = objects.get(name) if objects is not None else None
        uid = rec["uid"] if rec is not None else None
        self.events.append((t, source, verb, kind, name, revision, detail, uid))

    def status_write(
        self, t: float, generation: int, status: Any, paused: bool = False, replicas: int = 0
    ) -> None:
        """A StormService status write (what ``kubectl get stormservice -o yaml`` would show
        from then on), with the per-role counts of ``status.roleStatuses``."""
        cond = status.conditions[0] if status.conditions else None
        conds = ",".join(
            f"{c.type}={c.status}" + (f"/{c.reason}" if c.reason else "") for c in status.conditions
        )
        roles = {
            f"role.{r.name}.{f}": getattr(r, f)
            for r in status.role_statuses
            for f in ROLE_STATUS_FIELDS
        }
        self.status_roles.append(roles)
        self.status.append(
            (
                t,
                status.observed_generation,
                generation,
                status.replicas,
                status.ready_replicas,
                status.not_ready_replicas,
                status.current_replicas,
                status.updated_replicas,
                status.updated_ready_replicas,
                status.current_revision,
                status.update_revision,
                cond.type if cond else "",
                cond.reason if cond else "",
                conds,
                paused,
                replicas,
            )
        )

    def autoscale(self, t: float, **fields: Any) -> None:
        """One autoscaler decision row (the fields of :data:`AUTOSCALING_FIELDS`)."""
        fields["t_s"] = t
        self.autoscaling.append(tuple(fields[k] for k in AUTOSCALING_FIELDS))

    def settled(self, t: float, settled: bool) -> None:
        """The service became settled (done rolling) or stopped being so."""
        self.settled_changes.append((t, settled))

    def template_change(self, t: float, event_index: int | None, revision_hint: str) -> None:
        self.template_changes.append((t, event_index, revision_hint, len(self.settled_changes)))
