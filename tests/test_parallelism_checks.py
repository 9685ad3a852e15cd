"""``serving.roles.<role>``: tensor_parallel × pipeline_parallel must equal the GPUs of the
role's serving instance (pod GPUs × podGroupSize); a tensor-parallel degree left unset is
derived from the pod, so the stages must divide the GPUs. Checked at load (Python loader and
``stormsim validate`` as a subprocess), every problem at its path and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import stormsim
from tests.conftest import make_manifest, make_scenario, write_yaml

TP4_ON_8 = (
    "tensor_parallel 4 × pipeline_parallel 1 (the default) = 4 GPUs, but an instance of role "
    "'prefill' (service.manifest: 8 nvidia.com/gpu per pod × podGroupSize 1) has 8: each GPU "
    "of the instance holds one shard of the engine"
)


def _write(
    tmp_path: Path, roles: dict[str, Any], manifest: dict[str, Any] | None = None, **kw: Any
) -> Path:
    man = manifest or make_manifest(roles=(("prefill", 1, 8), ("decode", 1, 8)), replicas=1)
    write_yaml(tmp_path / "manifest.yaml", man)
    data = make_scenario(
        "manifest.yaml", serving={"model": "llama-3.1-70b", "roles": roles}, nodes=4, **kw
    )
    return write_yaml(tmp_path / "scenario.yaml", data)


def _line(path: Path, text: str) -> int:
    return next(i for i, s in enumerate(path.read_text().splitlines(), 1) if text in s)


def _problems(path: Path) -> list[tuple[str, int | None, str | None, str]]:
    with pytest.raises(stormsim.InputError) as e:
        stormsim.load_scenario(path)
    return [
        (p.path, p.line, Path(p.file).name if p.file else None, p.message) for p in e.value.problems
    ]


def test_an_explicit_tp_below_the_pod_gpus_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, {"prefill": {"tensor_parallel": 4}})
    assert _problems(path) == [
        (
            "serving.roles.prefill.tensor_parallel",
            _line(path, "tensor_parallel"),
            None,  # the scenario file itself
            TP4_ON_8,
        )
    ]


def test_consistent_parallelism_loads(tmp_path: Path) -> None:
    ok = {
        "prefill": {"tensor_parallel": 8},
        "decode": {"tensor_parallel": 4, "pipeline_parallel": 2},
    }
    stormsim.load_scenario(_write(tmp_path, ok))
    # a role that serves nothing is not checked
    man = make_manifest(roles=(("prefill", 1, 8), ("decode", 1, 8), ("proxy", 1, 0)), replicas=1)
    stormsim.load_scenario(_write(tmp_path, {"proxy": {"tensor_parallel": 2}}, man))


def test_a_multi_node_instance_counts_every_member(tmp_path: Path) -> None:
    # decode: a PodSet of 2 pods of 8 GPUs, one engine of 16
    man = make_manifest(roles=(("decode", 1, 8),), replicas=1, pod_group_size=2)
    stormsim.load_scenario(
        _write(tmp_path, {"decode": {"tensor_parallel": 8, "pipeline_parallel": 2}}, man)
    )
    stormsim.load_scenario(_write(tmp_path, {"decode": {"tensor_parallel": 16}}, man))
    path = _write(tmp_path, {"decode": {"tensor_parallel": 8}}, man)
    assert [p[3] for p in _problems(path)] == [
        "tensor_parallel 8 × pipeline_parallel 1 (the default) = 8 GPUs, but an instance of "
        "role 'decode' (service.manifest: 8 nvidia.com/gpu per pod × podGroupSize 2) has 16: "
        "each GPU of the instance holds one shard of the engine"
    ]


def test_derived_tp_needs_stages_that_divide_the_gpus(tmp_path: Path) -> None:
    path = _write(tmp_path, {"decode": {"pipeline_parallel": 3}})
    assert _problems(path) == [
        (
            "serving.roles.decode.pipeline_parallel",
            _line(path, "pipeline_parallel"),
            None,  # the scenario file itself
            "pipeline_parallel 3 does not divide the 8 GPUs of an instance of role 'decode' "
            "(service.manifest: 8 nvidia.com/gpu per pod × podGroupSize 1): tensor_parallel is "
            "not set, so it is derived from the pod as the instance's GPUs ÷ the pipeline stages",
        )
    ]


def test_stages_from_the_engine_command_line(tmp_path: Path) -> None:
    man = make_manifest(roles=(("decode", 1, 8),), replicas=1, pod_group_size=2)
    man["spec"]["template"]["spec"]["roles"][0]["template"]["spec"]["containers"][0]["args"] = [
        "--pipeline-parallel-size",
        "3",
    ]
    path = _write(tmp_path, {}, man)
    ((where, line, file, msg),) = _problems(path)
    assert (where, file) == ("spec.template.spec.roles[0]", "manifest.yaml")
    assert line == _line(tmp_path / "manifest.yaml", "- name: decode")
    assert msg.startswith("3 pipeline stages (the engine's command line) does not divide the 16")
    # with an explicit tensor_parallel, the product is checked
    path = _write(tmp_path, {"decode": {"tensor_parallel": 8}}, man)
    assert [p[3] for p in _problems(path)] == [
        "tensor_parallel 8 × 3 pipeline stages (the engine's command line) = 24 GPUs, but an "
        "instance of role 'decode' (service.manifest: 8 nvidia.com/gpu per pod × podGroupSize "
        "2) has 16: each GPU of the instance holds one shard of the engine"
    ]


def test_an_applied_manifest_is_checked_too(tmp_path: Path) -> None:
    # TP 8 fits the first manifest; the manifest applied at 60 s gives prefill 4 GPUs per pod
    write_yaml(
        tmp_path / "v2.yaml", make_manifest(roles=(("prefill", 1, 4), ("decode", 1, 8)), replicas=1)
    )
    path = _write(
        tmp_path,
        {"prefill": {"tensor_parallel": 8}},
        events=[{"at_s": 60, "kind": "apply", "manifest": "v2.yaml"}],
    )
    assert [p[3] for p in _problems(path)] == [
        "tensor_parallel 8 × pipeline_parallel 1 (the default) = 8 GPUs, but an instance of "
        "role 'prefill' (events[0].manifest: 4 nvidia.com/gpu per pod × podGroupSize 1) has 4: "
        "each GPU of the instance holds one shard of the engine"
    ]


def test_validate_subprocess_exits_2_with_the_path_and_line(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "stormsim"
    if not exe.exists():
        pytest.skip(f"console script not installed at {exe}")
    path = _write(tmp_path, {"prefill": {"tensor_parallel": 4}})
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [str(exe), "validate", "scenario.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    line = _line(path, "tensor_parallel")
    assert proc.stderr.splitlines() == [
        f"error: serving.roles.prefill.tensor_parallel (line {line}): {TP4_ON_8}"
    ]
