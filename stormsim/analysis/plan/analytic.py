"""The analytic model of the search: each candidate's per-pod capacities from the scenario's
latency model (``serving.latency_model``, the one the data plane uses), which prune infeasible
candidates, bound the cost from below and give the count search its starting point."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stormsim.analysis.plan.scenario import Candidate
from stormsim.perf.catalog import Catalog
from stormsim.perf.lengths import draw_lengths
from stormsim.perf.registry import LatencyModel, build_latency_model
from stormsim.schema.plan import Plan
from stormsim.schema.scenario import Scenario
from stormsim.schema.serving import Serving, Workload

SAFE_UTIL_PREFILL = 0.7
SAFE_UTIL_DECODE = 0.85
SAFE_UTIL_COLOCATED = 0.6


@dataclass(frozen=True)
class Capacity:
    """Per-pod capacities (req/s) of a candidate from the latency model, and feasibility."""

    prefill_rps: float  # prefill pod (colocated: the engine) at full batches
    decode_rps: float  # decode pod at the largest batch meeting the TPOT SLO
    feasible: bool
    why: str


class Analytic:
    def __init__(self, plan: Plan, sc: Scenario):
        self.plan = plan
        serving = sc.serving if sc.serving is not None else Serving()
        self.serving = serving
        self.catalog = Catalog(serving)
        self.model = self.catalog.model(serving.model)
        poisson = {"arrival": {"kind": "poisson", "rate_rps": 1.0}}
        wl = sc.workload or Workload.model_validate(poisson)
        g = np.random.default_rng(12345)
        self.prompts = draw_lengths(wl.prompt, g, 20000).astype(float)
        self.outputs = draw_lengths(wl.output, g, 20000).astype(float)
        self.lp = float(self.prompts.mean())
        self.lo = float(self.outputs.mean())

    def cost(self, gpu: str, tp: int, role: str) -> LatencyModel:
        over = self.serving.roles.get(role)
        eng = over.engine if over is not None and over.engine is not None else None
        eng = eng or self.serving.engine
        return build_latency_model(
            self.serving.latency_model,
            self.model,
            self.catalog.gpu(gpu, "plan.gpus[].type"),
            tp,
            eng,
            self.serving.calibration,
        )

    def capacity(self, cand: Candidate) -> Capacity:
        plan = self.plan
        q = float(np.quantile(self.prompts, min(plan.slo.attainment_frac, 0.999)))
        roles = ("engine", "engine") if cand.arch == "colocated" else ("prefill", "decode")
        cp = self.cost(cand.gpu, cand.tp_prefill, roles[0])
        tp_d = cand.tp_prefill if cand.arch == "colocated" else cand.tp_decode
        cd = self.cost(cand.gpu, tp_d, roles[1])
        for c, what in ((cp, "prefill"), (cd, "decode")):
            if c.kv_capacity_tokens <= 0:
                return Capacity(0, 0, False, f"the model does not fit on {what} TP{c.tp}")
        t_one = cp.prefill_one(int(q))
        if t_one > plan.slo.ttft_s:
            return Capacity(
                0, 0, False, f"prefill of a p{100 * plan.slo.attainment_frac:g} prompt "
                f"({q:.0f} tokens) alone takes {t_one:.3f} s > TTFT SLO {plan.slo.ttft_s:g} s"
            )  # fmt: skip
        eng = self.serving.engine
        lp, lo = self.lp, self.lo
        k = max(1, int(eng.max_num_batched_tokens // max(lp, 1.0)))
        k = min(k, eng.max_num_seqs)
        tp_time = cp.prefill_time(k * lp, k * float(np.mean(self.prompts**2)) / 2.0, k)
        prefill_rps = k / tp_time
        ctx = lp + lo / 2.0
        if cd.decode_time(1, ctx) > plan.slo.tpot_s:
            return Capacity(
                prefill_rps, 0, False,
                f"one decode step takes {cd.decode_time(1, ctx):.3f} s > TPOT SLO "
                f"{plan.slo.tpot_s:g} s",
            )  # fmt: skip
        bmax = min(eng.max_num_seqs, max(1, int(cd.kv_capacity_tokens // max(lp + lo, 1.0))))
        lo_b, hi_b = 1, bmax
        while lo_b < hi_b:  # largest batch with a step within the TPOT SLO
            mid = (lo_b + hi_b + 1) // 2
            if cd.decode_time(mid, mid * ctx) <= plan.slo.tpot_s:
                lo_b = mid
            else:
                hi_b = mid - 1
        b = lo_b
        decode_rps = b / cd.decode_time(b, b * ctx) / max(lo, 1.0)
        if cand.arch == "colocated":
            both = 1.0 / (1.0 / prefill_rps + 1.0 / decode_rps)
            return Capacity(both, both, True, "")
        return Capacity(prefill_rps, decode_rps, True, "")


def guesses(plan: Plan, cand: Candidate, cap: Capacity, util: float = 1.0) -> tuple[int, int]:
    """The count search's starting point: pods at a safe utilisation for the planned load."""
    rate = plan.load.peak_rps
    if cand.arch == "colocated":
        n = math.ceil(rate / max(cap.prefill_rps * util * SAFE_UTIL_COLOCATED, 1e-9))
        return max(1, n), 0
    p = math.ceil(rate / max(cap.prefill_rps * util * SAFE_UTIL_PREFILL, 1e-9))
    d = math.ceil(rate / max(cap.decode_rps * util * SAFE_UTIL_DECODE, 1e-9))
    return max(1, p), max(1, d)


def lower_bound_gpus(plan: Plan, cand: Candidate, cap: Capacity) -> int:
    """GPUs no configuration of ``cand`` can go below: every pod at 100%."""
    rate = plan.load.peak_rps
    if cand.arch == "colocated":
        return math.ceil(rate / cap.prefill_rps) * cand.tp_prefill
    p = math.ceil(rate / cap.prefill_rps)
    d = math.ceil(rate / cap.decode_rps)
    if cand.shape is not None:
        x, y = cand.shape
        r = max(math.ceil(p / x), math.ceil(d / y))
        return r * (x * cand.tp_prefill + y * cand.tp_decode)
    return p * cand.tp_prefill + d * cand.tp_decode
