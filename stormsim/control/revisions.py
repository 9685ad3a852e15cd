"""ControllerRevision bookkeeping: names, hashes, syncRevision, per-role revisions
and history truncation (docs/aibrix/revisions.md).

Bit-exact Go hashes are not reproducible (they hash Go struct dumps); we hash the canonical
JSON of the template with the same algorithm family (FNV-1 32-bit) and the same 6-character
"safe" encoding, so names look like AIBrix's (``llm-xpyd-69df6b``) and are stable across runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from stormsim.control.objects import (
    Action,
    CreateRevision,
    DeleteRevision,
    Revision,
    SetRevisionNumber,
)
from stormsim.schema.aibrix import PodTemplate, RoleSetTemplate

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_REVISION_HISTORY_LIMIT = 10


def fnv1_32(data: bytes) -> int:
    """FNV-1 (multiply, then xor), 32 bits."""
    h = 0x811C9DC5
    for b in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= b
    return h


def fnv1a_32(data: bytes) -> int:
    """FNV-1a (xor, then multiply), 32 bits."""
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode6(value: int) -> str:
    """AIBrix's short safe encoding: decimal digits of ``value`` mapped through the Kubernetes
    safe alphabet (index = character code mod 27), first 6 characters, left-padded with '0'."""
    s = "".join(SAFE_ALPHABET[ord(c) % 27] for c in str(value))
    return s[:6].rjust(6, "0")


def revision_hash(template: RoleSetTemplate, collision_count: int) -> str:
    """Hash of a template plus the decimal collision count (always appended)."""
    return _text_hash(template.canonical + str(collision_count))


@lru_cache(maxsize=1024)
def _text_hash(text: str) -> str:
    """FNV-1 of ``text``, 6 safe characters (kept: an autoscaler writes the same templates
    again and again)."""
    return safe_encode6(fnv1_32(text.encode()))


def revision_name(service: str, template: RoleSetTemplate, collision_count: int) -> str:
    return f"{service[:223]}-{revision_hash(template, collision_count)}"


_role_hash_cache: dict[str, str] = {}


def role_template_hash(template: PodTemplate) -> str:
    """``role-template-hash`` of a role's pod template (FNV-1a, 6 safe characters)."""
    key = json.dumps(template.dump(), sort_keys=True, separators=(",", ":"))
    h = _role_hash_cache.get(key)
    if h is None:
        h = _role_hash_cache[key] = safe_encode6(fnv1a_32(key.encode()))
    return h


def role_hashes(template: RoleSetTemplate) -> dict[str, str]:
    """``role-template-hash`` of each role (by the template's canonical JSON, which holds
    every role's pod template)."""
    key = template.canonical
    hashes = _role_hashes_cache.get(key)
    if hashes is None:
        if len(_role_hashes_cache) >= 1024:
            _role_hashes_cache.clear()
        hashes = _role_hashes_cache[key] = {
            r.name: role_template_hash(r.template) for r in template.spec.roles
        }
    return dict(hashes)


_role_hashes_cache: dict[str, dict[str, str]] = {}
"""Template canonical JSON -> its role hashes."""


def next_revision(revisions: Sequence[Revision]) -> int:
    """Highest revision number + 1 (1 when there is none); ``revisions`` sorted ascending."""
    return revisions[-1].revision + 1 if revisions else 1


def sort_revisions(revisions: Sequence[Revision]) -> list[Revision]:
    """Ascending ``revision``; ties: older first, then name."""
    return sorted(revisions, key=lambda r: (r.revision, r.created_at, r.name))


@dataclass(frozen=True)
class RevisionSync:
    current: Revision
    update: Revision
    collision_count: int
    actions: tuple[Action, ...]
    revisions: tuple[Revision, ...]
    """The revisions after this sync (new or bumped ones included), sorted ascending."""


def sync_revision(
    service: str,
    template: RoleSetTemplate,
    revisions: Sequence[Revision],
    current_revision_name: str,
    collision_count: int,
    now: float = 0.0,
) -> RevisionSync:
    """``syncRevision``.

    The newest revision identical to the live template is reused; an older identical one is
    a rollback (its number is bumped to the next one); otherwise a new revision is created,
    incrementing ``collision_count`` while its name is taken by different data. ``current``
    is found among the revisions as listed (pre-bump), ``revisions`` of the result are the
    revisions after the sync.
    """
    revs = sort_revisions(revisions)
    listed = revs
    number = next_revision(revs)
    actions: list[Action] = []
    data = template.canonical
    equal = [r for r in revs if r.data == data]
    if equal and equal[-1] is revs[-1]:
        update = revs[-1]
    elif equal:
        old = equal[-1]
        update = Revision(old.name, number, old.template, old.role_hashes, old.created_at)
        actions.append(SetRevisionNumber(old.name, number))
        revs = sort_revisions([update if r.name == old.name else r for r in revs])
    else:
        by_name = {r.name: r for r in revs}
        while True:
            name = revision_name(service, template, collision_count)
            existing = by_name.get(name)
            if existing is None:
                break
            if existing.data == data:  # pragma: no cover - caught by `equal` above
                break
            collision_count += 1
        update = Revision(name, number, template, role_hashes(template), now)
        actions.append(CreateRevision(update))
        revs = sort_revisions([*revs, update])
    # the current revision is looked up in the list as it was read, before any rollback
    # bump: when the rollback target is the current revision itself, ``current`` is the
    # pre-bump object (old number) while ``update`` carries the new one, so this pass writes
    # the old number into per-role revisions (``syncRevision`` in
    # pkg/controller/stormservice/revision.go searches the listed revisions, and
    # ``updateControllerRevision`` returns a bumped copy)
    current = next((r for r in listed if r.name == current_revision_name), update)
    return RevisionSync(current, update, collision_count, tuple(actions), tuple(revs))


def compute_role_revisions(
    current: Revision | None, update: Revision
) -> dict[str, tuple[int, str]]:
    """Per-role revision: the update revision for roles that are new or whose pod
    template hash changed, else the current revision."""
    out: dict[str, tuple[int, str]] = {}
    for role in update.template.spec.roles:
        h = update.role_hashes[role.name]
        if current is None or current.role_hashes.get(role.name) != h:
            out[role.name] = (update.revision, update.name)
        else:
            out[role.name] = (current.revision, current.name)
    return out


def truncate_history(revisions: Sequence[Revision], live: set[str], limit: int) -> list[Action]:
    """Delete non-live revisions oldest-first until at most ``limit`` remain."""
    non_live = [r for r in sort_revisions(revisions) if r.name not in live]
    excess = len(non_live) - limit
    return [DeleteRevision(r.name) for r in non_live[: max(0, excess)]]
