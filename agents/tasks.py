"""Env presets: what a teacher chooses for each environment, and how the choice reaches it.

A preset answers three questions for one gymnasium id:

1. **Task space.** What the teacher picks from: a finite set (``Discrete(n)``) with a
   human-readable label per task, or a ``Box`` of continuous parameters with a name per
   dimension, for logs and plots.
2. **apply_task.** A callable ``apply_task(env, task)`` that configures the environment before
   each reset; :class:`~autocurr.wrappers.CurriculumWrapper` calls it. Each training env gets its
   own instance (``preset.make_apply_task(rng)``), so randomness stays per env and reproducible.
   ``make_apply_task`` may return ``None`` for envs that read ``reset(options={"task": ...})``.
3. **Held-out evaluation.** Named episodes the trained student is tested on afterwards
   (``preset.held_out(suite)``), and whether an episode counts as solved: from its return
   (``is_success``) or from the final step's ``info[success_key]``.

A preset may also carry PPO settings tuned for its env (``ppo_defaults``, ``rollout_steps``);
``autocurr train`` applies them over its own defaults, and ``--ppo-kwargs`` over both.

Built-in presets:

- ``autocurr/Maze-v0``: six difficulty bins over the BFS start-goal distance; a task draws a fresh
  random level in that bin. Held out: the hand-drawn ``maze-test`` suite, solved = return > 0 (the
  PAIRED / PLR / ACCEL convention).
- ``autocurr/PointMassGate-v0``: the continuous ``(gate position, gate width)`` box of SPDL /
  CURROT's point mass; the task goes in through ``reset(options={"task": ...})``. Held out: the
  narrow target gates (SPDL's ``(2.5, 0.5)``, CURROT's ``(+-3, 0.5)``), solved = the goal was
  reached (``info["is_success"]``). PPO settings from SPDL / CURROT (see
  :data:`POINT_MASS_PPO`).
- ``CartPole-v1``: four pole lengths. Held out: every length, mean return.
- any other id with ``task_param`` / ``task_values``: ``setattr(env.unwrapped, name, value)``.

This module needs numpy and gymnasium only (no torch / SB3).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from autocurr.spaces import Box, Discrete, Space

__all__ = [
    "CARTPOLE_LENGTHS",
    "LEVEL_STARTS",
    "MAZE_DISTANCE_BINS",
    "POINT_MASS_HELD_OUT",
    "POINT_MASS_PPO",
    "POINT_MASS_ROLLOUT_STEPS",
    "CartPoleLength",
    "EnvPreset",
    "HeldOutCase",
    "MazeLevelInDistanceBin",
    "SetAttribute",
    "attribute_preset",
    "builtin_presets",
    "level_preset",
    "parse_task_values",
    "point_mass_preset",
    "resolve_preset",
]

MAZE_ENV_ID = "autocurr/Maze-v0"
#: Inclusive (shortest, longest) start-goal BFS distance of each maze task. Narrow bins at the
#: easy end, where one extra step changes difficulty most; 16 is the longest open 9x9 distance.
MAZE_DISTANCE_BINS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 11),
    (12, 16),
)
MAZE_SUITES = ("maze-test", "maze-test-large")

CARTPOLE_ENV_ID = "CartPole-v1"
#: Half pole lengths (gymnasium's ``length``; 0.5 is the standard CartPole).
CARTPOLE_LENGTHS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)

#: Suite name for presets whose held-out cases are simply their task values.
TASK_VALUES_SUITE = "task-values"

POINT_MASS_ENV_ID = "autocurr/PointMassGate-v0"
POINT_MASS_SUITES = ("narrow-gates", "wide-gates")
#: PPO for the point mass, after SPDL / CURROT: discount 0.95 and GAE lambda 0.99 (both repos),
#: minibatch 128 (CURROT's SB3 setup); an MLP of two 64-unit tanh layers (SB3's default
#: network; CURROT used [128, 128, 128]). The rest are SB3's PPO defaults (10 epochs, lr 3e-4,
#: clip 0.2, no entropy bonus).
POINT_MASS_PPO: dict[str, Any] = {
    "learning_rate": 3e-4,
    "batch_size": 128,
    "n_epochs": 10,
    "gamma": 0.95,
    "gae_lambda": 0.99,
    "ent_coef": 0.0,
    "clip_range": 0.2,
    "policy_kwargs": {"net_arch": {"pi": [64, 64], "vf": [64, 64]}},
}
#: Environment steps per PPO iteration, summed over the parallel envs (SPDL: 2048 per iteration).
POINT_MASS_ROLLOUT_STEPS = 2048

#: Generators of a level space: random levels (domain randomisation) or empty rooms (ACCEL).
LEVEL_STARTS = ("random", "empty")

ApplyTask = Callable[[gym.Env, Any], None]
EpisodeStart = Callable[[gym.Env, int | None], tuple[Any, dict]]


@dataclass(frozen=True)
class HeldOutCase:
    """One held-out test: ``start(env, seed)`` resets ``env`` into it and returns ``reset``'s
    result; ``details`` are extra columns for the evaluation table (e.g. the shortest path)."""

    name: str
    start: EpisodeStart
    details: dict[str, Any] = field(default_factory=dict)
    #: The task the case plays, when it is one point of the task space (else None).
    task: Any = None


@dataclass(frozen=True)
class EnvPreset:
    """How one environment is taught; see the module docstring."""

    env_id: str
    space: Space
    #: One label per task of a finite space; empty for a Box (see ``dim_names``).
    task_labels: tuple[str, ...]
    make_apply_task: Callable[[np.random.Generator], ApplyTask | None]
    suites: tuple[str, ...]
    held_out: Callable[[str], list[HeldOutCase]]
    #: Whether an episode return counts as solved; None when the env has no notion of success
    #: or reports it through ``success_key``.
    is_success: Callable[[float], bool] | None = None
    description: str = ""
    #: Name of each dimension of a Box task space (for logs and plots).
    dim_names: tuple[str, ...] = ()
    #: ``info`` key of an episode's last step that says whether it succeeded (used when
    #: ``is_success`` is None).
    success_key: str | None = None
    #: PPO settings for this env, applied over the trainer's defaults.
    ppo_defaults: dict[str, Any] = field(default_factory=dict)
    #: If set, PPO's ``n_steps`` per env is ``rollout_steps // n_envs`` (steps per iteration).
    rollout_steps: int | None = None
    #: ``level_space(env_kwargs, start, **level_kwargs)``: the env's open-ended ``Levels`` space
    #: for regret-based teachers (``start`` ``"random"`` or ``"empty"``); None if the env has none.
    level_space: Callable[..., Space] | None = None
    #: ``optimal_return(env_kwargs)`` -> ``f(level) -> best achievable return`` (true-regret
    #: diagnostics); None if unknown.
    optimal_return: Callable[[dict[str, Any]], Callable[[Any], float]] | None = None
    #: ``level_features(level) -> {name: value}`` logged for regret-based runs; None if none.
    level_features: Callable[[Any], dict[str, float]] | None = None

    @property
    def default_suite(self) -> str:
        return self.suites[0]

    def held_out_cases(self, suite: str | None = None) -> list[HeldOutCase]:
        """The held-out cases of ``suite`` (default: the preset's first suite)."""
        suite = self.default_suite if suite is None else suite
        if suite not in self.suites:
            raise ValueError(
                f"suite {suite!r} does not apply to {self.env_id}; choose from {list(self.suites)}"
            )
        return self.held_out(suite)


# ------------------------------------------------------------------------------------ maze


class MazeLevelInDistanceBin:
    """apply_task for the maze: task ``i`` queues a fresh random level whose start-goal BFS
    distance lies in ``bins[i]``, generated from this object's own ``rng``.

    The level reaches the env through ``env.unwrapped.set_next_level``, so the wrapper's reset
    (without a task option) plays it. Walls and size follow the env's own settings.
    """

    def __init__(
        self, rng: np.random.Generator, bins: Sequence[tuple[int, int]] = MAZE_DISTANCE_BINS
    ):
        self.rng = rng
        self.bins = tuple((int(lo), int(hi)) for lo, hi in bins)

    def __call__(self, env: gym.Env, task: int) -> None:
        maze = env.unwrapped
        maze.set_next_level(self.level(task, maze.size, maze.max_walls))

    def level(self, task: int, size: Any = 9, max_walls: int = 20) -> Any:
        """A fresh random ``MazeLevel`` in distance bin ``task`` (for batched envs too)."""
        from autocurr.envs.maze import generate_level

        shortest, longest = self.bins[task]
        return generate_level(
            self.rng, size=size, max_walls=max_walls, min_distance=shortest, max_distance=longest
        )


def _maze_held_out(suite: str) -> list[HeldOutCase]:
    from autocurr.envs.maze import load_maze_suite, shortest_path_length

    cases = []
    for name, level in load_maze_suite(suite).items():

        def start(env: gym.Env, seed: int | None, level: Any = level) -> tuple[Any, dict]:
            return env.reset(seed=seed, options={"task": level})

        details = {"shortest_path": shortest_path_length(level)}
        cases.append(HeldOutCase(name, start, details))
    return cases


def _maze_solved(episode_return: float) -> bool:
    # The maze pays only at the goal, so any positive return means the goal was reached.
    return episode_return > 0


def _maze_level_space(env_kwargs: dict[str, Any], start: str, **level_kwargs: Any) -> Space:
    from autocurr.envs.maze import maze_levels

    # The same size and wall budget as the env's own random levels (its DR distribution).
    return maze_levels(
        size=env_kwargs.get("size", 9),
        max_walls=env_kwargs.get("max_walls", 20),
        start=start,
        **level_kwargs,
    )


def _maze_optimal_return(env_kwargs: dict[str, Any]) -> Callable[[Any], float]:
    from autocurr.envs.maze import MazeLevel, optimal_return

    max_steps = int(env_kwargs.get("max_steps", 100))
    return lambda level: optimal_return(MazeLevel.decode(level), max_steps)


def maze_level_features(level: Any) -> dict[str, float]:
    """Shortest path (-1 if unsolvable) and wall count of an encoded maze level."""
    from autocurr.envs.maze import MazeLevel, shortest_path_length

    maze = MazeLevel.decode(level)
    path = shortest_path_length(maze)
    return {"shortest_path": float(-1 if path is None else path), "walls": float(maze.n_walls)}


def level_preset(
    preset: EnvPreset,
    env_kwargs: dict[str, Any],
    start: str,
    level_kwargs: dict[str, Any] | None = None,
) -> EnvPreset:
    """``preset`` with its task space replaced by the env's ``Levels`` space (tasks go in through
    ``reset(options={"task": level})``), built with ``level_kwargs`` if given. Raises
    ``ValueError`` if the env has no level space or the space rejects ``level_kwargs``."""
    if preset.level_space is None:
        raise ValueError(
            f"{preset.env_id} has no level space for regret-based teachers (plr, accel, sfl); "
            "the built-in one is autocurr/Maze-v0's"
        )
    if start not in LEVEL_STARTS:
        raise ValueError(f"levels must be one of {LEVEL_STARTS}, got {start!r}")
    try:
        space = preset.level_space(env_kwargs, start, **(level_kwargs or {}))
    except TypeError as error:  # an unexpected keyword argument
        raise ValueError(f"bad level kwargs for {preset.env_id}: {error}") from None
    return dataclasses.replace(
        preset,
        space=space,
        task_labels=(),
        make_apply_task=lambda rng: None,
        description=f"open-ended levels, generator start={start!r}",
    )


def maze_preset() -> EnvPreset:
    return EnvPreset(
        env_id=MAZE_ENV_ID,
        space=Discrete(len(MAZE_DISTANCE_BINS)),
        task_labels=tuple(f"path {lo}-{hi}" for lo, hi in MAZE_DISTANCE_BINS),
        make_apply_task=MazeLevelInDistanceBin,
        suites=MAZE_SUITES,
        held_out=_maze_held_out,
        is_success=_maze_solved,
        description="random levels binned by start-goal BFS distance",
        level_space=_maze_level_space,
        optimal_return=_maze_optimal_return,
        level_features=maze_level_features,
    )


# ------------------------------------------------------------------------------------ point mass

#: Held-out gates ``(position, width)`` of each point-mass suite.
POINT_MASS_HELD_OUT: dict[str, tuple[tuple[str, tuple[float, float]], ...]] = {
    "narrow-gates": (
        ("spdl-target", (2.5, 0.5)),
        ("currot-left", (-3.0, 0.5)),
        ("currot-right", (3.0, 0.5)),
    ),
    "wide-gates": (
        ("wide-left", (-2.0, 4.0)),
        ("wide-centre", (0.0, 4.0)),
        ("wide-right", (2.0, 4.0)),
    ),
}


def _point_mass_held_out(suite: str) -> list[HeldOutCase]:
    cases = []
    for name, (position, width) in POINT_MASS_HELD_OUT[suite]:
        task = np.array([position, width])

        def start(env: gym.Env, seed: int | None, task: np.ndarray = task) -> tuple[Any, dict]:
            return env.reset(seed=seed, options={"task": task.copy()})

        details = {"gate_position": position, "gate_width": width}
        cases.append(HeldOutCase(name, start, details, task=(position, width)))
    return cases


def point_mass_preset() -> EnvPreset:
    from autocurr.envs.point_mass import TASK_HIGH, TASK_LOW

    return EnvPreset(
        env_id=POINT_MASS_ENV_ID,
        space=Box(TASK_LOW, TASK_HIGH),
        task_labels=(),
        # The env reads reset(options={"task": ...}), which the wrapper sends when there is no
        # apply_task.
        make_apply_task=lambda rng: None,
        suites=POINT_MASS_SUITES,
        held_out=_point_mass_held_out,
        description="gate (position, width) in [-4, 0.5]-[4, 8]",
        dim_names=("gate position", "gate width"),
        success_key="is_success",
        ppo_defaults=POINT_MASS_PPO,
        rollout_steps=POINT_MASS_ROLLOUT_STEPS,
    )


# ------------------------------------------------------------------------------------ attributes


class SetAttribute:
    """apply_task that sets ``env.unwrapped.<name> = values[task]`` (no randomness)."""

    def __init__(self, name: str, values: Sequence[Any]):
        self.name = name
        self.values = tuple(values)

    def __call__(self, env: gym.Env, task: int) -> None:
        base = env.unwrapped
        if not hasattr(base, self.name):
            raise ValueError(
                f"{type(base).__name__} has no attribute {self.name!r} to set as the task; "
                "check --task-param"
            )
        setattr(base, self.name, self.values[task])


class CartPoleLength(SetAttribute):
    """Sets CartPole's half pole length and the product the dynamics cache from it.

    Gymnasium's CartPole computes ``polemass_length = masspole * length`` once in ``__init__``;
    setting ``length`` alone would leave the torque term of the old pole in the dynamics.
    """

    def __init__(self, values: Sequence[float] = CARTPOLE_LENGTHS):
        super().__init__("length", values)

    def __call__(self, env: gym.Env, task: int) -> None:
        super().__call__(env, task)
        base = env.unwrapped
        base.polemass_length = base.masspole * base.length


def _values_held_out(apply_task: ApplyTask, labels: Sequence[str]) -> Callable[[str], list]:
    """Held-out cases that play every task value once per episode."""

    def held_out(suite: str) -> list[HeldOutCase]:
        cases = []
        for task, label in enumerate(labels):

            def start(env: gym.Env, seed: int | None, task: int = task) -> tuple[Any, dict]:
                apply_task(env, task)
                return env.reset(seed=seed)

            cases.append(HeldOutCase(label, start))
        return cases

    return held_out


def attribute_preset(
    env_id: str, name: str, values: Sequence[Any], apply_task: SetAttribute | None = None
) -> EnvPreset:
    """A preset whose task ``i`` sets attribute ``name`` of the unwrapped env to ``values[i]``."""
    if not values:
        raise ValueError("--task-values needs at least one value")
    apply_task = SetAttribute(name, values) if apply_task is None else apply_task
    labels = tuple(f"{name}={value}" for value in values)
    return EnvPreset(
        env_id=env_id,
        space=Discrete(len(values)),
        task_labels=labels,
        # A fixed attribute value needs no randomness, so every env shares one stateless setter.
        make_apply_task=lambda rng: apply_task,
        suites=(TASK_VALUES_SUITE,),
        held_out=_values_held_out(apply_task, labels),
        description=f"{name} in {list(values)}",
    )


def cartpole_preset() -> EnvPreset:
    return attribute_preset(
        CARTPOLE_ENV_ID, "length", CARTPOLE_LENGTHS, apply_task=CartPoleLength(CARTPOLE_LENGTHS)
    )


# ------------------------------------------------------------------------------------ lookup


def builtin_presets() -> dict[str, Callable[[], EnvPreset]]:
    """Env ids that work without ``--task-param``, mapped to their preset factory."""
    return {
        MAZE_ENV_ID: maze_preset,
        POINT_MASS_ENV_ID: point_mass_preset,
        CARTPOLE_ENV_ID: cartpole_preset,
    }


def parse_task_values(text: str | Sequence[Any]) -> list[Any]:
    """``"0.25,0.5,1"`` -> ``[0.25, 0.5, 1]``: each item parsed as JSON when possible, else kept
    as a string. Lists pass through unchanged."""
    if not isinstance(text, str):
        return list(text)
    values = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            values.append(json.loads(item))
        except json.JSONDecodeError:
            values.append(item)
    return values


def resolve_preset(
    env_id: str, task_param: str | None = None, task_values: str | Sequence[Any] | None = None
) -> EnvPreset:
    """The preset for ``env_id``: an attribute preset when ``task_param`` is given, else the
    built-in one. Raises ``ValueError`` with what to pass when neither applies."""
    if (task_param is None) != (task_values is None):
        raise ValueError("--task-param and --task-values go together; pass both or neither")
    if task_param is not None:  # explicit flags override a built-in preset
        return attribute_preset(env_id, task_param, parse_task_values(task_values))
    presets = builtin_presets()
    if env_id not in presets:
        raise ValueError(
            f"no task preset for env {env_id!r}: say which attribute the teacher varies, e.g. "
            f"--task-param length --task-values 0.25,0.5,1.0 "
            f"(built-in presets: {', '.join(presets)})"
        )
    return presets[env_id]()
