"""Regenerate the packaged calibrations and docs/latency-validation.md from the shared profiles.

    python bench/latency_validation.py [--shared ../shared] [--write-calibration]

Fits the calibrated model per GPU on Vidur's operator profiles (MIT, microsoft/vidur @7d47513),
prints predicted ÷ measured tables, a leave-one-model-out check, and writes the page.
"""

from __future__ import annotations

import argparse
import functools
import glob
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stormsim.perf.calibration import Calibration, dump_calibration
from stormsim.perf.catalog import builtin
from stormsim.perf.fit import (
    ErrorRow,
    Profiles,
    allreduce_ratios,
    attention_ratios,
    fit,
    layer_ratios,
    read_profiles,
)
from stormsim.schema.serving import GpuSpec

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "Llama-2-7b-hf": 32,
    "Meta-Llama-3-8B": 32,
    "Llama-2-70b-hf": 80,
    "Meta-Llama-3-70B": 80,
    "internlm-20b": 60,
    "CodeLlama-34b-Instruct-hf": 48,
    "phi-2": 32,
}  # num_hidden_layers of each model's Hugging Face config.json
GPUS = (("a100", "A100-80GB"), ("h100", "H100-80GB"))
SOURCE = (
    "fitted by bench/latency_validation.py (stormsim calibrate) from Vidur's operator and "
    "network profiles, github.com/microsoft/vidur @7d47513 data/profiling (MIT)"
)


def profile_paths(shared: Path, key: str) -> list[Path]:
    v = shared / "calibration" / "vidur"
    paths = [Path(p) for p in sorted(glob.glob(str(v / "compute" / key / "*" / "*" / "*.csv")))]
    return [*paths, v / "network" / f"{key}_dgx" / "all_reduce.csv"]


def calibrate_all(shared: Path) -> dict[str, tuple[Profiles, Calibration]]:
    gpus, _ = builtin()
    out: dict[str, tuple[Profiles, Calibration]] = {}
    base = None
    for key, name in GPUS:
        prof = read_profiles(profile_paths(shared, key))
        src = SOURCE if prof.decode_attn else SOURCE + "; attention coefficients from the A100 fit"
        cal = fit(prof, name, gpus[name], base=base, source=src)
        base = base or cal
        out[name] = (prof, cal)
    return out


def loo(prof: Profiles, cal: Calibration, name: str) -> list[ErrorRow]:
    """Leave one model out: refit the operator coefficients without it, predict it."""
    gpus, _ = builtin()
    rows: list[ErrorRow] = []
    for model in sorted({r.model for r in prof.mlp}):
        rest = Profiles(mlp=[r for r in prof.mlp if r.model != model], allreduce=prof.allreduce)
        held = Profiles(mlp=[r for r in prof.mlp if r.model == model], allreduce=prof.allreduce)
        c = fit(rest, name, gpus[name], base=cal, source="")
        rows += layer_ratios(held, c, gpus[name], LAYERS)
    return rows


def smooth_bound(prof: Profiles, cal: Calibration, g: GpuSpec, model: str, tp: int) -> float:
    """p90 |err| of the (model, tp) row after correcting its predicted ÷ measured ratio by a
    degree-10 polynomial in log(tokens) fitted to the row itself: what any model smooth in
    the token count leaves at best."""
    rows = [r for r in prof.mlp if r.model == model and r.tp == tp]
    ratios = []
    for r in rows:
        (row,) = layer_ratios(Profiles(mlp=[r], allreduce=prof.allreduce), cal, g, LAYERS)
        ratios.append(row.ratio_median)
    lx = np.log([r.tokens for r in rows])
    ly = np.log(ratios)
    corr = np.polyval(np.polyfit(lx, ly, 10), lx)
    return float(np.percentile(np.abs(np.exp(ly - corr) - 1.0), 90))


def table(rows: list[ErrorRow]) -> list[str]:
    out = [
        "| what | model | TP | n | median \\|err\\| | p90 \\|err\\| | median pred/meas |",
        "|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r.what} | {r.model} | {r.tp} | {r.n} | {r.median:.1%} | {r.p90:.1%} | "
        f"{r.ratio_median:.3f} |"
        for r in rows
    ]
    return out


def verdict(rows: list[ErrorRow], bound: Callable[[str, int], float] | None = None) -> list[str]:
    bad = [r for r in rows if r.what == "non-attention" and (r.median > 0.05 or r.p90 > 0.10)]
    if not bad:
        return ["All non-attention rows meet the targets (median ≤ 5 %, p90 ≤ 10 %)."]

    def one(r: ErrorRow) -> str:
        s = f"{r.model} TP{r.tp} median {r.median:.1%} p90 {r.p90:.1%}"
        if bound is None:
            return s
        b = bound(r.model, r.tp)
        why = (
            "above 10 %: no model smooth in the token count meets the p90 target"
            if b > 0.10
            else "a smooth correction fitted to this row alone would meet it; "
            "the per-GPU model does not"
        )
        return s + f" (smooth bound p90 {b:.1%}: {why})"

    return [
        f"**Target missed** in {len(bad)} of "
        f"{sum(r.what == 'non-attention' for r in rows)} non-attention rows: "
        + "; ".join(one(r) for r in bad)
        + "."
    ]


def _distserve_ms(coef: dict, kind: str, lens: list[int], b: int, ctx: int) -> float:
    if kind == "prefill":
        a, bb, c = coef["prefill"]
        return a + bb * sum(lens) + c * sum(x * x for x in lens)
    key = (
        "decoding_smallbs" if b < coef["decoding_large_small_bs_threshold"] else "decoding_largebs"
    )
    a, bb, c = coef[key]
    return a + bb * b * ctx + c * b


def distserve_section(shared: Path) -> list[str]:
    """Per-iteration OPT-13B on A100: stormsim's models vs DistServe's own fitted model."""
    import json

    from stormsim.perf.query import latency

    f = shared / "calibration" / "distserve" / "profiler-a100-80g.distserve.json"
    fits = json.loads(f.read_text())["facebook/opt-13b"]
    cases = [
        ("prefill", [512], 0, 0),
        ("prefill", [2048], 0, 0),
        ("prefill", [512] * 4, 0, 0),
        ("decode", [], 8, 512),
        ("decode", [], 32, 512),
        ("decode", [], 128, 1024),
    ]
    out = [
        "## OPT-13B on A100-80GB against DistServe's fitted model",
        "",
        "DistServe (github.com/LLMServe/DistServe @82831f1, Apache-2.0) fits "
        "`a + b·T + c·Σl²` (prefill) and `a + b·S + c·B` (decode) to profiled OPT models; "
        "its numbers include its engine's whole iteration (CPU work too). Milliseconds per "
        "iteration:",
        "",
        "| TP | iteration | DistServe fit | calibrated | calibrated ÷ DistServe | roofline | "
        "roofline ÷ DistServe |",
        "|---|---|---|---|---|---|---|",
    ]
    for tp in ("1", "2", "4"):
        if tp not in fits:
            continue
        for kind, lens, b, ctx in cases:
            ds = _distserve_ms(fits[tp], kind, lens, b, ctx)
            kw = {"prefill": lens} if kind == "prefill" else {"decode_batch": b, "context": ctx}
            cal = latency("opt-13b", "A100-80GB", int(tp), latency_model="calibrated", **kw)
            roof = latency("opt-13b", "A100-80GB", int(tp), latency_model="roofline", **kw)
            what = (
                f"prefill {len(lens)}×{lens[0]}"
                if kind == "prefill"
                else f"decode B={b}, {ctx} ctx"
            )
            out.append(
                f"| {tp} | {what} | {ds:.1f} | {cal.total_s * 1e3:.1f} | "
                f"{cal.total_s * 1e3 / ds:.2f} | {roof.total_s * 1e3:.1f} | "
                f"{roof.total_s * 1e3 / ds:.2f} |"
            )
    return [*out, ""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--write-calibration", action="store_true")
    a = ap.parse_args()
    gpus, _ = builtin()
    fits = calibrate_all(a.shared)
    lines = [
        "# Latency model validation",
        "",
        "Generated by `python bench/latency_validation.py`; do not edit by hand.",
        "",
        "The calibrated latency model (`serving.latency_model: calibrated`) is fitted per GPU on "
        "Vidur's public operator profiles (github.com/microsoft/vidur @7d47513, "
        "`data/profiling`, MIT): per-layer CUDA times of each token-level operator at TP 1, 2, "
        "4, 8 over 259 to 456 token counts per model, single-node all-reduce times, and a partial "
        "set of A100 Llama-2-7B attention rows. The *non-attention* iteration time compared is "
        "`layers × (GEMMs + elementwise operators) + embedding + 2·layers all-reduces`, the "
        "all-reduces coming from the fitted network model on both sides (as Vidur composes an "
        "iteration); |err| = |predicted ÷ measured − 1|. The CPU overhead per iteration is not "
        "in the profiles and not compared.",
        "",
        "Targets: non-attention median |err| ≤ 5 % and p90 ≤ 10 % at every TP; attention median "
        "≤ 10 %.",
        "",
        "The model (docs/latency-model.md): GEMMs as a smooth roofline of FLOPs and bytes, "
        "with three size effects fitted per GPU from shapes only: the last, partly filled "
        "output tile of 128 and of 256 rows (tokens) partly paid for, a compute efficiency "
        "that drifts with the "
        "GEMM's size, and a bounded efficiency drop above a knee of work (the power cap); "
        "elementwise operators per kind (norm, rotary, gated or plain activation, add, "
        "embedding), each the smooth max of a per-token row floor and a bandwidth term; "
        "prefill attention over whole query blocks; all-reduce as latency plus the smooth max "
        "of a floor and a bandwidth term per GPU count. Fitted in relative error: the GEMM "
        "coefficients on each profiled layer's GEMM sum (grid search, then Nelder–Mead), the "
        "elementwise ones per operator.",
        "",
        "**Why some rows miss.** The misses are H100 single-GPU rows, and the error is in the "
        "GEMMs. Their measured time is a staircase in the token count: the GEMM library "
        "switches kernels and tile shapes at thresholds, and the time jumps by 20 to 35 % "
        "within 8 tokens (H100 CodeLlama-34B TP 1: the MLP down projection runs at 82 % of "
        "peak at 496 tokens and 33 % at 528). The model's partial-tile term follows the "
        "regular part of the steps (every 128 and 256 tokens); the rest depends on which "
        "kernel the library's heuristic picks for each shape. A model smooth in the token "
        "count runs through the middle of such steps, so its p90 is the step height. The "
        "*smooth bound* given with each miss below measures how far a smooth fix could go: "
        "the p90 left when the row's own predicted ÷ measured ratio is corrected by a "
        "polynomial of degree 10 in log(tokens) fitted to that very row (11 free coefficients "
        "for one row, i.e. far more freedom than a per-GPU model has). Where it is above 10 "
        "%, no smooth correction can meet the p90 target; where it is below, the target is "
        "not out of reach in principle, but no per-GPU model built from shapes that we tried "
        "got there (see below).",
        "",
        "**Tried and not kept** (H100 non-attention p90 of CodeLlama-34B TP 1 / phi-2 TP 1; "
        "before this model 13.8 % / 15.9 %): wave quantisation with a fixed tile (64 × 64 to "
        "256 × 128, 108 or 132 SMs) blended with the smooth roofline, 14.1 % / 13.6 % at best "
        "(128 × 128), and it misses other rows (up to 6 of 13 with 256 × 128); the tile chosen "
        "per shape as a heuristic would (the fastest of 64 × 64, 64 × 128, 128 × 64, "
        "128 × 128, 128 × 256, 256 × 128), 13.7 % / 16.4 %, missing internlm-20B TP 1 too; a "
        "power-cap term that keeps falling (`(F/knee)^a` instead of a bounded drop), as "
        "good on the fitted models but 31 % p90 on CodeLlama-34B TP 1 with it left out; one tile "
        "height only (128 rows), 14.5 % / 14.3 %. With the previous model, smooth in the "
        "token count, the smooth bound of CodeLlama-34B TP 1 was 11.4 %: only a model with "
        "steps could meet its target.",
        "",
    ]
    for name, (prof, cal) in fits.items():
        g = gpus[name]
        rows = layer_ratios(prof, cal, g, LAYERS)
        lines += [
            f"## {name}",
            "",
            f"Coefficients: `stormsim/data/calibration/{name.lower()}.yaml`.",
            "",
        ]
        lines += [
            *table(rows),
            "",
            *verdict(rows, functools.partial(smooth_bound, prof, cal, g)),
            "",
        ]
        att = attention_ratios(prof, cal, g)
        if att:
            lines += ["Attention (per layer, TP 1, A100 Llama-2-7B rows):", "", *table(att), ""]
            for r in att:
                ok = "meets" if r.median <= 0.10 else "**misses**"
                lines.append(f"* {r.what}: median {r.median:.1%} {ok} the 10 % target.")
            lines.append("")
        else:
            lines += [
                "No attention rows for this GPU: its attention coefficients are the A100's "
                "(efficiencies applied to this GPU's peak numbers); not validated.",
                "",
            ]
        lines += [
            "All-reduce fit against the network profile:",
            "",
            *table(allreduce_ratios(prof, cal)),
            "",
        ]
        lo = loo(prof, cal, name)
        lines += [
            "Leave one model out (refit the GEMM and elementwise coefficients without the "
            "model, predict it):",
            "",
            *table(lo),
            "",
            *verdict(lo),
            "",
        ]
        if a.write_calibration:
            out = ROOT / "stormsim" / "data" / "calibration" / f"{name.lower()}.yaml"
            out.write_text(f"# {cal.source}\n" + dump_calibration(cal), encoding="utf-8")
    lines += distserve_section(a.shared)
    (ROOT / "docs" / "latency-validation.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
