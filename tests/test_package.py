"""Packaging and import hygiene."""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "autocurr" / "teachers").glob("*.py")), ids=str)
def test_teacher_code_imports_neither_gymnasium_nor_torch(path):
    assert not imported_modules(path) & {"gymnasium", "gym", "torch", "stable_baselines3"}
    assert not imported_modules(ROOT / "autocurr" / "spaces.py") & {"gymnasium", "torch"}


def test_import_autocurr_is_light_and_registers_the_maze():
    code = (
        "import sys, autocurr, gymnasium\n"
        "assert 'torch' not in sys.modules and 'stable_baselines3' not in sys.modules\n"
        "assert 'autocurr.envs.maze' not in sys.modules\n"
        "assert 'autocurr/Maze-v0' in gymnasium.registry\n"
        "env = gymnasium.make('autocurr/Maze-v0')\n"
        "assert env.reset(seed=0)[0].shape == env.observation_space.shape\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT / "tests")


def test_wheel_installs_envs_and_agents_under_the_autocurr_namespace(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("autocurr-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith("-info")}
    assert top_level == {"autocurr"}
    assert "autocurr/envs/maze.py" in names and "autocurr/agents/__init__.py" in names
    assert "autocurr/envs/data/maze_test/corridor.txt" in names
    assert "autocurr/envs/data/maze_test_large/perfect_maze_13.txt" in names
