"""Readable revision names for legends: ``rev 2 (v0.11.0)`` instead of ``llm-7c5fdc``.

The image of a revision is the one the scenario gave it: revision 1 has the initial
manifest's image; a revision created by a ``set_image`` has that image, by an ``apply`` the
applied manifest's, by a ``rollback`` its target revision's. The scenario event that created a
revision is the last one at or before the revision's creation time.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stormsim.schema.aibrix import StormService
from stormsim.schema.scenario import Apply, Rollback, Scenario, SetImage


def image_tag(image: str) -> str:
    """``vllm/vllm-openai:v0.11.0`` -> ``v0.11.0``; an image without a tag keeps its name."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else last


def _manifest_image(m: StormService) -> str | None:
    for role in m.spec.template.spec.roles:
        for c in role.template.containers:
            image = c.get("image")
            if image:
                return str(image)
    return None


def revision_labels(revisions: pd.DataFrame, scenario: Scenario | None) -> dict[str, str]:
    """Revision name -> ``rev N (tag)`` (``rev N`` when the image is unknown)."""
    if not len(revisions):
        return {}
    revs = revisions.sort_values("revision")
    tags: dict[int, str | None] = {}
    events: list[Any] = sorted(scenario.events, key=lambda e: e.at_s) if scenario else []
    first = _manifest_image(scenario.service.manifest) if scenario else None
    out: dict[str, str] = {}
    for _, r in revs.iterrows():
        n = int(r["revision"]) if pd.notna(r["revision"]) else None
        if n is None:
            continue
        t = float(r["created_at_s"])
        cause = [e for e in events if e.at_s <= t + 1e-9]
        ev = cause[-1] if cause else None
        if scenario is None:
            tag = None
        elif ev is None or n == 1:
            tag = image_tag(first) if first else None
        elif isinstance(ev, SetImage):
            tag = image_tag(ev.image) if ev.role is None else f"{ev.role} {image_tag(ev.image)}"
        elif isinstance(ev, Apply):
            img = _manifest_image(ev.manifest) if ev.manifest is not None else None
            tag = image_tag(img) if img else None
        elif isinstance(ev, Rollback):
            tag = tags.get(ev.to_revision)
        else:  # a role scale or another template change: the image of the revision before
            tag = tags.get(max(tags)) if tags else None
        tags[n] = tag
        out[str(r["name"])] = f"rev {n} ({tag})" if tag else f"rev {n}"
    return out
