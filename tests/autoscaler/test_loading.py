"""PodAutoscalers in scenarios: from the service manifest file, an ``autoscalers:`` list
(inline or ``manifest:`` files) and ``apply`` events; every problem as
``path (line N [of FILE]): message``; the ``autoscaling:`` block; the real samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import stormsim
from stormsim.errors import InputError
from stormsim.schema.loader import StormsimWarning
from stormsim.schema.scenario import Apply, scenario_dump
from tests.autoscaler.builders import pa_data
from tests.conftest import make_manifest, make_scenario, write_scenario, write_yaml

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "aibrix-samples"


def _problems(path: Path | dict[str, Any]) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StormsimWarning)
        with pytest.raises(InputError) as info:
            stormsim.load_scenario(path)
    return [str(p) for p in info.value.problems]


def _load(path: Path | dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StormsimWarning)
        return stormsim.load_scenario(path)


def _line(path: Path, needle: str, start: int = 1) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if i >= start and needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="AIBrix samples not found beside the repo")
def test_samples_load_their_autoscalers_unmodified(tmp_path: Path) -> None:
    pool = make_scenario(str(SAMPLES / "autoscaling__stormservice-pool.yaml"), nodes=8)
    with pytest.warns(StormsimWarning) as rec:
        sc = stormsim.load_scenario(pool)
    msgs = [str(w.message) for w in rec]
    assert any("spec.behavior is not a PodAutoscaler field" in m for m in msgs)
    assert not any("skipping" in m for m in msgs)
    pre, dec = sc.autoscalers
    assert (pre.name, pre.spec.role_name, pre.spec.min_replicas, pre.spec.max_replicas) == (
        "ss-pool-prefill",
        "prefill",
        2,
        20,
    )
    assert (dec.spec.role_name, dec.spec.scaling_strategy, dec.spec.metrics_sources[0].target) == (
        "decode",
        "APA",
        70.0,
    )
    assert pre.role_path and dec.storm_service_mode == "pool"
    rep = _load(make_scenario(str(SAMPLES / "autoscaling__stormservice-replica.yaml"), nodes=8))
    [pa] = rep.autoscalers
    assert (pa.name, pa.role_path, pa.spec.role_name) == ("ss-replica-hpa", False, "prefill")


def _pa_files(
    tmp_path: Path, pas: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> Path:
    data = make_scenario(autoscalers=[{"manifest": "pas.yaml"}], **(extra or {}))
    write_yaml(tmp_path / "pas.yaml", pas)
    return write_scenario(tmp_path, data)


def test_manifest_entries_load_every_pa_of_the_file(tmp_path: Path) -> None:
    path = _pa_files(
        tmp_path, [pa_data(name="a", role="prefill"), pa_data(name="b", role="decode")]
    )
    sc = _load(path)
    assert [p.name for p in sc.autoscalers] == ["a", "b"]
    data = make_scenario(autoscalers=[{"manifest": "pas.yaml", "name": "b"}])
    sc = _load(write_scenario(tmp_path, data))
    assert [p.name for p in sc.autoscalers] == ["b"]


def test_problems_in_a_pa_file_name_the_file_and_line(tmp_path: Path) -> None:
    path = _pa_files(
        tmp_path, [pa_data(name="a"), pa_data(name="b", target="100m", max_replicas=0)]
    )
    f = tmp_path / "pas.yaml"
    assert _problems(path) == [
        f"spec.maxReplicas (line {_line(f, 'maxReplicas', _line(f, 'name: b'))} of {f}): "
        "Invalid value: 0: must be positive",
        f"spec.metricsSources[0].targetValue (line {_line(f, '100m')} of {f}): "
        "Invalid value: must be a valid number (got '100m')",
    ]


def test_structural_problems_in_a_pa_file(tmp_path: Path) -> None:
    d = pa_data()
    d["spec"]["maxReplica"] = 3
    del d["spec"]["maxReplicas"]
    d["spec"]["metricsSources"][0]["targetValue"] = 10
    path = _pa_files(tmp_path, [d])
    f = tmp_path / "pas.yaml"
    assert _problems(path) == [
        f"spec.metricsSources[0].targetValue (line {_line(f, 'targetValue')} of {f}): "
        "Input should be a valid string (got 10)",
        f"spec.maxReplica (line {_line(f, 'maxReplica:')} of {f}): unknown field "
        "(did you mean 'maxReplicas'?)",
    ]


def test_inline_entries_after_a_file_entry_keep_their_path_and_line(tmp_path: Path) -> None:
    bad = pa_data(name="c", role="nope")
    data = make_scenario(autoscalers=[{"manifest": "pas.yaml"}, bad])
    write_yaml(tmp_path / "pas.yaml", [pa_data(name="a"), pa_data(name="b")])
    path = write_scenario(tmp_path, data)
    assert _problems(path) == [
        f"autoscalers[1].spec.subTargetSelector.roleName (line {_line(path, 'roleName')}): "
        "no role 'nope' in StormService 'llm' (roles: decode, prefill)"
    ]


def test_scenario_checks_of_targets_and_names(tmp_path: Path) -> None:
    data = make_scenario(
        autoscalers=[
            pa_data(name="a", target_name="other"),
            pa_data(name="b", target_kind="Deployment"),
            pa_data(name="a"),
            {**pa_data(name="d"), "metadata": {"name": "d", "namespace": "prod"}},
        ]
    )
    path = write_scenario(tmp_path, data)
    assert _problems(path) == [
        f"autoscalers[0].spec.scaleTargetRef.name (line {_line(path, 'name: other')}): "
        "no StormService 'other': the simulated one is 'llm'",
        f"autoscalers[1].spec.scaleTargetRef.kind (line {_line(path, 'kind: Deployment')}): "
        "stormsim simulates one StormService; a 'Deployment' target cannot be simulated",
        f"autoscalers[2].metadata.name (line {_line(path, 'name: a', _line(path, 'name: b'))}): "
        "duplicate PodAutoscaler 'default/a' (also autoscalers[0])",
        f"autoscalers[3].metadata.namespace (line {_line(path, 'namespace: prod')}): the "
        "PodAutoscaler is in namespace 'prod' but StormService 'llm' is in 'default' (the "
        "controller reads the target in the PodAutoscaler's namespace)",
    ]


def test_missing_file_and_missing_pa(tmp_path: Path) -> None:
    data = make_scenario(
        autoscalers=[{"manifest": "nope.yaml"}, {"manifest": "pas.yaml", "name": "zz", "x": 1}]
    )
    write_yaml(tmp_path / "pas.yaml", [pa_data(name="a")])
    path = write_scenario(tmp_path, data)
    assert _problems(path) == [
        f"autoscalers[0].manifest (line {_line(path, 'nope.yaml')}): file not found: "
        f"{tmp_path / 'nope.yaml'}",
        f"autoscalers[1].x (line {_line(path, 'x: 1')}): unknown field (a manifest entry takes "
        "'manifest' and 'name')",
        f"autoscalers[1].manifest (line {_line(path, 'pas.yaml')}): no PodAutoscaler named "
        "'zz' in pas.yaml (found: a)",
    ]


def test_service_manifest_pas_join_and_other_targets_are_skipped(tmp_path: Path) -> None:
    docs = [
        make_manifest(),
        pa_data(name="mine", role="decode"),
        pa_data(name="theirs", target_name="x"),
    ]
    write_yaml(tmp_path / "manifest.yaml", docs)
    data = make_scenario(autoscalers=[pa_data(name="inline", role="prefill")])
    path = write_scenario(tmp_path, data)
    with pytest.warns(StormsimWarning, match="skipping PodAutoscaler 'theirs'"):
        sc = stormsim.load_scenario(path)
    assert [p.name for p in sc.autoscalers] == ["inline", "mine"]


def test_problems_in_service_manifest_pas(tmp_path: Path) -> None:
    write_yaml(
        tmp_path / "manifest.yaml",
        [make_manifest(), pa_data(name="m", strategy="HPA", role="decode")],
    )
    path = write_scenario(tmp_path, make_scenario())
    f = tmp_path / "manifest.yaml"
    assert _problems(path) == [
        f"spec.subTargetSelector.roleName (line {_line(f, 'roleName')} of {f}): Forbidden: "
        "subTargetSelector.roleName is not supported with scalingStrategy=HPA; use APA or KPA "
        "for StormService role-level autoscaling."
    ]


def test_apply_events_with_pas(tmp_path: Path) -> None:
    write_yaml(tmp_path / "pas-v2.yaml", [pa_data(name="a", target="20")])
    write_yaml(tmp_path / "both.yaml", [make_manifest(replicas=3), pa_data(name="b")])
    events = [
        {"at_s": 10, "kind": "apply", "manifest": "pas-v2.yaml"},
        {"at_s": 20, "kind": "apply", "autoscalers": [pa_data(name="a", target="30")]},
        {"at_s": 30, "kind": "apply", "manifest": pa_data(name="c")},
        {"at_s": 40, "kind": "apply", "manifest": "both.yaml"},
    ]
    data = make_scenario(events=events, autoscalers=[pa_data(name="a")])
    sc = _load(write_scenario(tmp_path, data))
    e = sc.events
    assert all(isinstance(x, Apply) for x in e)
    assert e[0].manifest is None and e[0].manifest_path == "pas-v2.yaml"
    assert [p.spec.metrics_sources[0].target_value for p in e[0].autoscalers] == ["20"]
    assert e[1].manifest is None and e[1].autoscalers[0].name == "a"
    assert e[2].manifest is None and e[2].autoscalers[0].name == "c"
    assert e[3].manifest is not None and e[3].manifest.spec.replicas == 3
    assert [p.name for p in e[3].autoscalers] == ["b"]
    # the resolved scenario dumps and reloads to the same thing
    again = _load(scenario_dump(sc))
    assert scenario_dump(again) == scenario_dump(sc)


def test_apply_problems(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, make_scenario(events=[{"at_s": 20, "kind": "apply"}]))
    assert _problems(path) == [
        f"events[0] (line {_line(path, 'at_s: 20')}): apply needs a StormService 'manifest' "
        "or 'autoscalers'",
    ]
    events = [
        {"at_s": 10, "kind": "apply", "manifest": pa_data(name="c", max_replicas=0)},
        {"at_s": 30, "kind": "apply", "autoscalers": [pa_data(name="d", role="ghost")]},
    ]
    path = write_scenario(tmp_path, make_scenario(events=events))
    assert _problems(path) == [
        f"events[0].manifest.spec.maxReplicas (line {_line(path, 'maxReplicas: 0')}): "
        "Invalid value: 0: must be positive",
        f"events[1].autoscalers[0].spec.subTargetSelector.roleName "
        f"(line {_line(path, 'roleName: ghost')}): no role 'ghost' in StormService 'llm' "
        "(roles: decode, prefill)",
    ]


def test_autoscaling_block(tmp_path: Path) -> None:
    sc = _load(write_scenario(tmp_path, make_scenario()))
    a = sc.autoscaling
    assert (a.profile, a.resync_period_s, a.reconcile_timeout_s, a.hpa_sync_period_s) == (
        "aibrix-e3e10f9e",
        10.0,
        10.0,
        15.0,
    )
    assert a.start.isoformat() == "2026-08-03T00:00:00+00:00" and a.start.weekday() == 0
    sc = _load(
        write_scenario(
            tmp_path,
            make_scenario(
                autoscaling={"profile": "fixed-math", "clock_start": "2026-08-07T08:00:00Z"}
            ),
        )
    )
    assert sc.autoscaling.profile == "fixed-math" and sc.autoscaling.start.hour == 8
    path = write_scenario(
        tmp_path,
        make_scenario(autoscaling={"profile": "latest", "clock_start": "noon", "resync_s": 5}),
    )
    probs = _problems(path)
    assert probs[0].startswith(
        f"autoscaling.profile (line {_line(path, 'profile')}): Input should be"
    )
    assert probs[1] == (
        f"autoscaling.clock_start (line {_line(path, 'clock_start')}): not an ISO 8601 time "
        "(got 'noon')"
    )
    assert probs[2] == (
        f"autoscaling.resync_s (line {_line(path, 'resync_s')}): unknown field "
        "(did you mean 'resync_period_s'?)"
    )
    path = write_scenario(
        tmp_path, make_scenario(autoscaling={"clock_start": "2026-08-07T08:00:00"})
    )
    assert _problems(path) == [
        f"autoscaling.clock_start (line {_line(path, 'clock_start')}): needs a UTC offset "
        "such as Z or +02:00 (got '2026-08-07T08:00:00')"
    ]


def test_annotation_warnings(tmp_path: Path) -> None:
    pa = pa_data(
        name="a",
        annotations={
            "kpa.autoscaling.aibrix.ai/scale-down-delay": "3m",
            "autoscaling.aibrix.ai/max-scale-up-rate": "fast",
        },
    )
    path = write_scenario(tmp_path, make_scenario(autoscalers=[pa]))
    with pytest.warns(StormsimWarning) as rec:
        stormsim.load_scenario(path)
    msgs = sorted(str(w.message) for w in rec)
    assert any("max-scale-up-rate 'fast' does not parse" in m for m in msgs)
    assert any("scale-down-delay is not read by the AIBrix controller" in m for m in msgs)


def test_cli_validate_reports_pa_problems_without_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    path = _pa_files(tmp_path, [pa_data(name="a", target="abc")])
    f = tmp_path / "pas.yaml"
    proc = subprocess.run(
        [str(exe), "validate", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        f"error: spec.metricsSources[0].targetValue (line {_line(f, 'abc')} of pas.yaml): "
        "Invalid value: must be a valid number (got 'abc')"
    ]


def test_study_overrides_reach_autoscalers_by_name(tmp_path: Path) -> None:
    from stormsim.analysis.variants import make_variants

    write_yaml(
        tmp_path / "manifest.yaml", [make_manifest(), pa_data(name="from-file", role="decode")]
    )
    sc = _load(write_scenario(tmp_path, make_scenario(autoscalers=[pa_data(name="inline")])))
    [v] = make_variants(
        sc,
        [
            {
                "autoscalers[from-file].spec.metricsSources[0].targetValue": "25",
                "autoscaling.profile": "fixed-math",
            }
        ],
    )
    assert [p.name for p in v.autoscalers] == ["inline", "from-file"]  # not loaded twice
    assert v.autoscalers[1].spec.metrics_sources[0].target == 25.0
    assert v.autoscaling.profile == "fixed-math"


def test_cli_validate_lists_the_autoscalers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stormsim.cli import app

    write_yaml(tmp_path / "manifest.yaml", [make_manifest(), pa_data(name="p", role="prefill")])
    path = write_scenario(tmp_path, make_scenario(autoscalers=[pa_data(name="w", strategy="KPA")]))
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().endswith("0 events, PodAutoscalers w (KPA), p (APA prefill)")


def test_two_pas_on_one_target_warn_about_the_conflict(tmp_path: Path) -> None:
    pas = [pa_data(name="a", role="decode"), pa_data(name="b", role="decode"), pa_data(name="c")]
    path = write_scenario(tmp_path, make_scenario(autoscalers=pas))
    with pytest.warns(StormsimWarning) as rec:
        stormsim.load_scenario(path)
    conflicts = [str(w.message) for w in rec if "targets what" in str(w.message)]
    assert conflicts == [
        "autoscalers[1] (b): targets what autoscalers[0] (a) targets "
        "(orchestration.aibrix.ai/v1alpha1.StormService/default/llm/decode); AIBrix lets only "
        "the first PodAutoscaler to reconcile act (default/a), this one gets "
        "MultiPodAutoscalerConflict and does not scale"
    ]


def test_kpa_on_a_fraction_metric_warns_of_its_cap() -> None:
    # aibrix-e3e10f9e KPA on the per-pod mean of KV-cache use (<= 1) with target 0.5 never
    # recommends more than 2: a 70B fleet at minReplicas 8 stayed there under any load, silently
    def messages(profile: str, strategy: str = "KPA", target: str = "0.5") -> list[str]:
        pa = pa_data(
            strategy=strategy,
            min_replicas=8,
            max_replicas=40,
            metric="gpu_cache_usage_perc",
            target=target,
        )
        data = make_scenario(make_manifest(), autoscalers=[pa], autoscaling={"profile": profile})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stormsim.load_scenario(data)
        return [str(w.message) for w in caught if "KPA divides" in str(w.message)]

    assert messages("aibrix-e3e10f9e") == [
        "autoscalers[0] (pa): KPA divides the per-pod mean of gpu_cache_usage_perc (at most 1) "
        "by the target 0.5: it never recommends more than 2 replicas (minReplicas 8, "
        "maxReplicas 40); fixed-math scales on the sum"
    ]
    assert messages("aibrix-e3e10f9e", target="0.6")[0].count("more than 2 replicas") == 1
    assert messages("aibrix-e3e10f9e", target="0.02") == []  # ceil(1 / 0.02) = 50 >= 40
    assert messages("fixed-math") == []
    assert messages("aibrix-e3e10f9e", strategy="APA") == []


def test_role_pa_on_several_rolesets_warns_of_the_multiplication(tmp_path: Path) -> None:
    # AIBrix #2780: a role PA without storm-service-mode: replica on spec.replicas 4 reads the
    # role's pods summed over the 4 RoleSets and writes that as the role's count per RoleSet
    def messages(data: dict[str, Any]) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stormsim.load_scenario(data)
        return [str(w.message) for w in caught if "#2780" in str(w.message)]

    role_pa = pa_data(name="pf", role="prefill")
    data = make_scenario(make_manifest(replicas=4), autoscalers=[role_pa])
    expected = (
        "autoscalers[0] (pf): scales role prefill of StormService llm, whose spec.replicas is "
        "4 (in service.manifest): without the annotation autoscaling.aibrix.ai/"
        "storm-service-mode: replica, AIBrix reads the role's current replicas as the sum over "
        "the 4 RoleSets but writes its recommendation as the role's replicas in every RoleSet, "
        "multiplying the role's pods by 4 at each write (AIBrix issue #2780). With the "
        "annotation it scales the number of RoleSets (spec.replicas) instead; to scale the "
        "role itself, use spec.replicas 1 (pooled roles)"
    )
    assert messages(data) == [expected]
    # a PA applied by an event, and spec.replicas raised by a scale event
    applied = make_scenario(
        make_manifest(replicas=1),
        events=[
            {"at_s": 10, "kind": "scale", "replicas": 3},
            {"at_s": 20, "kind": "apply", "autoscalers": [role_pa]},
        ],
    )
    assert messages(applied) == [
        "events[1].autoscalers[0] (pf): scales role prefill of StormService llm, whose "
        "spec.replicas is 3 (from events[0] at 10 s): without the annotation "
        "autoscaling.aibrix.ai/storm-service-mode: replica, AIBrix reads the role's current "
        "replicas as the sum over the 3 RoleSets but writes its recommendation as the role's "
        "replicas in every RoleSet, multiplying the role's pods by 3 at each write (AIBrix "
        "issue #2780). With the annotation it scales the number of RoleSets (spec.replicas) "
        "instead; to scale the role itself, use spec.replicas 1 (pooled roles)"
    ]
    # no warning: one RoleSet (pooled), the replica annotation, a whole-service PA
    assert messages(make_scenario(make_manifest(replicas=1), autoscalers=[role_pa])) == []
    replica_mode = pa_data(
        name="pf",
        role="prefill",
        annotations={"autoscaling.aibrix.ai/storm-service-mode": "replica"},
    )
    assert messages(make_scenario(make_manifest(replicas=4), autoscalers=[replica_mode])) == []
    assert messages(make_scenario(make_manifest(replicas=4), autoscalers=[pa_data()])) == []
    fixed = make_scenario(
        make_manifest(replicas=4), autoscalers=[role_pa], autoscaling={"profile": "fixed-math"}
    )
    assert messages(fixed) == []  # fixed-math writes ceil(desired / 4) per RoleSet
    # stormsim validate: the warning on stderr, exit 0
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    path = write_scenario(tmp_path, data)
    proc = subprocess.run(
        [str(exe), "validate", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {expected}" in " ".join(proc.stderr.split())
    assert proc.stdout.startswith("ok:")


def test_cli_run_warns_as_the_scenario_overridden(tmp_path: Path) -> None:
    # found by review: --set autoscaling.profile=fixed-math still printed the faithful KPA cap
    # warning of the file as written (summary.json had none); the reverse override warns
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    pa = pa_data(
        strategy="KPA", min_replicas=8, max_replicas=40, metric="gpu_cache_usage_perc",
        target="0.5",
    )  # fmt: skip

    def run(profile: str, *override: str) -> tuple[list[str], list[str]]:
        data = make_scenario(
            make_manifest(), autoscalers=[pa], autoscaling={"profile": profile}, until_s=30
        )
        data["timing"]["image_pull_s"] = {"dist": "uniform", "low_s": 1, "high_s": 2}  # deprecated
        path = write_scenario(tmp_path, data)
        out = tmp_path / f"out-{profile}-{len(override)}"
        proc = subprocess.run(
            [str(exe), "run", str(path), "--out", str(out), "--no-plots", *override],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        printed = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning: ")]
        summary = json.loads((out / "summary.json").read_text())["warnings"]
        return printed, [f"warning: {w}" for w in summary]

    def kpa(lines: list[str]) -> list[str]:
        return [ln for ln in lines if "KPA divides" in ln]

    def spelling(lines: list[str]) -> list[str]:
        return [ln for ln in lines if "deprecated spelling" in ln]

    for profile, override, capped in [
        ("aibrix-e3e10f9e", (), True),
        ("aibrix-e3e10f9e", ("--set", "autoscaling.profile=fixed-math"), False),
        ("fixed-math", (), False),
        ("fixed-math", ("--set", "autoscaling.profile=aibrix-e3e10f9e"), True),
    ]:
        printed, summary = run(profile, *override)
        assert len(kpa(printed)) == int(capped), (profile, override, printed)
        assert printed == summary  # what was shown is what summary.json lists
        # the file's own warnings stay, once
        assert len(spelling(printed)) == 1 and "timing.image_pull_s" in spelling(printed)[0]
        assert not any("first with" in ln for ln in printed)


def test_hpa_on_multi_pod_rolesets_warns_that_it_counts_pods() -> None:
    # found by review: an HPA on a 1P1D StormService averages its metric over every pod and
    # multiplies by the pods, so it asks for about 2x the RoleSets; nothing said so
    def messages(manifest: dict[str, Any], strategy: str = "HPA") -> list[str]:
        pa = pa_data(strategy=strategy, min_replicas=1, max_replicas=20, target="10")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stormsim.load_scenario(make_scenario(manifest, autoscalers=[pa]))
        return [str(w.message) for w in caught if "counts the pods" in str(w.message)]

    assert messages(make_manifest()) == [
        "autoscalers[0] (pa): HPA on StormService llm counts the pods its /scale selector "
        "matches, 2 per RoleSet (prefill x1 + decode x1), and writes the result as "
        "spec.replicas (RoleSets): it asks for about 2 times the RoleSets the load needs "
        "(Kubernetes' HPA arithmetic). To size RoleSets by the load, set each targetValue 2 "
        "times larger (num_requests_waiting 10 -> 20), or use KPA or APA, which count RoleSets"
    ]
    grouped = make_manifest(roles=(("prefill", 1, 1), ("decode", 2, 1)), pod_group_size=2)
    [msg] = messages(grouped)
    assert "6 per RoleSet (prefill x2 + decode x4)" in msg and "10 -> 60" in msg
    # one pod per RoleSet: the pods are the RoleSets; KPA and APA count RoleSets
    assert messages(make_manifest(roles=(("worker", 1, 1),))) == []
    assert messages(make_manifest(), "KPA") == []
    assert messages(make_manifest(), "APA") == []


def test_an_unrecognised_storm_service_mode_is_warned_and_named() -> None:
    # found by review: storm-service-mode: bogus got no warning, and the #2780 warning then
    # said "without the annotation" although it was there
    mode = "autoscaling.aibrix.ai/storm-service-mode"

    def messages(value: str, role: str | None = "prefill") -> list[str]:
        pa = pa_data(name="pf", role=role, annotations={mode: value})
        data = make_scenario(make_manifest(replicas=4), autoscalers=[pa])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sc = stormsim.load_scenario(data)
        assert sc.autoscalers[0].role_path == (role is not None and value != "replica")
        return [str(w.message) for w in caught]

    unrecognised = (
        f"autoscalers[0] (pf): annotation {mode} 'bogus' is not a value AIBrix recognises: it "
        "treats only 'replica' specially (a role PodAutoscaler scales the StormService's "
        "RoleSets, spec.replicas) and reads any other value as no annotation (a role "
        "PodAutoscaler scales the role's replicas in the RoleSet template, as 'pool' does)"
    )
    multiplied = (
        "autoscalers[0] (pf): scales role prefill of StormService llm, whose spec.replicas is "
        f"4 (in service.manifest): with the annotation {mode}: 'bogus', not replica, AIBrix "
        "reads the role's current replicas as the sum over the 4 RoleSets but writes its "
        "recommendation as the role's replicas in every RoleSet, multiplying the role's pods "
        "by 4 at each write (AIBrix issue #2780). With the value replica it scales the number "
        "of RoleSets (spec.replicas) instead; to scale the role itself, use spec.replicas 1 "
        "(pooled roles)"
    )
    assert sorted(messages("bogus")) == sorted([unrecognised, multiplied])
    # a whole-service PodAutoscaler: the value is still unrecognised, nothing multiplies
    assert messages("bogus", role=None) == [unrecognised]
    # the match is exact: Replica is not replica
    assert any("'Replica' is not a value AIBrix recognises" in m for m in messages("Replica"))
    # the samples' pool: known (no such warning), and #2780 names it
    [pool] = messages("pool")
    assert "with the annotation autoscaling.aibrix.ai/storm-service-mode: 'pool', not " in pool
    assert messages("replica") == []
