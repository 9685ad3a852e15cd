"""Fitting the calibrated model's coefficients from measured profiles (``stormsim calibrate``).

Inputs (CSV, recognised by their header):

* Vidur-format operator profiles ``mlp.csv`` (``time_stats.<op>.median`` ms per layer by
  ``num_tokens`` and ``num_tensor_parallel_workers``, model shape columns);
* Vidur-format ``all_reduce.csv`` (``time_stats.all_reduce.median`` ms by ``size`` bytes and
  ``num_workers``; single-node rows, ``devices_per_node == num_workers``, are used);
* attention rows ``kv,batch,ms`` (decode) and ``chunk,kv,ms`` (prefill), ms per layer at TP 1,
  of the model whose ``mlp.csv`` sits in the same directory;
* measured iteration times (docs/latency-validation.md): columns ``kind`` (``prefill`` or
  ``decode``), ``batch``, ``context`` (decode: tokens per sequence), ``prompt_lens`` (prefill:
  ``;``-separated lengths, or one length used ``batch`` times), ``cached`` (optional, cached
  tokens per prefill sequence), ``tp``, ``measured_ms``; needs the model's architecture.

Fits minimise the squared *relative* error. Pure numpy, no I/O beyond reading the CSVs.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stormsim.errors import InputError, Problem
from stormsim.perf.calibrated import (
    GEMM_SIZE_REF_S,
    CalibratedCost,
    Shapes,
    block_pairs,
    elementwise_kind,
    gemm_flops_bytes,
    gemm_size_scale,
)
from stormsim.perf.calibration import (
    ELEMENTWISE_KINDS,
    AllReduceCoef,
    AllReduceFit,
    Calibration,
    DecodeAttentionCoef,
    ElementwiseCoef,
    GemmCoef,
    PrefillAttentionCoef,
)
from stormsim.schema.serving import GpuSpec, ModelArch

GEMM_OPS = ("attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj")
ELEM_OPS = ("input_layernorm", "attn_rope", "post_attention_layernorm", "mlp_act", "add")
ALLREDUCE_LAUNCH_S = 2e-5
"""Launch overhead per all-reduce call (Vidur's execution-time predictor adds 0.02 ms)."""
ALLREDUCE_FLOOR_UNIT_S = 1e-5
"""Scale of the all-reduce latency-floor grid (the floor is searched over 0.5 µs to 0.5 ms)."""
CPU_OVERHEAD_S = 1e-3
CPU_OVERHEAD_SOURCE = (
    "assumption, not fitted: ~1 ms of CPU work per engine step (scheduling, input preparation, "
    "sampling) for a vLLM-style engine; the operator profiles time GPU kernels only"
)


@dataclass(frozen=True)
class MlpRow:
    """One ``mlp.csv`` row: per-layer operator times (seconds) of a model at (tokens, tp)."""

    model: str
    shape: ModelArch  # layers unknown in the profile: num_layers=1
    tokens: int
    tp: int
    ops_s: dict[str, float]


@dataclass
class Profiles:
    """Everything read from the profile files of one GPU."""

    mlp: list[MlpRow] = field(default_factory=list)
    allreduce: list[tuple[int, float, float]] = field(default_factory=list)  # (n, bytes, s)
    decode_attn: list[tuple[ModelArch, int, int, float]] = field(default_factory=list)
    prefill_attn: list[tuple[ModelArch, int, int, float]] = field(default_factory=list)
    iterations: list[dict[str, str]] = field(default_factory=list)


def _bad(path: Path, line: int | None, msg: str) -> InputError:
    return InputError(Problem("<profile>", msg, line, str(path)))


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line, row) of a CSV whose leading ``#`` lines are comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(
            Problem("<profile>", f"cannot read: {e.strerror}", None, str(path))
        ) from None
    lines = text.splitlines()
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    reader = csv.DictReader(lines[start:])
    header = [h.strip() for h in (reader.fieldnames or [])]
    out = [(start + i + 2, r) for i, r in enumerate(reader)]
    return header, out


def _num(path: Path, line: int, row: dict[str, str], key: str) -> float:
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        raise _bad(path, line, f"column {key!r}: not a number: {row.get(key)!r}") from None


def _shape(path: Path, line: int, r: dict[str, str]) -> ModelArch:
    h = int(_num(path, line, r, "n_embd"))
    return ModelArch(
        num_layers=1,
        hidden_size=h,
        num_heads=int(_num(path, line, r, "n_head")),
        num_kv_heads=int(_num(path, line, r, "n_kv_head")),
        intermediate_size=int(_num(path, line, r, "n_expanded_embd")),
        vocab_size=int(_num(path, line, r, "vocab_size")),
        gated_mlp=str(r.get("use_gated_mlp", "True")).strip().lower() in ("true", "1"),
    )


def read_profiles(paths: list[Path]) -> Profiles:
    """Read every profile file (kind recognised by its header)."""
    prof = Profiles()
    for path in paths:
        header, rows = _rows(path)
        if not rows:
            raise _bad(path, None, "no data rows")
        hs = set(header)
        if "time_stats.attn_pre_proj.median" in hs:
            model = path.parent.name
            for line, r in rows:
                ops = {
                    op: _num(path, line, r, f"time_stats.{op}.median") * 1e-3
                    for op in (*GEMM_OPS, *ELEM_OPS, "emb")
                    if f"time_stats.{op}.median" in hs
                }
                prof.mlp.append(
                    MlpRow(
                        model,
                        _shape(path, line, r),
                        int(_num(path, line, r, "num_tokens")),
                        int(_num(path, line, r, "num_tensor_parallel_workers")),
                        ops,
                    )
                )
        elif "time_stats.all_reduce.median" in hs:
            for line, r in rows:
                n = int(_num(path, line, r, "num_workers"))
                if int(_num(path, line, r, "devices_per_node")) != n:
                    continue
                prof.allreduce.append(
                    (
                        n,
                        _num(path, line, r, "size"),
                        _num(path, line, r, "time_stats.all_reduce.median") * 1e-3,
                    )
                )
        elif hs >= {"kv", "batch", "ms"} or hs >= {"chunk", "kv", "ms"}:
            shape = _sibling_shape(path)
            decode = "batch" in hs
            for line, r in rows:
                a = int(_num(path, line, r, "batch" if decode else "chunk"))
                kv = int(_num(path, line, r, "kv"))
                t = _num(path, line, r, "ms") * 1e-3
                (prof.decode_attn if decode else prof.prefill_attn).append((shape, a, kv, t))
        elif hs >= {"kind", "batch", "tp", "measured_ms"}:
            for line, r in rows:
                r = dict(r)
                r["_line"] = str(line)
                r["_file"] = str(path)
                prof.iterations.append(r)
        else:
            raise _bad(
                path,
                1,
                "unrecognised profile: expected a Vidur mlp.csv or all_reduce.csv, attention rows "
                "(kv,batch,ms / chunk,kv,ms) or iteration times (kind,batch,...,tp,measured_ms)",
            )
    return prof


def _sibling_shape(path: Path) -> ModelArch:
    mlp = path.parent / "mlp.csv"
    if not mlp.exists():
        raise _bad(path, None, "attention rows need the model's mlp.csv in the same directory")
    _, rows = _rows(mlp)
    line, r = rows[0]
    return _shape(mlp, line, r)


# --------------------------------------------------------------------------- fits


def _rel_lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares of ``x @ c ≈ y`` in relative error (a coefficient the
    unconstrained solution makes negative is pinned at 0 and the rest refitted)."""
    w = 1.0 / y
    a, b = x * w[:, None], y * w
    scale = np.maximum(np.abs(a).max(axis=0), 1e-300)
    free = np.ones(x.shape[1], dtype=bool)
    c = np.zeros(x.shape[1])
    while free.any():
        sol, *_ = np.linalg.lstsq(a[:, free] / scale[free], b, rcond=None)
        c[:] = 0.0
        c[free] = sol / scale[free]
        if (c[free] >= 0).all():
            break
        free &= c > 0
    return np.maximum(c, 0.0)


def _smooth_max_fit(
    u: np.ndarray,
    v: np.ndarray,
    y: np.ndarray,
    a_grid: np.ndarray,
    b_grid: np.ndarray,
    groups: np.ndarray | None = None,
) -> tuple[float, float, float, float]:
    """Fit ``launch + ((u/a)^p + (v/b)^p)^(1/p)`` per operator in relative error: grid over
    the sharpness ``p``, a log-spaced grid over ``a`` and ``b`` refined by pattern search,
    ``launch ≥ 0`` in closed form. With ``groups`` (an index per operator), the error is that
    of each group's *sum* (the operators of one profiled layer), so an operator counts as much
    as its share of the layer's time. Returns ``(p, a, b, launch)``."""
    if groups is None:
        groups = np.arange(len(y))
    ng = int(groups.max()) + 1
    yg = np.bincount(groups, weights=y, minlength=ng)
    ng_ops = np.bincount(groups, minlength=ng).astype(float)
    w2 = 1.0 / (yg * yg)

    def score(p: float, a: float, b: float) -> tuple[float, float]:
        s = np.bincount(groups, weights=((u / a) ** p + (v / b) ** p) ** (1.0 / p), minlength=ng)
        c0 = max(0.0, float(np.sum(w2 * ng_ops * (yg - s)) / np.sum(w2 * ng_ops * ng_ops)))
        return float(np.sum(w2 * (c0 * ng_ops + s - yg) ** 2)), c0

    best = (math.inf, 2.0, float(a_grid[0]), float(b_grid[0]), 0.0)
    for p in SHARPNESS:
        for a in a_grid:
            for b in b_grid:
                e, c0 = score(p, float(a), float(b))
                if e < best[0]:
                    best = (e, p, float(a), float(b), c0)
    e, p, a, b, c0 = best
    step = float(max(a_grid[1] / a_grid[0], b_grid[1] / b_grid[0]))
    while step > 1.0005:
        moved = False
        for da, db in ((step, 1.0), (1 / step, 1.0), (1.0, step), (1.0, 1 / step)):
            if a * da > a_grid[-1] or b * db > b_grid[-1]:
                continue
            e2, c2 = score(p, a * da, b * db)
            if e2 < e:
                e, a, b, c0, moved = e2, a * da, b * db, c2, True
                break
        if not moved:
            step = math.sqrt(step)
    return p, a, b, c0


def _elementwise_fit(x: list[list[float]], y: list[float]) -> ElementwiseCoef:
    """``launch + ((row_bytes/row_gbps)^p + (bytes/(hbm·eff))^p)^(1/p)`` from rows
    ``[row GB, bytes at peak s]`` and measured seconds."""
    xa, ya = np.array(x), np.array(y)
    p, rbw, eff, c0 = _smooth_max_fit(
        xa[:, 0], xa[:, 1], ya, np.geomspace(1.0, 1000.0, 16), np.geomspace(0.1, 1.0, 14)
    )
    return ElementwiseCoef(
        memory_eff=round(eff, 4), launch_s=c0, row_gbps=round(rbw, 3), sharpness=p
    )


SHARPNESS = (1.0, 1.5, 2.0, 3.0, 4.0, 8.0)
"""Sharpness values tried by the smooth-max fits (1: the sum of the two terms; 8: nearly
their max)."""


def _group_err(
    u: np.ndarray,
    v: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None,
    p: float,
    a: float,
    b: float,
    c0: float,
) -> float:
    g = np.arange(len(y)) if groups is None else groups
    pred = np.bincount(g, weights=c0 + ((u / a) ** p + (v / b) ** p) ** (1.0 / p))
    meas = np.bincount(g, weights=y)
    return float(np.sum((pred / meas - 1.0) ** 2))


def _nelder_mead(
    f: Callable[[np.ndarray], float], x0: np.ndarray, step: float = 0.3, iters: int = 800
) -> tuple[np.ndarray, float]:
    """Minimise ``f`` from ``x0`` by the Nelder–Mead simplex (deterministic, no bounds: the
    caller maps bounded coefficients to unbounded ones)."""
    pts = [np.array(x0, dtype=float)]
    for i in range(len(x0)):
        x = pts[0].copy()
        x[i] += step
        pts.append(x)
    vals = [f(x) for x in pts]
    for _ in range(iters):
        order = np.argsort(vals)
        pts, vals = [pts[i] for i in order], [vals[i] for i in order]
        if vals[-1] - vals[0] <= 1e-12 * max(vals[0], 1e-30):
            break
        c = np.mean(pts[:-1], axis=0)
        xr = 2.0 * c - pts[-1]
        fr = f(xr)
        if fr < vals[0]:
            xe = 3.0 * c - 2.0 * pts[-1]
            fe = f(xe)
            pts[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = xr, fr
        else:
            xc = (c + pts[-1]) / 2.0
            fc = f(xc)
            if fc < vals[-1]:
                pts[-1], vals[-1] = xc, fc
            else:
                pts = [pts[0] + (x - pts[0]) / 2.0 for x in pts]
                vals = [f(x) for x in pts]
    i = int(np.argmin(vals))
    return pts[i], vals[i]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _logit(x: float) -> float:
    x = min(max(x, 1e-6), 1.0 - 1e-6)
    return math.log(x / (1.0 - x))


def _gemm_coef(th: np.ndarray) -> GemmCoef:
    """Coefficients from the unbounded parameters of :func:`fit_gemm`."""
    return GemmCoef(
        compute_eff=min(1.5, math.exp(min(th[0], 5.0))),
        memory_eff=max(1e-3, 1.5 * _sigmoid(th[1])),  # above 1: see GemmCoef.memory_eff
        size_exp=max(-0.5, min(0.5, float(th[2]))),
        launch_s=math.exp(min(th[3], 0.0)),
        sharpness=1.0 + 7.0 * _sigmoid(th[4]),
        m_tile_weights={t: _sigmoid(th[5 + i]) for i, t in enumerate(GEMM_M_TILES)},
        power_knee_s=math.exp(max(-30.0, min(th[7], 5.0))),
        power_exp=4.0 * _sigmoid(th[8]),
        power_drop=2.0 * _sigmoid(th[9]),
    )


def gemm_times(c: GemmCoef, f: np.ndarray, b: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Seconds of GEMMs of ``f`` FLOP-seconds and ``b`` byte-seconds at peak over ``tokens``
    rows under ``c`` (vectorised :meth:`~stormsim.perf.calibrated.Operators.gemm`)."""
    x = f
    if c.m_tile_weights:
        pad = sum(w * (np.ceil(tokens / t) * t / tokens - 1.0) for t, w in c.m_tile_weights.items())
        x = x * (1.0 + pad)
    x = x * gemm_size_scale(x, c.size_exp, c.power_knee_s, c.power_exp, c.power_drop)
    x = x / c.compute_eff
    y = b / c.memory_eff
    p = c.sharpness
    return c.launch_s + (x**p + y**p) ** (1.0 / p)


GEMM_M_TILES = (128, 256)
"""Output-tile heights (rows) whose partial last tile the GEMM fit prices (the common tile
heights of tensor-core GEMM kernels on A100 and H100)."""


def fit_gemm(
    f: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None = None,
    tokens: np.ndarray | None = None,
) -> GemmCoef:
    """Fit the GEMM coefficients (:class:`~stormsim.perf.calibration.GemmCoef`) to ``y``
    seconds (``f``, ``b`` already in seconds at peak, ``tokens`` the row counts), in the
    relative error of each group's sum: a smooth roofline with a size exponent from a grid
    search (:func:`_smooth_max_fit` for each exponent of a small grid) as the start, then
    every coefficient, the partial-tile weight and the power knee refined together by
    Nelder–Mead."""
    ce_grid = np.geomspace(0.2, 1.5, 14)
    me_grid = np.geomspace(0.2, 1.0, 14)  # the start: the HBM peak at most
    best: tuple[float, float, float, float, float, float] | None = None
    for gamma in (-0.06, -0.04, -0.02, 0.0, 0.02, 0.04, 0.06):
        fg = f * (f / GEMM_SIZE_REF_S) ** gamma
        p, ce, me, c0 = _smooth_max_fit(fg, b, y, ce_grid, me_grid, groups)
        e0 = _group_err(fg, b, y, groups, p, ce, me, c0)
        if best is None or e0 < best[0]:
            best = (e0, gamma, p, ce, me, c0)
    assert best is not None
    _, gamma, p, ce, me, c0 = best
    if tokens is None:
        tokens = np.ones(len(y))
    g = np.arange(len(y)) if groups is None else groups
    meas = np.bincount(g, weights=y)

    def err(th: np.ndarray) -> float:
        pred = np.bincount(g, weights=gemm_times(_gemm_coef(th), f, b, tokens))
        return float(np.sum((pred / meas - 1.0) ** 2))

    start = [
        math.log(ce),
        _logit(me / 1.5),
        gamma,
        math.log(max(c0, 1e-9)),
        _logit((p - 1.0) / 7.0),
    ]
    top: tuple[np.ndarray, float] | None = None
    for w, knee in ((0.5, 1e-3), (0.1, 3e-4)):
        tiles = [_logit(w)] + [_logit(w / 4.0)] * (len(GEMM_M_TILES) - 1)
        th, e = _nelder_mead(
            err, np.array([*start, *tiles, math.log(knee), _logit(0.25), _logit(0.1)])
        )
        th, e = _nelder_mead(err, th)  # a restart escapes a collapsed simplex
        if top is None or e < top[1]:
            top = (th, e)
    assert top is not None
    c = _gemm_coef(top[0])
    upd: dict[str, object] = {
        k: float(f"{getattr(c, k):.4g}")
        for k in ("compute_eff", "memory_eff", "sharpness", "launch_s", "size_exp")
    }
    upd["m_tile_weights"] = {t: round(w, 4) for t, w in c.m_tile_weights.items() if w >= 1e-3}
    if c.power_exp < 1e-3 or c.power_drop < 1e-3 or c.power_knee_s is None:  # no knee
        upd.update(power_knee_s=None, power_exp=1.0, power_drop=0.0)
    else:
        upd.update(
            power_knee_s=float(f"{c.power_knee_s:.4g}"),
            power_exp=round(c.power_exp, 4),
            power_drop=round(c.power_drop, 4),
        )
    return c.model_copy(update=upd)


PREFILL_QUERY_BLOCKS = (None, 64, 128, 256)
"""Query-block sizes the prefill-attention fit tries (None: causal pairs, no blocks)."""


def fit_prefill_attention(
    rows: list[tuple[ModelArch, int, int, float]], peak: float, hbm: float
) -> PrefillAttentionCoef:
    """Prefill attention from ``(shape, chunk, kv, seconds)`` rows: non-negative least
    squares in relative error of ``launch + per_token·chunk + FLOPs/(peak·ce) + KV
    bytes/(hbm·me)`` for each query block of :data:`PREFILL_QUERY_BLOCKS`, the best kept."""
    y = np.array([t for *_, t in rows])
    best: tuple[float, PrefillAttentionCoef] | None = None
    for block in PREFILL_QUERY_BLOCKS:
        xp: list[list[float]] = []
        for shape, chunk, kv, _ in rows:
            s = Shapes.of(shape, 1)
            kvb = 2.0 * s.kv_heads * s.head_dim * s.bytes_per
            pairs = chunk * (kv + chunk / 2.0)
            w = pairs if block is None else block_pairs(chunk, pairs, kv, 1.0, block)
            xp.append([1.0, chunk, 4.0 * s.q_heads * s.head_dim * w / peak, kv * kvb / hbm])
        x = np.array(xp)
        c = _rel_lstsq(x, y)
        e = float(np.sum((x @ c / y - 1.0) ** 2))
        coef = PrefillAttentionCoef(
            compute_eff=min(1.5, 1.0 / c[2]) if c[2] > 0 else 1.5,
            launch_s=float(c[0]),
            per_token_s=float(c[1]),
            memory_eff=min(1.5, 1.0 / c[3]) if c[3] > 0 else 1.5,
            query_block=block,
        )
        if best is None or e < best[0]:
            best = (e, coef)
    assert best is not None
    return best[1]


def fit(
    prof: Profiles, gpu_name: str, g: GpuSpec, base: Calibration | None = None, source: str = ""
) -> Calibration:
    """Coefficients for GPU ``g`` from ``prof``; parts without data come from ``base``."""
    peak, hbm = g.bf16_tflops * 1e12, g.hbm_gbps * 1e9
    parts: dict[str, object] = {}
    if prof.mlp:
        fs, bs, ys, gs, ts = [], [], [], [], []
        ex: dict[str, list[list[float]]] = {k: [] for k in ELEMENTWISE_KINDS}
        ey: dict[str, list[float]] = {k: [] for k in ELEMENTWISE_KINDS}
        for gi, r in enumerate(prof.mlp):
            s = Shapes.of(r.shape, r.tp)
            for op, k, n in s.gemms():
                if op in r.ops_s and r.ops_s[op] > 0:
                    f, b = gemm_flops_bytes(r.tokens, k, n, s.bytes_per)
                    fs.append(f / peak)
                    bs.append(b / hbm)
                    ys.append(r.ops_s[op])
                    gs.append(gi)
                    ts.append(float(r.tokens))
            emb = ("emb", 2 * s.hidden * s.bytes_per)
            for op, per in (*s.elementwise_bytes(), emb):
                if op in r.ops_s and r.ops_s[op] > 0:
                    kind = elementwise_kind(op, s.gated)
                    ex[kind].append([per / 1e9, r.tokens * per / hbm])
                    ey[kind].append(r.ops_s[op])
        parts["gemm"] = fit_gemm(
            np.array(fs),
            np.array(bs),
            np.array(ys),
            np.unique(gs, return_inverse=True)[1],
            np.array(ts),
        )
        xs = [x for k in ELEMENTWISE_KINDS for x in ex[k]]
        ys_ = [y for k in ELEMENTWISE_KINDS for y in ey[k]]
        parts["elementwise"] = _elementwise_fit(xs, ys_)
        parts["elementwise_ops"] = {
            k: _elementwise_fit(ex[k], ey[k]) for k in ELEMENTWISE_KINDS if len(ey[k]) >= 3
        }
    if prof.allreduce:
        by = {}
        for n in sorted({a[0] for a in prof.allreduce}):
            sz = np.array([s_ for k, s_, _ in prof.allreduce if k == n])
            times = np.array([t_ for k, _, t_ in prof.allreduce if k == n])
            p, a, bw, c0 = _smooth_max_fit(
                np.full(len(times), ALLREDUCE_FLOOR_UNIT_S),
                sz / 1e9,
                times,
                np.geomspace(0.02, 20.0, 16),
                np.geomspace(5.0, 2000.0, 16),
            )
            by[n] = AllReduceFit(
                latency_s=c0,
                bandwidth_gbps=bw,
                floor_s=ALLREDUCE_FLOOR_UNIT_S / a,
                sharpness=p,
            )
        parts["allreduce"] = AllReduceCoef(launch_s=ALLREDUCE_LAUNCH_S, by_workers=by)
    if prof.decode_attn:
        xd: list[list[float]] = []
        yd: list[float] = []
        for shape, batch, kv, t in prof.decode_attn:
            s = Shapes.of(shape, 1)
            kvb = 2.0 * s.kv_heads * s.head_dim * s.bytes_per
            xd.append([1.0, batch, batch * kv * kvb / hbm])
            yd.append(t)
        c = _rel_lstsq(np.array(xd), np.array(yd))
        parts["attention_decode"] = DecodeAttentionCoef(
            memory_eff=1.0 / c[2] if c[2] > 0 else 1.0, per_seq_s=float(c[1]), launch_s=float(c[0])
        )
    if prof.prefill_attn:
        parts["attention_prefill"] = fit_prefill_attention(prof.prefill_attn, peak, hbm)
    missing = [
        k
        for k in ("gemm", "elementwise", "allreduce", "attention_decode", "attention_prefill")
        if k not in parts
    ]
    if missing and base is None:
        raise InputError(
            Problem(
                "<profiles>",
                f"no data for {', '.join(missing)} and no packaged calibration of {gpu_name}",
            )
        )
    for part in missing:
        parts[part] = getattr(base, part)
        if part == "elementwise":
            parts["elementwise_ops"] = base.elementwise_ops if base else {}
    cal = Calibration(
        gpu=gpu_name,
        source=source,
        overhead_s=base.overhead_s if base else CPU_OVERHEAD_S,
        overhead_source=base.overhead_source if base else CPU_OVERHEAD_SOURCE,
        **parts,
    )
    if prof.iterations:
        raise InputError(
            Problem("<profiles>", "iteration profiles need the model: use fit_iterations")
        )
    return cal


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorRow:
    """|predicted ÷ measured − 1| over one group of measurements."""

    what: str  # "non-attention", "attention decode", ...
    model: str
    tp: int
    n: int
    median: float
    p90: float
    ratio_median: float


def _summary(what: str, model: str, tp: int, ratios: list[float]) -> ErrorRow:
    r = np.array(ratios)
    e = np.abs(r - 1.0)
    return ErrorRow(
        what,
        model,
        tp,
        len(r),
        float(np.median(e)),
        float(np.percentile(e, 90)),
        float(np.median(r)),
    )


def layer_ratios(
    prof: Profiles, cal: Calibration, g: GpuSpec, layers: dict[str, int] | None = None
) -> list[ErrorRow]:
    """Predicted ÷ measured of the non-attention iteration time per (model, tp) over the
    profiles' token grid: ``L·(GEMMs + elementwise) + embedding + 2L all-reduces`` with the
    measured side's all-reduce from the network fit (``layers`` by profile model name;
    unknown: 32). Operators a profile does not measure are left out on both sides."""
    by: dict[tuple[str, int], list[float]] = {}
    for r in prof.mlp:
        L = (layers or {}).get(r.model, 32)
        m = r.shape.model_copy(update={"num_layers": L})
        cost = CalibratedCost.build(m, g, r.tp, cal, kv_tokens=1)
        o = cost.ops
        pred_layer = sum(o.gemm(r.tokens, k, n) for op, k, n in o.s.gemms() if op in r.ops_s)
        pred_layer += sum(
            o.elementwise(r.tokens, b, elementwise_kind(op, o.s.gated))
            for op, b in o.s.elementwise_bytes()
            if op in r.ops_s
        )
        meas_layer = sum(v for k, v in r.ops_s.items() if k != "emb")
        comm = o.communication(r.tokens)
        emb_p = o.embedding(r.tokens) if "emb" in r.ops_s else 0.0
        pred = L * pred_layer + emb_p + comm
        meas = L * meas_layer + r.ops_s.get("emb", 0.0) + comm
        by.setdefault((r.model, r.tp), []).append(pred / meas)
    return [_summary("non-attention", m, tp, v) for (m, tp), v in sorted(by.items())]


def attention_ratios(prof: Profiles, cal: Calibration, g: GpuSpec) -> list[ErrorRow]:
    """Predicted ÷ measured of the per-layer attention rows."""
    out = []
    for what, rows in (
        ("attention decode", prof.decode_attn),
        ("attention prefill", prof.prefill_attn),
    ):
        if not rows:
            continue
        rs = []
        for shape, a, kv, t in rows:
            o = CalibratedCost.build(shape, g, 1, cal, kv_tokens=1).ops
            if what == "attention decode":
                p = o.decode_attention_layer(a, a * kv)
            else:
                p = o.prefill_attention_layer(a, a * (kv + a / 2.0), kv)
            rs.append(p / t)
        out.append(_summary(what, "profiled", 1, rs))
    return out


def allreduce_ratios(prof: Profiles, cal: Calibration) -> list[ErrorRow]:
    out = []
    for n in sorted({a[0] for a in prof.allreduce}):
        f = cal.allreduce.fit_at(n)
        rs = [f.time(sz) / t for k, sz, t in prof.allreduce if k == n]
        out.append(_summary("all-reduce", f"{n} GPUs", n, rs))
    return out


def iteration_points(
    prof: Profiles, m: ModelArch, g: GpuSpec, cal: Calibration
) -> list[tuple[float, float, dict[str, str]]]:
    """(predicted GPU seconds without the CPU overhead, measured seconds, row) per measured
    iteration row."""
    out = []
    for r in prof.iterations:
        path, line = Path(r["_file"]), int(r["_line"])
        kind = r.get("kind", "").strip()
        tp = int(_num(path, line, r, "tp"))
        batch = int(_num(path, line, r, "batch"))
        cost = CalibratedCost.build(m, g, tp, cal, kv_tokens=1, overhead_s=0.0)
        if kind == "decode":
            t = cost.decode_time(batch, batch * _num(path, line, r, "context"))
        elif kind == "prefill":
            raw = (r.get("prompt_lens") or "").strip()
            try:
                lens = [int(x) for x in raw.split(";") if x.strip()]
            except ValueError:
                raise _bad(
                    path, line, f"column 'prompt_lens': not ';'-separated integers: {raw!r}"
                ) from None
            if len(lens) == 1:
                lens = lens * batch
            if not lens:
                raise _bad(path, line, "column 'prompt_lens' is empty")
            c = float(r.get("cached") or 0)
            t = cost.prefill_time(
                sum(lens), sum(x * (c + x / 2.0) for x in lens), len(lens), c * len(lens)
            )
        else:
            raise _bad(path, line, f"column 'kind': expected prefill or decode, got {kind!r}")
        out.append((t, _num(path, line, r, "measured_ms") * 1e-3, r))
    return out


def _scale_elementwise(c: ElementwiseCoef, k: float) -> ElementwiseCoef:
    """``c`` with every time multiplied by ``k``."""
    upd: dict[str, float] = {"memory_eff": c.memory_eff / k, "launch_s": c.launch_s * k}
    if c.row_gbps:
        upd["row_gbps"] = c.row_gbps / k
    return c.model_copy(update=upd)


def fit_iterations(prof: Profiles, m: ModelArch, g: GpuSpec, base: Calibration) -> Calibration:
    """Fit measured iteration times as ``overhead + k · (base model's GPU time)``: the CPU
    overhead becomes the fitted intercept, and every efficiency is divided by ``k`` (every
    launch time multiplied by it)."""
    pts = iteration_points(prof, m, g, base)
    c = _rel_lstsq(np.array([[1.0, p] for p, _, _ in pts]), np.array([y for _, y, _ in pts]))
    over, k = float(c[0]), float(c[1]) or 1.0

    def scale(x: object, **kw: float) -> object:
        return x.model_copy(update=kw)  # type: ignore[attr-defined]

    gm, el, ad, ap = base.gemm, base.elementwise, base.attention_decode, base.attention_prefill
    return base.model_copy(
        update={
            "gemm": scale(
                gm,
                compute_eff=gm.compute_eff / k,
                memory_eff=gm.memory_eff / k,
                launch_s=gm.launch_s * k,
            ),
            "elementwise": _scale_elementwise(el, k),
            "elementwise_ops": {
                kind: _scale_elementwise(c, k) for kind, c in base.elementwise_ops.items()
            },
            "attention_decode": scale(
                ad,
                memory_eff=ad.memory_eff / k,
                launch_s=ad.launch_s * k,
                per_seq_s=ad.per_seq_s * k,
            ),
            "attention_prefill": scale(
                ap,
                compute_eff=ap.compute_eff / k,
                launch_s=ap.launch_s * k,
                per_token_s=ap.per_token_s * k,
                **({"memory_eff": ap.memory_eff / k} if ap.memory_eff else {}),
            ),
            "overhead_s": over,
            "overhead_source": f"fitted intercept of {len(pts)} measured iteration times",
        }
    )
