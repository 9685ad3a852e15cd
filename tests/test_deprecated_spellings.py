"""Old spellings of scenario keys and values still load, with a StormsimWarning naming the
field path, its line and the new spelling, and give exactly the results of the new spelling:
``dist:`` (durations) and ``action:`` (events) are now ``kind:``; a ``combined`` role is now
``colocated``."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

import stormsim
from stormsim.schema.deprecated import DURATION_KEYS, RENAMED_TAGS, RENAMED_VALUES
from stormsim.schema.loader import StormsimWarning
from stormsim.schema.scenario import Timing, scenario_dump

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "scenarios" / "manifests" / "serving-2p1d.yaml"

NEW = f"""\
name: spellings
seed: 3
until_s: 260
cluster:
  node_pools:
    - {{name: h100, count: 2, gpus_per_node: 8, gpu_type: H100-80GB}}
timing:
  image_pull_s: {{kind: lognormal, median_s: 40, p90_s: 60}}
  readiness_probe_s: {{kind: uniform, low_s: 0, high_s: 5}}
  roles:
    decode:
      model_load_s: {{kind: exponential, mean_s: 20}}
service:
  manifest: {MANIFEST}
events:
  - {{at_s: 120, kind: set_image, image: "vllm/vllm-openai:v0.11.0"}}
  - {{at_s: 125, kind: pause}}
  - {{at_s: 140, kind: resume}}
workload:
  arrival: {{kind: poisson, rate_rps: 8}}
  prompt_tokens: {{kind: lognormal, median: 512, p90: 2048, max: 8192}}
  output_tokens: {{kind: constant, value: 64}}
  slo: {{ttft_s: 1.0, tpot_s: 0.05}}
  start_s: 80
serving:
  roles:
    decode: {{kind: colocated}}
"""

OLD = (
    NEW.replace("{kind: lognormal, median_s", "{dist: lognormal, median_s")
    .replace("{kind: uniform", "{dist: uniform")
    .replace("{kind: exponential", "{dist: exponential")
    .replace("kind: set_image", "action: set_image")
    .replace("kind: pause", "action: pause")
    .replace("kind: resume", "action: resume")
    .replace("{kind: colocated}", "{kind: combined}")
)

EXPECTED_WARNINGS = [
    ("timing.image_pull_s.dist", 8, "key 'dist'", "'kind'"),
    ("timing.readiness_probe_s.dist", 9, "key 'dist'", "'kind'"),
    ("timing.roles.decode.model_load_s.dist", 12, "key 'dist'", "'kind'"),
    ("events[0].action", 16, "key 'action'", "'kind'"),
    ("events[1].action", 17, "key 'action'", "'kind'"),
    ("events[2].action", 18, "key 'action'", "'kind'"),
    ("serving.roles.decode.kind", 27, "value 'combined'", "'colocated'"),
]


def _load(tmp_path: Path, text: str, name: str) -> tuple[stormsim.Scenario, list[str]]:
    p = tmp_path / name
    p.write_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sc = stormsim.load_scenario(p)
    msgs = [str(w.message) for w in caught if issubclass(w.category, StormsimWarning)]
    return sc, msgs


def test_old_spellings_warn_with_path_line_and_new_spelling(tmp_path: Path) -> None:
    _, new_msgs = _load(tmp_path, NEW, "new.yaml")
    assert new_msgs == []
    _, msgs = _load(tmp_path, OLD, "old.yaml")
    assert len(msgs) == len(EXPECTED_WARNINGS)
    for msg, (path, line, old, new) in zip(msgs, EXPECTED_WARNINGS, strict=True):
        assert msg.startswith(f"{tmp_path / 'old.yaml'}: {path} (line {line}): {old} ")
        assert f"deprecated spelling; write {new}" in msg


def test_old_spellings_give_identical_results(tmp_path: Path) -> None:
    old, _ = _load(tmp_path, OLD, "old.yaml")
    new, _ = _load(tmp_path, NEW, "new.yaml")
    assert scenario_dump(old) == scenario_dump(new)
    a, b = stormsim.run(old), stormsim.run(new)
    # the same results; the old spellings' summary also lists their deprecation warnings
    deprecated = [w for w in a.summary["warnings"] if "deprecated spelling" in w]
    assert len(deprecated) == len(EXPECTED_WARNINGS)
    assert [w for w in a.summary["warnings"] if w not in deprecated] == b.summary["warnings"]
    assert {**a.summary, "warnings": None} == {**b.summary, "warnings": None}
    assert a.summary["requests_arrived"] > 0 and a.summary["n_rollouts"] == 1
    assert set(a.frames) == set(b.frames)
    for name in a.frames:
        assert a.frames[name].equals(b.frames[name]), name
    # the renamed value is applied: the decode role serves both phases
    req = a.frames["requests"]
    done = req[req["outcome"] == "completed"]
    assert len(done) and (done["prefill_pod"] == done["decode_pod"]).all()


def test_old_spellings_in_a_mapping_and_every_shipped_scenario(tmp_path: Path) -> None:
    """Every shipped scenario rewritten in the old spelling loads to the same scenario."""
    tag = re.compile(r"\bkind: (lognormal|uniform|exponential)(, (median_s|low_s|mean_s))")
    ev = re.compile(r"\bkind: (set_image|apply|scale|pause|resume|rollback|crash_pod|fail_node)")
    n_old = 0
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        text = path.read_text()
        old = ev.sub(r"action: \1", tag.sub(r"dist: \1\2", text))
        n_old += old != text
        (tmp_path / path.name).write_text(old)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = scenario_dump(stormsim.load_scenario(path))
            got = scenario_dump(stormsim.load_scenario(tmp_path / path.name, base_dir=path.parent))
        assert got == want, path.name
    assert n_old >= 10
    with pytest.warns(StormsimWarning, match=r"events\[0\]\.action: key 'action'"):
        sc = stormsim.load_scenario(
            {
                "name": "m",
                "cluster": {"node_pools": [{"name": "n", "count": 1, "gpus_per_node": 8}]},
                "service": {"manifest": str(MANIFEST)},
                "events": [{"at_s": 1, "action": "pause"}],
            }
        )
    assert sc.events[0].kind == "pause"


def test_old_spelling_errors_point_at_the_old_key_line(tmp_path: Path) -> None:
    """A bad value under an old key is reported at that key's line, under the new name."""
    text = OLD.replace("{dist: uniform, low_s: 0, high_s: 5}", "{dist: gamma, k: 2}")
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(stormsim.InputError) as e:
            stormsim.load_scenario(p)
    (prob,) = e.value.problems
    assert (prob.path, prob.line) == ("timing.readiness_probe_s.kind", 9)
    assert "unknown kind 'gamma'" in prob.message


def test_the_renames_cover_the_schema() -> None:
    """The migration knows every duration key of ``timing`` and nothing else is tagged
    ``dist`` / ``action`` or valued ``combined`` in the schema any more."""
    keys = set(Timing.model_fields) - {"roles"}
    assert set(DURATION_KEYS) == keys
    assert RENAMED_TAGS == {"durations": ("dist", "kind"), "events": ("action", "kind")}
    assert RENAMED_VALUES == {"serving.roles.<role>.kind": ("combined", "colocated")}
    schema = str(stormsim.Scenario.model_json_schema())
    assert "'dist'" not in schema and "'action'" not in schema and "combined" not in schema


def test_cli_validate_prints_the_deprecation_and_succeeds(tmp_path: Path) -> None:
    import subprocess
    import sys

    p = tmp_path / "old.yaml"
    p.write_text(OLD)
    res = subprocess.run(
        [str(Path(sys.executable).with_name("stormsim")), "validate", str(p)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(lines) == len(EXPECTED_WARNINGS)
    assert "events[0].action (line 16): key 'action' is a deprecated spelling" in lines[3]
    assert res.stdout.startswith("ok: spellings:")
