"""mkdocs hooks for the autocurr site (registered in mkdocs.yml under ``hooks:``).

- ``teachers.md``: the line ``<!-- teacher-reference -->`` is replaced by the reference that
  ``docs/gen_teacher_reference.py`` generates from the registry, so it always lists every
  registered teacher with its current defaults.
- ``benchmarks/index.md``: the line ``<!-- benchmarks-md -->`` is replaced by the repository's
  ``BENCHMARKS.md``, its ``docs/benchmarks/...`` links rewritten relative to the page.
- The nav's "Benchmarks" section gets every Markdown report under ``docs/benchmarks/`` that
  mkdocs.yml does not list yet (benchmark runs add result folders; their reports should not need
  a hand-written nav entry). The page title is the report's first heading, plus its folder.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

_DOCS = Path(__file__).resolve().parent.parent
_REPOSITORY = _DOCS.parent
BENCHMARKS_MARKER = "<!-- benchmarks-md -->"


def _generator():
    """docs/gen_teacher_reference.py, loaded from its path (docs/ is not a package)."""
    name = "gen_teacher_reference"
    spec = importlib.util.spec_from_file_location(name, _DOCS / "gen_teacher_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(module)
    return module


def _replace_marker(markdown: str, marker: str, content: str, page: str) -> str:
    if marker not in markdown:
        raise ValueError(f"{page} must contain the line {marker!r}")
    return markdown.replace(marker, content)


def benchmarks_markdown() -> str:
    """BENCHMARKS.md with its first heading dropped and links made relative to benchmarks/."""
    text = (_REPOSITORY / "BENCHMARKS.md").read_text(encoding="utf-8")
    text = re.sub(r"\A# [^\n]*\n", "", text)
    # (docs/benchmarks/maze_ued/report.md) seen from docs/benchmarks/index.md
    return re.sub(r"\]\(docs/benchmarks/", "](", text)


def _nav_paths(items) -> set[str]:
    paths = set()
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            paths |= _nav_paths(value)
        else:
            paths.add(value)
    return paths


def _report_title(path: Path) -> str:
    first = path.read_text(encoding="utf-8").lstrip().split("\n", 1)[0]
    heading = first[2:].strip() if first.startswith("# ") else path.stem
    return f"{heading} ({path.parent.relative_to(_DOCS / 'benchmarks').as_posix()})"


def on_config(config, **kwargs):
    for entry in config.nav or []:
        if isinstance(entry, dict) and isinstance(entry.get("Benchmarks"), list):
            section = entry["Benchmarks"]
            listed = _nav_paths(section)
            for path in sorted((_DOCS / "benchmarks").glob("*/**/*.md")):
                relative = path.relative_to(_DOCS).as_posix()
                if relative not in listed:
                    section.append({_report_title(path): relative})
    return config


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    source = page.file.src_uri
    if source == "teachers.md":
        generator = _generator()
        return _replace_marker(markdown, generator.MARKER, generator.render(), source)
    if source == "benchmarks/index.md":
        return _replace_marker(markdown, BENCHMARKS_MARKER, benchmarks_markdown(), source)
    return markdown
