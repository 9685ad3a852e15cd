"""Calibration files of the calibrated latency model: fitted coefficients for one GPU type.

The package ships one per profiled GPU (``stormsim/data/calibration/<gpu>.yaml``, fitted by
``stormsim calibrate`` from public operator profiles, source named in the file); a scenario may
name its own (``serving.calibration: FILE``, relative to the scenario). Times are seconds,
bandwidths GB/s (10^9 bytes/s), efficiencies fractions of the catalog's peak.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from stormsim.errors import InputError, Problem


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GemmCoef(_M):
    """GEMM: ``launch + ((F'/compute_eff)^p + (B/(hbm·memory_eff))^p)^(1/p)``, with ``F'`` the
    GEMM's FLOPs in seconds at peak after three size effects fitted per GPU (all off by
    default):

    * ``m_tile_weights``: the token count ``M`` counts as ``M + Σ w·(ceil(M/t)·t − M)`` over
      its ``{t: w}`` (the GEMM kernels' tiles of ``t`` rows are computed whole, however few
      of their rows are tokens, and the library uses tiles of several heights);
    * ``size_exp``: ``F'`` is scaled by ``(F'/1 ms)^size_exp`` (small GEMMs fill fewer SMs);
    * ``power_knee_s``: ``F'`` is scaled by ``1 + power_drop·u/(1 + u)``, ``u = (F'/knee)^
      power_exp`` (over its value at 1 ms): large GEMMs run at lower clocks under the power
      cap, at most ``1 + power_drop`` times slower, half of that at the knee.

    ``compute_eff`` is the efficiency of a GEMM of 1 ms of work at peak."""

    compute_eff: float = Field(gt=0, le=1.5)
    memory_eff: float = Field(gt=0, le=1.5)
    """Above 1 when the sharpness is near 1: the compute and weight-read terms then add, and
    this prices only the part of the weight read not hidden behind the compute."""
    sharpness: float = Field(default=2.0, ge=1)
    launch_s: float = Field(default=0.0, ge=0)
    size_exp: float = Field(default=0.0, ge=-0.5, le=0.5)
    """``F`` in seconds at peak is scaled by ``(F/1 ms)^size_exp``: a compute efficiency that
    changes with the GEMM's size, fitted per GPU."""
    m_tile_weights: dict[Annotated[int, Field(ge=1)], Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict
    )
    """Output-tile heights (rows, i.e. tokens) and how much of the last, partly filled tile
    of each is paid for (0: none, 1: all of it); empty: no tile effect."""
    power_knee_s: float | None = Field(default=None, gt=0)
    """Work (seconds at peak) above which the compute efficiency falls (absent: never)."""
    power_exp: float = Field(default=1.0, gt=0, le=4)
    """How sharply the efficiency falls around ``power_knee_s``."""
    power_drop: float = Field(default=0.0, ge=0, le=2)
    """How much slower the largest GEMMs run than those well below the knee (0: none)."""


class ElementwiseCoef(_M):
    """Elementwise operator:
    ``launch + ((row_bytes/row_gbps)^p + (bytes/(hbm·memory_eff))^p)^(1/p)``.

    ``row_bytes`` is what one token moves through the operator: a kernel that gives each token
    one thread block does that much serial work however few tokens there are (the floor of a
    normalisation or activation at small batch grows with the row's width); ``row_gbps``
    absent means no such floor. ``p`` (``sharpness``) makes the max of the two smooth."""

    memory_eff: float = Field(gt=0, le=1.5)
    launch_s: float = Field(default=0.0, ge=0)
    row_gbps: float | None = Field(default=None, gt=0)
    sharpness: float = Field(default=1.0, ge=1)


ELEMENTWISE_KINDS = ("norm", "rope", "act_gated", "act", "add", "emb")
"""Elementwise operator kinds with coefficients of their own: the normalisations, the rotary
embedding, a gated MLP's activation (SiLU × up) and a plain one (GELU), the residual add, the
embedding gather."""

ElementwiseKind = Literal["norm", "rope", "act_gated", "act", "add", "emb"]


class DecodeAttentionCoef(_M):
    """Decode attention per layer: ``launch + per_seq·B + KV bytes/(hbm·memory_eff)``."""

    memory_eff: float = Field(gt=0, le=1.5)
    per_seq_s: float = Field(default=0.0, ge=0)
    launch_s: float = Field(default=0.0, ge=0)


class PrefillAttentionCoef(_M):
    """Prefill attention per layer: ``launch + per_token·chunk tokens +
    4·heads·d·W/(peak·compute_eff) + cached KV bytes/(hbm·memory_eff)`` (``memory_eff``
    absent: the decode attention's). ``W`` counts (query, key) pairs: the causal pairs when
    ``query_block`` is absent; with it, the pairs of whole query blocks of ``query_block``
    tokens, each attending to every cached and new key of its sequence (half a block of
    padding per sequence on average)."""

    compute_eff: float = Field(gt=0, le=1.5)
    launch_s: float = Field(default=0.0, ge=0)
    per_token_s: float = Field(default=0.0, ge=0)
    memory_eff: float | None = Field(default=None, gt=0, le=1.5)
    query_block: int | None = Field(default=None, ge=1)


class AllReduceFit(_M):
    """One all-reduce over ``n`` GPUs:
    ``latency_s + (floor_s^p + (bytes/(bandwidth_gbps·1e9))^p)^(1/p)``: a latency floor of
    small messages and the bandwidth term of large ones, combined as a smooth max of
    sharpness ``p`` (``floor_s`` 0: ``latency_s + bytes/bandwidth``)."""

    latency_s: float = Field(ge=0)
    bandwidth_gbps: float = Field(gt=0)
    floor_s: float = Field(default=0.0, ge=0)
    sharpness: float = Field(default=1.0, ge=1)

    def time(self, nbytes: float) -> float:
        """Seconds of one all-reduce of ``nbytes`` (without the launch overhead)."""
        bw = nbytes / (self.bandwidth_gbps * 1e9)
        if self.floor_s <= 0:
            return self.latency_s + bw
        p = self.sharpness
        return self.latency_s + (self.floor_s**p + bw**p) ** (1.0 / p)


class AllReduceCoef(_M):
    """All-reduce fits by number of GPUs, plus a launch overhead per call."""

    launch_s: float = Field(default=2e-5, ge=0)
    by_workers: dict[int, AllReduceFit] = Field(min_length=1)

    def fit_at(self, n: int) -> AllReduceFit:
        """The fit for ``n`` GPUs, else the nearest measured count above (or the largest)."""
        fit = self.by_workers.get(n)
        if fit is None:
            above = [k for k in self.by_workers if k >= n]
            fit = self.by_workers[min(above) if above else max(self.by_workers)]
        return fit

    def at(self, n: int) -> tuple[float, float]:
        """(latency s, bandwidth GB/s) for ``n`` GPUs (:meth:`fit_at`)."""
        fit = self.fit_at(n)
        return fit.latency_s, fit.bandwidth_gbps


class Calibration(_M):
    """Fitted coefficients of the calibrated model for one GPU type."""

    gpu: str
    source: str = ""
    gemm: GemmCoef
    elementwise: ElementwiseCoef
    elementwise_ops: dict[ElementwiseKind, ElementwiseCoef] = Field(default_factory=dict)
    """Per-kind coefficients (:data:`ELEMENTWISE_KINDS`); a kind absent uses ``elementwise``."""
    attention_decode: DecodeAttentionCoef
    attention_prefill: PrefillAttentionCoef
    allreduce: AllReduceCoef
    overhead_s: float = Field(ge=0)
    overhead_source: str = ""


def parse_calibration(text: str, label: str) -> Calibration:
    """Validate calibration YAML ``text``; errors name ``label`` and the line."""
    yaml = YAML(typ="rt")
    try:
        data: Any = yaml.load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(Problem("<calibration>", f"not valid YAML: {e}", line, label)) from None
    if not isinstance(data, dict):
        raise InputError(Problem("<calibration>", "a calibration file must be a mapping", 1, label))
    try:
        return Calibration.model_validate(_plain(data))
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(err["loc"])
            problems.append(
                Problem(
                    ".".join(str(x) for x in loc) or "<calibration>",
                    err["msg"],
                    _line_of(data, loc),
                    label,
                )
            )
        raise InputError(problems) from None


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    return x


def _line_of(data: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest key of ``loc`` present in the round-trip ``data``."""
    line = None
    node = data
    for key in loc:
        lc = getattr(node, "lc", None)
        if not isinstance(node, dict) or key not in node or lc is None:
            break
        try:
            line = lc.key(key)[0] + 1
        except (KeyError, TypeError):
            break
        node = node[key]
    return line


@lru_cache(maxsize=32)
def load_calibration(path: str) -> Calibration:
    """The calibration file at ``path`` (cached by path)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(
            Problem("serving.calibration", f"cannot read calibration file: {e.strerror}: {p}")
        ) from None
    return parse_calibration(text, str(p))


BUILTIN = {"a100-80gb": "a100-80gb.yaml", "h100-80gb": "h100-80gb.yaml"}
"""Packaged calibrations by catalog GPU name."""


@lru_cache(maxsize=8)
def builtin_calibration(gpu: str) -> Calibration:
    """The packaged calibration of catalog GPU ``gpu``; a GPU without one borrows the H100's
    coefficients (efficiencies and launch times) applied to its own peak numbers."""
    name = BUILTIN.get(gpu.strip().lower(), BUILTIN["h100-80gb"])
    text = (
        resources.files("stormsim").joinpath(f"data/calibration/{name}").read_text(encoding="utf-8")
    )
    return parse_calibration(text, f"stormsim/data/calibration/{name}")


def dump_calibration(cal: Calibration) -> str:
    """YAML text of ``cal`` (what ``stormsim calibrate`` writes)."""
    import io

    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(cal.model_dump(mode="json"), buf)
    return buf.getvalue()
