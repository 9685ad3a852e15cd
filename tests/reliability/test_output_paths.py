"""A scenario's ``name`` never makes ``run`` write outside ``results/``, and ``run`` never
replaces a directory that is not a stormsim results directory without ``--force``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from stormsim.runner import RunResult, clean_stale_temporaries, is_results_dir
from stormsim.schema.names import MAX_DIRNAME_BYTES, safe_dirname
from tests.reliability.cli_helpers import error_lines, stormsim


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("default-3x1p1d", "default-3x1p1d"),
        ("my scenario", "my-scenario"),
        ("../victim", "victim"),
        ("/etc/passwd", "etc-passwd"),
        ("a/../../b", "a-..-..-b"),
    ],
)
def test_safe_dirname_is_one_harmless_component(name: str, expected: str) -> None:
    assert safe_dirname(name) == expected


@pytest.mark.parametrize("name", [".", "..", "...", "/", "-", "日本語", "$\\frac{$"])
def test_safe_dirname_of_nothing_usable_is_a_hashed_name(name: str) -> None:
    d = safe_dirname(name)
    assert d.startswith("scenario-") or d.isascii()
    assert "/" not in d and not d.startswith(".") and d not in ("", ".", "..")


def test_safe_dirname_bounds_long_names_and_keeps_them_distinct() -> None:
    a, b = safe_dirname("x" * 300 + "a"), safe_dirname("x" * 300 + "b")
    assert len(a.encode()) <= MAX_DIRNAME_BYTES and len(b.encode()) <= MAX_DIRNAME_BYTES
    assert a != b
    assert len(safe_dirname("y" * 300, "-compare").encode()) <= MAX_DIRNAME_BYTES
    assert safe_dirname("y" * 300, "-compare").endswith("-compare")


def _scenario(
    tmp: Path, name: str, write_scenario: Any, make_scenario: Any, make_manifest: Any
) -> Path:
    return write_scenario(tmp, make_scenario(make_manifest(replicas=1), name=name, until_s=30))


@pytest.mark.parametrize("name", ["../victim", "."])
def test_hostile_name_never_touches_a_directory_outside_results(
    tmp_path: Path, name: str, write_scenario: Any, make_scenario: Any, make_manifest: Any
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    other = work / "results" / "other"
    other.mkdir(parents=True)
    (other / "keep.txt").write_text("keep me too")
    sc = _scenario(tmp_path / "sc", name, write_scenario, make_scenario, make_manifest)
    p = stormsim("run", str(sc), "--no-plots", cwd=work)
    assert p.returncode == 0, p.stderr
    assert (victim / "precious.txt").read_text() == "keep me"
    assert (other / "keep.txt").read_text() == "keep me too"
    saved = Path(p.stdout.strip().splitlines()[-1].removeprefix("results: "))
    assert (work / saved).resolve().parent == (work / "results").resolve()
    assert is_results_dir(work / saved)


def test_name_over_255_bytes_runs(
    tmp_path: Path, write_scenario: Any, make_scenario: Any, make_manifest: Any
) -> None:
    sc = _scenario(tmp_path / "sc", "n" * 300, write_scenario, make_scenario, make_manifest)
    p = stormsim("run", str(sc), "--no-plots", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (d,) = (tmp_path / "results").iterdir()
    assert len(d.name.encode()) <= MAX_DIRNAME_BYTES and is_results_dir(d)


def test_out_that_is_not_a_results_directory_needs_force(
    tmp_path: Path, write_scenario: Any, make_scenario: Any, make_manifest: Any
) -> None:
    sc = _scenario(tmp_path / "sc", "t", write_scenario, make_scenario, make_manifest)
    target = tmp_path / "mydata"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    p = stormsim("run", str(sc), "--no-plots", "--out", str(target), cwd=tmp_path)
    assert p.returncode == 2
    (line,) = error_lines(p.stderr)
    assert "not a stormsim results directory" in line and "--force" in line
    assert (target / "thesis.tex").read_text() == "years of work"
    assert sorted(os.listdir(tmp_path)) == ["mydata", "sc"]  # nothing else written
    # a stormsim results directory is replaced; with --force any directory is
    p = stormsim("run", str(sc), "--no-plots", "--out", str(target), "--force", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert is_results_dir(target) and not (target / "thesis.tex").exists()
    p = stormsim("run", str(sc), "--no-plots", "--out", str(target), cwd=tmp_path)
    assert p.returncode == 0, p.stderr


def test_out_is_never_the_current_directory_even_with_force(
    tmp_path: Path, write_scenario: Any, make_scenario: Any, make_manifest: Any
) -> None:
    sc = _scenario(tmp_path / "sc", "t", write_scenario, make_scenario, make_manifest)
    p = stormsim("run", str(sc), "--no-plots", "--out", ".", "--force", cwd=tmp_path)
    assert p.returncode == 2
    assert "current directory" in error_lines(p.stderr)[0]
    assert (tmp_path / "sc").is_dir()


def test_stale_temporaries_of_a_killed_save_are_removed(tmp_path: Path, result: RunResult) -> None:
    out = tmp_path / "r"
    dead = tmp_path / ".r.tmp-999999999-abcd1234"  # no such process
    dead.mkdir()
    (dead / "summary.json").write_text("{}")
    live = tmp_path / f".r.tmp-{os.getppid()}-abcd1234"  # a live process: left alone
    live.mkdir()
    unrelated = tmp_path / ".rx.tmp-999999999-abcd1234"
    unrelated.mkdir()
    result.save(out, plots=False)
    assert not dead.exists() and live.exists() and unrelated.exists()
    assert is_results_dir(out)
    assert clean_stale_temporaries(out) == []


def test_read_only_output_is_one_line_exit_2_and_keeps_old_results(
    tmp_path: Path, write_scenario: Any, make_scenario: Any, make_manifest: Any
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores permissions")
    sc = _scenario(tmp_path / "sc", "t", write_scenario, make_scenario, make_manifest)
    parent = tmp_path / "ro"
    parent.mkdir()
    out = parent / "r"
    assert stormsim("run", str(sc), "--no-plots", "--out", str(out), cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    parent.chmod(0o555)
    try:
        p = stormsim("run", str(sc), "--no-plots", "--out", str(out), cwd=tmp_path)
    finally:
        parent.chmod(0o755)
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("error: ") and "ermission denied" in line
    assert {q.name: q.read_bytes() for q in out.iterdir()} == before


def test_full_file_system_is_one_line_exit_2(tmp_path: Path, result: RunResult) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    from stormsim.errors import InputError

    out = tmp_path / "r"
    result.save(out, plots=False)
    before = sorted(p.name for p in out.iterdir())
    orig = Path.write_text

    def full(self: Path, *a: Any, **k: Any) -> int:
        raise OSError(28, "No space left on device", str(self))

    Path.write_text = full  # type: ignore[method-assign]
    try:
        with pytest.raises(InputError, match="No space left on device"):
            result.save(out, plots=False)
    finally:
        Path.write_text = orig  # type: ignore[method-assign]
    assert sorted(p.name for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary left


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    import stormsim
    from tests.conftest import make_manifest, make_scenario, write_scenario

    d = tmp_path_factory.mktemp("sc")
    return stormsim.run(write_scenario(d, make_scenario(make_manifest(replicas=1), until_s=30)))


def test_hostile_name_in_plots_and_terminal(
    tmp_path: Path, write_scenario: Any, make_scenario: Any, make_manifest: Any
) -> None:
    name = "$\\frac{$ \x1b[31m<script>"
    sc = write_scenario(tmp_path / "sc", make_scenario(make_manifest(replicas=1), until_s=30))
    text = sc.read_text().replace("name: test", f'name: "{name.replace(chr(92), chr(92) * 2)}"')
    sc.write_text(text.replace("\x1b", "\\e"))
    p = stormsim("run", str(sc), cwd=tmp_path)
    # ESC is a control character: rejected in a name, with its line, printed escaped
    assert p.returncode == 2 and "\x1b" not in p.stderr and "name (line 1)" in p.stderr
    sc.write_text(text.replace("\x1b[31m", ""))
    p = stormsim("run", str(sc), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    (d,) = (tmp_path / "results").iterdir()
    assert (d / "timeline.png").stat().st_size > 0


def test_markdown_escape() -> None:
    from stormsim.report.plan_report import md_escape

    assert "<script>" not in md_escape("<script>x</script>")
    assert md_escape("a\nb *c*") == "a b \\*c\\*"
