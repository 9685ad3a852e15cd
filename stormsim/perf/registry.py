"""The :class:`LatencyModel` interface and the registry of latency models (name -> factory).

A latency model times the iterations of one engine: a model on ``tp`` GPUs of one type with
given engine settings. The serving data plane asks it for the duration of every prefill
iteration and for decode spans in closed form; the planner asks it for single-iteration times
and the KV capacity. All times are **seconds of simulated time**, all sizes **tokens** or
**bytes**. Two models are registered: ``calibrated`` (the default,
:class:`stormsim.perf.calibrated.CalibratedCost`, fitted on measured operator profiles) and
``roofline`` (:class:`stormsim.perf.latency.EngineCost`, docs/latency-model.md). Another joins by
implementing the protocol in its own module and adding one entry to :data:`LATENCY_MODELS`
(and its name to ``serving.latency_model``'s choices in ``stormsim/schema/serving.py``).
``tests/serving/test_latency_registry.py`` checks every registered model against the
protocol's invariants.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from stormsim.errors import InputError, Problem
from stormsim.perf.latency import EngineCost
from stormsim.perf.multinode import InterNode, PipelineCost, instance_kv_capacity, stage_model
from stormsim.schema.serving import Engine, GpuSpec, ModelArch


@runtime_checkable
class LatencyModel(Protocol):
    """Iteration times of one engine (a model on ``tp`` GPUs of one type).

    Invariants every implementation keeps (the data plane relies on them):

    * every time is > 0 for a non-empty batch and non-decreasing in each size argument;
    * ``span(B, S0, n)`` equals ``Σ_{k<n} decode_time(B, S0 + k·B)`` (a fixed batch's context
      grows by ``B`` tokens per iteration), ``span(B, S0, 0) == 0``, and ``span`` is
      non-decreasing in ``n``;
    * ``boundary(B, S0, e, limit) == (n, span(B, S0, n))`` with ``n`` the smallest count
      ``<= limit`` whose span reaches ``e`` (``limit`` if none does), and ``first_n`` is its
      ``n``: both are exact against ``span`` (one consistent clock);
    * ``prefill_one(p) == prefill_time(p, p²/2, 1)``.
    """

    @property
    def tp(self) -> int:
        """Tensor-parallel degree (GPUs of the engine)."""
        ...

    @property
    def kv_capacity_tokens(self) -> int:
        """Tokens of KV cache the engine holds (0: the model does not fit)."""
        ...

    @property
    def kv_bytes_per_token(self) -> float:
        """KV cache bytes of one token, summed over the ``tp`` GPUs."""
        ...

    @property
    def weight_bytes(self) -> float:
        """Bytes of the model's weights (all GPUs together)."""
        ...

    def prefill_time(self, tokens: float, pairs: float, seqs: int, ctx_read: float = 0.0) -> float:
        """Seconds of one prefill iteration over ``tokens`` new tokens (chunks) of ``seqs``
        sequences finishing their prompt in it, with ``pairs = Σ l·(c + l/2)`` causal
        attention pairs (chunk length ``l`` after ``c`` cached tokens) and ``ctx_read = Σ c``
        cached tokens read."""
        ...

    def prefill_one(self, prompt: int) -> float:
        """Seconds to prefill one ``prompt``-token prompt alone, in one iteration."""
        ...

    def decode_time(self, batch: int, context: float) -> float:
        """Seconds of one decode iteration of ``batch`` sequences holding ``context`` tokens
        of KV in total."""
        ...

    def span(self, batch: int, s0: float, n: int) -> float:
        """Seconds of ``n`` decode iterations of a fixed batch of ``batch`` sequences starting
        at total context ``s0`` tokens."""
        ...

    def boundary(self, batch: int, s0: float, elapsed: float, limit: int) -> tuple[int, float]:
        """``(n, span(batch, s0, n))`` for the first iteration boundary at or after
        ``elapsed`` seconds, ``n <= limit``."""
        ...

    def first_n(self, batch: int, s0: float, elapsed: float, limit: int) -> int:
        """The ``n`` of :meth:`boundary`."""
        ...


class LatencyModelFactory(Protocol):
    """(model, GPU, tensor-parallel degree, engine settings) -> the engine's latency model;
    ``internode`` (``(latency s, ring bytes/s)``, passed only when the ``tp`` GPUs span
    nodes) times its all-reduces across the nodes' NICs (:mod:`stormsim.perf.multinode`)."""

    def __call__(
        self,
        model: ModelArch,
        gpu: GpuSpec,
        tp: int,
        engine: Engine,
        *,
        internode: tuple[float, float] | None = None,
    ) -> LatencyModel: ...


def _roofline(
    model: ModelArch,
    gpu: GpuSpec,
    tp: int,
    engine: Engine,
    *,
    internode: tuple[float, float] | None = None,
) -> LatencyModel:
    return EngineCost.build(
        model,
        gpu,
        tp,
        engine.efficiency,
        engine.gpu_memory_utilization,
        engine.activation_reserve_gb,
        engine.kv_cache_tokens,
        internode,
    )


def _gpu_name(gpu: GpuSpec) -> str:
    """The packaged catalog name of ``gpu`` ("" for a scenario-defined GPU)."""
    from stormsim.perf.catalog import builtin

    return next((k for k, v in builtin()[0].items() if v == gpu), "")


def calibrated(
    model: ModelArch,
    gpu: GpuSpec,
    tp: int,
    engine: Engine,
    calibration: str | None = None,
    internode: tuple[float, float] | None = None,
) -> LatencyModel:
    """The calibrated model (:mod:`stormsim.perf.calibrated`): coefficients from the file
    ``calibration`` or the packaged table of ``gpu``. The CPU overhead is the calibration's
    unless the engine sets ``efficiency.iteration_overhead_s``."""
    from stormsim.perf.calibrated import CalibratedCost
    from stormsim.perf.calibration import builtin_calibration, load_calibration

    cal = load_calibration(calibration) if calibration else builtin_calibration(_gpu_name(gpu))
    eff = engine.efficiency
    over = eff.iteration_overhead_s
    return CalibratedCost.build(
        model,
        gpu,
        tp,
        cal,
        engine.gpu_memory_utilization,
        engine.activation_reserve_gb,
        engine.kv_cache_tokens,
        over,
        internode,
    )


DEFAULT_LATENCY_MODEL = "calibrated"
"""The default: the calibrated model, fitted operator by operator on measured profiles
(docs/latency-validation.md); ``roofline`` stays selectable."""
LATENCY_MODELS: dict[str, LatencyModelFactory] = {"roofline": _roofline, "calibrated": calibrated}
"""Every latency model by the name a scenario selects it with (``serving.latency_model``)."""


def build_latency_model(
    name: str | None,
    model: ModelArch,
    gpu: GpuSpec,
    tp: int,
    engine: Engine,
    calibration: str | None = None,
    pp: int = 1,
    internode: InterNode | None = None,
) -> LatencyModel:
    """The latency model ``name`` (None: :data:`DEFAULT_LATENCY_MODEL`) of an engine;
    ``calibration`` (a calibration file's path) selects the calibrated model's coefficients and
    makes ``calibrated`` the default. A multi-node instance (:mod:`stormsim.perf.multinode`)
    has ``pp`` pipeline stages of ``tp`` GPUs and the network ``internode`` between its
    nodes; its KV capacity counts every GPU of the instance."""
    if name is None and calibration:
        name = "calibrated"
    factory = LATENCY_MODELS.get(name or DEFAULT_LATENCY_MODEL)
    if factory is None:
        raise InputError(
            Problem(
                "serving.latency_model",
                f"unknown latency model {name!r}: known {', '.join(sorted(LATENCY_MODELS))}",
            )
        )
    if pp <= 1 and internode is None:
        if name == "calibrated":
            return calibrated(model, gpu, tp, engine, calibration)
        return factory(model, gpu, tp, engine)
    ar = None
    if internode is not None and internode.spans(tp):
        ar = (internode.allreduce_latency_s, internode.ring_bytes_per_s())
    stage_m = stage_model(model, pp)
    if name == "calibrated":
        stage = calibrated(stage_m, gpu, tp, engine, calibration, internode=ar)
    elif ar is not None:
        stage = factory(stage_m, gpu, tp, engine, internode=ar)
    else:
        stage = factory(stage_m, gpu, tp, engine)
    if pp <= 1:
        return stage
    cap = engine.kv_cache_tokens or instance_kv_capacity(
        model, gpu, tp, pp, engine.gpu_memory_utilization, engine.activation_reserve_gb
    )
    return PipelineCost.build(stage, model, tp, pp, internode, cap)
