"""Every shipped scenario's outputs (summary and frames) match the digests in
``tests/golden/digests.json``. A change that alters outputs on purpose regenerates them with
``python -m tests.golden.digest --update`` in the same commit and says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden.digest import DIGESTS, digests_of, scenario_paths

EXPECTED = json.loads(DIGESTS.read_text())


def test_every_scenario_has_a_digest() -> None:
    assert sorted(EXPECTED) == [p.stem for p in scenario_paths()]


@pytest.mark.parametrize("path", scenario_paths(), ids=lambda p: p.stem)
def test_outputs_identical(path: Path) -> None:
    got = digests_of(path)
    want = EXPECTED[path.stem]
    changed = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    assert not changed, f"{path.stem}: outputs changed in {changed}"
