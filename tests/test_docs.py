"""The documentation site: it builds with zero warnings, lists every teacher, and its guides run."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autocurr
from autocurr.teachers import teacher_class

REPOSITORY = Path(__file__).resolve().parents[1]
DOCS = REPOSITORY / "docs"
#: Guides whose ```python blocks form one runnable script per page (run by the slow test).
GUIDES = ("getting-started.md", "wrap-your-env.md", "train-sb3.md", "gpu-batched-ppo.md", "ued.md")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference() -> str:
    generator = _load("gen_teacher_reference", DOCS / "gen_teacher_reference.py")
    assert generator.MARKER in (DOCS / "teachers.md").read_text(encoding="utf-8")
    return generator.render()


def _section(reference: str, name: str) -> str:
    start = reference.index(f"#### `{name}` {{ #{name} }}")
    following = reference.find("\n#", start + 1)
    return reference[start : following if following != -1 else None]


def test_every_registered_teacher_has_a_reference_section(reference):
    for name in autocurr.available():
        cls = teacher_class(name)
        assert f"| [`{name}`](#{name}) | `{cls.signal}` |" in reference, name
        section = _section(reference, name)
        assert f"::: {cls.__module__}.{cls.__qualname__}" in section, name
        for parameter in inspect.signature(cls.__init__).parameters:
            if parameter not in ("self", "space", "seed"):
                shown = f"`{parameter}`" in section or f"`**{parameter}`" in section
                assert shown, (name, parameter)


def test_reference_reads_defaults_and_papers_from_the_code(reference):
    assert "| `ema_alpha` | `0.1` |" in _section(reference, "exp3")
    assert "*The Nonstochastic Multiarmed Bandit Problem*" in _section(reference, "exp3")
    assert "- **space**: `Levels`" in _section(reference, "plr")
    assert "- **space**: `Box`" in _section(reference, "alp-gmm")


def test_benchmarks_page_links_stay_inside_the_site():
    hooks = _load("autocurr_mkdocs_hooks", DOCS / "hooks" / "mkdocs_hooks.py")
    text = hooks.benchmarks_markdown()
    assert "](docs/" not in text
    assert "](maze_ued/report.md)" in text


def test_site_builds_strict_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings_handlers.python")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        command, cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=300
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "WARNING" not in log, log
    page = (tmp_path / "teachers" / "index.html").read_text(encoding="utf-8")
    for name in autocurr.available():
        assert f'id="{name}"' in page, name


def _python_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
@pytest.mark.parametrize("page", GUIDES)
def test_guide_code_runs(page, tmp_path, monkeypatch):
    blocks = _python_blocks(page)
    assert blocks, page
    if any("stable_baselines3" in block or "ppo_batched" in block for block in blocks):
        pytest.importorskip("stable_baselines3")
    monkeypatch.chdir(tmp_path)  # the SB3 guide writes runs/
    namespace = {"__name__": "__main__"}  # blocks of a page share names, like one script
    for number, block in enumerate(blocks):
        exec(compile(block, f"{page}, python block {number + 1}", "exec"), namespace)
