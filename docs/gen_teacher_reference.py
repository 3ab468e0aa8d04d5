"""Generate the teacher reference (docs/teachers.md) from the registry and the teachers' code.

Every name in ``autocurr.available()`` gets a section: its class, the signal it expects, the space
it needs, its hyperparameters with their defaults (read from ``__init__``'s signature) and its
paper (the titles on the ``Paper:`` line of its module docstring), followed by the module and
class docstrings through mkdocstrings ``:::`` blocks. The mkdocs hook in ``docs/hooks/`` calls
:func:`render` at build time and puts the result where ``docs/teachers.md`` holds
:data:`MARKER`, so the page never goes stale; ``tests/test_docs.py`` checks that every registered
teacher is in it.

Run ``python docs/gen_teacher_reference.py`` to print the generated Markdown.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass

import autocurr
from autocurr.teachers import Teacher, teacher_class

#: The line of docs/teachers.md that the generated reference replaces.
MARKER = "<!-- teacher-reference -->"

#: Section order. Registered teachers missing here still appear, under "Other teachers".
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Baseline", ("uniform",)),
    (
        "Hand-designed schedules",
        ("sequential", "curriculum", "anti-curriculum", "random-curriculum", "cyclical"),
    ),
    (
        "Teacher-Student Curriculum Learning",
        ("tscl-online", "tscl-naive", "tscl-window", "tscl-sampling"),
    ),
    ("Adversarial bandits", ("exp3", "exp3s", "exp3ix")),
    ("Stochastic bandits", ("ucb1", "ducb", "swucb", "thompson")),
    ("Learning progress", ("lp",)),
    ("Continuous task spaces", ("binned-lp", "alp-gmm", "riac", "adr")),
    ("Regret-based environment design (UED)", ("plr", "accel", "sfl", "paired", "repaired")),
    ("Data mixtures and LLM post-training", ("odm", "doremi", "sec", "learnability")),
)

_SKIPPED_PARAMETERS = ("self", "space", "seed")
#: An italic title and the parenthesis after it when that holds a year or an arXiv number:
#: ``*Title* (Author, 2021)``.
_TITLE = re.compile(r"\*([^*]+)\*(\s*\([^()]*\d{4}[^()]*\))")


@dataclass(frozen=True)
class TeacherInfo:
    """What the reference says about one registered teacher."""

    name: str
    cls: type[Teacher]
    hyperparameters: tuple[tuple[str, str], ...]
    papers: tuple[str, ...]
    space: str

    @property
    def path(self) -> str:
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


def teacher_info(name: str) -> TeacherInfo:
    """Collect the reference entry of the teacher registered as ``name``."""
    cls = teacher_class(name)
    return TeacherInfo(
        name=name,
        cls=cls,
        hyperparameters=tuple(_hyperparameters(cls)),
        papers=_papers(inspect.getmodule(cls).__doc__ or ""),
        space=_space(cls),
    )


def _hyperparameters(cls: type[Teacher]) -> Iterable[tuple[str, str]]:
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.name in _SKIPPED_PARAMETERS:
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            yield f"**{parameter.name}", "(passed on, see below)"
        elif parameter.kind is parameter.VAR_POSITIONAL:
            yield f"*{parameter.name}", ""
        elif parameter.default is parameter.empty:
            yield parameter.name, "(required)"
        else:
            yield parameter.name, repr(parameter.default).replace("|", "\\|")


def _papers(module_doc: str) -> tuple[str, ...]:
    """The titles (with their author/year parenthesis) on the docstring's ``Paper(s):`` lines."""
    for paragraph in module_doc.split("\n\n"):
        text = " ".join(paragraph.split())
        if text.startswith(("Paper:", "Papers:")):
            return tuple(
                f"*{title.strip()}*{(' ' + extra.strip()) if extra else ''}"
                for title, extra in _TITLE.findall(text)
            )
    return ()


def _space(cls: type[Teacher]) -> str:
    """The space the teacher accepts, read from the checks in its constructors."""
    if cls.requires_finite:
        return "finite (`Discrete`, `MultiDiscrete`)"
    for klass in cls.__mro__:
        if klass is Teacher:
            break
        if "__init__" not in vars(klass):
            continue
        source = inspect.getsource(klass.__init__)
        for space in ("Levels", "Box"):
            if f"isinstance(space, {space})" in source:
                return f"`{space}`"
    return "any"


def families() -> list[tuple[str, list[TeacherInfo]]]:
    """Registered teachers grouped by family, in :data:`FAMILIES` order."""
    registered = autocurr.available()
    grouped, listed = [], set()
    for title, names in FAMILIES:
        members = [teacher_info(name) for name in names if name in registered]
        listed.update(names)
        if members:
            grouped.append((title, members))
    others = [teacher_info(name) for name in registered if name not in listed]
    if others:
        grouped.append(("Other teachers", others))
    return grouped


def render() -> str:
    """The Markdown of the reference: an overview table, then one section per family."""
    grouped = families()
    lines = [
        "| teacher | signal | space | paper |",
        "|---|---|---|---|",
    ]
    for _, members in grouped:
        for info in members:
            paper = "; ".join(info.papers) or "see the module docstring"
            lines.append(
                f"| [`{info.name}`](#{info.name}) | `{info.cls.signal}` | {info.space} | {paper} |"
            )
    for title, members in grouped:
        lines += ["", f"## {title}"]
        for module, infos in _by_module(members):
            lines += _module_section(module, infos)
    return "\n".join(lines) + "\n"


def _by_module(members: list[TeacherInfo]) -> list[tuple[str, list[TeacherInfo]]]:
    modules: dict[str, list[TeacherInfo]] = {}
    for info in members:
        modules.setdefault(info.cls.__module__, []).append(info)
    return list(modules.items())


def _module_section(module: str, infos: list[TeacherInfo]) -> list[str]:
    names = ", ".join(f"`{info.name}`" for info in infos)
    lines = [
        "",
        f"### {names} {{ #{module} }}",
        "",
        f"::: {module}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
    ]
    for info in infos:
        lines += _teacher_section(info)
    return lines


def _teacher_section(info: TeacherInfo) -> list[str]:
    lines = [
        "",
        f"#### `{info.name}` {{ #{info.name} }}",
        "",
        f"[](){{ #{info.path} }}",
        f'`autocurr.make_teacher("{info.name}", space, seed=None, **hyperparameters)` builds '
        f"`{info.path}`.",
        "",
        f"- **signal**: `{info.cls.signal}`",
        f"- **space**: {info.space}",
        f"- **paper**: {'; '.join(info.papers) or 'see the module docstring above'}",
        "",
    ]
    if info.hyperparameters:
        lines += ["| hyperparameter | default |", "|---|---|"]
        lines += [f"| `{name}` | `{default}` |" for name, default in info.hyperparameters]
    else:
        lines.append("No hyperparameters.")
    lines += [
        "",
        f"::: {info.path}",
        "    options:",
        "      show_root_heading: false",
        "      show_root_toc_entry: false",
        "      show_bases: false",
        "      heading_level: 4",
    ]
    return lines


if __name__ == "__main__":
    print(render(), end="")
