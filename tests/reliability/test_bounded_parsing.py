"""Parsing is bounded and every malformed file is one input error with file and line: alias
bombs, deep nesting, FIFOs and devices, huge files, YAML tags, scalar metadata, control
characters, duplicate StormService names."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from stormsim.errors import InputError
from stormsim.schema.loader import load_scenario
from stormsim.schema.yamlio import MAX_YAML_DEPTH
from tests.conftest import make_manifest, make_scenario, write_scenario, write_yaml
from tests.reliability.cli_helpers import error_lines, stormsim

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7)
)


def _problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


def test_alias_bomb_is_rejected_fast(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(BOMB)
    t0 = time.perf_counter()
    (msg,) = _problems(p)
    assert time.perf_counter() - t0 < 30
    assert "expands to more than 200,000 values" in msg and "line" in msg


@pytest.mark.parametrize("levels", [MAX_YAML_DEPTH + 5, 300, 5000])
def test_deep_nesting_is_an_input_error(tmp_path: Path, levels: int) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("a: " + "[" * levels + "]" * levels + "\n")
    (msg,) = _problems(p)
    assert "nested deeper than" in msg


def test_fifo_and_device_manifests_do_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    sc = write_scenario(tmp_path, make_scenario("fifo.yaml"))
    p = stormsim("validate", str(sc), cwd=tmp_path, timeout=60)
    assert p.returncode == 2 and "not a regular file" in p.stderr
    if Path("/dev/zero").exists():
        sc = write_scenario(tmp_path, make_scenario("/dev/zero"), filename="z.yaml")
        p = stormsim("validate", str(sc), cwd=tmp_path, timeout=60)
        assert p.returncode == 2 and "not a regular file" in p.stderr


def test_huge_file_is_rejected_without_reading_it(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    with p.open("wb") as f:
        f.truncate(64 * 2**20)  # sparse
    (msg,) = _problems(p)
    assert "larger than 8 MiB" in msg


def _run_both(tmp_path: Path, manifest_text: str) -> list[str]:
    (tmp_path / "manifest.yaml").write_text(manifest_text)
    sc = write_scenario(tmp_path, make_scenario("manifest.yaml"))
    v = stormsim("validate", str(sc), cwd=tmp_path)
    r = stormsim("run", str(sc), "--no-plots", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert v.returncode == 2 and r.returncode == 2, v.stderr + r.stderr
    assert "internal error" not in v.stderr + r.stderr
    assert not (tmp_path / "out").exists()
    assert error_lines(v.stderr) == error_lines(r.stderr)
    return error_lines(v.stderr)


def _manifest_text(**kw: Any) -> str:
    from stormsim.schema.yamlio import dump_yaml

    return dump_yaml(make_manifest(**kw))


def test_yaml_tag_in_the_pod_spec(tmp_path: Path) -> None:
    text = _manifest_text().replace("image: vllm", "image: !secret vllm", 1)
    (line,) = _run_both(tmp_path, text)
    assert "YAML tag !secret is not supported" in line and "line" in line


def test_scalar_metadata(tmp_path: Path) -> None:
    text = _manifest_text().replace("metadata:\n  name: llm\n", "metadata: llm\n", 1)
    (line,) = _run_both(tmp_path, text)
    assert "metadata" in line and "must be a mapping" in line and "line 3" in line


def test_control_character_names_its_line(tmp_path: Path) -> None:
    text = _manifest_text().replace("name: llm", "name: l\x1b[31mlm", 1)
    (line,) = _run_both(tmp_path, text)
    assert "control character" in line and "line" in line and "\x1b" not in line


def test_two_stormservices_of_the_same_name(tmp_path: Path) -> None:
    write_yaml(tmp_path / "two.yaml", [make_manifest(), make_manifest(replicas=3)])
    data = make_scenario("two.yaml")
    data["service"]["name"] = "llm"
    sc = write_scenario(tmp_path, data)
    (msg,) = _problems(sc)
    assert "2 StormServices named 'llm'" in msg and "line" in msg
