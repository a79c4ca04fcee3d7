"""`make demo`'s set-up: the workspace copy under .demo/ and the example runs recorded there once.

The runs are real launches (`mlworkbench.launch.launcher.start_run`) of a tiny argparse script,
so the test stays at a few seconds per run; the demo's own runs are only checked for scripts and
flags that exist.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mlworkbench.explorer.run_listing import list_runs

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=1.0)
print("x is", parser.parse_args().x)
"""

pytestmark = pytest.mark.usefixtures("no_tracking_env")


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", REPO_ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_example_runs_are_recorded_by_the_launcher_once(demo: ModuleType, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    (tmp_path / "tiny.py").write_text(TINY)
    plan = [
        demo.SeedRun("tiny.py", ("--x", "1"), "tiny-1"),
        demo.SeedRun("tiny.py", ("--x", "2"), "tiny-2"),
        demo.SeedRun("missing.py", (), "missing"),  # reported, the others still recorded
    ]
    lines: list[str] = []

    results = demo.seed_runs(tmp_path, plan, parallel=2, report=lines.append)

    assert [r.status for r in results] == ["FINISHED", "FINISHED"]
    runs = {run.run_name: run for run in list_runs(tmp_path)}
    assert set(runs) == {"tiny-1", "tiny-2"}
    assert all(run.script and run.script.endswith("tiny.py") for run in runs.values())
    tags = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(runs["tiny-2"].run_id)
    assert tags.data.tags["mlworkbench.argv"].endswith('"--x", "2"]')
    assert lines[0].startswith("demo: recording 3 example runs in")
    assert any(line.startswith("demo: tiny-1: finished in ") for line in lines)
    assert any("example run missing did not start" in line for line in lines)

    again: list[str] = []
    assert demo.seed_runs(tmp_path, plan, report=again.append) == []
    assert again == [] and len(list_runs(tmp_path)) == 2


def test_the_workspace_is_a_copy_that_keeps_edits_and_leaves_tracking_data_behind(
    demo: ModuleType, tmp_path: Path
) -> None:
    source, dest = tmp_path / "demo", tmp_path / "state" / "demo"
    (source / "data").mkdir(parents=True)
    (source / "train.py").write_text("print('v1')\n")
    (source / "data" / "x.csv").write_text("a\n")
    (source / "mlflow.db").write_text("not copied")
    (source / ".mlworkbench").mkdir()

    assert demo.prepare_workspace(dest, source) == dest
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == [
        "data",
        "data/x.csv",
        "train.py",
    ]
    (dest / "train.py").write_text("print('edited')\n")
    (source / "new.py").write_text("")
    demo.prepare_workspace(dest, source)
    assert (dest / "train.py").read_text() == "print('edited')\n" and (dest / "new.py").exists()


def test_the_demo_runs_name_scripts_and_flags_the_demo_has(demo: ModuleType) -> None:
    assert demo.DEMO_WORKSPACE.parent == REPO_ROOT / ".demo"  # git-ignored, not demo/
    assert len(demo.DEMO_RUNS) >= 3
    for run in demo.DEMO_RUNS:
        source = (REPO_ROOT / "demo" / run.script).read_text()
        for flag in (arg for arg in run.args if arg.startswith("--")):
            assert re.search(rf"add_argument\(\s*\"{flag}\"", source), (run.script, flag)
    assert len({run.name for run in demo.DEMO_RUNS}) == len(demo.DEMO_RUNS)
