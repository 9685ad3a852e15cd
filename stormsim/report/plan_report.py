"""The capacity-planning report: ``plan.html`` (self-contained: plots embedded as base64 PNG,
no script, no network) and ``plan.md`` (the same text and tables, no plots).

Sections (HTML ``id`` in brackets): the recommendation and why (``recommendation``), the
candidates table (``candidates``), load vs attainment curves (``load-attainment``), P:D ratio
sensitivity (``pd-sensitivity``), the rollout settings and the rollout timeline of the
recommended configuration (``rollout``), the search log (``search``) and the plan's settings
(``settings``).
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stormsim.analysis.plan import PLAN_ARTIFACT_WRITERS, PlanResult
from stormsim.analysis.study import atomic_write

SECTIONS = (
    ("recommendation", "Recommendation"),
    ("candidates", "Candidates"),
    ("load-attainment", "Load vs SLO attainment"),
    ("pd-sensitivity", "P:D ratio sensitivity"),
    ("rollout", "Rollout"),
    ("search", "Search log"),
    ("settings", "Plan settings"),
)

CANDIDATE_COLUMNS = (
    ("candidate", "candidate"),
    ("status", "status"),
    ("config", "configuration"),
    ("gpus", "GPUs"),
    ("cost_per_hour", "$/h"),
    ("goodput_rps", "goodput req/s"),
    ("goodput_per_gpu", "goodput req/s/GPU"),
    ("attainment", "attainment [95% CI]"),
    ("ttft_p90_s", "TTFT p90 s"),
    ("tpot_p90_s", "TPOT p90 s"),
    ("rollout_setting", "rollout"),
    ("rollout_duration_s", "rollout s"),
    ("rollout_surge_gpus", "surge GPUs"),
    ("rollout_attainment", "rollout attainment [95% CI]"),
    ("reason", "note"),
)


# ----------------------------------------------------------------------------- formatting


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float | np.floating):
        if math.isnan(float(v)):
            return "-"
        return f"{float(v):.{digits}g}"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    return str(v)


def _ci(m: Any, lo: Any, hi: Any) -> str:
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "-"
    if lo is None or hi is None or any(isinstance(x, float) and math.isnan(x) for x in (lo, hi)):
        return f"{m:.3f}"
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def candidate_table(res: PlanResult) -> pd.DataFrame:
    """The candidates as display strings, in report order (recommended first)."""
    c = res.candidates.copy()
    if c.empty:
        return pd.DataFrame(columns=[h for _, h in CANDIDATE_COLUMNS])
    order = {"recommended": 0, "feasible": 1, "no-fit": 2, "dominated": 3, "infeasible": 4}
    c["_o"] = c["status"].map(order).fillna(9)
    sort = ["_o", "cost_per_hour"] if "cost_per_hour" in c else ["_o"]
    c = c.sort_values(sort)
    rows = []
    for _, r in c.iterrows():
        row = {}
        for key, head in CANDIDATE_COLUMNS:
            if key == "attainment":
                row[head] = _ci(
                    r.get("attainment_mean"), r.get("attainment_ci_low"),
                    r.get("attainment_ci_high"),
                )  # fmt: skip
            elif key == "rollout_attainment":
                row[head] = _ci(
                    r.get("rollout_attainment_mean"), r.get("rollout_attainment_ci_low"),
                    r.get("rollout_attainment_ci_high"),
                )  # fmt: skip
            elif key == "cost_per_hour":
                v = r.get(key)
                row[head] = "-" if v is None or pd.isna(v) else f"{float(v):.2f}"
            else:
                v = r.get(key)
                row[head] = "-" if v is None or (not isinstance(v, str) and pd.isna(v)) else _fmt(v)
        rows.append(row)
    return pd.DataFrame(rows)


def _frame_table(df: pd.DataFrame, cols: list[str] | None = None) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame()
    d = df[[c for c in (cols or list(df.columns)) if c in df.columns]].copy()
    for c in d.columns:
        d[c] = [_fmt(v) for v in d[c]]
    return d


def _html_table(df: pd.DataFrame, cls: str = "") -> str:
    if df.empty:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        tr_cls = ' class="rec"' if str(r.iloc[1] if len(r) > 1 else "") == "recommended" else ""
        body.append(
            f"<tr{tr_cls}>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
        )
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(body)
        + "</tbody></table>"
    )


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_none_\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "/") for v in r) + " |")
    return "\n".join(lines) + "\n"


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# ----------------------------------------------------------------------------- plots


def plot_load_attainment(res: PlanResult) -> Figure:
    """SLO attainment (mean and 95% CI over seeds) against the request rate, per candidate's
    configuration; the target and the planned load as reference lines."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    cur = res.curves()
    target = res.plan.slo.attainment_frac
    if not cur.empty:
        for i, (_, g) in enumerate(cur.groupby("candidate", sort=False)):
            g = g.sort_values("rate_rps")
            m = g["attainment_mean"].to_numpy(dtype=float)
            lo = g["attainment_ci_low"].to_numpy(dtype=float)
            hi = g["attainment_ci_high"].to_numpy(dtype=float)
            x = g["rate_rps"].to_numpy(dtype=float)
            color = plt.get_cmap("tab10")(i % 10)
            ax.plot(x, m, "o-", color=color, label=f"{g['config'].iloc[0]}")
            ok = ~(np.isnan(lo) | np.isnan(hi))
            if ok.any():
                ax.fill_between(x[ok], lo[ok], hi[ok], color=color, alpha=0.15)
    ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
    ax.axvline(res.plan.load.peak_rps, color="grey", ls=":", lw=1, label="planned load")
    ax.set_xlabel("request rate (req/s)")
    ax.set_ylabel("SLO attainment")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Load vs SLO attainment (band: 95% CI over seeds)")
    return fig


def plot_sensitivity(res: PlanResult) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 3.8))
    s = res.sensitivity
    target = res.plan.slo.attainment_frac
    if s is not None and not s.empty:
        x = np.arange(len(s))
        m = s["attainment_mean"].to_numpy(dtype=float)
        lo = s["attainment_ci_low"].to_numpy(dtype=float)
        hi = s["attainment_ci_high"].to_numpy(dtype=float)
        err = np.vstack([np.nan_to_num(m - lo), np.nan_to_num(hi - m)])
        colors = ["tab:green" if p else "tab:red" for p in s["pass"]]
        ax.bar(x, m, yerr=err, color=colors, capsize=4)
        labels = [
            f"{r['pd_ratio']}{' *' if r['recommended'] else ''}\n{int(r['gpus'])} GPUs"
            for _, r in s.iterrows()
        ]
        ax.set_xticks(x, labels)
        ax.plot(x, s["ttft_attainment_mean"].to_numpy(dtype=float), "k^", label="TTFT only")
        ax.plot(x, s["tpot_attainment_mean"].to_numpy(dtype=float), "kv", label="TPOT only")
    ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("prefill : decode pods (* = recommended)")
    ax.set_ylabel("SLO attainment")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("P:D split at the recommended pod count")
    return fig


def plot_rollout_timeline(res: PlanResult) -> Figure:
    """Pods ready by revision, GPUs allocated, and per-bin SLO attainment and throughput over
    the recommended rollout (update window shaded)."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    tl = res.timeline
    if tl is None:
        for ax in axes:
            ax.text(0.5, 0.5, "no rollout simulated", ha="center", va="center")
        return fig
    ts = tl.frames["timeseries"]
    end = float(tl.summary.get("sim_end_s") or ts["t_s"].iloc[-1])
    if len(ts) and end > float(ts["t_s"].iloc[-1]):
        # hold the last state to the end of the run, like the request panel
        tail = ts.iloc[[-1]].copy()
        tail["t_s"] = end
        ts = pd.concat([ts, tail], ignore_index=True)
    t = ts["t_s"].to_numpy(dtype=float)
    revs = [c for c in ts.columns if c.startswith("rev.") and c.endswith(".pods_ready")]
    for i, c in enumerate(revs):
        name = c[len("rev.") : -len(".pods_ready")]
        axes[0].step(t, ts[c].to_numpy(dtype=float), where="post", label=f"ready {name}",
                     color=plt.get_cmap("tab10")(i % 10))  # fmt: skip
    axes[0].step(t, ts["pods_total"], where="post", color="grey", ls=":", label="pods total")
    axes[0].set_ylabel("pods")
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].step(t, ts["gpus_allocated"], where="post", label="GPUs allocated")
    axes[1].step(t, ts["gpus_capacity"], where="post", ls="--", color="grey", label="capacity")
    axes[1].set_ylabel("GPUs")
    axes[1].legend(fontsize=7, loc="upper left")
    rs = tl.frames.get("request_series")
    if rs is not None and len(rs):
        bt = rs["t_s"].to_numpy(dtype=float)
        axes[2].plot(bt, rs["slo_attainment_frac"], "g.-", label="SLO attainment (per bin)")
        axes[2].axhline(res.plan.slo.attainment_frac, color="k", ls="--", lw=1)
        axes[2].set_ylim(-0.02, 1.05)
        ax2 = axes[2].twinx()
        ax2.plot(bt, rs["throughput_rps"], color="tab:blue", alpha=0.5, label="throughput")
        ax2.set_ylabel("req/s")
    axes[2].set_ylabel("attainment")
    axes[2].set_xlabel("simulated time (s)")
    s = tl.summary
    a, b = s.get("update_started_at_s"), s.get("update_ended_at_s")
    if a is not None:
        for ax in axes:
            ax.axvspan(float(a), float(b) if b is not None else t[-1], color="orange", alpha=0.12)
    rec = res.recommendation or {}
    fig.suptitle(f"Rollout of {rec.get('rollout_config', '')} ({rec.get('rollout_setting', '')})")
    return fig


# ----------------------------------------------------------------------------- the report


def _why(res: PlanResult) -> list[str]:
    r = res.recommendation
    if r is None:
        return ["No candidate meets the SLOs within the search bounds (plan.max_pods)."]
    return list(r.get("why") or [])


def _settings(res: PlanResult) -> pd.DataFrame:
    p = res.plan
    rows = [
        ("load", f"{p.load.rate_rps:g} req/s" if p.load.rate_rps else f"profile, peak {p.load.peak_rps:g} req/s"),  # noqa: E501
        ("SLO", f"{p.slo.attainment_frac:.0%} within TTFT {p.slo.ttft_s:g} s and TPOT {p.slo.tpot_s:g} s"),  # noqa: E501
        ("GPU types", ", ".join(f"{g.type} (${g.price_per_hour:g}/GPU-h)" for g in p.gpus)),
        ("prefill TP / decode TP", f"{p.prefill_tp} / {p.decode_tp}"),
        ("mode", p.mode + (f", shapes {p.shapes}" if p.mode == "replica" else "")),
        ("colocated candidates", f"{p.colocated} (TP {p.colocated_tp})"),
        ("seeds / criterion", f"{p.seeds} / {p.criterion}"),
        ("run", f"traffic from {p.warmup_s:g} s, measured {p.settle_s:g}..{p.duration_s:g} s after, drain {p.drain_s:g} s"),  # noqa: E501
        ("rollout", "-" if p.rollout is None else f"image {p.rollout.image}, maxSurge {p.rollout.max_surge} x maxUnavailable {p.rollout.max_unavailable}, up to {p.rollout.max_extra} extra"),  # noqa: E501
        ("runs", f"{res.n_runs} simulated, {res.n_cached} from cache, {res.wall_s:.1f} s wall"),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["setting", "value"])


ROLLOUT_COLS = ["setting", "pass", "config", "extra_gpus", "surge_gpus", "peak_gpus",
                "cost_per_hour", "duration_s", "attainment_mean", "attainment_ci_low",
                "attainment_ci_high", "capacity_availability_frac", "chosen"]  # fmt: skip
SENS_COLS = ["pd_ratio", "config", "gpus", "cost_per_hour", "attainment_mean",
             "attainment_ci_low", "attainment_ci_high", "ttft_attainment_mean",
             "tpot_attainment_mean", "pass", "recommended"]  # fmt: skip
PROBE_COLS = ["probe", "phase", "config", "rate_rps", "rollout", "gpus", "cost_per_hour",
              "attainment_mean", "attainment_ci_low", "attainment_ci_high", "attainment_min",
              "pass"]  # fmt: skip

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1200px;
color:#222;background:#fff;padding:0 16px}
h1{border-bottom:3px solid #2b6cb0;padding-bottom:6px}
h2{color:#2b6cb0;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0;display:block;overflow-x:auto;
max-width:100%}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#edf2f7} tr.rec td{background:#e6fffa;font-weight:600}
td:first-child,th:first-child{text-align:left}
.headline{font-size:18px;background:#ebf8ff;border-left:6px solid #2b6cb0;padding:10px 14px}
img{max-width:100%;border:1px solid #eee}
"""


def render_html(res: PlanResult) -> str:
    """The report as one HTML string (no external resource)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>stormsim plan: {html.escape(res.scenario.name)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Capacity plan: {html.escape(res.scenario.name)}</h1>",
        "<nav>" + " · ".join(f'<a href="#{i}">{t}</a>' for i, t in SECTIONS) + "</nav>",
    ]
    # recommendation
    parts.append('<section id="recommendation"><h2>Recommendation</h2>')
    parts.append(f'<p class="headline">{html.escape(res.summary_text())}</p><ul>')
    parts += [f"<li>{html.escape(w)}</li>" for w in _why(res)]
    parts.append("</ul>")
    for n in res.notes:
        parts.append(f"<p><strong>note:</strong> {html.escape(n)}</p>")
    parts.append("</section>")
    # candidates
    parts.append('<section id="candidates"><h2>Candidates</h2>')
    parts.append(
        "<p>One row per candidate (GPU type, tensor parallelism, RoleSet shape): its cheapest "
        "configuration meeting the SLOs at the planned load, cost, goodput (highest rate still "
        "meeting the target), attainment with its 95% confidence interval over seeds, and one "
        "rollout with the plan's first setting. <em>dominated</em>: never simulated, its cost "
        "lower bound is not below a configuration already found; <em>infeasible</em>: cannot "
        "meet the SLOs even unloaded.</p>"
    )
    parts.append(_html_table(candidate_table(res), "candidates"))
    parts.append("</section>")
    # curves
    parts.append('<section id="load-attainment"><h2>Load vs SLO attainment</h2>')
    parts.append(f'<img alt="load vs attainment" src="data:image/png;base64,'
                 f'{_png(plot_load_attainment(res))}">')  # fmt: skip
    parts.append("</section>")
    # sensitivity
    parts.append('<section id="pd-sensitivity"><h2>P:D ratio sensitivity</h2>')
    if res.sensitivity is not None and not res.sensitivity.empty:
        parts.append(f'<img alt="P:D sensitivity" src="data:image/png;base64,'
                     f'{_png(plot_sensitivity(res))}">')  # fmt: skip
        parts.append(_html_table(_frame_table(res.sensitivity, SENS_COLS)))
    else:
        parts.append("<p><em>not computed (colocated recommendation or sensitivity off)</em></p>")
    parts.append("</section>")
    # rollout
    parts.append('<section id="rollout"><h2>Rollout</h2>')
    parts.append(
        "<p>The recommended configuration rolled out (image change of every role) under each "
        "setting, with traffic; attainment over the requests arriving in the update window. "
        "Extra GPUs are kept permanently; surge GPUs only during the rollout.</p>"
    )
    parts.append(_html_table(_frame_table(res.rollout_options, ROLLOUT_COLS)))
    parts.append(f'<img alt="rollout timeline" src="data:image/png;base64,'
                 f'{_png(plot_rollout_timeline(res))}">')  # fmt: skip
    parts.append("</section>")
    # search log
    parts.append('<section id="search"><h2>Search log</h2>')
    parts.append("<p>Every evaluation (all seeds of one configuration at one load).</p>")
    parts.append(_html_table(_frame_table(res.probes, PROBE_COLS)))
    parts.append("</section>")
    parts.append('<section id="settings"><h2>Plan settings</h2>')
    parts.append(_html_table(_settings(res)))
    parts.append("</section></body></html>")
    return "\n".join(parts)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~-])")


def md_escape(text: str) -> str:
    """User text as literal Markdown: HTML escaped, Markdown punctuation backslashed, one line."""
    text = html.escape(" ".join(str(text).split()))
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(res: PlanResult) -> str:
    lines = [f"# Capacity plan: {md_escape(res.scenario.name)}", "", "## Recommendation", ""]
    lines.append(f"**{res.summary_text()}**")
    lines.append("")
    lines += [f"- {w}" for w in _why(res)]
    lines += [f"- note: {n}" for n in res.notes]
    lines += ["", "## Candidates", "", _md_table(candidate_table(res))]
    cur = res.curves()
    lines += ["## Load vs SLO attainment", ""]
    lines.append(_md_table(_frame_table(cur, ["config", "rate_rps", "attainment_mean",
                                               "attainment_ci_low", "attainment_ci_high",
                                               "pass"])))  # fmt: skip
    lines += ["## P:D ratio sensitivity", "", _md_table(_frame_table(res.sensitivity, SENS_COLS))]
    lines += ["## Rollout", "", _md_table(_frame_table(res.rollout_options, ROLLOUT_COLS))]
    if res.timeline is not None:
        s = res.timeline.summary
        lines.append(
            f"Timeline of the recommended rollout (seed {res.timeline.seed}): update "
            f"{_fmt(s.get('update_duration_s'))} s, surge GPUs {_fmt(s.get('surge_gpus_peak'))}, "
            f"capacity availability {_fmt(s.get('capacity_availability_frac'))}, window SLO "
            f"attainment {_fmt(s.get('window_slo_attainment_frac'))} (see plan.html)."
        )
        lines.append("")
    lines += ["## Search log", "", _md_table(_frame_table(res.probes, PROBE_COLS))]
    lines += ["## Plan settings", "", _md_table(_settings(res))]
    return "\n".join(lines)


def write_plan_report(res: PlanResult, out: Path) -> None:
    """Write ``plan.html`` and ``plan.md`` into ``out``."""
    text_html = render_html(res)
    text_md = render_markdown(res)

    def w_html(p: Path) -> None:
        p.write_text(text_html, encoding="utf-8")

    def w_md(p: Path) -> None:
        p.write_text(text_md, encoding="utf-8")

    atomic_write(Path(out) / "plan.html", w_html)
    atomic_write(Path(out) / "plan.md", w_md)


if write_plan_report not in PLAN_ARTIFACT_WRITERS:
    PLAN_ARTIFACT_WRITERS.append(write_plan_report)
