"""Every AIBrix sample manifest (``../shared/aibrix-samples/``) loads unmodified, and every one
the simulator supports settles: without events it comes up Ready, and an image change rolls
out to completion. Skipped when the shared folder is not beside the repository."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

import stormsim
from stormsim.errors import InputError
from stormsim.schema.loader import StormsimWarning

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "aibrix-samples"
"""The samples in the ``shared`` folder beside the repository (CI copies it there)."""
if not SAMPLES.is_dir():
    pytest.skip(f"AIBrix samples not found at {SAMPLES}", allow_module_level=True)

FILES = sorted(SAMPLES.glob("*.yaml"))
BUCKETING = "disaggregation__sglang__pd-bucketing.yaml"
BUCKETING_NAMES = [
    "sglang-qwen3-8b-1p1d-0-2k",
    "sglang-qwen3-8b-1p1d-2k-4k",
    "sglang-qwen3-8b-combined",
]
NEW_IMAGE = "registry.example.com/engine:stormsim-test"


def _kinds(path: Path) -> list[str]:
    return re.findall(r"^kind:\s*(\S+)", path.read_text(), flags=re.M)


def _pod_groups(path: Path) -> bool:
    return any(int(n) > 1 for n in re.findall(r"podGroupSize:\s*(\d+)", path.read_text()))


def _service(path: Path) -> dict[str, Any]:
    svc: dict[str, Any] = {"manifest": str(path)}
    if path.name == BUCKETING:
        svc["name"] = BUCKETING_NAMES[-1]
    return svc


@pytest.fixture
def scenario(make_scenario: Any) -> Any:
    """``scenario(sample_path, events=None)``: the sample on 16 nodes of 8 GPUs, constant
    short durations."""

    def build(path: Path, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = make_scenario(
            str(path), name=path.stem, nodes=16, gpus_per_node=8, events=events or []
        )
        data["service"] = _service(path)
        return data

    return build


def test_samples_are_there() -> None:
    assert len(FILES) >= 10
    assert (SAMPLES / BUCKETING).exists()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_sample_loads_unmodified(scenario: Any, path: Path) -> None:
    other = [k for k in _kinds(path) if k not in ("StormService", "PodAutoscaler")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sc = stormsim.load_scenario(scenario(path))
    ours = [str(w.message) for w in caught if issubclass(w.category, StormsimWarning)]
    skipped = [m for m in ours if "skipping" in m]
    if other:
        assert len(skipped) == 1, ours
        for kind in set(other):
            assert kind in skipped[0]
    else:
        assert skipped == []
    # PodAutoscaler documents are loaded, not skipped
    assert len(sc.autoscalers) == _kinds(path).count("PodAutoscaler")
    m = sc.service.manifest
    assert m.kind == "StormService"
    assert m.spec.template.spec.roles
    # the loaded model keeps the manifest: dumping it gives AIBrix's field names back
    assert m.dump()["spec"]["template"]["spec"]["roles"][0]["name"] == (
        m.spec.template.spec.roles[0].name
    )


def test_multi_doc_samples_warn_about_skipped_kinds(
    scenario: Any,
) -> None:
    with pytest.warns(StormsimWarning, match=r"spec.behavior is not a PodAutoscaler field"):
        sc = stormsim.load_scenario(scenario(SAMPLES / "autoscaling__stormservice-pool.yaml"))
    assert [pa.name for pa in sc.autoscalers] == ["ss-pool-prefill", "ss-pool-decode"]
    with pytest.warns(StormsimWarning, match=r"skipping 1 Pod document \("):
        stormsim.load_scenario(scenario(SAMPLES / "disaggregation__sglang__replica.yaml"))


def test_bucketing_sample_needs_service_name(
    scenario: Any,
) -> None:
    path = SAMPLES / BUCKETING
    data = scenario(path)
    del data["service"]["name"]
    with pytest.raises(InputError) as info:
        stormsim.load_scenario(data)
    assert [str(p) for p in info.value.problems] == [
        f"service.manifest: {path} holds several StormServices "
        f"({', '.join(BUCKETING_NAMES)}); set service.name to pick one"
    ]
    for name in BUCKETING_NAMES:
        data["service"]["name"] = name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StormsimWarning)
            assert stormsim.load_scenario(data).service.manifest.name == name


def _run_cases() -> list[Any]:
    return [pytest.param(p, id=p.stem) for p in FILES]


def _run(data: dict[str, Any]) -> stormsim.RunResult:
    """Run a sample's StormService: its PodAutoscalers are left out (they act, scaling the
    service to their minimums: ``tests/autoscaler_world/test_samples_act.py``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StormsimWarning)
        sc = stormsim.load_scenario(data)
        return stormsim.run(sc.model_copy(update={"autoscalers": []}))


def _assert_settled(res: stormsim.RunResult) -> None:
    m = res.scenario.service.manifest
    last = res.frames["status"].iloc[-1]
    assert last["condition"] == "Ready"
    assert last["current_revision"] == last["update_revision"]
    assert last["ready_replicas"] == m.spec.replicas
    ts = res.frames["timeseries"].iloc[-1]
    assert ts["rolesets_ready"] == m.spec.replicas
    assert ts["rolesets_terminating"] == 0
    pods_per_roleset = sum(r.replicas * r.group_size for r in m.spec.template.spec.roles)
    assert ts["pods_ready"] == m.spec.replicas * pods_per_roleset
    assert res.summary["pods_unscheduled_at_end"] == 0


@pytest.mark.parametrize("path", _run_cases())
def test_sample_comes_up(scenario: Any, path: Path) -> None:
    res = _run(scenario(path))
    assert res.summary["update_completed"] is None
    assert res.summary["n_rollouts"] == 0
    _assert_settled(res)


@pytest.mark.parametrize("path", _run_cases())
def test_sample_rolls_out_an_image_change(scenario: Any, path: Path) -> None:
    res = _run(scenario(path, [{"at_s": 60, "kind": "set_image", "image": NEW_IMAGE}]))
    assert res.summary["update_completed"] is True
    assert res.summary["update_duration_s"] > 0
    _assert_settled(res)
    pods = res.frames["pods"]
    live = pods[pods["gone_at_s"].isna()]
    assert len(live) > 0
    revs = res.frames["revisions"].sort_values("revision")
    assert set(live["revision"]) == {revs["name"].iloc[-1]}
