"""Shared test helpers: builders of StormService manifests and scenarios, and file writers.

The builders return plain data (what a user would write in YAML); ``write_scenario`` puts a
scenario and its manifest files in a directory. They are exposed both as functions (import
them with ``from conftest import ...`` only where no other ``conftest`` module can shadow this
one) and as fixtures of the same name returning the function, e.g.::

    def test_x(tmp_path, write_scenario, make_scenario):
        path = write_scenario(tmp_path, make_scenario(events=[...]))

Durations default to short constants (``CONST_TIMING``), so runs are fast and exact.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from stormsim.schema.yamlio import dump_yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
"""The shared folder beside the repository (``aibrix-samples/``, ``reference/``); may be
absent, e.g. in a bare clone: tests that need it skip."""
SAMPLES = SHARED / "aibrix-samples"

CONST_TIMING: dict[str, Any] = {
    "scheduling_s": 1.0,
    "image_pull_s": 2.0,
    "model_load_s": 3.0,
    "engine_init_s": 1.0,
    "readiness_probe_s": 0.0,
    "router_registration_s": 1.0,
    "termination_grace_s": 2.0,
    "reconcile_latency_s": 0.1,
}
"""Every lifecycle duration a short constant: pod ready 8 s after it is bound to a node."""

DEFAULT_ROLES: tuple[tuple[str, int, int], ...] = (("prefill", 1, 1), ("decode", 1, 1))
"""(role name, replicas, GPUs per pod)."""


def make_manifest(
    name: str = "llm",
    replicas: int = 2,
    roles: Sequence[tuple[str, int, int]] = DEFAULT_ROLES,
    *,
    max_surge: int | str | None = 1,
    max_unavailable: int | str | None = 0,
    update_type: str = "RollingUpdate",
    roleset_strategy: str | None = "Parallel",
    image: str = "vllm/vllm-openai:v0.10.2",
    pod_group_size: int | None = None,
) -> dict[str, Any]:
    """A StormService manifest (plain data, AIBrix field names): ``replicas`` RoleSets, each
    with ``roles`` given as (name, replicas, GPUs per pod)."""
    strategy: dict[str, Any] = {"type": update_type}
    if max_surge is not None:
        strategy["maxSurge"] = max_surge
    if max_unavailable is not None:
        strategy["maxUnavailable"] = max_unavailable
    role_list = []
    for role, n, gpus in roles:
        container: dict[str, Any] = {"name": role, "image": image}
        if gpus:
            container["resources"] = {"limits": {"nvidia.com/gpu": gpus}}
        r: dict[str, Any] = {
            "name": role,
            "replicas": n,
            "template": {"spec": {"containers": [container]}},
        }
        if pod_group_size is not None:
            r["podGroupSize"] = pod_group_size
        role_list.append(r)
    tmpl_spec: dict[str, Any] = {"roles": role_list}
    if roleset_strategy is not None:
        tmpl_spec["updateStrategy"] = roleset_strategy
    return {
        "apiVersion": "orchestration.aibrix.ai/v1alpha1",
        "kind": "StormService",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "updateStrategy": strategy,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": tmpl_spec},
        },
    }


def make_scenario(
    manifest: str | Mapping[str, Any] = "manifest.yaml",
    *,
    name: str = "test",
    nodes: int = 1,
    gpus_per_node: int = 8,
    events: Sequence[Any] = (),
    timing: Mapping[str, Any] | None = None,
    seed: int | None = 1,
    **extra: Any,
) -> dict[str, Any]:
    """A scenario (plain data): one node pool, constant timings, the given events. ``manifest``
    is a path (relative to the scenario file) or an inline manifest mapping."""
    data: dict[str, Any] = {"name": name}
    if seed is not None:
        data["seed"] = seed
    data["cluster"] = {
        "node_pools": [{"name": "gpu", "count": nodes, "gpus_per_node": gpus_per_node}]
    }
    data["timing"] = dict(CONST_TIMING if timing is None else timing)
    data["service"] = {
        "manifest": copy.deepcopy(manifest) if isinstance(manifest, Mapping) else manifest
    }
    if events:
        data["events"] = [dict(e) if isinstance(e, Mapping) else e for e in events]
    # hand-worked traces assume free API calls: every write of a pass lands at once
    # (slow-start batching has its own tests, which pass ``controller=...``)
    data["controller"] = {"api_call_s": 0.0}
    data.update(extra)
    return data


def write_yaml(path: Path, data: Any) -> Path:
    """Write plain data as YAML; a list of mappings becomes a multi-document file; a string is
    written verbatim (dedented)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        text = textwrap.dedent(data).lstrip("\n")
    elif isinstance(data, list):
        text = "---\n".join(dump_yaml(d) for d in data)
    else:
        text = dump_yaml(data)
    path.write_text(text, encoding="utf-8")
    return path


def write_scenario(
    directory: Path,
    data: Mapping[str, Any] | str,
    *,
    manifests: Mapping[str, Any] | None = None,
    filename: str = "scenario.yaml",
) -> Path:
    """Write a scenario (data or YAML text) and its manifest files into ``directory``; return
    the scenario's path.

    ``manifests`` maps file names to manifest data (a mapping, a list of documents or YAML
    text). Without it, a scenario whose ``service.manifest`` is ``manifest.yaml`` gets
    ``make_manifest()`` written there, unless that file exists.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if manifests is None:
        manifests = {}
        svc = data.get("service") if isinstance(data, Mapping) else None
        if (
            isinstance(svc, Mapping)
            and svc.get("manifest") == "manifest.yaml"
            and not (directory / "manifest.yaml").exists()
        ):
            manifests = {"manifest.yaml": make_manifest()}
    for fname, content in manifests.items():
        write_yaml(directory / fname, content)
    return write_yaml(directory / filename, data if isinstance(data, str) else dict(data))


@pytest.fixture(name="make_manifest")
def _make_manifest_fixture() -> Any:
    return make_manifest


@pytest.fixture(name="make_scenario")
def _make_scenario_fixture() -> Any:
    return make_scenario


@pytest.fixture(name="write_scenario")
def _write_scenario_fixture() -> Any:
    return write_scenario


@pytest.fixture(name="write_yaml")
def _write_yaml_fixture() -> Any:
    return write_yaml


@pytest.fixture
def samples_dir() -> Path:
    """``../shared/aibrix-samples`` beside the repository; skips the test when absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"AIBrix samples not found at {SAMPLES}")
    return SAMPLES
