"""``load_scenario`` on bad input: every problem, once, as ``path (line N [of FILE]): message``.

The CLI side (exit codes, stderr) is in ``test_cli.py``; this module checks the problems the
Python API raises, including inline scenarios and manifests and the warnings of the loader.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import stormsim
from stormsim.errors import InputError, Problem
from stormsim.schema.loader import StormsimWarning, load_manifest


def _problems(source: Path | dict[str, Any], base_dir: Path | None = None) -> list[str]:
    with pytest.raises(InputError) as info:
        stormsim.load_scenario(source, base_dir=base_dir)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return [str(p) for p in info.value.problems]


def _line_of(path: Path, needle: str, start: int = 1) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if i >= start and needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def test_problem_format() -> None:
    assert str(Problem("a.b[0]", "bad", 3)) == "a.b[0] (line 3): bad"
    assert (
        str(Problem("spec.replicas", "bad", 7, "m.yaml")) == "spec.replicas (line 7 of m.yaml): bad"
    )
    assert str(Problem("x", "bad")) == "x: bad"
    assert str(Problem("", "bad")) == "<root>: bad"
    e = InputError([Problem("a", "one", 1), Problem("b", "two", 2)])
    assert str(e) == "a (line 1): one\nb (line 2): two"
    assert InputError("plain").problems == [Problem("", "plain")]


def test_valid_scenario_loads(make_scenario: Any, write_scenario: Any, tmp_path: Path) -> None:
    sc = stormsim.load_scenario(write_scenario(tmp_path, make_scenario()))
    assert sc.service.manifest.name == "llm"
    assert sc.service.manifest_path == "manifest.yaml"
    assert [r.name for r in sc.service.manifest.spec.template.spec.roles] == ["prefill", "decode"]


def test_inline_mapping_scenario_and_base_dir(
    make_manifest: Any, make_scenario: Any, write_yaml: Any, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "m" / "manifest.yaml", make_manifest("inline"))
    sc = stormsim.load_scenario(make_scenario("m/manifest.yaml"), base_dir=tmp_path)
    assert sc.service.manifest.name == "inline"
    sc = stormsim.load_scenario(make_scenario(make_manifest("direct")))
    assert sc.service.manifest.name == "direct"


def test_misspelt_manifest_field_suggests_the_right_one(
    make_manifest: Any, make_scenario: Any, write_scenario: Any, tmp_path: Path
) -> None:
    m = make_manifest()
    m["spec"]["updateStrategy"]["maxSurg"] = m["spec"]["updateStrategy"].pop("maxSurge")
    m["spec"]["template"]["spec"]["roles"][1]["replica"] = 1
    path = write_scenario(tmp_path, make_scenario(), manifests={"manifest.yaml": m})
    mf = tmp_path / "manifest.yaml"
    surge = _line_of(mf, "maxSurg")
    decode = _line_of(mf, "name: decode")
    replica = _line_of(mf, "replica: 1", decode)
    assert _problems(path) == [
        f"spec.updateStrategy.maxSurg (line {surge} of {mf}): unknown field "
        "(did you mean 'maxSurge'?)",
        f"spec.template.spec.roles[1].replica (line {replica} of {mf}): unknown field "
        "(did you mean 'replicas'?)",
    ]


def test_int_or_percent_fed_nonsense_is_one_problem(
    make_manifest: Any,
    make_scenario: Any,
) -> None:
    m = make_manifest(max_surge=1.5, max_unavailable=[1])  # type: ignore[arg-type]
    assert _problems(make_scenario(m)) == [
        "service.manifest.spec.updateStrategy.maxSurge: expected an integer or a string, got 1.5",
        "service.manifest.spec.updateStrategy.maxUnavailable: expected an integer or a string, "
        "got a list",
    ]


def test_inline_manifest_of_another_kind(
    make_scenario: Any,
) -> None:
    m = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    assert _problems(make_scenario(m)) == [
        "service.manifest.kind: manifest is a 'Deployment', not a StormService"
    ]


def test_inline_manifest_errors_have_scenario_paths(
    make_manifest: Any,
    make_scenario: Any,
) -> None:
    m = make_manifest()
    del m["spec"]["selector"]
    m["spec"]["template"]["spec"]["roles"][0]["template"]["spec"]["containers"] = []
    assert _problems(make_scenario(m)) == [
        "service.manifest.spec.selector: required field is missing",
        "service.manifest.spec.template.spec.roles[0].template.spec: "
        "'containers' must be a non-empty list",
    ]


def test_selector_must_match_template_labels(
    make_manifest: Any, make_scenario: Any, write_scenario: Any, tmp_path: Path
) -> None:
    m = make_manifest()
    m["spec"]["selector"]["matchLabels"]["app"] = "other"
    path = write_scenario(tmp_path, make_scenario(), manifests={"manifest.yaml": m})
    mf = tmp_path / "manifest.yaml"
    [problem] = _problems(path)
    assert problem.startswith(
        f"spec (line {_line_of(mf, 'spec:')} of {mf}): selector does not match "
        "template.metadata.labels"
    )


def test_duplicate_role_names(make_manifest: Any, make_scenario: Any, tmp_path: Path) -> None:
    m = make_manifest(roles=(("worker", 1, 1), ("worker", 1, 1)))
    assert _problems(make_scenario(m)) == [
        "service.manifest.spec.template.spec.roles: duplicate role name 'worker'"
    ]


def test_missing_required_sections(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nservice: {}\n")
    assert _problems(path) == [
        "cluster (line 1): required field is missing",
        "service.manifest (line 2): required field is missing",
    ]


def test_events_problems(make_manifest: Any, make_scenario: Any, tmp_path: Path) -> None:
    data = make_scenario(
        make_manifest(),
        events=[
            {"at_s": 1, "kind": "set_image"},
            {"at_s": 2},
            5,
            {"at_s": -1, "kind": "pause"},
            {"at_s": 3, "kind": "set_image", "image": "v:2", "imag": "v:3"},
            {"at_s": 4, "kind": "scale", "replicas": 2.5},
        ],
    )
    assert _problems(data) == [
        "events[0].image: required field is missing",
        "events[1].kind: required field is missing",
        "events[2]: expected a mapping, got 5",
        "events[3].at_s: Input should be greater than or equal to 0 (got -1)",
        "events[4].imag: unknown field (did you mean 'image'?)",
        "events[5].replicas: Input should be a valid integer (got 2.5)",
    ]


def test_event_semantics_use_the_roles_at_that_time(
    make_manifest: Any, make_scenario: Any, write_yaml: Any, tmp_path: Path
) -> None:
    other = make_manifest(roles=(("worker", 2, 1),))
    write_yaml(tmp_path / "v2.yaml", other)
    data = make_scenario(
        make_manifest(),
        events=[
            {"at_s": 50, "kind": "apply", "manifest": "v2.yaml"},
            {"at_s": 60, "kind": "scale", "role": "prefill", "replicas": 2},
            {"at_s": 10, "kind": "set_image", "image": "v:2", "role": "worker"},
            {"at_s": 20, "kind": "set_image", "image": "v:2", "container": "sidecar"},
        ],
    )
    assert _problems(data, base_dir=tmp_path) == [
        "events[1].role: no role 'prefill' in the service at t=60 s (roles: worker)",
        "events[2].role: no role 'worker' in the service at t=10 s (roles: decode, prefill)",
        "events[3].container: no container 'sidecar' in that role",
    ]


def test_per_role_settings_naming_no_role_warn(
    make_manifest: Any, make_scenario: Any, write_yaml: Any, tmp_path: Path
) -> None:
    # a typo in serving.roles / timing.roles was ignored silently (e.g. a pipeline_parallel lost)
    write_yaml(tmp_path / "v2.yaml", make_manifest(roles=(("worker", 2, 1),)))
    timing = {"roles": {"decod": {"model_load_s": 40}, "worker": {"model_load_s": 5}}}
    data = make_scenario(
        make_manifest(),
        timing=timing,
        events=[{"at_s": 50, "kind": "apply", "manifest": "v2.yaml"}],
        workload={"arrival": {"kind": "poisson", "rate_rps": 1}},
        serving={"model": "llama-3.1-8b", "roles": {"prefil": {"pipeline_parallel": 1}}},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stormsim.load_scenario(data, base_dir=tmp_path)
    roles = "(roles: decode, prefill, worker); its settings are ignored"
    assert [str(w.message) for w in caught if "no role" in str(w.message)] == [
        f"timing.roles.decod: no role 'decod' in the service {roles}",
        f"serving.roles.prefil: no role 'prefil' in the service {roles}",
    ]


def test_applied_manifest_must_be_the_same_stormservice(
    make_manifest: Any, make_scenario: Any, write_scenario: Any, write_yaml: Any, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "v2.yaml", make_manifest("someone-else"))
    path = write_scenario(
        tmp_path, make_scenario(events=[{"at_s": 5, "kind": "apply", "manifest": "v2.yaml"}])
    )
    assert _problems(path) == [
        f"events[0].manifest (line {_line_of(path, 'v2.yaml')}): "
        "StormService 'someone-else' is not the simulated one ('llm')"
    ]


def test_errors_in_an_applied_manifest_name_that_file(
    make_manifest: Any, make_scenario: Any, write_scenario: Any, write_yaml: Any, tmp_path: Path
) -> None:
    bad = make_manifest()
    bad["spec"]["replicas"] = "three"
    mf = write_yaml(tmp_path / "v2.yaml", bad)
    path = write_scenario(
        tmp_path, make_scenario(events=[{"at_s": 5, "kind": "apply", "manifest": "v2.yaml"}])
    )
    assert _problems(path) == [
        f"spec.replicas (line {_line_of(mf, 'replicas: three')} of {mf}): Input should be a "
        "valid integer (got 'three')"
    ]


def test_unreadable_manifest_does_not_hide_other_problems(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\n"
        "cluster:\n"
        "  node_pools: [{name: a, count: 1, gpus_per_node: -1}]\n"
        "service: {manifest: nope.yaml}\n"
    )
    assert _problems(path) == [
        f"service.manifest (line 4): file not found: {tmp_path / 'nope.yaml'}",
        "cluster.node_pools[0].gpus_per_node (line 3): Input should be greater than or equal "
        "to 0 (got -1)",
    ]


def test_malformed_manifest_yaml(make_scenario: Any, write_scenario: Any, tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text("kind: StormService\nspec: [1, 2\n")
    path = write_scenario(tmp_path, make_scenario())
    assert _problems(path) == [
        f"{tmp_path / 'manifest.yaml'} (line 2): malformed YAML: expected ',' or ']', "
        "but got '<stream end>'"
    ]


def test_manifest_document_not_a_mapping(
    make_scenario: Any, write_scenario: Any, tmp_path: Path
) -> None:
    (tmp_path / "manifest.yaml").write_text("kind: StormService\n---\n- 1\n- 2\n")
    path = write_scenario(tmp_path, make_scenario())
    assert _problems(path) == [
        f"{tmp_path / 'manifest.yaml'} (line 3): a manifest document must be a mapping, got a list"
    ]


def test_empty_manifest(make_scenario: Any, write_scenario: Any, tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text("# nothing\n")
    path = write_scenario(tmp_path, make_scenario())
    assert _problems(path) == [
        f"service.manifest (line {_line_of(path, 'manifest: manifest.yaml')}): "
        f"no StormService in {tmp_path / 'manifest.yaml'} (the file is empty)"
    ]


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: a\nseed: 1\nname: b\n")
    [problem] = _problems(path)
    assert problem.startswith(f'{path} (line 3): malformed YAML: found duplicate key "name"')


def test_load_manifest_picks_by_name_and_warns_once_for_skipped_kinds(
    make_manifest: Any, write_yaml: Any, tmp_path: Path
) -> None:
    pa = {"apiVersion": "v1", "kind": "ConfigMap"}
    f = write_yaml(tmp_path / "multi.yaml", [pa, make_manifest("a"), pa, make_manifest("b")])
    with pytest.warns(StormsimWarning) as rec:
        data, lines = load_manifest(f, "b")
    assert data["metadata"]["name"] == "b"
    assert lines.file == str(f)
    assert [str(w.message) for w in rec] == [
        f"{f}: skipping 2 ConfigMap documents (only StormService and PodAutoscaler are simulated)"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match=r"holds several StormServices \(a, b\)"):
            load_manifest(f)


def test_malformed_int_or_percent_warns(
    make_manifest: Any, make_scenario: Any, tmp_path: Path
) -> None:
    m = make_manifest(max_surge="25", max_unavailable="10%")
    with pytest.warns(StormsimWarning, match=r"value '25' is not an int or 'N%'"):
        sc = stormsim.load_scenario(make_scenario(m))
    assert sc.service.manifest.spec.update_strategy.max_surge == "25"


def test_distribution_problems(
    make_manifest: Any,
    make_scenario: Any,
) -> None:
    timing = {
        "image_pull_s": {"kind": "lognormal", "median_s": -1},
        "model_load_s": {"kind": "uniform", "low_s": 5, "high_s": 1},
        "engine_init_s": {"kind": "exponential", "mean_s": 0},
        "scheduling_s": {"median_s": 1},
        "roles": {"decode": {"model_load_s": "abc", "modl_load_s": 1}},
    }
    assert _problems(make_scenario(make_manifest(), timing=timing)) == [
        "timing.scheduling_s.kind: required field is missing",
        "timing.image_pull_s.median_s: Input should be greater than 0 (got -1)",
        "timing.image_pull_s.p90_s: required field is missing",
        "timing.model_load_s: high_s must be >= low_s",
        "timing.engine_init_s.mean_s: Input should be greater than 0 (got 0)",
        "timing.roles.decode.model_load_s: expected a number or a distribution "
        "({kind: lognormal|uniform|exponential, ...}), got 'abc'",
        "timing.roles.decode.modl_load_s: unknown field (did you mean 'model_load_s'?)",
    ]


def test_pod_group_roles_load_but_do_not_run_yet(
    make_manifest: Any,
    make_scenario: Any,
) -> None:
    sc = stormsim.load_scenario(make_scenario(make_manifest(pod_group_size=2)))
    assert sc.service.manifest.spec.template.spec.roles[0].group_size == 2


def test_manifest_integers_are_strict(tmp_path, make_manifest, make_scenario, write_scenario):
    # the API server rejects "4" for an integer field; so does stormsim (spec models are strict)
    m = make_manifest()
    m["spec"]["replicas"] = "4"
    path = write_scenario(tmp_path, make_scenario(m))
    assert _problems(path) == [
        "service.manifest.spec.replicas (line 24): Input should be a valid integer (got '4')"
    ]


def test_traffic_with_no_serving_role_warns(make_manifest: Any, make_scenario: Any) -> None:
    # AIBrix's autoscaling samples request no GPUs: every request failed without a word
    def messages(**serving: Any) -> list[str]:
        data = make_scenario(
            make_manifest(roles=(("prefill", 1, 0), ("decode", 1, 0))),
            workload={"arrival": {"kind": "poisson", "rate_rps": 1}},
            serving={"model": "llama-3.1-8b", **serving},
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stormsim.load_scenario(data)
        return [str(w.message) for w in caught if "serves traffic" in str(w.message)]

    assert messages() == [
        "service.manifest: no role serves traffic (pods without nvidia.com/gpu get none, and "
        "no serving.roles.<role>.kind says otherwise): every request fails"
    ]
    assert messages(roles={"decode": {"kind": "colocated"}}) == []
