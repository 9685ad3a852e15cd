"""Every input error names its file and line (or byte) (issue 14, "messages without a line"):
a manifest or scenario document that is not a mapping, text that is not UTF-8, control
characters, and malformed trace files (CSV and JSONL), through ``validate`` and ``run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from stormsim.schema.yamlio import dump_yaml
from tests.conftest import make_manifest, make_scenario, write_scenario
from tests.reliability.cli_helpers import error_lines, stormsim

MANIFEST = dump_yaml(make_manifest())
N = len(MANIFEST.splitlines())


def _both(tmp_path: Path, sc: Path) -> list[str]:
    """The error lines of validate and run (the same, exit 2, nothing written)."""
    v = stormsim("validate", str(sc), cwd=tmp_path)
    r = stormsim("run", str(sc), "--no-plots", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert v.returncode == 2 and r.returncode == 2, v.stderr + r.stderr
    assert "internal error" not in v.stderr + r.stderr and "Traceback" not in v.stderr + r.stderr
    assert not (tmp_path / "out").exists()
    assert error_lines(v.stderr) == error_lines(r.stderr)
    return error_lines(v.stderr)


def _with_manifest(tmp_path: Path, text: str | bytes) -> Path:
    raw = text if isinstance(text, bytes) else text.encode()
    (tmp_path / "manifest.yaml").write_bytes(raw)
    return write_scenario(tmp_path, make_scenario("manifest.yaml"))


@pytest.mark.parametrize(
    ("doc", "got"),
    [
        ("- a\n- b\n", "a list"),
        ("just a scalar\n", "'just a scalar'"),
        ("42\n", "42"),
        ("# a comment first\n\n'quoted'\n", "'quoted'"),
    ],
)
def test_a_manifest_document_that_is_not_a_mapping_names_its_line(
    tmp_path: Path, doc: str, got: str
) -> None:
    """After a StormService, a ConfigMap, and then the bad document: its first line."""
    text = MANIFEST + "---\nkind: ConfigMap\nmetadata: {name: c}\n---\n" + doc
    start = N + 5 + next(i for i, ln in enumerate(doc.splitlines()) if ln and ln[0] != "#")
    (line,) = _both(tmp_path, _with_manifest(tmp_path, text))
    assert line == (
        f"error: {tmp_path / 'manifest.yaml'} (line {start}): "
        f"a manifest document must be a mapping, got {got}"
    )


def test_a_first_document_that_is_not_a_mapping(tmp_path: Path) -> None:
    (line,) = _both(tmp_path, _with_manifest(tmp_path, "# header\n- x\n---\n" + MANIFEST))
    assert "(line 2): a manifest document must be a mapping, got a list" in line


def test_a_long_scalar_document_is_shortened(tmp_path: Path) -> None:
    (line,) = _both(tmp_path, _with_manifest(tmp_path, MANIFEST + "---\n" + "x" * 5000 + "\n"))
    assert f"(line {N + 2}): a manifest document must be a mapping" in line and len(line) < 400


@pytest.mark.parametrize(("text", "line_no"), [("- 1\n", 1), ("# c\n\nhello\n", 3)])
def test_a_scenario_that_is_not_a_mapping_names_its_line(
    tmp_path: Path, text: str, line_no: int
) -> None:
    sc = tmp_path / "s.yaml"
    sc.write_text(text)
    (line,) = _both(tmp_path, sc)
    assert line.startswith(f"error: {sc} (line {line_no}): a scenario must be a mapping, got ")


def test_a_scenario_that_is_not_utf8_names_byte_and_line(tmp_path: Path) -> None:
    sc = tmp_path / "s.yaml"
    sc.write_bytes(b"name: x\nseed: 1\ndescription: caf\xe9\n")
    (line,) = _both(tmp_path, sc)
    assert line == (f"error: {sc} (line 3): not UTF-8 text (invalid continuation byte at byte 32)")


def test_a_manifest_that_is_not_utf8_names_byte_and_line(tmp_path: Path) -> None:
    raw = MANIFEST.encode() + b"# \xff\n"
    at = len(MANIFEST.encode()) + 2
    (line,) = _both(tmp_path, _with_manifest(tmp_path, raw))
    assert f"(line {N + 1} of {tmp_path / 'manifest.yaml'}): not UTF-8 text" in line
    assert f"at byte {at})" in line


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f"])
def test_control_characters_name_their_line(tmp_path: Path, char: str) -> None:
    sc = tmp_path / "s.yaml"
    sc.write_text(f"name: x\nseed: 1\ndescription: a{char}b\n")
    (line,) = _both(tmp_path, sc)
    assert line == f"error: {sc} (line 3): control character {char!r} in the text"
    (line,) = _both(tmp_path, _with_manifest(tmp_path, MANIFEST + f"# {char}\n"))
    assert line == (
        f"error: {tmp_path / 'manifest.yaml'} (line {N + 1}): control character {char!r} "
        "in the text"
    )


# ------------------------------------------------------------------------------- traces

HEADER = b"arrived_at,num_prefill_tokens,num_decode_tokens\n"


def _with_trace(tmp_path: Path, name: str, raw: bytes) -> Path:
    (tmp_path / name).write_bytes(raw)
    wl = {"arrival": {"kind": "trace", "path": name}}
    return write_scenario(tmp_path, make_scenario(make_manifest(), workload=wl))


def test_a_trace_that_is_not_utf8_names_the_files_byte_and_line(tmp_path: Path) -> None:
    """Past the first read blocks: the byte is the file's, not a block's."""
    rows = b"".join(b"%d.0,10,5\n" % i for i in range(200_000))
    raw = HEADER + rows + b"1e9,1\xff,5\n"
    (line,) = _both(tmp_path, _with_trace(tmp_path, "t.csv", raw))
    assert f"t.csv, line {200_002}: not UTF-8 text (invalid start byte at byte {len(raw) - 4})" in (
        line
    )


def test_a_jsonl_trace_that_is_not_utf8(tmp_path: Path) -> None:
    raw = b'{"timestamp": 0, "input_length": 1, "output_length": 1}\n{"timestamp": "\xc3"}\n'
    at = raw.index(b"\xc3")
    (line,) = _both(tmp_path, _with_trace(tmp_path, "t.jsonl", raw))
    assert "t.jsonl, line 2: not UTF-8 text" in line and f"at byte {at})" in line


def test_a_nul_in_a_csv_trace_names_its_line(tmp_path: Path) -> None:
    (line,) = _both(tmp_path, _with_trace(tmp_path, "t.csv", HEADER + b"0,1,1\n1,\x00,1\n"))
    assert "t.csv, line 3: prompt tokens '\\x00' is not a number" in line


def test_malformed_csv_names_its_line(tmp_path: Path) -> None:
    """A field over the csv module's limit (131,072 characters)."""
    raw = HEADER + b"0,1,1\n1,1,1\n2," + b"9" * 200_000 + b",1\n"
    (line,) = _both(tmp_path, _with_trace(tmp_path, "t.csv", raw))
    assert "t.csv, line 4: malformed CSV: field larger than field limit" in line


def test_a_csv_header_without_a_column_names_line_1(tmp_path: Path) -> None:
    raw = b"arrived_at," + b"x" * 3000 + b"\n0,1\n"
    (line,) = _both(tmp_path, _with_trace(tmp_path, "t.csv", raw))
    assert "t.csv, line 1: no prompt tokens column" in line and len(line) < 600
