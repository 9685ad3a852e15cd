"""The repository is self-contained: its documentation cites nothing outside it (no "§"
sections of documents that are not here, no ``DESIGN.md``, no ``../shared``), and every
relative link in it (file and ``#anchor``) resolves inside the repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import stormsim

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [
        ROOT / "README.md",
        ROOT / "scenarios" / "README.md",
        ROOT / "bench" / "README.md",
        *(ROOT / "docs").rglob("*.md"),
    ]
)
FORBIDDEN = ("§", "DESIGN.md", "../shared", "spec §", "shared/reference", "reference/aibrix")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _ids(path: Path) -> set[str]:
    r"""GitHub's anchors of a Markdown file: headings (lower-cased, punctuation dropped, spaces
    to ``-``) and explicit ``<a id="...">``."""
    text = path.read_text(encoding="utf-8")
    out = set(re.findall(r'<a id="([^"]+)">', text))
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        title = re.sub(r"[^\w\- ]", "", title.replace("`", ""))
        out.add(title.replace(" ", "-"))
    return out


def _notebook_markdown() -> list[tuple[str, str]]:
    out = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        out.append((nb.name, "\n".join("".join(c["source"]) for c in cells)))
    return out


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_nothing_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    bad = [
        f"line {i}: {word!r}"
        for i, line in enumerate(text.splitlines(), 1)
        for word in FORBIDDEN
        if word in line
    ]
    assert not bad, bad


def test_notebooks_scenarios_and_schema_cite_nothing_outside() -> None:
    texts = _notebook_markdown()
    texts += [(p.name, p.read_text()) for p in sorted((ROOT / "scenarios").rglob("*.yaml"))]
    texts.append(("stormsim schema", json.dumps(stormsim.Scenario.model_json_schema())))
    bad = [(name, w) for name, text in texts for w in FORBIDDEN if w in text]
    assert not bad, bad


def _bad_links(path: Path, root: Path = ROOT) -> list[str]:
    text = path.read_text(encoding="utf-8")
    bad = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _ids(dest):
            bad.append(f"{target}: no anchor #{anchor}")
        elif root not in dest.parents and dest != root:
            bad.append(f"{target}: outside the repository")
    return bad


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert not _bad_links(path)


def test_the_link_check_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text('## The `aibrix-latest` profile\n<a id="x"></a>\n')
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](a.md#the-aibrix-latest-profile) [ok](a.md#x) [web](https://example.com) "
        "[gone](b.md) [anchor](a.md#nope) [out](../elsewhere.md)\n"
    )
    (tmp_path.parent / "elsewhere.md").write_text("")
    assert _bad_links(doc, root=tmp_path) == [
        "b.md: no such file",
        "a.md#nope: no anchor #nope",
        "../elsewhere.md: outside the repository",
    ]


def test_every_controller_has_a_page_citing_upstream_at_the_commit() -> None:
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "aibrix").glob("*.md")}
    for name in ("stormservice", "roleset", "podset", "revisions", "inplace"):
        text = pages[name]
        assert "e3e10f9e" in text, name
        assert re.search(r"`pkg/controller/[a-z_/]+\.go`", text) or "`sync.go`" in text, name
    assert "e3e10f9e" in pages["README"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/aibrix/README.md" in readme
