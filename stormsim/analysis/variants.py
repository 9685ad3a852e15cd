"""Variants of one scenario: apply dotted-path overrides to its resolved data and re-validate.

Overrides are applied to the *resolved* scenario (every default filled, manifests inline), so a
path may reach into the StormService manifest even when the scenario names a manifest file.
Each variant goes through :func:`stormsim.load_scenario` again, so a bad path or value is an
:class:`InputError` naming the override, before anything runs.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stormsim.analysis.paths import STUDY_SECTIONS, set_path
from stormsim.errors import InputError, Problem
from stormsim.schema.loader import StormsimWarning, load_scenario
from stormsim.schema.scenario import Scenario, scenario_dump


def as_scenario(source: Scenario | str | Path | dict[str, Any]) -> Scenario:
    """A loaded scenario from a Scenario, a YAML path or a mapping."""
    if isinstance(source, Scenario):
        return source
    return load_scenario(source)


def base_data(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as plain data without its study sections (so the cache key of a
    run does not change when the study around it does)."""
    data = scenario_dump(scenario)
    for k in STUDY_SECTIONS:
        data.pop(k, None)
    return data


def _fmt(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "no overrides"


def make_variants(
    scenario: Scenario,
    overrides: Sequence[Mapping[str, Any]],
) -> list[Scenario]:
    """One validated Scenario per override mapping. Collects every problem of every variant
    (deduplicated) into one InputError; warnings are re-emitted once each."""
    base = base_data(scenario)
    out: list[Scenario] = []
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    messages: dict[str, tuple[str, type[Warning]]] = {}
    for ov in overrides:
        data = copy.deepcopy(base)
        for path, value in ov.items():
            try:
                set_path(data, path, copy.deepcopy(value))
            except InputError as e:
                for p in e.problems:
                    if (p.path, p.message) not in seen:
                        seen.add((p.path, p.message))
                        problems.append(p)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sc = load_scenario(data)
            for w in caught:
                messages.setdefault(str(w.message), (_fmt(ov), w.category))
        except InputError as e:
            for p in e.problems:
                mine = [k for k in ov if p.path == k or p.path.startswith((f"{k}.", f"{k}["))]
                if mine and ("unknown field" in p.message or "(got " in p.message):
                    msg = p.message
                elif mine:
                    msg = f"{p.message} (value {ov[mine[0]]!r})"
                else:
                    msg = f"{p.message} (with {_fmt(ov)})" if ov else p.message
                if mine and "valid string" in p.message:
                    msg += f"; quote the value to give a string, e.g. {mine[0]}='\"...\"'"
                key = (p.path, msg)
                if key not in seen:
                    seen.add(key)
                    # a value from the override is not on any line of the scenario file
                    where = "an override" if mine and p.line is None else p.file
                    problems.append(Problem(p.path, msg, p.line, where))
            continue
        out.append(sc)
    if problems:
        raise InputError(problems)
    for msg, (first, cat) in messages.items():
        warnings.warn(f"{msg} (first with {first})" if first != "no overrides" else msg, cat, 2)
    return out


def override(
    scenario: Scenario | str | Path | dict[str, Any], overrides: Mapping[str, Any]
) -> Scenario:
    """The scenario with some fields replaced, by dotted path (as in sweeps, manifest fields
    included: ``service.manifest.spec.updateStrategy.maxSurge``), validated again. Bad paths or
    values raise :class:`InputError` naming them."""
    sc = as_scenario(scenario)
    if not overrides:
        return sc
    return make_variants(sc, [dict(overrides)])[0]


def file_warnings(scenario: Scenario) -> list[str]:
    """The load warnings of ``scenario`` about how its file is written (deprecated spellings,
    ...): those its resolved data, loaded again, no longer gives. They hold for every variant
    of it, whereas the others are the base scenario's own and may not hold for a variant."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_scenario(base_data(scenario))
    again = {str(w.message) for w in caught}
    return [w for w in scenario.load_warnings if w not in again]


def override_warned(source: str | Path, overrides: Mapping[str, Any]) -> Scenario:
    """:func:`override` of the scenario file ``source``, warning as if the overridden scenario
    had been loaded: the file's own warnings (:func:`file_warnings`) and those of the
    scenario as overridden, not the base scenario's that the overrides made stale (a profile
    warning after ``autoscaling.profile`` changed, say). Failing, it warns as it went."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            base = load_scenario(source)
            varied = override(base, overrides)
            shown = list(dict.fromkeys([*file_warnings(base), *varied.load_warnings]))
    except BaseException:  # warnings come before the errors, as they came
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        raise
    for w in caught:  # not ours: passed on unchanged
        if not issubclass(w.category, StormsimWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for msg in shown:
        warnings.warn(msg, StormsimWarning, stacklevel=2)
    varied._load_warnings = shown  # the run's summary lists what was shown
    return varied
