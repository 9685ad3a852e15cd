"""The ``plan:`` section of a scenario: what ``stormsim plan`` searches (docs/capacity-planning.md).

The scenario around it supplies everything that is not being planned: the request lengths
(``workload.prompt_tokens`` / ``output_tokens``), the model and engine settings (``serving``),
the pod lifecycle durations (``timing``), the controller profile, and the image and labels of
the service (the first container of the manifest's first role). The planner replaces the
cluster, the StormService shape, the arrival process, the SLO and the events.

Every model is frozen and rejects unknown fields.
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stormsim.schema.strict import FloatPair, IntPair
from stormsim.schema.study import check_requirements


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class PlanLoad(_M):
    """The load to plan for: a constant ``rate_rps`` (Poisson arrivals) or a ``profile`` of
    ``[[t_s, rate_rps], ...]`` points (time from the start of the traffic; non-homogeneous
    Poisson, ``interpolation`` linear or step, the last rate held). Exactly one of the two."""

    rate_rps: float | None = Field(default=None, gt=0)
    profile: list[FloatPair] | None = Field(default=None, min_length=1)
    interpolation: Literal["linear", "step"] = "linear"

    @model_validator(mode="after")
    def _one(self) -> PlanLoad:
        if (self.rate_rps is None) == (self.profile is None):
            raise ValueError("give exactly one of rate_rps and profile")
        if self.profile is not None:
            ts = [p[0] for p in self.profile]
            if any(b < a for a, b in itertools.pairwise(ts)):
                raise ValueError("profile points must be sorted by time")
            if any(p[0] < 0 or p[1] < 0 for p in self.profile):
                raise ValueError("profile times and rates must be >= 0")
            if max(p[1] for p in self.profile) <= 0:
                raise ValueError("the profile needs a positive rate")
        return self

    @property
    def peak_rps(self) -> float:
        if self.rate_rps is not None:
            return self.rate_rps
        assert self.profile is not None
        return max(p[1] for p in self.profile)

    @property
    def mean_rps_hint(self) -> float:
        """The constant rate, or the profile's peak (what capacity must be sized for)."""
        return self.peak_rps


class PlanSlo(_M):
    """A request meets its SLO when TTFT <= ``ttft_s`` and TPOT <= ``tpot_s``; a configuration
    meets the SLOs when at least ``attainment_frac`` of the requests do."""

    ttft_s: float = Field(gt=0)
    tpot_s: float = Field(gt=0)
    attainment_frac: float = Field(default=0.99, gt=0, le=1)
    ttft_at: Literal["first_token", "prefill_end"] = "first_token"
    """Where TTFT ends (see ``workload.slo.ttft_at``)."""


class PlanGpu(_M):
    """A candidate GPU type (a name of the serving catalog), its price per GPU-hour, and the
    GPUs per node of the node pool that hosts it."""

    type: str = Field(min_length=1)
    price_per_hour: float = Field(ge=0)
    gpus_per_node: int = Field(default=8, ge=1)


def _one() -> list[int | str]:
    return [1]


def _zero() -> list[int | str]:
    return [0]


class PlanRollout(_M):
    """The rollout to plan for: a full image change (every role) to ``image``, tried with every
    combination of ``max_surge`` x ``max_unavailable`` (RollingUpdate of the StormService in
    replica mode; per-role budgets of an InPlaceUpdate in pooled mode). When the SLOs break
    during the rollout, up to ``max_extra`` extra replicas (replica mode) or pods per role
    (pooled mode) are tried. A rollout that has not ended after ``timeout_s`` fails (default:
    twice an estimate from the start-up distributions plus a minute, then four times that
    for a rollout still running). Budgets
    are ints or percentages (``"25%"``), resolved as AIBrix resolves them."""

    image: str = Field(default="vllm/vllm-openai:plan-next", min_length=1)
    max_surge: list[int | str] = Field(default_factory=_one, min_length=1)
    max_unavailable: list[int | str] = Field(default_factory=_zero, min_length=1)
    max_extra: int = Field(default=4, ge=0)
    timeout_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _budgets(self) -> PlanRollout:
        for name in ("max_surge", "max_unavailable"):
            for v in getattr(self, name):
                if isinstance(v, int):
                    if v < 0:
                        raise ValueError(f"{name}: {v} must be >= 0")
                    continue
                body = v[:-1] if v.endswith("%") else None
                if body is None or not body.isdigit():
                    raise ValueError(f"{name}: {v!r} is neither an int nor a percentage like '25%'")
        return self


class Plan(_M):
    """What to search. ``mode``: ``pooled`` (one RoleSet holding ``P`` prefill and ``D``
    decode pods) or ``replica`` (``R`` RoleSets of an ``xPyD`` shape from ``shapes``).
    ``colocated`` adds candidates of one colocated engine role (prefill and decode on the same
    GPUs, TP from ``colocated_tp``) for comparison. ``criterion`` decides when a configuration
    meets the SLOs over the seeds: ``min`` (every seed), ``mean`` (the mean), ``ci_low`` (the
    lower end of the 95% Student-t interval).

    Each simulation starts with the fleet deployed and Ready at t = 0, starts traffic at
    ``warmup_s``, measures the requests that arrive in ``[warmup_s + settle_s, warmup_s +
    duration_s]`` (a rollout starts at ``warmup_s + settle_s`` and its update window is
    measured instead) and runs
    ``drain_s`` longer; a request still unfinished at the end counts as missing its SLO."""

    load: PlanLoad
    slo: PlanSlo
    gpus: list[PlanGpu] = Field(min_length=1)
    prefill_tp: list[int] = Field(default_factory=lambda: [1], min_length=1)
    decode_tp: list[int] = Field(default_factory=lambda: [1], min_length=1)
    mode: Literal["pooled", "replica"] = "pooled"
    shapes: list[IntPair] = Field(default_factory=lambda: [(1, 1)], min_length=1)
    colocated: bool = False
    colocated_tp: list[int] = Field(default_factory=lambda: [1], min_length=1)
    rollout: PlanRollout | None = Field(default_factory=PlanRollout)
    seeds: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)
    criterion: Literal["min", "mean", "ci_low"] = "min"
    warmup_s: float = Field(default=0.0, ge=0)
    settle_s: float = Field(default=10.0, ge=0)
    duration_s: float = Field(default=300.0, gt=0)
    drain_s: float = Field(default=60.0, ge=0)
    max_pods: int = Field(default=32, ge=1)
    goodput: bool = True
    goodput_max_factor: float = Field(default=4.0, gt=1)
    require: list[str] = Field(default_factory=list)
    """Requirements on summary KPIs besides the SLO attainment, as in ``compare.require``
    (``'update_duration_s<=1800'``): a configuration meets them when every seed's run does.
    Whole-run KPIs are held in every phase, update-window KPIs in the rollout phase."""

    _req = field_validator("require")(classmethod(lambda cls, v: check_requirements(v)))
    goodput_rel_tol: float = Field(default=0.1, gt=0, lt=1)
    sensitivity: bool = True

    @model_validator(mode="after")
    def _check(self) -> Plan:
        if self.settle_s >= self.duration_s:
            raise ValueError("settle_s must be < duration_s")
        for name in ("prefill_tp", "decode_tp", "colocated_tp"):
            if any(t < 1 for t in getattr(self, name)):
                raise ValueError(f"{name}: tensor-parallel degrees must be >= 1")
        if any(x < 1 or y < 1 for x, y in self.shapes):
            raise ValueError("shapes: each [prefill pods, decode pods] must be >= 1")
        types = [g.type for g in self.gpus]
        if len(set(types)) != len(types):
            raise ValueError("gpus: a GPU type is listed twice")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        return self
