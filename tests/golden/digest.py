"""Digests of every shipped scenario's outputs: the proof that a refactor changed nothing.

``python -m tests.golden.digest --update`` rewrites ``digests.json`` from the current code;
``--dump DIR`` also writes each scenario's summary and frames as CSV into ``DIR/<scenario>/``
so two versions can be diffed file by file. A change that alters outputs on purpose regenerates
the file in the same commit and says why.

A digest is the SHA-256 of a canonical text form: ``summary.json`` with sorted keys, and each
frame as CSV (columns in order, floats at full precision), so it does not depend on the parquet
writer's bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
DIGESTS = Path(__file__).resolve().parent / "digests.json"


def scenario_paths() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


def canonical(result: Any) -> dict[str, str]:
    """Name -> canonical text of one run's summary and frames."""
    texts = {"summary": json.dumps(result.summary, sort_keys=True, indent=1)}
    for name, df in sorted(result.frames.items()):
        texts[name] = df.to_csv(index=False, float_format="%.17g")
    return texts


def digests_of(path: Path, dump: Path | None = None) -> dict[str, str]:
    import stormsim

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stormsim.run(stormsim.load_scenario(path))
    texts = canonical(result)
    if dump is not None:
        d = dump / path.stem
        d.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (d / f"{name}.txt").write_text(text)
    return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in texts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--update", action="store_true", help="rewrite digests.json")
    ap.add_argument("--dump", type=Path, help="also write canonical texts here")
    args = ap.parse_args()
    table = {p.stem: digests_of(p, args.dump) for p in scenario_paths()}
    if args.update:
        DIGESTS.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
        print(f"wrote {DIGESTS} ({len(table)} scenarios)")
    else:
        old = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
        for stem, d in table.items():
            changed = [
                k
                for k in sorted(set(d) | set(old.get(stem, {})))
                if d.get(k) != old.get(stem, {}).get(k)
            ]
            print(f"{stem}: {'same' if not changed else 'CHANGED ' + ', '.join(changed)}")


if __name__ == "__main__":
    main()
