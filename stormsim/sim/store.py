"""In-memory API store: the objects of one simulated cluster, with watch notifications.

Objects are immutable snapshots (``stormsim.control.objects``); every write replaces the
object and notifies the listeners with ``(kind, old, new)`` (``new`` is ``None`` when the
object is gone). Deletion semantics follow Kubernetes: an object with a finalizer gets a
deletion timestamp (``deleting=True``) and disappears when its finalizer is removed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from stormsim.control.objects import Pod, PodSet, Revision, RoleSet, StormServiceObj
from stormsim.control.revisions import SAFE_ALPHABET, fnv1a_32
from stormsim.sim.clock import Now

Listener = Callable[[str, Any, Any], None]

SS, CR, RS, PS, POD = "StormService", "ControllerRevision", "RoleSet", "PodSet", "Pod"
PA = "PodAutoscaler"


class Store:
    """Objects by kind and name, plus an index of pods by RoleSet."""

    def __init__(self) -> None:
        self.stormservices: dict[str, StormServiceObj] = {}
        self.revisions: dict[str, Revision] = {}
        self.rolesets: dict[str, RoleSet] = {}
        self.pods: dict[str, Pod] = {}
        self.pods_by_rs: dict[str, dict[str, Pod]] = {}
        """Direct pods of each RoleSet (PodSet members are indexed by PodSet instead)."""
        self.podsets: dict[str, PodSet] = {}
        self.podsets_by_rs: dict[str, dict[str, PodSet]] = {}
        self.pods_by_ps: dict[str, dict[str, Pod]] = {}
        self.autoscalers: dict[str, Any] = {}
        """PodAutoscalers by ``namespace/name`` (:class:`~stormsim.sim.autoscaling.PAObj`)."""
        self.listeners: list[Listener] = []
        self._tables: dict[str, dict[str, Any]] = {
            SS: self.stormservices,
            CR: self.revisions,
            RS: self.rolesets,
            PS: self.podsets,
            POD: self.pods,
            PA: self.autoscalers,
        }
        """The tables by kind (each dict above: they are updated in place, never replaced)."""
        self._versions: dict[str, int] = dict.fromkeys((SS, CR, RS, PS, POD, PA), 0)
        self._seq = 0
        self._names = 0

    def version(self, kind: str) -> int:
        """How many writes (puts and removes) objects of ``kind`` have had so far: a reader
        that caches something derived from them recomputes it when this changes."""
        return self._versions[kind]

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def generate_name(self, prefix: str, limit: int = 58) -> str:
        """``generateName``: ``prefix`` (cut to keep the result within ``limit``) plus five
        characters. Deterministic: derived from a per-store counter."""
        base = prefix[: limit - 5]
        while True:
            self._names += 1
            h = fnv1a_32(f"{prefix}{self._names}".encode())
            suffix = ""
            for _ in range(5):
                suffix += SAFE_ALPHABET[h % 27]
                h //= 27
            name = base + suffix
            if name not in self.pods and name not in self.rolesets:
                return name

    def _table(self, kind: str) -> dict[str, Any]:
        return self._tables[kind]

    def put(self, kind: str, obj: Any) -> None:
        table = self._table(kind)
        old = table.get(obj.name)
        table[obj.name] = obj
        self._versions[kind] += 1
        if kind == POD:
            self._index(obj).setdefault(self._owner(obj), {})[obj.name] = obj
        elif kind == PS:
            self.podsets_by_rs.setdefault(obj.roleset, {})[obj.name] = obj
        for fn in self.listeners:
            fn(kind, old, obj)

    def remove(self, kind: str, name: str) -> None:
        table = self._table(kind)
        old = table.pop(name, None)
        if old is None:
            return
        self._versions[kind] += 1
        index: dict[str, dict[str, Any]] | None = None
        if kind == POD:
            index, owner = self._index(old), self._owner(old)
        elif kind == PS:
            index, owner = self.podsets_by_rs, old.roleset
        if index is not None:
            by = index.get(owner)
            if by is not None:
                by.pop(name, None)
                if not by:
                    del index[owner]
        for fn in self.listeners:
            fn(kind, old, None)

    def get(self, kind: str, name: str) -> Any:
        """The object of ``kind`` named ``name``, or ``None``."""
        return self._table(kind).get(name)

    def values(self, kind: str) -> list[Any]:
        """Every object of ``kind``, in insertion (= creation) order."""
        return list(self._table(kind).values())

    def _index(self, pod: Pod) -> dict[str, dict[str, Pod]]:
        return self.pods_by_ps if pod.podset is not None else self.pods_by_rs

    @staticmethod
    def _owner(pod: Pod) -> str:
        return pod.podset if pod.podset is not None else pod.roleset

    def pods_of(self, roleset: str) -> list[Pod]:
        """Direct pods of a RoleSet."""
        return list(self.pods_by_rs.get(roleset, {}).values())

    def podsets_of(self, roleset: str) -> list[PodSet]:
        return list(self.podsets_by_rs.get(roleset, {}).values())

    def pods_of_podset(self, podset: str) -> list[Pod]:
        return list(self.pods_by_ps.get(podset, {}).values())


class LaggedView:
    """The store as an informer cache ``lag_s`` seconds behind sees it (read-only).

    It logs every write ``(t, kind, name, old)`` (as a store listener) and undoes, on each
    read, the writes of the last ``lag_s`` seconds: an object written in that window reads as
    it was before its first write there (absent if it did not exist). Lists keep creation
    order (``created_at``, ``seq``). Reads cost O(writes in the window); the log is pruned
    as time passes. Same read interface as :class:`Store` (``get``, ``values``, ``pods_of``,
    ``podsets_of``, ``pods_of_podset``).
    """

    def __init__(self, clock: Now, store: Store, lag_s: float):
        self.clock = clock
        self.store = store
        self.lag_s = lag_s
        self._log: deque[tuple[float, str, str, Any]] = deque()
        self._undo_at: tuple[float, int] | None = None
        self._undo: dict[tuple[str, str], Any] = {}
        store.listeners.append(self.on_change)

    def on_change(self, kind: str, old: Any, new: Any) -> None:
        obj = new if new is not None else old
        self._log.append((self.clock.now, kind, obj.name, old))

    def _undone(self) -> dict[tuple[str, str], Any]:
        """``(kind, name) -> cached object (None: absent)`` for the writes not yet seen."""
        now = self.clock.now
        log = self._log
        cutoff = now - self.lag_s
        while log and log[0][0] <= cutoff:
            log.popleft()
        stamp = (now, len(log))
        if self._undo_at != stamp:
            undo: dict[tuple[str, str], Any] = {}
            for _t, kind, name, old in log:
                undo.setdefault((kind, name), old)
            self._undo, self._undo_at = undo, stamp
        return self._undo

    def get(self, kind: str, name: str) -> Any:
        undo = self._undone()
        key = (kind, name)
        return undo[key] if key in undo else self.store.get(kind, name)

    def _fix(self, kind: str, current: list[Any], keep: Callable[[Any], bool]) -> list[Any]:
        undo = self._undone()
        if not undo:
            return current
        out = [o for o in current if (kind, o.name) not in undo]
        names = {o.name for o in current}
        for (k, name), old in undo.items():
            if k == kind and old is not None and (name in names or keep(old)):
                out.append(old)
        if kind == CR:
            return out
        out.sort(key=lambda o: (o.created_at, o.seq))
        return out

    def values(self, kind: str) -> list[Any]:
        return self._fix(kind, self.store.values(kind), lambda _o: True)

    def pods_of(self, roleset: str) -> list[Pod]:
        return self._fix(
            POD,
            self.store.pods_of(roleset),
            lambda p: p.roleset == roleset and p.podset is None,
        )

    def podsets_of(self, roleset: str) -> list[PodSet]:
        return self._fix(PS, self.store.podsets_of(roleset), lambda p: p.roleset == roleset)

    def pods_of_podset(self, podset: str) -> list[Pod]:
        return self._fix(POD, self.store.pods_of_podset(podset), lambda p: p.podset == podset)
