"""Load a scenario file (or mapping) into a validated :class:`Scenario`.

Every problem is reported at once as ``dotted.path (line N): message``; problems inside a
manifest file name that file and its line. Warnings (skipped documents of other kinds, AIBrix
quirks such as int-or-percent strings without ``%``) go through :mod:`warnings` as
:class:`StormsimWarning`.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stormsim.errors import InputError, Problem
from stormsim.spec.aibrix import StormService
from stormsim.spec.scenario import Scenario, event_problems
from stormsim.spec.yamlio import LineMap, PathT, format_path, load_documents

_DISCRIMINATORS = ("dist", "action", "kind")


class StormsimWarning(UserWarning):
    """Something suspicious in the input that AIBrix would accept."""


def _read(path: Path, where: Problem) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            Problem(where.path, f"file not found: {path}", where.line, where.file)
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(Problem(where.path, f"cannot read {path}: {e}", where.line)) from None


def load_manifest(
    path: str | Path, name: str | None = None, *, where: Problem | None = None
) -> tuple[dict[str, Any], LineMap]:
    """Read a kubectl-style YAML file and pick its StormService document.

    Other kinds are skipped with a warning; with several StormServices, ``name`` picks one.
    Returns the raw mapping and its line map (not yet validated).
    """
    where = where or Problem("", "")
    p = Path(path)
    text = _read(p, where)
    docs = load_documents(text, file=str(path))
    found: list[tuple[dict[str, Any], LineMap]] = []
    for data, lines in docs:
        if not isinstance(data, dict):
            raise InputError(
                Problem("", "a manifest document must be a mapping", lines.line_of(()), str(path))
            )
        kind = data.get("kind")
        if kind == "StormService":
            found.append((data, lines))
        else:
            warnings.warn(
                f"{path}: skipping a document of kind {kind!r} (only StormService is simulated)",
                StormsimWarning,
                stacklevel=2,
            )
    if not found:
        raise InputError(Problem(where.path, f"no StormService in {path}", where.line, where.file))
    names = [str((d.get("metadata") or {}).get("name")) for d, _ in found]
    if name is not None:
        for (d, lines), n in zip(found, names, strict=True):
            if n == name:
                return d, lines
        raise InputError(
            Problem(
                where.path,
                f"no StormService named {name!r} in {path} (found: {', '.join(names)})",
                where.line,
                where.file,
            )
        )
    if len(found) > 1:
        raise InputError(
            Problem(
                where.path,
                f"{path} holds several StormServices ({', '.join(names)}); "
                "set service.name to pick one",
                where.line,
                where.file,
            )
        )
    return found[0]


def _clean_errors(err: ValidationError, data: Any) -> list[tuple[PathT, str, str]]:
    """Turn pydantic errors into (data path, message, error type), dropping union noise."""
    out: list[tuple[PathT, str, str]] = []
    for e in err.errors(include_url=False):
        loc = e["loc"]
        node = data
        path: list[str | int] = []
        cleaned: PathT
        drop = False
        for i, seg in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, dict):
                if seg in node:
                    path.append(seg)
                    node = node[seg]
                    continue
                if isinstance(seg, str) and (last or e["type"] == "missing"):
                    if not last:
                        continue  # union tag before the missing field
                    path.append(seg)
                    continue
                # a union member tag: keep the member the input asks for
                tag = str(seg)
                asked = [node.get(k) for k in _DISCRIMINATORS if k in node]
                if tag in ("float", "int", "str", "bool", "none") or (asked and tag not in asked):
                    if not asked and tag in ("float", "int"):
                        continue
                    drop = True
                    break
                continue
            if isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
                path.append(seg)
                node = node[seg]
                continue
            if isinstance(seg, str) and not seg[:1].isalpha():
                continue
            if not isinstance(node, dict | list) and isinstance(seg, str) and not last:
                # scalar given where a model was expected: report the scalar's own error only
                if seg in ("float", "int", "str", "bool"):
                    continue
                drop = True
                break
        if drop:
            continue
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, ") :]
        cleaned = tuple(path)
        out.append((cleaned, msg, e["type"]))
    # a scalar-or-model union fed a mapping reports both; keep the model's errors
    seen: set[tuple[PathT, str]] = set()
    dedup = []
    for p, msg, typ in out:
        if (p, msg) not in seen:
            seen.add((p, msg))
            dedup.append((p, msg, typ))
    return dedup


class _Origins:
    """Where each part of the assembled scenario data came from (scenario or manifest file)."""

    def __init__(self, main: LineMap):
        self.main = main
        self.subs: list[tuple[PathT, LineMap]] = []

    def add(self, prefix: PathT, lines: LineMap) -> None:
        self.subs.append((prefix, lines))

    def problem(self, path: PathT, msg: str) -> Problem:
        for prefix, lines in self.subs:
            n = len(prefix)
            if path[:n] == prefix:
                rest = path[n:]
                return Problem(
                    format_path(rest) or "<manifest>", msg, lines.line_of(rest), lines.file
                )
        return Problem(format_path(path), msg, self.main.line_of(path), self.main.file)


_PERCENT = re.compile(r"^\d+%$")


def _int_or_percent_warnings(m: StormService, origin: str) -> None:
    pairs = [
        (
            "spec.updateStrategy",
            m.spec.update_strategy.max_surge,
            m.spec.update_strategy.max_unavailable,
        )
    ]
    for r in m.spec.template.spec.roles:
        s = r.strategy
        pairs.append((f"role {r.name} updateStrategy", s.max_surge, s.max_unavailable))
    for where, *vals in pairs:
        for v in vals:
            if isinstance(v, str) and not _PERCENT.match(v):
                warnings.warn(
                    f"{origin}: {where} value {v!r} is not an int or 'N%'; AIBrix silently "
                    "treats both maxSurge and maxUnavailable as 0 (spec §1.3), which can stall "
                    "a rollout",
                    StormsimWarning,
                    stacklevel=3,
                )


def load_scenario(
    source: str | Path | dict[str, Any], base_dir: str | Path | None = None
) -> Scenario:
    """Load and validate a scenario from a YAML file path or a mapping.

    Manifest paths are resolved relative to the scenario file (or ``base_dir`` for a mapping,
    default the working directory). Raises :class:`InputError` listing every problem.
    """
    if isinstance(source, dict):
        data: Any = source
        main = LineMap({}, None)
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        text = _read(path, Problem("", ""))
        docs = load_documents(text, file=str(path))
        if len(docs) != 1:
            raise InputError(
                Problem(
                    "",
                    f"a scenario file holds exactly one YAML document, found {len(docs)}",
                    None,
                    str(path),
                )
            )
        data, main = docs[0]
        main.file = None
        base = Path(base_dir) if base_dir is not None else path.parent
    if not isinstance(data, dict):
        raise InputError(Problem("", "a scenario must be a mapping", main.line_of(())))
    data = dict(data)
    origins = _Origins(main)
    problems: list[Problem] = []

    def resolve(prefix: PathT, container: dict[str, Any], key: str, name: str | None) -> None:
        value = container.get(key)
        if isinstance(value, str):
            where = Problem(format_path((*prefix, key)), "", main.line_of((*prefix, key)))
            try:
                raw, lines = load_manifest(base / value, name, where=where)
            except InputError as e:
                problems.extend(e.problems)
                return
            container[key] = raw
            container[f"{key}_path"] = value
            origins.add((*prefix, key), lines)
        elif isinstance(value, dict) and value.get("kind") not in (None, "StormService"):
            problems.append(
                Problem(
                    format_path((*prefix, key, "kind")),
                    f"manifest is a {value.get('kind')!r}, not a StormService",
                    main.line_of((*prefix, key, "kind")),
                )
            )

    svc = data.get("service")
    if isinstance(svc, dict):
        svc = data["service"] = dict(svc)
        name = svc.get("name") if isinstance(svc.get("name"), str) else None
        resolve(("service",), svc, "manifest", name)
    events = data.get("events")
    if isinstance(events, list):
        data["events"] = events = [dict(e) if isinstance(e, dict) else e for e in events]
        for i, ev in enumerate(events):
            if isinstance(ev, dict) and ev.get("action") == "apply":
                sname = svc.get("name") if isinstance(svc, dict) else None
                resolve(("events", i), ev, "manifest", sname if isinstance(sname, str) else None)
    if problems:
        raise InputError(problems)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        found = [origins.problem(path, msg) for path, msg, _ in _clean_errors(e, data)]
        raise InputError(found or [Problem("", str(e))]) from None
    sem = [origins.problem(path, msg) for path, msg in event_problems(scenario)]
    if sem:
        raise InputError(sem)
    _int_or_percent_warnings(scenario.service.manifest, "service.manifest")
    return scenario
