"""Imports are lazy and free of side effects, checked in fresh interpreters (subprocesses).

* ``import stormsim`` loads neither pandas, pyarrow nor matplotlib, and the light entry points
  (the CLI module, the runner, loading a scenario) do not either;
* importing any stormsim module leaves the caller's matplotlib backend as it was (no library
  module calls ``matplotlib.use``);
* ``stormsim --version`` prints the installed version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

import stormsim

PKG_DIR = Path(stormsim.__file__).resolve().parent
ROOT = PKG_DIR.parent
HEAVY = ("pandas", "pyarrow", "matplotlib")


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (from the repository root); its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _loaded_after(statements: str) -> dict[str, bool]:
    out = _python(
        f"""
        import json, sys
        {statements}
        print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))
        """
    )
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "statements",
    [
        "import stormsim",
        "import stormsim; stormsim.__version__; stormsim.InputError",
        "import stormsim.cli",
        "import stormsim.runner",
        "import stormsim.analysis.paths; import stormsim.report.history as _",
        "import stormsim; stormsim.load_scenario('scenarios/default.yaml')",
    ],
)
def test_light_imports_load_neither_pandas_nor_matplotlib(statements: str) -> None:
    if "report.history" in statements:  # reads frames: pandas is its business, plots are not
        loaded = _loaded_after(statements)
        assert not loaded["matplotlib"], loaded
        return
    assert _loaded_after(statements) == dict.fromkeys(HEAVY, False)


def test_asking_for_frames_and_plots_loads_them() -> None:
    """The laziness is real: the same interpreter does load them once a run or a plot is asked
    for (so the test above can fail)."""
    assert _loaded_after("import stormsim; stormsim.run") == {
        "pandas": False,
        "pyarrow": False,
        "matplotlib": False,
    }
    loaded = _loaded_after("import stormsim; stormsim.run(stormsim.default_scenario())")
    assert loaded["pandas"] and not loaded["matplotlib"], loaded
    assert _loaded_after("import stormsim; stormsim.report.plot_timeline")["matplotlib"]


def _modules() -> list[str]:
    mods = []
    for path in sorted(PKG_DIR.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods.append(".".join(parts))
    return mods


MODULES = _modules()
GROUPS = sorted({".".join(m.split(".")[:2]) for m in MODULES})


@pytest.mark.parametrize("group", GROUPS)
def test_importing_any_module_keeps_the_matplotlib_backend(group: str) -> None:
    """After ``matplotlib.use("svg")``, importing each module of the group (in order, one
    interpreter per group) leaves ``matplotlib.get_backend()`` at ``svg``, and no module sets
    ``MPLBACKEND`` for the process."""
    mods = [m for m in MODULES if m == group or m.startswith(group + ".")]
    out = _python(
        f"""
        import importlib, json, os
        import matplotlib
        matplotlib.use("svg")
        changed = {{}}
        for name in {mods!r}:
            importlib.import_module(name)
            if matplotlib.get_backend() != "svg" or "MPLBACKEND" in os.environ:
                changed[name] = [matplotlib.get_backend(), os.environ.get("MPLBACKEND")]
                break
        print(json.dumps(changed))
        """
    )
    assert json.loads(out.strip().splitlines()[-1]) == {}, f"imported {len(mods)} modules"


def test_the_backend_check_can_fail() -> None:
    out = _python(
        """
        import matplotlib
        matplotlib.use("svg")
        matplotlib.use("Agg")
        print(matplotlib.get_backend())
        """
    )
    assert out.strip().lower() == "agg"


def test_version() -> None:
    exe = Path(sys.executable).parent / "stormsim"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "stormsim.cli"]
    proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"stormsim {stormsim.__version__}\n"
    assert stormsim.__version__ == metadata.version("stormsim")
    from stormsim.runner import __version__

    assert __version__ == stormsim.__version__


@pytest.mark.parametrize("before", [None, "svg"])
def test_the_cli_uses_agg_while_it_runs_and_restores_the_environment(
    before: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stormsim import cli

    seen: list[str | None] = []

    def fake_app(**_: object) -> int:
        seen.append(os.environ.get("MPLBACKEND"))
        return 0

    if before is None:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    else:
        monkeypatch.setenv("MPLBACKEND", before)
    monkeypatch.setattr(cli, "app", fake_app)
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 0
    assert seen == ["Agg"]
    assert os.environ.get("MPLBACKEND") == before
