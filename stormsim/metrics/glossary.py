"""The README's KPI glossary, generated from :mod:`stormsim.metrics.catalogue`.

``python -m stormsim.metrics.glossary`` rewrites the Markdown between the marker comments of
``README.md``; ``--check`` exits 1 (writing nothing) when the README is not up to date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stormsim.metrics.catalogue import (
    AUTOSCALING,
    IDENTITY,
    NODES,
    REQUEST_BASE,
    ROLLOUT,
    TABLES,
    WINDOW_PREFIX,
    Kpi,
)
from stormsim.metrics.catalogue import REQUEST as REQUEST_KPIS

BEGIN = (
    "<!-- kpi-glossary:begin (generated from stormsim/metrics/catalogue.py by "
    "`python -m stormsim.metrics.glossary`; do not edit by hand) -->"
)
END = "<!-- kpi-glossary:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"

_SCOPE = {"run": "run", "window": "window"}


def _shown(k: Kpi) -> str:
    return ", ".join(t for t in k.tables if t != "summary") or "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(k: Kpi, name: str | None = None, scope: str | None = None) -> str:
    scope = scope or _SCOPE[k.scope] + (" (run without rollouts)" if k.run_fallback else "")
    return f"| {name or f'`{k.name}`'} | {k.unit} | {scope} | {_cell(k.definition)} | {_shown(k)} |"


def render() -> str:
    """The generated glossary (Markdown, without the markers)."""
    head = "| key | unit | scope | definition | shown in |\n|---|---|---|---|---|"
    lines = [head]
    lines.append(
        f"| {', '.join(f'`{k.name}`' for k in IDENTITY)} | | | identification: "
        f"{'; '.join(k.definition for k in IDENTITY)} | — |"
    )
    lines.extend(_row(k) for k in ROLLOUT)
    nulls = [f"`{k.name}`" for k in ROLLOUT if k.scope == "window" and not k.run_fallback]
    whole = [f"`{k.name}`" for k in ROLLOUT if k.run_fallback]
    out = "\n".join(lines)
    out += (
        "\n\nWithout rollouts, the window KPIs are null ("
        + ", ".join(nulls)
        + "), except "
        + ", ".join(whole)
        + ", which then cover the whole run. With a zero-length window they are the values at "
        "`a`, and surge is 0.\n"
    )
    out += (
        "\n**Request KPIs** (with a `workload`). Scope: the requests that *arrived* in the whole "
        "run (from the first arrival), and, with a `window_` prefix, those that arrived in the "
        "update window (null without an update); so `requests_arrived = requests_completed + "
        "requests_failed + requests_in_flight` holds in each scope. Percentiles are over the "
        "completed requests; the request frames are described in "
        "[`docs/serving.md`](docs/serving.md).\n\n"
    )
    req = [head]
    by_name = {k.name: k for k in REQUEST_KPIS}
    for k in REQUEST_BASE:
        w = by_name[WINDOW_PREFIX + k.name]
        shown = _shown(k)
        if _shown(w) != shown:
            shown = f"{shown}; `window_`: {_shown(w)}"
        req.append(
            f"| `{k.name}`, `{w.name}` | {k.unit} | run, window | {_cell(k.definition)} | {shown} |"
        )
    req.extend(
        _row(k)
        for k in REQUEST_KPIS
        if k not in REQUEST_BASE and k.name not in {WINDOW_PREFIX + b.name for b in REQUEST_BASE}
    )
    out += "\n".join(req)
    out += (
        "\n\n**Node KPIs** (with a `cluster.node_autoscaler`). Scope: the whole run, from 0 to "
        "`sim_end_s`, over every node of the cluster (the `nodes` frame; fixed pools "
        "included).\n\n"
    )
    out += "\n".join([head, *(_row(k) for k in NODES)])
    out += (
        "\n\n**Autoscaling KPIs** (with PodAutoscalers: `autoscalers`, or applied by an event). "
        "Scope: the whole run.\n\n"
    )
    out += "\n".join([head, *(_row(k) for k in AUTOSCALING)])
    out += "\n\nTables (*shown in*): " + "; ".join(
        f"**{t}**: {what}" for t, what in TABLES.items() if t != "summary"
    )
    out += ". Every key is in `summary.json`.\n"
    return out


def splice(text: str, body: str) -> str:
    """``text`` with the part between the markers replaced by ``body``."""
    try:
        i = text.index(BEGIN) + len(BEGIN)
        j = text.index(END, i)
    except ValueError:
        raise ValueError("README.md has no KPI glossary markers") from None
    return text[:i] + "\n" + body + text[j:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    ap.add_argument("--readme", type=Path, default=README)
    args = ap.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = splice(text, render())
    if args.check:
        if new != text:
            print(f"{args.readme}: KPI glossary is stale; run python -m stormsim.metrics.glossary")
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
        print(f"updated the KPI glossary in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
