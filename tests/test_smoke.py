import stormsim


def test_default_scenario_runs_and_completes():
    res = stormsim.run(stormsim.default_scenario())
    assert res.summary["update_completed"] is True
    assert res.summary["rolesets_max"] == 4  # replicas 3 + maxSurge 1
