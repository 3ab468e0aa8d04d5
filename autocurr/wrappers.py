"""Gymnasium integration: a wrapper that lets a teacher choose each episode's task.

The task protocol
-----------------
An environment *accepts tasks* when its ``reset(seed=None, options=None)`` reads
``options["task"]`` and configures the episode from it (``autocurr/Maze-v0`` does: the task is a
maze level). For any other environment pass ``apply_task(env, task)``, a function that configures
the environment before each reset (set the gravity of CartPole, pick a MiniGrid seed, ...); the
wrapper then calls ``reset`` without the ``task`` option.

What the wrapper guarantees
---------------------------
- every ``reset`` samples one task from the teacher (unless the caller forces one with
  ``options={"task": t}``) and hands it to the environment;
- ``info["task"]`` carries the task that is running, on reset and on every step;
- when the episode ends (``terminated`` or ``truncated``) the teacher receives exactly one
  ``update(task, signal)`` for the task that actually ran, and ``info["curriculum"]`` holds
  ``{"task": task, "signal": value}`` so loggers see what the teacher saw;
- an episode abandoned by a ``reset`` before it ended has no outcome and is not reported; it is
  counted in ``abandoned_episodes`` so nothing disappears silently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym

from autocurr.teachers.base import Teacher

__all__ = ["CurriculumWrapper", "TaskQueueWrapper", "episode_signal"]

SignalFn = Callable[[float, int, dict], float]


def _success(episode_return: float, episode_length: int, info: dict) -> float:
    # Gymnasium-robotics, MiniGrid-style and SB3 envs report success as info["is_success"].
    if "is_success" in info:
        return float(bool(info["is_success"]))
    return float(episode_return > 0)


_BUILTIN_SIGNALS: dict[str, SignalFn] = {
    "return": lambda episode_return, episode_length, info: float(episode_return),
    "success": _success,
    "length": lambda episode_return, episode_length, info: float(episode_length),
    # TSCL's per-task score: in RL (its Minecraft experiments) the episode return.
    "score": lambda episode_return, episode_length, info: float(episode_return),
}


def episode_signal(signal: str | SignalFn | None, teacher: Teacher) -> SignalFn:
    """Resolve the signal a wrapper reports: a built-in name, a callable, or the teacher's own."""
    if callable(signal):
        return signal
    name = teacher.signal if signal is None else signal
    if name == "regret":
        raise ValueError(
            "signal 'regret' compares two students on the same level, so no single episode "
            "gives it: train with autocurr.integrations.sb3_paired.PAIREDPPO "
            "(autocurr train --teacher paired)"
        )
    if name in ("loss", "advantage"):
        raise ValueError(
            f"signal {name!r} comes from training on data, not from an episode: feed this teacher "
            "with autocurr.data.DomainStats or autocurr.integrations.hf, or pass signal= "
            "(a name or a callable(episode_return, episode_length, info)) to use it on an env"
        )
    if name not in _BUILTIN_SIGNALS:
        raise ValueError(
            f"signal {name!r} cannot be computed from an episode; use one of "
            f"{sorted(_BUILTIN_SIGNALS)} or a callable(episode_return, episode_length, info)"
        )
    return _BUILTIN_SIGNALS[name]


def _reset_into(
    wrapper: CurriculumWrapper | TaskQueueWrapper,
    task: Any,
    seed: int | None,
    options: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    """Reset ``wrapper.env`` into ``task`` (None: the env's own choice) and open an episode."""
    if wrapper._episode_open:
        wrapper.abandoned_episodes += 1
    if task is not None:
        if wrapper.apply_task is None:
            options["task"] = task
        else:
            wrapper.apply_task(wrapper.env, task)
    observation, info = wrapper.env.reset(seed=seed, options=options or None)
    wrapper.task = task
    wrapper.episode_return = 0.0
    wrapper._episode_open = True
    info["task"] = task
    return observation, info


class CurriculumWrapper(gym.Wrapper):
    """Sample a task from ``teacher`` at every reset and report each episode's outcome to it.

    Args:
        env: any gymnasium environment.
        teacher: the teacher choosing tasks.
        apply_task: ``apply_task(env, task)`` configures ``env`` for ``task`` before ``reset``;
            ``None`` means the environment accepts ``reset(options={"task": task})``.
        signal: ``"return"``, ``"success"`` (``info["is_success"]``, else return > 0), ``"length"``,
            or ``callable(episode_return, episode_length, final_info) -> float``. ``None`` uses the
            teacher's own ``teacher.signal``.
    """

    #: What ``teacher`` may be: anything with ``space``, ``signal``, ``sample()`` and
    #: ``update(task, signal)`` (a subclass serving a remote teacher widens it).
    teacher_types: ClassVar[tuple[type, ...]] = (Teacher,)

    def __init__(
        self,
        env: gym.Env,
        teacher: Teacher,
        apply_task: Callable[[gym.Env, Any], None] | None = None,
        signal: str | SignalFn | None = None,
    ):
        super().__init__(env)
        if not isinstance(teacher, self.teacher_types):
            expected = " or ".join(kind.__name__ for kind in self.teacher_types)
            got = type(teacher).__name__
            raise ValueError(f"teacher must be an autocurr {expected}, got {got}")
        self.teacher = teacher
        self.apply_task = apply_task
        self.signal_fn = episode_signal(signal, teacher)
        self.task: Any = None
        self.episode_return = 0.0
        self.episode_length = 0
        self.episodes_reported = 0
        self.abandoned_episodes = 0
        self._episode_open = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        options = dict(options or {})
        task = options.pop("task") if "task" in options else self.teacher.sample()
        observation, info = _reset_into(self, self.teacher.space.canonical(task), seed, options)
        self.episode_length = 0
        return observation, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self._episode_open:
            raise RuntimeError("step() called before reset() or after the episode ended")
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.episode_return += float(reward)
        self.episode_length += 1
        info["task"] = self.task
        if terminated or truncated:
            self._episode_open = False
            value = self.signal_fn(self.episode_return, self.episode_length, info)
            self.teacher.update(self.task, value)
            self.episodes_reported += 1
            info["curriculum"] = {"task": self.task, "signal": float(value)}
        return observation, reward, terminated, truncated, info


class TaskQueueWrapper(gym.Wrapper):
    """Play tasks that a trainer queued, with no teacher inside the env.

    Regret-based teachers (PLR, ACCEL, SFL, PAIRED) assign one level per environment for a whole
    rollout and score it from the rollout afterwards, so the trainer, not the env, talks to the
    teacher. ``set_tasks([a, b, c])`` makes the next resets play ``a``, then ``b``, then ``c``;
    the last task then repeats at every later reset until ``set_tasks`` is called again (so
    ``set_tasks([level])`` pins one level, the autoresets of a vector env included). Before the
    first ``set_tasks`` the env picks its own task (e.g. the maze draws a random level).

    ``info["task"]`` carries the running task on reset and on every step, so the step that ends
    an episode names the task it ran on even when a vector env autoresets into the next one.
    At the episode end ``info["curriculum"]`` holds ``{"task": task, "signal": episode return}``
    for loggers; the teacher's own scores are reported by the trainer.
    ``abandoned_episodes`` counts episodes cut by a reset before they ended.

    Args:
        env: any gymnasium environment.
        apply_task: as for :class:`CurriculumWrapper`; ``None`` passes ``options={"task": t}``.
    """

    def __init__(self, env: gym.Env, apply_task: Callable[[gym.Env, Any], None] | None = None):
        super().__init__(env)
        self.apply_task = apply_task
        self._queue: list[Any] = []
        self._next = 0
        self.task: Any = None
        self.episode_return = 0.0
        self.abandoned_episodes = 0
        self._episode_open = False

    def set_tasks(self, tasks: list[Any]) -> None:
        """Queue ``tasks`` for the next resets (the last one repeats); replaces any queue."""
        tasks = list(tasks)
        if not tasks:
            raise ValueError("set_tasks needs at least one task")
        self._queue, self._next = tasks, 0

    def _next_task(self) -> Any:
        if not self._queue:
            return None
        task = self._queue[min(self._next, len(self._queue) - 1)]
        self._next += 1
        return task

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        options = dict(options or {})
        task = options.pop("task") if "task" in options else self._next_task()
        return _reset_into(self, task, seed, options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.episode_return += float(reward)
        info["task"] = self.task
        if terminated or truncated:
            self._episode_open = False
            info["curriculum"] = {"task": self.task, "signal": self.episode_return}
        return observation, reward, terminated, truncated, info
