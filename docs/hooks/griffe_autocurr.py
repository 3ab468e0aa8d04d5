"""Griffe extension for the autocurr documentation build (used by mkdocstrings, see mkdocs.yml).

Two things the stock loader cannot do for this repository:

- ``envs/`` and ``agents/`` sit at the top of the repository but install as ``autocurr.envs`` and
  ``autocurr.agents`` (setuptools ``package-dir``). Griffe finds submodules by walking the package
  folder, so it never sees them; this extension loads both folders and attaches them to
  ``autocurr`` under their installed names.
- The docstrings use Sphinx roles (``:class:`Levels```, ``:func:`~autocurr.spaces.Box```). They are
  rewritten into optional autorefs cross-references: a link where the target is rendered somewhere
  in the site, plain code otherwise (never a warning). Two other reST spellings that Markdown
  would print literally, ``text::`` before a literal block and ``code``\\ s, are tidied.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

#: reST's literal-block marker (``text::`` before an indented block), shown as a single colon.
_LITERAL_MARKER = re.compile(r"::(\n[ \t]*\n)")
#: reST's escaped space after inline markup (``TaskQueueWrapper``\\ s), which Markdown shows.
_ESCAPED_SPACE = re.compile(r"`\\ ")
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc|const):`(~?)([^`<>]+)`")
#: Folders installed under another name (pyproject.toml ``[tool.setuptools] package-dir``).
_MAPPED_SUBPACKAGES = ("envs", "agents")


class AutocurrDocs(griffe.Extension):
    """Attach the mapped subpackages and rewrite Sphinx roles (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "autocurr":
            return
        repository = Path(pkg.filepath).parent.parent
        for name in _MAPPED_SUBPACKAGES:
            init = repository / name / "__init__.py"
            if name in pkg.members or not init.exists():
                continue
            # Private API of griffe (pinned by the docs extra); the public load() cannot attach a
            # folder under another package's name.
            module = loader._load_module(name, init, submodules=True, parent=pkg)
            pkg.set_member(name, module)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _to_markdown(obj, obj.docstring.value)


def _to_markdown(obj: griffe.Object, text: str) -> str:
    text = _ROLE.sub(lambda match: _crossref(obj, match), text)
    text = _LITERAL_MARKER.sub(r":\1", text)
    return _ESCAPED_SPACE.sub("`", text)


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _crossref(obj: griffe.Object, match: re.Match) -> str:
    short, target = match.group(1) == "~", match.group(2).strip().rstrip("()")
    shown = target.rsplit(".", 1)[-1] if short else target
    path = _resolve(obj, target)
    if path is None:
        return f"`{shown}`"
    return f'<autoref identifier="{path}" optional>`{shown}`</autoref>'


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """The canonical path ``target`` names, seen from ``obj`` (Python's lookup order)."""
    scopes = []
    scope: griffe.Object | None = obj
    while scope is not None:
        scopes.append(scope.path)
        scope = scope.parent
    collection = obj.modules_collection
    for prefix in [*scopes, ""]:
        path = f"{prefix}.{target}" if prefix else target
        try:
            member = collection.get_member(path)
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
        return _canonical(collection, member, path)
    return None


def _canonical(collection: Any, member: Any, path: str) -> str:
    for _ in range(10):  # follow re-exports (``from x import y``) to the defining module
        if not getattr(member, "is_alias", False):
            return member.path
        path = member.target_path
        try:
            member = collection.get_member(path)
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return path
    return path
