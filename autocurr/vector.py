"""Vector environments driven by one teacher in the learner process.

Design
------
The teacher lives in the learner (trainer) process; the workers run :class:`QueuedTaskEnv`, a
:class:`~autocurr.wrappers.TaskQueueWrapper` that plays tasks from a local queue. So an autoreset
never waits for the teacher: there is no round trip at reset (Syllabus pays one per episode, see
``shared/reference/peers.md`` §1.6).

- **Queue ahead.** At creation every env gets ``depth`` tasks from one ``teacher.sample(k)`` call.
- **Amortised refill.** The learner knows how many tasks each worker has started (it sees every
  reset and every episode end). When an env is down to its last queued task, one
  ``teacher.sample`` call and one ``call`` / ``env_method`` round top up to ``depth`` that env and
  every other env with ``depth // 2`` or fewer left (the round trip is paid anyway). An env
  starts at most one task between two checks, so a queue never runs dry. The extra IPC is about
  one round trip per ``depth / 2`` to ``depth`` episodes per env; the worker answers with its
  exact queue length, which resynchronises the learner's count.
  (Refilling ``depth // 2`` tasks whenever ``depth // 2`` are left has the same worst-case lag but
  twice the round trips and an older queue on average: 3/4 ``depth`` against about 1/2 ``depth``.)
- **Bounded lag.** A queue never holds more than ``depth`` tasks, so a task runs at the latest as
  the ``depth``-th episode its env starts after the task was sampled. The teacher's freshness
  therefore costs up to ``depth`` episodes per env (``n_envs * depth`` in all); lower ``depth``
  for teachers that must react fast (PLR-style replay), raise it for throughput.
- **Outcomes.** Each episode end carries ``info["curriculum"] = {"task": task, "signal": value}``
  written by the worker: the task that really ran and the value the teacher receives, as with
  :class:`~autocurr.wrappers.CurriculumWrapper`. The worker computes the value, since it alone sees
  the whole episode: the teacher's ``signal`` ("return"/"score": the return, "success":
  ``info.get("is_success", return > 0)``, "length": the episode length) or a picklable
  ``callable(episode_return, episode_length, info)``. Once per step all outcomes go to one
  ``teacher.update_batch``. Signals no episode gives ("loss", "regret") raise ``ValueError``.

Autoreset modes (gymnasium 1.x): ``NEXT_STEP`` (the outcome is in the terminating step's info; the
next step resets and starts the next queued task), ``SAME_STEP`` (the outcome is inside
``info["final_info"]``), ``DISABLED`` (the user resets with ``options={"reset_mask": ...}``; one
outcome per episode all the same). SB3 VecEnvs reset in the same step; the outcome is in that
env's info dict. An episode cut short by a user ``reset`` has no outcome (``TaskQueueWrapper``
counts it in ``abandoned_episodes``).

Closing never hangs: the underlying vector env is closed in a helper thread and, if it has not
finished after ``close_timeout`` seconds, its worker processes are terminated. A worker that
raises surfaces as an exception in the learner at the next ``step``.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorWrapper

from autocurr.teachers.base import Teacher, check_int
from autocurr.wrappers import SignalFn, TaskQueueWrapper, episode_signal

# ``CurriculumVecEnv`` (the SB3 wrapper) is also importable; it is built on first access.
__all__ = ["BACKENDS", "CurriculumVectorEnv", "QueuedTaskEnv", "make_vec_env"]

BACKENDS = ("async", "sync", "sb3-subproc", "sb3-dummy")

ApplyTask = Callable[[gym.Env, Any], None]


class QueuedTaskEnv(TaskQueueWrapper):
    """A :class:`TaskQueueWrapper` whose queue can be appended to, for vector envs.

    ``push_tasks`` appends instead of replacing, so the learner can top the queue up while the
    env runs. ``worker_index`` lets one broadcast message (``take_tasks``) carry every env's
    tasks. ``signal`` (a name of :func:`~autocurr.wrappers.episode_signal` or a callable) sets what
    ``info["curriculum"]["signal"]`` holds at an episode end; the default is the return, as in
    :class:`TaskQueueWrapper`. Only ``task`` and ``signal`` are sent: every extra key costs
    the learner an array per step in gymnasium's info batching and the worker a bigger message.
    For the same reason the running task is not in every step's info as ``TaskQueueWrapper``
    puts it, and in the reset info only with ``task_info=True`` (measured: 0.83x -> 0.96x of the
    raw env's throughput with 1-step episodes when it is left out).
    """

    def __init__(
        self,
        env: gym.Env,
        apply_task: ApplyTask | None = None,
        worker_index: int = 0,
        signal: str | SignalFn = "return",
        task_info: bool = False,
    ):
        super().__init__(env, apply_task)
        self.worker_index = worker_index
        self.task_info = bool(task_info)
        self.signal_fn = None if signal in ("return", "score") else episode_signal(signal, None)
        self.episode_length = 0

    @property
    def tasks_left(self) -> int:
        """Queued tasks not yet started."""
        return max(0, len(self._queue) - self._next)

    def push_tasks(self, tasks: Sequence[Any]) -> int:
        """Append ``tasks`` to the queue; return the number of tasks left to play."""
        # Drop the tasks already played so the list does not grow with the run.
        kept = self._queue[self._next :] if self._next < len(self._queue) else []
        self._queue, self._next = kept + list(tasks), 0
        return self.tasks_left

    def take_tasks(self, batch: dict[int, Sequence[Any]]) -> int:
        """``push_tasks(batch[worker_index])`` if present; return the tasks left either way."""
        tasks = batch.get(self.worker_index)
        return self.push_tasks(tasks) if tasks else self.tasks_left

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.episode_length = 0
        observation, info = super().reset(seed=seed, options=options)
        if not self.task_info:
            del info["task"]
        return observation, info

    def step(self, action: Any):
        # Unlike TaskQueueWrapper, no info["task"] on every step: the vector env would batch it
        # into an array per step (~5% of a 1-step-episode env's throughput). The task is in the
        # reset info and in info["curriculum"] at the episode end.
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.episode_return += float(reward)
        self.episode_length += 1
        if terminated or truncated:
            self._episode_open = False
            value = self.episode_return
            if self.signal_fn is not None:
                value = self.signal_fn(self.episode_return, self.episode_length, info)
            info["curriculum"] = {"task": self.task, "signal": float(value)}
        return observation, reward, terminated, truncated, info


class _TaskFeed:
    """Queue bookkeeping and outcome reporting shared by the gymnasium and SB3 wrappers.

    Plain lists, not numpy: with a handful of envs, per-step numpy calls on tiny arrays would cost
    more than the work (this loop runs once per vector step).
    """

    def __init__(self, teacher: Teacher, n_envs: int, depth: int):
        if not isinstance(teacher, Teacher):
            raise ValueError(f"teacher must be an autocurr Teacher, got {type(teacher).__name__}")
        self.teacher = teacher
        self.depth = check_int("depth", depth, 2)
        self.half = self.depth // 2
        # Refill as late as is safe: an env starts at most one task between two checks, so one
        # task left is enough (see the module docstring for why this beats refilling at half).
        self.low = 1
        self.n_envs = n_envs
        self.left = [0] * n_envs  # queued tasks not started yet, per env
        self.pending: list[int] = []  # NEXT_STEP: envs whose next step starts a task
        self.episodes_finished = 0
        self.outcomes_reported = 0
        self.refill_rounds = 0
        self.tasks_sampled = 0

    def fill(self, push: Callable[[dict[int, list], list[int]], Sequence[int]]) -> None:
        """Top every env with ``half`` or fewer tasks left up to ``depth``, in one IPC round."""
        left, depth = self.left, self.depth
        envs = [env for env in range(self.n_envs) if left[env] <= self.half]
        wanted = [depth - left[env] for env in envs]
        tasks = self.teacher.sample(sum(wanted))
        self.tasks_sampled += len(tasks)
        batch, start = {}, 0
        for env, count in zip(envs, wanted, strict=True):
            batch[env] = tasks[start : start + count]
            start += count
        self._resync(envs, push(batch, envs))
        self.refill_rounds += 1

    def started(self, envs: Sequence[int], push: Callable) -> None:
        """Tasks were started (popped from the queue) in ``envs``; refill if one runs low."""
        left, low = self.left, self.low
        running_low = False
        for env in envs:
            left[env] -= 1
            running_low = running_low or left[env] <= low
        if running_low:
            self.fill(push)

    def _resync(self, envs: list[int], counts: Sequence[int]) -> None:
        # The worker's own count is the truth (a gymnasium ``call`` answers for all envs, an SB3
        # ``env_method`` for the targets only).
        targets = envs if len(counts) == len(envs) else range(self.n_envs)
        for env, count in zip(targets, counts, strict=True):
            self.left[env] = int(count)

    def report(self, tasks: Sequence[Any], values: Sequence[float], n_ended: int) -> None:
        if len(tasks) != n_ended:
            raise RuntimeError(
                f"{n_ended} episodes ended but {len(tasks)} carried info['curriculum']; every "
                "sub-env must be wrapped by QueuedTaskEnv as its outermost wrapper"
            )
        self.episodes_finished += n_ended
        if tasks:
            self.teacher.update_batch(tasks, values)
            self.outcomes_reported += len(tasks)


def _close_guarded(close: Callable[[], None], processes: Sequence[Any], timeout: float) -> None:
    """Run ``close``; terminate ``processes`` if it fails or has not returned after ``timeout``."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            close()
        except BaseException as error:  # closing must never raise or hang
            errors.append(error)

    thread = threading.Thread(target=target, name="autocurr-vec-close", daemon=True)
    thread.start()
    thread.join(timeout)
    hung = thread.is_alive()
    if hung or errors:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(1.0)
            if process.is_alive():
                process.kill()
                process.join(1.0)
        thread.join(1.0)
    if hung:
        warnings.warn(
            f"vector env did not close within {timeout} s; its workers were terminated",
            RuntimeWarning,
            stacklevel=3,
        )


class CurriculumVectorEnv(VectorWrapper):
    """A gymnasium vector env whose workers play the tasks a teacher chooses.

    Built by :func:`make_vec_env` (``backend="async"`` or ``"sync"``); behaves like the wrapped
    ``AsyncVectorEnv`` / ``SyncVectorEnv``. Counters: ``episodes_finished``,
    ``outcomes_reported`` (equal unless a sub-env is not a ``QueuedTaskEnv``), ``refill_rounds``.
    """

    def __init__(
        self,
        env: AsyncVectorEnv | SyncVectorEnv,
        teacher: Teacher,
        depth: int = 64,
        seed: int | None = None,
        close_timeout: float = 5.0,
    ):
        super().__init__(env)
        self.feed = _TaskFeed(teacher, env.num_envs, depth)
        self.mode = AutoresetMode(env.metadata["autoreset_mode"])
        self._end_key = "final_info" if self.mode is AutoresetMode.SAME_STEP else "curriculum"
        self.close_timeout = float(close_timeout)
        self._seed = seed
        self.feed.fill(self._push)

    @property
    def teacher(self) -> Teacher:
        return self.feed.teacher

    @property
    def episodes_finished(self) -> int:
        return self.feed.episodes_finished

    @property
    def outcomes_reported(self) -> int:
        return self.feed.outcomes_reported

    @property
    def refill_rounds(self) -> int:
        return self.feed.refill_rounds

    def _push(self, batch: dict[int, list], envs: list[int]) -> Sequence[int]:
        return self.env.call("take_tasks", batch)

    # gymnasium's VectorWrapper does not forward these; the sub-envs' own methods stay reachable.
    # (Calling ``set_tasks`` through them would replace the queue the learner is counting.)
    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return self.env.call(name, *args, **kwargs)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self.env.get_attr(name)

    def set_attr(self, name: str, values: Any) -> None:
        self.env.set_attr(name, values)

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if seed is None and self._seed is not None:
            seed, self._seed = self._seed, None  # seed the first reset only
        mask = None if options is None else options.get("reset_mask")
        chooses_task = options is not None and "task" in options
        observation, info = self.env.reset(seed=seed, options=options)
        feed = self.feed
        envs = list(range(self.num_envs)) if mask is None else np.flatnonzero(mask).tolist()
        # A reset replaces the autoreset an env had pending.
        feed.pending = [env for env in feed.pending if env not in envs]
        if not chooses_task:
            feed.started(envs, self._push)
        return observation, info

    def step(self, actions: Any):
        feed = self.feed
        observation, reward, terminated, truncated, info = self.env.step(actions)
        ended = []
        # Every episode end carries this key (make_vec_env wraps each sub-env in QueuedTaskEnv),
        # other steps never do: checking it first keeps numpy off the steps that end nothing.
        if self._end_key in info:
            ended = np.flatnonzero(terminated | truncated).tolist()
            self._report(info, len(ended))
        if self.mode is AutoresetMode.NEXT_STEP:
            # The envs that ended last step reset in this one, starting their next queued task;
            # counting it only now keeps the count equal to the worker's at every refill.
            popped, feed.pending = feed.pending, ended
            if popped:
                feed.started(popped, self._push)
        elif self.mode is AutoresetMode.SAME_STEP and ended:
            feed.started(ended, self._push)
        return observation, reward, terminated, truncated, info

    def _report(self, info: dict[str, Any], n_ended: int) -> None:
        source = info.get("final_info", {}) if self.mode is AutoresetMode.SAME_STEP else info
        outcome = source.get("curriculum")
        if outcome is None:
            self.feed.report([], [], n_ended)
            return
        carried = source["_curriculum"]
        tasks = outcome["task"][carried]
        tasks = list(tasks) if tasks.dtype == object else tasks.tolist()
        self.feed.report(tasks, outcome["signal"][carried].tolist(), n_ended)

    def close(self, **kwargs: Any) -> None:
        if self.env.closed:
            return
        if isinstance(self.env, AsyncVectorEnv):
            timeout = kwargs.pop("timeout", self.close_timeout)
            _close_guarded(
                lambda: self.env.close(timeout=timeout, **kwargs), self.env.processes, timeout
            )
        else:
            self.env.close(**kwargs)


def _sb3_base():
    try:
        from stable_baselines3.common.vec_env import VecEnvWrapper
    except ImportError:
        raise ImportError(
            "the sb3 backends need stable-baselines3: pip install autocurr[sb3]"
        ) from None
    return VecEnvWrapper


def _make_sb3_wrapper_class():
    VecEnvWrapper = _sb3_base()

    class CurriculumVecEnv(VecEnvWrapper):
        """An SB3 ``VecEnvWrapper`` whose workers play the tasks a teacher chooses.

        Built by :func:`make_vec_env` (``backend="sb3-subproc"`` or ``"sb3-dummy"``). SB3 resets
        a sub-env in the step that ends its episode; the outcome is in that env's info dict.
        """

        def __init__(self, venv, teacher: Teacher, depth: int = 64, close_timeout: float = 5.0):
            super().__init__(venv)
            self.feed = _TaskFeed(teacher, venv.num_envs, depth)
            self.close_timeout = float(close_timeout)
            self.feed.fill(self._push)

        teacher = property(lambda self: self.feed.teacher)
        episodes_finished = property(lambda self: self.feed.episodes_finished)
        outcomes_reported = property(lambda self: self.feed.outcomes_reported)
        refill_rounds = property(lambda self: self.feed.refill_rounds)

        def _push(self, batch: dict[int, list], envs: list[int]) -> Sequence[int]:
            return self.venv.env_method("take_tasks", batch, indices=envs)

        def reset(self):
            observation = self.venv.reset()
            self.feed.started(range(self.num_envs), self._push)
            return observation

        def step_wait(self):
            observation, reward, done, infos = self.venv.step_wait()
            if done.any():
                ended = np.flatnonzero(done).tolist()
                tasks, values = [], []
                for env in ended:
                    outcome = infos[env].get("curriculum")
                    if outcome is not None:
                        tasks.append(outcome["task"])
                        values.append(outcome["signal"])
                self.feed.report(tasks, values, len(ended))
                self.feed.started(ended, self._push)
            return observation, reward, done, infos

        def close(self) -> None:
            if getattr(self.venv, "closed", False):
                return
            _close_guarded(self.venv.close, getattr(self.venv, "processes", ()), self.close_timeout)

    return CurriculumVecEnv


_SB3_CLASS: type | None = None


def __getattr__(name: str) -> Any:
    # The SB3 class is built on first use so that importing this module never imports SB3.
    if name == "CurriculumVecEnv":
        return _sb3_wrapper_class()
    raise AttributeError(f"module 'autocurr.vector' has no attribute {name!r}")


def _sb3_wrapper_class() -> type:
    global _SB3_CLASS
    if _SB3_CLASS is None:
        _SB3_CLASS = _make_sb3_wrapper_class()
    return _SB3_CLASS


class _EnvFactory:
    """A picklable env constructor for one worker."""

    def __init__(self, env_id_or_fn, env_kwargs, apply_task, worker_index, signal, task_info):
        self.env_id_or_fn = env_id_or_fn
        self.env_kwargs = env_kwargs
        self.apply_task = apply_task
        self.worker_index = worker_index
        self.signal = signal
        self.task_info = task_info

    def __call__(self) -> QueuedTaskEnv:
        if isinstance(self.env_id_or_fn, str):
            env = gym.make(self.env_id_or_fn, **self.env_kwargs)
        else:
            env = self.env_id_or_fn(**self.env_kwargs)
        return QueuedTaskEnv(env, self.apply_task, self.worker_index, self.signal, self.task_info)


def make_vec_env(
    env_id_or_fn: str | Callable[..., gym.Env],
    n_envs: int,
    teacher: Teacher,
    backend: str = "async",
    depth: int = 64,
    env_kwargs: dict[str, Any] | None = None,
    apply_task: ApplyTask | None = None,
    autoreset_mode: str | AutoresetMode | None = None,
    seed: int | None = None,
    close_timeout: float = 5.0,
    vec_kwargs: dict[str, Any] | None = None,
    signal: str | SignalFn | None = None,
    task_info: bool = False,
):
    """A vector env of ``n_envs`` workers playing the tasks ``teacher`` chooses.

    Args:
        env_id_or_fn: a registered gymnasium id, or a callable returning an env (called with
            ``env_kwargs``); with ``apply_task=None`` the env must read ``options["task"]``.
        n_envs: number of sub-envs.
        teacher: the teacher; it stays in this process.
        backend: ``"async"`` / ``"sync"`` (gymnasium ``AsyncVectorEnv`` / ``SyncVectorEnv``,
            returns :class:`CurriculumVectorEnv`) or ``"sb3-subproc"`` / ``"sb3-dummy"`` (SB3
            ``SubprocVecEnv`` / ``DummyVecEnv``, returns an SB3 ``VecEnvWrapper``).
        depth: tasks queued ahead per env (>= 2); a task runs within the next ``depth`` episodes
            of its env after it was sampled; one IPC round per ``depth // 2`` episodes per env.
        apply_task: ``apply_task(env, task)`` configures an env that does not read the option.
        autoreset_mode: gymnasium backends only: ``"NextStep"`` (default), ``"SameStep"`` or
            ``"Disabled"``. SB3 VecEnvs always reset in the same step; pass ``None``.
        seed: seeds the first ``reset`` (sub-env ``i`` gets ``seed + i``).
        close_timeout: seconds ``close`` waits before terminating the workers.
        vec_kwargs: extra arguments for the backend constructor (e.g. ``start_method``).
        signal: what the teacher receives per episode: ``None`` (the teacher's own ``signal``),
            ``"return"``, ``"success"``, ``"length"``, or a picklable
            ``callable(episode_return, episode_length, final_info)`` run in the workers.
        task_info: put the task an env starts in its reset info (``info["task"]``). Off by
            default: the extra key costs about 13% of the throughput of an env with 1-step
            episodes. Every episode's task is in ``info["curriculum"]`` at its end either way.
    """
    n_envs = check_int("n_envs", n_envs, 1)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _TaskFeed(teacher, 1, depth)  # validate teacher and depth before starting any process
    if signal is None:
        signal = teacher.signal
    episode_signal(signal, teacher)  # ValueError for signals no episode gives ("loss", "regret")
    vec_kwargs = dict(vec_kwargs or {})
    kwargs = dict(env_kwargs or {})
    factories = [
        _EnvFactory(env_id_or_fn, kwargs, apply_task, i, signal, task_info) for i in range(n_envs)
    ]
    if backend.startswith("sb3"):
        if autoreset_mode is not None:
            raise ValueError(
                f"autoreset_mode={autoreset_mode!r} is not supported by SB3 VecEnvs, which always "
                "reset in the step that ends an episode; pass autoreset_mode=None"
            )
        wrapper_class = _sb3_wrapper_class()
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

        vec_class = SubprocVecEnv if backend == "sb3-subproc" else DummyVecEnv
        venv = vec_class(factories, **vec_kwargs)
        if seed is not None:
            venv.seed(seed)
        try:
            return wrapper_class(venv, teacher, depth, close_timeout)
        except BaseException:
            _close_guarded(venv.close, getattr(venv, "processes", ()), close_timeout)
            raise
    mode = _autoreset_mode(autoreset_mode)
    vec_class = AsyncVectorEnv if backend == "async" else SyncVectorEnv
    venv = vec_class(factories, autoreset_mode=mode, **vec_kwargs)
    try:
        return CurriculumVectorEnv(venv, teacher, depth, seed, close_timeout)
    except BaseException:
        venv.close(terminate=True) if backend == "async" else venv.close()
        raise


def _autoreset_mode(mode: str | AutoresetMode | None) -> AutoresetMode:
    if mode is None:
        return AutoresetMode.NEXT_STEP
    if isinstance(mode, AutoresetMode):
        return mode
    for member in AutoresetMode:
        if mode in (member.value, member.name):
            return member
    raise ValueError(
        f"autoreset_mode {mode!r} is not supported; use one of "
        f"{[m.value for m in AutoresetMode]} (or their names {[m.name for m in AutoresetMode]})"
    )
