"""The capacity-planning report: ``plan.html`` (self-contained: plots embedded as base64 PNG,
no script, no network) and ``plan.md`` (the same text and tables, no plots).

Sections (HTML ``id`` in brackets): the recommendation and why (``recommendation``), every
failed run with its error (``failures``), the
candidates table (``candidates``), load vs attainment curves (``load-attainment``), P:D ratio
sensitivity (``pd-sensitivity``), the rollout settings and the rollout timeline of the
recommended configuration (``rollout``), the search log (``search``) and the plan's settings
(``settings``).
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stormsim.analysis.plan import PlanResult, duration_text
from stormsim.analysis.study import atomic_write
from stormsim.report.mpltext import plain

SECTIONS = (
    ("recommendation", "Recommendation"),
    ("failures", "Failed runs"),
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
    ("goodput", "goodput req/s (per GPU)"),
    ("attainment", "attainment [95% CI]"),
    ("ttft_p90_s", "TTFT p90"),
    ("tpot_p90_s", "TPOT p90"),
    ("reason", "note"),
)
CANDIDATE_ROLLOUT_COLUMNS = (
    ("candidate", "candidate"),
    ("rollout_setting", "setting"),
    ("rollout_duration_s", "rollout time"),
    ("rollout_surge_gpus", "surge GPUs"),
    ("rollout_attainment", "window attainment [95% CI]"),
    ("rollout_pass", "meets SLOs"),
)


# ----------------------------------------------------------------------------- formatting


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def _fmt(v: Any, digits: int = 3) -> str:
    """A cell: ``-`` for missing, yes/no, numbers without exponents."""
    if _missing(v):
        return "-"
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        x = float(v)
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}" if abs(int(v)) >= 10000 else str(int(v))
    return str(v)


def _cell(key: str, v: Any) -> str:
    """A cell by column: seconds in human units, fractions to 3 decimals, money to cents."""
    if _missing(v):
        return "-"
    if isinstance(v, bool | np.bool_):
        return _fmt(v)
    if key.endswith("_s") and isinstance(v, int | float | np.integer | np.floating):
        return duration_text(float(v))
    if ("frac" in key or "attainment" in key) and isinstance(v, float | np.floating):
        return f"{float(v):.3f}"
    if "cost" in key and isinstance(v, int | float | np.integer | np.floating):
        return f"{float(v):.2f}"
    return _fmt(v)


def _ci(m: Any, lo: Any, hi: Any) -> str:
    if _missing(m):
        return "-"
    if _missing(lo) or _missing(hi):
        return f"{m:.3f}"
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def _row_cells(r: Any, columns: tuple[tuple[str, str], ...]) -> dict[str, str]:
    row = {}
    for key, head in columns:
        if key in ("attainment", "rollout_attainment"):
            pre = "" if key == "attainment" else "rollout_"
            row[head] = _ci(r.get(f"{pre}attainment_mean"), r.get(f"{pre}attainment_ci_low"),
                            r.get(f"{pre}attainment_ci_high"))  # fmt: skip
        elif key == "goodput":
            g, per = r.get("goodput_rps"), r.get("goodput_per_gpu")
            row[head] = "-" if _missing(g) else f"{g:.3g} ({per:.3g})"
            if not _missing(g) and bool(r.get("goodput_capped")):
                row[head] = ">= " + row[head]
        else:
            row[head] = _cell(key, r.get(key))
    return row


STATUS_ORDER = {"recommended": 0, "feasible": 1, "failed": 2, "no-fit": 3, "dominated": 4,
                "infeasible": 5, "not searched": 6}  # fmt: skip


def _sorted_candidates(res: PlanResult) -> pd.DataFrame:
    c = res.candidates.copy()
    c["_o"] = c["status"].map(STATUS_ORDER).fillna(9)
    sort = ["_o", "cost_per_hour"] if "cost_per_hour" in c else ["_o"]
    return c.sort_values(sort)


def candidate_table(res: PlanResult) -> pd.DataFrame:
    """The candidates as display strings, in report order (recommended first)."""
    if res.candidates.empty:
        return pd.DataFrame(columns=[h for _, h in CANDIDATE_COLUMNS])
    c = _sorted_candidates(res)
    return pd.DataFrame([_row_cells(r, CANDIDATE_COLUMNS) for _, r in c.iterrows()])


def candidate_rollout_table(res: PlanResult) -> pd.DataFrame:
    """One rollout (the plan's first setting) of each candidate that was rolled out."""
    c = res.candidates
    if c.empty or "rollout_setting" not in c:
        return pd.DataFrame()
    c = _sorted_candidates(res)
    c = c[c["rollout_setting"].notna()]
    return pd.DataFrame([_row_cells(r, CANDIDATE_ROLLOUT_COLUMNS) for _, r in c.iterrows()])


def _frame_table(df: pd.DataFrame, cols: list[str] | None = None, ci: bool = True) -> pd.DataFrame:
    """Display strings of ``df``'s ``cols``; with ``ci``, ``attainment_mean`` and its interval
    become one column."""
    if df is None or df.empty:
        return pd.DataFrame()
    cols = [c for c in (cols or list(df.columns)) if c in df.columns]
    out: dict[str, list[str]] = {}
    for c in cols:
        if ci and c in ("attainment_ci_low", "attainment_ci_high"):
            continue
        if ci and c == "attainment_mean" and "attainment_ci_low" in df:
            out["attainment [95% CI]"] = [
                _ci(m, lo, hi)
                for m, lo, hi in zip(df["attainment_mean"], df["attainment_ci_low"],
                                     df["attainment_ci_high"], strict=True)
            ]  # fmt: skip
            continue
        out[c.replace("_", " ")] = [_cell(c, v) for v in df[c]]
    return pd.DataFrame(out)


def _html_table(df: pd.DataFrame, cls: str = "") -> str:
    if df.empty:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        tr_cls = ' class="rec"' if str(r.iloc[1] if len(r) > 1 else "") == "recommended" else ""
        tr_cls = ' class="failed"' if str(r.iloc[1] if len(r) > 1 else "") == "failed" else tr_cls
        body.append(
            f"<tr{tr_cls}>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
        )
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(body)
        + "</tbody></table></div>"
    )


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_none_\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "/") for v in r) + " |")
    return "\n".join(lines) + "\n"


def _seeds(res: PlanResult) -> str:
    return ", ".join(str(s) for s in res.plan.seeds)


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
            ax.plot(x, m, "o-", color=color, label=plain(g["config"].iloc[0]))
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
    ax.set_title(plain(f"Load vs SLO attainment (mean, band: 95% CI over seeds {_seeds(res)})"))
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
            plain(f"{r['pd_ratio']}{' *' if r['recommended'] else ''}\n{int(r['gpus'])} GPUs")
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
    ax.set_title(plain(f"P:D split at the recommended pod count (seeds {_seeds(res)})"))
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
    scale = 60.0 if end > 600 else 1.0  # minutes for long runs
    t = ts["t_s"].to_numpy(dtype=float) / scale
    revs = [c for c in ts.columns if c.startswith("rev.") and c.endswith(".pods_ready")]
    for i, c in enumerate(revs):
        name = c[len("rev.") : -len(".pods_ready")]
        axes[0].step(t, ts[c].to_numpy(dtype=float), where="post", label=plain(f"ready {name}"),
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
        bt = rs["t_s"].to_numpy(dtype=float) / scale
        axes[2].plot(bt, rs["slo_attainment_frac"], "g.-", label="SLO attainment (per bin)")
        axes[2].axhline(res.plan.slo.attainment_frac, color="k", ls="--", lw=1)
        axes[2].set_ylim(-0.02, 1.05)
        ax2 = axes[2].twinx()
        ax2.plot(bt, rs["throughput_rps"], color="tab:blue", alpha=0.5, label="throughput")
        ax2.set_ylabel("req/s")
    axes[2].set_ylabel("attainment")
    axes[2].set_xlabel("simulated time (min)" if scale > 1 else "simulated time (s)")
    s = tl.summary
    a, b = s.get("update_started_at_s"), s.get("update_ended_at_s")
    if a is not None:
        for ax in axes:
            ax.axvspan(float(a) / scale, float(b) / scale if b is not None else t[-1],
                       color="orange", alpha=0.12)  # fmt: skip
    rec = res.recommendation
    ch = rec.rollout if rec is not None else None
    what = f"{ch.config} ({ch.setting})" if ch is not None else ""
    fig.suptitle(plain(f"Rollout of {what}, seed {tl.seed}"))
    return fig


# ----------------------------------------------------------------------------- the report


def _why(res: PlanResult) -> list[str]:
    if res.stopped:
        return ["The plan stopped on a failed run (see Failed runs); no recommendation."]
    r = res.recommendation
    if r is None:
        return ["No candidate meets the SLOs within the search bounds (plan.max_pods)."]
    return list(r.why)


def _timeout_text(p: Any) -> str:
    if p.rollout is None:
        return "-"
    t = "estimated" if p.rollout.timeout_s is None else duration_text(p.rollout.timeout_s)
    return (
        f"image {p.rollout.image}, maxSurge {p.rollout.max_surge} x maxUnavailable "
        f"{p.rollout.max_unavailable}, up to {p.rollout.max_extra} extra, timeout {t}"
    )


def _settings(res: PlanResult) -> pd.DataFrame:
    p = res.plan
    load = (f"{p.load.rate_rps:g} req/s" if p.load.rate_rps
            else f"profile, peak {p.load.peak_rps:g} req/s")  # fmt: skip
    rows = [
        ("load", load),
        ("SLO", f"{p.slo.attainment_frac:.0%} within TTFT {p.slo.ttft_s:g} s and TPOT "
                f"{p.slo.tpot_s:g} s"),
        ("requirements", ", ".join(res.requirements) or "none besides the SLO"),
        ("GPU types", ", ".join(f"{g.type} (${g.price_per_hour:g}/GPU-h)" for g in p.gpus)),
        ("prefill TP / decode TP", f"{p.prefill_tp} / {p.decode_tp}"),
        ("mode", p.mode + (f", shapes {p.shapes}" if p.mode == "replica" else "")),
        ("colocated candidates", f"{p.colocated} (TP {p.colocated_tp})"),
        ("seeds / criterion", f"{_seeds(res)} / {p.criterion}"),
        ("run", f"fleet Ready at 0 s, traffic from {duration_text(p.warmup_s)}, measured "
                f"{duration_text(p.settle_s)} to {duration_text(p.duration_s)} after, drain "
                f"{duration_text(p.drain_s)}"),
        ("rollout", _timeout_text(p)),
        ("runs", f"{res.n_runs} simulated ({res.n_failed} failed), {res.n_cached} from cache, "
                 f"{duration_text(res.wall_s)} wall"),
        ("on a failed run", "keep going" if res.keep_going else "stop"),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["setting", "value"])


def failures_table(res: PlanResult) -> pd.DataFrame:
    """Every failed run: the evaluation, the seed and the error with its cause."""
    f = res.failed_runs()
    if f.empty:
        return pd.DataFrame()
    cols = [c for c in ("probe", "phase", "config", "seed", "error") if c in f]
    return f[cols].astype(str).reset_index(drop=True)


ROLLOUT_COLS = ["setting", "status", "config", "extra_gpus", "surge_gpus", "peak_gpus",
                "cost_per_hour", "duration_s", "attainment_mean", "attainment_ci_low",
                "attainment_ci_high", "capacity_availability_frac", "note", "chosen"]  # fmt: skip
SENS_COLS = ["pd_ratio", "config", "gpus", "cost_per_hour", "attainment_mean",
             "attainment_ci_low", "attainment_ci_high", "ttft_attainment_mean",
             "tpot_attainment_mean", "pass", "recommended"]  # fmt: skip
PROBE_COLS = ["probe", "phase", "config", "rate_rps", "rollout", "gpus", "cost_per_hour",
              "attainment_mean", "attainment_ci_low", "attainment_ci_high", "attainment_min",
              "status", "verdict"]  # fmt: skip

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:16px auto;max-width:1240px;
color:#222;background:#fff;padding:0 12px}
h1{border-bottom:3px solid #2b6cb0;padding-bottom:6px;font-size:24px}
h2{color:#2b6cb0;margin-top:28px;border-bottom:1px solid #ddd}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ccc;padding:2px 5px;text-align:right;vertical-align:top}
th{background:#edf2f7;white-space:normal}
td{white-space:nowrap}
td:last-child{white-space:normal;max-width:28em;text-align:left}
tr.rec td{background:#e6fffa;font-weight:600} tr.failed td{background:#fff5f5}
td:first-child,th:first-child{text-align:left}
.headline{font-size:17px;background:#ebf8ff;border-left:6px solid #2b6cb0;padding:10px 14px}
.error{background:#fff5f5;border-left:6px solid #c53030;padding:8px 12px}
img{max-width:100%;border:1px solid #eee}
summary{cursor:pointer;color:#2b6cb0}
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
    cls = "headline error" if res.stopped else "headline"
    parts.append('<section id="recommendation"><h2>Recommendation</h2>')
    parts.append(f'<p class="{cls}">{html.escape(res.summary_text())}</p><ul>')
    parts += [f"<li>{html.escape(w)}</li>" for w in _why(res)]
    parts.append("</ul>")
    for n in res.notes:
        parts.append(f"<p><strong>note:</strong> {html.escape(n)}</p>")
    parts.append("</section>")
    parts.append('<section id="failures"><h2>Failed runs</h2>')
    if res.failures:
        parts.append(
            f'<p class="error">{len(res.failures)} evaluation(s) failed: a failed run is an '
            "error, never an SLO miss. "
            + ("The plan went on (keep going): the candidates concerned are marked failed."
               if res.keep_going else "The plan stopped at the first.") + "</p><ul>"
        )  # fmt: skip
        parts += [f"<li>{html.escape(f)}</li>" for f in res.failures]
        parts.append("</ul>")
        parts.append(_html_table(failures_table(res)))
    else:
        parts.append("<p>none: every run finished and was measured.</p>")
    parts.append("</section>")
    parts.append('<section id="candidates"><h2>Candidates</h2>')
    parts.append(
        "<p>One row per candidate (GPU type, tensor parallelism, RoleSet shape): its cheapest "
        "configuration meeting the SLOs at the planned load, cost, goodput (highest rate still "
        f"meeting the target), attainment with its 95% confidence interval over seeds "
        f"{html.escape(_seeds(res))}. <em>dominated</em>: never simulated, its cost "
        "lower bound is not below a configuration already found; <em>infeasible</em>: cannot "
        "meet the SLOs even unloaded; <em>failed</em>: a run failed (see Failed runs).</p>"
    )
    parts.append(_html_table(candidate_table(res), "candidates"))
    ro = candidate_rollout_table(res)
    if not ro.empty:
        parts.append("<p>Each feasible candidate rolled out once with the plan's first "
                     "setting (no extra capacity):</p>")  # fmt: skip
        parts.append(_html_table(ro))
    parts.append("</section>")
    parts.append('<section id="load-attainment"><h2>Load vs SLO attainment</h2>')
    parts.append(f'<img alt="load vs attainment" src="data:image/png;base64,'
                 f'{_png(plot_load_attainment(res))}">')  # fmt: skip
    parts.append("</section>")
    parts.append('<section id="pd-sensitivity"><h2>P:D ratio sensitivity</h2>')
    if res.sensitivity is not None and not res.sensitivity.empty:
        parts.append(f'<img alt="P:D sensitivity" src="data:image/png;base64,'
                     f'{_png(plot_sensitivity(res))}">')  # fmt: skip
        parts.append(_html_table(_frame_table(res.sensitivity, SENS_COLS)))
    else:
        parts.append("<p><em>not computed (colocated recommendation or sensitivity off)</em></p>")
    parts.append("</section>")
    parts.append('<section id="rollout"><h2>Rollout</h2>')
    parts.append(
        "<p>The recommended configuration rolled out (image change of every role) under each "
        "setting, with traffic; attainment over the requests arriving in the update window "
        f"(seeds {html.escape(_seeds(res))}). Extra GPUs are kept permanently; surge GPUs only "
        "during the rollout.</p>"
    )
    parts.append(_html_table(_frame_table(res.rollout_options, ROLLOUT_COLS)))
    if res.timeline is not None:
        parts.append(f"<p>Timeline of the chosen rollout, seed {res.timeline.seed}:</p>")
    parts.append(f'<img alt="rollout timeline" src="data:image/png;base64,'
                 f'{_png(plot_rollout_timeline(res))}">')  # fmt: skip
    parts.append("</section>")
    parts.append('<section id="search"><h2>Search log</h2>')
    n_probes = len(res.probes)
    parts.append(f"<details><summary>{n_probes} evaluations (each: all seeds of one "
                 "configuration at one load); click to show</summary>")  # fmt: skip
    parts.append(_html_table(_frame_table(res.probes, PROBE_COLS)))
    parts.append("</details></section>")
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
    lines += ["", "## Failed runs", ""]
    if res.failures:
        lines += [f"- {f}" for f in res.failures]
        lines += ["", _md_table(failures_table(res))]
    else:
        lines += ["none: every run finished and was measured.", ""]
    lines += ["## Candidates", "", _md_table(candidate_table(res))]
    ro = candidate_rollout_table(res)
    if not ro.empty:
        lines += ["First rollout setting per candidate:", "", _md_table(ro)]
    cur = res.curves()
    lines += ["## Load vs SLO attainment", "", f"Seeds {_seeds(res)}.", ""]
    lines.append(_md_table(_frame_table(cur, ["config", "rate_rps", "attainment_mean",
                                               "attainment_ci_low", "attainment_ci_high",
                                               "pass"])))  # fmt: skip
    lines += ["## P:D ratio sensitivity", "", _md_table(_frame_table(res.sensitivity, SENS_COLS))]
    lines += ["## Rollout", "", _md_table(_frame_table(res.rollout_options, ROLLOUT_COLS))]
    if res.timeline is not None:
        s = res.timeline.summary
        lines.append(
            f"Timeline of the recommended rollout (seed {res.timeline.seed}): update "
            f"{duration_text(s.get('update_duration_s'))}, surge GPUs "
            f"{_fmt(s.get('surge_gpus_peak'))}, capacity availability "
            f"{_cell('frac', s.get('capacity_availability_frac'))}, window SLO attainment "
            f"{_cell('frac', s.get('window_slo_attainment_frac'))} (see plan.html)."
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
