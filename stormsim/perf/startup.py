"""Model-aware start-up defaults: ``model_load_s`` and ``engine_init_s`` from the served model.

When a scenario has a ``serving`` section (it names the model its engines serve: ``serving.model``
or a role's ``serving.roles.<role>.model``, from the catalog or inline) and its ``timing`` block
leaves ``model_load_s`` / ``engine_init_s`` unset (globally and for the role), each GPU role's
pods get, as a lognormal of the shape the generic defaults use (90th percentile = 2 x median):

* ``model_load_s`` median = weight bytes per GPU / :data:`LOAD_BYTES_PER_S`, where weight bytes
  per GPU = the model's weight bytes / the role's tensor-parallel degree (each TP rank reads
  and copies only its own shard, in parallel with the others). TP is the one the data plane
  uses: ``serving.roles.<role>.tensor_parallel``, else the pod's GPU count; a multi-node role's
  engine (``podGroupSize > 1``) divides the weights over all its GPUs (TP × pipeline stages).
* ``engine_init_s`` median = :data:`INIT_BASE_S` + :data:`INIT_PER_LAYER_S` x the model's
  layers (memory profiling and KV-cache allocation, then CUDA-graph capture of every layer
  for each captured batch size).

Sources of the constants:

* Load bandwidth: ServerlessLLM (Fu et al., OSDI 2024) measured loading checkpoints into GPU
  memory with the standard PyTorch / Safetensors loaders at 34 s for OPT-30B and 84 s for
  LLaMA-2-70B (about 130 GB in 16-bit): 130e9 B / 84 s = 1.55 GB/s. At that rate a
  Llama-3.1-8B (16.1 GB) loads in 10.4 s, inside the 10-20 s commonly seen for 8B models.
  Assumption: that rate holds per GPU when TP ranks load their shards in parallel (node
  storage or page cache not the bottleneck); set ``timing.model_load_s`` where it is.
* Engine init: vLLM's start-up log in pull request #11005 (vllm-project/vllm) reports 14.2 s
  of engine init for Llama-3-8B, about 10 s of it CUDA-graph capture. Assumption: capture
  time grows with the number of layers captured (32 for 8B), the rest does not; so 4.2 s +
  10 s / 32 per layer. No measured 70B figure is used: for Llama-3.1-70B (80 layers) this
  gives 29.2 s.

Scenarios without ``serving`` keep the generic defaults (lognormal median 15 s, p90 30 s), and
roles without GPUs (or with ``kind: none``) keep the scenario's global value. Explicit values
always win: a global ``timing.model_load_s`` applies to every role, a per-role one to its role.
"""

from __future__ import annotations

from dataclasses import dataclass

from stormsim.perf.catalog import Catalog
from stormsim.perf.latency import weight_bytes
from stormsim.schema.aibrix import RoleSpec
from stormsim.schema.scenario import (
    GENERIC_ENGINE_INIT,
    GENERIC_MODEL_LOAD,
    Apply,
    Lognormal,
    RoleTiming,
    Scenario,
)
from stormsim.schema.serving import ModelArch, Serving

LOAD_BYTES_PER_S = 130e9 / 84.0
"""Weight bytes loaded into GPU memory per second per GPU (ServerlessLLM, LLaMA-2-70B, 84 s)."""
INIT_MEASURED_S = 14.2
"""Engine init of Llama-3-8B, seconds (vLLM pull request #11005)."""
INIT_CAPTURE_S = 10.0
"""Of which CUDA-graph capture, seconds (same log)."""
INIT_MEASURED_LAYERS = 32
"""Layers of that model (Llama-3-8B)."""
INIT_PER_LAYER_S = INIT_CAPTURE_S / INIT_MEASURED_LAYERS
INIT_BASE_S = INIT_MEASURED_S - INIT_CAPTURE_S
P90_OVER_MEDIAN = 2.0
"""Spread of the derived lognormals: the generic defaults' p90 / median (30 s / 15 s)."""


@dataclass(frozen=True)
class RoleStartup:
    """The derived start-up of one role: inputs and the medians (seconds)."""

    role: str
    model: ModelArch
    tensor_parallel: int
    bytes_per_gpu: float
    model_load_median_s: float
    engine_init_median_s: float


def _lognormal(median_s: float) -> Lognormal:
    return Lognormal(kind="lognormal", median_s=median_s, p90_s=P90_OVER_MEDIAN * median_s)


def model_load_median_s(model: ModelArch, tensor_parallel: int) -> float:
    """Median weight-load time (seconds) of one pod: its per-GPU shard at the load bandwidth."""
    return weight_bytes(model) / tensor_parallel / LOAD_BYTES_PER_S


def engine_init_median_s(model: ModelArch) -> float:
    """Median engine init (seconds): profiling + KV allocation, plus graph capture per layer."""
    return INIT_BASE_S + INIT_PER_LAYER_S * model.num_layers


def _role_specs(s: Scenario) -> dict[str, RoleSpec]:
    """Each role as first declared (initial manifest, then applied ones in event order)."""
    out: dict[str, RoleSpec] = {}
    manifests = [
        s.service.manifest,
        *[e.manifest for e in s.events if isinstance(e, Apply) and e.manifest],
    ]
    for m in manifests:
        for r in m.spec.template.spec.roles:
            out.setdefault(r.name, r)
    return out


def role_startups(s: Scenario) -> list[RoleStartup]:
    """The derived start-up of every GPU role of a scenario with a ``serving`` section (empty
    without one). Raises :class:`~stormsim.errors.InputError` for an unknown model."""
    serving: Serving | None = s.serving
    if serving is None:
        return []
    cat = Catalog(serving)
    default_model = cat.model(serving.model)
    out = []
    for name, spec in _role_specs(s).items():
        over = serving.roles.get(name)
        gpus = spec.template.gpus
        kind = over.kind if over is not None and over.kind is not None else None
        if kind == "none" or (kind is None and gpus <= 0):
            continue
        if over is not None and over.pipeline_parallel:
            pp = over.pipeline_parallel
        else:
            pp = (spec.group_size > 1 and spec.template.pipeline_parallel_arg()) or 1
        if over is not None and over.tensor_parallel:
            tp = over.tensor_parallel
        else:  # a multi-node role's engine spans its PodSet's pods
            tp = max(1, max(1, gpus) * spec.group_size // pp)
        shards = tp * pp  # every GPU of the engine loads its own share of the weights
        model = (
            cat.model(over.model, f"serving.roles.{name}.model")
            if over is not None and over.model
            else default_model
        )
        out.append(
            RoleStartup(
                name,
                model,
                tp,
                weight_bytes(model) / shards,
                model_load_median_s(model, shards),
                engine_init_median_s(model),
            )
        )
    return out


def resolve_startup(s: Scenario) -> Scenario:
    """The scenario with ``model_load_s`` / ``engine_init_s`` filled in: per role from the
    model where the user set neither the global nor the role's value, and the global left
    unset filled with the generic default, so that the resolved scenario shows every value
    used. Idempotent; a scenario without unset values comes back unchanged."""
    t = s.timing
    derived = {r.role: r for r in role_startups(s)}
    roles: dict[str, RoleTiming] = dict(t.roles)
    generic = {"model_load_s": GENERIC_MODEL_LOAD, "engine_init_s": GENERIC_ENGINE_INIT}
    for key in ("model_load_s", "engine_init_s"):
        if getattr(t, key) is not None:
            continue  # explicit global value: it wins for every role
        for name, d in derived.items():
            rt = roles.get(name, RoleTiming())
            if getattr(rt, key) is None:
                median = d.model_load_median_s if key == "model_load_s" else d.engine_init_median_s
                roles[name] = rt.model_copy(update={key: _lognormal(median)})
    update: dict[str, object] = {"roles": roles}
    for key, value in generic.items():
        if getattr(t, key) is None:
            update[key] = value
    if roles == t.roles and len(update) == 1:
        return s
    return s.model_copy(update={"timing": t.model_copy(update=update)})
