"""The shared AIBrix autoscaling samples run as shipped, their PodAutoscalers acting."""

from __future__ import annotations

import warnings
from pathlib import Path

import stormsim
from stormsim.schema.yamlio import dump_yaml
from tests.autoscaler_world.helpers import FAST_TIMING


def _run(tmp_path: Path, samples_dir: Path, name: str, until: float = 120.0):  # type: ignore[no-untyped-def]
    data = {
        "name": name,
        "seed": 3,
        "until_s": until,
        "cluster": {"node_pools": [{"name": "n", "count": 8, "gpus_per_node": 8}]},
        "timing": FAST_TIMING,
        "service": {"manifest": str(samples_dir / f"{name}.yaml"), "initial_state": "ready"},
        "controller": {"api_call_s": 0.0},
    }
    path = tmp_path / "s.yaml"
    path.write_text(dump_yaml(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stormsim.run(stormsim.load_scenario(path))


def test_pool_sample_w6(tmp_path: Path, samples_dir: Path) -> None:
    """W6: the samples' metrics are not registry keys, so every pod reads 0 (no delay):
    prefill 5 -> max(ceil(0), floor(5/2)) = 2 (bounds [2, 20]), decode 5 -> 2 -> 3 ([3, 30]);
    each write is a new revision rolled out in place."""
    res = _run(tmp_path, samples_dir, "autoscaling__stormservice-pool")
    df = res.frames["autoscaling"]
    first = df.groupby("autoscaler").first()
    assert first.loc["ss-pool-prefill", ["current", "recommendation", "desired"]].tolist() == [
        5,
        2,
        2,
    ]
    assert first.loc["ss-pool-decode", ["current", "recommendation", "desired"]].tolist() == [
        5,
        3,
        3,
    ]
    assert set(df.value.dropna()) == {0.0}
    assert set(df.scrape_s) == {0.0}
    pods = res.frames["pods"]
    live = pods[pods.gone_at_s.isna() & pods.deleted_at_s.isna()]
    assert live.groupby("role").size().to_dict() == {"decode": 3, "prefill": 2}
    assert res.summary["n_rollouts"] >= 2  # each role write is a template change


def test_replica_sample_scales_rolesets(tmp_path: Path, samples_dir: Path) -> None:
    """The replica sample (``storm-service-mode: replica``, role ``prefill``): metrics from the
    prefill pods only (0: not a registry key), the write scales whole RoleSets: 3 -> 2 (min)."""
    res = _run(tmp_path, samples_dir, "autoscaling__stormservice-replica")
    df = res.frames["autoscaling"]
    assert df.current.iloc[0] == 3 and df.desired.iloc[0] == 2
    assert df.desired.min() >= 2 and df.desired.max() <= 20
    st = res.frames["status"]
    assert st.spec_replicas.iloc[-1] == 2
