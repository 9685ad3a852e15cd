"""The calibrated latency model: hand-computed iteration times, the fit, the CLI verbs, the
``serving.calibration`` scenario key, and the accuracy targets on the shared profiles."""

from __future__ import annotations

import csv
import glob
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from serving_helpers import scenario

import stormsim
from stormsim.errors import InputError
from stormsim.perf.calibrated import ELEMENTWISE_KIND, CalibratedCost
from stormsim.perf.calibration import (
    Calibration,
    builtin_calibration,
    dump_calibration,
    load_calibration,
)
from stormsim.perf.catalog import builtin
from stormsim.perf.fit import attention_ratios, fit, layer_ratios, read_profiles
from stormsim.schema.serving import GpuSpec, ModelArch

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"

TINY = ModelArch(
    num_layers=1,
    hidden_size=2,
    num_heads=1,
    num_kv_heads=1,
    head_dim=2,
    intermediate_size=4,
    vocab_size=4,
    gated_mlp=False,
    dtype="bf16",
)
SLOW_GPU = GpuSpec(bf16_tflops=1e-6, hbm_gb=1.0, hbm_gbps=1e-3, nvlink_gbps=1.0, nic_gbps=1.0)
"""1e6 FLOP/s and 1e6 B/s: a FLOP or a byte costs one microsecond."""


def _cal(**over: Any) -> Calibration:
    data: dict[str, Any] = {
        "gpu": "test",
        "gemm": {"compute_eff": 1.0, "memory_eff": 1.0, "sharpness": 1.0, "launch_s": 0.0},
        "elementwise": {"memory_eff": 1.0, "launch_s": 0.0},
        "attention_decode": {"memory_eff": 1.0, "per_seq_s": 1e-6, "launch_s": 0.0},
        "attention_prefill": {"compute_eff": 1.0, "launch_s": 0.0},
        "allreduce": {
            "launch_s": 2e-5,
            "by_workers": {2: {"latency_s": 1e-5, "bandwidth_gbps": 100}},
        },
        "overhead_s": 5e-4,
    }
    data.update(over)
    return Calibration.model_validate(data)


def test_decode_of_a_tiny_model_by_hand() -> None:
    """One layer, hidden 2, one head of dim 2, MLP 4 (not gated), vocab 4, bf16; every FLOP
    and byte 1 µs, sharpness 1 (compute + memory), no launch times. Decode of 1 sequence
    with 10 tokens of context:

    * QKV GEMM 2x6: 2·1·2·6 = 24 FLOPs, 2·(12 + 1·(2+6)) = 40 B → 64 µs; output 2x2: 8 + 16
      → 24 µs; up 2x4: 16 + 2·(8+6) = 28 → 44 µs; down 4x2: 44 µs. linear = 176 µs;
    * elementwise per token: norms 2·(2·2) = 8 B each, rotary 2·(1+1)·2·2 = 16 B, activation
      (2·4 elements)·2 = 16 B, add 3·2·2 = 12 B → 60 µs, embedding read + write 2·2·2 = 8 µs
      → 68 µs;
    * LM head 2x4: 16 + 28 = 44 µs;
    * attention: 1 µs per sequence + 10 tokens · KV 2·1·2·2 = 8 B → 81 µs;
    * no all-reduce at TP 1; CPU overhead 500 µs. Total 869 µs.
    """
    c = CalibratedCost.build(TINY, SLOW_GPU, 1, _cal(), kv_tokens=100)
    parts = c.decode_parts(1, 10.0)
    assert parts == pytest.approx(
        {
            "linear": 176e-6,
            "elementwise": 68e-6,
            "attention": 81e-6,
            "communication": 0.0,
            "lm_head": 44e-6,
            "overhead": 5e-4,
        }
    )
    assert c.decode_time(1, 10.0) == pytest.approx(869e-6)
    assert c.span(1, 10.0, 3) == pytest.approx(sum(c.decode_time(1, 10.0 + k) for k in range(3)))


def test_prefill_and_all_reduce_of_a_tiny_model_by_hand() -> None:
    """Prefill of one 2-token prompt at TP 2 (heads stay 1 per GPU, MLP 2 per GPU):
    QKV 2x6: 2·2·2·6 = 48 + 2·(12 + 2·8) = 56 → 104 µs; output 2x2: 16 + 2·(4+8) = 24 → 40;
    up 2x2: 40; down 2x2: 40 → linear 224 µs. Attention pairs 2·(0 + 1) = 2, 4·1·2·2 = 16
    FLOPs → 16 µs. All-reduce of 2·2·2 = 8 B: 20 + 10 µs + 8 B / 100 GB/s; two per layer."""
    c = CalibratedCost.build(TINY, SLOW_GPU, 2, _cal(), kv_tokens=100)
    p = c.prefill_parts(2.0, 2.0, 1)
    assert p["linear"] == pytest.approx(224e-6)
    assert p["attention"] == pytest.approx(16e-6)
    assert p["communication"] == pytest.approx(2 * (3e-5 + 8 / 100e9))


def test_gemm_partial_tile_and_power_knee_by_hand() -> None:
    """The QKV GEMM of a 2-token batch (2x6: 48 FLOPs, 56 B) with every FLOP and byte 1 µs:
    tiles of 4 rows half paid for count the 2 tokens as 2 + 0.5·(4 − 2) = 3 → 72 + 56 µs.
    A power knee at 48 µs of work (exponent 1, drop 0.5) on those 72 µs: u = 1.5,
    1 + 0.5·1.5/2.5 = 1.3, over its value at 1 ms (u = 1000/48): 1 + 0.5·1000/1048 = 1.4771
    → 72 µs · 1.3/1.4771 = 63.37 µs."""
    gemm = {"compute_eff": 1.0, "memory_eff": 1.0, "sharpness": 1.0, "launch_s": 0.0}
    tile = _cal(gemm={**gemm, "m_tile_weights": {4: 0.5}})
    assert CalibratedCost.build(TINY, SLOW_GPU, 1, tile, 100).ops.gemm(2, 2, 6) == pytest.approx(
        128e-6
    )
    knee = {"power_knee_s": 48e-6, "power_drop": 0.5}
    c = _cal(gemm={**gemm, "m_tile_weights": {4: 0.5}, **knee})
    at_1ms = 1 + 0.5 * (1000 / 48) / (1 + 1000 / 48)
    assert CalibratedCost.build(TINY, SLOW_GPU, 1, c, 100).ops.gemm(2, 2, 6) == pytest.approx(
        (72 * 1.3 / at_1ms + 56) * 1e-6
    )


def test_prefill_attention_in_query_blocks_by_hand() -> None:
    """2 new tokens on 3 cached, query blocks of 2: (2 + 1)·(3 + 2) = 15 (query, key) pairs
    (not the 2·(3 + 1) = 8 causal ones) → 4·1·2·15 = 120 FLOPs, plus the cached KV read
    3 · 8 B → 144 µs. Two such sequences in one batch cost twice as much."""
    blocks = {"compute_eff": 1.0, "launch_s": 0.0, "query_block": 2}
    o = CalibratedCost.build(TINY, SLOW_GPU, 1, _cal(attention_prefill=blocks), 100).ops
    assert o.prefill_attention_layer(2, 8, 3) == pytest.approx(144e-6)
    assert o.prefill_attention_layer(4, 16, 6, 2) == pytest.approx(288e-6)
    causal = CalibratedCost.build(TINY, SLOW_GPU, 1, _cal(), 100).ops
    assert causal.prefill_attention_layer(2, 8, 3) == pytest.approx((64 + 24) * 1e-6)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["llama-3.1-8b", "llama-3.1-70b"]),
    st.sampled_from([1, 2, 4, 8]),
    st.lists(
        st.tuples(st.integers(1, 16384), st.integers(0, 8192), st.integers(1, 64)),
        min_size=1,
        max_size=6,
    ),
)
def test_memoised_prefill_time_is_the_sum_of_its_parts_bit_for_bit(
    model: str, tp: int, calls: list[tuple[int, int, int]]
) -> None:
    """The serving plane's prefill time (memoised by token count and sequence count, asked
    again with repeated and new arguments) equals the sum of the breakdown exactly."""
    gpus, models = builtin()
    c = CalibratedCost.build(models[model], gpus["H100-80GB"], tp, builtin_calibration("h100-80gb"))
    for tokens, ctx, seqs in calls + calls:
        pairs = tokens * (ctx + tokens / 2.0)
        got = c.prefill_time(tokens, pairs, seqs, ctx)
        assert got == sum(c.prefill_parts(tokens, pairs, seqs, ctx).values())


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_elementwise_kinds_and_the_row_floor_by_hand() -> None:
    """Per-kind coefficients replace the shared one; the row floor and the bulk term combine
    as a smooth max: norm with launch 1 µs, row 8 B at 2e-3 GB/s (4 µs), bulk over 3 tokens
    24 B at 1e-3 GB/s·1.0 (24 µs), sharpness 1 → 1 + 4 + 24 = 29 µs; sharpness 2 →
    1 + √(16 + 576) µs."""
    norm = {"memory_eff": 1.0, "launch_s": 1e-6, "row_gbps": 2e-3, "sharpness": 1.0}
    c = CalibratedCost.build(TINY, SLOW_GPU, 1, _cal(elementwise_ops={"norm": norm}), 100)
    assert c.ops.elementwise(3, 8, "norm") == pytest.approx(29e-6)
    assert c.ops.elementwise(3, 8, "add") == pytest.approx(24e-6)  # the shared coefficient
    norm2 = {**norm, "sharpness": 2.0}
    c = CalibratedCost.build(TINY, SLOW_GPU, 1, _cal(elementwise_ops={"norm": norm2}), 100)
    assert c.ops.elementwise(3, 8, "norm") == pytest.approx(1e-6 + (16 + 576) ** 0.5 * 1e-6)


def test_the_fit_recovers_known_coefficients(tmp_path: Path) -> None:
    """Synthetic Vidur-format profiles made by a known calibration fit back to it."""
    gpus, models = builtin()
    g = gpus["A100-80GB"]
    norm = {"memory_eff": 0.45, "launch_s": 1.5e-6, "row_gbps": 7.0, "sharpness": 4.0}
    truth = _cal(
        gemm={
            "compute_eff": 0.7,
            "memory_eff": 0.8,
            "sharpness": 2.0,
            "launch_s": 5e-6,
            "size_exp": 0.02,
            "m_tile_weights": {128: 0.4, 256: 0.2},
            "power_knee_s": 5e-4,
            "power_exp": 2.0,
            "power_drop": 0.3,
        },
        elementwise={"memory_eff": 0.6, "launch_s": 2e-6},
        elementwise_ops={"norm": norm},
    )
    shape = models["llama-3.1-8b"]
    d = tmp_path / "llama"
    d.mkdir()
    rows = []
    for tp in (1, 2, 4):
        o = CalibratedCost.build(shape, g, tp, truth, kv_tokens=1).ops
        for t in (1, 4, 16, 64, 100, 200, 256, 300, 512, 700, 1024, 1500, 2048, 3000, 4096):
            row: dict[str, Any] = {}
            for op, k, n in o.s.gemms():
                row[f"time_stats.{op}.median"] = o.gemm(t, k, n) * 1e3
            for op, b in o.s.elementwise_bytes():
                row[f"time_stats.{op}.median"] = o.elementwise(t, b, ELEMENTWISE_KIND[op]) * 1e3
            row["time_stats.emb.median"] = o.embedding(t) * 1e3
            row.update(
                n_head=32,
                n_kv_head=8,
                n_embd=4096,
                n_expanded_embd=14336,
                vocab_size=128256,
                use_gated_mlp=True,
                num_tokens=t,
                num_tensor_parallel_workers=tp,
            )
            rows.append(row)
    _write_csv(d / "mlp.csv", rows)
    ar = [
        {
            "time_stats.all_reduce.median": (3e-5 + s / 150e9) * 1e3,
            "num_workers": 2,
            "devices_per_node": 2,
            "size": s,
        }
        for s in (2048, 65536, 1 << 20, 1 << 24)
    ]
    _write_csv(tmp_path / "all_reduce.csv", ar)
    prof = read_profiles([d / "mlp.csv", tmp_path / "all_reduce.csv"])
    got = fit(prof, "A100-80GB", g, base=truth)
    gm = got.gemm
    assert gm.sharpness == pytest.approx(2.0, rel=0.02)
    assert gm.size_exp == pytest.approx(0.02, abs=0.003)
    assert gm.compute_eff == pytest.approx(0.7, rel=0.02)
    assert gm.memory_eff == pytest.approx(0.8, rel=0.02)
    assert gm.launch_s == pytest.approx(5e-6, rel=0.05)
    assert set(gm.m_tile_weights) == {128, 256}
    assert gm.m_tile_weights[128] == pytest.approx(0.4, abs=0.02)
    assert gm.m_tile_weights[256] == pytest.approx(0.2, abs=0.02)
    assert gm.power_knee_s == pytest.approx(5e-4, rel=0.05)
    assert gm.power_exp == pytest.approx(2.0, rel=0.05)
    assert gm.power_drop == pytest.approx(0.3, rel=0.05)
    want = CalibratedCost.build(shape, g, 1, truth, kv_tokens=1).ops
    have = CalibratedCost.build(shape, g, 1, got, kv_tokens=1).ops
    for t in (1, 7, 130, 900, 5000):  # token counts the profiles do not have
        for _, k, width in want.s.gemms():
            assert have.gemm(t, k, width) == pytest.approx(want.gemm(t, k, width), rel=0.005)
    nc = got.elementwise_ops["norm"]  # bulk efficiency exact; the floor's corner within 5 %
    assert nc.memory_eff == pytest.approx(0.45, rel=0.01)
    assert nc.row_gbps == pytest.approx(7.0, rel=0.05)
    for t in (1, 16, 256, 4096):
        assert have.elementwise(t, 8192, "norm") == pytest.approx(
            want.elementwise(t, 8192, "norm"), rel=0.03
        )
    a = got.elementwise_ops["add"]  # made with the shared coefficient, no row floor
    assert a.memory_eff == pytest.approx(0.6, rel=0.01)
    assert a.launch_s == pytest.approx(2e-6, rel=0.05)
    f = got.allreduce.fit_at(2)  # the smooth-max form reproduces latency + bytes / bandwidth
    for size in (2048, 65536, 1 << 20, 1 << 24):
        assert f.time(size) == pytest.approx(3e-5 + size / 150e9, rel=0.01)


def _tiny_file(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(
        "num_layers: 2\nhidden_size: 64\nnum_heads: 4\nnum_kv_heads: 2\n"
        "intermediate_size: 128\nvocab_size: 256\n"
    )
    return p


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stormsim.cli", *args], capture_output=True, text=True, check=False
    )


def test_cli_latency_json_matches_the_python_call(tmp_path: Path) -> None:
    f = _tiny_file(tmp_path)
    cal = tmp_path / "cal.yaml"
    cal.write_text(dump_calibration(_cal(overhead_s=0.003)))
    r = _cli(
        "latency", "--model-file", str(f), "--gpu", "A100-80GB", "--tp", "2",
        "--decode-batch", "8", "--context", "100", "--calibration", str(cal), "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert list(got) == ["total_s", "components_s"]
    assert list(got["components_s"]) == [
        "linear", "elementwise", "attention", "communication", "lm_head", "overhead",
    ]  # fmt: skip
    assert got["components_s"]["overhead"] == 0.003
    assert got["total_s"] == pytest.approx(sum(got["components_s"].values()))
    arch = ModelArch.model_validate(YAML(typ="safe").load(f.read_text()))
    py = stormsim.latency(arch, "A100-80GB", 2, decode_batch=8, context=100, calibration=str(cal))
    assert got == py.to_json()
    r = _cli(
        "latency", "--model", "llama-3.1-8b", "--gpu", "H100", "--prefill", "512,1024",
        "--model-name", "roofline",
    )  # fmt: skip
    assert r.returncode == 0 and "total" in r.stdout and "linear" in r.stdout


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--prefill", "5,x"], "error: --prefill: expected comma-separated integers"),
        (["--decode-batch", "4"], "error: --context"),
        (["--prefill", "5", "--decode-batch", "4", "--context", "1"], "error: --prefill"),
        (["--prefill", "5", "--gpu", "nope"], "error: --gpu: unknown GPU type"),
        (["--prefill", "5", "--model-name", "x"], "error: --latency-model: unknown 'x'"),
    ],
)
def test_cli_latency_bad_arguments(args: list[str], msg: str) -> None:
    r = _cli("latency", *args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(msg), r.stderr


def _scenario_file(tmp_path: Path, serving: dict[str, Any], name: str = "s.yaml") -> Path:
    data = scenario(
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 2.0},
            "start_s": 30.0,
            "stop_s": 90.0,
        },
        serving=serving,
        until_s=150.0,
    )
    p = tmp_path / name
    with p.open("w") as f:
        YAML(typ="safe").dump(data, f)
    return p


def test_the_scenario_calibration_key_loads_and_changes_results(tmp_path: Path) -> None:
    """The default is the calibrated model (the same run as naming it), ``roofline`` is still
    selectable and differs, and a calibration file changes the calibrated model's results."""
    (tmp_path / "cal").mkdir()
    slow = builtin_calibration("h100-80gb").model_copy(update={"overhead_s": 0.02})
    (tmp_path / "cal" / "slow.yaml").write_text(dump_calibration(slow))
    runs = [
        stormsim.run(stormsim.load_scenario(_scenario_file(tmp_path, sv, f"s{i}.yaml")))
        for i, sv in enumerate(
            [
                {},
                {"latency_model": "calibrated"},
                {"calibration": "cal/slow.yaml"},
                {"latency_model": "roofline"},
            ]
        )
    ]
    ttft = [r.summary["ttft_p50_s"] for r in runs]
    assert ttft[0] == ttft[1], ttft
    assert len(set(ttft)) == 3, ttft
    assert ttft[2] > ttft[1]  # 20 ms of overhead per iteration instead of 1 ms


def test_the_default_latency_model_is_calibrated() -> None:
    from stormsim.perf.latency import EngineCost
    from stormsim.perf.registry import DEFAULT_LATENCY_MODEL, build_latency_model
    from stormsim.schema.serving import Engine, Serving

    assert DEFAULT_LATENCY_MODEL == "calibrated" and Serving().latency_model is None
    gpus, models = builtin()
    m, g = models["llama-3.1-8b"], gpus["H100-80GB"]
    assert isinstance(build_latency_model(None, m, g, 1, Engine()), CalibratedCost)
    assert isinstance(build_latency_model("roofline", m, g, 1, Engine()), EngineCost)


@pytest.mark.parametrize(
    ("model", "tp", "prefill_s", "decode_s", "kv_tokens"),
    [
        ("llama-3.1-8b", 1, 0.04868163587633818, 0.010939037028192372, 456924),
        ("llama-3.1-70b", 4, 0.14244017635466585, 0.021837661649846008, 496506),
    ],
)
def test_the_roofline_stays_selectable_with_its_old_numbers(
    model: str, tp: int, prefill_s: float, decode_s: float, kv_tokens: int
) -> None:
    """The roofline's times before the calibrated model became the default (H100, default
    engine): a 2,048-token prefill and a decode step of 32 sequences × 1,024 tokens."""
    from stormsim.perf.registry import build_latency_model
    from stormsim.schema.serving import Engine

    gpus, models = builtin()
    c = build_latency_model("roofline", models[model], gpus["H100-80GB"], tp, Engine())
    assert c.prefill_time(2048, 2048 * 2048 / 2, 1) == pytest.approx(prefill_s, rel=1e-12)
    assert c.decode_time(32, 32 * 1024) == pytest.approx(decode_s, rel=1e-12)
    assert c.kv_capacity_tokens == kv_tokens


def test_roofline_efficiencies_without_the_roofline_are_an_error(tmp_path: Path) -> None:
    """``mfu_prefill`` means nothing to the calibrated model: an error naming the key, not a
    silently ignored knob; ``iteration_overhead_s`` applies to both models."""
    eff = {"engine": {"efficiency": {"mfu_prefill": 0.3}}}
    msg = r"engine\.efficiency\.mfu_prefill applies to the roofline"
    with pytest.raises(InputError, match=msg):
        stormsim.load_scenario(_scenario_file(tmp_path, eff))
    stormsim.load_scenario(_scenario_file(tmp_path, {**eff, "latency_model": "roofline"}, "r.yaml"))
    over = {"engine": {"efficiency": {"iteration_overhead_s": 0.01}}}
    stormsim.load_scenario(_scenario_file(tmp_path, over, "o.yaml"))


def test_a_missing_or_malformed_calibration_names_path_and_line(tmp_path: Path) -> None:
    p = _scenario_file(tmp_path, {"calibration": "nope.yaml"})
    with pytest.raises(InputError) as e:
        stormsim.load_scenario(p)
    msg = str(e.value)
    assert "serving.calibration (line" in msg and "nope.yaml" in msg
    bad = tmp_path / "bad.yaml"
    text = dump_calibration(builtin_calibration("h100-80gb")).replace(
        "overhead_s: 0.001", "overhead_s: -1"
    )
    bad.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("overhead_s"))
    load_calibration.cache_clear()
    with pytest.raises(InputError, match=rf"overhead_s \(line {line} of .*bad.yaml\)"):
        stormsim.load_scenario(_scenario_file(tmp_path, {"calibration": "bad.yaml"}))


LAYERS = {
    "Llama-2-7b-hf": 32, "Meta-Llama-3-8B": 32, "Llama-2-70b-hf": 80, "Meta-Llama-3-70B": 80,
    "internlm-20b": 60, "CodeLlama-34b-Instruct-hf": 48, "phi-2": 32,
}  # fmt: skip
"""num_hidden_layers of each profiled model's Hugging Face config."""

KNOWN_MISSES: dict[tuple[str, str, int], tuple[float, float]] = {
    ("H100-80GB", "CodeLlama-34b-Instruct-hf", 1): (0.05, 0.125),
    ("H100-80GB", "phi-2", 1): (0.05, 0.135),
}
"""(GPU, model, TP) rows of docs/latency-validation.md that miss the p90 target (the GEMM
library's token-count staircase, which the partial-tile term follows only in part), held to
their (median, p90) |error| there (rounded up): a regression still fails."""


@pytest.mark.skipif(not SHARED.exists(), reason="shared calibration profiles absent")
@pytest.mark.parametrize(
    ("key", "gpu", "rows"), [("a100", "A100-80GB", 24), ("h100", "H100-80GB", 13)]
)
def test_the_packaged_calibration_meets_the_targets_on_the_shared_profiles(
    key: str, gpu: str, rows: int
) -> None:
    """The packaged coefficients against every shared operator profile and TP: non-attention
    median |err| ≤ 5 % and p90 ≤ 10 % except the listed known misses (held to their
    documented values); attention (A100 rows: decode and prefill) median ≤ 10 %."""
    gpus, _ = builtin()
    v = SHARED / "calibration" / "vidur"
    paths = [Path(p) for p in sorted(glob.glob(str(v / f"compute/{key}/*/*/*.csv")))]
    prof = read_profiles([*paths, v / f"network/{key}_dgx/all_reduce.csv"])
    cal = builtin_calibration(gpu.lower())
    table = layer_ratios(prof, cal, gpus[gpu], LAYERS)
    assert len(table) == rows
    for r in table:
        med, p90 = KNOWN_MISSES.get((gpu, r.model, r.tp), (0.05, 0.10))
        assert r.median <= med and r.p90 <= p90, r
    att = attention_ratios(prof, cal, gpus[gpu])
    assert [r.what for r in att] == (
        ["attention decode", "attention prefill"] if key == "a100" else []
    )
    for r in att:
        assert r.median <= 0.10, r


def test_cli_calibrate_fits_iteration_times(tmp_path: Path) -> None:
    """Iteration times made by the packaged A100 model with 3 ms of overhead and every GPU
    time ×1.25 fit back to overhead 3 ms and efficiencies ÷1.25; the file loads."""
    gpus, models = builtin()
    base = builtin_calibration("a100-80gb")
    m, g = models["llama-3.1-8b"], gpus["A100-80GB"]
    rows = []
    for tp, b, ctx in ((1, 8, 512), (1, 64, 1024), (2, 32, 2048)):
        c = CalibratedCost.build(m, g, tp, base, kv_tokens=1, overhead_s=0.0)
        ms = (0.003 + 1.25 * c.decode_time(b, b * ctx)) * 1e3
        rows.append({"kind": "decode", "batch": b, "context": ctx, "prompt_lens": "",
                     "tp": tp, "measured_ms": ms})  # fmt: skip
    for lens in ([1024], [512, 512, 256]):
        c = CalibratedCost.build(m, g, 1, base, kv_tokens=1, overhead_s=0.0)
        t = c.prefill_time(sum(lens), sum(x * x / 2.0 for x in lens), len(lens))
        rows.append({"kind": "prefill", "batch": len(lens), "context": "",
                     "prompt_lens": ";".join(map(str, lens)), "tp": 1,
                     "measured_ms": (0.003 + 1.25 * t) * 1e3})  # fmt: skip
    _write_csv(tmp_path / "iters.csv", rows)
    out = tmp_path / "cal.yaml"
    r = _cli("calibrate", str(tmp_path / "iters.csv"), "--gpu", "A100", "--model",
             "llama-3.1-8b", "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "iteration" in r.stdout
    got = load_calibration(str(out))
    assert got.overhead_s == pytest.approx(0.003, rel=1e-6)
    assert got.gemm.compute_eff == pytest.approx(base.gemm.compute_eff / 1.25, rel=1e-6)
    bad = _cli("calibrate", str(tmp_path / "iters.csv"), "--gpu", "A100", "--out",
               str(tmp_path / "x.yaml"))  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("error: --model")
    assert not (tmp_path / "x.yaml").exists()
