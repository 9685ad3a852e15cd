"""Model-aware start-up defaults (issue 9 item 6): ``model_load_s`` / ``engine_init_s`` left
unset follow the served model's weight bytes per GPU and its layer count.

The expected numbers are computed here from the documented constants (ServerlessLLM's 130 GB
in 84 s; vLLM #11005's 14.2 s init of which 10 s graph capture over 32 layers) and the models'
config.json shapes, not from the module's own helpers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from stormsim.analysis.variants import override
from stormsim.errors import InputError
from stormsim.perf.startup import resolve_startup
from stormsim.schema.loader import load_scenario
from stormsim.schema.scenario import Lognormal, Scenario, scenario_dump
from tests.conftest import CONST_TIMING, make_manifest, make_scenario, write_yaml

LOAD_BPS = 130e9 / 84.0  # ServerlessLLM: LLaMA-2-70B (~130 GB) loaded in 84 s
INIT_BASE = 14.2 - 10.0  # vLLM #11005: Llama-3-8B init 14.2 s, 10 s of it graph capture
INIT_PER_LAYER = 10.0 / 32


def llama_params(layers: int, h: int, heads: int, kv: int, inter: int, vocab: int) -> int:
    d = h // heads
    per_layer = 2 * h * heads * d + 2 * h * kv * d + 3 * h * inter
    return layers * per_layer + 2 * vocab * h  # untied input and output embeddings


BYTES_8B = 2 * llama_params(32, 4096, 32, 8, 14336, 128256)  # bf16
BYTES_70B = 2 * llama_params(80, 8192, 64, 8, 28672, 128256)


def lognormal(median: float) -> Lognormal:
    return Lognormal(kind="lognormal", median_s=median, p90_s=2 * median)


def no_load_timing() -> dict[str, Any]:
    """The tests' constant timings without the two model-aware keys."""
    t = dict(CONST_TIMING)
    t.pop("model_load_s", None)
    t.pop("engine_init_s", None)
    return t


def scenario(
    model: str = "llama-3.1-8b",
    gpus: tuple[int, int] = (1, 1),
    timing: dict[str, Any] | None = None,
    serving_extra: dict[str, Any] | None = None,
    serving: bool = True,
) -> Scenario:
    man = make_manifest(roles=(("prefill", 1, gpus[0]), ("decode", 1, gpus[1])), replicas=1)
    extra: dict[str, Any] = {}
    if serving:
        extra["serving"] = {"model": model, **(serving_extra or {})}
    data = make_scenario(man, timing=no_load_timing() if timing is None else timing, **extra)
    return load_scenario(data)


def role_timing(sc: Scenario, role: str, key: str) -> Any:
    return resolve_startup(sc).timing.for_role(role, key)


def test_8b_single_gpu() -> None:
    sc = scenario("llama-3.1-8b", (1, 1))
    for role in ("prefill", "decode"):
        assert role_timing(sc, role, "model_load_s") == lognormal(BYTES_8B / LOAD_BPS)
        assert role_timing(sc, role, "engine_init_s") == lognormal(INIT_BASE + 32 * INIT_PER_LAYER)
    # the figures a reader can check by hand: 16.06 GB -> 10.4 s, 14.2 s of init
    assert pytest.approx(10.38, abs=0.01) == BYTES_8B / LOAD_BPS


def test_70b_tp4() -> None:
    sc = scenario("llama-3.1-70b", (4, 4))
    for role in ("prefill", "decode"):
        load = role_timing(sc, role, "model_load_s")
        assert load == lognormal(BYTES_70B / 4 / LOAD_BPS)
        assert role_timing(sc, role, "engine_init_s") == lognormal(INIT_BASE + 80 * INIT_PER_LAYER)
    assert pytest.approx(91.1, abs=0.1) == BYTES_70B / LOAD_BPS  # TP1: ~ the measured 84 s
    assert role_timing(sc, "prefill", "engine_init_s").median_s == pytest.approx(29.2)


def test_tensor_parallel_halves_the_load() -> None:
    tp4 = role_timing(scenario("llama-3.1-70b", (4, 8)), "prefill", "model_load_s")
    tp8 = role_timing(scenario("llama-3.1-70b", (4, 8)), "decode", "model_load_s")
    assert tp8.median_s == pytest.approx(tp4.median_s / 2, rel=1e-12)
    assert tp8.p90_s == pytest.approx(tp4.p90_s / 2, rel=1e-12)
    # an explicit serving.roles.<role>.tensor_parallel is the TP the data plane uses too; it
    # must be the pod's GPU count (every GPU holds a shard): TP 4 on 8-GPU pods is rejected
    over = scenario(
        "llama-3.1-70b", (4, 8), serving_extra={"roles": {"prefill": {"tensor_parallel": 4}}}
    )
    assert role_timing(over, "prefill", "model_load_s") == tp4
    assert role_timing(over, "decode", "model_load_s") == tp8
    with pytest.raises(InputError, match=r"tensor_parallel 4 × .* = 4 GPUs, but .* has 8"):
        scenario(
            "llama-3.1-70b", (8, 8), serving_extra={"roles": {"prefill": {"tensor_parallel": 4}}}
        )


def test_role_model_override_and_inline_model() -> None:
    sc = scenario(
        "llama-3.1-8b", (4, 4), serving_extra={"roles": {"decode": {"model": "llama-3.1-70b"}}}
    )
    assert role_timing(sc, "prefill", "model_load_s") == lognormal(BYTES_8B / 4 / LOAD_BPS)
    assert role_timing(sc, "decode", "model_load_s") == lognormal(BYTES_70B / 4 / LOAD_BPS)
    inline = {
        "num_layers": 10,
        "hidden_size": 1024,
        "num_heads": 8,
        "num_kv_heads": 8,
        "intermediate_size": 4096,
        "vocab_size": 1000,
        "params_b": 2.0,
    }
    sc = load_scenario(
        make_scenario(
            make_manifest(roles=(("engine", 1, 2),), replicas=1),
            timing=no_load_timing(),
            serving={"model": inline},
        )
    )
    assert role_timing(sc, "engine", "model_load_s") == lognormal(2e9 * 2 / 2 / LOAD_BPS)
    assert role_timing(sc, "engine", "engine_init_s") == lognormal(INIT_BASE + 10 * INIT_PER_LAYER)


def test_explicit_timing_wins() -> None:
    glob = scenario("llama-3.1-70b", (4, 4), timing={**no_load_timing(), "model_load_s": 7})
    assert role_timing(glob, "prefill", "model_load_s") == 7
    assert role_timing(glob, "decode", "model_load_s") == 7
    # engine_init_s was not given: it still follows the model
    assert role_timing(glob, "decode", "engine_init_s") == lognormal(
        INIT_BASE + 80 * INIT_PER_LAYER
    )
    per_role = scenario(
        "llama-3.1-70b",
        (4, 4),
        timing={**no_load_timing(), "roles": {"decode": {"model_load_s": 3}}},
    )
    assert role_timing(per_role, "decode", "model_load_s") == 3
    assert role_timing(per_role, "prefill", "model_load_s") == lognormal(BYTES_70B / 4 / LOAD_BPS)


def test_without_serving_the_generic_defaults_stay() -> None:
    sc = scenario(serving=False)
    generic = lognormal(15.0)
    resolved = resolve_startup(sc)
    assert resolved.timing.roles == sc.timing.roles == {}
    assert resolved.timing.model_load_s == resolved.timing.engine_init_s == generic
    assert sc.timing.for_role("prefill", "model_load_s") == generic
    assert sc.timing.for_role("prefill", "engine_init_s") == generic
    # a GPU-less role of a served scenario keeps the generic value too
    served = scenario("llama-3.1-70b", (4, 0))
    assert role_timing(served, "decode", "model_load_s") == generic


def test_resolution_is_idempotent_and_follows_overrides() -> None:
    sc = scenario("llama-3.1-70b", (4, 4))
    once = resolve_startup(sc)
    assert resolve_startup(once) == once
    # a study's override of the model re-derives (the loaded scenario keeps the keys unset)
    assert "model_load_s" not in scenario_dump(sc)["timing"]
    small = override(sc, {"serving.model": "llama-3.1-8b"})
    assert role_timing(small, "prefill", "model_load_s") == lognormal(BYTES_8B / 4 / LOAD_BPS)
    # an override of the TP alone no longer fits the 4-GPU pods: rejected
    with pytest.raises(InputError, match="tensor_parallel 2"):
        override(sc, {"serving.roles": {"prefill": {"tensor_parallel": 2}}})


def test_resolved_scenario_shows_the_values(tmp_path: Path) -> None:
    """``stormsim run`` (a subprocess, as a user runs it) writes the values it used."""
    man = make_manifest(roles=(("prefill", 1, 4), ("decode", 1, 4)), replicas=1)
    data = make_scenario(
        man, timing=no_load_timing(), serving={"model": "llama-3.1-70b"}, until_s=300
    )
    path = write_yaml(tmp_path / "s.yaml", data)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "stormsim"),
            "run",
            str(path),
            "--out",
            str(out),
            "--no-plots",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "error" not in proc.stderr.lower()
    resolved = YAML(typ="safe").load((out / "scenario.resolved.yaml").read_text())
    t = resolved["timing"]
    assert t["model_load_s"] == {"kind": "lognormal", "median_s": 15.0, "p90_s": 30.0}
    for role in ("prefill", "decode"):
        assert t["roles"][role]["model_load_s"] == {
            "kind": "lognormal",
            "median_s": BYTES_70B / 4 / LOAD_BPS,
            "p90_s": 2 * BYTES_70B / 4 / LOAD_BPS,
        }
        init = INIT_BASE + 80 * INIT_PER_LAYER
        assert t["roles"][role]["engine_init_s"] == {
            "kind": "lognormal",
            "median_s": init,
            "p90_s": 2 * init,
        }
    # the resolved file runs as it is: its values are now explicit and the same
    again = load_scenario(out / "scenario.resolved.yaml")
    assert resolve_startup(again).timing == resolve_startup(load_scenario(path)).timing
