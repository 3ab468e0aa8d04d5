"""Packaging and import hygiene."""

import ast
import configparser
import email.parser
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
    check_wheel_metadata(zipfile.ZipFile(wheel))


def check_wheel_metadata(wheel: zipfile.ZipFile) -> None:
    """The wheel's name, version, dependencies, extras and console script are the declared ones."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from packaging.requirements import Requirement  # a dependency of pytest

    import autocurr

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (dist_info,) = {name.split("/")[0] for name in wheel.namelist() if ".dist-info/" in name}
    metadata = email.parser.Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
    assert metadata["Name"] == "autocurr"
    assert metadata["Version"] == autocurr.__version__ == project["version"]
    assert f"## [{autocurr.__version__}]" in (ROOT / "CHANGELOG.md").read_text()

    extras = set(metadata.get_all("Provides-Extra"))
    assert extras == {"sb3", "sklearn", "hf", "ray", "docs", "bench", "dev"}
    requires = [Requirement(line) for line in metadata.get_all("Requires-Dist")]
    core = {requirement_key(req) for req in requires if req.marker is None}
    assert core == {requirement_key(Requirement(line)) for line in project["dependencies"]}
    assert {name for name, _, _ in core} == {"numpy", "gymnasium"}
    for extra, declared in project["optional-dependencies"].items():
        built = {
            requirement_key(r) for r in requires if r.marker and r.marker.evaluate({"extra": extra})
        }
        assert built == {requirement_key(Requirement(line)) for line in declared}, extra

    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(f"{dist_info}/entry_points.txt").decode())
    assert dict(entry_points["console_scripts"]) == {"autocurr": "autocurr.cli:main"}


def requirement_key(requirement) -> tuple:
    """A requirement without its marker, insensitive to the order of specifiers and extras."""
    return (requirement.name.lower(), frozenset(requirement.extras), requirement.specifier)
