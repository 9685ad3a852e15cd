"""Scenario models of the serving data plane: the ``workload`` and ``serving`` sections.

Every model is frozen and rejects unknown fields; unions are tagged by ``kind``. The keys and
their defaults are documented in ``docs/serving.md``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stormsim.schema.strict import FloatPair


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- arrivals


class PoissonArrival(_M):
    """Poisson arrivals at ``rate_rps`` requests per second."""

    kind: Literal["poisson"]
    rate_rps: float = Field(ge=0)


class GammaArrival(_M):
    """Renewal process with gamma inter-arrival times: mean ``1/rate_rps``, coefficient of
    variation ``cv`` (1 is Poisson, > 1 bursty)."""

    kind: Literal["gamma"]
    rate_rps: float = Field(gt=0)
    cv: float = Field(gt=0)


class PiecewiseArrival(_M):
    """Non-homogeneous Poisson arrivals whose rate is given at points ``[[t_s, rate_rps],
    ...]`` (sorted by time). ``interpolation: linear`` (default) joins the points; ``step``
    holds each rate until the next point. Before the first point the first rate applies,
    after the last the last one."""

    kind: Literal["piecewise"]
    points: list[FloatPair] = Field(min_length=1)
    interpolation: Literal["linear", "step"] = "linear"

    @model_validator(mode="after")
    def _check(self) -> PiecewiseArrival:
        ts = [p[0] for p in self.points]
        if any(b < a for a, b in itertools.pairwise(ts)):
            raise ValueError("points must be sorted by time")
        if any(p[0] < 0 or p[1] < 0 for p in self.points):
            raise ValueError("times and rates must be >= 0")
        return self


class DiurnalArrival(_M):
    """Non-homogeneous Poisson arrivals with rate
    ``mean_rps * (1 + amplitude_frac * sin(2π (t + phase_s) / period_s))``."""

    kind: Literal["diurnal"]
    mean_rps: float = Field(ge=0)
    amplitude_frac: float = Field(default=0.5, ge=0, le=1)
    period_s: float = Field(default=86400.0, gt=0)
    phase_s: float = 0.0


class TraceArrival(_M):
    """Replay a request trace: CSV (Azure LLM inference trace / Vidur layout: arrival time in
    seconds, prompt tokens, output tokens; the raw Azure ``TIMESTAMP,ContextTokens,
    GeneratedTokens`` layout is accepted too) or Mooncake JSONL (``timestamp`` in ms,
    ``input_length``, ``output_length``). ``format`` defaults from the file extension.
    Arrival times are shifted so the first request arrives at ``offset_s``, then multiplied
    by ``time_scale`` and divided by ``rate_multiplier``. A relative ``path`` is relative to
    the scenario file."""

    kind: Literal["trace"]
    path: str = Field(min_length=1)
    format: Literal["csv", "jsonl"] | None = None
    time_scale: float = Field(default=1.0, gt=0)
    rate_multiplier: float = Field(default=1.0, gt=0)
    offset_s: float = Field(default=0.0, ge=0)
    max_requests: int | None = Field(default=None, ge=1)


Arrival = Annotated[
    PoissonArrival | GammaArrival | PiecewiseArrival | DiurnalArrival | TraceArrival,
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- lengths


class ConstantLen(_M):
    kind: Literal["constant"]
    value: int = Field(ge=1)


class UniformLen(_M):
    """Integers uniform on ``[low, high]`` (both included)."""

    kind: Literal["uniform"]
    low: int = Field(ge=1)
    high: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> UniformLen:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self


class LognormalLen(_M):
    """Lognormal fitted to a median and a 90th percentile, rounded to integers, clipped to
    ``[1, max]``."""

    kind: Literal["lognormal"]
    median: float = Field(gt=0)
    p90: float = Field(gt=0)
    max: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _order(self) -> LognormalLen:
        if self.p90 < self.median:
            raise ValueError("p90 must be >= median")
        return self


class EmpiricalLen(_M):
    """Uniform draws (with replacement) from ``values``."""

    kind: Literal["empirical"]
    values: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> EmpiricalLen:
        if any(v < 1 for v in self.values):
            raise ValueError("values must be >= 1")
        return self


Length = Annotated[
    ConstantLen | UniformLen | LognormalLen | EmpiricalLen, Field(discriminator="kind")
]


class Slo(_M):
    """Latency objectives of a request: time to first token and time per output token."""

    ttft_s: float = Field(default=1.0, gt=0)
    tpot_s: float = Field(default=0.05, gt=0)
    attainment_frac: float = Field(default=0.99, gt=0, le=1)
    """The share of the requests arriving in an update window that must meet ``ttft_s`` and
    ``tpot_s``: studies (compare, sweep) require ``window_slo_attainment_frac >=`` this."""
    ttft_at: Literal["first_token", "prefill_end"] = "first_token"
    """Where the first token is counted. ``first_token`` (default): when the client gets it.
    With AIBrix's ``pd`` routing that is from the decode pod, after prefill, KV transfer and
    decode admission. ``prefill_end``: when prefill produced it, as DistServe and vLLM's
    disaggregated benchmarks count it; the wait for the decode pod then falls into TPOT.
    Colocated engines are the same under both."""


DEFAULT_PROMPT = LognormalLen(kind="lognormal", median=1024, p90=4096)
DEFAULT_OUTPUT = ConstantLen(kind="constant", value=256)


class Workload(_M):
    """The requests sent to the service. ``prompt_tokens`` / ``output_tokens`` are ignored
    (and must be absent) for trace replay, which carries its own lengths."""

    arrival: Arrival
    prompt_tokens: Length | None = None
    output_tokens: Length | None = None
    slo: Slo = Field(default_factory=Slo)
    start_s: float = Field(default=0.0, ge=0)
    stop_s: float | None = Field(default=None, gt=0)
    max_requests: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _trace_lengths(self) -> Workload:
        if isinstance(self.arrival, TraceArrival) and (
            self.prompt_tokens is not None or self.output_tokens is not None
        ):
            raise ValueError("a trace carries its own lengths: drop prompt_tokens/output_tokens")
        return self

    @property
    def prompt(self) -> Length:
        return self.prompt_tokens or DEFAULT_PROMPT

    @property
    def output(self) -> Length:
        return self.output_tokens or DEFAULT_OUTPUT


# --------------------------------------------------------------------------- catalog entries


class GpuSpec(_M):
    """A GPU type. Bandwidths: HBM and NVLink in GB/s (10^9 bytes, per direction for NVLink),
    NIC in Gbit/s per GPU."""

    bf16_tflops: float = Field(gt=0)
    hbm_gb: float = Field(gt=0)
    hbm_gbps: float = Field(gt=0)
    nvlink_gbps: float = Field(gt=0)
    nic_gbps: float = Field(gt=0)
    source: str = ""


class ModelArch(_M):
    """A dense decoder-only transformer. ``params_b`` defaults from the shapes; ``head_dim``
    from ``hidden_size / num_heads``; ``gated_mlp`` is SwiGLU (3 matrices) vs 2."""

    num_layers: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    num_heads: int = Field(ge=1)
    num_kv_heads: int = Field(ge=1)
    head_dim: int | None = Field(default=None, ge=1)
    intermediate_size: int = Field(ge=1)
    vocab_size: int = Field(ge=1)
    dtype: Literal["bf16", "fp16", "fp8"] = "bf16"
    kv_dtype: Literal["bf16", "fp16", "fp8"] | None = None
    gated_mlp: bool = True
    tied_embeddings: bool = False
    params_b: float | None = Field(default=None, gt=0)
    max_context: int | None = Field(default=None, ge=1)
    source: str = ""


# --------------------------------------------------------------------------- engines


class Efficiency(_M):
    """Calibration of the roofline: achieved fraction of peak FLOP/s in prefill and decode
    (``mfu_*``), of HBM bandwidth (``mbu``) and NVLink bandwidth (``nvlink_eff``), a fixed
    per-iteration overhead, and the latency of one all-reduce. ``iteration_overhead_s`` and the
    two inter-node latencies (:data:`BOTH_MODELS`) apply to the calibrated model too
    (``iteration_overhead_s`` unset: 2.5 ms for the roofline, the calibration file's CPU
    overhead for the calibrated model)."""

    mfu_prefill: float = Field(default=0.65, gt=0, le=1)
    mfu_decode: float = Field(default=0.5, gt=0, le=1)
    mbu: float = Field(default=0.72, gt=0, le=1)
    nvlink_eff: float = Field(default=0.7, gt=0, le=1)
    iteration_overhead_s: float | None = Field(default=None, ge=0)
    allreduce_latency_s: float = Field(default=0.00002, ge=0)
    internode_allreduce_latency_s: float = Field(default=0.00008, ge=0)
    """Fixed cost of one all-reduce whose GPUs span nodes (a multi-node instance; both latency
    models use it)."""
    internode_send_latency_s: float = Field(default=0.00003, ge=0)
    """Fixed cost of one pipeline-stage hand-off between nodes."""


BOTH_MODELS = frozenset(
    {"iteration_overhead_s", "internode_allreduce_latency_s", "internode_send_latency_s"}
)
"""The :class:`Efficiency` knobs both latency models read (the rest are the roofline's)."""


class Engine(_M):
    """Engine settings (vLLM names where they exist). ``max_num_seqs`` caps both a prefill
    batch and the decode batch; ``max_num_batched_tokens`` is the prefill token budget per
    iteration; ``gpu_memory_utilization`` the HBM fraction for weights + KV cache;
    ``activation_reserve_gb`` per GPU is kept out of the KV cache."""

    max_num_seqs: int = Field(default=256, ge=1)
    max_num_batched_tokens: int = Field(default=8192, ge=1)
    chunked_prefill: bool = True
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    activation_reserve_gb: float = Field(default=1.0, ge=0)
    kv_cache_tokens: int | None = Field(default=None, ge=1)
    efficiency: Efficiency = Field(default_factory=Efficiency)


class RoleServing(_M):
    """Per-role overrides: the engine kind (default from the role name: ``prefill``,
    ``decode``, anything else ``colocated``: one engine serving both phases), an explicit
    tensor-parallel degree (default: the pod's GPU count, or the instance's for a multi-node
    role; ``tensor_parallel × pipeline_parallel`` must equal the instance's GPUs, checked at
    load by :mod:`stormsim.schema.parallelism`), pipeline stages, the model or GPU type, and
    engine settings."""

    kind: Literal["prefill", "decode", "colocated", "none"] | None = None
    tensor_parallel: int | None = Field(default=None, ge=1)
    pipeline_parallel: int | None = Field(default=None, ge=1)
    """Pipeline stages of a multi-node instance (a role with ``podGroupSize > 1``; default 1:
    tensor parallel over all its GPUs). The tensor-parallel degree then defaults to the
    instance's GPUs divided by the stages."""
    model: str | None = None
    gpu: str | None = None
    engine: Engine | None = None


class KvTransfer(_M):
    """KV-cache transfer prefill -> decode: each node's NIC (Gbit/s; default the catalog's
    per-GPU NIC times the node's GPUs) is shared fairly by the transfers crossing it, and a
    pod uses only its GPUs' share of it (one NIC per GPU); a transfer inside one node uses
    NVLink. ``base_latency_s`` is added to every transfer."""

    nic_gbps: float | None = Field(default=None, gt=0)
    base_latency_s: float = Field(default=0.0005, ge=0)


class Serving(_M):
    """The data plane: the model served, the gateway router and its queue, KV transfer, the
    engines, and user-defined GPU / model catalog entries."""

    model: str | ModelArch = "llama-3.1-8b"
    latency_model: Literal["roofline", "calibrated"] | None = None
    """The engines' latency model by name (``stormsim.perf.registry``); unset: ``calibrated``
    (operator by operator, fitted on measured profiles); ``roofline`` is the uncalibrated
    analytic model."""
    calibration: str | None = Field(default=None, min_length=1)
    """A calibration file of the calibrated model (``stormsim calibrate``), relative to the
    scenario file; unset: the packaged coefficients of each GPU."""
    router: Literal["random", "least_request", "least_kv"] = "least_request"
    queue_timeout_s: float = Field(default=30.0, ge=0)
    retries: int = Field(default=0, ge=0)
    kv_transfer: KvTransfer = Field(default_factory=KvTransfer)
    engine: Engine = Field(default_factory=Engine)
    roles: dict[str, RoleServing] = Field(default_factory=dict)
    gpus: dict[str, GpuSpec] = Field(default_factory=dict)
    models: dict[str, ModelArch] = Field(default_factory=dict)
    series_bin_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _roofline_knobs(self) -> Serving:
        """The roofline's efficiencies mean nothing to the calibrated model: setting one
        without ``latency_model: roofline`` is an error, not a silently ignored knob."""
        if self.latency_model == "roofline":
            return self
        engines = [("engine", self.engine)] + [
            (f"roles.{r}.engine", v.engine) for r, v in self.roles.items() if v.engine is not None
        ]
        for where, e in engines:
            eff = e.efficiency
            bad = [
                k
                for k, f in Efficiency.model_fields.items()
                if k not in BOTH_MODELS and getattr(eff, k) != f.default
            ]
            if bad:
                raise ValueError(
                    f"{where}.efficiency.{bad[0]} applies to the roofline latency model only: "
                    "set serving.latency_model: roofline, or remove it (the calibrated model, "
                    "the default, takes its coefficients from its calibration file)"
                )
        return self


def resolve_trace_path(scenario: Any, base: Path) -> Any:
    """The scenario with a relative ``workload.arrival.path`` (and ``serving.calibration``)
    made relative to ``base``."""
    sv = getattr(scenario, "serving", None)
    if isinstance(sv, Serving) and sv.calibration and not Path(sv.calibration).is_absolute():
        sv = sv.model_copy(update={"calibration": str(base / sv.calibration)})
        scenario = scenario.model_copy(update={"serving": sv})
    wl = getattr(scenario, "workload", None)
    if wl is None or not isinstance(wl.arrival, TraceArrival):
        return scenario
    p = Path(wl.arrival.path)
    if p.is_absolute():
        return scenario
    arrival = wl.arrival.model_copy(update={"path": str(base / p)})
    return scenario.model_copy(update={"workload": wl.model_copy(update={"arrival": arrival})})
