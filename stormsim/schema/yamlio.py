"""YAML loading that remembers where every value came from.

``load_documents`` parses a (possibly multi-document) YAML text into plain Python data plus a
``LineMap`` that maps field paths (tuples of keys and list indices) to 1-based line numbers, so
validation errors can say ``spec.replicas (line 12)``.
"""

from __future__ import annotations

import contextlib
import io
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


def _plain(node: Any, path: PathT, lines: dict[PathT, int]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            kpath = (*path, str(key))
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                lines[kpath] = node.lc.key(key)[0] + 1
            out[str(key) if not isinstance(key, str | int | float | bool) else key] = _plain(
                value, kpath, lines
            )
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            ipath = (*path, i)
            with contextlib.suppress(KeyError, TypeError, AttributeError, IndexError):
                lines[ipath] = node.lc.item(i)[0] + 1
            items.append(_plain(value, ipath, lines))
        return items
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def load_documents(text: str, file: str | None = None) -> list[tuple[Any, LineMap]]:
    """Parse every YAML document of ``text``; empty documents are dropped.

    Raises :class:`InputError` with the line of a syntax error.
    """
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
    out = []
    for doc in docs:
        if doc is None:
            continue
        lines: dict[PathT, int] = {}
        data = _plain(doc, (), lines)
        if isinstance(doc, CommentedMap | CommentedSeq):
            lines[()] = doc.lc.line + 1
        out.append((data, LineMap(lines, file)))
    return out


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
