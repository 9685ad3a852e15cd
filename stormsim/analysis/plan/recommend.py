"""The typed recommendation, and what the planner works out for it once the search has found
the cheapest configuration: its minimality check (cheaper configurations rejected), its
rollout settings (extra capacity bisected until the update window keeps the SLOs), and the
P:D split sensitivity."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

from stormsim.analysis.plan.measure import Evaluation
from stormsim.analysis.plan.scenario import (
    Candidate,
    Config,
    Setting,
    parse_budget,
    scenario_for,
    setting_label,
    with_extra,
)
from stormsim.analysis.plan.search import EvalItem, Planner, RunFailed, min_count
from stormsim.runner import RunResult, run
from stormsim.schema.loader import load_scenario


@dataclass(frozen=True)
class Rejected:
    """A cheaper configuration of the recommended candidate that missed the SLOs."""

    config: str
    prefill_pods: int
    decode_pods: int
    replicas: int
    gpus: int
    cost_per_hour: float
    attainment_mean: float
    attainment_min: float


@dataclass(frozen=True)
class RolloutChoice:
    """The rollout setting chosen for the recommendation: the fewest GPUs at peak (steady +
    extra + surge), then the shortest rollout."""

    setting: str
    max_surge: int | str
    max_unavailable: int | str
    extra: int
    extra_gpus: int
    surge_gpus: float
    peak_gpus: int
    duration_s: float | None
    attainment_mean: float
    config: str
    cost_per_hour: float


@dataclass(frozen=True)
class Recommendation:
    """The cheapest configuration meeting the SLOs, with its measurements (attainment over
    the seeds with the 95% interval; latencies in seconds; goodput in req/s, None when not
    computed), the reasons (``why``), the cheaper configurations rejected and the rollout
    choice (None: no setting keeps the SLOs; ``rollout_note`` says why)."""

    config: Config
    gpus: int
    cost_per_hour: float
    attainment_mean: float
    attainment_ci_low: float
    attainment_ci_high: float
    ttft_p90_s: float | None
    tpot_p90_s: float | None
    goodput_rps: float | None = None
    goodput_per_gpu: float | None = None
    goodput_capped: bool | None = None
    why: tuple[str, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    rollout: RolloutChoice | None = None
    rollout_note: str = ""

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def candidate(self) -> str:
        return self.config.cand.label

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``plan.json``): the fields, the configuration's counts and hardware."""
        c = self.config
        d = asdict(self)
        d["config"] = c.label
        d.update(
            candidate=c.cand.label,
            arch=c.cand.arch,
            gpu=c.cand.gpu,
            prefill_tp=c.cand.tp_prefill,
            decode_tp=c.cand.tp_decode,
            shape=list(c.cand.shape) if c.cand.shape else None,
            prefill_pods=c.prefill,
            decode_pods=c.decode,
            replicas=c.replicas,
            why=list(self.why),
            rejected=[asdict(r) for r in self.rejected],
        )
        return d


@dataclass
class Extras:
    """What the recommendation phase produced besides the recommendation."""

    options: pd.DataFrame = field(default_factory=pd.DataFrame)
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    timeline: RunResult | None = None
    failures: list[str] = field(default_factory=list)


def neighbours(cfg: Config) -> list[Config]:
    """One pod (or RoleSet) less of each kind."""
    if cfg.cand.shape is not None:
        return [replace(cfg, replicas=cfg.replicas - 1)] if cfg.replicas > 1 else []
    out = []
    if cfg.prefill > 1:
        out.append(replace(cfg, prefill=cfg.prefill - 1))
    if cfg.decode > 1:
        out.append(replace(cfg, decode=cfg.decode - 1))
    return out


def rejected(pln: Planner, cfg: Config, cost: float) -> list[Rejected]:
    """The cheaper configurations of the candidate that were measured and missed the SLOs
    (after evaluating the neighbours one pod or RoleSet smaller), most expensive first."""
    pln.evaluate_many([(c, 1.0, "steady", None) for c in neighbours(cfg)])
    rows = [
        p
        for p in pln.probe_rows
        if p["phase"] == "steady"
        and p["candidate"] == cfg.cand.label
        and p["status"] == "fail"
        and p["cost_per_hour"] < cost
    ]
    rows.sort(key=lambda p: (-p["cost_per_hour"], p["probe"]))
    return [
        Rejected(p["config"], p["prefill_pods"], p["decode_pods"], p["replicas"], p["gpus"],
                 p["cost_per_hour"], p["attainment_mean"], p["attainment_min"])
        for p in rows
    ]  # fmt: skip


def rollout_options(
    pln: Planner, cfg: Config, keep_going: bool, failures: list[str]
) -> tuple[pd.DataFrame, RolloutChoice | None]:
    """The recommendation rolled out under every setting of the plan; settings missing the
    SLOs get extra capacity, bisected up to ``rollout.max_extra``. Settings the simulator
    resolves to the same budgets share their runs."""
    pl = pln.plan
    assert pl.rollout is not None
    rows: list[dict[str, Any]] = []
    for su in pl.rollout.max_surge:
        for un in pl.rollout.max_unavailable:
            setting: Setting = (su, un)
            base = {"setting": setting_label(setting), "max_surge": str(su),
                    "max_unavailable": str(un)}  # fmt: skip
            pln.say(f"rollout {setting_label(setting)}")
            try:
                rows.append({**base, **_one_setting(pln, cfg, setting)})
            except RunFailed as e:
                failures.append(f"rollout {base['setting']}: {e}")
                if not keep_going:
                    raise
                rows.append({**base, "status": "failed", "pass": False, "error": str(e)})
    options = pd.DataFrame(rows)
    ok = options[options["pass"]] if len(options) else options
    if not len(ok):
        return options, None
    ch = ok.sort_values(["peak_gpus", "duration_s", "extra_gpus"]).iloc[0]
    options["chosen"] = options["setting"] == ch["setting"]
    choice = RolloutChoice(
        setting=str(ch["setting"]),
        max_surge=parse_budget(str(ch["max_surge"])),
        max_unavailable=parse_budget(str(ch["max_unavailable"])),
        extra=int(ch["extra"]),
        extra_gpus=int(ch["extra_gpus"]),
        surge_gpus=float(ch["surge_gpus"]),
        peak_gpus=int(ch["peak_gpus"]),
        duration_s=None if pd.isna(ch["duration_s"]) else float(ch["duration_s"]),
        attainment_mean=float(ch["attainment_mean"]),
        config=str(ch["config"]),
        cost_per_hour=float(ch["cost_per_hour"]),
    )
    return options, choice


def _one_setting(pln: Planner, cfg: Config, setting: Setting) -> dict[str, Any]:
    pl = pln.plan
    assert pl.rollout is not None
    base_ev = pln.evaluate(cfg, 1.0, "rollout", setting)
    extra: int | None = 0
    if not base_ev.passes():
        cap = pl.rollout.max_extra

        def holds(e: int) -> bool:
            return pln.evaluate(with_extra(cfg, e), 1.0, "rollout", setting).passes()

        extra = min_count(holds, 1, cap) if cap >= 1 else None
    if extra is None:
        timeout = base_ev.max("rollout_timeout_s")
        note = (
            f"the rollout did not complete within {timeout:.0f} s"
            if not base_ev.rollout_completed and timeout is not None
            else f"SLOs missed with up to {pl.rollout.max_extra} extra"
        )
        return {"status": "fail", "extra": None, "pass": False, "note": note,
                "attainment_mean": base_ev.stat()[0],
                "update_completed": base_ev.rollout_completed}  # fmt: skip
    c2 = with_extra(cfg, extra)
    ev = pln.evaluate(c2, 1.0, "rollout", setting)
    m, lo, hi = ev.stat()
    surge = ev.max("surge_gpus_peak") or 0.0
    return {
        "status": "pass",
        "extra": extra,
        "config": c2.label,
        "extra_gpus": c2.gpus - cfg.gpus,
        "surge_gpus": surge,
        "peak_gpus": int(c2.gpus + surge),
        "cost_per_hour": c2.gpus * pln.price[cfg.cand.gpu],
        "duration_s": ev.max("update_duration_s"),
        "attainment_mean": m,
        "attainment_ci_low": lo,
        "attainment_ci_high": hi,
        "capacity_availability_frac": ev.mean("capacity_availability_frac"),
        "update_completed": True,
        "pass": True,
    }


def timeline_run(pln: Planner, cfg: Config, choice: RolloutChoice) -> RunResult:
    """The chosen rollout of the recommendation, simulated once with the plan's first seed
    (the run the report's rollout timeline shows)."""
    c2 = with_extra(cfg, choice.extra)
    data, _ = scenario_for(pln.plan, pln.base, c2, pln.gpn[cfg.cand.gpu], 1.0,
                           (choice.max_surge, choice.max_unavailable))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(load_scenario(data), seed=pln.plan.seeds[0])


def sensitivity(pln: Planner, cfg: Config, keep_going: bool, failures: list[str]) -> pd.DataFrame:
    """The recommendation's pod count split differently between prefill and decode."""
    items: list[EvalItem] = []
    n = cfg.prefill + cfg.decode
    if cfg.cand.shape is None:
        for p in range(max(1, cfg.prefill - 2), min(n - 1, cfg.prefill + 2) + 1):
            items.append((Config(cfg.cand, p, n - p), 1.0, "sensitivity", None))
    else:
        for p in range(1, n):
            c3 = Candidate("pd", cfg.cand.gpu, cfg.cand.tp_prefill, cfg.cand.tp_decode, (p, n - p))
            items.append((Config(c3, p, n - p, cfg.replicas), 1.0, "sensitivity", None))
    try:
        evs = pln.evaluate_many(items)
    except RunFailed as e:
        failures.append(f"sensitivity: {e}")
        if not keep_going:
            raise
        evs = [pln.memo[pln._key(c, f, r)] for c, f, _, r in items]
    return pd.DataFrame([_sens_row(pln, ev, cfg) for ev in evs])


def _sens_row(pln: Planner, ev: Evaluation, cfg: Config) -> dict[str, Any]:
    failed = bool(ev.errors)
    m, lo, hi = ev.stat()
    return {
        "config": ev.cfg.label,
        "prefill_pods": ev.cfg.prefill,
        "decode_pods": ev.cfg.decode,
        "replicas": ev.cfg.replicas,
        "pd_ratio": f"{ev.cfg.prefill}:{ev.cfg.decode}",
        "gpus": ev.cfg.gpus,
        "cost_per_hour": ev.cfg.gpus * pln.price[cfg.cand.gpu],
        "attainment_mean": m,
        "attainment_ci_low": lo,
        "attainment_ci_high": hi,
        "ttft_attainment_mean": ev.mean("ttft_attainment_frac"),
        "tpot_attainment_mean": ev.mean("tpot_attainment_frac"),
        "status": "failed" if failed else "ok",
        "pass": False if failed else ev.passes(),
        "recommended": ev.cfg == cfg,
    }
