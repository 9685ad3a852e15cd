"""The serving data plane of one world: request source, gateway, engines, KV network.

The plane keeps its own calendar (a heap of ``(t, seq, fn, arg)``) plus the arrival cursor,
and drives it from SimPy with one timeout armed for the earliest entry, so every data-plane
callback runs at its simulated time, interleaved with the controllers and kubelet. Most
per-request work is plain function calls: an arrival, one prefill iteration (shared by its
batch), one KV-transfer completion; decode costs no events (see :mod:`.engines`).

The plane reads the cluster through narrow views (the store's pods, the nodes by name, the
ControllerRevisions with their change counter) and advances time only through
:meth:`~stormsim.sim.clock.Clock.advance_if_idle`. Hooks called by the pod lifecycle
(:class:`~stormsim.sim.pods.PodTraffic`): :meth:`pod_routable` (router registration done),
:meth:`pod_deleted` (deregistered at once; in-flight work continues through the grace
period), :meth:`pod_gone` and :meth:`pod_restarting` (whatever is left fails, or is retried
by the gateway while ``retries`` allow), and :meth:`finish` at the end of the run.
"""

from __future__ import annotations

import contextlib
import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any, Protocol

from stormsim.control.objects import Pod, PodSet, Revision
from stormsim.errors import InputError, Problem
from stormsim.perf.catalog import Catalog
from stormsim.perf.latency import kv_bytes_per_token
from stormsim.perf.multinode import InterNode
from stormsim.perf.registry import LatencyModel, build_latency_model
from stormsim.schema.scenario import Scenario
from stormsim.schema.serving import Engine, Serving
from stormsim.sim.clock import Clock
from stormsim.sim.cluster import Node
from stormsim.sim.longlived import LongLived
from stormsim.sim.serving.engines import (
    DECODE_WAIT,
    DONE,
    TRANSFER,
    DecodeEngine,
    KVPool,
    PrefillEngine,
    Request,
)
from stormsim.sim.serving.gateway import Gateway, Group
from stormsim.sim.serving.kvtransfer import Network
from stormsim.sim.serving.metrics import IDLE, EngineMeter, EngineSample
from stormsim.sim.serving.workload import RequestSource
from stormsim.sim.store import CR

INF = math.inf
_NONE: frozenset[str] = frozenset()


class RevisionView(Protocol):
    """The ControllerRevisions of the store (read only) and its write counters."""

    @property
    def revisions(self) -> Mapping[str, Revision]: ...
    @property
    def podsets(self) -> Mapping[str, PodSet]: ...
    def version(self, kind: str) -> int: ...


@dataclass
class PodInfo:
    name: str
    seq: int
    roleset: str
    role: str
    revision: str
    template_hash: str
    node: str
    gpu_type: str
    kind: str
    kv_tx_bytes: float
    gpus: int = 1
    nic_key: tuple[str, int] = field(init=False)
    """(name, GPUs): the pod's share of its node's NICs for the KV network."""

    def __post_init__(self) -> None:
        self.nic_key = (self.name, self.gpus)


class ColocatedPod:
    """A colocated engine: prefill and decode share the GPU (prefill first) and one KV pool."""

    def __init__(self, info: PodInfo, prefill: PrefillEngine, decode: DecodeEngine):
        self.info = info
        self.prefill = prefill
        self.decode = decode


@dataclass
class PodEntry:
    """One engine: a pod's, or a multi-node instance's (``members``: every member pod's name
    and creation ``seq``; the engine is named after its rank-0 pod)."""

    info: PodInfo
    prefill: PrefillEngine | None = None
    decode: DecodeEngine | None = None
    colocated: ColocatedPod | None = None
    registered: bool = True
    since: float = 0.0
    """When the engines were built (the pod became routable)."""
    members: dict[str, int] | None = None


def role_kind(role: str, gpus: int, serving: Serving) -> str:
    """``prefill``, ``decode``, ``colocated`` or ``none`` (pods without GPUs get no traffic)."""
    over = serving.roles.get(role)
    if over is not None and over.kind is not None:
        return over.kind
    if gpus <= 0:
        return "none"
    if role == "prefill":
        return "prefill"
    if role == "decode":
        return "decode"
    return "colocated"


class ServingPlane:
    def __init__(
        self,
        env: Clock,
        scenario: Scenario,
        seed: int,
        records: list[Any],
        pods: Mapping[str, Pod],
        nodes: Mapping[str, Node],
        revisions: RevisionView,
    ):
        """``records``: where the requests go, in arrival order (the recorder's
        ``requests``); ``pods``, ``nodes``, ``revisions``: read-only views of the cluster."""
        sc = scenario
        assert sc.workload is not None
        self.workload = sc.workload
        self.env = env
        self.pods_view = pods
        self.nodes = nodes
        self.revisions = revisions
        self.cfg: Serving = sc.serving if sc.serving is not None else Serving()
        self.catalog = Catalog(self.cfg)
        self.model = self.catalog.model(self.cfg.model)
        self.records: list[Request] = records
        self.retries = self.cfg.retries
        self.base_latency = self.cfg.kv_transfer.base_latency_s
        self.net = Network(self)
        self.gateway = Gateway(self, self.cfg.router, self.cfg.queue_timeout_s, seed)
        self.pods: dict[str, PodEntry] = {}
        self.all_pods: list[PodEntry] = []  # every engine ever built (tests, statistics)
        self._costs: dict[tuple[Any, ...], LatencyModel] = {}
        self._revs: set[str] = set()
        self._compat: dict[tuple[str, str], set[str]] = {}
        self._mixed_pairs: dict[tuple[str, str, str, str], bool] = {}
        self._mixed_version = -1
        self.heap: list[tuple[float, int, Any, Any]] = []
        self.due: list[tuple[float, int, DecodeEngine]] = []
        self._nvlink: dict[str, float] = {}
        self._group_sizes: dict[str, int] = {}
        for manifest in (sc.service.manifest, *(getattr(e, "manifest", None) for e in sc.events)):
            if manifest is not None:
                for spec in manifest.spec.template.spec.roles:
                    size = max(self._group_sizes.get(spec.name, 1), spec.group_size)
                    self._group_sizes[spec.name] = size
        self._members: dict[str, dict[int, Pod]] = {}
        """Routable member pods of each PodSet of a multi-node role, by ``pod-group-index``."""
        self._instances: dict[str, PodEntry] = {}
        """The multi-node instance of every member pod (rank 0 included) that has one."""
        self._seq = 0
        self._arms: list[float] = []
        self._draining = False
        self.n_timeouts = 0
        self.n_fast = 0
        self.n_entries = 0
        self.n_wakes = 0
        """Decode-engine wake-ups run (a KV admission retry at a batch change, while
        requests wait for decode KV or a colocated prefill waits for KV)."""
        self.n_arrived = 0
        self.n_done = 0
        """Requests that ended (completed or failed for good)."""
        self.meter = EngineMeter()
        self.source = RequestSource(sc.workload, seed)
        self.long_lived = LongLived()
        """Ticked at each block of arrivals (the world starts and stops it around a run)."""
        self._bt: list[float] = []
        self._bp: list[int] = []
        self._bo: list[int] = []
        self._bi = 0
        self.next_arrival = INF
        self._load_block()
        for pool in sc.cluster.node_pools:
            if pool.gpus_per_node > 0:
                self.catalog.gpu(pool.gpu_type, f"cluster.node_pools[{pool.name}].gpu_type")
        if self.next_arrival < INF:
            self._arm(self.next_arrival)

    # ------------------------------------------------------------------ calendar
    def at(self, t: float, fn: Any, arg: Any) -> None:
        """Call ``fn(arg)`` at simulated time ``t`` (>= now)."""
        self._seq += 1
        self.n_entries += 1
        heappush(self.heap, (t, self._seq, fn, arg))
        if not self._draining and (not self._arms or t < self._arms[0]):
            self._arm(t)

    def push_due(self, t: float, engine: DecodeEngine) -> None:
        """``engine`` has a membership change due at ``t`` (see :meth:`sync_due`)."""
        self._seq += 1
        heappush(self.due, (t, self._seq, engine))

    def sync_due(self, now: float) -> None:
        """Bring every decode engine with a change due by ``now`` up to date (the router
        reads their loads)."""
        due = self.due
        while due and due[0][0] <= now:
            t, _, e = heappop(due)
            if e._due_t == t:
                e._due_t = -1.0  # (it has no entry queued any more)
            if e.alive and e.next_t == t:
                e.sync(now)

    def _arm(self, t: float) -> None:
        self.n_timeouts += 1
        heappush(self._arms, t)
        self.env.timeout(max(0.0, t - self.env.now)).callbacks.append(self._fire)

    def _fire(self, _ev: Any) -> None:
        """Run every plane entry that is due, then keep going while the next one comes before
        any other SimPy event (advancing the clock to it: the same as a timeout, but without
        one per entry), and arm a timeout for the first entry after that. Entries run in
        (time, order of scheduling) order; at equal times a calendar entry runs before an
        arrival."""
        env = self.env
        advance = env.advance_if_idle
        arms = self._arms
        heap = self.heap
        fast = 0
        nxt = INF
        self._draining = True
        try:
            now = env.now
            while arms and arms[0] <= now:
                heappop(arms)
            while True:
                th = heap[0][0] if heap else INF
                ta = self.next_arrival
                nxt = th if th <= ta else ta
                if nxt > now:
                    if nxt == INF or not advance(nxt):
                        break  # no more entries, or a SimPy event comes first
                    fast += 1
                    now = nxt
                    while arms and arms[0] <= now:
                        heappop(arms)
                if th <= ta:
                    _, _, fn, arg = heappop(heap)
                    fn(arg)
                else:
                    self._arrive()
        finally:
            self._draining = False
            self.n_fast += fast
        if nxt < INF and (not arms or nxt < arms[0]):
            self._arm(nxt)

    def _load_block(self) -> None:
        self.long_lived.tick()
        blk = self.source.next_block()
        if blk is None:
            self.next_arrival = INF
            self._bt, self._bp, self._bo = [], [], []
        else:
            self._bt, self._bp, self._bo = blk
            self.next_arrival = self._bt[0] if self._bt else INF
        self._bi = 0

    def _arrive(self) -> None:
        i = self._bi
        r = Request(self.n_arrived, self._bt[i], self._bp[i], self._bo[i])
        self.n_arrived += 1
        i += 1
        if i < len(self._bt):
            self._bi = i
            self.next_arrival = self._bt[i]
        else:
            self._load_block()
        self.records.append(r)
        self.gateway.submit(r)

    # ------------------------------------------------------------------ request flow
    def dispatch(self, r: Request, g: Group, pe: PrefillEngine, de: DecodeEngine) -> None:
        """The gateway picked RoleSet ``g``, prefill ``pe`` and decode ``de`` for ``r``."""
        now = self.env.now
        pi, di = pe.info, de.info
        r.routed_at = now
        r.roleset = g.name
        r.prefill_pod = pi.name
        r.decode_pod = di.name
        r.prefill_rev = pi.revision
        r.decode_rev = di.revision
        r.local = pe.dec is de
        if not r.local and pi.revision != di.revision:
            r.mixed = self._mixed(pi, di)
        total = r.prompt + r.output
        if (total if pe.dec is not None else r.prompt) > pe.kv.cap or (
            not r.local and total > de.kv.cap
        ):
            self.fail(r, "too_long", retry=False)
            return
        r.de = de
        de.outstanding += 1
        if de.group is not None:
            de.group.dirty = True
            if de.outs is not None:
                de.outs[de.slot] += 1
        pe.submit(r)

    def prefill_done(self, r: Request) -> None:
        now = self.env.now
        r.prefill_end = now
        de = r.de
        if r.local:
            r.first_token = now
            if r.output <= 1:
                r.pe.kv.free(r.pkv)
                de.outstanding -= 1
                if de.group is not None:
                    de.group.dirty = True
                    if de.outs is not None:
                        de.outs[de.slot] -= 1
                self.complete(r, now)
                return
            de.enqueue(r)
            return
        if not de.alive:
            pe = r.pe
            if pe.alive and r.pkv:  # the prompt's KV is released with the attempt
                pe.kv.free(r.pkv)
                r.pkv = 0
            self.fail(r, "decode_pod_gone")
            return
        r.state = DECODE_WAIT
        r.pe.holding.add(r)
        de.enqueue(r)

    def start_transfer(self, r: Request, de: DecodeEngine) -> None:
        r.state = TRANSFER
        r.transfer_start = self.env.now
        pe = r.pe
        nbytes = r.prompt * pe.info.kv_tx_bytes
        r.flow = self.net.start(
            r,
            pe.node,
            de.node,
            nbytes,
            self._transferred,
            pe.info.nic_key,
            de.info.nic_key,
        )

    def _transferred(self, r: Request) -> None:
        now = self.env.now
        r.transfer_end = now
        r.flow = None
        pe = r.pe
        if pe.alive:
            pe.kv.used -= r.pkv
            pe.holding.discard(r)
        r.pkv = 0
        r.de.transferred(r, now + self.base_latency)
        if pe.alive and not pe.busy and pe.queue:
            pe.start()

    def complete(self, r: Request, t: float) -> None:
        r.ended_at = t
        r.outcome = "completed"
        r.state = DONE
        self.n_done += 1

    def fail(self, r: Request, reason: str, retry: bool = True) -> None:
        """End the current attempt of ``r``: release what it holds, then retry it at the
        gateway if allowed, else mark it failed."""
        if r.state == DONE:
            return
        self._release(r)
        if retry and r.retries < self.retries:
            r.retries += 1
            r.reset()
            self.gateway.submit(r)
            return
        r.state = DONE
        r.outcome = "failed"
        r.reason = reason
        r.ended_at = self.env.now
        self.n_done += 1

    def _release(self, r: Request) -> None:
        """Give back what the attempt of ``r`` holds, and retry the admission of whatever
        waits for it (KV cache and batch slots on the surviving engines)."""
        st = r.state
        pe: PrefillEngine | None = r.pe
        de: DecodeEngine | None = r.de
        left_queue = False
        if st == DECODE_WAIT and de is not None and de.alive:
            with contextlib.suppress(ValueError):
                de.waiting.remove(r)
                left_queue = True
        if st == TRANSFER:
            if r.flow is not None:
                self.net.abort(r.flow)
                r.flow = None
            if de is not None and de.alive:
                de.incoming.discard(r)
                de.kv.free(r.dkv)
                de.admitted -= 1
                de.try_admit()
        # a P/D request holds its prompt's KV on the prefill pod from its first chunk until
        # its transfer ends (also when its decode pod went away while it was in prefill)
        if not r.local and pe is not None and pe.alive and r.pkv:
            pe.kv.free(r.pkv)
            pe.holding.discard(r)
            r.pkv = 0
            if not pe.busy and not pe.finishing:
                pe.start()
        if de is not None and de.alive:
            de.outstanding -= 1
            if de.group is not None:
                de.group.dirty = True
                if de.outs is not None:
                    de.outs[de.slot] -= 1
            if left_queue:
                de.try_admit()  # the next waiting request may fit where this one did not

    # ------------------------------------------------------------------ mixed versions
    def _mixed(self, pi: PodInfo, di: PodInfo) -> bool:
        """No revision of the service has both pods' role templates (memoised per pair of
        role templates until the revisions change)."""
        version = self.revisions.version(CR)
        if version != self._mixed_version:
            self._mixed_pairs.clear()
            self._mixed_version = version
            self._index_revisions()
        key = (pi.role, pi.template_hash, di.role, di.template_hash)
        m = self._mixed_pairs.get(key)
        if m is None:
            compat = self._compat
            m = self._mixed_pairs[key] = not (
                compat.get((pi.role, pi.template_hash), _NONE)
                & compat.get((di.role, di.template_hash), _NONE)
            )
        return m

    def _index_revisions(self) -> None:
        """Add the revisions not seen yet to ``_compat`` ((role, role template hash) -> the
        revisions whose template has it). A revision is indexed once, with the role hashes
        it was first seen with (a name is the hash of its template), and stays after it is
        deleted: a pod of a pruned revision still matches it."""
        for name, rev in self.revisions.revisions.items():
            if name not in self._revs:
                self._revs.add(name)
                for role, h in rev.role_hashes.items():
                    self._compat.setdefault((role, h), set()).add(name)

    # ------------------------------------------------------------------ pods
    def _engine_cfg(self, role: str) -> Engine:
        over = self.cfg.roles.get(role)
        return over.engine if over is not None and over.engine is not None else self.cfg.engine

    def cost_for(
        self,
        role: str,
        gpu_type: str,
        gpus: int,
        members: int = 1,
        net: InterNode | None = None,
        pp_arg: int | None = None,
    ) -> LatencyModel:
        """The latency model of one engine of ``role``: a pod with ``gpus`` GPUs, or a
        multi-node instance of ``members`` such pods whose nodes ``net`` joins (None: all on
        one node). Pipeline stages: ``serving.roles.<role>.pipeline_parallel``, else
        ``pp_arg`` (the engine's command line), else 1."""
        over = self.cfg.roles.get(role)
        pp = over.pipeline_parallel if over is not None and over.pipeline_parallel else 1
        if (over is None or not over.pipeline_parallel) and pp_arg:
            pp = pp_arg
        total = max(1, gpus) * members
        if over is not None and over.tensor_parallel:
            tp = over.tensor_parallel
        elif total % pp:
            raise InputError(
                Problem(
                    f"serving.roles.{role}.pipeline_parallel",
                    f"{pp} pipeline stages do not divide the engine's {total} GPUs",
                )
            )
        else:
            tp = total // pp
        model_name = over.model if over is not None and over.model else None
        gpu_name = over.gpu if over is not None and over.gpu else gpu_type
        ecfg = self._engine_cfg(role)
        key: tuple[Any, ...] = (model_name, gpu_name, tp, ecfg)
        if pp > 1 or net is not None:
            key = (*key, pp, net)
        cost = self._costs.get(key)
        if cost is None:
            model = (
                self.catalog.model(model_name, f"serving.roles.{role}.model")
                if (model_name)
                else self.model
            )
            gpu = self.catalog.gpu(gpu_name)
            cost = build_latency_model(
                self.cfg.latency_model, model, gpu, tp, ecfg, self.cfg.calibration, pp, net
            )
            if cost.kv_capacity_tokens <= 0:
                where = f"{tp} x {gpu_name}" if pp == 1 else f"{tp} x {pp} x {gpu_name}"
                raise InputError(
                    Problem(
                        f"serving.roles.{role}",
                        f"the model does not fit on {where}: weights "
                        f"{cost.weight_bytes / 1e9:.1f} GB leave no room for KV cache",
                    )
                )
            self._costs[key] = cost
        return cost

    def nic_bytes_per_s(self, node: str) -> float:
        n = self.nodes[node]
        if self.cfg.kv_transfer.nic_gbps is not None:
            gbps = self.cfg.kv_transfer.nic_gbps
        else:
            gpus = max(1, int(n.capacity.get("nvidia.com/gpu", 1)))
            gbps = self.catalog.gpu(n.gpu_type).nic_gbps * gpus
        return gbps * 1e9 / 8.0

    def pod_nic_bytes_per_s(self, node: str, gpus: int) -> float:
        """A pod's share of its node's NICs: GPUDirect RDMA pairs each GPU with its own NIC,
        so a pod with ``gpus`` GPUs moves KV over ``gpus`` of the node's NICs."""
        n = self.nodes[node]
        node_gpus = max(1, int(n.capacity.get("nvidia.com/gpu", 1)))
        return self.nic_bytes_per_s(node) * min(1.0, gpus / node_gpus)

    def nvlink_bytes_per_s(self, node: str) -> float:
        v = self._nvlink.get(node)
        if v is None:
            n = self.nodes[node]
            g = self.catalog.gpu(n.gpu_type)
            v = self._nvlink[node] = g.nvlink_gbps * 1e9 * self.cfg.engine.efficiency.nvlink_eff
        return v

    def group_size(self, pod: Pod) -> int:
        """Pods of the serving instance ``pod`` belongs to (its PodSet's size, 1 without)."""
        if pod.podset is None:
            return 1
        ps = self.revisions.podsets.get(pod.podset)
        return ps.size if ps is not None else self._group_sizes.get(pod.role, 1)

    def pod_routable(self, pod: Pod) -> None:
        cur = self.pods_view.get(pod.name, pod)
        if self.group_size(cur) > 1:
            self._member_routable(cur)
            return
        old = self.pods.get(pod.name)
        if old is not None:
            if old.info.seq == cur.seq and old.registered:
                return
            self._kill(old, "pod_restarted")
        if cur.node is None:
            return
        kind = role_kind(cur.role, cur.gpus, self.cfg)
        if kind == "none":
            return
        node = self.nodes[cur.node]
        cost = self.cost_for(cur.role, node.gpu_type, cur.gpus)
        self._register(cur, kind, cost, max(1, cur.gpus))

    def _member_routable(self, cur: Pod) -> None:
        """A member of a multi-node instance is routable: the instance (named after its
        rank-0 pod, the only one AIBrix's ``pd`` router considers: ``filterPrefillDecodePods``
        in ``pkg/plugins/gateway/algorithms/pd_disaggregation.go``) registers once every
        member is (docs/serving.md, "Multi-node instances")."""
        assert cur.podset is not None
        old = self._instances.get(cur.name)
        if old is not None:
            assert old.members is not None
            if old.members.get(cur.name) == cur.seq and old.registered:
                return
            self._kill(old, "pod_restarted")
        if cur.node is None or role_kind(cur.role, cur.gpus, self.cfg) == "none":
            return
        have = self._members.setdefault(cur.podset, {})
        have[cur.group_index or 0] = cur
        size = self.group_size(cur)
        members: list[Pod] = []
        for k in range(size):
            p = have.get(k)
            now = self.pods_view.get(p.name) if p is not None else None
            if p is None or now is None or now.seq != p.seq or now.deleting or now.node is None:
                return
            if self._instances.get(now.name) is not None:
                return  # still part of a registered instance (deregistered, draining)
            members.append(now)
        rank0 = members[0]
        kind = role_kind(rank0.role, rank0.gpus, self.cfg)
        node = self.nodes[rank0.node]  # type: ignore[index]
        gpus = max(1, rank0.gpus)
        net = None
        if len({p.node for p in members}) > 1:
            node_gpus = max(1, int(node.capacity.get("nvidia.com/gpu", 1)))
            eff = self._engine_cfg(rank0.role).efficiency
            net = InterNode(
                gpus,
                self.nic_bytes_per_s(node.name) / node_gpus,
                eff.internode_allreduce_latency_s,
                eff.internode_send_latency_s,
            )
        pp_arg = rank0.template.pipeline_parallel_arg() if rank0.template is not None else None
        cost = self.cost_for(rank0.role, node.gpu_type, gpus, size, net, pp_arg)
        entry = self._register(rank0, kind, cost, gpus * size)
        entry.members = {p.name: p.seq for p in members}
        for p in members:
            self._instances[p.name] = entry

    def _forget_member(self, pod: Pod) -> None:
        """``pod`` is no longer a routable member of its PodSet."""
        if pod.podset is None:
            return
        have = self._members.get(pod.podset)
        if have is None:
            return
        k = pod.group_index or 0
        p = have.get(k)
        if p is not None and p.name == pod.name and p.seq == pod.seq:
            del have[k]
            if not have:
                del self._members[pod.podset]

    def _register(self, cur: Pod, kind: str, cost: LatencyModel, gpus: int) -> PodEntry:
        """Build the engines of ``cur`` (a pod, or a multi-node instance's rank-0 pod) and
        register them with the gateway."""
        assert cur.node is not None
        node = self.nodes[cur.node]
        over = self.cfg.roles.get(cur.role)
        model = self.catalog.model(over.model) if over is not None and over.model else self.model
        info = PodInfo(
            cur.name,
            cur.seq,
            cur.roleset,
            cur.role,
            cur.revision,
            cur.template_hash,
            cur.node,
            node.gpu_type,
            kind,
            kv_bytes_per_token(model, 1),
            gpus,
        )
        e = self._engine_cfg(cur.role)
        kv = KVPool(cost.kv_capacity_tokens)
        entry = PodEntry(info, since=self.env.now)
        self.all_pods.append(entry)
        gw = self.gateway
        if kind == "prefill":
            entry.prefill = PrefillEngine(
                self, info, cost, e.max_num_seqs, e.max_num_batched_tokens, e.chunked_prefill, kv
            )
            self.pods[cur.name] = entry
            gw.add(cur.roleset, "prefill", entry.prefill)
        elif kind == "decode":
            entry.decode = DecodeEngine(self, info, cost, e.max_num_seqs, kv)
            self.pods[cur.name] = entry
            gw.add(cur.roleset, "decode", entry.decode)
        else:
            dec = DecodeEngine(self, info, cost, e.max_num_seqs, kv)
            pre = PrefillEngine(
                self,
                info,
                cost,
                e.max_num_seqs,
                e.max_num_batched_tokens,
                e.chunked_prefill,
                kv,
                dec,
            )
            entry.colocated = ColocatedPod(info, pre, dec)
            entry.prefill, entry.decode = pre, dec
            self.pods[cur.name] = entry
            gw.add(cur.roleset, "colocated", entry.colocated)
        return entry

    def _deregister(self, entry: PodEntry) -> None:
        if not entry.registered:
            return
        entry.registered = False
        rs = entry.info.roleset
        gw = self.gateway
        if entry.colocated is not None:
            gw.remove(rs, "colocated", entry.colocated)
        elif entry.prefill is not None:
            gw.remove(rs, "prefill", entry.prefill)
        elif entry.decode is not None:
            gw.remove(rs, "decode", entry.decode)

    def _entry_of(self, pod: Pod) -> PodEntry | None:
        """The engine ``pod`` (this incarnation of it) serves in, if any."""
        inst = self._instances.get(pod.name)
        if inst is not None:
            assert inst.members is not None
            return inst if inst.members.get(pod.name) == pod.seq else None
        entry = self.pods.get(pod.name)
        return entry if entry is not None and entry.info.seq == pod.seq else None

    def pod_deleted(self, pod: Pod) -> None:
        """Deregistered at once; the engines keep serving what they hold. Deleting any
        member of a multi-node instance deregisters the instance."""
        self._forget_member(pod)
        entry = self._entry_of(pod)
        if entry is not None:
            self._deregister(entry)

    def pod_gone(self, pod: Pod) -> None:
        self._forget_member(pod)
        entry = self._entry_of(pod)
        if entry is not None:
            self._kill(entry, "pod_gone")
        self.net.forget_pod(pod.name)

    def pod_restarting(self, pod: Pod) -> None:
        """An in-place update restarts the pod's containers: its requests fail (or retry);
        a multi-node instance with a member restarting serves nothing."""
        self._forget_member(pod)
        entry = self._instances.get(pod.name) or self.pods.get(pod.name)
        if entry is not None:
            self._kill(entry, "pod_restarted")

    def _kill(self, entry: PodEntry, why: str) -> None:
        self._deregister(entry)
        if self.pods.get(entry.info.name) is entry:
            del self.pods[entry.info.name]
        for name in entry.members or ():
            if self._instances.get(name) is entry:
                del self._instances[name]
        now = self.env.now
        lost: list[Request] = []
        if entry.prefill is not None and entry.prefill.alive:
            lost += entry.prefill.die()
        if entry.decode is not None and entry.decode.alive:
            lost += entry.decode.die(now)
        reason = why
        if entry.info.kind in ("prefill", "decode"):
            reason = f"{entry.info.kind}_{why}"
        seen: set[int] = set()
        for r in sorted(lost, key=lambda x: x.id):
            if r.id in seen or r.state == DONE:
                continue
            seen.add(r.id)
            self.fail(r, reason)

    @property
    def last_arrival_hint_s(self) -> float | None:
        """The last arrival time when it is already known (a trace, or a ``stop_s``)."""
        if self.source.done:
            return float(self._bt[-1]) if len(self._bt) else float(self.env.now)
        stop = self.workload.stop_s
        return float(stop) if stop is not None else None

    def drained(self) -> bool:
        """Every request of a finite workload has arrived and ended (decode engines whose
        batch changes are due are brought up to date first: their completions are lazy)."""
        if self.next_arrival != INF or not self.source.done:
            return False
        self.sync_due(self.env.now)
        return self.n_done == self.n_arrived

    def finish(self, end: float) -> None:
        """Bring every engine to the end of the run."""
        for entry in self.pods.values():
            if entry.decode is not None and entry.decode.alive:
                entry.decode.flush(end)

    # ------------------------------------------------------------------ metrics view
    def engine_metrics(self, pod: Pod) -> EngineSample:
        """What ``pod``'s engine exports now (:mod:`.metrics`): the values of its engines
        while they exist (routable, or terminating with work left), else idle (0)."""
        entry = self.pods.get(pod.name)
        if entry is None or entry.info.seq != pod.seq:
            return IDLE
        now = self.env.now
        return self.meter.sample((pod.name, pod.seq), entry.since, now, entry.prefill, entry.decode)

    def arrivals_per_s(self, window_s: float) -> float:
        """Requests that arrived at the gateway in the last ``window_s`` seconds, per second
        (a gateway request-rate metric; over the elapsed time while shorter)."""
        now = self.env.now
        span = min(window_s, now)
        if span <= 0:
            return 0.0
        recs = self.records
        lo = bisect_left(recs, now - span, key=attrgetter("arrived_at"))
        return (len(recs) - lo) / span

    def gateway_queue(self) -> int:
        """Requests waiting at the gateway for a routable RoleSet."""
        return len(self.gateway.queue)

    def engines(self) -> list[PodEntry]:
        return list(self.pods.values())
