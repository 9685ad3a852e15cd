"""The installed ``stormsim`` entry point: bad arguments give one ``error:`` line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import stormsim

EXE = Path(sys.executable).with_name("stormsim")


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


@pytest.mark.skipif(not EXE.exists(), reason="stormsim entry point not installed")
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--format", "xml"], "error: Invalid value for '--format'"),
        (["run", "--seed", "-1"], "error: Invalid value for '--seed'"),
        (["bogus"], "error: No such command 'bogus'."),
        (["run", "--no-such-option"], "error: No such option: --no-such-option"),
    ],
)
def test_bad_arguments_one_line_exit_2(args: list[str], expected: str) -> None:
    p = _run(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(expected)
    assert "Traceback" not in p.stderr


@pytest.mark.skipif(not EXE.exists(), reason="stormsim entry point not installed")
def test_rollback_to_missing_revision_names_the_event_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    src = Path(stormsim.default_scenario_path()).parent / "manifests" / "llm-1p1d.yaml"
    manifest.write_text(src.read_text())
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: rb\n"
        "cluster: {node_pools: [{name: h, count: 1, gpus_per_node: 8}]}\n"
        "service: {manifest: m.yaml}\n"
        "events:\n"
        "  - {at_s: 10, kind: rollback, to_revision: 7}\n"
    )
    p = _run("run", str(scenario), "--out", str(tmp_path / "out"))
    assert p.returncode == 2
    assert p.stderr.strip().startswith(
        "error: events[0].to_revision (line 5): no ControllerRevision"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not EXE.exists(), reason="stormsim entry point not installed")
@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_until_must_be_positive(command: str) -> None:
    args = [command] if command == "run" else [command, "scenarios/default.yaml"]
    p = _run(*args, "--until", "0", cwd=Path(__file__).resolve().parents[1])
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"error: Invalid value for '--until': must be greater than 0, got 0 "
        f"(see `stormsim {command} --help`)"
    ]


def test_internal_errors_are_one_line_exit_1(monkeypatch, capsys) -> None:
    from stormsim import cli

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(stormsim, "run", boom)
    monkeypatch.delenv("STORMSIM_TRACEBACK", raising=False)
    monkeypatch.setattr("sys.argv", ["stormsim", "run", "--no-plots"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("internal error: RuntimeError: boom")
