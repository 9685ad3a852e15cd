"""Helpers behind CLI verbs that a notebook can call as well (no printing, no exit codes)."""

from __future__ import annotations

import copy
from typing import Any

from stormsim.schema.aibrix import StormService
from stormsim.schema.scenario import Scenario


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of a scenario file as users write it: manifests may be a path (string) or
    an inline StormService mapping."""
    schema = copy.deepcopy(Scenario.model_json_schema(by_alias=True))
    defs = schema.setdefault("$defs", {})
    ss = StormService.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    for k, v in ss.pop("$defs", {}).items():
        defs.setdefault(k, v)
    defs["StormService"] = ss
    ref = {"$ref": "#/$defs/StormService"}
    either = {
        "anyOf": [{"type": "string", "description": "path relative to the scenario file"}, ref]
    }
    defs["Service"]["properties"]["manifest"] = either
    defs["Apply"]["properties"]["manifest"] = {
        "anyOf": [*either["anyOf"], {"$ref": "#/$defs/PodAutoscaler"}, {"type": "null"}]
    }
    for name in ("Service", "Apply"):
        defs[name]["properties"].pop("manifest_path", None)
    entry = {
        "anyOf": [
            {"$ref": "#/$defs/PodAutoscaler"},
            {
                "type": "object",
                "description": "every PodAutoscaler of a manifest file (name: pick one)",
                "properties": {"manifest": {"type": "string"}, "name": {"type": "string"}},
                "required": ["manifest"],
                "additionalProperties": False,
            },
        ]
    }
    schema["properties"]["autoscalers"]["items"] = entry
    defs["Apply"]["properties"]["autoscalers"]["items"] = entry
    return schema
