"""The HTML report has every section, embeds its plots, needs no network, and renders."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import stormsim
from stormsim.cli import app
from stormsim.report.plan_report import SECTIONS


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.imgs: list[str] = []
        self.links: list[str] = []
        self.tables = 0
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "img":
            self.imgs.append(str(a.get("src")))
        if tag in ("a", "link") and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "table":
            self.tables += 1
        if tag == "script":
            self.scripts += 1


def test_html_has_every_section(tiny_plan: tuple[stormsim.PlanResult, Path]):
    _, out = tiny_plan
    text = (out / "plan.html").read_text(encoding="utf-8")
    p = _Collect()
    p.feed(text)
    assert p.ids == [i for i, _ in SECTIONS]
    assert len(p.imgs) >= 3
    assert all(src.startswith("data:image/png;base64,") for src in p.imgs)
    assert all(h.startswith("#") for h in p.links), "no external resources"
    assert "http://" not in text and "https://" not in text
    assert p.scripts == 0
    assert p.tables >= 4
    for word in ("recommended", "goodput", "attainment", "surge GPUs", "1P(TP1)"):
        assert word in text
    md = (out / "plan.md").read_text(encoding="utf-8")
    for _, title in SECTIONS:
        assert f"## {title}" in md


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary")
def test_html_renders_in_headless_chromium(
    tiny_plan: tuple[stormsim.PlanResult, Path], tmp_path: Path
):
    import matplotlib.pyplot as plt

    _, out = tiny_plan
    png = tmp_path / "shot.png"
    cmd = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png}",
        "--window-size=1280,2000",
        (out / "plan.html").resolve().as_uri(),
    ]
    subprocess.run(cmd, check=False, capture_output=True, timeout=120)
    assert png.is_file() and png.stat().st_size > 10_000
    img = plt.imread(str(png))
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    rgb = np.asarray(img[..., :3], dtype=float)
    assert rgb.std() > 0.05, "blank screenshot"
    # dark pixels (text, plot lines) and coloured ones (the plots) are present
    assert (rgb.mean(axis=2) < 0.3).mean() > 0.002
    assert (rgb.max(axis=2) - rgb.min(axis=2) > 0.3).mean() > 0.001


def test_cli_plan_prints_recommendation(
    tiny_plan: tuple[stormsim.PlanResult, Path], tiny_plan_file: Path
):
    res, out = tiny_plan
    r = CliRunner().invoke(app, ["plan", str(tiny_plan_file), "--out", str(out), "-j", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert "recommended:" in r.output
    assert res.recommendation is not None
    assert res.recommendation.label in r.output
    assert "0 runs" in r.output  # every run came from the cache
    for f in ("plan.html", "plan.md", "candidates.parquet"):
        assert (out / f).is_file()


def test_cli_plan_without_plan_section_is_input_error(tmp_path: Path):
    r = CliRunner().invoke(app, ["plan", str(stormsim.default_scenario_path()), "--out",
                                 str(tmp_path / "x")])  # fmt: skip
    assert r.exit_code == 2
