"""Fixtures of the analysis tests (helpers live in ``analysis_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import stormsim

from .analysis_helpers import small_scenario


@pytest.fixture
def scenario() -> stormsim.Scenario:
    return stormsim.load_scenario(small_scenario())


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    from stormsim.schema.yamlio import dump_yaml

    p = tmp_path / "small.yaml"
    p.write_text(dump_yaml(small_scenario()))
    return p
