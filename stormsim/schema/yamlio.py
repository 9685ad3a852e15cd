"""YAML loading that remembers where every value came from.

``load_documents`` parses a (possibly multi-document) YAML text into plain Python data plus a
``LineMap`` that maps field paths (tuples of keys and list indices) to 1-based line numbers, so
validation errors can say ``spec.replicas (line 12)``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from stormsim.errors import InputError, Problem

PathT = tuple[str | int, ...]


@dataclass
class LineMap:
    """Field path -> 1-based line, for one YAML document."""

    lines: dict[PathT, int] = field(default_factory=dict)
    file: str | None = None

    def line_of(self, path: Iterable[str | int]) -> int | None:
        """Line of the longest prefix of ``path`` that is known."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def sub(self, prefix: PathT) -> LineMap:
        """The lines of the sub-tree at ``prefix``, re-rooted."""
        n = len(prefix)
        out = {k[n:]: v for k, v in self.lines.items() if k[:n] == prefix}
        return LineMap(out, self.file)


MAX_YAML_BYTES = 8 * 2**20
"""Largest scenario or manifest file read (bytes)."""
MAX_YAML_NODES = 200_000
"""Most values one document may expand to (YAML aliases included): bounds "billion laughs"."""
MAX_YAML_DEPTH = 64
"""Deepest nesting of mappings and lists."""


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def _problem(file: str | None, path: PathT, lines: dict[PathT, int], msg: str) -> InputError:
    p = path
    while p and p not in lines:
        p = p[:-1]
    where = format_path(path) or (file or "")
    return InputError(Problem(where, msg, lines.get(p), file if format_path(path) else None))


def _plain(
    node: Any,
    path: PathT,
    lines: dict[PathT, int],
    budget: _Budget | None = None,
    file: str | None = None,
) -> Any:
    budget = budget if budget is not None else _Budget()
    budget.nodes += 1
    if budget.nodes > MAX_YAML_NODES:
        raise _problem(
            file, path, lines, f"the document expands to more than {MAX_YAML_NODES:,} values "
            "(YAML aliases?)"
        )  # fmt: skip
    if len(path) > MAX_YAML_DEPTH:
        raise _problem(file, path, lines, f"nested deeper than {MAX_YAML_DEPTH} levels")
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, CommentedMap | CommentedSeq) and tag and not tag.startswith("tag:yaml"):
        raise _problem(file, path, lines, f"YAML tag {tag} is not supported")
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            kpath = (*path, str(key))
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                lines[kpath] = node.lc.key(key)[0] + 1
            plain_key = key if isinstance(key, str | int | float | bool) else str(key)
            out[plain_key] = _plain(value, kpath, lines, budget, file)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            ipath = (*path, i)
            with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                lines[ipath] = node.lc.item(i)[0] + 1
            items.append(_plain(value, ipath, lines, budget, file))
        return items
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if node is None:
        return None
    if isinstance(node, datetime.date):
        return node.isoformat()
    shown = f"YAML tag {tag}" if tag else f"a YAML {type(node).__name__} value"
    raise _problem(file, path, lines, f"{shown} is not supported")


def load_documents(text: str, file: str | None = None) -> list[tuple[Any, LineMap]]:
    """Parse every YAML document of ``text``; empty documents are dropped.

    Raises :class:`InputError` with the line of a syntax error; bounds alias expansion
    (:data:`MAX_YAML_NODES`) and nesting (:data:`MAX_YAML_DEPTH`); rejects tags.
    """
    bad = _CONTROL.search(text)
    if bad is not None:
        at = text.count("\n", 0, bad.start()) + 1
        raise InputError(Problem(file or "", f"control character {bad.group()!r} in the text", at))
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        docs = list(yaml.load_all(io.StringIO(text)))
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        if line is not None:  # an error at the end of the stream: the last line
            line = max(1, min(line, len(text.splitlines())))
        msg = (e.problem or e.context or "invalid YAML").strip()
        raise InputError(Problem(file or "", f"malformed YAML: {msg}", line)) from None
    except YAMLError as e:
        raise InputError(Problem(file or "", f"malformed YAML: {e}")) from None
    except RecursionError:
        raise InputError(
            Problem(file or "", f"malformed YAML: nested deeper than {MAX_YAML_DEPTH} levels")
        ) from None
    out = []
    starts: list[int | None] | None = None
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        lines: dict[PathT, int] = {}
        if isinstance(doc, CommentedMap | CommentedSeq):
            lines[()] = doc.lc.line + 1
        else:  # a scalar document carries no position: compose the text again for it (rare)
            starts = starts if starts is not None else _document_lines(text)
            line = starts[i] if i < len(starts) else None
            if line is not None:
                lines[()] = line
        data = _plain(doc, (), lines, _Budget(), file)
        out.append((data, LineMap(lines, file)))
    return out


def _document_lines(text: str) -> list[int | None]:
    """The 1-based line where each document of ``text`` starts (its root value)."""
    try:
        nodes = list(YAML(typ="rt").compose_all(io.StringIO(text)))
    except (YAMLError, RecursionError):  # pragma: no cover - it was just loaded
        return []
    return [n.start_mark.line + 1 if n is not None else None for n in nodes]


def line_of_byte(data: bytes, offset: int) -> int:
    """The 1-based line of byte ``offset`` of ``data``."""
    return data.count(b"\n", 0, offset) + 1


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def dump_yaml(data: Any) -> str:
    """Dump plain data as block-style YAML, keys in insertion order."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def format_path(path: Iterable[str | int]) -> str:
    """``("events", 2, "role")`` -> ``events[2].role``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
