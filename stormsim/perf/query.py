"""One iteration's predicted time, part by part (``stormsim latency`` / ``stormsim.latency``).

Units: seconds; batch sizes in sequences, lengths in tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stormsim.errors import InputError, Problem
from stormsim.perf.calibrated import COMPONENTS, CalibratedCost
from stormsim.perf.latency import EngineCost
from stormsim.perf.multinode import InterNode, PipelineCost
from stormsim.perf.registry import DEFAULT_LATENCY_MODEL, LATENCY_MODELS, build_latency_model
from stormsim.schema.serving import Engine, ModelArch


@dataclass(frozen=True)
class IterationLatency:
    """Predicted time of one iteration: ``total_s`` = Σ ``components_s`` (keys
    :data:`~stormsim.perf.calibrated.COMPONENTS`)."""

    model: str
    gpu: str
    tp: int
    latency_model: str
    kind: str  # "prefill" or "decode"
    total_s: float
    components_s: dict[str, float]
    pp: int = 1
    nodes: int = 1

    @property
    def engine(self) -> str:
        """``tp x GPU``, with pipeline stages and nodes when there are several."""
        what = f"{self.tp} x {self.gpu}" if self.pp == 1 else f"{self.tp} x {self.pp} x {self.gpu}"
        return what if self.nodes == 1 else f"{what} over {self.nodes} nodes"

    def to_json(self) -> dict[str, Any]:
        return {"total_s": self.total_s, "components_s": dict(self.components_s)}


def _roofline_parts(
    c: EngineCost, compute: dict[str, float], memory: float, comm: float
) -> dict[str, float]:
    """Roofline parts: the compute terms scaled to ``max(compute, memory)`` (the roofline
    has no elementwise operators)."""
    tot = sum(compute.values())
    scale = max(tot, memory) / tot if tot > 0 else 0.0
    return {
        "linear": compute["linear"] * scale,
        "elementwise": 0.0,
        "attention": compute["attention"] * scale,
        "communication": comm,
        "lm_head": compute["lm_head"] * scale,
        "overhead": c.overhead_s,
    }


def read_model_file(path: Path) -> ModelArch:
    """One architecture in the scenario's inline model format (a YAML mapping)."""
    from pydantic import ValidationError
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        return ModelArch.model_validate(data)
    except OSError as e:
        raise InputError(Problem("--model-file", f"cannot read {path}: {e.strerror}")) from None
    except YAMLError as e:
        raise InputError(Problem("--model-file", f"{path}: not valid YAML: {e}")) from None
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "<root>"
        raise InputError(Problem("--model-file", f"{path}: {loc}: {first['msg']}")) from None


def latency(
    model: str | ModelArch = "llama-3.1-8b",
    gpu: str = "H100-80GB",
    tp: int = 1,
    *,
    prefill: list[int] | None = None,
    cached: int = 0,
    decode_batch: int | None = None,
    context: int | None = None,
    latency_model: str | None = None,
    calibration: str | None = None,
    engine: Engine | None = None,
    pp: int = 1,
    nodes: int = 1,
) -> IterationLatency:
    """Predicted time of one iteration: a prefill of prompts ``prefill`` (each after
    ``cached`` cached tokens), or a decode of ``decode_batch`` sequences of ``context`` tokens
    each. ``model`` is a catalog name or an architecture. A multi-node engine has ``pp``
    pipeline stages of ``tp`` GPUs spread evenly over ``nodes`` nodes
    (:mod:`stormsim.perf.multinode`)."""
    from stormsim.perf.catalog import Catalog
    from stormsim.schema.serving import Serving

    if tp < 1:
        raise InputError(Problem("--tp", f"must be at least 1, got {tp}"))
    if pp < 1:
        raise InputError(Problem("--pp", f"must be at least 1, got {pp}"))
    if nodes < 1 or (tp * pp) % nodes:
        raise InputError(
            Problem("--nodes", f"must be at least 1 and divide the {tp * pp} GPUs, got {nodes}")
        )
    if (prefill is None) == (decode_batch is None):
        raise InputError(Problem("--prefill", "give either --prefill or --decode-batch"))
    if prefill is not None and (not prefill or min(prefill) < 1):
        raise InputError(Problem("--prefill", "prompt lengths must be positive integers"))
    if cached < 0:
        raise InputError(Problem("--cached", f"must be >= 0, got {cached}"))
    if decode_batch is not None:
        if decode_batch < 1:
            raise InputError(Problem("--decode-batch", f"must be at least 1, got {decode_batch}"))
        if context is None or context < 0:
            raise InputError(
                Problem("--context", "a decode needs --context >= 0 (tokens per sequence)")
            )
    name = latency_model or ("calibrated" if calibration else DEFAULT_LATENCY_MODEL)
    if name not in LATENCY_MODELS:
        raise InputError(
            Problem(
                "--latency-model", f"unknown {name!r}: known {', '.join(sorted(LATENCY_MODELS))}"
            )
        )
    cat = Catalog(Serving())
    arch = cat.model(model, "--model")
    spec = cat.gpu(gpu, "--gpu")
    eng = engine or Engine(kv_cache_tokens=1)
    net = None
    if nodes > 1:
        eff = eng.efficiency
        net = InterNode(
            tp * pp // nodes,
            spec.nic_gbps * 1e9 / 8.0,
            eff.internode_allreduce_latency_s,
            eff.internode_send_latency_s,
        )
    full = build_latency_model(name, arch, spec, tp, eng, calibration, pp, net)
    cost: Any = full
    slots, handoff = 1, 0.0
    if prefill is not None:
        tokens = float(sum(prefill))
        pairs = float(sum(n * (cached + n / 2.0) for n in prefill))
        ctx = float(cached * len(prefill))
        seqs: float = len(prefill)
        if isinstance(full, PipelineCost):  # one stage's microbatch, (m + pp − 1) times
            m = full._m(seqs)
            cost, slots = full.stage, full._slots(m)
            tokens, pairs, ctx, seqs = tokens / m, pairs / m, ctx / m, seqs / m
            handoff = full._handoff(tokens)
        kind = "prefill"
        if isinstance(cost, CalibratedCost):
            parts = cost.prefill_parts(tokens, pairs, seqs, ctx)  # type: ignore[arg-type]
        else:
            assert isinstance(cost, EngineCost)
            parts = _roofline_parts(
                cost,
                {
                    "linear": tokens * cost.lin_prefill_s,
                    "attention": pairs * cost.attn_prefill_s,
                    "lm_head": seqs * cost.head_prefill_s,
                },
                cost.weights_s + tokens * cost.kv_write_s + ctx * cost.kv_read_s,
                cost.ar_fixed_s + cost.ar_token_s * tokens,
            )
    else:
        assert decode_batch is not None and context is not None
        b: Any = decode_batch
        s = float(decode_batch * context)
        if isinstance(full, PipelineCost):
            m = full._m(b)
            cost, slots = full.stage, full._slots(m)
            b, s = b / m, s / m
            handoff = full._handoff(b)
        kind = "decode"
        if isinstance(cost, CalibratedCost):
            parts = cost.decode_parts(b, s)
        else:
            assert isinstance(cost, EngineCost)
            head_frac = (2.0 * arch.vocab_size * arch.hidden_size) / (
                2.0 * arch.vocab_size * arch.hidden_size + _lin_flops(arch)
            )
            lin = b * cost.lin_decode_s
            parts = _roofline_parts(
                cost,
                {
                    "linear": lin * (1 - head_frac),
                    "attention": s * cost.attn_decode_s,
                    "lm_head": lin * head_frac,
                },
                cost.weights_s + s * cost.kv_read_s,
                cost.ar_fixed_s + cost.ar_token_s * b,
            )
    comps = {k: float(parts[k]) for k in COMPONENTS}
    if slots > 1 or handoff:  # a pipeline: every slot but the engine's overhead, once
        comps = {k: v * slots for k, v in comps.items()}
        comps["overhead"] = float(parts["overhead"])
        comps["communication"] += slots * handoff
    label = model if isinstance(model, str) else "model-file"
    return IterationLatency(label, gpu, tp, name, kind, sum(comps.values()), comps, pp, nodes)


def _lin_flops(m: ModelArch) -> float:
    from stormsim.perf.latency import linear_params

    return 2.0 * linear_params(m)
