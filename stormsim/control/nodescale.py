"""Node autoscaling decisions, as pure functions (no simulation): which pool to grow and by how
many nodes for the Pending pods, and which nodes to remove.

Two policies share the estimate:

* **cluster-autoscaler** (node groups): every scan, the unschedulable pods are bin-packed first
  onto the free room of the nodes that exist or are coming up, then onto hypothetical new
  nodes of each pool that has room below ``max_nodes``; the *expander* picks one pool and that
  many nodes are requested (:func:`plan_scale_up`). Scale-down (:func:`ca_scale_down`): a
  Ready node whose GPU utilisation (requested ÷ allocatable) is below the threshold and whose
  pods fit on the other Ready nodes is *unneeded*; once unneeded for the unneeded time, and no
  scale-up in the last ``delay_after_add`` nor a removal in the last ``delay_after_delete``,
  it is removed, never taking its pool below ``min_nodes``. Empty nodes go in bulk (up to
  ``max_empty_bulk_delete``), a node with pods one per scan.
* **Karpenter-like** (:func:`plan_provision`): the same estimate, repeated over pools until
  every Pending pod is covered or no pool has room (it launches nodes for the whole batch at
  once); consolidation (:func:`consolidate`) removes nodes empty (or, with
  ``WhenEmptyOrUnderutilized``, whose pods fit elsewhere) for ``consolidate_after``, within the
  disruption budget.

Simplifications (documented in the README's fidelity notes): bin-packing is first-fit
decreasing on the declared resources, ignores topology policies, and places a gang (PodGroup)
all or nothing; "can move" means fitting on the free room of the other Ready nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

GPU = "nvidia.com/gpu"

NodeState = Literal["launching", "initializing", "ready", "draining"]
"""``launching``: created, not Ready. ``initializing``: Ready, GPUs not allocatable yet.
``ready``: schedulable. ``draining``: being removed (cordoned, pods terminating)."""

Expander = Literal["random", "least-waste", "most-pods", "priority"]


@dataclass(frozen=True)
class PoolView:
    """One node pool: the capacity of each of its nodes and its bounds."""

    name: str
    capacity: Mapping[str, float]
    min_nodes: int
    max_nodes: int
    autoscaled: bool = True


class PodView(NamedTuple):
    """A pod as the autoscaler sees it: its requests and PodGroup (named tuples: a scan
    builds one per pod)."""

    name: str
    requests: Mapping[str, float]
    gang: str | None = None


class NodeView(NamedTuple):
    """One node: ``free`` room (whole capacity while not yet schedulable), its pods, state and
    ``since_s`` (when its set of pods last changed, or it became Ready)."""

    name: str
    pool: str
    state: NodeState
    capacity: Mapping[str, float]
    free: Mapping[str, float]
    pods: tuple[PodView, ...] = ()
    since_s: float = 0.0
    usable: bool = True
    """False for a node lost to a fault: it counts for its pool but offers no room."""


@dataclass(frozen=True)
class ScaleUp:
    pool: str
    nodes: int
    pods: tuple[str, ...]
    """The Pending pods the new nodes are for."""


def _fits(free: Mapping[str, float], req: Mapping[str, float]) -> bool:
    return all(free.get(k, 0.0) >= v for k, v in req.items() if k in free)


def _take(free: dict[str, float], req: Mapping[str, float]) -> None:
    for k, v in req.items():
        if k in free:
            free[k] -= v


def units(pods: Sequence[PodView]) -> list[list[PodView]]:
    """Pods grouped for packing: a PodGroup is one unit, any other pod its own; largest GPU
    total first, ties in the given order (first-fit decreasing)."""
    out: list[list[PodView]] = []
    by_gang: dict[str, list[PodView]] = {}
    for p in pods:
        if p.gang is None:
            out.append([p])
        elif p.gang in by_gang:
            by_gang[p.gang].append(p)
        else:
            by_gang[p.gang] = [p]
            out.append(by_gang[p.gang])
    order = {id(u): i for i, u in enumerate(out)}
    return sorted(out, key=lambda u: (-sum(p.requests.get(GPU, 0.0) for p in u), order[id(u)]))


def pack(
    pending: Sequence[list[PodView]],
    bins: list[dict[str, float]],
    new_node: Mapping[str, float] | None,
    max_new: int,
) -> tuple[list[PodView], int, list[list[PodView]]]:
    """First-fit of each unit into ``bins`` (free room, mutated), opening up to ``max_new`` new
    bins of ``new_node`` capacity (appended to ``bins``). A unit is placed whole or not at all.
    Returns (pods placed, new bins opened, units left over)."""
    placed: list[PodView] = []
    opened = 0
    left: list[list[PodView]] = []
    for unit in pending:
        trial = [dict(b) for b in bins]
        added = 0
        ok = True
        for p in unit:
            for b in trial:
                if _fits(b, p.requests):
                    _take(b, p.requests)
                    break
            else:
                if new_node is None or opened + added >= max_new or not _fits(new_node, p.requests):
                    ok = False
                    break
                b = dict(new_node)
                _take(b, p.requests)
                trial.append(b)
                added += 1
        if ok:
            bins[:] = trial
            opened += added
            placed.extend(unit)
        else:
            left.append(unit)
    return placed, opened, left


def _room(nodes: Sequence[NodeView]) -> list[dict[str, float]]:
    """Free room of the nodes that can take Pending pods now or once up (not draining)."""
    return [dict(n.free) for n in nodes if n.state != "draining" and n.usable]


def pool_counts(nodes: Sequence[NodeView]) -> dict[str, int]:
    """Nodes per pool that count against its bounds (not draining)."""
    out: dict[str, int] = {}
    for n in nodes:
        if n.state != "draining":
            out[n.pool] = out.get(n.pool, 0) + 1
    return out


@dataclass(frozen=True)
class Option:
    """What growing one pool would do: ``nodes`` new nodes placing ``pods``."""

    pool: str
    nodes: int
    pods: tuple[str, ...]
    waste: float
    """Unrequested GPU share of the new nodes (CPU share for GPU-less pools)."""
    order: int
    room: tuple[dict[str, float], ...] = ()
    """The new nodes' free room once those pods are on them."""


def options(
    pending: Sequence[PodView],
    pools: Sequence[PoolView],
    nodes: Sequence[NodeView],
    excluded: frozenset[str] = frozenset(),
) -> list[Option]:
    """The scale-up options: per autoscaled pool with room (and not ``excluded``, e.g. backing
    off), the new nodes the Pending pods need that the existing and upcoming room does not cover."""
    bins = _room(nodes)
    _, _, rest = pack(units(pending), bins, None, 0)
    if not rest:
        return []
    counts = pool_counts(nodes)
    out: list[Option] = []
    for i, pool in enumerate(pools):
        room = pool.max_nodes - counts.get(pool.name, 0)
        if not pool.autoscaled or pool.name in excluded or room <= 0:
            continue
        new_bins: list[dict[str, float]] = []
        placed, opened, _ = pack(rest, new_bins, pool.capacity, room)
        if not placed:
            continue
        key = GPU if pool.capacity.get(GPU, 0.0) > 0 else "cpu"
        cap = pool.capacity.get(key, 0.0) * opened
        used = sum(p.requests.get(key, 0.0) for p in placed)
        waste = (cap - used) / cap if cap > 0 else 0.0
        names = tuple(p.name for p in placed)
        out.append(Option(pool.name, opened, names, waste, i, tuple(new_bins)))
    return out


def expand(opts: Sequence[Option], expander: Expander, pick: Callable[[int], int]) -> Option:
    """The option the expander chooses. ``least-waste``: least unrequested GPU share, then most
    pods; ``most-pods``: most pods placed; ``priority``: first pool in the scenario's order;
    ``random``: ``pick(n)`` (an index below n) over the options in pool order. Ties in pool
    order."""
    if not opts:
        raise ValueError("no scale-up option")
    if expander == "least-waste":
        return min(opts, key=lambda o: (round(o.waste, 12), -len(o.pods), o.order))
    if expander == "most-pods":
        return min(opts, key=lambda o: (-len(o.pods), o.order))
    if expander == "priority":
        return min(opts, key=lambda o: o.order)
    if expander == "random":
        ordered = sorted(opts, key=lambda o: o.order)
        return ordered[pick(len(ordered))]
    raise ValueError(f"unknown expander {expander!r}")


def plan_scale_up(
    pending: Sequence[PodView],
    pools: Sequence[PoolView],
    nodes: Sequence[NodeView],
    expander: Expander,
    pick: Callable[[int], int],
    excluded: frozenset[str] = frozenset(),
) -> ScaleUp | None:
    """cluster-autoscaler: one scale-up (one pool) for the Pending pods, or None."""
    opts = options(pending, pools, nodes, excluded)
    if not opts:
        return None
    o = expand(opts, expander, pick)
    return ScaleUp(o.pool, o.nodes, o.pods)


def plan_provision(
    pending: Sequence[PodView],
    pools: Sequence[PoolView],
    nodes: Sequence[NodeView],
    excluded: frozenset[str] = frozenset(),
) -> list[ScaleUp]:
    """Karpenter-like: launch for the whole batch at once, the least-waste pool first, then the
    next for what is left, until every pod is covered or no pool has room."""
    planned: list[ScaleUp] = []
    view = list(nodes)
    left = list(pending)
    while left:
        opts = options(left, pools, view, excluded)
        if not opts:
            break
        o = expand(opts, "least-waste", lambda n: 0)
        planned.append(ScaleUp(o.pool, o.nodes, o.pods))
        cap = next(p.capacity for p in pools if p.name == o.pool)
        view += [
            NodeView(f"planned-{len(view)}-{k}", o.pool, "launching", cap, room)
            for k, room in enumerate(o.room)
        ]
        covered = set(o.pods)
        left = [p for p in left if p.name not in covered]
    return planned


# ----------------------------------------------------------------------------- scale-down
def utilization(node: NodeView) -> float:
    """Requested ÷ allocatable: GPUs on a GPU node, else the largest share of its other
    declared resources (0 when it declares none)."""
    cap = node.capacity
    keys = [GPU] if cap.get(GPU, 0.0) > 0 else [k for k in cap if cap[k] > 0]
    shares = [(cap[k] - node.free.get(k, 0.0)) / cap[k] for k in keys]
    return max(shares, default=0.0)


def movable(nodes: Sequence[NodeView], candidates: Sequence[NodeView]) -> list[NodeView]:
    """Of ``candidates`` (in order), those whose pods fit on the free room of the other Ready
    nodes, each accepted candidate's pods taking that room and its own room no longer offered
    (as the cluster-autoscaler simulates removing nodes one after another)."""
    ready = [n for n in nodes if n.state == "ready" and n.usable]
    room = {n.name: dict(n.free) for n in ready}
    gone: set[str] = set()
    out: list[NodeView] = []
    for n in candidates:
        others = [m.name for m in ready if m.name != n.name and m.name not in gone]
        trial = [dict(room[m]) for m in others]
        if n.pods:
            _, _, left = pack(units(n.pods), trial, None, 0)
            if left:
                continue
        room.update(zip(others, trial, strict=True))
        gone.add(n.name)
        out.append(n)
    return out


def removable(
    nodes: Sequence[NodeView],
    candidates: Sequence[NodeView],
    pools: Sequence[PoolView],
    limit_empty: int,
    limit_busy: int,
) -> list[str]:
    """Of ``candidates`` (movable, in order), those to remove now: the empty ones (up to
    ``limit_empty``), or if none, up to ``limit_busy`` with pods; never taking a pool below
    ``min_nodes``."""
    counts = pool_counts(nodes)
    mins = {p.name: p.min_nodes for p in pools}
    out: list[str] = []
    for busy, limit in ((False, limit_empty), (True, limit_busy)):
        for n in candidates:
            if len(out) >= limit:
                break
            if bool(n.pods) != busy or counts[n.pool] <= mins.get(n.pool, 0):
                continue
            counts[n.pool] -= 1
            out.append(n.name)
        if out:
            break
    return out


@dataclass
class CaState:
    """What the cluster-autoscaler remembers between scans."""

    unneeded_since: dict[str, float] = field(default_factory=dict)
    last_scale_up_s: float = -math.inf
    last_delete_s: float = -math.inf


@dataclass(frozen=True)
class CaScaleDown:
    unneeded_time_s: float = 600.0
    delay_after_add_s: float = 600.0
    delay_after_delete_s: float = 10.0
    threshold: float = 0.5
    max_empty_bulk_delete: int = 10


def ca_scale_down(
    state: CaState,
    nodes: Sequence[NodeView],
    pools: Sequence[PoolView],
    now: float,
    cfg: CaScaleDown,
) -> list[str]:
    """One scan's scale-down: updates ``state.unneeded_since`` and returns the nodes to remove.
    A node of an autoscaled pool is unneeded while Ready, below the utilisation threshold and
    its pods fit on the other Ready nodes (each candidate's pods taking room in turn)."""
    scaled = {p.name for p in pools if p.autoscaled}
    low = [
        n
        for n in nodes
        if n.pool in scaled and n.state == "ready" and n.usable and utilization(n) < cfg.threshold
    ]
    unneeded = movable(nodes, low)
    state.unneeded_since = {n.name: state.unneeded_since.get(n.name, now) for n in unneeded}
    if now - state.last_scale_up_s < cfg.delay_after_add_s:
        return []
    if now - state.last_delete_s < cfg.delay_after_delete_s:
        return []
    ripe = [n for n in unneeded if now - state.unneeded_since[n.name] >= cfg.unneeded_time_s]
    out = removable(nodes, ripe, pools, cfg.max_empty_bulk_delete, 1)
    if out:
        state.last_delete_s = now
        for k in out:
            state.unneeded_since.pop(k, None)
    return out


def budget(pool_nodes: int, frac: float) -> int:
    """Karpenter's disruption budget as a node count: ``frac`` of the pool's nodes, rounded up."""
    return math.ceil(pool_nodes * frac - 1e-9)


def consolidate(
    nodes: Sequence[NodeView],
    pools: Sequence[PoolView],
    now: float,
    consolidate_after_s: float,
    underutilized: bool,
    budget_frac: float,
) -> list[str]:
    """Karpenter-like consolidation: Ready nodes of autoscaled pools whose pods have not changed
    for ``consolidate_after_s`` and that are empty (or, ``underutilized``, whose pods fit on
    the other Ready nodes) are removed, empty ones all at once, else one; per pool at most the
    disruption budget (minus nodes already draining) and never below ``min_nodes``."""
    scaled = {p.name for p in pools if p.autoscaled}
    total = pool_counts(nodes)
    draining: dict[str, int] = {}
    for n in nodes:
        if n.state == "draining":
            draining[n.pool] = draining.get(n.pool, 0) + 1
    allowed = {
        p: budget(total.get(p, 0) + draining.get(p, 0), budget_frac) - draining.get(p, 0)
        for p in scaled
    }
    cands = [
        n
        for n in nodes
        if n.pool in scaled
        and n.state == "ready"
        and n.usable
        and now - n.since_s >= consolidate_after_s
        and (underutilized or not n.pods)
    ]
    out: list[str] = []
    for pool in sorted(scaled):
        mine = [n for n in cands if n.pool == pool]
        k = allowed[pool]
        if k <= 0 or not mine:
            continue
        # emptiest first (fewest GPUs requested), ties in node order
        mine.sort(key=utilization)
        out += removable(nodes, movable(nodes, mine), pools, k, min(k, 1) if underutilized else 0)
    return out
