"""In-memory API store: the objects of one simulated cluster, with watch notifications.

Objects are immutable snapshots (``stormsim.control.objects``); every write replaces the
object and notifies the listeners with ``(kind, old, new)`` (``new`` is ``None`` when the
object is gone). Deletion semantics follow Kubernetes: an object with a finalizer gets a
deletion timestamp (``deleting=True``) and disappears when its finalizer is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stormsim.control.objects import Pod, PodSet, Revision, RoleSet, StormServiceObj
from stormsim.control.revisions import SAFE_ALPHABET, fnv1a_32

Listener = Callable[[str, Any, Any], None]

SS, CR, RS, PS, POD = "StormService", "ControllerRevision", "RoleSet", "PodSet", "Pod"


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
        self.listeners: list[Listener] = []
        self._versions: dict[str, int] = dict.fromkeys((SS, CR, RS, PS, POD), 0)
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
        tables: dict[str, dict[str, Any]] = {
            SS: self.stormservices,
            CR: self.revisions,
            RS: self.rolesets,
            PS: self.podsets,
            POD: self.pods,
        }
        return tables[kind]

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
