"""Fuzz through the CLI over raw text (issue 14): the scenario file, the manifest file (two
documents) and the trace (CSV or JSONL) are mutated as bytes (flipped bytes, truncation,
duplicated and removed lines, huge numbers, values of the wrong type, bytes that are not UTF-8,
control characters, deep nesting, YAML tags and aliases) and fed to ``stormsim validate`` and
``stormsim run``. Whatever the input:

* the exit code is 0 or 2 (never 1: no traceback, no ``internal error``);
* ``validate`` and ``run`` agree: validate 0 => run 0, validate 2 => run 2;
* every ``error:`` line names a path and a line (or a byte);
* a failed run writes nothing (no output directory, no temporary) and leaves an existing
  results directory as it was;
* each command ends within a time bound, and (in a child process) within a memory bound.

Hypothesis is derandomized (the same examples on every machine) with modest counts: a few
examples by real subprocess (time, memory), the rest in-process through the same ``main``."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stormsim.schema.yamlio import dump_yaml
from tests.conftest import make_manifest
from tests.reliability.cli_helpers import REPO

SCENARIO = """\
# a small fleet replaying a trace while it rolls to a new image
name: fuzz
seed: 1
until_s: 120
cluster:
  node_pools:
    - {name: gpu, count: 2, gpus_per_node: 8, gpu_type: H100-80GB}
timing: {image_pull_s: 1, model_load_s: 2, engine_init_s: 1, readiness_probe_s: 1}
service:
  manifest: manifest.yaml
events:
  - {at_s: 30, kind: set_image, image: "vllm/vllm-openai:v0.11.0"}
  - {at_s: 60, kind: scale, replicas: 3}
workload:
  arrival: {kind: trace, path: TRACE, max_requests: 100}
"""
MANIFEST = (
    "# other kinds are skipped\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
    "data: {a: '1'}\n---\n"
    + dump_yaml(make_manifest(replicas=2, roles=(("prefill", 1, 1), ("decode", 1, 2))))
)
TRACE_CSV = "arrived_at,num_prefill_tokens,num_decode_tokens\n" + "".join(
    f"{0.5 * i:.3f},{100 + 7 * i},{20 + i}\n" for i in range(20)
)
TRACE_JSONL = "".join(
    json.dumps({"timestamp": 500 * i, "input_length": 100 + 7 * i, "output_length": 20 + i}) + "\n"
    for i in range(20)
)
UNTIL = "200"  # --until: a mutated until_s of 1e300 must not make the test slow
TIME_LIMIT_S = 60.0
"""Wall time of one command (generous: a loaded 2-core CI machine)."""
MEMORY_LIMIT = 3 * 2**30
"""Address space of a child (RLIMIT_AS); an unbounded parse fails instead of swapping."""
RSS_LIMIT_KB = 1_000_000
"""Peak resident memory of a child (the base run takes about 150 MB)."""

# ------------------------------------------------------------------------------ mutations

VALUES = [
    "1e308", "-1e308", "1e999", "99999999999999999999999999999", "2147483648", "-1", "0",
    "0.0000001", ".inf", "-.inf", ".nan", "nan", "inf", "true", "null", "~", "[1, 2]", "{a: 1}",
    "''", '"x"', "1Gi", "-50%", " 50%", "5_0%", "0x1F", "1_000", "٣", "!!binary aGk=",
    "*undefined", "&a 1", "2026-01-01T00:00:00", "{}", "[]", "-", "?", "|", ">",
]  # fmt: skip
INSERTS = [
    b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x1b[31m", b"\x07", b"\x7f", b"\t",
    b"\r", b"\r\n", b"\xef\xbb\xbf", b"[" * 300, b"{a: " * 120, b"- " * 200, b"  " * 40,
    b"\n---\n", b"\n- just a list\n", b"\njust a scalar\n", b"\n...\n", b"\n%YAML 1.1\n",
    b'"', b"'", b"#", b":", b",", b"&x [1, *x]", b"!!python/object/apply:os.system ['true']",
    b"1" * 4000, b"a" * 5000, b"\n" * 50, b",,,,", b'{"timestamp": ', b"\\u0000",
    b"\n---\njust a scalar\n", b"\n---\n- a\n- b\n", b"\n---\n42\n",
]  # fmt: skip
TOKEN = re.compile(rb"-?\d+(?:\.\d+)?|(?<=: )[^,\]}\n]+|(?<=,)[^,\n\]}]*")

Op = tuple[Any, ...]
OPS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 2**20)),
    st.tuples(st.just("dup_line"), st.integers(0, 2**20)),
    st.tuples(st.just("del_line"), st.integers(0, 2**20)),
    st.tuples(st.just("value"), st.integers(0, 2**20), st.sampled_from(VALUES)),
    st.tuples(st.just("insert"), st.integers(0, 2**20), st.sampled_from(INSERTS)),
)
TARGETS = ("scenario", "manifest", "csv", "jsonl")


def mutate(data: bytes, ops: list[Op]) -> bytes:
    for op in ops:
        kind, at = op[0], op[1]
        if kind == "flip" and data:
            i = at % len(data)
            data = data[:i] + bytes([op[2]]) + data[i + 1 :]
        elif kind == "truncate":
            data = data[: at % (len(data) + 1)]
        elif kind in ("dup_line", "del_line"):
            lines = data.splitlines(keepends=True)
            if lines:
                i = at % len(lines)
                lines[i : i + 1] = [lines[i]] * (2 if kind == "dup_line" else 0)
                data = b"".join(lines)
        elif kind == "value":
            spans = list(TOKEN.finditer(data))
            if spans:
                m = spans[at % len(spans)]
                data = data[: m.start()] + op[2].encode() + data[m.end() :]
        elif kind == "insert":
            i = at % (len(data) + 1)
            data = data[:i] + op[2] + data[i:]
    return data


@dataclass
class Case:
    """A work directory with the (mutated) inputs, an output directory that must not appear
    and an existing results directory that must survive a failed run."""

    root: Path
    scenario: Path
    fresh_out: Path
    old_results: Path


def make_case(root: Path, target: str, ops: list[Op], trace: str) -> Case:
    inputs = root / "in"
    inputs.mkdir(parents=True)
    trace_name = "trace.csv" if trace == "csv" else "trace.jsonl"
    files = {
        "scenario": ("scenario.yaml", SCENARIO.replace("TRACE", trace_name).encode()),
        "manifest": ("manifest.yaml", MANIFEST.encode()),
        "csv": ("trace.csv", TRACE_CSV.encode()),
        "jsonl": ("trace.jsonl", TRACE_JSONL.encode()),
    }
    for key, (name, text) in files.items():
        (inputs / name).write_bytes(mutate(text, ops) if key == target else text)
    outs = root / "outs"
    old = outs / "old-results"
    old.mkdir(parents=True)
    (old / "summary.json").write_text('{"kept": true}\n')
    (old / "provenance.json").write_text("{}\n")
    (old / "notes.txt").write_text("a user's file\n")
    return Case(root, inputs / "scenario.yaml", outs / "new", old)


def tree(path: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``path``: (size, mtime_ns)."""
    out = {}
    for p in sorted(path.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(path))] = (st.st_size if p.is_file() else -1, st.st_mtime_ns)
    return out


# ------------------------------------------------------------------------------ running

ERROR_LINE = re.compile(r"^error: \S.*(\((line \d+)|\bbyte \d+)")
TRACE_NAMED = re.compile(r"trace\.(csv|jsonl)\b")
TRACE_LINE = re.compile(r"trace\.(csv|jsonl), line \d+: ")


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    wall_s: float
    maxrss_kb: int | None = None


def run_child(args: list[str], cwd: Path) -> Outcome:
    """``stormsim ARGS`` in a child process with a memory limit; its peak RSS from wait4."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    env.pop("STORMSIM_TRACEBACK", None)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    out, err = cwd / ".stdout", cwd / ".stderr"
    t0 = time.perf_counter()
    with out.open("wb") as so, err.open("wb") as se:
        p = subprocess.Popen(
            [sys.executable, "-c", "from stormsim.cli import main; main()", *args],
            cwd=cwd, env=env, stdout=so, stderr=se, stdin=subprocess.DEVNULL, preexec_fn=limit,
        )  # fmt: skip
        killer = threading.Timer(TIME_LIMIT_S * 2, p.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            killer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    text = [f.read_text(errors="replace") for f in (out, err)]
    out.unlink()
    err.unlink()
    return Outcome(p.returncode, text[0], text[1], wall, usage.ru_maxrss)


def run_inprocess(args: list[str], cwd: Path) -> Outcome:
    """``stormsim ARGS`` through the same ``main`` in this process."""
    from stormsim.cli import main

    so, se = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    code: Any = 0
    env = {k: v for k, v in os.environ.items() if k != "STORMSIM_TRACEBACK"}
    with (
        mock.patch.object(sys, "argv", ["stormsim", *args]),
        mock.patch.dict(os.environ, env, clear=True),
        redirect_stdout(so),
        redirect_stderr(se),
    ):
        try:
            main()
        except SystemExit as e:
            code = e.code
    return Outcome(int(code or 0), so.getvalue(), se.getvalue(), time.perf_counter() - t0)


def check_outcome(o: Outcome, what: str) -> None:
    assert o.code in (0, 2), f"{what}: exit {o.code}\n{o.stderr[-3000:]}"
    assert "Traceback" not in o.stderr and "internal error" not in o.stderr, o.stderr[-3000:]
    assert o.wall_s < TIME_LIMIT_S, f"{what} took {o.wall_s:.1f} s"
    if o.maxrss_kb is not None:
        assert o.maxrss_kb < RSS_LIMIT_KB, f"{what}: peak RSS {o.maxrss_kb} kB"
    errors = [ln for ln in o.stderr.splitlines() if ln.startswith("error")]
    if o.code == 2:
        assert errors, o.stderr
    for line in errors:
        assert ERROR_LINE.match(line), f"{what}: no path and line in {line!r}"
        if TRACE_NAMED.search(line):  # a problem inside the trace: the trace's line too
            assert TRACE_LINE.search(line), f"{what}: no line of the trace in {line!r}"


def exercise(case: Case, runner: Any, use_old: bool) -> None:
    """validate, then run into a fresh or an existing results directory; check both."""
    sc = str(case.scenario)
    v = runner(["validate", sc], case.root)
    check_outcome(v, "validate")
    target = case.old_results if use_old else case.fresh_out
    before = tree(case.root / "outs")
    r = runner(["run", sc, "--out", str(target), "--no-plots", "--until", UNTIL], case.root)
    check_outcome(r, "run")
    assert r.code == v.code, f"validate exit {v.code} but run exit {r.code}:\n{r.stderr}"
    if r.code == 2:
        assert tree(case.root / "outs") == before  # nothing written, nothing replaced
        assert not case.fresh_out.exists()
        assert (case.old_results / "notes.txt").read_text() == "a user's file\n"
    else:
        assert (target / "summary.json").is_file() and (target / "provenance.json").is_file()
        assert not [p for p in (case.root / "outs").iterdir() if p.name.startswith(".")]


CASES = st.tuples(
    st.sampled_from(TARGETS),
    st.lists(OPS, min_size=1, max_size=3),
    st.sampled_from(["csv", "jsonl"]),
    st.booleans(),
)


def _case(tmp_path: Path, n: list[int], target: str, ops: list[Op], trace: str) -> Case:
    n[0] += 1
    if target in ("csv", "jsonl"):
        trace = target  # mutate the trace the scenario reads
    return make_case(tmp_path / f"ex{n[0]}", target, ops, trace)


@settings(
    max_examples=4, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
@given(CASES)
def test_fuzz_cli_subprocess(tmp_path_factory: Any, case: tuple[Any, ...]) -> None:
    target, ops, trace, use_old = case
    root = tmp_path_factory.mktemp("fuzz")
    exercise(_case(root, [0], target, ops, trace), run_child, use_old)


@settings(
    max_examples=50, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
@given(CASES)
def test_fuzz_cli_in_process(tmp_path_factory: Any, case: tuple[Any, ...]) -> None:
    target, ops, trace, use_old = case
    root = tmp_path_factory.mktemp("fuzz")
    exercise(_case(root, [0], target, ops, trace), run_inprocess, use_old)


def test_the_unmutated_inputs_run(tmp_path: Path) -> None:
    """The base inputs are valid for both traces (so the mutations start from a run)."""
    for trace in ("csv", "jsonl"):
        case = make_case(tmp_path / trace, "none", [], trace)
        v = run_inprocess(["validate", str(case.scenario)], case.root)
        assert v.code == 0, v.stderr
        exercise(case, run_inprocess, use_old=trace == "jsonl")
