"""``validate`` checks what ``run`` checks before simulating (issue 9 item 5, issue 14): the same
message and exit 2 from both, and traces read and checked row by row with file and line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_manifest, make_scenario, write_scenario
from tests.reliability.cli_helpers import error_lines, stormsim

WORKLOAD = {
    "arrival": {"kind": "poisson", "rate_rps": 1},
    "prompt_tokens": {"kind": "constant", "value": 100},
    "output_tokens": {"kind": "constant", "value": 10},
}


def _both(tmp_path: Path, data: dict[str, Any], **kw: Any) -> tuple[list[str], list[str]]:
    sc = write_scenario(tmp_path / "sc", data, **kw)
    v = stormsim("validate", str(sc), cwd=tmp_path)
    r = stormsim("run", str(sc), "--no-plots", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert v.returncode == 2, v.stdout + v.stderr
    assert r.returncode == 2, r.stdout + r.stderr
    assert not (tmp_path / "out").exists()
    assert "internal error" not in v.stderr + r.stderr
    return error_lines(v.stderr), error_lines(r.stderr)


def test_unknown_model(tmp_path: Path) -> None:
    data = make_scenario(make_manifest(), workload=WORKLOAD, serving={"model": "no-such-llm"})
    v, r = _both(tmp_path, data)
    assert v == r and len(v) == 1 and "unknown model 'no-such-llm'" in v[0]


def test_unknown_gpu_type(tmp_path: Path) -> None:
    data = make_scenario(make_manifest(), workload=WORKLOAD)
    data["cluster"]["node_pools"][0]["gpu_type"] = "Z9000"
    v, r = _both(tmp_path, data)
    assert v == r and len(v) == 1 and "unknown GPU type 'Z9000'" in v[0]


def test_ready_fleet_that_does_not_fit(tmp_path: Path) -> None:
    data = make_scenario(make_manifest(replicas=5), gpus_per_node=4)
    data["service"]["initial_state"] = "ready"
    v, r = _both(tmp_path, data)
    assert v == r and len(v) == 1 and "the fleet does not fit the cluster" in v[0]


def _trace_scenario(tmp_path: Path, text: str | bytes, name: str = "t.csv") -> dict[str, Any]:
    d = tmp_path / "sc"
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    wl = {"arrival": {"kind": "trace", "path": name}}
    return make_scenario(make_manifest(), workload=wl)


HEADER = "timestamp,prompt_tokens,output_tokens\n"


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        (HEADER + "0,10,5\n1,junk,5\n", "t.csv", "line 3: prompt tokens 'junk' is not a number"),
        (HEADER + "0,10,5\n1,10\n", "t.csv", "line 3: 2 fields, need 3"),
        (HEADER + "0,inf,5\n", "t.csv", "line 2: prompt tokens 'inf' is not a token count"),
        (HEADER + "nan,1,5\n", "t.csv", "line 2: arrival time 'nan' is not finite"),
        (b"timestamp,prompt_tokens,output_tokens\n0,1,\xff\n", "t.csv", "not UTF-8"),
        ('{"timestamp": 0, "input_length": 1, "output_length": 1}\n{bad\n', "t.jsonl",
         "line 2: not JSON"),
        ('[1, 2]\n', "t.jsonl", "line 1: a JSONL row must be an object"),
        ('{"timestamp": 0, "input_length": 1}\n', "t.jsonl", "line 1: no 'output_length'"),
    ],
)  # fmt: skip
def test_malformed_trace_names_file_and_line(
    tmp_path: Path, text: str | bytes, name: str, message: str
) -> None:
    v, r = _both(tmp_path, _trace_scenario(tmp_path, text, name))
    assert v == r and len(v) == 1 and message in v[0] and name in v[0], v


def test_missing_trace_and_fifo(tmp_path: Path) -> None:
    data = _trace_scenario(tmp_path, HEADER)
    (tmp_path / "sc" / "t.csv").unlink()
    sc = write_scenario(tmp_path / "sc", data)
    p = stormsim("validate", str(sc), cwd=tmp_path)
    assert p.returncode == 2 and "cannot read trace" in p.stderr
    os.mkfifo(tmp_path / "sc" / "t.csv")
    p = stormsim("validate", str(sc), cwd=tmp_path, timeout=60)
    assert p.returncode == 2 and "not a regular file" in p.stderr


def test_max_requests_stops_reading(tmp_path: Path) -> None:
    # a junk row after the first 3 requests is never read
    data = _trace_scenario(tmp_path, HEADER + "0,10,5\n1,10,5\n2,10,5\nx,y,z\n")
    data["workload"]["arrival"]["max_requests"] = 3
    sc = write_scenario(tmp_path / "sc", data)
    p = stormsim("validate", str(sc), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
