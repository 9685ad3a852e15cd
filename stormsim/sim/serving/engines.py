"""Requests, KV pools and the prefill and decode engines of one pod.

Prefill: a FIFO queue; each iteration takes requests up to ``max_num_seqs`` and
``max_num_batched_tokens`` (a request that does not fit is chunked when ``chunked_prefill``,
else waits for the next iteration; a prompt larger than the budget runs alone). The prompt's
KV is reserved when its first chunk starts and held until the KV transfer has finished (P/D).
One SimPy-level event per iteration.

Decode: continuous batching without per-token work. The engine keeps an iteration counter K,
the time ``t_ref`` of boundary K, the batch size B and C = Σ (context at join − join
iteration), so the total context at iteration k is C + B·k. Between membership changes the
time of n iterations is ``LatencyModel.span`` (closed form); a member leaves at
``join + tokens``; a transferred request joins at the first boundary after it is ready. The
state is advanced lazily (:meth:`DecodeEngine.sync`) by whoever needs it (the router, a KV
admission wake-up, the end of the run), so a request costs O(log n) decode work in total and
no events unless requests wait for KV cache. Admission reserves prompt + output tokens (the
final context), so the cache never overflows and nothing is preempted.
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappop, heappush
from typing import Any, Protocol

from stormsim.perf.registry import LatencyModel
from stormsim.sim.clock import Now

INF = math.inf


class EngineHost(Protocol):
    """What the engines use of the serving plane."""

    @property
    def env(self) -> Now: ...
    def at(self, t: float, fn: Any, arg: Any) -> None: ...
    def push_due(self, t: float, engine: DecodeEngine) -> None: ...

    due: list[tuple[float, int, DecodeEngine]]
    """The heap behind :meth:`push_due` (decode engines push to it directly)."""
    _seq: int

    def fail(self, r: Request, reason: str, retry: bool = True) -> None: ...
    def prefill_done(self, r: Request) -> None: ...
    def complete(self, r: Request, t: float) -> None: ...
    def start_transfer(self, r: Request, de: DecodeEngine) -> None: ...

    n_wakes: int
    """Decode-engine wake-ups run so far (a KV admission retry at a batch change)."""


# request states
GATEWAY, PREFILL_Q, PREFILL_RUN, DECODE_WAIT, TRANSFER, DECODE_PENDING, DECODE_RUN, DONE = range(8)


class Request:
    """One request through its life; the requests frame is built from these attributes."""

    __slots__ = (
        "arrived_at",
        "ctx0",
        "de",
        "decode_pod",
        "decode_rev",
        "decode_start",
        "dkv",
        "done_tokens",
        "ended_at",
        "first_token",
        "flow",
        "gw_deadline",
        "id",
        "join_k",
        "leave_k",
        "local",
        "mixed",
        "outcome",
        "output",
        "pe",
        "pkv",
        "prefill_end",
        "prefill_pod",
        "prefill_rev",
        "prefill_start",
        "prompt",
        "reason",
        "retries",
        "roleset",
        "routed_at",
        "state",
        "transfer_end",
        "transfer_start",
    )

    def __init__(self, rid: int, arrived_at: float, prompt: int, output: int):
        self.id = rid
        self.arrived_at = arrived_at
        self.prompt = prompt
        self.output = output
        self.retries = 0
        self.outcome = "in_flight"
        self.reason = ""
        # the fields of :meth:`reset`, assigned here without the call (one per arrival)
        nan = math.nan
        self.roleset = self.prefill_pod = self.decode_pod = ""
        self.prefill_rev = self.decode_rev = ""
        self.mixed = self.local = False
        self.routed_at = self.prefill_start = self.prefill_end = nan
        self.transfer_start = self.transfer_end = self.decode_start = nan
        self.first_token = self.ended_at = nan
        self.state = GATEWAY
        self.pe: Any = None
        self.de: Any = None
        self.flow: Any = None
        self.done_tokens = self.pkv = self.dkv = 0
        self.join_k = self.leave_k = self.ctx0 = 0
        self.gw_deadline = INF

    def reset(self) -> None:
        """Forget the current attempt (before a retry)."""
        nan = math.nan
        self.roleset = ""
        self.prefill_pod = ""
        self.decode_pod = ""
        self.prefill_rev = ""
        self.decode_rev = ""
        self.mixed = False
        self.routed_at = nan
        self.prefill_start = nan
        self.prefill_end = nan
        self.transfer_start = nan
        self.transfer_end = nan
        self.decode_start = nan
        self.first_token = nan
        self.ended_at = nan
        self.state = GATEWAY
        self.pe = None
        self.de = None
        self.local = False
        self.done_tokens = 0
        self.pkv = 0
        self.dkv = 0
        self.flow = None
        self.join_k = 0
        self.leave_k = 0
        self.ctx0 = 0
        self.gw_deadline = INF


class KVPool:
    """KV-cache tokens of one pod: capacity, reserved, peak reserved."""

    __slots__ = ("cap", "peak", "used")

    def __init__(self, cap: int):
        self.cap = cap
        self.used = 0
        self.peak = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.peak:
            self.peak = self.used

    def free(self, n: int) -> None:
        self.used -= n

    def frac(self) -> float:
        return self.used / self.cap if self.cap > 0 else 1.0


class PrefillEngine:
    """The prefill side of a pod (a prefill pod, or the prefill phase of a colocated pod)."""

    def __init__(
        self,
        plane: EngineHost,
        info: Any,
        cost: LatencyModel,
        max_seqs: int,
        budget: int,
        chunked: bool,
        kv: KVPool,
        dec: DecodeEngine | None = None,
    ):
        self.plane = plane
        self.info = info
        self.node = info.node
        self.cost = cost
        self.max_seqs = max_seqs
        self.budget = budget
        self.chunked = chunked
        self.kv = kv
        self.dec = dec  # colocated pod: the decode engine sharing the GPU and the KV pool
        if dec is not None:
            dec.pre = self
        self.group: Any = None
        self.queue: deque[Request] = deque()
        self.batch: list[tuple[Request, int]] = []
        self.busy = False
        self.blocked = False  # the queue's head waits for KV cache (nothing could start)
        self.finishing = False  # in :meth:`_done` (which starts the next iteration itself)
        self.outstanding = 0
        self.outs: list[int] | None = None
        """The gateway group's list of its prefill engines' ``outstanding`` counts (kept equal
        to theirs at every change: the router takes its minimum in C), while this engine is a
        routable P/D prefill engine; ``slot`` is its index there."""
        self.slot = 0
        self.holding: set[Request] = set()
        self.alive = True
        self.token = 0
        self.peak_batch_seqs = 0
        self.peak_batch_tokens = 0
        self.iterations = 0
        self.prompt_tokens = 0
        """Prompt tokens prefilled so far (``vllm:prompt_tokens_total``)."""
        self.submitted = 0
        """Requests submitted so far (``vllm:http_requests_total``)."""

    def need(self, r: Request) -> int:
        return r.prompt + r.output if self.dec is not None else r.prompt

    def submit(self, r: Request) -> None:
        if (r.prompt + r.output if self.dec is not None else r.prompt) > self.kv.cap:
            self.plane.fail(r, "too_long", retry=False)
            return
        r.pe = self
        r.state = PREFILL_Q
        self.queue.append(r)
        self.outstanding += 1
        self.submitted += 1
        if self.group is not None:
            self.group.dirty = True
            if self.outs is not None:
                self.outs[self.slot] += 1
        if not self.busy:
            self.start()

    def start(self) -> None:
        """Form and start the next iteration, if anything can run.

        When the queue's head waits for KV cache, the engine is *blocked*: whatever frees KV
        retries it (a KV transfer finishing or a failed request on a prefill pod; on a
        colocated pod, the decode engine's next batch change, see
        :meth:`DecodeEngine.want_wake`)."""
        self.blocked = False
        dec = self.dec
        if self.busy or not self.alive or not self.queue:
            if not self.busy and dec is not None and dec.paused:
                dec.resume(self.plane.env.now)
            return
        now = self.plane.env.now
        if dec is not None and dec.next_t <= now:
            dec.sync(now)  # completions due by now have freed their KV
        q = self.queue
        kv = self.kv
        budget = self.budget
        seqs = 0
        tokens = 0
        pairs = 0.0
        ctx_read = 0
        finishing = 0
        items: list[tuple[Request, int]] = []
        colocated = dec is not None
        max_seqs = self.max_seqs
        while q and seqs < max_seqs and budget > 0:
            r = q[0]
            rem = r.prompt - r.done_tokens
            if rem <= budget:
                chunk = rem
            elif self.chunked:
                chunk = budget
            elif not items:
                chunk = rem
            else:
                break
            if r.done_tokens == 0:
                need = r.prompt + r.output if colocated else r.prompt
                used = kv.used + need
                if used > kv.cap:
                    break
                kv.used = used
                if used > kv.peak:
                    kv.peak = used
                r.pkv = need
                r.state = PREFILL_RUN
            if chunk == rem:
                q.popleft()
                finishing += 1
            c = r.done_tokens
            pairs += chunk * (c + chunk / 2.0)
            ctx_read += c
            tokens += chunk
            budget -= chunk
            seqs += 1
            items.append((r, chunk))
        if not items:
            self.blocked = True
            if dec is not None:
                if dec.paused:
                    dec.resume(now)
                dec.want_wake()
            return
        t0 = dec.pause(now) if dec is not None else now
        for r, _ in items:
            if r.done_tokens == 0:
                r.prefill_start = t0
        self.busy = True
        self.batch = items
        self.iterations += 1
        if seqs > self.peak_batch_seqs:
            self.peak_batch_seqs = seqs
        if tokens > self.peak_batch_tokens:
            self.peak_batch_tokens = tokens
        dt = self.cost.prefill_time(tokens, pairs, finishing, ctx_read)
        self.plane.at(t0 + dt, self._done, self.token)

    def _done(self, token: int) -> None:
        if not self.alive or token != self.token:
            return
        self.busy = False
        items = self.batch
        self.batch = []
        plane = self.plane
        if self.group is not None:
            self.group.dirty = True
        self.finishing = True
        for r, chunk in items:
            self.prompt_tokens += chunk
            r.done_tokens += chunk
            if r.done_tokens >= r.prompt:
                self.outstanding -= 1
                if self.outs is not None:
                    self.outs[self.slot] -= 1
                plane.prefill_done(r)
        self.finishing = False
        self.start()

    def die(self) -> list[Request]:
        """The pod is gone: everything it holds is lost. Returns the affected requests."""
        self.alive = False
        self.blocked = False
        self.token += 1
        lost = [r for r, _ in self.batch] + list(self.queue) + list(self.holding)
        seen: set[int] = set()
        out = []
        for r in lost:
            if r.id not in seen:
                seen.add(r.id)
                out.append(r)
        self.queue.clear()
        self.batch = []
        self.holding.clear()
        self.outstanding = 0
        if self.outs is not None:
            self.outs[self.slot] = 0
        return out


class DecodeEngine:
    """The decode side of a pod (a decode pod, or the decode phase of a colocated pod)."""

    def __init__(self, plane: EngineHost, info: Any, cost: LatencyModel, max_seqs: int, kv: KVPool):
        self.plane = plane
        self.info = info
        self.node = info.node
        self.cost = cost
        self.max_seqs = max_seqs
        self.kv = kv
        self.group: Any = None
        self.pre: PrefillEngine | None = None  # colocated pod: the prefill engine
        self.B = 0
        self.C = 0.0
        self.K = 0
        self.t_ref = plane.env.now
        self.leaves: list[tuple[int, int, Request]] = []
        self.pending: list[tuple[float, int, Request]] = []
        self.waiting: deque[Request] = deque()
        self.awaiting_ft: list[Request] = []
        self.incoming: set[Request] = set()
        self.admitted = 0
        self.outstanding = 0
        self.outs: list[int] | None = None
        """As :attr:`PrefillEngine.outs`, for the group's decode engines."""
        self.slot = 0
        self.paused = False
        self.next_t = INF
        self._join_n = 0
        self._leave_t = -1.0
        self._is_leave = False
        self.wake_at = INF
        self._due_t = -1.0  # the time of this engine's latest entry in the plane's due heap
        self._syncing = False  # in :meth:`sync` (which queues the next change at its end)
        self.alive = True
        self.peak_batch = 0
        self.completed = 0
        self.gen_done = 0
        """Tokens generated by the requests that left the batch."""
        self.sum_join = 0
        """Sum of the members' join iterations (tokens generated by members: B·K − this)."""

    # ------------------------------------------------------------------ lazy state
    def sync(self, t: float) -> None:
        """Apply every membership change due at or before ``t``. The plane hears of the
        next change (its due heap) once, after the last step: an entry for each step in
        between would be stale before anyone read it."""
        if self.next_t <= t:
            self._syncing = True
            while self.next_t <= t:
                self._step()
            self._syncing = False
            best = self.next_t
            if best < INF and best != self._due_t:
                self._due_t = best
                plane = self.plane
                plane._seq += 1
                heappush(plane.due, (best, plane._seq, self))

    def _recompute(self) -> None:
        if self.paused:
            self.next_t = INF
            return
        best = INF
        leave = False
        B = self.B
        kl = 0
        if B > 0:
            kl = self.leaves[0][0]
            best = self._leave_t
            if best < 0:  # invalidated by a membership change or an advance
                best = self._leave_t = self.t_ref + self.cost.span(
                    B, self.C + B * self.K, kl - self.K
                )
            leave = True
        if self.pending:
            tj = self.pending[0][0]
            if B == 0:
                tb = tj if tj > self.t_ref else self.t_ref
                n = 0
            else:
                e = tj - self.t_ref
                if e > 0:
                    n, sn = self.cost.boundary(B, self.C + B * self.K, e, kl - self.K)
                    tb = self.t_ref + sn
                else:
                    n, tb = 0, self.t_ref
            if tb < best:
                best = tb
                leave = False
                self._join_n = n
        self.next_t = best
        self._is_leave = leave
        if best < INF and best != self._due_t and not self._syncing:
            # (an entry at ``best`` is already queued; in :meth:`sync`, queued at its end)
            self._due_t = best
            plane = self.plane
            plane._seq += 1  # plane.push_due(best, self), inlined
            heappush(plane.due, (best, plane._seq, self))
        if best < self.wake_at and (self.waiting or (self.pre is not None and self.pre.blocked)):
            self.wake_at = best
            self.plane.at(best, self._wake, best)

    def _advance(self, n: int, t_new: float = -1.0) -> None:
        """Move n iterations forward with the current membership (``t_new``: the time of
        that boundary when already known)."""
        if n <= 0:
            return
        B = self.B
        S = self.C + B * self.K
        span = self.cost.span
        if self.awaiting_ft:
            keep = []
            k_to = self.K + n
            for r in self.awaiting_ft:
                kf = r.join_k + 1
                if kf <= k_to:
                    r.first_token = self.t_ref + span(B, S, kf - self.K)
                else:
                    keep.append(r)
            self.awaiting_ft = keep
        self.t_ref = t_new if t_new >= 0 else self.t_ref + span(B, S, n)
        self.K += n
        self._leave_t = -1.0

    def _step(self) -> None:
        """Apply the next membership change (at ``next_t``). The advance to its boundary is
        :meth:`_advance` with the time known, written out here (the hottest path)."""
        t_new = self.next_t
        K = self.K
        if self._is_leave:
            kl = self.leaves[0][0]
            n = kl - K
        else:
            kl = 0
            n = self._join_n if self.B > 0 else 0
        if n > 0:
            if self.awaiting_ft:
                B = self.B
                S = self.C + B * K
                span = self.cost.span
                keep = []
                k_to = K + n
                t_ref = self.t_ref
                for r in self.awaiting_ft:
                    kf = r.join_k + 1
                    if kf <= k_to:
                        r.first_token = t_ref + span(B, S, kf - K)
                    else:
                        keep.append(r)
                self.awaiting_ft = keep
            self.t_ref = t_new
            self.K = K = K + n
        self._leave_t = -1.0
        if self._is_leave:
            t = self.t_ref
            leaves = self.leaves
            plane = self.plane
            kv = self.kv
            while leaves and leaves[0][0] == kl:
                r = heappop(leaves)[2]
                self.B -= 1
                self.sum_join -= r.join_k
                self.gen_done += r.leave_k - r.join_k
                self.C -= r.ctx0 - r.join_k
                kv.used -= r.dkv + (r.pkv if r.local else 0)
                self.admitted -= 1
                self.outstanding -= 1
                if self.outs is not None:
                    self.outs[self.slot] -= 1
                self.completed += 1
                plane.complete(r, t)
            if self.group is not None:
                self.group.dirty = True
        else:
            if self.B == 0:
                tj = self.pending[0][0]
                if tj > self.t_ref:
                    self.t_ref = tj
            r = heappop(self.pending)[2]
            # the member joins at boundary K
            r.state = DECODE_RUN
            r.decode_start = self.t_ref
            r.join_k = K
            self.sum_join += K
            if r.local:  # colocated pod: prefill produced the first token
                ntok = r.output - 1
                r.ctx0 = r.prompt + 1
            else:
                ntok = r.output
                r.ctx0 = r.prompt
                self.awaiting_ft.append(r)
            r.leave_k = K + ntok
            B = self.B = self.B + 1
            if self.peak_batch < B:
                self.peak_batch = B
            self.C += r.ctx0 - K
            heappush(self.leaves, (r.leave_k, r.id, r))
        self._recompute()

    # ------------------------------------------------------------------ admission
    def enqueue(self, r: Request) -> None:
        """A request whose prefill is done waits here for a batch slot and KV cache."""
        need = 0 if r.local else r.prompt + r.output
        if need > self.kv.cap:
            self.plane.fail(r, "too_long", retry=False)
            return
        r.state = DECODE_WAIT
        self.waiting.append(r)
        self.try_admit()

    def try_admit(self) -> None:
        now = self.plane.env.now
        if self.next_t <= now:
            self.sync(now)
        q = self.waiting
        kv = self.kv
        plane = self.plane
        changed = False
        while q and self.admitted < self.max_seqs:
            r = q[0]
            need = 0 if r.local else r.prompt + r.output
            if kv.used + need > kv.cap:
                break
            q.popleft()
            if need:
                used = kv.used = kv.used + need
                if used > kv.peak:
                    kv.peak = used
            r.dkv = need
            self.admitted += 1
            if r.local:
                r.state = DECODE_PENDING
                heappush(self.pending, (now, r.id, r))
                changed = True
            else:
                self.incoming.add(r)
                plane.start_transfer(r, self)
        if changed or q:
            self._recompute()

    def want_wake(self) -> None:
        """Call :meth:`_wake` at the next batch change (the colocated prefill engine waits
        for the KV cache that a completion frees)."""
        t = self.next_t
        if t < self.wake_at:
            self.wake_at = t
            self.plane.at(t, self._wake, t)

    def _wake(self, t: float) -> None:
        """At a batch change: admit waiting requests, then retry a blocked prefill.

        Only the engine's current wake-up (``t == wake_at``) runs. One that an earlier
        wake-up replaced (the batch changed sooner than planned) or that already ran at
        this instant does nothing: every batch change while something waits has its own
        wake-up, and every other release of KV or a slot retries the admission itself, so a
        stale one could admit nothing, but it used to re-arm a wake-up of its own at the next
        change, and these duplicate chains multiplied (hundreds per request at overload)."""
        if t != self.wake_at:
            return
        self.wake_at = INF
        if not self.alive:
            return
        self.plane.n_wakes += 1
        self.try_admit()
        pre = self.pre
        if pre is not None and pre.blocked and not pre.busy:
            pre.start()

    def _add_pending(self, r: Request, ready: float, recompute: bool = True) -> None:
        r.state = DECODE_PENDING
        heappush(self.pending, (ready, r.id, r))
        if recompute:
            self._recompute()

    def transferred(self, r: Request, ready: float) -> None:
        """The KV of ``r`` has arrived; it joins the batch at the first boundary >= ready."""
        self.incoming.discard(r)
        now = self.plane.env.now
        if self.next_t <= now:
            self.sync(now)
        r.state = DECODE_PENDING
        pending = self.pending
        heappush(pending, (ready, r.id, r))
        if pending[0][2] is r:  # otherwise the next change (and its time) is the same
            self._recompute()

    # ------------------------------------------------------------------ colocated pods
    def pause(self, now: float) -> float:
        """Stop after the running iteration (a prefill wants the GPU); returns when."""
        self.sync(now)
        if self.paused:
            return max(now, self.t_ref)
        if self.B == 0:
            self.paused = True
            self._leave_t = -1.0
            self.t_ref = max(self.t_ref, now)
            self.next_t = INF
            return self.t_ref
        B = self.B
        S = self.C + B * self.K
        limit = self.leaves[0][0] - self.K
        n = self.cost.first_n(B, S, now - self.t_ref, limit)
        t1 = self.t_ref + self.cost.span(B, S, n)
        self.sync(t1)
        if self.t_ref < t1:
            B = self.B
            S = self.C + B * self.K
            n = self.cost.first_n(B, S, t1 - self.t_ref, self.leaves[0][0] - self.K if B else 0)
            self._advance(n)
            self.t_ref = t1
        self._leave_t = -1.0
        self.paused = True
        self.next_t = INF
        return t1

    def resume(self, now: float) -> None:
        if not self.paused:
            return
        self.paused = False
        if now > self.t_ref:
            self.t_ref = now
        self._leave_t = -1.0
        self._recompute()

    # ------------------------------------------------------------------ end of life
    def load(self, now: float) -> int:
        if self.next_t <= now:
            self.sync(now)
        return self.outstanding

    def kv_frac(self, now: float) -> float:
        if self.next_t <= now:
            self.sync(now)
        return self.kv.frac()

    def generated(self, now: float) -> int:
        """Tokens generated so far (``vllm:generation_tokens_total``), counting the
        iterations of the current batch completed by ``now``."""
        self.sync(now)
        k = self.K
        if self.B > 0 and not self.paused and now > self.t_ref:
            B = self.B
            S = self.C + B * k
            limit = self.leaves[0][0] - k
            n, sn = self.cost.boundary(B, S, now - self.t_ref, limit)
            if n > 0 and self.t_ref + sn > now:
                n -= 1
            k += max(0, n)
        return self.gen_done + self.B * k - self.sum_join

    def flush(self, end: float) -> None:
        """Bring the state to ``end`` (first tokens produced by then are recorded)."""
        self.sync(end)
        if self.awaiting_ft and self.B > 0 and not self.paused:
            B = self.B
            S = self.C + B * self.K
            for r in self.awaiting_ft:
                t = self.t_ref + self.cost.span(B, S, r.join_k + 1 - self.K)
                if t <= end:
                    r.first_token = t

    def die(self, now: float) -> list[Request]:
        """The pod is gone: returns every request still on it (the router has stopped
        sending new ones; requests assigned here but still in prefill fail at hand-off)."""
        self.sync(now)
        self.flush(now)
        self.alive = False
        lost = [r for _, _, r in self.leaves] + [r for _, _, r in self.pending]
        lost += list(self.waiting) + list(self.incoming)
        self.leaves = []
        self.pending = []
        self.waiting.clear()
        self.incoming.clear()
        self.awaiting_ft = []
        self.B = 0
        self.sum_join = 0
        self.next_t = INF
        return lost
