"""PodAutoscaler status bookkeeping and the conflict map (AIBrix
``podautoscaler_controller.go``: ``setStatus``, ``computeStatus``,
``checkNoMultiPodAutoscalerConflict``, ``buildScalingTargetKey``). Times in simulated
seconds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from stormsim.control.autoscaler.target import scaling_target_key
from stormsim.schema.autoscaler import PodAutoscaler

MAX_HISTORY = 5
"""Scaling-history records kept in the status."""
MIN_RECORD_INTERVAL_S = 5.0
"""``minScalingHistoryRecordInterval``: an unchanged record is appended at most this often."""


@dataclass(frozen=True)
class ScalingRecord:
    """One ``status.scalingHistory[]`` entry."""

    t_s: float
    previous: int
    new: int
    reason: str
    success: bool
    error: str | None = None


@dataclass(frozen=True)
class PaStatus:
    """The status fields decisions and reports use: ``actualScale``, ``desiredScale``, the
    scaling history (oldest first, at most 5), ``lastScaleTime`` (s; informational, no
    decision reads it)."""

    actual: int = 0
    desired: int = 0
    history: tuple[ScalingRecord, ...] = ()
    last_scale_s: float | None = None

    @property
    def scaling_active(self) -> bool:
        """``ScalingActive`` is True when desired and actual differ (as last written)."""
        return self.desired != self.actual


def set_status(
    prev: PaStatus,
    now_s: float,
    current: int,
    desired: int,
    *,
    rescale: bool,
    reason: str,
    success: bool,
    error: str | None = None,
    record_interval_s: float = MIN_RECORD_INTERVAL_S,
) -> PaStatus:
    """``setStatus``: actual = ``current``, desired = ``desired``; when rescaling or failing,
    a history record is appended if the history is empty, the last record is older than
    ``record_interval_s``, or the new scale, success or error differs (then
    ``lastScaleTime = now``, and the oldest of 5 records is dropped)."""
    st = replace(prev, actual=current, desired=desired)
    if not (rescale or not success):
        return st
    last = prev.history[-1] if prev.history else None
    if (
        last is None
        or now_s - last.t_s > record_interval_s
        or last.new != desired
        or last.success != success
        or last.error != error
    ):
        rec = ScalingRecord(now_s, current, desired, reason, success, error)
        hist = (*prev.history, rec)[-MAX_HISTORY:]
        st = replace(st, history=hist, last_scale_s=now_s)
    return st


Claims = Mapping[str, str]
"""Scaling-target key -> ``namespace/name`` of the PodAutoscaler that controls it."""


def claim_target(claims: Claims, pa: PodAutoscaler) -> tuple[Claims, str | None]:
    """``checkNoMultiPodAutoscalerConflict``: the first PodAutoscaler to reconcile claims its
    target key; a later one with the same key is in conflict (returns the owner's
    ``namespace/name``; it does not scale). A PodAutoscaler whose key changed releases its
    old claim."""
    key = scaling_target_key(pa)
    owner = claims.get(key)
    if owner is not None and owner != pa.key:
        return claims, owner
    if owner == pa.key and sum(1 for v in claims.values() if v == pa.key) == 1:
        return claims, None  # claimed already, and no old claim to release
    out = {k: v for k, v in claims.items() if v != pa.key}
    out[key] = pa.key
    return MappingProxyType(out), None


def release_claims(claims: Claims, pa_key: str) -> Claims:
    """A deleted PodAutoscaler releases its claim (``cleanupDeletedPA``)."""
    return MappingProxyType({k: v for k, v in claims.items() if v != pa_key})


def conflict_message(key: str, owner: str) -> str:
    """The ``MultiPodAutoscalerConflict`` condition message."""
    return (
        f"Scaling target {key} is already controlled by PodAutoscaler {owner}, it will not "
        "take effect"
    )
