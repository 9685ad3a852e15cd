"""ControllerRevision bookkeeping (spec §5, §8.6, §8.7, §8.9 hash encoding)."""

from __future__ import annotations

import re

import pytest

from stormsim.control.objects import CreateRevision, DeleteRevision, SetRevisionNumber
from stormsim.control.revisions import (
    DEFAULT_REVISION_HISTORY_LIMIT,
    compute_role_revisions,
    fnv1_32,
    fnv1a_32,
    next_revision,
    revision_hash,
    revision_name,
    role_hashes,
    role_template_hash,
    safe_encode6,
    sort_revisions,
    sync_revision,
    truncate_history,
)
from stormsim.schema.aibrix import RoleSetSpec, RoleSetTemplate

from .builders import revision, role, ss_spec, template

SAFE6 = re.compile(r"^[a-z0-9]{6}$")


# ----------------------------------------------------------------------------- hashing


def test_fnv_reference_vectors():
    assert fnv1_32(b"") == 0x811C9DC5
    assert fnv1_32(b"a") == 0x050C5D7E
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_safe_encoding_digit_mapping():
    # §5.2: digits 0-9 map to "4 5 6 7 8 9 b c d f"; first 6 characters kept
    assert safe_encode6(123456789) == "56789b"
    assert safe_encode6(9876543210) == "fdcb98"
    assert safe_encode6(1000000) == "544444"


@pytest.mark.parametrize("value", [0, 42, 43, 99999, 2**31, 2**32 - 1])
def test_safe_encoding_is_six_safe_chars_and_deterministic(value):
    # TestShortSafeEncodeString
    out = safe_encode6(value)
    assert SAFE6.match(out)
    assert safe_encode6(value) == out


def test_safe_encoding_differs_for_42_and_43():
    assert safe_encode6(42) != safe_encode6(43)


def test_revision_name_pattern_and_collision_count():
    t = template()
    name0 = revision_name("llm-xpyd", t, 0)
    assert re.match(r"^llm-xpyd-[a-z0-9]{6}$", name0)
    assert name0 == revision_name("llm-xpyd", t, 0)  # stable
    # §5.2: FNV-1 over (template bytes + decimal collision count), first 6 encoded digits
    for c in (0, 1, 10):
        assert revision_hash(t, c) == safe_encode6(fnv1_32(t.canonical.encode() + b"%d" % c))
    assert len({revision_hash(t, c) for c in range(100)}) > 1
    assert revision_hash(t, 0) != revision_hash(template(role(image="img:v2")), 0)
    long = "x" * 300
    assert revision_name(long, t, 0) == "x" * 223 + "-" + revision_hash(t, 0)


def test_role_hashes_follow_the_template_content():
    """Role hashes are kept by the template's content: an edited template (a new image, a
    role added) gets its own hashes, and a caller editing the returned dict changes nothing
    for the next one."""
    a = role_hashes(template(role("p", 1), role("d", 2)))
    assert a == {
        "p": role_template_hash(role("p", 1).template),
        "d": role_template_hash(role("d", 2).template),
    }
    a["p"] = "edited"
    again = role_hashes(template(role("p", 1), role("d", 2)))
    assert again["p"] == role_template_hash(role("p", 1).template)
    new_image = role_hashes(template(role("p", 1), role("d", 2, image="img:v2")))
    assert new_image["p"] == again["p"]
    assert new_image["d"] == role_template_hash(role("d", 2, image="img:v2").template)
    assert new_image["d"] != again["d"]
    added = role_hashes(template(role("p", 1), role("d", 2), role("x", 1)))
    assert set(added) == {"p", "d", "x"}


def test_role_template_hash_covers_the_pod_template_only():
    a = role("r", 1, image="img:v1")
    assert SAFE6.match(role_template_hash(a.template))
    assert role_template_hash(a.template) == role_template_hash(role("r", 5).template)
    assert role_template_hash(a.template) != role_template_hash(role("r", 1, image="v2").template)
    env = role("r", 1, env={"KEY2": "x"})
    assert role_template_hash(a.template) != role_template_hash(env.template)


# ----------------------------------------------------------------------------- §8.7


@pytest.mark.parametrize(("numbers", "expected"), [([], 1), ([5], 6), ([1, 3, 7], 8)])
def test_next_revision(numbers, expected):
    revs = [revision(f"r{n}", n) for n in numbers]
    assert next_revision(revs) == expected


def test_sort_revisions_by_number_then_age_then_name():
    a = revision("b", 2, created_at=5.0)
    b = revision("a", 2, created_at=5.0)
    c = revision("z", 2, created_at=1.0)
    d = revision("y", 1, created_at=9.0)
    assert [r.name for r in sort_revisions([a, b, c, d])] == ["y", "z", "a", "b"]


def test_sync_revision_a_no_revisions():
    t = template()
    s = sync_revision("svc", t, [], "", 0)
    assert s.current is s.update
    assert s.update.revision == 1
    assert s.update.name == revision_name("svc", t, 0)
    assert s.collision_count == 0
    assert s.actions == (CreateRevision(s.update),)
    assert [r.name for r in s.revisions] == [s.update.name]


def test_sync_revision_b_new_template_creates_revision_2():
    old = revision("test-rev-1", 1, template(role(image="img:v0")))
    t = template()
    s = sync_revision("svc", t, [old], "test-rev-1", 0)
    assert s.current is old
    assert s.update.revision == 2
    assert s.update.template == t
    assert s.update.name != "test-rev-1"
    assert s.actions == (CreateRevision(s.update),)
    assert [r.revision for r in s.revisions] == [1, 2]


def test_sync_revision_c_keeps_status_collision_count():
    t = template()
    s = sync_revision("svc", t, [], "", 1)
    assert s.update.revision == 1
    assert s.collision_count == 1
    assert s.update.name == revision_name("svc", t, 1)


def test_sync_revision_reuses_newest_identical_revision():
    t = template()
    r1 = revision("svc-old", 1, template(role(image="img:v0")))
    r2 = revision("svc-cur", 2, t)
    s = sync_revision("svc", t, [r2, r1], "svc-old", 0)
    assert s.update is r2
    assert s.current is r1
    assert s.actions == ()


def test_sync_revision_rollback_bumps_older_identical_revision():
    # §5.3: an older identical revision is bumped to the candidate number, same name
    ta, tb = template(role(image="img:a")), template(role(image="img:b"))
    r1, r2 = revision("svc-a", 1, ta), revision("svc-b", 2, tb)
    s = sync_revision("svc", ta, [r1, r2], "svc-b", 0)
    assert s.update.name == "svc-a"
    assert s.update.revision == 3
    assert s.current is r2
    assert s.actions == (SetRevisionNumber("svc-a", 3),)
    assert [(r.name, r.revision) for r in s.revisions] == [("svc-b", 2), ("svc-a", 3)]


def _first_free_count(t, taken, start=0):
    c = start
    while revision_name("svc", t, c) in taken:
        c += 1
    return c


def test_sync_revision_hash_collision_increments_count():
    # TestCreateControllerRevision: name exists with different data => retry with count + 1
    # until the name is free. With FNV-1 the count's last byte only moves the low bits, so
    # with 6 kept digits several consecutive counts can share a name (as upstream).
    t = template()
    squatter = revision(revision_name("svc", t, 0), 1, template(role(image="other")))
    s = sync_revision("svc", t, [squatter], squatter.name, 0)
    expected = _first_free_count(t, {squatter.name})
    assert expected >= 1
    assert s.collision_count == expected
    assert s.update.name == revision_name("svc", t, expected) != squatter.name
    assert s.update.revision == 2
    assert s.update.template == t
    assert s.current is squatter
    assert s.actions == (CreateRevision(s.update),)


def test_sync_revision_double_collision():
    t = template()
    sq0 = revision(revision_name("svc", t, 0), 1, template(role(image="o1")))
    c1 = _first_free_count(t, {sq0.name})
    sq1 = revision(revision_name("svc", t, c1), 2, template(role(image="o2")))
    s = sync_revision("svc", t, [sq0, sq1], "", 0)
    c2 = _first_free_count(t, {sq0.name, sq1.name}, c1)
    assert s.collision_count == c2 > c1
    assert s.update.name == revision_name("svc", t, c2)
    assert s.update.name not in (sq0.name, sq1.name)


def test_sync_revision_identical_data_under_taken_name_is_reused():
    # name exists with identical data => existing returned, count unchanged
    t = template()
    existing = revision(revision_name("svc", t, 0), 4, t)
    s = sync_revision("svc", t, [existing], existing.name, 0)
    assert s.update is existing
    assert s.collision_count == 0
    assert s.actions == ()


def test_sync_revision_current_falls_back_to_update_when_missing():
    t = template()
    r1 = revision("svc-x", 1, template(role(image="x")))
    s = sync_revision("svc", t, [r1], "svc-deleted", 0)
    assert s.current is s.update


def test_revision_excludes_non_template_fields():
    # §5.1: replicas, updateStrategy, paused do not create revisions
    a = ss_spec(3, 1, 1)
    b = ss_spec(7, "50%", 0, paused=True)
    assert a.template.canonical == b.template.canonical
    r = revision("svc-a", 1, a.template)
    assert sync_revision("svc", b.template, [r], "svc-a", 0).actions == ()
    # but a role's replicas is part of the template
    c = ss_spec(3, roles=[role("r", 2)])
    assert c.template.canonical != a.template.canonical


# ----------------------------------------------------------------------------- truncate


def test_truncate_history_limit_1_deletes_oldest_non_live():
    revs = [revision(f"rev{i}", i) for i in (3, 1, 2)]
    assert truncate_history(revs, set(), 1) == [DeleteRevision("rev1"), DeleteRevision("rev2")]


def test_truncate_history_never_deletes_live():
    revs = [revision(f"rev{i}", i) for i in (1, 2, 3, 4)]
    assert truncate_history(revs, {"rev4"}, 1) == [DeleteRevision("rev1"), DeleteRevision("rev2")]
    assert truncate_history(revs, {"rev1", "rev2"}, 1) == [DeleteRevision("rev3")]


def test_truncate_history_nothing_to_do():
    assert truncate_history([], set(), 1) == []
    revs = [revision(f"rev{i}", i) for i in range(1, 12)]
    assert truncate_history(revs, {"rev11"}, DEFAULT_REVISION_HISTORY_LIMIT) == []
    assert truncate_history(revs, set(), DEFAULT_REVISION_HISTORY_LIMIT) == [DeleteRevision("rev1")]
    assert len(truncate_history(revs, set(), 0)) == 11


# ----------------------------------------------------------------------------- §8.6


def _pd(prefill: str = "old-image:v1", decode: str = "decode:v1", **extra):
    roles = [role("prefill", 1, image=prefill), role("decode", 1, image=decode)]
    roles += [role(n, 1, image=img) for n, img in extra.items()]
    return template(*roles)


def test_role_revisions_prefill_image_change():
    cur = revision("test-ss-rev1", 1, _pd())
    upd = revision("test-ss-rev2", 2, _pd(prefill="new-image:v2"))
    assert compute_role_revisions(cur, upd) == {
        "prefill": (2, "test-ss-rev2"),
        "decode": (1, "test-ss-rev1"),
    }


def test_role_revisions_new_role_gets_update():
    cur = revision("test-ss-rev1", 1, _pd())
    upd = revision("test-ss-rev2", 2, _pd(**{"new-role": "x:v1"}))
    out = compute_role_revisions(cur, upd)
    assert out["new-role"] == (2, "test-ss-rev2")
    assert out["prefill"] == (1, "test-ss-rev1")


def test_role_revisions_no_current_means_update_for_all():
    upd = revision("test-ss-rev2", 2, _pd())
    assert compute_role_revisions(None, upd) == {
        "prefill": (2, "test-ss-rev2"),
        "decode": (2, "test-ss-rev2"),
    }


def test_role_revisions_update_without_roles_is_empty():
    # our RoleSetSpec requires a role; build the degenerate template directly
    spec = RoleSetSpec.model_construct(roles=[], update_strategy=None)
    tmpl = RoleSetTemplate.model_construct(metadata=None, spec=spec)
    upd = revision("u", 2, tmpl)
    assert compute_role_revisions(revision("c", 1), upd) == {}


def test_role_revisions_current_without_roles_gives_update():
    # "current template.spec nil": the current revision knows no role hashes
    cur = revision("c", 1, template(role("other")))
    upd = revision("u", 2, template(role("role1")))
    assert compute_role_revisions(cur, upd) == {"role1": (2, "u")}


def test_role_revisions_mixed_crs_5_6():
    cur = revision("cr5", 5, _pd())
    upd = revision("cr6", 6, _pd(prefill="p:v2", cache="cache:v1"))
    assert compute_role_revisions(cur, upd) == {
        "prefill": (6, "cr6"),
        "decode": (5, "cr5"),
        "cache": (6, "cr6"),
    }


def test_role_revisions_env_change():
    cur = revision("cr3", 3, template(role("worker", env={"KEY1": "a"})))
    upd = revision("cr4", 4, template(role("worker", env={"KEY1": "a", "KEY2": "b"})))
    assert compute_role_revisions(cur, upd) == {"worker": (4, "cr4")}


def test_role_revisions_identical_template_keeps_current():
    t = template(role("api"))
    cur = revision("cr10", 10, t)
    upd = revision("cr11", 11, t.model_copy(deep=True))
    assert compute_role_revisions(cur, upd) == {"api": (10, "cr10")}


def test_role_revisions_role_replicas_change_keeps_current():
    # §5.4: scaling a role without a pod template change keeps its old CR
    cur = revision("cr1", 1, template(role("prefill", 2), role("decode", 1)))
    upd = revision("cr2", 2, template(role("prefill", 4), role("decode", 1)))
    assert compute_role_revisions(cur, upd) == {"prefill": (1, "cr1"), "decode": (1, "cr1")}


def test_sync_revision_rollback_to_the_current_revision_keeps_its_old_number_in_current():
    """Rollback to the *current* revision (mid-rollout): ``syncRevision``
    (pkg/controller/stormservice/revision.go) bumps it through ``updateControllerRevision``,
    which returns a bumped copy as the update revision, but looks the current revision up in
    the revisions as listed: ``current`` is the same revision with its pre-bump number."""
    ta, tb = template(role(image="img:a")), template(role(image="img:b"))
    r1, r2 = revision("svc-a", 1, ta), revision("svc-b", 2, tb)
    s = sync_revision("svc", ta, [r1, r2], "svc-a", 0)
    assert (s.update.name, s.update.revision) == ("svc-a", 3)
    assert s.current is r1 and s.current.revision == 1
    # hence per-role revisions written in this pass carry the pre-bump number
    assert compute_role_revisions(s.current, s.update) == {"r": (1, "svc-a")}
    # the next pass lists the bumped revision: numbers are 3 from then on
    s2 = sync_revision("svc", ta, list(s.revisions), "svc-a", 0)
    assert s2.current.revision == s2.update.revision == 3
    assert s2.actions == ()
