"""The calibrated latency model (``calibrated`` in :mod:`stormsim.perf.registry`): one engine's
iteration time built operator by operator, as measured operator profiles time them
(docs/latency-validation.md).

Per transformer layer, on one GPU of a ``tp``-way tensor-parallel engine:

* **GEMMs** (QKV, attention output, MLP gate+up, MLP down; the LM head once per sequence that
  samples): ``launch + ((F' / ce)^p + (B / (hbm·me))^p)^(1/p)`` with ``F`` the FLOPs and
  ``B`` the bytes (weights + activations in and out) of the GPU's shard, and
  ``F' = F/peak · (F/peak / 1 ms)^size_exp``: a smooth roofline whose efficiencies ``ce``,
  ``me``, sharpness ``p``, size exponent (compute efficiency changing with the GEMM's size)
  and launch time are fitted per GPU;
* **elementwise operators** (two RMS/layer norms, rotary embedding, the MLP activation, the
  residual add; the embedding gather once per iteration): ``launch + smoothmax(row/row_bw,
  bytes / (hbm·ee))`` with coefficients per kind of operator (``row`` the bytes one token moves:
  the serial work of the one thread block a token gets);
* **attention**: decode ``launch + per_seq·B + KV bytes read / (hbm·de)``; prefill
  ``launch + per_token·tokens + 4·heads·d·pairs / (peak·pe) + KV bytes of cached context /
  (hbm·pm)``;
* **all-reduce** (two per layer at ``tp > 1``, ``tokens·hidden·2`` bytes each):
  ``launch + latency(tp) + smoothmax(floor(tp), bytes / bandwidth(tp))`` from network
  profiles; across nodes the larger of that and a ring over the nodes' NICs (inter-node
  latency + ring bytes / NIC bandwidth, :mod:`.multinode`);
* a per-iteration CPU **overhead** (scheduling, input preparation, sampling), a named
  assumption of the calibration file (the profiles measure GPU kernels only).

All times are seconds. Decode time is ``const(B) + slope·S`` (linear in the total context ``S``),
so a fixed batch's ``n`` iterations sum in closed form (:meth:`CalibratedCost.span`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from stormsim.perf.calibration import Calibration
from stormsim.perf.latency import DTYPE_BYTES, head_dim, kv_bytes_per_token, kv_capacity_tokens
from stormsim.perf.latency import weight_bytes as _weight_bytes
from stormsim.schema.serving import GpuSpec, ModelArch

COMPONENTS = ("linear", "elementwise", "attention", "communication", "lm_head", "overhead")
"""The parts of one iteration's time, in the order they are reported."""


@dataclass(frozen=True)
class Shapes:
    """Per-GPU shard sizes of one layer (elements), for a model on ``tp`` GPUs."""

    hidden: int
    q_heads: int  # query heads per GPU
    kv_heads: int  # KV heads per GPU (at least one)
    head_dim: int
    inter: int  # MLP intermediate width per GPU
    gated: bool
    vocab: int  # LM head rows per GPU
    layers: int
    bytes_per: int  # activation / weight element bytes

    @classmethod
    def of(cls, m: ModelArch, tp: int) -> Shapes:
        return cls(
            hidden=m.hidden_size,
            q_heads=max(1, m.num_heads // tp),
            kv_heads=math.ceil(m.num_kv_heads / tp),
            head_dim=head_dim(m),
            inter=max(1, m.intermediate_size // tp),
            gated=m.gated_mlp,
            vocab=math.ceil(m.vocab_size / tp),
            layers=m.num_layers,
            bytes_per=DTYPE_BYTES[m.dtype],
        )

    def gemms(self) -> list[tuple[str, int, int]]:
        """The layer's GEMMs as (operator, in width, out width) of the GPU's shard."""
        h, d = self.hidden, self.head_dim
        return [
            ("attn_pre_proj", h, (self.q_heads + 2 * self.kv_heads) * d),
            ("attn_post_proj", self.q_heads * d, h),
            ("mlp_up_proj", h, self.inter * (2 if self.gated else 1)),
            ("mlp_down_proj", self.inter, h),
        ]

    def elementwise_bytes(self) -> list[tuple[str, int]]:
        """Bytes one token moves through each elementwise operator of the layer."""
        h, d, b = self.hidden, self.head_dim, self.bytes_per
        act = self.inter * (3 if self.gated else 2)  # read gate+up (or one), write one
        return [
            ("input_layernorm", 2 * h * b),
            ("attn_rope", 2 * (self.q_heads + self.kv_heads) * d * b),
            ("post_attention_layernorm", 2 * h * b),
            ("mlp_act", act * b),
            ("add", 3 * h * b),
        ]


ELEMENTWISE_KIND = {
    "input_layernorm": "norm",
    "post_attention_layernorm": "norm",
    "attn_rope": "rope",
    "mlp_act": "act_gated",
    "add": "add",
    "emb": "emb",
}
"""The coefficient kind (:data:`~stormsim.schema.calibration.ELEMENTWISE_KINDS`) of each
profiled elementwise operator (a non-gated MLP's activation is kind ``act``)."""


def elementwise_kind(op: str, gated: bool) -> str:
    """The coefficient kind of elementwise operator ``op`` of a model (gated MLP or not)."""
    if op == "mlp_act" and not gated:
        return "act"
    return ELEMENTWISE_KIND[op]


MEMO_MAX = 1 << 16
"""Entries kept per memo of :class:`CalibratedCost` (cleared when full, so memory stays
bounded whatever the inputs)."""

GEMM_SIZE_REF_S = 1e-3
"""Reference duration (seconds at peak) of the GEMM size-efficiency term."""


def gemm_flops_bytes(tokens: float, k: int, n: int, bytes_per: int) -> tuple[float, float]:
    """FLOPs and bytes moved of a ``tokens × k`` by ``k × n`` GEMM."""
    return 2.0 * tokens * k * n, float(bytes_per) * (k * n + tokens * (k + n))


def gemm_size_scale(
    x: Any, size_exp: float, knee: float | None, power_exp: float, power_drop: float
) -> Any:
    """The factor on a GEMM's compute time of ``x`` seconds at peak (a float or a numpy
    array): ``(x/1 ms)^size_exp`` times, with a power knee, ``1 + drop·s(x)`` with
    ``s(x) = u/(1 + u)``, ``u = (x/knee)^power_exp`` (0 for small GEMMs, 1 for large ones, ½ at
    the knee), over its value at 1 ms (so ``compute_eff`` stays the efficiency of a 1 ms
    GEMM)."""
    r = x / GEMM_SIZE_REF_S
    out = r**size_exp if size_exp else 1.0 + 0.0 * r
    if knee and power_drop:
        u = (x / knee) ** power_exp
        u0 = (GEMM_SIZE_REF_S / knee) ** power_exp
        out = out * (1.0 + power_drop * u / (1.0 + u)) / (1.0 + power_drop * u0 / (1.0 + u0))
    return out


def block_pairs(tokens: float, pairs: float, ctx_read: float, seqs: float, block: int) -> float:
    """(query, key) pairs of a prefill computed in whole query blocks of ``block`` tokens,
    each attending to every cached and new key of its sequence: per sequence of ``c`` new
    and ``kv`` cached tokens ``(c + block/2)·(kv + c)`` (half a block of padding on
    average). From the batch's totals: ``Σ c·kv`` is taken as ``tokens·ctx_read/seqs``
    (exact for one sequence or equal ones, at most ``pairs``), ``Σ c²`` as ``2·(pairs −
    Σ c·kv)``."""
    cross = min(pairs, tokens * ctx_read / max(seqs, 1.0))
    return 2.0 * pairs - cross + block / 2.0 * (ctx_read + tokens)


class Operators:
    """Operator times (seconds) of one model on one GPU type at one TP degree."""

    def __init__(
        self,
        m: ModelArch,
        g: GpuSpec,
        tp: int,
        cal: Calibration,
        internode: tuple[float, float] | None = None,
    ):
        self.s = Shapes.of(m, tp)
        self.internode = internode
        self.tp = tp
        self.cal = cal
        self.peak = g.bf16_tflops * 1e12 * (2.0 if m.dtype == "fp8" else 1.0)
        self.hbm = g.hbm_gbps * 1e9
        kvb = DTYPE_BYTES[m.kv_dtype or m.dtype]
        self.kv_bytes_layer = 2.0 * self.s.kv_heads * self.s.head_dim * kvb  # one token, one GPU

    def gemm(self, tokens: float, k: int, n: int) -> float:
        if tokens <= 0:
            return 0.0
        c = self.cal.gemm
        f, b = gemm_flops_bytes(tokens, k, n, self.s.bytes_per)
        p = c.sharpness
        x = f / self.peak
        if c.m_tile_weights:  # the last tile of rows is computed whole
            x *= 1.0 + sum(
                w * (math.ceil(tokens / t) * t / tokens - 1.0) for t, w in c.m_tile_weights.items()
            )
        if c.size_exp or c.power_drop:
            x *= gemm_size_scale(x, c.size_exp, c.power_knee_s, c.power_exp, c.power_drop)
        x /= c.compute_eff
        y = b / (self.hbm * c.memory_eff)
        return c.launch_s + (x**p + y**p) ** (1.0 / p)

    def elementwise(self, tokens: float, row_bytes: float, kind: str) -> float:
        """One elementwise operator of kind ``kind`` over ``tokens`` tokens moving
        ``row_bytes`` each."""
        if tokens <= 0 or row_bytes <= 0:
            return 0.0
        c = self.cal.elementwise_ops.get(kind, self.cal.elementwise)  # type: ignore[call-overload]
        bulk = tokens * row_bytes / (self.hbm * c.memory_eff)
        if not c.row_gbps:
            return c.launch_s + bulk
        p = c.sharpness
        row = row_bytes / (c.row_gbps * 1e9)
        return c.launch_s + (row**p + bulk**p) ** (1.0 / p)

    def linear_layer(self, tokens: float) -> float:
        return sum(self.gemm(tokens, k, n) for _, k, n in self.s.gemms())

    def elementwise_layer(self, tokens: float) -> float:
        return sum(
            self.elementwise(tokens, b, elementwise_kind(op, self.s.gated))
            for op, b in self.s.elementwise_bytes()
        )

    def embedding(self, tokens: float) -> float:
        return self.elementwise(tokens, 2 * self.s.hidden * self.s.bytes_per, "emb")

    def lm_head(self, seqs: float) -> float:
        return self.gemm(seqs, self.s.hidden, self.s.vocab)

    def allreduce(self, nbytes: float) -> float:
        """One all-reduce of ``nbytes`` over the ``tp`` GPUs (0 at tp 1)."""
        if self.tp <= 1 or nbytes <= 0:
            return 0.0
        ar = self.cal.allreduce
        t = ar.fit_at(self.tp).time(nbytes)
        if self.internode is not None:  # a ring over the nodes' NICs, no faster than NVLink
            lat, nic = self.internode
            t = max(t, lat + 2.0 * (self.tp - 1) / self.tp * nbytes / nic)
        return ar.launch_s + t

    def communication(self, tokens: float) -> float:
        """The layers' all-reduces: two per layer of ``tokens·hidden`` elements."""
        per = self.allreduce(tokens * self.s.hidden * self.s.bytes_per)
        return 2.0 * self.s.layers * per

    def decode_attention_layer(self, batch: float, context: float) -> float:
        if batch <= 0:
            return 0.0
        a = self.cal.attention_decode
        return (
            a.launch_s
            + a.per_seq_s * batch
            + context * self.kv_bytes_layer / (self.hbm * a.memory_eff)
        )

    def prefill_attention_layer(
        self, tokens: float, pairs: float, ctx_read: float, seqs: float = 1.0
    ) -> float:
        """Prefill attention of one layer: ``tokens`` new tokens of ``seqs`` sequences,
        ``pairs`` causal (query, key) pairs, ``ctx_read`` cached tokens read."""
        if pairs <= 0:
            return 0.0
        a = self.cal.attention_prefill
        me = a.memory_eff or self.cal.attention_decode.memory_eff
        w = pairs
        if a.query_block:
            w = block_pairs(tokens, pairs, ctx_read, seqs, a.query_block)
        flops = 4.0 * self.s.q_heads * self.s.head_dim * w
        kv = ctx_read * self.kv_bytes_layer / (self.hbm * me)
        return a.launch_s + a.per_token_s * tokens + flops / (self.peak * a.compute_eff) + kv


@dataclass(frozen=True)
class CalibratedCost:
    """The calibrated :class:`~stormsim.perf.registry.LatencyModel` of one engine."""

    ops: Operators
    tp: int
    overhead_s: float
    kv_bytes_per_token: float
    kv_capacity_tokens: int
    weight_bytes: float
    _lines: dict[int, tuple[float, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _by_tokens: dict[float, tuple[float, float, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _heads: dict[float, float] = field(default_factory=dict, init=False, repr=False, compare=False)
    _prefills: dict[tuple[float, float, float, float], float] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def build(
        cls,
        m: ModelArch,
        g: GpuSpec,
        tp: int,
        cal: Calibration,
        mem_util: float = 0.9,
        reserve_gb: float = 1.0,
        kv_tokens: int | None = None,
        overhead_s: float | None = None,
        internode: tuple[float, float] | None = None,
    ) -> CalibratedCost:
        cap = (
            kv_tokens
            if kv_tokens is not None
            else kv_capacity_tokens(m, g, tp, mem_util, reserve_gb)
        )
        return cls(
            ops=Operators(m, g, tp, cal, internode),
            tp=tp,
            overhead_s=cal.overhead_s if overhead_s is None else overhead_s,
            kv_bytes_per_token=kv_bytes_per_token(m, tp),
            kv_capacity_tokens=cap,
            weight_bytes=_weight_bytes(m),
        )

    # ----------------------------------------------------------------- breakdowns
    def prefill_parts(
        self, tokens: float, pairs: float, seqs: int, ctx_read: float = 0.0
    ) -> dict[str, float]:
        """Seconds of each :data:`COMPONENTS` part of one prefill iteration."""
        o, L = self.ops, self.ops.s.layers
        return {
            "linear": L * o.linear_layer(tokens),
            "elementwise": L * o.elementwise_layer(tokens) + o.embedding(tokens),
            "attention": L * o.prefill_attention_layer(tokens, pairs, ctx_read, seqs),
            "communication": o.communication(tokens),
            "lm_head": o.lm_head(seqs),
            "overhead": self.overhead_s,
        }

    def decode_parts(self, batch: int, context: float) -> dict[str, float]:
        """Seconds of each :data:`COMPONENTS` part of one decode iteration."""
        o, L = self.ops, self.ops.s.layers
        return {
            "linear": L * o.linear_layer(batch),
            "elementwise": L * o.elementwise_layer(batch) + o.embedding(batch),
            "attention": L * o.decode_attention_layer(batch, context),
            "communication": o.communication(batch),
            "lm_head": o.lm_head(batch),
            "overhead": self.overhead_s,
        }

    # ----------------------------------------------------------------- protocol
    def prefill_time(self, tokens: float, pairs: float, seqs: int, ctx_read: float = 0.0) -> float:
        """The sum of :meth:`prefill_parts`, in its order (bit for bit the same), with the
        parts that depend only on the token count (linear, elementwise, communication) and
        the LM head (only on ``seqs``) memoised: a serving run asks for the same few
        thousand token counts millions of times; and whole iterations by their arguments
        (a lone prompt of a given length recurs)."""
        key = (tokens, pairs, seqs, ctx_read)
        t = self._prefills.get(key)
        if t is not None:
            return t
        by = self._by_tokens.get(tokens)
        if by is None:
            o, L = self.ops, self.ops.s.layers
            if len(self._by_tokens) >= MEMO_MAX:
                self._by_tokens.clear()
            by = self._by_tokens[tokens] = (
                L * o.linear_layer(tokens),
                L * o.elementwise_layer(tokens) + o.embedding(tokens),
                o.communication(tokens),
            )
        head = self._heads.get(seqs)
        if head is None:
            if len(self._heads) >= MEMO_MAX:
                self._heads.clear()
            head = self._heads[seqs] = self.ops.lm_head(seqs)
        attn = self.ops.s.layers * self.ops.prefill_attention_layer(tokens, pairs, ctx_read, seqs)
        if len(self._prefills) >= MEMO_MAX:
            self._prefills.clear()
        t = self._prefills[key] = by[0] + by[1] + attn + by[2] + head + self.overhead_s
        return t

    def prefill_one(self, prompt: int) -> float:
        return self.prefill_time(prompt, prompt * prompt / 2.0, 1)

    def _line(self, batch: int) -> tuple[float, float]:
        """Decode iteration time as ``a + b·context`` for a batch of ``batch`` sequences
        (memoised per batch size: the data plane asks for the same few sizes again and
        again)."""
        line = self._lines.get(batch)
        if line is None:
            a = self.decode_time(batch, 0.0)
            b = (
                self.ops.s.layers
                * self.ops.kv_bytes_layer
                / (self.ops.hbm * self.ops.cal.attention_decode.memory_eff)
            )
            line = self._lines[batch] = (a, b)
        return line

    def decode_time(self, batch: int, context: float) -> float:
        return sum(self.decode_parts(batch, context).values())

    def span(self, batch: int, s0: float, n: int) -> float:
        if n <= 0:
            return 0.0
        line = self._lines.get(batch)
        a, b = self._line(batch) if line is None else line
        return n * (a + b * s0) + b * batch * (n - 1) * n / 2.0

    def boundary(self, batch: int, s0: float, elapsed: float, limit: int) -> tuple[int, float]:
        if elapsed <= 0:
            return 0, 0.0
        line = self._lines.get(batch)
        a, b = self._line(batch) if line is None else line
        a0, step = a + b * s0, b * batch
        if step <= 0:
            n = math.ceil(elapsed / a0 - 1e-12)
        else:
            p = a0 - step / 2.0
            n = math.ceil((-p + math.sqrt(p * p + 2.0 * step * elapsed)) / step - 1e-9)
        if n < 0:  # min(max(n, 0), limit), without the calls
            n = 0
        if n > limit:
            n = limit
        # span(batch, s0, m) written out (the same operations): m·a0 + step·(m − 1)·m / 2
        sn = n * a0 + step * (n - 1) * n / 2.0 if n > 0 else 0.0
        while n < limit and sn < elapsed:
            n += 1
            sn = n * a0 + step * (n - 1) * n / 2.0
        while n > 0:
            m = n - 1
            sp = m * a0 + step * (m - 1) * m / 2.0 if m > 0 else 0.0
            if sp < elapsed:
                break
            n = m
            sn = sp
        return n, sn

    def first_n(self, batch: int, s0: float, elapsed: float, limit: int) -> int:
        return self.boundary(batch, s0, elapsed, limit)[0]
