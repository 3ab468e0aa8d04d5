"""Teachers: what the learner practises next.

Every teacher is registered by name; build one with :func:`autocurr.make_teacher` and list them
with :func:`available`.
"""

from __future__ import annotations

from typing import Any

from autocurr.spaces import Space, space_from_config
from autocurr.teachers.base import SIGNALS, Teacher
from autocurr.teachers.exp3 import Exp3Teacher
from autocurr.teachers.exp3s import Exp3STeacher
from autocurr.teachers.lp import LearningProgressTeacher
from autocurr.teachers.uniform import UniformTeacher

__all__ = [
    "SIGNALS",
    "Exp3STeacher",
    "Exp3Teacher",
    "LearningProgressTeacher",
    "Teacher",
    "UniformTeacher",
    "available",
    "from_state_dict",
    "make_teacher",
    "register",
    "teacher_class",
]

_REGISTRY: dict[str, type[Teacher]] = {}


def register(cls: type[Teacher]) -> type[Teacher]:
    """Add a teacher class to the registry under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Teacher)):
        raise ValueError(f"only Teacher subclasses can be registered, got {cls!r}")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"a teacher named {cls.name!r} is already registered ({existing})")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names accepted by :func:`make_teacher`, sorted."""
    return sorted(_REGISTRY)


def teacher_class(name: str) -> type[Teacher]:
    """The class registered as ``name`` (its docstring and ``signal`` describe it)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown teacher {name!r}; available: {', '.join(available())}") from None


def make_teacher(name: str, space: Space, seed: Any = None, **hyperparameters: Any) -> Teacher:
    """Build the teacher registered as ``name`` over ``space``."""
    return teacher_class(name)(space, seed=seed, **hyperparameters)


def from_state_dict(state: dict[str, Any]) -> Teacher:
    """Rebuild a teacher (kind, space, hyperparameters and state) from ``Teacher.state_dict()``."""
    teacher = make_teacher(
        state["name"], space_from_config(state["space"]), **state["hyperparameters"]
    )
    teacher.load_state_dict(state)
    return teacher


for _cls in (UniformTeacher, Exp3Teacher, Exp3STeacher, LearningProgressTeacher):
    register(_cls)
