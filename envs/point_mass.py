"""PointMassGate: the contextual point mass of self-paced RL (Klink et al.), in pure numpy.

Source: ``ContextualPointMass`` and ``ContextualPointMass2D`` of the SPDL code (psclklnk/spdl,
``deep_sprl/environments/contextual_point_mass{,_2d}.py``), used by SPDL (Klink et al., NeurIPS
2020; JMLR 2021) and CURROT (Klink et al., ICML 2022). The behaviour below follows that code;
where this port decides something the code leaves open, the choice is marked *(ours)*.

The environment
    A point mass in the square ``[-4, 4]^2`` starts at rest at ``(0, 3)`` and must reach the goal
    ``(0, -3)``. A wall along ``y = 0`` has one gate, centred at ``x = gate position`` and
    ``gate width`` wide; the task (SPDL's *context*) is ``(gate position, gate width)``, plus the
    ``friction`` coefficient with ``friction_param=True`` (SPDL's 3-D variant). In 2-D the
    friction is 0, as in SPDL's ``ContextualPointMass2D`` (and CURROT, which uses it).

Dynamics (one ``step`` = ``SUBSTEPS = 10`` explicit-Euler substeps of ``DT = 0.01``)
    The action ``a`` (2-D force) is clipped to ``[-10, 10]^2``. Per substep, with state
    ``(p, v)`` (position, velocity; each 2-D) and per-component noise ``n ~ N(0, noise_std)``
    (``noise_std = 0.05``, drawn from ``self.np_random``)::

        acc = 1.5 * a - friction * v + n
        p'  = clip(p + DT * v, -4, 4)        # position bounds
        v'  = v + DT * acc                   # velocity is NOT zeroed at the bounds (as SPDL)

    The SPDL code clips the whole state to its observation box, whose velocity bounds are
    infinite, so only the position is clipped and the velocity keeps pushing into the bound.

The wall (exactly as SPDL)
    A substep *crosses* the wall when it moves the mass from ``y >= 0`` to ``y' < 0`` (a
    downward crossing; upward crossings are not checked, as in SPDL). The crossing point is the
    linear interpolation ``x_c = x + alpha * (x' - x)`` with ``alpha = -y / (y' - y)``. If
    ``|x_c - gate position| > gate width / 2`` the mass crashes: it stops at ``(x_c, 0)`` with
    zero velocity, the remaining substeps are skipped and the episode **terminates**. Passing
    through the gate (``|x_c - gate position| <= width / 2``) is free.

Reward, success, episode end
    Reward per step: ``exp(-0.6 * ||p - goal||)`` at the position after the step (SPDL).
    ``info["success"]``: ``||p - goal|| < 0.25`` after this step (the success criterion of the
    SPDL/CURROT evaluations), on every step. Reaching the goal does **not** end the episode
    (SPDL does not either), so a student is rewarded for staying there. Episodes end by a crash
    (``terminated``) or after ``max_steps = 100`` steps (``truncated``; SPDL registers its env
    with ``max_episode_steps=100``). At the end, ``info["is_success"]`` *(ours)* says whether
    the goal was reached at any step of the episode; this is what
    :class:`~autocurr.CurriculumWrapper`'s ``"success"`` signal reads.

Observation
    ``float32`` ``(x, x_dot, y, y_dot, gate position, gate width[, friction])``: the state with
    the task appended, as SPDL/CURROT do (``context_visible=True``).

Task protocol
    ``env.reset(options={"task": task})`` plays ``task`` (``options["context"]`` is accepted as
    an alias, the name SPDL uses). It must lie in :attr:`PointMassGateEnv.task_space` bounds
    ``[-4, 0.5]``-``[4, 8]`` (``+ [0, 4]`` friction in 3-D), else ``ValueError``; other option
    keys raise ``ValueError`` too. Without a task, the env plays ``default_task``, by default
    the SPDL target: the narrow gate ``TARGET_TASK = (2.5, 0.5)`` (friction 0 in 3-D). The
    CURROT target is bimodal: ``CURROT_TARGET_TASKS = ((-3, 0.5), (3, 0.5))``.

Speed: plain Python floats inside the substep loop and one noise draw per step: 70k-140k
steps/s on one core of the project's shared 2-core machine, random actions, resets included
(``benchmarks/point_mass.py`` reports it), far more than a PPO student consumes.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "CURROT_TARGET_TASKS",
    "DT",
    "GOAL",
    "MAX_ACTION",
    "START",
    "SUBSTEPS",
    "SUCCESS_RADIUS",
    "TARGET_TASK",
    "TASK_HIGH",
    "TASK_HIGH_3D",
    "TASK_LOW",
    "TASK_LOW_3D",
    "PointMassGateEnv",
]

#: Task bounds ``(gate position, gate width)`` of SPDL's 2-D point mass (also CURROT's).
TASK_LOW: tuple[float, ...] = (-4.0, 0.5)
TASK_HIGH: tuple[float, ...] = (4.0, 8.0)
#: Task bounds ``(gate position, gate width, friction)`` of SPDL's 3-D point mass.
TASK_LOW_3D: tuple[float, ...] = (-4.0, 0.5, 0.0)
TASK_HIGH_3D: tuple[float, ...] = (4.0, 8.0, 4.0)
#: SPDL's target: a narrow gate right of centre (mean of its N([2.5, 0.5], tiny) target).
TARGET_TASK: tuple[float, float] = (2.5, 0.5)
#: CURROT's bimodal target: narrow gates near either side wall.
CURROT_TARGET_TASKS: tuple[tuple[float, float], ...] = ((-3.0, 0.5), (3.0, 0.5))

START: tuple[float, float] = (0.0, 3.0)
GOAL: tuple[float, float] = (0.0, -3.0)
POSITION_BOUND = 4.0
MAX_ACTION = 10.0
DT = 0.01
SUBSTEPS = 10
SUCCESS_RADIUS = 0.25
REWARD_SCALE = 0.6
ACTION_GAIN = 1.5
NOISE_STD = 0.05

_ALLOWED_OPTIONS = frozenset({"task", "context"})


class PointMassGateEnv(gym.Env):
    """The SPDL/CURROT point mass with a gated wall; see the module docstring.

    Args:
        friction_param: if True the task has a third entry, the friction coefficient in
            ``[0, 4]`` (SPDL's 3-D variant); else friction is 0 (the 2-D variant).
        noise_std: standard deviation of the per-substep acceleration noise (0 disables it,
            which makes the dynamics deterministic; useful in tests).
        max_steps: steps before the episode is truncated.
        default_task: task played by a reset without one (default: :data:`TARGET_TASK`, with
            friction 0 in 3-D).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        friction_param: bool = False,
        noise_std: float = NOISE_STD,
        max_steps: int = 100,
        default_task: Any = None,
    ) -> None:
        if not isinstance(friction_param, bool):
            raise ValueError(f"friction_param must be a bool, got {friction_param!r}")
        if not (isinstance(noise_std, (int, float)) and math.isfinite(noise_std)) or noise_std < 0:
            raise ValueError(f"noise_std must be a finite float >= 0, got {noise_std!r}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
        self.friction_param = friction_param
        self.noise_std = float(noise_std)
        self.max_steps = max_steps
        low = np.array(TASK_LOW_3D if friction_param else TASK_LOW, dtype=np.float64)
        high = np.array(TASK_HIGH_3D if friction_param else TASK_HIGH, dtype=np.float64)
        self.task_low, self.task_high = low, high
        if default_task is None:
            default_task = TARGET_TASK + ((0.0,) if friction_param else ())
        self.default_task = self._check_task(default_task)

        self.action_space = spaces.Box(-MAX_ACTION, MAX_ACTION, shape=(2,), dtype=np.float32)
        inf = np.inf
        obs_low = np.concatenate([[-POSITION_BOUND, -inf, -POSITION_BOUND, -inf], low])
        obs_high = np.concatenate([[POSITION_BOUND, inf, POSITION_BOUND, inf], high])
        self.observation_space = spaces.Box(
            obs_low.astype(np.float32), obs_high.astype(np.float32), dtype=np.float32
        )

        self._task = self.default_task.copy()
        self._gate_pos, self._half_width, self._friction = 0.0, 0.0, 0.0
        self._x = self._vx = self._y = self._vy = 0.0
        self._t = 0
        self._reached_goal = False
        self._done = True

    # -- task protocol -------------------------------------------------------------------------

    @property
    def task_dim(self) -> int:
        """2, or 3 with ``friction_param``."""
        return int(self.task_low.shape[0])

    @property
    def task(self) -> np.ndarray:
        """The task being played (a copy)."""
        return self._task.copy()

    @property
    def state(self) -> np.ndarray:
        """``(x, x_dot, y, y_dot)`` as float64."""
        return np.array([self._x, self._vx, self._y, self._vy])

    @property
    def elapsed_steps(self) -> int:
        return self._t

    def _check_task(self, task: Any) -> np.ndarray:
        try:
            values = np.array(task, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a point-mass task must be numeric, got {task!r}") from exc
        if values.shape != self.task_low.shape:
            names = "(gate position, gate width" + (", friction)" if self.friction_param else ")")
            raise ValueError(
                f"a point-mass task has {self.task_dim} entries {names}, got shape {values.shape}"
            )
        inside = np.isfinite(values) & (values >= self.task_low) & (values <= self.task_high)
        if not inside.all():
            raise ValueError(
                f"task {values.tolist()} is outside the task box "
                f"{self.task_low.tolist()}-{self.task_high.tolist()}"
            )
        return values

    # -- gymnasium API -------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start at rest at ``(0, 3)``. Task: ``options["task"]`` (alias ``"context"``), else
        ``default_task``. Unknown option keys and tasks outside the box raise ValueError."""
        super().reset(seed=seed)
        task = None
        if options:
            unknown = set(options) - _ALLOWED_OPTIONS
            if unknown:
                raise ValueError(
                    f"unknown reset options {sorted(unknown)}; accepted: {sorted(_ALLOWED_OPTIONS)}"
                )
            if options.get("task") is not None and options.get("context") is not None:
                raise ValueError("pass the task as options['task'] or options['context'], not both")
            task = options.get("task", options.get("context"))
        self._task = self.default_task.copy() if task is None else self._check_task(task)
        self._gate_pos = float(self._task[0])
        self._half_width = 0.5 * float(self._task[1])
        self._friction = float(self._task[2]) if self.friction_param else 0.0
        self._x, self._y = START
        self._vx = self._vy = 0.0
        self._t = 0
        self._reached_goal = False
        self._done = False
        return self._obs(), {"task": self._task.copy()}

    def _obs(self) -> np.ndarray:
        return np.array(
            [self._x, self._vx, self._y, self._vy, *self._task.tolist()], dtype=np.float32
        )

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Apply the (clipped) force for ``SUBSTEPS`` substeps; see the module docstring.
        Stepping a finished episode raises RuntimeError; a non-finite action ValueError."""
        if self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        ux, uy = self._clipped_action(action)
        crashed = self._integrate(ux, uy)
        self._t += 1
        distance = math.hypot(self._x - GOAL[0], self._y - GOAL[1])
        success = distance < SUCCESS_RADIUS
        self._reached_goal = self._reached_goal or success
        truncated = not crashed and self._t >= self.max_steps
        self._done = crashed or truncated
        info: dict[str, Any] = {"success": success, "distance": distance}
        if self._done:
            info["is_success"] = self._reached_goal
        reward = math.exp(-REWARD_SCALE * distance)
        return self._obs(), reward, crashed, truncated, info

    @staticmethod
    def _clipped_action(action: Any) -> tuple[float, float]:
        values = np.asarray(action, dtype=np.float64)
        if values.shape != (2,):
            raise ValueError(f"action must have shape (2,), got {values.shape}")
        ux, uy = values.tolist()
        if not (math.isfinite(ux) and math.isfinite(uy)):
            raise ValueError(f"action must be finite, got {values.tolist()}")
        return (
            min(max(ux, -MAX_ACTION), MAX_ACTION),
            min(max(uy, -MAX_ACTION), MAX_ACTION),
        )

    def _integrate(self, ux: float, uy: float) -> bool:
        """Run the substeps in place; return whether the mass crashed into the wall."""
        if self.noise_std > 0:
            noise = self.np_random.normal(0.0, self.noise_std, size=2 * SUBSTEPS).tolist()
        else:
            noise = [0.0] * (2 * SUBSTEPS)
        x, vx, y, vy = self._x, self._vx, self._y, self._vy
        friction, bound = self._friction, POSITION_BOUND
        force_x, force_y = ACTION_GAIN * ux, ACTION_GAIN * uy
        crashed = False
        for i in range(SUBSTEPS):
            acc_x = force_x - friction * vx + noise[2 * i]
            acc_y = force_y - friction * vy + noise[2 * i + 1]
            new_x = min(max(x + DT * vx, -bound), bound)
            new_y = min(max(y + DT * vy, -bound), bound)
            vx += DT * acc_x
            vy += DT * acc_y
            if y >= 0.0 > new_y:
                crossing_x = x + (-y / (new_y - y)) * (new_x - x)
                if abs(crossing_x - self._gate_pos) > self._half_width:
                    x, y, vx, vy = crossing_x, 0.0, 0.0, 0.0
                    crashed = True
                    break
            x, y = new_x, new_y
        self._x, self._vx, self._y, self._vy = x, vx, y, vy
        return crashed
