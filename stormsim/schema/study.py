"""The optional ``compare:`` and ``sweep:`` sections of a scenario (docs/analysis.md).

They describe *studies* of a scenario (many runs of it) and never change what a single
``stormsim run`` simulates. Field paths are dotted paths into the scenario as written
(``service.manifest.spec.updateStrategy.maxSurge``, ``timing.image_pull_s``,
``service.manifest.spec.template.spec.roles[prefill].replicas``); they are checked by the
analysis layer, which applies them and re-validates the whole scenario.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

REQUIREMENT_RE = re.compile(
    r"^\s*(?P<kpi>[A-Za-z_]\w*)\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<bound>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$"
)
"""A requirement on a summary KPI: ``KPI OP NUMBER`` with OP one of ``<=``, ``>=``, ``<``,
``>`` (``window_ttft_p99_s<=2``). KPI names are checked by the analysis layer."""


def check_requirements(v: list[str]) -> list[str]:
    for text in v:
        if not isinstance(text, str) or not REQUIREMENT_RE.match(text):
            raise ValueError(
                f"{text!r} is not a requirement: write KPI<=NUMBER (or >=, <, >), "
                "e.g. 'window_ttft_p99_s<=2'"
            )
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class CompareSpec(_Model):
    """``compare:``: update settings to run side by side with common random numbers.

    Each strategy is a mapping of keys to values: ``name`` (its label), the shorthands ``type``,
    ``maxSurge``, ``maxUnavailable`` (StormService ``spec.updateStrategy``), ``roleset``
    (RoleSet ``spec.template.spec.updateStrategy``), ``ROLE.type`` / ``ROLE.maxSurge`` /
    ``ROLE.maxUnavailable`` (a role's ``updateStrategy``), or any dotted scenario path.
    """

    strategies: list[dict[str, Any]] = Field(min_length=1)
    seed: int | None = Field(default=None, ge=0)
    require: list[str] = Field(default_factory=list)
    """Requirements on summary KPIs (``KPI<=NUMBER``, ``>=``, ``<``, ``>``); a strategy meeting
    all of them (and the workload's SLO) is feasible."""

    _req = field_validator("require")(classmethod(lambda cls, v: check_requirements(v)))


class RangeSpec(_Model):
    """A continuous (or integer) range sampled uniformly, or log-uniformly with ``log``."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _order(self) -> RangeSpec:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        if self.log and self.low <= 0:
            raise ValueError("log ranges need low > 0")
        return self


class SamplesSpec(_Model):
    """``sweep.samples``: ``n`` random points; each parameter is a list of choices (picked
    uniformly) or a :class:`RangeSpec`. Drawn from ``seed``, so a sweep is reproducible."""

    n: int = Field(ge=1)
    seed: int = Field(default=0, ge=0)
    params: dict[str, list[Any] | RangeSpec] = Field(min_length=1)

    @field_validator("params")
    @classmethod
    def _non_empty(cls, v: dict[str, list[Any] | RangeSpec]) -> dict[str, list[Any] | RangeSpec]:
        for k, choices in v.items():
            if isinstance(choices, list) and not choices:
                raise ValueError(f"{k}: needs at least one choice")
        return v


class SweepSpec(_Model):
    """``sweep:``: a grid (cartesian product) × optional random samples × seeds.

    ``seeds`` is a count N (seeds ``base .. base+N-1`` where ``base`` is the scenario's seed,
    or 0) or an explicit list. Every parameter combination runs with the same seeds (common
    random numbers across cells).
    """

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    samples: SamplesSpec | None = None
    seeds: int | list[int] = 1
    require: list[str] = Field(default_factory=list)
    """Requirements on summary KPIs, as in ``compare.require``; checked on every run of a
    cell."""

    _req = field_validator("require")(classmethod(lambda cls, v: check_requirements(v)))

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for k, values in v.items():
            if not values:
                raise ValueError(f"{k}: needs at least one value")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int | list[int]) -> int | list[int]:
        if isinstance(v, int) and v < 1:
            raise ValueError("seeds must be >= 1")
        if isinstance(v, list):
            if not v:
                raise ValueError("needs at least one seed")
            if any(s < 0 for s in v):
                raise ValueError("seeds must be >= 0")
            if len(set(v)) != len(v):
                raise ValueError("duplicate seeds")
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> SweepSpec:
        if self.samples is not None:
            both = set(self.grid) & set(self.samples.params)
            if both:
                raise ValueError(f"paths both in grid and samples: {sorted(both)}")
        return self
