"""The per-role convergence predicate of the settle test (``control.convergence``), mirroring
the syncers' ``AllReady`` in ``pkg/controller/roleset/rolesyncer.go``."""

from __future__ import annotations

from dataclasses import replace

from stormsim.control.convergence import role_converged
from stormsim.control.objects import PodSet

from .builders import NEW, pod, role


def test_stateless_needs_replicas_ready_pods_of_the_hash() -> None:
    r = role("r", 2)
    assert role_converged(r, NEW, [pod(hash=NEW), pod(hash=NEW)])
    assert not role_converged(r, NEW, [pod(hash=NEW)])
    assert not role_converged(r, NEW, [pod(hash=NEW), pod()])  # outdated
    assert not role_converged(r, NEW, [pod(hash=NEW), pod(hash=NEW, ready=False)])
    # terminating extras are ignored
    assert role_converged(r, NEW, [pod(hash=NEW), pod(hash=NEW), pod(deleting=True)])


def test_mid_in_place_update_is_not_converged() -> None:
    r = role("r", 1)
    assert not role_converged(r, NEW, [replace(pod(hash=NEW), in_place_target="other")])


def test_stateful_pods_without_slot_are_not_converged() -> None:
    """After a stateless -> stateful switch the pods keep the template hash but have no
    ``role-replica-index``: ``StatefulRoleSyncer.Scale`` deletes them, ``AllReady`` is false."""
    r = role("r", 2, stateful=True)
    assert not role_converged(r, NEW, [pod(hash=NEW), pod(hash=NEW)])
    assert role_converged(r, NEW, [pod(hash=NEW, slot=0), pod(hash=NEW, slot=1)])
    assert not role_converged(r, NEW, [pod(hash=NEW, slot=0), pod(hash=NEW, slot=0)])
    assert not role_converged(r, NEW, [pod(hash=NEW, slot=0), pod(hash=NEW, slot=2)])


def test_stateless_role_ignores_slots() -> None:
    """stateful -> stateless: slot annotations are harmless to the Stateless syncer."""
    assert role_converged(role("r", 2), NEW, [pod(hash=NEW, slot=0), pod(hash=NEW, slot=1)])


def test_podset_role_counts_ready_podsets() -> None:
    r = role("g", 1, group_size=2)

    def ps(phase: str) -> PodSet:
        return PodSet("ps", "rs", "g", NEW, "rev", 0, 2, 0.0, 1, phase=phase)

    assert role_converged(r, NEW, [ps("Ready")])
    assert not role_converged(r, NEW, [ps("Running")])
