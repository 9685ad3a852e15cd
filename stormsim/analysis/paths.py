"""Dotted paths into scenario data, and applying overrides to it.

A path is keys separated by dots; a list element is selected with ``[N]`` (index) or
``[NAME]`` (the element whose ``name``, or else ``metadata.name``, is NAME), e.g.
``service.manifest.spec.template.spec.roles[prefill].updateStrategy.maxSurge``. Missing mapping
keys along the way are created (the scenario validation afterwards rejects unknown fields).
Values given as text (CLI) are read as YAML scalars: ``1`` is an int, ``25%`` and ``Parallel``
strings, ``null`` is None, ``"1"`` (quoted) the string 1.
"""

from __future__ import annotations

import re
from typing import Any

from stormsim.errors import InputError, Problem

Segment = str | int | tuple[str]
"""A mapping key, a list index, or ``(name,)``: the list element with that ``name``."""

_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\[\]]+)\]|(\.)")
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")
STUDY_SECTIONS = ("compare", "sweep")


def parse_path(path: str) -> list[Segment]:
    """``a.b[0].c[prefill]`` -> ``["a", "b", 0, "c", ("prefill",)]``. Raises InputError."""
    if not path or path.startswith(".") or path.endswith(".") or ".." in path:
        raise InputError(Problem(path or "<empty>", "not a dotted path"))
    out: list[Segment] = []
    pos = 0
    expect_key = True
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None:
            raise InputError(Problem(path, f"cannot parse the path at {path[pos:]!r}"))
        key, idx, dot = m.groups()
        if dot:
            expect_key = True
        elif key is not None:
            if not expect_key:
                raise InputError(Problem(path, f"missing '.' before {key!r}"))
            out.append(key)
            expect_key = False
        else:
            idx = idx.strip()
            out.append(int(idx) if _INT.match(idx) else (idx,))
            expect_key = False
        pos = m.end()
    if not out or not isinstance(out[0], str):
        raise InputError(Problem(path, "a path starts with a field name"))
    if out[0] in STUDY_SECTIONS:
        raise InputError(Problem(path, f"the {out[0]!r} section cannot be overridden"))
    return out


def parse_value(text: str) -> Any:
    """A CLI value as a YAML scalar: int, float, bool, null, or string (quotes keep a string)."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    if _INT.match(t):
        return int(t)
    if _FLOAT.match(t):
        return float(t)
    low = t.lower()
    if low in ("null", "~", "none"):
        return None
    if low == "true":
        return True
    if low == "false":
        return False
    return t


def _describe(seg: Segment) -> str:
    if isinstance(seg, tuple):
        return f"[{seg[0]}]"
    if isinstance(seg, int):
        return f"[{seg}]"
    return seg


def _element_name(e: Any) -> Any:
    """A list element's name: its ``name``, else its ``metadata.name`` (Kubernetes objects
    such as PodAutoscalers)."""
    if not isinstance(e, dict):
        return None
    if "name" in e:
        return e["name"]
    meta = e.get("metadata")
    return meta.get("name") if isinstance(meta, dict) else None


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` to ``value`` in plain scenario data, in place. Raises InputError when the
    path cannot exist (indexing a mapping, a key into a scalar, no such list element)."""
    segs = parse_path(path)
    node: Any = data
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        where = "".join(
            ("." if isinstance(s, str) and j else "") + _describe(s) for j, s in enumerate(segs[:i])
        )
        if isinstance(seg, str):
            if not isinstance(node, dict):
                kind = "a list" if isinstance(node, list) else f"a value ({node!r})"
                raise InputError(Problem(path, f"{where or '<root>'} is {kind}, not a mapping"))
            if last:
                node[seg] = value
                return
            if node.get(seg) is None:
                node[seg] = {}
            node = node[seg]
            continue
        if not isinstance(node, list):
            raise InputError(Problem(path, f"{where} is not a list"))
        if isinstance(seg, int):
            if not -len(node) <= seg < len(node):
                raise InputError(Problem(path, f"{where} has {len(node)} elements, no index {seg}"))
            idx = seg
        else:
            names = [_element_name(e) for e in node]
            if seg[0] not in names:
                shown = ", ".join(str(n) for n in names if n is not None) or "none"
                raise InputError(
                    Problem(path, f"{where} has no element named {seg[0]!r} (names: {shown})")
                )
            idx = names.index(seg[0])
        if last:
            node[idx] = value
            return
        node = node[idx]


def short_labels(paths: list[str]) -> dict[str, str]:
    """The shortest unique dotted suffix of each path (``...updateStrategy.maxSurge`` ->
    ``maxSurge``) for labels and legends."""
    parts = {p: re.split(r"\.(?![^\[]*\])", p) for p in paths}
    out: dict[str, str] = {}
    for p in paths:
        for n in range(1, len(parts[p]) + 1):
            cand = ".".join(parts[p][-n:])
            clash = [q for q in paths if q != p and ".".join(parts[q][-n:]) == cand]
            if not clash:
                out[p] = cand
                break
        else:  # pragma: no cover  (identical paths cannot both be keys)
            out[p] = p
    return out
