"""The roofline latency model (``roofline`` in :mod:`stormsim.perf.registry`): per-iteration
latency of prefill and decode, calibrated (docs/latency-model.md).

For a pod serving model M on ``tp`` GPUs of type G:

* compute time = FLOPs / (tp · peak · mfu), memory time = bytes / (tp · HBM bandwidth · mbu);
  one iteration takes ``overhead + max(compute, memory) + all-reduce``;
* prefill of a batch of chunks (length ``l``, prior context ``c``): FLOPs = 2·P_lin·Σl
  (linear layers) + 4·L·H·d·Σ l·(c + l/2) (causal attention) + 2·V·h per sequence (LM head);
  bytes = weights + KV written (Σl) and read (Σc);
* decode of B sequences with total context S: FLOPs = 2·(P_lin + V·h)·B + 4·L·H·d·S;
  bytes = weights + S · KV bytes per token;
* TP all-reduce: 2 per layer, each ``allreduce_latency + 2(tp−1)/tp · tokens·h·2 B /
  (NVLink · nvlink_eff)``;
* KV bytes per token = 2 · L · KV heads · d · bytes (GQA-aware; KV heads are replicated when
  tp > KV heads); KV capacity = (gpu_memory_utilization · HBM · tp − weights − reserve · tp)
  / KV bytes per token.

Decode iterations with a fixed batch have a context that grows by B per iteration, so the time
of n iterations is a sum of two arithmetic series (compute-bound, then memory-bound) in closed
form (:meth:`EngineCost.span`), and its inverse (:meth:`EngineCost.first_n`) is a quadratic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stormsim.schema.serving import Efficiency, GpuSpec, ModelArch

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}

ROOFLINE_OVERHEAD_S = 0.0025
"""The roofline's fixed per-iteration overhead when ``efficiency.iteration_overhead_s`` is
unset (docs/latency-model.md)."""


def head_dim(m: ModelArch) -> int:
    return m.head_dim or m.hidden_size // m.num_heads


def linear_params(m: ModelArch) -> float:
    """Parameters of the transformer layers (attention projections and MLP), no embeddings."""
    h, d = m.hidden_size, head_dim(m)
    attn = h * m.num_heads * d * 2 + h * m.num_kv_heads * d * 2
    mlp = (3 if m.gated_mlp else 2) * h * m.intermediate_size
    return float(m.num_layers * (attn + mlp))


def total_params(m: ModelArch) -> float:
    if m.params_b is not None:
        return m.params_b * 1e9
    emb = m.vocab_size * m.hidden_size
    return linear_params(m) + emb * (1 if m.tied_embeddings else 2)


def weight_bytes(m: ModelArch) -> float:
    return total_params(m) * DTYPE_BYTES[m.dtype]


def kv_bytes_per_token(m: ModelArch, tp: int = 1) -> float:
    """KV bytes per token summed over the ``tp`` GPUs (each GPU holds at least one KV head)."""
    kv_heads = math.ceil(m.num_kv_heads / tp) * tp
    return float(2 * m.num_layers * kv_heads * head_dim(m) * DTYPE_BYTES[m.kv_dtype or m.dtype])


def kv_capacity_tokens(
    m: ModelArch, g: GpuSpec, tp: int, mem_util: float, reserve_gb: float
) -> int:
    free = mem_util * g.hbm_gb * 1e9 * tp - weight_bytes(m) - reserve_gb * 1e9 * tp
    return max(0, int(free // kv_bytes_per_token(m, tp)))


def _sum_lin(a: float, b: float, k0: int, k1: int) -> float:
    """Σ_{k=k0}^{k1-1} (a + b·k)."""
    m = k1 - k0
    if m <= 0:
        return 0.0
    return m * a + b * (k0 + k1 - 1) * m / 2.0


def _solve(a: float, b: float, k0: int, e: float) -> int:
    """Smallest m >= 0 with Σ_{k=k0}^{k0+m-1} (a + b·k) >= e (a > 0, b >= 0), approximately."""
    if e <= 0:
        return 0
    a0 = a + b * k0
    if b <= 0:
        return max(0, math.ceil(e / a0 - 1e-12))
    p = a0 - b / 2.0
    m = (-p + math.sqrt(p * p + 2.0 * b * e)) / b
    return max(0, math.ceil(m - 1e-9))


@dataclass(frozen=True)
class EngineCost:
    """Per-iteration cost constants of one engine (a model on ``tp`` GPUs of one type)."""

    tp: int
    overhead_s: float
    weights_s: float  # reading the weights once
    kv_read_s: float  # reading one token of KV
    kv_write_s: float  # writing one token of KV
    lin_prefill_s: float  # linear layers, per token
    attn_prefill_s: float  # attention, per (query token x context token)
    head_prefill_s: float  # LM head, per sequence
    lin_decode_s: float  # linear layers + LM head, per sequence
    attn_decode_s: float  # attention, per context token
    ar_fixed_s: float  # all-reduce latency per iteration
    ar_token_s: float  # all-reduce bandwidth term per token
    kv_bytes_per_token: float
    kv_capacity_tokens: int
    weight_bytes: float

    @classmethod
    def build(
        cls,
        m: ModelArch,
        g: GpuSpec,
        tp: int,
        eff: Efficiency,
        mem_util: float = 0.9,
        reserve_gb: float = 1.0,
        kv_tokens: int | None = None,
        internode: tuple[float, float] | None = None,
    ) -> EngineCost:
        """``internode``: ``(latency s, ring bytes/s)`` of an all-reduce whose ``tp`` GPUs span
        nodes (:class:`stormsim.perf.multinode.InterNode`); None: inside one node (NVLink)."""
        peak = g.bf16_tflops * 1e12 * tp
        if m.dtype == "fp8":
            peak *= 2.0
        bw = g.hbm_gbps * 1e9 * tp * eff.mbu
        fp = peak * eff.mfu_prefill
        fd = peak * eff.mfu_decode
        d = head_dim(m)
        lin = 2.0 * linear_params(m)
        head = 2.0 * m.vocab_size * m.hidden_size
        attn = 4.0 * m.num_layers * m.num_heads * d
        kvb = kv_bytes_per_token(m, tp)
        wb = weight_bytes(m)
        if tp > 1:
            lat = eff.allreduce_latency_s
            link = g.nvlink_gbps * 1e9 * eff.nvlink_eff
            if internode is not None:
                lat, link = max(lat, internode[0]), min(link, internode[1])
            ar_fixed = 2 * m.num_layers * lat
            ar_tok = 2 * m.num_layers * 2.0 * (tp - 1) / tp * m.hidden_size * 2.0 / link
        else:
            ar_fixed = ar_tok = 0.0
        cap = (
            kv_tokens
            if kv_tokens is not None
            else kv_capacity_tokens(m, g, tp, mem_util, reserve_gb)
        )
        return cls(
            tp=tp,
            overhead_s=(
                ROOFLINE_OVERHEAD_S
                if eff.iteration_overhead_s is None
                else eff.iteration_overhead_s
            ),
            weights_s=wb / bw,
            kv_read_s=kvb / bw,
            kv_write_s=kvb / bw,
            lin_prefill_s=lin / fp,
            attn_prefill_s=attn / fp,
            head_prefill_s=head / fp,
            lin_decode_s=(lin + head) / fd,
            attn_decode_s=attn / fd,
            ar_fixed_s=ar_fixed,
            ar_token_s=ar_tok,
            kv_bytes_per_token=kvb,
            kv_capacity_tokens=cap,
            weight_bytes=wb,
        )

    # ------------------------------------------------------------------ prefill
    def prefill_time(self, tokens: float, pairs: float, seqs: int, ctx_read: float = 0.0) -> float:
        """One prefill iteration over ``tokens`` new tokens of ``seqs`` sequences, with
        ``pairs`` = Σ l·(c + l/2) attention pairs and ``ctx_read`` prior-context tokens."""
        compute = tokens * self.lin_prefill_s + pairs * self.attn_prefill_s
        compute += seqs * self.head_prefill_s
        memory = self.weights_s + tokens * self.kv_write_s + ctx_read * self.kv_read_s
        return (
            self.overhead_s
            + (compute if compute > memory else memory)
            + self.ar_fixed_s
            + self.ar_token_s * tokens
        )

    def prefill_one(self, prompt: int) -> float:
        """Prefill of a single prompt in one iteration."""
        return self.prefill_time(prompt, prompt * prompt / 2.0, 1)

    # ------------------------------------------------------------------ decode
    def decode_time(self, batch: int, context: float) -> float:
        """One decode iteration of ``batch`` sequences holding ``context`` tokens in total."""
        compute = batch * self.lin_decode_s + context * self.attn_decode_s
        memory = self.weights_s + context * self.kv_read_s
        return (
            self.overhead_s
            + (compute if compute > memory else memory)
            + self.ar_fixed_s
            + self.ar_token_s * batch
        )

    def span(self, batch: int, s0: float, n: int) -> float:
        """Time of ``n`` decode iterations of a fixed batch starting at total context ``s0``.

        Iteration k takes ``const + max(ca + cb·k, ma + mb·k)`` (compute vs memory); the two
        lines cross at most once, so the sum is two arithmetic series."""
        if n <= 0:
            return 0.0
        ad = self.attn_decode_s
        kr = self.kv_read_s
        const = self.overhead_s + self.ar_fixed_s + self.ar_token_s * batch
        ca = batch * self.lin_decode_s + s0 * ad
        cb = batch * ad
        ma = self.weights_s + s0 * kr
        mb = batch * kr
        da = ca - ma
        db = cb - mb
        if da >= 0:
            a1, b1, a2, b2 = ca, cb, ma, mb
        else:
            a1, b1, a2, b2 = ma, mb, ca, cb
        last = da + db * (n - 1)
        if db == 0 or (da >= 0) == (last >= 0):
            return n * (const + a1) + b1 * (n - 1) * n / 2.0
        kx = math.floor(-da / db) + 1
        if kx > n:
            kx = n
        elif kx < 0:
            kx = 0
        m2 = n - kx
        return (
            n * const + kx * a1 + b1 * (kx - 1) * kx / 2.0 + m2 * a2 + b2 * (kx + n - 1) * m2 / 2.0
        )

    def _pieces(self, batch: int, s0: float) -> tuple[float, float, float, float, float]:
        """Per-iteration time k (context s0 + k·batch) as max of two lines, plus a constant."""
        const = self.overhead_s + self.ar_fixed_s + self.ar_token_s * batch
        ca = batch * self.lin_decode_s + s0 * self.attn_decode_s
        cb = batch * self.attn_decode_s
        ma = self.weights_s + s0 * self.kv_read_s
        mb = batch * self.kv_read_s
        return const, ca, cb, ma, mb

    @staticmethod
    def _split(ca: float, cb: float, ma: float, mb: float, n: int) -> tuple[bool, int]:
        """(compute dominates first?, first index of the second piece, clipped to [0, n])."""
        da, db = ca - ma, cb - mb
        first_compute = da >= 0
        if db == 0 or (da >= 0) == (da + db * (n - 1) >= 0):
            return first_compute, n
        kx = math.floor(-da / db) + 1
        return first_compute, min(n, max(0, kx))

    def span_slow(self, batch: int, s0: float, n: int) -> float:
        """Reference implementation of :meth:`span` (tests)."""
        if n <= 0:
            return 0.0
        const, ca, cb, ma, mb = self._pieces(batch, s0)
        comp_first, kx = self._split(ca, cb, ma, mb, n)
        a1, b1, a2, b2 = (ca, cb, ma, mb) if comp_first else (ma, mb, ca, cb)
        return n * const + _sum_lin(a1, b1, 0, kx) + _sum_lin(a2, b2, kx, n)

    def first_n(self, batch: int, s0: float, elapsed: float, limit: int) -> int:
        """Smallest n <= ``limit`` with ``span(batch, s0, n) >= elapsed`` (``limit`` if none):
        the index of the first iteration boundary at or after ``elapsed``."""
        return self.boundary(batch, s0, elapsed, limit)[0]

    def boundary(self, batch: int, s0: float, elapsed: float, limit: int) -> tuple[int, float]:
        """``(n, span(batch, s0, n))`` for n = :meth:`first_n`."""
        if elapsed <= 0:
            return 0, 0.0
        const, ca, cb, ma, mb = self._pieces(batch, s0)
        comp_first, kx = self._split(ca, cb, ma, mb, limit)
        a1, b1, a2, b2 = (ca, cb, ma, mb) if comp_first else (ma, mb, ca, cb)
        t_kx = kx * const + _sum_lin(a1, b1, 0, kx)
        if elapsed <= t_kx:
            n = _solve(const + a1, b1, 0, elapsed)
        else:
            n = kx + _solve(const + a2, b2, kx, elapsed - t_kx)
        n = min(max(n, 0), limit)
        # exact fix-up against span() so that callers see one consistent clock
        span = self.span
        sn = span(batch, s0, n)
        while n < limit and sn < elapsed:
            n += 1
            sn = span(batch, s0, n)
        while n > 0:
            sp = span(batch, s0, n - 1)
            if sp < elapsed:
                break
            n -= 1
            sn = sp
        return n, sn
