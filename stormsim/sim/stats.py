"""State counters, the time series and the object records the store's watch events produce.

:class:`Stats` keeps the counters incrementally (each object contributes a few named counts);
:class:`TimeSeries` snapshots them into the recorder, one row per instant at which they
changed; :class:`Observer` is the store listener that keeps both up to date and records when a
RoleSet became Ready and every StormService status write.
"""

from __future__ import annotations

from typing import Any

from stormsim.control.objects import Pod, RoleSet, StormServiceObj
from stormsim.sim.clock import Clock
from stormsim.sim.recorder import COUNTERS, Recorder
from stormsim.sim.store import POD, RS, SS, Store


class Stats:
    """State counters kept incrementally: each object contributes a few named counts; a write
    subtracts the old object's contribution and adds the new one's."""

    def __init__(self) -> None:
        self.c: dict[str, float] = {}
        self.seen: list[str] = []
        """Every counter ever touched, in order (``c`` drops revisions' counters at 0; the
        time series keeps their columns)."""
        self._seen: set[str] = set()
        self.contrib: dict[tuple[str, str], list[tuple[str, float]]] = {}
        self.update_revision = ""

    def _apply(self, items: list[tuple[str, float]], sign: float) -> None:
        c = self.c
        seen = self._seen
        for k, v in items:
            if k not in seen:
                seen.add(k)
                self.seen.append(k)
            n = c.get(k, 0.0) + sign * v
            if n == 0.0 and k.startswith("rev."):
                c.pop(k, None)  # a revision's counts back to 0: keep the dict to live ones
            else:
                c[k] = n

    def set(self, kind: str, name: str, items: list[tuple[str, float]] | None) -> None:
        key = (kind, name)
        old = self.contrib.pop(key, None)
        if old:
            self._apply(old, -1.0)
        if items:
            self._apply(items, 1.0)
            self.contrib[key] = items

    def roleset_items(self, rs: RoleSet) -> list[tuple[str, float]]:
        rev = rs.revision
        items = [("rolesets_total", 1.0)]
        if rs.deleting:
            items += [("rolesets_terminating", 1.0), (f"rev.{rev}.rolesets_terminating", 1.0)]
        else:
            if rs.ready:
                items += [("rolesets_ready", 1.0), (f"rev.{rev}.rolesets_ready", 1.0)]
            else:
                items.append((f"rev.{rev}.rolesets_starting", 1.0))
            if rev == self.update_revision:
                items.append(("rolesets_updated", 1.0))
        return items

    @staticmethod
    def pod_items(p: Pod) -> list[tuple[str, float]]:
        rev = p.revision
        items = [("pods_total", 1.0)]
        if p.deleting:
            items += [("pods_terminating", 1.0), (f"rev.{rev}.pods_terminating", 1.0)]
        elif p.ready:
            items += [
                ("pods_ready", 1.0),
                (f"role.{p.role}.pods_ready", 1.0),
                (f"rev.{rev}.pods_ready", 1.0),
            ]
        else:
            items.append((f"rev.{rev}.pods_starting", 1.0))
            if p.node is None:
                items.append(("pods_pending", 1.0))
                if p.gpus:
                    items.append(("gpus_pending", float(p.gpus)))
        if p.node is not None and p.gpus:
            items.append(("gpus_allocated", float(p.gpus)))
            if not p.deleting:
                items.append(("gpus_live", float(p.gpus)))
        return items


class TimeSeries:
    """The counters of one run and their time series in the recorder: a row holds the
    counters as they stood at the end of an instant (simulated seconds) at which they changed.

    Every change to ``stats.c`` must be preceded by :meth:`changing` (the store listener and
    :meth:`adjust` do this)."""

    def __init__(
        self, clock: Clock, recorder: Recorder, gpus_capacity: float, role_names: list[str]
    ):
        self.clock = clock
        self.recorder = recorder
        self.stats = Stats()
        c = self.stats.c
        for k in COUNTERS:
            c[k] = 0.0
        c["gpus_capacity"] = gpus_capacity
        c["replicas_desired"] = 0.0
        for r in role_names:
            c[f"role.{r}.pods_ready"] = 0.0
            c[f"role.{r}.pods_desired"] = 0.0
        recorder.sample(0.0, c)
        self._t = 0.0
        self._dirty = False

    def changing(self) -> None:
        """The state counters are about to change: if time moved on, the previous instant's
        final state is complete and gets its row (one row per instant)."""
        now = self.clock.now
        if now != self._t:
            self.flush()
            self._t = now
        self._dirty = True

    def flush(self) -> None:
        """Record the counters as they stood at the end of the last instant with changes."""
        if self._dirty:
            self.recorder.sample(self._t, self.stats.c, self.stats.seen)
            self._dirty = False

    def adjust(self, counter: str, delta: float) -> None:
        """Add ``delta`` to one counter now (e.g. ``gpus_capacity`` when a node is lost)."""
        self.changing()
        self.stats.c[counter] += delta


class Observer:
    """The store listener that keeps the counters and writes the object records."""

    def __init__(self, store: Store, series: TimeSeries, role_names: list[str]):
        self.store = store
        self.series = series
        self.recorder = series.recorder
        self.clock = series.clock
        self.role_names = role_names

    def on_change(self, kind: str, old: Any, new: Any) -> None:
        self.series.changing()
        stats = self.series.stats
        if kind == POD:
            obj = new if new is not None else old
            stats.set(POD, obj.name, stats.pod_items(new) if new is not None else None)
        elif kind == RS:
            obj = new if new is not None else old
            stats.set(RS, obj.name, stats.roleset_items(new) if new is not None else None)
            if new is not None and new.ready and not (old is not None and old.ready):
                rec = self.recorder.rolesets.get(obj.name)
                if rec is not None and rec["ready_at_s"] is None:
                    rec["ready_at_s"] = self.clock.now
        elif kind == SS and new is not None:
            self._on_ss(old, new)

    def _on_ss(self, old: StormServiceObj | None, new: StormServiceObj) -> None:
        stats = self.series.stats
        c = stats.c
        spec = new.spec
        c["replicas_desired"] = float(spec.replicas)
        for r in self.role_names:
            role = spec.template.spec.role(r)
            c[f"role.{r}.pods_desired"] = (
                float(spec.replicas * role.replicas * role.group_size) if role else 0.0
            )
        upd = new.status.update_revision if new.status else ""
        if upd != stats.update_revision:
            stats.update_revision = upd
            for rs in self.store.rolesets.values():
                stats.set(RS, rs.name, stats.roleset_items(rs))
        if new.status is not None and (old is None or old.status is not new.status):
            self.recorder.status_write(
                self.clock.now, new.generation, new.status, new.spec.paused, new.spec.replicas
            )
