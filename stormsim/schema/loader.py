"""Load a scenario file (or mapping) into a validated :class:`Scenario`.

Every problem is reported at once as ``dotted.path (line N): message``; problems inside a
manifest file name that file and its line. Warnings (skipped documents of other kinds, AIBrix
quirks such as int-or-percent strings without ``%``) go through :mod:`warnings` as
:class:`StormsimWarning`.
"""

from __future__ import annotations

import difflib
import functools
import re
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from stormsim.errors import InputError, Problem
from stormsim.schema.aibrix import StormService
from stormsim.schema.autoscaler import (
    ANN_STORM_SERVICE_MODE,
    PA_KIND,
    POD_REGISTRY_KEYS,
    PRUNED_SPEC_FIELDS,
    PodAutoscaler,
    annotation_problems,
)
from stormsim.schema.deprecated import migrate
from stormsim.schema.intstr import percent
from stormsim.schema.parallelism import parallel_problems
from stormsim.schema.scenario import (
    Apply,
    Scale,
    Scenario,
    autoscaler_problems,
    event_problems,
)
from stormsim.schema.serving import resolve_trace_path
from stormsim.schema.sizes import size_problems
from stormsim.schema.yamlio import (
    MAX_YAML_BYTES,
    LineMap,
    PathT,
    format_path,
    line_of_byte,
    load_documents,
)


class StormsimWarning(UserWarning):
    """Something suspicious in the input that AIBrix would accept."""


def _read(path: Path, where: Problem) -> str:
    """Read a UTF-8 file; a problem is reported at ``where`` (the field naming the file), or
    at the file itself when ``where`` has no path."""
    line = where.line
    file = where.file
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            msg = "not a regular file (a FIFO, socket or device)"
        elif st.st_size > MAX_YAML_BYTES:
            msg = f"larger than {MAX_YAML_BYTES // 2**20} MiB"
        else:
            with path.open("rb") as fh:
                data = fh.read(MAX_YAML_BYTES + 1)
            if len(data) > MAX_YAML_BYTES:
                msg = f"larger than {MAX_YAML_BYTES // 2**20} MiB"
            else:
                return data.decode("utf-8")
    except FileNotFoundError:
        msg = "file not found"
    except IsADirectoryError:
        msg = "is a directory, not a file"
    except UnicodeDecodeError as e:  # where in the file: its line, and the byte
        at = line_of_byte(data, e.start)
        msg = f"not UTF-8 text ({e.reason} at byte {e.start})"
        line, file = at, str(path)
    except OSError as e:
        msg = f"cannot read: {e.strerror or e}"
    if where.path:
        raise InputError(Problem(where.path, f"{msg}: {path}", line, file))
    raise InputError(Problem(str(path), msg, line if file else None))


@dataclass
class ManifestFile:
    """The documents of a kubectl-style YAML file that stormsim reads: StormServices and
    PodAutoscalers (raw mappings with their line maps), and how many documents of other
    kinds were skipped."""

    path: str
    stormservices: list[tuple[dict[str, Any], LineMap]]
    autoscalers: list[tuple[dict[str, Any], LineMap]]
    skipped: dict[str, int]

    def warn_skipped(self) -> None:
        if self.skipped:
            kinds = ", ".join(
                f"{n} {k} document{'s' if n > 1 else ''}" for k, n in self.skipped.items()
            )
            warnings.warn(
                f"{self.path}: skipping {kinds} (only StormService and PodAutoscaler are "
                "simulated)",
                StormsimWarning,
                stacklevel=3,
            )


def read_manifest_file(path: str | Path, *, where: Problem | None = None) -> ManifestFile:
    """Read a (multi-document) manifest file and sort its documents by kind."""
    where = where or Problem("", "")
    text = _read(Path(path), where)
    out = ManifestFile(str(path), [], [], {})
    for data, lines in load_documents(text, file=str(path)):
        if not isinstance(data, dict):
            raise InputError(
                Problem(
                    str(path),
                    f"a manifest document must be a mapping, got {_got(data)}",
                    lines.line_of(()),
                )
            )
        kind = data.get("kind")
        if kind == "StormService":
            out.stormservices.append((data, lines))
        elif kind == PA_KIND:
            out.autoscalers.append((data, lines))
        else:
            label = str(kind) if kind is not None else "<no kind>"
            out.skipped[label] = out.skipped.get(label, 0) + 1
        if kind in ("StormService", PA_KIND) and not isinstance(data.get("metadata"), dict | None):
            raise InputError(
                Problem("metadata", "must be a mapping", lines.line_of(("metadata",)), str(path))
            )
    return out


def _pick_stormservice(
    mf: ManifestFile, name: str | None, where: Problem
) -> tuple[dict[str, Any], LineMap]:
    found = mf.stormservices
    path = mf.path
    if not found:
        kinds = [*(["PodAutoscaler"] if mf.autoscalers else []), *mf.skipped]
        what = f"found: {', '.join(kinds)}" if kinds else "the file is empty"
        raise InputError(
            Problem(where.path, f"no StormService in {path} ({what})", where.line, where.file)
        )
    names = [str((d.get("metadata") or {}).get("name")) for d, _ in found]
    if name is not None:
        same = [(d, lines) for (d, lines), n in zip(found, names, strict=True) if n == name]
        if len(same) > 1:
            raise InputError(
                Problem(
                    "metadata.name",
                    f"{len(same)} StormServices named {name!r} in {path}; names must be unique",
                    same[1][1].line_of(("metadata", "name")),
                    str(path),
                )
            )
        if same:
            return same[0]
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


def load_manifest(
    path: str | Path, name: str | None = None, *, where: Problem | None = None
) -> tuple[dict[str, Any], LineMap]:
    """Read a kubectl-style YAML file and pick its StormService document.

    Other kinds are skipped with a warning (PodAutoscalers are read by
    :func:`read_manifest_file`); with several StormServices, ``name`` picks one. Returns the
    raw mapping and its line map (not yet validated).
    """
    where = where or Problem("", "")
    mf = read_manifest_file(path, where=where)
    found = _pick_stormservice(mf, name, where)
    mf.warn_skipped()
    return found


def _targets(doc: dict[str, Any], service: str | None) -> bool:
    """Whether a raw PodAutoscaler document targets the StormService ``service``."""
    spec = doc.get("spec")
    ref = spec.get("scaleTargetRef") if isinstance(spec, dict) else None
    if not isinstance(ref, dict):
        return True  # malformed: validated (and reported) with the others
    return ref.get("kind") != "StormService" or service is None or ref.get("name") == service


_SCALAR_TAGS = {
    "float": "a number",
    "constrained-float": "a number",
    "int": "an integer",
    "constrained-int": "an integer",
    "str": "a string",
    "constrained-str": "a string",
    "bool": "true or false",
    "none": "null",
}


def _tag_desc(tag: str) -> str:
    """What a pydantic union member (named by its loc tag) accepts, in words."""
    if tag in _SCALAR_TAGS:
        return _SCALAR_TAGS[tag]
    if "Lognormal" in tag:
        return "a distribution ({kind: lognormal|uniform|exponential, ...})"
    if tag.startswith("list["):
        return "a list"
    return "a mapping"


def _is_mismatch(err: _Err, at: PathT) -> bool:
    """Whether ``err`` only says the input at ``at`` is of the wrong type for its branch."""
    return err.path == at and (
        err.type.endswith("_type") or err.type.endswith("_parsing") or err.type == "int_from_float"
    )


@dataclass
class _Err:
    order: int
    path: PathT
    unions: list[tuple[PathT, str]]
    loc: tuple[str | int, ...]
    type: str
    msg: str
    input: Any
    ctx: dict[str, Any]


def _parse_error(order: int, e: Any, data: Any) -> _Err:
    """Map a pydantic error location onto the input data: keys and indexes that exist in the
    data form the path; every other segment is the tag of a union member taken at that path."""
    node = data
    path: list[str | int] = []
    unions: list[tuple[PathT, str]] = []
    loc = tuple(e["loc"])
    for i, seg in enumerate(loc):
        in_dict = isinstance(node, dict) and seg in node
        in_list = isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node)
        if in_dict or in_list:
            path.append(seg)
            node = node[seg]
        elif i == len(loc) - 1 and e["type"] == "missing":
            path.append(seg)
            node = None
        else:
            unions.append((tuple(path), str(seg)))
    return _Err(
        order, tuple(path), unions, loc, e["type"], e["msg"], e.get("input"), e.get("ctx") or {}
    )


def _resolve_unions(errs: list[_Err], depth: int = 0) -> list[_Err]:
    """Keep, at every union, only the members the input was meant for: a member whose every
    error is a type mismatch at the union's own path is dropped. When no member fits, the
    union's errors become one ``expected A or B`` error."""
    out = [e for e in errs if len(e.unions) <= depth]
    groups: dict[tuple[Any, ...], list[_Err]] = {}
    for e in errs:
        if len(e.unions) > depth:
            key = (tuple(e.unions[:depth]), e.unions[depth][0])
            groups.setdefault(key, []).append(e)
    for (_, at), group in groups.items():
        branches: dict[str, list[_Err]] = {}
        for e in group:
            branches.setdefault(e.unions[depth][1], []).append(e)
        viable = [
            e
            for members in branches.values()
            if any(not _is_mismatch(x, at) for x in members)
            for e in members
        ]
        if viable:
            out.extend(_resolve_unions(viable, depth + 1))
        else:
            descs = list(dict.fromkeys(_tag_desc(t) for t in branches))
            first = group[0]
            out.append(
                _Err(
                    first.order,
                    at,
                    [],
                    first.loc,
                    "union_mismatch",
                    f"expected {' or '.join(descs)}",
                    first.input,
                    {},
                )
            )
    return sorted(out, key=lambda e: e.order)


def _expand(types: list[Any]) -> list[Any]:
    out: list[Any] = []
    for t in types:
        origin = get_origin(t)
        if origin is Annotated:
            out.extend(_expand([get_args(t)[0]]))
        elif origin in (Union, UnionType):
            out.extend(_expand(list(get_args(t))))
        else:
            out.append(t)
    return out


def _model_keys(model: Any) -> dict[str, str]:
    """Input keys of a pydantic model (aliases where set) -> attribute names."""
    return {(f.alias or n): n for n, f in model.model_fields.items()}


def _has_tag(model: Any, tag: str) -> bool:
    for f in model.model_fields.values():
        if get_origin(f.annotation) is Literal and tag in get_args(f.annotation):
            return True
    return False


def _allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Best effort: the keys the model at pydantic location ``loc`` accepts."""
    cands: list[Any] = [root]
    for seg in loc:
        exp = _expand(cands)
        fields: list[Any] = []
        tagged: list[Any] = []
        for t in exp:
            origin = get_origin(t)
            if isinstance(t, type) and issubclass(t, BaseModel):
                names = _model_keys(t)
                if isinstance(seg, str) and (seg in names or seg in names.values()):
                    fields.append(t.model_fields[names.get(seg, seg)].annotation)
                elif isinstance(seg, str) and (seg == t.__name__ or _has_tag(t, seg)):
                    tagged.append(t)
            elif origin is list and isinstance(seg, int):
                fields.append(get_args(t)[0])
            elif origin is dict and isinstance(seg, str):
                fields.append(get_args(t)[1])
        cands = fields or tagged or exp
    keys: list[str] = []
    for t in _expand(cands):
        if isinstance(t, type) and issubclass(t, BaseModel):
            keys.extend(k for k in _model_keys(t) if k not in keys)
    return keys


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:56]}...{text[-1]}"


def _clean_errors(err: ValidationError, data: Any) -> list[tuple[PathT, str, str]]:
    """Turn pydantic errors into one (data path, message, error type) per real problem:
    union members the input was not meant for are dropped, and a misspelt field is one
    ``unknown field (did you mean ...)`` instead of an unknown plus a missing field."""
    errs = _resolve_unions([_parse_error(i, e, data) for i, e in enumerate(err.errors())])
    missing = {e.path for e in errs if e.type == "missing"}
    dropped: set[PathT] = set()
    out: list[tuple[PathT, str, str]] = []
    for e in errs:
        path = e.path
        msg = e.msg
        if e.type == "extra_forbidden":
            msg = "unknown field"
            key = str(path[-1]) if path else ""
            allowed = _allowed_keys(Scenario, e.loc[:-1])
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            sibling = [
                str(m[-1])
                for m in missing
                if m[:-1] == path[:-1] and difflib.get_close_matches(key, [str(m[-1])], 1, 0.6)
            ]
            if sibling:
                close = sibling[:1]
                dropped.add((*path[:-1], sibling[0]))
            if close:
                msg += f" (did you mean {close[0]!r}?)"
        elif e.type == "missing":
            msg = "required field is missing"
        elif e.type in ("union_tag_invalid", "union_tag_not_found"):
            disc = str(e.ctx.get("discriminator", "")).strip("'\"")
            path = (*path, disc) if disc else path
            if e.type == "union_tag_not_found":
                msg = "required field is missing"
            else:
                tags = str(e.ctx.get("expected_tags", "")).replace("'", "")
                msg = f"unknown {disc} {e.ctx.get('tag')!r} (expected one of: {tags})"
        elif e.type == "union_mismatch":
            msg = f"{msg}, got {_got(e.input)}"
        elif e.type in ("model_attributes_type", "model_type", "dict_type"):
            msg = f"expected a mapping, got {_got(e.input)}"
        elif e.type == "list_type":
            msg = f"expected a list, got {_got(e.input)}"
        else:
            for prefix in ("Value error, ", "Assertion failed, "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix) :]
            if not isinstance(e.input, dict | list) and (
                e.type.endswith(("_type", "_parsing"))
                or e.type
                in (
                    "greater_than",
                    "greater_than_equal",
                    "less_than",
                    "less_than_equal",
                    "int_from_float",
                    "literal_error",
                    "string_too_short",
                    "too_short",
                )
            ):
                msg += f" (got {_got(e.input)})"
        out.append((path, msg, e.type))
    seen: set[tuple[PathT, str]] = set()
    dedup = []
    for p, msg, typ in out:
        if typ == "missing" and p in dropped:
            continue
        if (p, msg) not in seen:
            seen.add((p, msg))
            dedup.append((p, msg, typ))
    return dedup


class _Origins:
    """Where each part of the assembled scenario data came from (scenario or manifest file)."""

    def __init__(self, main: LineMap):
        self.main = main
        self.subs: list[tuple[PathT, LineMap, PathT | None]] = []

    def add(self, prefix: PathT, lines: LineMap, shown: PathT | None = None) -> None:
        """Data under ``prefix`` comes from ``lines``; problems there are named by their
        path inside that document, after ``shown`` when given (an entry moved within the
        scenario file keeps its written path)."""
        self.subs.append((prefix, lines, shown))

    def problem(self, path: PathT, msg: str) -> Problem:
        for prefix, lines, shown in self.subs:
            n = len(prefix)
            if path[:n] == prefix and (len(path) > n or shown is not None):
                rest = path[n:]
                if shown is not None:
                    return Problem(
                        format_path((*shown, *rest)), msg, lines.line_of(rest), lines.file
                    )
                return Problem(
                    format_path(rest) or "<manifest>", msg, lines.line_of(rest), lines.file
                )
        return Problem(format_path(path), msg, self.main.line_of(path), self.main.file)


def _is_percent(v: str) -> bool:
    try:
        percent(v)
    except ValueError:
        return False
    return True


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
            if isinstance(v, str) and not _is_percent(v):
                warnings.warn(
                    f"{origin}: {where} value {v!r} is not an int or 'N%'; AIBrix silently "
                    "treats both maxSurge and maxUnavailable as 0, which can stall "
                    "a rollout",
                    StormsimWarning,
                    stacklevel=3,
                )


FRACTION_METRICS = frozenset(
    {"gpu_cache_usage_perc", "kv_cache_usage_perc", "cpu_cache_usage_perc"}
)
"""Pod metrics that are fractions 0..1 (a KPA on their per-pod mean is capped)."""


def _rolesets_above_one(scenario: Scenario) -> tuple[int, str] | None:
    """The StormService's ``spec.replicas`` when above 1 (several RoleSets), with where it
    is set: the initial manifest, else the first event (``scale`` without a role, ``apply`` of
    a manifest) that raises it above 1; None when it stays at most 1."""
    n = scenario.service.manifest.spec.replicas
    if n > 1:
        return n, "in service.manifest"
    for i, ev in enumerate(scenario.events):
        if isinstance(ev, Scale) and ev.role is None:
            n = ev.replicas
        elif isinstance(ev, Apply) and ev.manifest is not None:
            n = ev.manifest.spec.replicas
        else:
            continue
        if n > 1:
            return n, f"from events[{i}] at {ev.at_s:g} s"
    return None


def _hpa_pod_multiplier(scenario: Scenario, pa: PodAutoscaler) -> str | None:
    """Why an HPA on the whole StormService asks for several times the RoleSets it needs, when
    its RoleSets hold more than one pod; None otherwise. The HPA AIBrix generates averages
    every metric source per pod (``hpa_spec``) and, as Kubernetes does, multiplies the usage
    ratio by the pods the ``/scale`` selector matches, then writes that as ``spec.replicas``."""
    ref = pa.spec.scale_target_ref
    manifest = scenario.service.manifest
    if (
        pa.spec.scaling_strategy != "HPA"
        or pa.spec.role_name is not None
        or ref.kind != "StormService"
        or ref.name != manifest.name
    ):
        return None
    roles = manifest.spec.template.spec.roles
    n = sum(r.replicas * r.group_size for r in roles)
    if n <= 1:
        return None
    targets = [(s, s.target) for s in pa.spec.metrics_sources or []]
    larger = ", ".join(
        f"{s.target_metric} {s.target_value} -> {t * n:g}" for s, t in targets if t is not None
    )
    per_role = " + ".join(f"{r.name} x{r.replicas * r.group_size}" for r in roles)
    return (
        f"HPA on StormService {ref.name} counts the pods its /scale selector matches, "
        f"{n} per RoleSet ({per_role}), and "
        f"writes the result as spec.replicas (RoleSets): it asks for about {n} times the "
        "RoleSets the load needs (Kubernetes' HPA arithmetic). To size RoleSets by the load, "
        f"set each targetValue {n} times larger ({larger}), or use KPA or APA, which count "
        "RoleSets"
    )


def _autoscaler_warnings(scenario: Scenario, data: dict[str, Any]) -> None:
    """Warn about what AIBrix accepts in a PodAutoscaler but ignores or reads as 0."""
    from stormsim.schema.scenario import Apply

    found: list[tuple[str, PodAutoscaler, Any]] = []
    raw_pas = data.get("autoscalers") or []
    for j, pa in enumerate(scenario.autoscalers):
        found.append((f"autoscalers[{j}] ({pa.name})", pa, raw_pas[j]))
    for i, ev in enumerate(scenario.events):
        if isinstance(ev, Apply):
            raw_ev = data["events"][i].get("autoscalers") or []
            for k, pa in enumerate(ev.autoscalers):
                found.append((f"events[{i}].autoscalers[{k}] ({pa.name})", pa, raw_ev[k]))
    # the conflict map, in the order the PodAutoscalers are applied (the order they first
    # reconcile: the controller's queue is FIFO): the initial ones, then the apply events
    applied: list[tuple[tuple[float, int, int], str, PodAutoscaler]] = [
        ((0.0, -1, j), where, pa)
        for j, (where, pa, _) in enumerate(found[: len(scenario.autoscalers)])
    ]
    for i, ev in enumerate(scenario.events):
        if isinstance(ev, Apply):
            for k, pa in enumerate(ev.autoscalers):
                applied.append(((ev.at_s, i, k), f"events[{i}].autoscalers[{k}] ({pa.name})", pa))
    holder: dict[str, tuple[str, str]] = {}  # target key -> (PA key, where)
    held: dict[str, str] = {}  # PA key -> its target key
    for (at_s, i, _), where, pa in sorted(applied, key=lambda a: a[0]):
        owner = holder.get(pa.target_key)
        if owner is not None and owner[0] != pa.key:
            at = f", applied at {at_s:g} s" if i >= 0 else ""
            warnings.warn(
                f"{where}{at}: targets what {owner[1]} targets ({pa.target_key}); AIBrix lets "
                f"only the first PodAutoscaler to reconcile act ({owner[0]}), this one gets "
                "MultiPodAutoscalerConflict and does not scale",
                StormsimWarning,
                stacklevel=3,
            )
            continue
        old = held.get(pa.key)
        if old is not None and old != pa.target_key:
            del holder[old]
        holder[pa.target_key] = (pa.key, where)
        held[pa.key] = pa.target_key
    # fixed-math divides a pooled role's writes over the RoleSets: no multiplication there
    faithful = scenario.autoscaling.profile == "aibrix-e3e10f9e"
    multiplied = _rolesets_above_one(scenario) if faithful else None
    for where, pa, raw in found:
        if (
            multiplied is not None
            and pa.role_path
            and pa.spec.scale_target_ref.name == scenario.service.manifest.name
        ):
            n, source = multiplied
            mode = pa.storm_service_mode
            if mode is None:
                given = f"without the annotation {ANN_STORM_SERVICE_MODE}: replica"
                instead = "With the annotation"
            else:  # present, but not replica: read as no annotation
                given = f"with the annotation {ANN_STORM_SERVICE_MODE}: {mode!r}, not replica"
                instead = "With the value replica"
            warnings.warn(
                f"{where}: scales role {pa.spec.role_name} of StormService "
                f"{pa.spec.scale_target_ref.name}, whose spec.replicas is {n} ({source}): "
                f"{given}, AIBrix reads the role's current replicas as the sum over the {n} "
                f"RoleSets but writes its recommendation as the role's replicas in every "
                f"RoleSet, multiplying the role's pods by {n} at each write (AIBrix issue "
                f"#2780). {instead} it scales the number of RoleSets (spec.replicas) "
                "instead; to scale the role itself, use spec.replicas 1 (pooled roles)",
                StormsimWarning,
                stacklevel=3,
            )
        hpa = _hpa_pod_multiplier(scenario, pa)
        if hpa is not None:
            warnings.warn(f"{where}: {hpa}", StormsimWarning, stacklevel=3)
        spec = raw.get("spec") if isinstance(raw, dict) else None
        for f in PRUNED_SPEC_FIELDS:
            if isinstance(spec, dict) and f in spec:
                warnings.warn(
                    f"{where}: spec.{f} is not a PodAutoscaler field; the API server drops it "
                    "(no effect)",
                    StormsimWarning,
                    stacklevel=3,
                )
        for key, msg in annotation_problems(pa):
            warnings.warn(f"{where}: annotation {key} {msg}", StormsimWarning, stacklevel=3)
        if pa.spec.scaling_strategy != "HPA":
            for n, src in enumerate(pa.spec.metrics_sources or []):
                if src.metric_source_type == "pod" and src.target_metric not in POD_REGISTRY_KEYS:
                    warnings.warn(
                        f"{where}: metricsSources[{n}].targetMetric {src.target_metric!r} is "
                        "not a key of AIBrix's metric registry: every pod reads 0",
                        StormsimWarning,
                        stacklevel=3,
                    )
                cap = -(-1 // src.target) if src.target else None  # ceil(1 / target)
                lo = 1 if pa.spec.min_replicas is None else pa.spec.min_replicas
                if (
                    pa.spec.scaling_strategy == "KPA"
                    and scenario.autoscaling.profile == "aibrix-e3e10f9e"
                    and src.target_metric in FRACTION_METRICS
                    and cap is not None
                    and cap < pa.spec.max_replicas
                ):
                    warnings.warn(
                        f"{where}: KPA divides the per-pod mean of {src.target_metric} (at most "
                        f"1) by the target {src.target_value}: it never recommends more than "
                        f"{int(cap)} replicas (minReplicas {lo}, "
                        f"maxReplicas {pa.spec.max_replicas}); fixed-math scales on the sum",
                        StormsimWarning,
                        stacklevel=3,
                    )


def _keeping_warnings(load: Callable[..., Scenario]) -> Callable[..., Scenario]:
    """Record the warnings ``load`` gives on the scenario it returns (``load_warnings``) and
    pass them on unchanged."""

    @functools.wraps(load)
    def wrapper(*args: Any, **kwargs: Any) -> Scenario:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sc = load(*args, **kwargs)
        finally:  # passed on even when loading fails (warnings come before the errors)
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        sc._load_warnings = [str(w.message) for w in caught]
        return sc

    return wrapper


@_keeping_warnings
def load_scenario(
    source: str | Path | dict[str, Any], base_dir: str | Path | None = None
) -> Scenario:
    """Load and validate a scenario from a YAML file path or a mapping.

    Manifest paths are resolved relative to the scenario file (or ``base_dir`` for a mapping,
    default the working directory). Raises :class:`InputError` listing every problem.
    """
    label = "<root>"
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
                    str(path),
                    "the scenario file is empty"
                    if not docs
                    else f"a scenario file holds exactly one YAML document, found {len(docs)}",
                    docs[1][1].line_of(()) if len(docs) > 1 else 1,
                )
            )
        data, main = docs[0]
        main.file = None
        label = str(path)
        base = Path(base_dir) if base_dir is not None else path.parent
    if not isinstance(data, dict):
        raise InputError(
            Problem(label, f"a scenario must be a mapping, got {_got(data)}", main.line_of(()))
        )
    data, renamed = migrate(data, main)
    for r in renamed:
        warnings.warn(r.message(main, label), StormsimWarning, stacklevel=2)
    origins = _Origins(main)
    problems: list[Problem] = []
    failed: list[PathT] = []  # manifests that could not be read: their fields are not checked

    def where_of(path: PathT) -> Problem:
        return Problem(format_path(path), "", main.line_of(path))

    def read(path: PathT, value: str) -> ManifestFile | None:
        try:
            return read_manifest_file(base / value, where=where_of(path))
        except InputError as e:
            problems.extend(e.problems)
            failed.append(path)
            return None

    def expand(prefix: PathT, entries: list[Any]) -> list[Any]:
        """``autoscalers`` entries: inline PodAutoscalers stay, ``{manifest: FILE}`` entries
        become the file's PodAutoscalers (``name`` picks one)."""
        out: list[Any] = []
        for i, entry in enumerate(entries):
            at = (*prefix, i)
            if not (isinstance(entry, dict) and "manifest" in entry and "kind" not in entry):
                if len(out) != i:
                    origins.add((*prefix, len(out)), main.sub(at), at)
                out.append(entry)
                continue
            extra = sorted(set(entry) - {"manifest", "name"})
            for k in extra:
                problems.append(
                    Problem(
                        format_path((*at, k)),
                        "unknown field (a manifest entry takes 'manifest' and 'name')",
                        main.line_of((*at, k)),
                    )
                )
            value, name = entry.get("manifest"), entry.get("name")
            if not isinstance(value, str) or not (name is None or isinstance(name, str)):
                bad = "manifest" if not isinstance(value, str) else "name"
                problems.append(
                    Problem(
                        format_path((*at, bad)),
                        f"expected a string, got {_got(entry.get(bad))}",
                        main.line_of((*at, bad)),
                    )
                )
                continue
            mf = read((*at, "manifest"), value)
            if mf is None:
                continue
            docs = [
                (d, lines)
                for d, lines in mf.autoscalers
                if name is None or (d.get("metadata") or {}).get("name") == name
            ]
            if not docs:
                found = [str((d.get("metadata") or {}).get("name")) for d, _ in mf.autoscalers]
                what = f"named {name!r} " if name is not None else ""
                problems.append(
                    Problem(
                        format_path((*at, "manifest")),
                        f"no PodAutoscaler {what}in {value}"
                        + (f" (found: {', '.join(found)})" if found else ""),
                        main.line_of((*at, "manifest")),
                    )
                )
                continue
            for d, lines in docs:
                origins.add((*prefix, len(out)), lines)
                out.append(d)
        return out

    svc = data.get("service")
    service_name: str | None = None
    picked_name: str | None = None  # service.name, when set
    service_pas: list[tuple[dict[str, Any], LineMap]] = []
    if isinstance(svc, dict):
        svc = data["service"] = dict(svc)
        name = picked_name = svc.get("name") if isinstance(svc.get("name"), str) else None
        value = svc.get("manifest")
        if isinstance(value, str):
            mf = read(("service", "manifest"), value)
            if mf is not None:
                try:
                    raw, lines = _pick_stormservice(mf, name, where_of(("service", "manifest")))
                except InputError as e:
                    problems.extend(e.problems)
                    failed.append(("service", "manifest"))
                else:
                    mf.warn_skipped()
                    svc["manifest"] = raw
                    svc["manifest_path"] = value
                    origins.add(("service", "manifest"), lines)
                    service_name = str((raw.get("metadata") or {}).get("name"))
                    for d, pa_lines in mf.autoscalers:
                        if _targets(d, service_name):
                            service_pas.append((d, pa_lines))
                        else:
                            warnings.warn(
                                f"{value}: skipping PodAutoscaler "
                                f"{(d.get('metadata') or {}).get('name')!r}: it targets "
                                "another StormService",
                                StormsimWarning,
                                stacklevel=2,
                            )
        elif isinstance(value, dict):
            if value.get("kind") not in (None, "StormService"):
                failed.append(("service", "manifest"))
                problems.append(
                    Problem(
                        "service.manifest.kind",
                        f"manifest is a {value.get('kind')!r}, not a StormService",
                        main.line_of(("service", "manifest", "kind")),
                    )
                )
            if isinstance(value.get("metadata"), dict):
                service_name = str(value["metadata"].get("name"))
    pas = data.get("autoscalers")
    if isinstance(pas, list):
        data["autoscalers"] = pas = expand(("autoscalers",), pas)
    if service_pas:
        if pas is None:
            data["autoscalers"] = pas = []
        if isinstance(pas, list):
            for d, lines in service_pas:
                origins.add(("autoscalers", len(pas)), lines)
                pas.append(d)
    events = data.get("events")
    if isinstance(events, list):
        data["events"] = events = [dict(e) if isinstance(e, dict) else e for e in events]
        for i, ev in enumerate(events):
            if not (isinstance(ev, dict) and ev.get("kind") == "apply"):
                continue
            at = ("events", i)
            ev_pas = ev.get("autoscalers")
            if isinstance(ev_pas, list):
                ev["autoscalers"] = ev_pas = expand((*at, "autoscalers"), ev_pas)
            elif ev_pas is None:
                ev_pas = []
            value = ev.get("manifest")
            if (
                isinstance(value, dict)
                and value.get("kind") == PA_KIND
                and isinstance(ev_pas, list)
            ):
                origins.add(
                    (*at, "autoscalers", len(ev_pas)),
                    main.sub((*at, "manifest")),
                    (*at, "manifest"),
                )
                ev_pas.append(ev.pop("manifest"))
                ev["autoscalers"] = ev_pas
            elif isinstance(value, dict) and value.get("kind") not in (None, "StormService"):
                failed.append((*at, "manifest"))
                problems.append(
                    Problem(
                        format_path((*at, "manifest", "kind")),
                        f"manifest is a {value.get('kind')!r}, not a StormService or PodAutoscaler",
                        main.line_of((*at, "manifest", "kind")),
                    )
                )
            elif isinstance(value, str):
                mf = read((*at, "manifest"), value)
                if mf is None:
                    continue
                if mf.stormservices or not mf.autoscalers:
                    try:
                        raw, lines = _pick_stormservice(
                            mf, picked_name, where_of((*at, "manifest"))
                        )
                    except InputError as e:
                        problems.extend(e.problems)
                        failed.append((*at, "manifest"))
                        continue
                    ev["manifest"] = raw
                    origins.add((*at, "manifest"), lines)
                else:
                    del ev["manifest"]
                ev["manifest_path"] = value
                mf.warn_skipped()
                if isinstance(ev_pas, list):
                    for d, lines in mf.autoscalers:
                        origins.add((*at, "autoscalers", len(ev_pas)), lines)
                        ev_pas.append(d)
                    ev["autoscalers"] = ev_pas
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        found = [
            origins.problem(path, msg)
            for path, msg, _ in _clean_errors(e, data)
            if not any(path[: len(f)] == f for f in failed)
        ]
        problems.extend(sorted(found, key=lambda p: (p.file or "", p.line or 0)))
        if not problems:
            problems.append(Problem("<root>", str(e)))
    if problems:
        raise InputError(problems)
    sem = [
        origins.problem(path, msg)
        for path, msg in sorted(
            event_problems(scenario)
            + size_problems(scenario)
            + autoscaler_problems(scenario)
            + parallel_problems(scenario),
            key=lambda pm: pm[0][:2],
        )
    ]
    if sem:
        raise InputError(sem)
    _int_or_percent_warnings(scenario.service.manifest, "service.manifest")
    _autoscaler_warnings(scenario, data)
    # per-role settings naming no role of any manifest are ignored: warn (a planner candidate
    # may lack a role the base scenario's settings name, so this is not an error)
    known = scenario.all_role_names()
    for section in ("timing", "serving"):
        for name in getattr(getattr(scenario, section), "roles", None) or {}:
            if name not in known:
                p = origins.problem((section, "roles", name), f"no role {name!r} in the service")
                warnings.warn(
                    f"{p} (roles: {', '.join(sorted(known))}); its settings are ignored",
                    StormsimWarning,
                    stacklevel=2,
                )
    if scenario.serving is not None and scenario.workload is not None:
        sroles = scenario.serving.roles
        kinds = [
            sroles[r.name].kind
            if r.name in sroles and sroles[r.name].kind
            else ("colocated" if r.template.gpus > 0 else "none")
            for r in scenario.service.manifest.spec.template.spec.roles
        ]
        if all(k == "none" for k in kinds):
            warnings.warn(
                "service.manifest: no role serves traffic (pods without nvidia.com/gpu get "
                "none, and no serving.roles.<role>.kind says otherwise): every request fails",
                StormsimWarning,
                stacklevel=2,
            )
    for i, ev in enumerate(scenario.events):
        manifest = getattr(ev, "manifest", None)
        if isinstance(manifest, StormService):
            _int_or_percent_warnings(manifest, f"events[{i}].manifest")
    scenario = resolve_trace_path(scenario, base)  # relative paths are relative to the file
    cal = getattr(getattr(scenario, "serving", None), "calibration", None)
    if cal:
        from stormsim.schema.calibration import load_calibration

        try:
            load_calibration(cal)
        except InputError as e:
            line = main.line_of(("serving", "calibration"))
            raise InputError(
                [
                    p if p.file else Problem("serving.calibration", p.message, line, p.file)
                    for p in e.problems
                ]
            ) from None
    return scenario


def locate(error: InputError, scenario_file: str | Path) -> InputError:
    """Fill in the scenario-file line of problems found after loading (e.g. a ``rollback``
    to a revision that does not exist when the event fires), from their field path."""
    if not any(p.line is None and p.file is None and p.path for p in error.problems):
        return error
    try:
        docs = load_documents(Path(scenario_file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, InputError):
        return error
    if len(docs) != 1:
        return error
    lines = docs[0][1]
    out = []
    for p in error.problems:
        if p.line is None and p.file is None and p.path:
            path = tuple(int(x) if x.isdigit() else x for x in re.split(r"[.\[\]]+", p.path) if x)
            p = Problem(p.path, p.message, lines.line_of(path))
        out.append(p)
    return InputError(out)
