"""Teachers: what the learner practises next.

Every teacher is registered by name; build one with :func:`autocurr.make_teacher` and list them
with :func:`available`.
"""

from __future__ import annotations

import importlib
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

#: Built-in teachers, imported on first use so that ``import autocurr`` stays cheap.
_BUILTIN: dict[str, str] = {
    "uniform": "autocurr.teachers.uniform:UniformTeacher",
    "sequential": "autocurr.teachers.sequential:SequentialTeacher",
    "curriculum": "autocurr.teachers.pacing:CurriculumTeacher",
    "anti-curriculum": "autocurr.teachers.pacing:AntiCurriculumTeacher",
    "random-curriculum": "autocurr.teachers.pacing:RandomCurriculumTeacher",
    "cyclical": "autocurr.teachers.pacing:CyclicalTeacher",
    "tscl-online": "autocurr.teachers.tscl:TsclOnlineTeacher",
    "tscl-naive": "autocurr.teachers.tscl:TsclNaiveTeacher",
    "tscl-window": "autocurr.teachers.tscl:TsclWindowTeacher",
    "tscl-sampling": "autocurr.teachers.tscl:TsclSamplingTeacher",
    "exp3": "autocurr.teachers.exp3:Exp3Teacher",
    "exp3s": "autocurr.teachers.exp3s:Exp3STeacher",
    "exp3ix": "autocurr.teachers.exp3ix:Exp3IXTeacher",
    "ucb1": "autocurr.teachers.ucb1:UCB1Teacher",
    "ducb": "autocurr.teachers.ducb:DiscountedUCBTeacher",
    "swucb": "autocurr.teachers.swucb:SlidingWindowUCBTeacher",
    "thompson": "autocurr.teachers.thompson:ThompsonTeacher",
    "lp": "autocurr.teachers.lp:LearningProgressTeacher",
    "binned-lp": "autocurr.teachers.binned_lp:BinnedLPTeacher",
    "alp-gmm": "autocurr.teachers.alp_gmm:ALPGMMTeacher",
    "riac": "autocurr.teachers.riac:RIACTeacher",
    "adr": "autocurr.teachers.adr:ADRTeacher",
    "plr": "autocurr.teachers.plr:PLRTeacher",
    "sfl": "autocurr.teachers.sfl:SFLTeacher",
    "accel": "autocurr.teachers.accel:ACCELTeacher",
    "paired": "autocurr.teachers.paired:PAIREDTeacher",
    "repaired": "autocurr.teachers.paired:REPAIREDTeacher",
    "odm": "autocurr.teachers.odm:ODMTeacher",
    "doremi": "autocurr.teachers.doremi:DoReMiTeacher",
    "sec": "autocurr.teachers.sec:SECTeacher",
    "learnability": "autocurr.teachers.learnability:LearnabilityTeacher",
}
_REGISTRY: dict[str, type[Teacher]] = {}


def register(cls: type[Teacher]) -> type[Teacher]:
    """Add a teacher class to the registry under ``cls.name`` (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Teacher)):
        raise ValueError(f"only Teacher subclasses can be registered, got {cls!r}")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"a teacher named {cls.name!r} is already registered ({existing})")
    builtin = _BUILTIN.get(cls.name)
    if builtin is not None and builtin != f"{cls.__module__}:{cls.__qualname__}":
        raise ValueError(f"{cls.name!r} is the name of a built-in teacher ({builtin})")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names accepted by :func:`make_teacher`, sorted."""
    return sorted(set(_REGISTRY) | set(_BUILTIN))


def teacher_class(name: str) -> type[Teacher]:
    """The class registered as ``name`` (its docstring and ``signal`` describe it)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name not in _BUILTIN:
        raise ValueError(f"unknown teacher {name!r}; available: {', '.join(available())}")
    module_name, class_name = _BUILTIN[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    _REGISTRY[name] = cls
    return cls


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
