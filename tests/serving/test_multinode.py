"""Multi-node instances: a role with ``podGroupSize > 1`` is one engine spread over its
PodSet's pods, reached through its rank-0 pod, timed with inter-node collectives and pipeline
stages, holding KV over every member, and serving nothing unless every member is routable."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serving_helpers import role, run_world, scenario

import stormsim
from stormsim.perf.catalog import builtin
from stormsim.perf.latency import (
    EngineCost,
    kv_bytes_per_token,
    kv_capacity_tokens,
    weight_bytes,
)
from stormsim.perf.multinode import InterNode, PipelineCost, instance_kv_capacity
from stormsim.perf.registry import build_latency_model
from stormsim.schema.serving import Efficiency, Engine, ModelArch

GPUS, MODELS = builtin()
H100 = GPUS["H100-80GB"]
M70 = MODELS["llama-3.1-70b"]
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "aibrix-samples"


def _group(name: str, gpus: int, size: int = 2) -> dict[str, Any]:
    r = role(name, gpus=gpus)
    r["podGroupSize"] = size
    return r


def _pd(
    workload: dict[str, Any],
    serving: dict[str, Any] | None = None,
    decode_gpus: int = 8,
    **kw: Any,
) -> dict[str, Any]:
    """1 prefill pod (8 GPUs) + a 2-pod decode PodSet, Llama-3.1-70B, 3 nodes of 8 H100."""
    return scenario(
        roles=[role("prefill", gpus=8), _group("decode", decode_gpus)],
        pools=[{"name": "h100", "count": 3, "gpus_per_node": 8, "gpu_type": "H100-80GB"}],
        workload=workload,
        serving={"model": "llama-3.1-70b", **(serving or {})},
        **kw,
    )


def _pods(res: stormsim.Result, role_name: str) -> list[str]:
    p = res.frames["pods"]
    return sorted(p[p.role == role_name].pod.tolist())


# --------------------------------------------------------------------------- one instance


def test_a_two_pod_podset_serves_as_one_instance_through_its_rank_0_pod() -> None:
    data = _pd(
        {
            "arrival": {"kind": "poisson", "rate_rps": 5},
            "prompt_tokens": {"kind": "constant", "value": 500},
            "output_tokens": {"kind": "constant", "value": 20},
            "start_s": 30,
            "max_requests": 200,
        },
        until_s=200,
    )
    res = stormsim.run(data)
    rq = res.frames["requests"]
    members = _pods(res, "decode")
    assert len(members) == 2 and members[0].endswith("-0") and members[1].endswith("-1")
    assert len(rq) == 200 and set(rq.outcome) == {"completed"}
    assert set(rq.decode_pod) == {members[0]}  # all through rank 0, none on the other member
    # one engine with every GPU of the PodSet
    w = run_world(data)
    assert w.serving is not None
    engines = [e for e in w.serving.all_pods if e.info.role == "decode"]
    assert len(engines) == 1
    (e,) = engines
    assert e.info.name == members[0] and e.info.gpus == 16 and e.members is not None
    assert sorted(e.members) == members


def test_the_instance_serves_nothing_while_a_member_is_not_ready(tmp_path: Path) -> None:
    """Constant durations: every pod is routable by 22 s; a decode member crashes at 60 s
    and is routable again 11 s later (load 5 + init 5 + registration 1). Requests arriving
    meanwhile wait at the gateway and are routed at exactly 71 s; the one in flight at 60 s
    fails and is retried then too. Whichever member crashes (seeds 1 and 5 pick each one)."""
    trace = tmp_path / "t.csv"
    rows = [(40.0, 100, 5), (59.0, 100, 3000), (61.0, 100, 5), (65.0, 100, 5), (80.0, 100, 5)]
    trace.write_text(
        "arrived_at,num_prefill_tokens,num_decode_tokens\n"
        + "".join(f"{t},{p},{o}\n" for t, p, o in rows)
    )
    crashed = set()
    for seed in (1, 5):
        data = _pd(
            {"arrival": {"kind": "trace", "path": str(trace)}},
            {"retries": 1, "queue_timeout_s": 60},
            events=[{"at_s": 60, "kind": "crash_pod", "role": "decode"}],
            until_s=150,
            seed=seed,
        )
        data["workload"]["arrival"]["offset_s"] = 40.0
        res = stormsim.run(data)
        ev = res.frames["events"]
        crashed |= set(ev[ev.verb == "crash"].name.tolist())
        p = res.frames["pods"]
        assert p[p.role == "decode"].routable_at_s.max() == pytest.approx(71.0)  # the crashed one
        rq = res.frames["requests"].sort_values("arrived_at_s")
        assert set(rq.outcome) == {"completed"}
        assert rq.routed_at_s.tolist() == pytest.approx([40.0, 71.0, 71.0, 71.0, 80.0])
        assert rq.retries.tolist() == [0, 1, 0, 0, 0]
        assert set(rq.decode_pod) == {_pods(res, "decode")[0]}
    assert len(crashed) == 2, crashed  # rank 0 and the other member were each crashed once


def test_the_instance_registers_only_when_every_member_is_routable() -> None:
    """Members routable one by one (driven through the plane's hooks): no engine until the
    last; deleting a member deregisters the instance."""
    data = _pd(
        {"arrival": {"kind": "poisson", "rate_rps": 1}, "start_s": 1000},
        until_s=30,
    )
    w = run_world(data)
    plane = w.serving
    assert plane is not None
    members = sorted((p for p in w.store.pods.values() if p.role == "decode"), key=lambda p: p.name)
    assert len(plane.gateway.groups[members[0].roleset].decode) == 1
    plane.pod_restarting(members[1])
    assert plane.gateway.groups[members[0].roleset].decode == []
    plane.pod_routable(members[0])  # rank 0 alone: still nothing
    assert plane.gateway.groups[members[0].roleset].decode == []
    plane.pod_routable(members[1])
    assert [e.info.name for e in plane.gateway.groups[members[0].roleset].decode] == [
        members[0].name
    ]
    plane.pod_deleted(members[1])
    assert members[0].roleset not in plane.gateway.groups or (
        plane.gateway.groups[members[0].roleset].decode == []
    )


# --------------------------------------------------------------------------- iteration time


@pytest.mark.parametrize("name", ["roofline", "calibrated"])
def test_tp_across_two_nodes_is_slower_than_the_same_tp_inside_a_node(name: str) -> None:
    net = InterNode(4, 400e9 / 8, 8e-5, 3e-5)  # two 4-GPU members, 400 Gb/s per GPU
    one = build_latency_model(name, M70, H100, 8, Engine())
    two = build_latency_model(name, M70, H100, 8, Engine(), internode=net)
    for b, s in [(1, 1000), (64, 64_000), (256, 500_000)]:
        assert two.decode_time(b, s) > one.decode_time(b, s)
    for p in (128, 4096):
        assert two.prefill_one(p) > one.prefill_one(p)
    assert two.kv_capacity_tokens == one.kv_capacity_tokens


def test_roofline_inter_node_all_reduce_by_hand() -> None:
    """Per decode iteration: 2 all-reduces per layer, each ``max(latency)`` plus
    ``2(tp−1)/tp · B·h·2 B`` over ``min(NVLink·eff, GPUs per node · NIC)``."""
    eff = Efficiency()
    net = InterNode(4, 50e9, 8e-5, 3e-5)
    one = EngineCost.build(M70, H100, 8, eff)
    two = EngineCost.build(M70, H100, 8, eff, internode=(8e-5, net.ring_bytes_per_s()))
    b, s = 32, 40_000
    L, h = M70.num_layers, M70.hidden_size
    vol = 2 * L * 2.0 * 7 / 8 * b * h * 2.0
    nvl = H100.nvlink_gbps * 1e9 * eff.nvlink_eff
    expect = 2 * L * (8e-5 - eff.allreduce_latency_s) + vol / (4 * 50e9) - vol / nvl
    assert two.decode_time(b, s) - one.decode_time(b, s) == pytest.approx(expect, rel=1e-9)


TINY = ModelArch(
    num_layers=4,
    hidden_size=1024,
    num_heads=8,
    num_kv_heads=8,
    intermediate_size=4096,
    vocab_size=1000,
)


def test_pipeline_bubble_formula_by_hand() -> None:
    """pp = 2 stages of 2 layers, batch 6 in m = 2 microbatches of 3: one iteration is
    (m + pp − 1) = 3 slots of (stage time of a microbatch + hand-off of its activations),
    plus the engine's per-iteration overhead once."""
    eff = Efficiency(iteration_overhead_s=0.0)
    eng = Engine(efficiency=eff)
    net = InterNode(1, 50e9, 8e-5, 3e-5)
    cost = build_latency_model("roofline", TINY, H100, 1, eng, pp=2, internode=net)
    assert isinstance(cost, PipelineCost)
    half = EngineCost.build(TINY.model_copy(update={"num_layers": 2}), H100, 1, eff)
    hand = 3e-5 + 3 * 1024 * 2 / 50e9  # 3 tokens x hidden x 2 bytes over one NIC
    assert cost.decode_time(6, 3000) == pytest.approx(3 * (half.decode_time(3, 1500) + hand))
    # one prompt: no microbatching, the stages run one after the other
    one = 3e-5 + 700 * 1024 * 2 / 50e9
    assert cost.prefill_one(700) == pytest.approx(2 * (half.prefill_one(700) + one))
    # the engine's CPU overhead is paid once per iteration, not per stage
    eng = Engine(efficiency=Efficiency(iteration_overhead_s=0.002))
    slow = build_latency_model("roofline", TINY, H100, 1, eng, pp=2, internode=net)
    assert slow.decode_time(6, 3000) == pytest.approx(
        0.002 + 3 * (half.decode_time(3, 1500) + hand)
    )
    # batch 1: m = 1, pp slots
    assert cost.decode_time(1, 500) == pytest.approx(
        2 * (half.decode_time(1, 500) + 3e-5 + 1024 * 2 / 50e9)
    )


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["roofline", "calibrated"]),
    pp=st.sampled_from([2, 4]),
    batch=st.integers(1, 128),
    s0=st.integers(1, 200_000),
    n=st.integers(0, 120),
    frac=st.floats(0.0, 1.2),
)
def test_pipeline_keeps_the_latency_model_invariants(
    name: str, pp: int, batch: int, s0: int, n: int, frac: float
) -> None:
    cost = build_latency_model(
        name, M70, H100, 8, Engine(), pp=pp, internode=InterNode(8, 50e9, 8e-5, 3e-5)
    )
    direct = sum(cost.decode_time(batch, s0 + k * batch) for k in range(n))
    assert cost.span(batch, s0, n) == pytest.approx(direct, rel=1e-9, abs=1e-12)
    limit = max(n, 1)
    e = frac * cost.span(batch, s0, limit)
    k, t = cost.boundary(batch, s0, e, limit)
    assert t == cost.span(batch, s0, k) and k <= limit
    if k < limit or t >= e:
        assert t >= e or e <= 0
    if k > 0:
        assert cost.span(batch, s0, k - 1) < e
    assert cost.prefill_one(900) == cost.prefill_time(900, 900 * 900 / 2.0, 1)


# --------------------------------------------------------------------------- KV capacity


def test_kv_capacity_counts_every_member() -> None:
    """Two 8-GPU members hold the 70B weights once over 16 GPUs: more than twice the KV of
    one 8-GPU pod. At TP16 the 8 KV heads are replicated (twice the KV bytes per token);
    TP8 x PP2 keeps them whole."""
    eng = Engine()
    one = kv_capacity_tokens(M70, H100, 8, 0.9, 1.0)
    tp16 = build_latency_model("roofline", M70, H100, 16, eng)
    pp2 = build_latency_model("roofline", M70, H100, 8, eng, pp=2)
    free16 = 0.9 * H100.hbm_gb * 1e9 * 16 - weight_bytes(M70) - 1e9 * 16
    assert tp16.kv_capacity_tokens == kv_capacity_tokens(M70, H100, 16, 0.9, 1.0)
    assert pp2.kv_capacity_tokens == instance_kv_capacity(M70, H100, 8, 2, 0.9, 1.0)
    assert pp2.kv_capacity_tokens == free16 // kv_bytes_per_token(M70, 8)
    assert pp2.kv_capacity_tokens > 2 * one
    assert tp16.kv_capacity_tokens == pytest.approx(pp2.kv_capacity_tokens / 2, abs=1)


def test_the_plane_gives_the_instance_the_kv_of_both_members() -> None:
    wl = {"arrival": {"kind": "poisson", "rate_rps": 1}, "start_s": 1000}
    single = run_world(_pd(wl, until_s=30))
    both = [e for e in single.serving.all_pods if e.info.role == "decode"]
    assert len(both) == 1
    pp = run_world(_pd(wl, {"roles": {"decode": {"pipeline_parallel": 2}}}, until_s=30))
    (e_pp,) = [e for e in pp.serving.all_pods if e.info.role == "decode"]
    assert both[0].decode.kv.cap == kv_capacity_tokens(M70, H100, 16, 0.9, 1.0)
    assert e_pp.decode.kv.cap == instance_kv_capacity(M70, H100, 8, 2, 0.9, 1.0)
    one_pod = kv_capacity_tokens(M70, H100, 8, 0.9, 1.0)
    assert e_pp.decode.kv.cap > 2 * one_pod


def test_pipeline_stages_must_divide_the_instance() -> None:
    # rejected at load (tests/test_parallelism_checks.py has the messages), before any run
    wl = {"arrival": {"kind": "poisson", "rate_rps": 1}, "start_s": 25}
    data = _pd(wl, {"roles": {"decode": {"pipeline_parallel": 3}}}, until_s=30)
    with pytest.raises(stormsim.InputError, match=r"pipeline_parallel 3 does not divide the 16"):
        stormsim.load_scenario(data)
    with pytest.raises(stormsim.InputError, match=r"pipeline_parallel 3 does not divide the 16"):
        stormsim.run(data)


# --------------------------------------------------------------------------- AIBrix sample


SAMPLE = SAMPLES / "disaggregation__sglang__tp-1p1d.yaml"


@pytest.mark.skipif(not SAMPLE.exists(), reason="AIBrix samples absent")
def test_the_aibrix_multi_node_sample_serves_through_rank_0_pods() -> None:
    """AIBrix's sglang TP 1P1D sample: prefill and decode PodSets of 2 one-GPU pods
    (``--nnodes 2 --tp-size 2``), found by the router at ``pod-group-index=0``."""
    data = scenario(
        pools=[{"name": "h100", "count": 4, "gpus_per_node": 1, "gpu_type": "H100-80GB"}],
        workload={
            "arrival": {"kind": "poisson", "rate_rps": 4},
            "prompt_tokens": {"kind": "constant", "value": 300},
            "output_tokens": {"kind": "constant", "value": 20},
            "start_s": 60,
            "max_requests": 100,
        },
        serving={"model": "qwen3-8b"},
        until_s=200,
    )
    data["service"]["manifest"] = str(SAMPLE)
    res = stormsim.run(data)
    rq = res.frames["requests"]
    assert len(rq) == 100 and set(rq.outcome) == {"completed"}
    assert set(rq.prefill_pod) == {_pods(res, "prefill")[0]}
    assert set(rq.decode_pod) == {_pods(res, "decode")[0]}
    assert all(n.endswith("-0") for n in set(rq.prefill_pod) | set(rq.decode_pod))
    assert math.isfinite(rq.ttft_s.max())


def test_each_member_loads_its_share_of_the_weights() -> None:
    """Model-aware start-up: the 70B weights divided over the instance's 16 GPUs."""
    from stormsim.perf.startup import LOAD_BYTES_PER_S, role_startups

    wl = {"arrival": {"kind": "poisson", "rate_rps": 1}}
    for serving in ({}, {"roles": {"decode": {"pipeline_parallel": 2}}}):
        sc = stormsim.load_scenario(_pd(wl, serving))
        dec = next(r for r in role_startups(sc) if r.role == "decode")
        assert dec.bytes_per_gpu == weight_bytes(M70) / 16
        assert dec.model_load_median_s == pytest.approx(weight_bytes(M70) / 16 / LOAD_BYTES_PER_S)


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--model", "m", "--tensor-parallel-size", "8", "--pipeline-parallel-size", "2"], 2),
        (["vllm serve m -tp 8 -pp 4"], 4),
        (["python3 -m sglang.launch_server \\\n --tp-size 8 --pp-size=2 --nnodes 2"], 2),
        (["--tp", "16", "--nnodes", "2"], None),
        (["--pipeline-parallel-size", "x"], None),
    ],
)
def test_pipeline_stages_from_the_engine_arguments(args: list[str], expect: int | None) -> None:
    from stormsim.schema.aibrix import PodTemplate

    t = PodTemplate.model_validate({"spec": {"containers": [{"name": "e", "args": args}]}})
    assert t.pipeline_parallel_arg() == expect


def test_the_engine_arguments_set_the_stages_unless_the_knob_does() -> None:
    wl = {"arrival": {"kind": "poisson", "rate_rps": 1}, "start_s": 1000}

    def decode_cap(serving: dict[str, Any]) -> int:
        data = _pd(wl, serving, until_s=30)
        spec = data["service"]["manifest"]["spec"]["template"]["spec"]["roles"][1]
        spec["template"]["spec"]["containers"][0]["args"] = ["--pipeline-parallel-size", "2"]
        w = run_world(data)
        assert w.serving is not None
        (e,) = [e for e in w.serving.all_pods if e.info.role == "decode"]
        assert e.decode is not None
        return e.decode.kv.cap

    assert decode_cap({}) == instance_kv_capacity(M70, H100, 8, 2, 0.9, 1.0)
    knob = {"roles": {"decode": {"pipeline_parallel": 1}}}
    assert decode_cap(knob) == kv_capacity_tokens(M70, H100, 16, 0.9, 1.0)


@pytest.mark.parametrize("name", ["roofline", "calibrated"])
def test_stormsim_latency_times_multi_node_engines(name: str) -> None:
    """``stormsim.latency(..., pp=, nodes=)`` totals what the data plane's engine takes, and
    its parts add up to it (bubble slots fold into the parts, hand-offs into communication)."""
    net = InterNode(8, H100.nic_gbps * 1e9 / 8, 8e-5, 3e-5)
    for tp, pp in [(16, 1), (8, 2)]:
        eng = build_latency_model(name, M70, H100, tp, Engine(), pp=pp, internode=net)
        d = stormsim.latency(
            "llama-3.1-70b", "H100-80GB", tp, decode_batch=48, context=3000,
            latency_model=name, pp=pp, nodes=2, engine=Engine(),
        )  # fmt: skip
        assert d.total_s == pytest.approx(eng.decode_time(48, 48 * 3000), rel=1e-12)
        assert d.total_s == pytest.approx(sum(d.components_s.values()), rel=1e-12)
        p = stormsim.latency(
            "llama-3.1-70b", "H100-80GB", tp, prefill=[700, 900, 1200],
            latency_model=name, pp=pp, nodes=2, engine=Engine(),
        )  # fmt: skip
        pairs = sum(n * n / 2.0 for n in (700, 900, 1200))
        assert p.total_s == pytest.approx(eng.prefill_time(2800, pairs, 3), rel=1e-12)
        assert p.total_s == pytest.approx(sum(p.components_s.values()), rel=1e-12)
    one = stormsim.latency("llama-3.1-70b", "H100-80GB", 16, decode_batch=48, context=3000)
    two = stormsim.latency("llama-3.1-70b", "H100-80GB", 16, decode_batch=48, context=3000, nodes=2)
    assert two.components_s["communication"] > one.components_s["communication"]
    with pytest.raises(stormsim.InputError, match="--nodes"):
        stormsim.latency("llama-3.1-70b", "H100-80GB", 8, decode_batch=1, context=1, nodes=3)
