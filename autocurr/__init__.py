"""autocurr: automatic curricula for reinforcement learning and data mixing.

Importing the package registers the gymnasium ids ``autocurr/Maze-v0`` and
``autocurr/PointMassGate-v0`` (entry points are strings, so nothing heavy is imported until
``gymnasium.make``). No other import-time side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autocurr import spaces
from autocurr.teachers import Teacher, available, from_state_dict, make_teacher

__version__ = "0.1.0"

__all__ = [
    "CurriculumWrapper",
    "TaskQueueWrapper",
    "Teacher",
    "__version__",
    "available",
    "from_state_dict",
    "make_teacher",
    "make_vec_env",
    "spaces",
]

if TYPE_CHECKING:
    from autocurr.vector import make_vec_env
    from autocurr.wrappers import CurriculumWrapper, TaskQueueWrapper


def __getattr__(name: str) -> Any:
    # The wrappers need gymnasium; load them on first use so teacher-only users never import it.
    if name in ("CurriculumWrapper", "TaskQueueWrapper"):
        from autocurr import wrappers

        return getattr(wrappers, name)
    if name == "make_vec_env":
        from autocurr.vector import make_vec_env

        return make_vec_env
    raise AttributeError(f"module 'autocurr' has no attribute {name!r}")


def _register_gymnasium_ids() -> None:
    try:
        from gymnasium.envs.registration import register, registry
    except ImportError:  # gymnasium is a dependency, but teacher-only use must not need it
        return
    if "autocurr/Maze-v0" not in registry:
        register(id="autocurr/Maze-v0", entry_point="autocurr.envs.maze:MazeEnv")
    if "autocurr/PointMassGate-v0" not in registry:
        register(
            id="autocurr/PointMassGate-v0",
            entry_point="autocurr.envs.point_mass:PointMassGateEnv",
        )


_register_gymnasium_ids()
