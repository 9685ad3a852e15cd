"""The latency-model interface and registry: every registered model keeps the invariants of
:class:`stormsim.perf.registry.LatencyModel`, the scenario field offers exactly the registered
names, and the serving data plane times its engines through the registry."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import scenario

import stormsim
from stormsim.errors import InputError
from stormsim.perf import registry
from stormsim.perf.catalog import builtin
from stormsim.perf.latency import EngineCost
from stormsim.perf.registry import (
    DEFAULT_LATENCY_MODEL,
    LATENCY_MODELS,
    LatencyModel,
    build_latency_model,
)
from stormsim.schema.serving import Engine, Serving

GPUS, MODELS = builtin()
NAMES = sorted(LATENCY_MODELS)


def test_the_scenario_field_offers_exactly_the_registered_models() -> None:
    field = Serving.model_fields["latency_model"]
    choices = {a for arg in get_args(field.annotation) for a in get_args(arg)}
    assert choices == set(LATENCY_MODELS)
    assert DEFAULT_LATENCY_MODEL in LATENCY_MODELS
    assert field.default is None  # unset: the default model; not written to resolved scenarios


def test_unknown_names_are_input_errors() -> None:
    with pytest.raises(InputError, match=r"serving.latency_model.*unknown latency model 'x'"):
        build_latency_model("x", MODELS["llama-3.1-8b"], GPUS["H100-80GB"], 1, Engine())


def test_the_calibrated_model_is_the_default_and_the_roofline_matches_engine_cost() -> None:
    from stormsim.perf.calibrated import CalibratedCost

    eng = Engine(gpu_memory_utilization=0.85, activation_reserve_gb=2.0)
    m, g = MODELS["llama-3.1-70b"], GPUS["H100-80GB"]
    got = build_latency_model(None, m, g, 4, eng)
    assert DEFAULT_LATENCY_MODEL == "calibrated" and isinstance(got, CalibratedCost)
    named = build_latency_model("calibrated", m, g, 4, eng)
    assert got.decode_time(32, 32_000) == named.decode_time(32, 32_000)
    assert got.kv_capacity_tokens == named.kv_capacity_tokens
    roof = build_latency_model("roofline", m, g, 4, eng)
    assert roof == EngineCost.build(m, g, 4, eng.efficiency, 0.85, 2.0, None)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(
    model=st.sampled_from(["llama-3.1-8b", "llama-3.1-70b", "qwen3-32b", "opt-13b"]),
    gpu=st.sampled_from(["A100-80GB", "H100-80GB", "H200", "B200"]),
    tp=st.sampled_from([1, 2, 4, 8]),
    batch=st.integers(1, 256),
    s0=st.integers(1, 500_000),
    n=st.integers(0, 200),
    frac=st.floats(0.0, 1.2),
    prompt=st.integers(1, 16_000),
)
def test_every_model_keeps_the_interface_invariants(
    name: str,
    model: str,
    gpu: str,
    tp: int,
    batch: int,
    s0: int,
    n: int,
    frac: float,
    prompt: int,
) -> None:
    lm = build_latency_model(name, MODELS[model], GPUS[gpu], tp, Engine())
    assert isinstance(lm, LatencyModel)
    assert lm.tp == tp and lm.kv_capacity_tokens >= 0 and lm.weight_bytes > 0
    s0 = max(s0, batch)
    steps = [lm.decode_time(batch, s0 + k * batch) for k in range(n)]
    assert all(t > 0 for t in steps)
    assert lm.span(batch, s0, 0) == 0.0
    assert lm.span(batch, s0, n) == pytest.approx(sum(steps), rel=1e-9, abs=1e-12)
    if n:
        assert lm.span(batch, s0, n - 1) <= lm.span(batch, s0, n)
    elapsed = frac * lm.span(batch, s0, n)
    k, at = lm.boundary(batch, s0, elapsed, n)
    assert lm.first_n(batch, s0, elapsed, n) == k
    assert at == lm.span(batch, s0, k)
    if elapsed > 0 and k < n:
        assert at >= elapsed and (k == 0 or lm.span(batch, s0, k - 1) < elapsed)
    assert lm.prefill_one(prompt) == lm.prefill_time(prompt, prompt * prompt / 2.0, 1)
    assert (
        0
        < lm.prefill_time(prompt, prompt * prompt / 2.0, 1)
        <= lm.prefill_time(prompt + 1, (prompt + 1) ** 2 / 2.0, 1)
    )


def _traffic() -> dict[str, Any]:
    return scenario(
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 2.0},
            "start_s": 30.0,
            "stop_s": 90.0,
        },
        until_s=150.0,
    )


def test_the_plane_builds_its_engines_through_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model registered under the selected name times the engines (here a counting wrapper
    of the roofline); the result is that of the roofline selected by name."""
    data = _traffic()
    data["serving"] = {"latency_model": "roofline"}
    base = stormsim.run(stormsim.load_scenario(data))
    calls: list[int] = []
    roofline = LATENCY_MODELS["roofline"]

    def counting(model: Any, gpu: Any, tp: int, engine: Engine) -> LatencyModel:
        calls.append(tp)
        return roofline(model, gpu, tp, engine)

    monkeypatch.setitem(registry.LATENCY_MODELS, "roofline", counting)
    res = stormsim.run(stormsim.load_scenario(data))
    assert calls, "the plane did not ask the registry for its engines' latency model"
    assert res.summary == base.summary
    default = stormsim.run(stormsim.load_scenario(_traffic()))
    assert "latency_model" not in default.resolved_scenario().get("serving", {})
