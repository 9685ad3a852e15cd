"""Multi-node serving instances: tensor parallelism across nodes and pipeline stages
(docs/latency-model.md, "Multi-node instances").

A role with ``podGroupSize > 1`` is one engine spread over its PodSet's pods. Its ``tp × pp``
GPUs form ``pp`` pipeline stages of ``tp`` GPUs each. Two things change against a one-node
engine:

* **inter-node all-reduce**: when a stage's ``tp`` GPUs span nodes, each of its all-reduces is a
  ring over the nodes' NICs (one NIC per GPU, one ring per NIC rail): ``latency +
  2(tp−1)/tp · bytes / (gpus_per_node · NIC)``, never faster than the same all-reduce inside a
  node (:class:`InterNode`; the latency models apply it to their collectives);
* **pipeline stages** (:class:`PipelineCost`): a batch is cut into ``m = min(seqs, pp)``
  equal microbatches; each stage holds ``⌈L/pp⌉`` layers and hands its activations
  (``tokens · hidden · 2`` bytes) to the next stage over the network. With fill and drain
  around every iteration (GPipe's schedule), one iteration takes
  ``overhead + (m + pp − 1) · (stage(B/m) − overhead + handoff(B/m))``: ``pp − 1`` of those
  slots are the bubble; the engine's per-iteration CPU overhead is paid once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stormsim.perf.latency import DTYPE_BYTES, kv_bytes_per_token, weight_bytes
from stormsim.schema.serving import GpuSpec, ModelArch


@dataclass(frozen=True)
class InterNode:
    """The network between the nodes of one multi-node instance.

    ``gpus_per_node``: the instance's GPUs on each node (one member pod per node);
    ``nic_bytes_per_s``: one GPU's NIC; ``allreduce_latency_s`` / ``send_latency_s``: the fixed
    cost of one all-reduce across the nodes and of one point-to-point send between two nodes."""

    gpus_per_node: int
    nic_bytes_per_s: float
    allreduce_latency_s: float
    send_latency_s: float

    def spans(self, tp: int) -> bool:
        """Whether a ``tp``-GPU tensor-parallel group crosses nodes."""
        return tp > self.gpus_per_node

    def ring_bytes_per_s(self) -> float:
        """Bus bandwidth of a ring all-reduce across nodes: every NIC of a node carries one
        ring, so the node boundary moves ``gpus_per_node · NIC`` bytes per second."""
        return self.gpus_per_node * self.nic_bytes_per_s

    def allreduce_s(self, tp: int, nbytes: float) -> float:
        """One all-reduce of ``nbytes`` over ``tp`` GPUs spanning nodes (launch not included)."""
        return self.allreduce_latency_s + 2.0 * (tp - 1) / tp * nbytes / self.ring_bytes_per_s()

    def send_s(self, nbytes: float) -> float:
        """One stage hand-off of ``nbytes`` over one GPU's NIC."""
        return self.send_latency_s + nbytes / self.nic_bytes_per_s


def stage_model(m: ModelArch, pp: int) -> ModelArch:
    """The model one of ``pp`` pipeline stages runs: ``⌈L/pp⌉`` layers (the slowest stage);
    a given ``params_b`` is scaled by the same fraction."""
    if pp <= 1:
        return m
    layers = math.ceil(m.num_layers / pp)
    upd: dict[str, object] = {"num_layers": layers}
    if m.params_b is not None:
        upd["params_b"] = m.params_b * layers / m.num_layers
    return m.model_copy(update=upd)


def instance_kv_capacity(
    m: ModelArch, g: GpuSpec, tp: int, pp: int, mem_util: float, reserve_gb: float
) -> int:
    """KV tokens of a ``tp × pp`` instance: the memory of all its GPUs less the whole model's
    weights (divided over them) and each GPU's reserve, over the KV bytes of one token (every
    layer once; a layer's KV heads replicated to ``tp``)."""
    n = tp * pp
    free = mem_util * g.hbm_gb * 1e9 * n - weight_bytes(m) - reserve_gb * 1e9 * n
    return max(0, int(free // kv_bytes_per_token(m, tp)))


@dataclass(frozen=True)
class PipelineCost:
    """The :class:`~stormsim.perf.registry.LatencyModel` of a ``pp``-stage pipeline whose
    stages ``stage`` times (``⌈L/pp⌉`` layers on ``tp`` GPUs)."""

    stage: Any  # the stage's LatencyModel (fractional batches are fine)
    tp: int
    pp: int
    handoff_fixed_s: float  # one stage hand-off, fixed part (0 without a network)
    handoff_token_s: float  # one stage hand-off, per token
    overhead_s: float  # the engine's per-iteration CPU overhead (once, not per stage)
    kv_bytes_per_token: float
    kv_capacity_tokens: int
    weight_bytes: float

    @classmethod
    def build(
        cls,
        stage: Any,
        m: ModelArch,
        tp: int,
        pp: int,
        net: InterNode | None,
        kv_capacity: int,
    ) -> PipelineCost:
        act = m.hidden_size * DTYPE_BYTES[m.dtype]
        if net is None:
            fixed, tok = 0.0, 0.0
        else:
            fixed, tok = net.send_latency_s, act / net.nic_bytes_per_s
        return cls(
            stage=stage,
            tp=tp,
            pp=pp,
            handoff_fixed_s=fixed,
            handoff_token_s=tok,
            overhead_s=float(getattr(stage, "overhead_s", 0.0)),
            kv_bytes_per_token=kv_bytes_per_token(m, tp),
            kv_capacity_tokens=kv_capacity,
            weight_bytes=weight_bytes(m),
        )

    def _m(self, seqs: float) -> int:
        return max(1, min(int(seqs), self.pp))

    def _slots(self, m: int) -> int:
        return m + self.pp - 1

    def _handoff(self, tokens: float) -> float:
        return self.handoff_fixed_s + self.handoff_token_s * tokens

    def prefill_time(self, tokens: float, pairs: float, seqs: int, ctx_read: float = 0.0) -> float:
        m = self._m(seqs)
        per = self.stage.prefill_time(tokens / m, pairs / m, seqs / m, ctx_read / m)
        ov = self.overhead_s
        return ov + self._slots(m) * (per - ov + self._handoff(tokens / m))

    def prefill_one(self, prompt: int) -> float:
        return self.prefill_time(prompt, prompt * prompt / 2.0, 1)

    def decode_time(self, batch: int, context: float) -> float:
        m = self._m(batch)
        b = batch / m
        ov = self.overhead_s
        return ov + self._slots(m) * (
            self.stage.decode_time(b, context / m) - ov + self._handoff(b)
        )

    def span(self, batch: int, s0: float, n: int) -> float:
        if n <= 0:
            return 0.0
        m = self._m(batch)
        b = batch / m
        c = self._slots(m)
        ov = self.overhead_s
        return n * ov + c * (self.stage.span(b, s0 / m, n) - n * ov) + n * c * self._handoff(b)

    def boundary(self, batch: int, s0: float, elapsed: float, limit: int) -> tuple[int, float]:
        if elapsed <= 0:
            return 0, 0.0
        m = self._m(batch)
        # one stage alone reaches ``elapsed`` no earlier than the whole pipeline does
        hi = self.stage.first_n(batch / m, s0 / m, elapsed, limit)
        lo = 0
        span = self.span
        while hi < limit and span(batch, s0, hi) < elapsed:  # rounding
            hi += 1
        while lo < hi:  # smallest n with span(n) >= elapsed
            mid = (lo + hi) // 2
            if span(batch, s0, mid) >= elapsed:
                hi = mid
            else:
                lo = mid + 1
        return lo, span(batch, s0, lo)

    def first_n(self, batch: int, s0: float, elapsed: float, limit: int) -> int:
        return self.boundary(batch, s0, elapsed, limit)[0]
