"""The command line: bad input gives exit code 2, one ``error: path (line N): message`` line per
problem, no traceback and no results directory; good input runs, validates, prints a schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stormsim.cli import app

HEAD = """\
name: t
seed: 1
cluster:
  node_pools:
    - {name: gpu, count: 1, gpus_per_node: 8}
service:
  manifest: manifest.yaml
"""
"""A valid scenario of 7 lines; cases append lines from line 8 on."""

TIMING = """\
timing:
  scheduling_s: 1
  image_pull_s: 1
  model_load_s: 1
  engine_init_s: 1
  readiness_probe_s: 0
  router_registration_s: 1
  termination_grace_s: 1
"""

runner = CliRunner()


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture
def setup(tmp_path: Path, make_manifest: Any, write_yaml: Any) -> Any:
    """``setup(scenario_text, files)``: write ``scenario.yaml``, the default ``manifest.yaml``
    and ``files`` (name -> data; a tuple of names: one StormService document per name)."""

    def _setup(scenario: str, files: dict[str, object] | None = None) -> None:
        write_yaml(tmp_path / "manifest.yaml", make_manifest())
        for name, content in (files or {}).items():
            if isinstance(content, tuple):
                content = [make_manifest(n) for n in content]
            write_yaml(tmp_path / name, content)
        (tmp_path / "scenario.yaml").write_text(scenario)

    return _setup


def _invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    return runner.invoke(app, list(args))


def _assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "results").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


# (id, scenario text, extra files, expected error lines)
BAD_INPUT: list[tuple[str, str, dict[str, object], list[str]]] = [
    (
        "malformed-yaml",
        HEAD.replace("gpus_per_node: 8}", "gpus_per_node: 8"),
        {},
        ["error: scenario.yaml (line 6): malformed YAML: expected ',' or '}', but got ':'"],
    ),
    (
        "unknown-top-level-field",
        HEAD + "timming:\n  image_pull_s: 1\n",
        {},
        ["error: timming (line 8): unknown field (did you mean 'timing'?)"],
    ),
    (
        "misspelt-nested-field",
        HEAD.replace("gpus_per_node", "gpus_per_nod"),
        {},
        [
            "error: cluster.node_pools[0].gpus_per_nod (line 5): unknown field "
            "(did you mean 'gpus_per_node'?)"
        ],
    ),
    (
        "mistyped-value",
        HEAD.replace("count: 1", "count: many"),
        {},
        [
            "error: cluster.node_pools[0].count (line 5): Input should be a valid integer "
            "(got 'many')"
        ],
    ),
    (
        "missing-manifest-file",
        HEAD.replace("manifest.yaml", "nope.yaml"),
        {},
        ["error: service.manifest (line 7): file not found: nope.yaml"],
    ),
    (
        "not-a-stormservice",
        HEAD.replace("manifest.yaml", "deploy.yaml"),
        {"deploy.yaml": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}},
        ["error: service.manifest (line 7): no StormService in deploy.yaml (found: Deployment)"],
    ),
    (
        "several-stormservices-without-name",
        HEAD.replace("manifest.yaml", "two.yaml"),
        {"two.yaml": ("alpha", "beta")},
        [
            "error: service.manifest (line 7): two.yaml holds several StormServices "
            "(alpha, beta); set service.name to pick one"
        ],
    ),
    (
        "no-stormservice-with-that-name",
        HEAD.replace("manifest.yaml", "two.yaml") + "  name: gamma\n",
        {"two.yaml": ("alpha", "beta")},
        [
            "error: service.manifest (line 7): no StormService named 'gamma' in two.yaml "
            "(found: alpha, beta)"
        ],
    ),
    (
        "role-does-not-exist",
        HEAD + "events:\n  - {at_s: 10, kind: set_image, image: 'v:2', role: prefil}\n",
        {},
        [
            "error: events[0].role (line 9): no role 'prefil' in the service at t=10 s "
            "(roles: decode, prefill)"
        ],
    ),
    (
        "bad-distribution",
        HEAD + "timing:\n  image_pull_s: {kind: lognormal, median_s: -1}\n",
        {},
        [
            "error: timing.image_pull_s.median_s (line 9): Input should be greater than 0 (got -1)",
            "error: timing.image_pull_s.p90_s (line 9): required field is missing",
        ],
    ),
    (
        "distribution-median-above-p90",
        HEAD + "timing:\n  model_load_s: {kind: lognormal, median_s: 30, p90_s: 10}\n",
        {},
        ["error: timing.model_load_s (line 9): p90_s must be >= median_s"],
    ),
    (
        "duration-neither-number-nor-distribution",
        HEAD + "timing:\n  model_load_s: slow\n",
        {},
        [
            "error: timing.model_load_s (line 9): expected a number or a distribution "
            "({kind: lognormal|uniform|exponential, ...}), got 'slow'"
        ],
    ),
    (
        "unknown-distribution",
        HEAD + "timing:\n  model_load_s: {kind: gamma, k: 2}\n",
        {},
        [
            "error: timing.model_load_s.kind (line 9): unknown kind 'gamma' "
            "(expected one of: lognormal, uniform, exponential)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("scenario", "files", "expected"),
    [pytest.param(s, f, e, id=i) for i, s, f, e in BAD_INPUT],
)
@pytest.mark.parametrize("verb", ["validate", "run"])
def test_bad_input_exit_2_one_line_per_problem(
    setup: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    verb: str,
    scenario: str,
    files: dict[str, object],
    expected: list[str],
) -> None:
    setup(scenario, files)
    args = [verb, "scenario.yaml"] + (["--out", "out"] if verb == "run" else [])
    res = _invoke(tmp_path, monkeypatch, *args)
    assert res.exit_code == 2, res.output
    assert _errors(res.stderr) == expected
    assert res.stdout == ""
    assert "Traceback" not in res.output
    _assert_nothing_written(tmp_path)


def test_unknown_event_action(setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup(HEAD + "events:\n  - {at_s: 10, kind: upgrade, image: 'v:2'}\n")
    res = _invoke(tmp_path, monkeypatch, "run", "scenario.yaml", "--out", "out")
    assert res.exit_code == 2
    [line] = _errors(res.stderr)
    prefix = "error: events[0].kind (line 9): unknown kind 'upgrade' (expected one of: "
    assert line.startswith(prefix)
    assert "set_image" in line and "scale" in line and "rollback" in line
    _assert_nothing_written(tmp_path)


def test_error_inside_manifest_names_that_file_and_line(
    setup: Any, make_manifest: Any, write_yaml: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(HEAD)
    m = make_manifest(replicas=-1)
    write_yaml(tmp_path / "manifest.yaml", m)
    line = _line_of(tmp_path / "manifest.yaml", "replicas: -1")
    res = _invoke(tmp_path, monkeypatch, "run", "scenario.yaml", "--out", "out")
    assert res.exit_code == 2
    assert _errors(res.stderr) == [
        f"error: spec.replicas (line {line} of manifest.yaml): "
        "Input should be greater than or equal to 0 (got -1)"
    ]
    _assert_nothing_written(tmp_path)


def test_every_problem_is_reported_at_once(
    setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = (
        HEAD.replace("count: 1", "count: 0")
        + "timing:\n  image_pull_s: -3\n"
        + "events:\n"
        + "  - {at_s: 10, kind: scale, replicas: -1}\n"
        + "  - {at_s: 20, kind: apply, manifest: missing.yaml}\n"
    )
    setup(scenario)
    res = _invoke(tmp_path, monkeypatch, "validate", "scenario.yaml")
    assert res.exit_code == 2
    assert _errors(res.stderr) == [
        "error: events[1].manifest (line 12): file not found: missing.yaml",
        "error: cluster.node_pools[0].count (line 5): "
        "Input should be greater than or equal to 1 (got 0)",
        "error: timing.image_pull_s (line 9): Input should be greater than or equal to 0 (got -3)",
        "error: events[0].replicas (line 11): Input should be greater than or equal to 0 (got -1)",
    ]


def test_warnings_for_skipped_documents_come_before_errors(
    setup: Any, make_manifest: Any, write_yaml: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pa = {"apiVersion": "v1", "kind": "ConfigMap"}
    files: dict[str, object] = {"multi.yaml": [make_manifest(), pa, pa]}
    scenario = HEAD.replace("manifest.yaml", "multi.yaml")
    setup(scenario + "events:\n  - {at_s: 1, kind: scale, role: nope, replicas: 1}\n")
    for name, content in files.items():
        write_yaml(tmp_path / name, content)
    res = _invoke(tmp_path, monkeypatch, "validate", "scenario.yaml")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        "warning: multi.yaml: skipping 2 ConfigMap documents (only StormService and "
        "PodAutoscaler are simulated)",
        "error: events[0].role (line 9): no role 'nope' in the service at t=1 s "
        "(roles: decode, prefill)",
    ]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (None, "error: nope.yaml: file not found"),
        ("", "error: nope.yaml (line 1): the scenario file is empty"),
        ("- a\n- b\n", "error: nope.yaml (line 1): a scenario must be a mapping, got a list"),
        (
            "a: 1\n---\nb: 2\n",
            "error: nope.yaml (line 3): a scenario file holds exactly one YAML document, found 2",
        ),
        (
            b"\xff\xfe",
            "error: nope.yaml (line 1): not UTF-8 text (invalid start byte at byte 0)",
        ),
    ],
    ids=["missing", "empty", "list", "two-documents", "binary"],
)
def test_bad_scenario_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str | bytes | None, expected: str
) -> None:
    if isinstance(setup, bytes):
        (tmp_path / "nope.yaml").write_bytes(setup)
    elif setup is not None:
        (tmp_path / "nope.yaml").write_text(setup)
    res = _invoke(tmp_path, monkeypatch, "run", "nope.yaml", "--out", "out")
    assert res.exit_code == 2
    assert _errors(res.stderr) == [expected]
    _assert_nothing_written(tmp_path)


def test_bad_options(setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup(HEAD)
    res = _invoke(tmp_path, monkeypatch, "run", "scenario.yaml", "--out", "out", "--until", "0")
    assert res.exit_code == 2
    assert "must be greater than 0, got 0" in res.stderr  # one-line form: test_cli_main.py
    for args in (["--seed", "-1"], ["--format", "xml"]):
        res = _invoke(tmp_path, monkeypatch, "run", "scenario.yaml", "--out", "out", *args)
        assert res.exit_code == 2, args
        assert "Traceback" not in res.output
    _assert_nothing_written(tmp_path)


def test_multi_stormservice_file_with_service_name(
    setup: Any, make_manifest: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = HEAD.replace("manifest.yaml", "two.yaml") + "  name: beta\n"
    setup(scenario, {"two.yaml": [make_manifest("alpha"), make_manifest("beta", 4)]})
    res = _invoke(tmp_path, monkeypatch, "validate", "scenario.yaml")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == (
        "ok: t: StormService beta (4 RoleSets, roles prefillx1, decodex1), 0 events"
    )


def test_validate_ok(setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setup(HEAD + "events:\n  - {at_s: 5, kind: set_image, image: 'v:2'}\n")
    res = _invoke(tmp_path, monkeypatch, "validate", "scenario.yaml")
    assert res.exit_code == 0, res.output
    assert (
        res.stdout == "ok: t: StormService llm (2 RoleSets, roles prefillx1, decodex1), 1 event\n"
    )
    assert res.stderr == ""
    assert list(tmp_path.iterdir()) != [] and not (tmp_path / "results").exists()


def test_validate_pluralises(
    setup: Any, make_manifest: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(HEAD.replace("manifest.yaml", "one.yaml"), {"one.yaml": make_manifest(replicas=1)})
    res = _invoke(tmp_path, monkeypatch, "validate", "scenario.yaml")
    assert res.exit_code == 0, res.output
    assert res.stdout == (
        "ok: t: StormService llm (1 RoleSet, roles prefillx1, decodex1), 0 events\n"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.99995, "0.99995"),
        (0.9999999, "0.9999999"),
        (0.99949, "0.9995"),
        (1.0, "1"),
        (0.5, "0.5"),
        (1234.5678, "1235"),
        (None, "-"),
        (3, "3"),
    ],
)
def test_table_values_below_1_never_print_as_1(value: Any, text: str) -> None:
    from stormsim.cli import _fmt

    assert _fmt(value) == text


def test_schema_is_json_schema() -> None:
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    schema = json.loads(res.stdout)
    assert "$defs" in schema
    assert {"name", "cluster", "service", "events", "timing"} <= set(schema["properties"])
    assert "StormService" in schema["$defs"]


def test_run_prints_kpis_and_results_path(
    setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(HEAD + TIMING + "events:\n  - {at_s: 20, kind: set_image, image: 'v:2'}\n")
    res = _invoke(tmp_path, monkeypatch, "run", "scenario.yaml", "--no-plots")
    assert res.exit_code == 0, res.output
    assert "update completed" in res.stdout
    assert res.stdout.rstrip().endswith(f"results: {Path('results') / 't'}")
    assert (tmp_path / "results" / "t" / "summary.json").is_file()


def test_no_arguments_shows_help() -> None:
    res = runner.invoke(app, [])
    assert res.exit_code in (0, 2)
    assert "run" in res.output and "validate" in res.output and "schema" in res.output


def _stormsim_exe() -> Path:
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    return exe


@pytest.mark.parametrize("verb", ["validate", "run"])
def test_subprocess_bad_input_has_no_traceback(setup: Any, tmp_path: Path, verb: str) -> None:
    setup(
        HEAD.replace("count: 1", "count: many")
        + "events:\n  - {at_s: 10, kind: set_image, image: 'v:2', role: nope}\n",
    )
    args = [str(_stormsim_exe()), verb, "scenario.yaml"]
    if verb == "run":
        args += ["--out", "out"]
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "error: cluster.node_pools[0].count (line 5): Input should be a valid integer (got 'many')"
    ]
    _assert_nothing_written(tmp_path)


def test_subprocess_missing_manifest(setup: Any, tmp_path: Path) -> None:
    setup(HEAD.replace("manifest.yaml", "gone.yaml"))
    proc = subprocess.run(
        [str(_stormsim_exe()), "run", "scenario.yaml", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr == "error: service.manifest (line 7): file not found: gone.yaml\n"
    _assert_nothing_written(tmp_path)
