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
- **Task lag.** A queue never holds more than ``depth`` tasks, so a task runs at the latest as
  the ``depth``-th episode its env starts after the task was sampled. The teacher's freshness
  therefore costs up to ``depth`` episodes per env (``n_envs * depth`` in all); lower ``depth``
  for teachers that must react fast (PLR-style replay), raise it for throughput.
- **Outcomes.** At each episode end the worker computes the value the teacher receives, since it
  alone sees the whole episode: the teacher's ``signal`` ("return"/"score": the return,
  "success": ``info.get("is_success", return > 0)``, "length": the episode length) or a picklable
  ``callable(episode_return, episode_length, info)``, for the task that really ran (as
  :class:`~autocurr.wrappers.CurriculumWrapper` does). Signals no episode gives ("loss",
  "regret") raise ``ValueError``. How the outcome reaches the teacher is the ``outcomes`` option:

  - ``outcomes="batched"`` (default): the worker appends ``(task, value)`` to a local list; the
    step info carries nothing (``outcome_info=True`` also puts ``info["curriculum"]`` there for
    loggers). The learner counts episode ends from ``terminated | truncated`` (SB3: ``done``),
    which is all its task counting needs. Every refill round trip also brings back, and clears,
    every worker's list (gymnasium's ``call`` reaches all envs; the SB3 refill calls all envs
    too, with tasks only for the low ones), and the learner reports them in one
    ``teacher.update_batch`` per round, ordered by env index, then by episode. **Outcome lag:**
    an episode's outcome reaches the teacher at the next refill round, which comes at the latest
    when its own env has started ``depth - 1`` more tasks after the episode ended (after a round
    no env has more than ``depth`` tasks left, and a round is triggered when one is down to 1),
    and usually sooner, since a round triggered by any env collects from all. So the teacher
    sees each outcome within ``depth - 1`` further episodes of its env (user resets count as
    episodes), the same bound as the task lag; with ``DISABLED`` autoreset an env that is never
    reset starts nothing, so its last outcomes wait for another env's round or ``flush()``.
    ``flush()`` delivers everything pending in one round trip (call it before reading or
    checkpointing the teacher); ``close()`` flushes first, so a clean close loses nothing.
    Counters: ``episodes_finished`` (counted by the learner), ``outcomes_reported`` (given to
    the teacher) and ``outcomes_pending`` (the difference; 0 after ``flush()``).
  - ``outcomes="info"``: each episode end carries ``info["curriculum"] = {"task": task,
    "signal": value}``; the learner gives all of a step's outcomes to one
    ``teacher.update_batch`` in that step (no outcome lag). It costs throughput on short
    episodes: the worker pickles the dict and the learner unpickles it and batches it into
    arrays (gymnasium's ``_add_info``), about 7 us per vector step that ends episodes with 4
    envs. Measured CPU time per vector step with 1-step episodes, 4 async workers, teacher
    ``uniform`` (medians of 7 runs; ``benchmarks/vec_throughput.py``): raw 146 us, batched 154
    us (0.95x), info 160 us (0.91x); the learner alone 60, 65 and 73 us.

Autoreset modes (gymnasium 1.x): ``NEXT_STEP`` (the episode ends in the terminating step; the
next step resets and starts the next queued task), ``SAME_STEP`` (with ``outcomes="info"`` the
outcome is inside ``info["final_info"]``), ``DISABLED`` (the user resets with
``options={"reset_mask": ...}``; one outcome per episode all the same). SB3 VecEnvs reset in the
same step; with ``outcomes="info"`` the outcome is in that env's info dict. An episode cut short
by a user ``reset`` has no outcome (``TaskQueueWrapper`` counts it in ``abandoned_episodes``).

Closing never hangs: pending outcomes are collected with a timeout of ``close_timeout`` seconds
(a dead or hung worker's outcomes are given up with a ``RuntimeWarning``), then the underlying
vector env is closed in a helper thread and, if it has not finished after ``close_timeout``
seconds, its worker processes are terminated. A worker that raises surfaces as an exception in
the learner at the next ``step``.
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
__all__ = ["BACKENDS", "OUTCOMES", "CurriculumVectorEnv", "QueuedTaskEnv", "make_vec_env"]

BACKENDS = ("async", "sync", "sb3-subproc", "sb3-dummy")
OUTCOMES = ("batched", "info")

ApplyTask = Callable[[gym.Env, Any], None]
# A worker's answer to ``take_tasks``: (tasks left, finished tasks, their values).
Answer = tuple[int, list, list]


def _check_outcomes(outcomes: str) -> str:
    if outcomes not in OUTCOMES:
        raise ValueError(f"outcomes must be one of {OUTCOMES}, got {outcomes!r}")
    return outcomes


class QueuedTaskEnv(TaskQueueWrapper):
    """A :class:`TaskQueueWrapper` whose queue can be appended to, for vector envs.

    ``push_tasks`` appends instead of replacing, so the learner can top the queue up while the
    env runs. ``worker_index`` lets one broadcast message (``take_tasks``) carry every env's
    tasks. ``signal`` (a name of :func:`~autocurr.wrappers.episode_signal` or a callable) sets the
    value reported per episode; the default is the return, as in :class:`TaskQueueWrapper`.

    ``outcomes="batched"`` (default) keeps each finished episode's ``(task, value)`` in a local
    list that ``take_tasks`` returns and clears; ``outcomes="info"`` puts
    ``info["curriculum"] = {"task", "signal"}`` in the step info that ends the episode instead.
    ``outcome_info=True`` puts it there in batched mode too (for loggers; it costs throughput).
    Only ``task`` and ``signal`` are sent: every extra key costs the learner an array per step in
    gymnasium's info batching and the worker a bigger message. For the same reason the running
    task is not in every step's info as ``TaskQueueWrapper`` puts it, and in the reset info only
    with ``task_info=True`` (measured: 0.83x -> 0.96x of the raw env's throughput with 1-step
    episodes when it is left out).
    """

    def __init__(
        self,
        env: gym.Env,
        apply_task: ApplyTask | None = None,
        worker_index: int = 0,
        signal: str | SignalFn = "return",
        task_info: bool = False,
        outcomes: str = "batched",
        outcome_info: bool | None = None,
    ):
        super().__init__(env, apply_task)
        self.worker_index = worker_index
        self.task_info = bool(task_info)
        self.outcomes = _check_outcomes(outcomes)
        self.batched = outcomes == "batched"
        self.outcome_info = not self.batched if outcome_info is None else bool(outcome_info)
        if not self.batched and not self.outcome_info:
            raise ValueError("outcomes='info' needs outcome_info (the info is how they travel)")
        self.signal_fn = None if signal in ("return", "score") else episode_signal(signal, None)
        self.episode_length = 0
        self._done_tasks: list[Any] = []  # batched: finished episodes not yet taken
        self._done_values: list[float] = []

    @property
    def tasks_left(self) -> int:
        """Queued tasks not yet started."""
        return max(0, len(self._queue) - self._next)

    @property
    def outcomes_held(self) -> int:
        """Finished episodes whose outcome ``take_tasks`` has not returned yet (batched mode)."""
        return len(self._done_tasks)

    def push_tasks(self, tasks: Sequence[Any]) -> int:
        """Append ``tasks`` to the queue; return the number of tasks left to play."""
        # Drop the tasks already played so the list does not grow with the run.
        kept = self._queue[self._next :] if self._next < len(self._queue) else []
        self._queue, self._next = kept + list(tasks), 0
        return self.tasks_left

    def take_tasks(self, batch: dict[int, Sequence[Any]]) -> Answer:
        """``push_tasks(batch[worker_index])`` if present; hand over the finished episodes.

        Returns ``(tasks left, tasks, values)``: the queue length after the push and the outcomes
        of the episodes finished since the last call, in order (always empty in ``info`` mode).
        """
        tasks = batch.get(self.worker_index)
        left = self.push_tasks(tasks) if tasks else self.tasks_left
        done_tasks, done_values = self._done_tasks, self._done_values
        if done_tasks:
            self._done_tasks, self._done_values = [], []
        return left, done_tasks, done_values

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.episode_length = 0
        if options or self.task_info or not self._queue:
            observation, info = super().reset(seed=seed, options=options)
            if not self.task_info:
                del info["task"]
            return observation, info
        # The autoreset of a vector env: the same as TaskQueueWrapper.reset, in fewer calls
        # (this runs once per episode in every worker: measured 1.3 -> 0.35 us per episode on
        # top of the bare env).
        if self._episode_open:
            self.abandoned_episodes += 1
        queue, position = self._queue, self._next
        task = queue[position] if position < len(queue) else queue[-1]
        self._next = position + 1
        if self.apply_task is None:
            observation, info = self.env.reset(seed=seed, options={"task": task})
        else:
            self.apply_task(self.env, task)
            observation, info = self.env.reset(seed=seed)
        self.task = task
        self.episode_return = 0.0
        self._episode_open = True
        return observation, info

    def step(self, action: Any):
        # Unlike TaskQueueWrapper, no info["task"] on every step: the vector env would batch it
        # into an array per step (~5% of a 1-step-episode env's throughput).
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.episode_return += float(reward)
        self.episode_length += 1
        if terminated or truncated:
            self._episode_open = False
            value = self.episode_return
            if self.signal_fn is not None:
                value = self.signal_fn(self.episode_return, self.episode_length, info)
            value = float(value)
            if self.batched:
                self._done_tasks.append(self.task)
                self._done_values.append(value)
            if self.outcome_info:
                info["curriculum"] = {"task": self.task, "signal": value}
        return observation, reward, terminated, truncated, info


class _TaskFeed:
    """Queue bookkeeping and outcome reporting shared by the gymnasium and SB3 wrappers.

    Plain lists, not numpy: with a handful of envs, per-step numpy calls on tiny arrays would cost
    more than the work (this loop runs once per vector step).
    """

    def __init__(self, teacher: Teacher, n_envs: int, depth: int, outcomes: str = "batched"):
        if not isinstance(teacher, Teacher):
            raise ValueError(f"teacher must be an autocurr Teacher, got {type(teacher).__name__}")
        self.teacher = teacher
        self.depth = check_int("depth", depth, 2)
        self.batched = _check_outcomes(outcomes) == "batched"
        self.half = self.depth // 2
        # Refill as late as is safe: an env starts at most one task between two checks, so one
        # task left is enough (see the module docstring for why this beats refilling at half).
        self.low = 1
        self.n_envs = n_envs
        self.left = [0] * n_envs  # queued tasks not started yet, per env
        self.pending: list[int] = []  # NEXT_STEP: envs whose next step starts a task
        self.episodes_finished = 0
        self.outcomes_collected = 0  # batched: outcomes received from the workers
        self.outcomes_reported = 0
        self.refill_rounds = 0
        self.tasks_sampled = 0

    def fill(self, push: Callable[[dict[int, list], list[int]], Sequence[Answer]]) -> None:
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
        self.receive(envs, push(batch, envs))
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

    def receive(self, envs: Sequence[int], answers: Sequence[Answer]) -> None:
        """Take the workers' answers to ``take_tasks``: queue lengths, then (batched) outcomes.

        A gymnasium ``call`` answers for all envs, an SB3 ``env_method`` for its targets only
        (all envs in batched mode, the refilled ones in info mode).
        """
        targets = envs if len(answers) == len(envs) else range(self.n_envs)
        tasks: list[Any] = []
        values: list[float] = []
        for env, (count, done_tasks, done_values) in zip(targets, answers, strict=True):
            self.left[env] = int(count)  # the worker's own count is the truth
            if done_tasks:
                tasks += done_tasks
                values += done_values
        if self.batched:
            self._deliver(tasks, values)

    def _deliver(self, tasks: list[Any], values: list[float]) -> None:
        # Every round collects from every env, so all the episodes seen to end have arrived.
        self.outcomes_collected += len(tasks)
        if self.outcomes_collected != self.episodes_finished:
            raise RuntimeError(
                f"{self.episodes_finished} episodes ended but the workers returned "
                f"{self.outcomes_collected} outcomes; every sub-env must be wrapped by "
                "QueuedTaskEnv as its outermost wrapper"
            )
        if tasks:
            self.teacher.update_batch(tasks, values)
            self.outcomes_reported += len(tasks)

    def report(self, tasks: Sequence[Any], values: Sequence[float], n_ended: int) -> None:
        """Info mode: one step's ``n_ended`` episode ends, straight to the teacher."""
        if len(tasks) != n_ended:
            raise RuntimeError(
                f"{n_ended} episodes ended but {len(tasks)} carried info['curriculum']; every "
                "sub-env must be wrapped by QueuedTaskEnv as its outermost wrapper"
            )
        self.episodes_finished += n_ended
        if tasks:
            self.teacher.update_batch(tasks, values)
            self.outcomes_reported += len(tasks)

    def lost_on_close(self, error: BaseException) -> None:
        pending = self.episodes_finished - self.outcomes_reported
        if pending == 0:
            return  # nothing the learner saw end is missing
        warnings.warn(
            f"close could not collect the workers' pending outcomes ({error!r}); "
            f"{pending} finished episodes were not reported to the teacher",
            RuntimeWarning,
            stacklevel=4,
        )


def _call_with_timeout(function: Callable[[], Any], timeout: float) -> Any:
    """``function()`` in a helper thread; ``TimeoutError`` if it has not returned in time.

    The thread only does IPC and stores the result, so one left behind cannot touch the teacher.
    """
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target, name="autocurr-vec-flush", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no answer from the workers within {timeout} s")
    if errors:
        raise errors[0]
    return result[0]


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


def _check_workers(outcomes: Sequence[str], expected: str) -> None:
    if any(mode != expected for mode in outcomes):
        raise ValueError(
            f"the wrapper has outcomes={expected!r} but its QueuedTaskEnv workers have "
            f"{sorted(set(outcomes))}; build both with the same mode (make_vec_env does)"
        )


class CurriculumVectorEnv(VectorWrapper):
    """A gymnasium vector env whose workers play the tasks a teacher chooses.

    Built by :func:`make_vec_env` (``backend="async"`` or ``"sync"``); behaves like the wrapped
    ``AsyncVectorEnv`` / ``SyncVectorEnv``. ``outcomes`` must match the workers'
    (``QueuedTaskEnv(outcomes=...)``). Counters: ``episodes_finished``, ``outcomes_reported``,
    ``outcomes_pending`` (batched mode: finished, not yet reported; 0 after :meth:`flush`),
    ``refill_rounds``.
    """

    def __init__(
        self,
        env: AsyncVectorEnv | SyncVectorEnv,
        teacher: Teacher,
        depth: int = 64,
        seed: int | None = None,
        close_timeout: float = 5.0,
        outcomes: str = "batched",
    ):
        super().__init__(env)
        self.feed = _TaskFeed(teacher, env.num_envs, depth, outcomes)
        self.outcomes = outcomes
        _check_workers(env.get_attr("outcomes"), outcomes)
        self.mode = AutoresetMode(env.metadata["autoreset_mode"])
        if outcomes == "info":
            self._end_key = "final_info" if self.mode is AutoresetMode.SAME_STEP else "curriculum"
        else:
            self._end_key = None  # look at terminated | truncated
        self._no_end = bytes(env.num_envs)  # tobytes() of an all-False bool array
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
    def outcomes_pending(self) -> int:
        return self.feed.episodes_finished - self.feed.outcomes_reported

    @property
    def refill_rounds(self) -> int:
        return self.feed.refill_rounds

    def _push(self, batch: dict[int, list], envs: list[int]) -> Sequence[Answer]:
        return self.env.call("take_tasks", batch)

    def flush(self) -> None:
        """Report every pending outcome to the teacher now, in one round trip (batched mode).

        Call it before reading or checkpointing the teacher; ``close`` calls it too.
        """
        if self.feed.batched and not self.env.closed:
            self.feed.receive(range(self.num_envs), self.env.call("take_tasks", {}))

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
        # Steps that end nothing are the common case: a bytes comparison (or, in info mode, a
        # key lookup) keeps numpy off them.
        key = self._end_key
        if key is None:
            any_end = terminated.tobytes() != self._no_end or truncated.tobytes() != self._no_end
        else:
            any_end = key in info
        if any_end:
            ended = (terminated | truncated).nonzero()[0].tolist()
            if feed.batched:
                feed.episodes_finished += len(ended)
            else:
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

    def _flush_for_close(self, timeout: float) -> None:
        """``flush`` that gives up (with a warning) on a dead worker or after ``timeout``."""
        if not self.feed.batched:
            return
        try:
            if isinstance(self.env, AsyncVectorEnv):
                if any(pipe is None for pipe in self.env.parent_pipes):
                    raise RuntimeError("a worker has failed")  # gymnasium dropped its pipe
                self.env.call_async("take_tasks", {})
                answers = self.env.call_wait(timeout)
            else:
                answers = self.env.call("take_tasks", {})
            self.feed.receive(range(self.num_envs), answers)
        except Exception as error:
            self.feed.lost_on_close(error)

    def close(self, **kwargs: Any) -> None:
        """Flush the pending outcomes, then close the vector env; never hangs."""
        if self.env.closed:
            return
        if isinstance(self.env, AsyncVectorEnv):
            timeout = kwargs.pop("timeout", self.close_timeout)
            if not kwargs.get("terminate", False):
                self._flush_for_close(timeout)
            _close_guarded(
                lambda: self.env.close(timeout=timeout, **kwargs), self.env.processes, timeout
            )
        else:
            self._flush_for_close(self.close_timeout)
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
        a sub-env in the step that ends its episode. ``outcomes="batched"`` (default): outcomes
        come back with the refill rounds (which call every env) and :meth:`flush`;
        ``outcomes="info"``: each is in its env's info dict and reported in its step.
        """

        def __init__(
            self,
            venv,
            teacher: Teacher,
            depth: int = 64,
            close_timeout: float = 5.0,
            outcomes: str = "batched",
        ):
            super().__init__(venv)
            self.feed = _TaskFeed(teacher, venv.num_envs, depth, outcomes)
            self.outcomes = outcomes
            _check_workers(venv.get_attr("outcomes"), outcomes)
            self._no_end = bytes(venv.num_envs)  # tobytes() of an all-False bool array
            self.close_timeout = float(close_timeout)
            self.feed.fill(self._push)

        teacher = property(lambda self: self.feed.teacher)
        episodes_finished = property(lambda self: self.feed.episodes_finished)
        outcomes_reported = property(lambda self: self.feed.outcomes_reported)
        outcomes_pending = property(
            lambda self: self.feed.episodes_finished - self.feed.outcomes_reported
        )
        refill_rounds = property(lambda self: self.feed.refill_rounds)

        def _push(self, batch: dict[int, list], envs: list[int]) -> Sequence[Answer]:
            # Batched: call every env, so that each round collects every pending outcome.
            indices = None if self.feed.batched else envs
            return self.venv.env_method("take_tasks", batch, indices=indices)

        def flush(self) -> None:
            """Report every pending outcome to the teacher now, in one round trip (batched).

            Call it before reading or checkpointing the teacher (not between ``step_async`` and
            ``step_wait``); ``close`` calls it too.
            """
            if self.feed.batched and not getattr(self.venv, "closed", False):
                self.feed.receive(range(self.num_envs), self.venv.env_method("take_tasks", {}))

        def reset(self):
            observation = self.venv.reset()
            self.feed.started(range(self.num_envs), self._push)
            return observation

        def step_wait(self):
            observation, reward, done, infos = self.venv.step_wait()
            if done.tobytes() != self._no_end:
                ended = done.nonzero()[0].tolist()
                if ended:
                    self._count_ends(ended, infos)
                    self.feed.started(ended, self._push)
            return observation, reward, done, infos

        def _count_ends(self, ended: list[int], infos) -> None:
            if self.feed.batched:
                self.feed.episodes_finished += len(ended)
                return
            tasks, values = [], []
            for env in ended:
                outcome = infos[env].get("curriculum")
                if outcome is not None:
                    tasks.append(outcome["task"])
                    values.append(outcome["signal"])
            self.feed.report(tasks, values, len(ended))

        def _flush_for_close(self) -> None:
            """``flush`` that gives up (with a warning) on a dead or hung worker."""
            if not self.feed.batched:
                return
            venv = self.venv
            waiting = getattr(venv, "waiting", False)  # closed between step_async and step_wait

            def exchange():
                stepped = venv.step_wait() if waiting else None
                return stepped, venv.env_method("take_tasks", {})

            try:
                if getattr(venv, "processes", None):
                    stepped, answers = _call_with_timeout(exchange, self.close_timeout)
                else:
                    stepped, answers = exchange()
                if stepped is not None:  # count that step's ends; no refill when closing
                    done = stepped[2]
                    self.feed.episodes_finished += int(np.count_nonzero(done))
                self.feed.receive(range(self.num_envs), answers)
            except Exception as error:
                self.feed.lost_on_close(error)

        def close(self) -> None:
            """Flush the pending outcomes, then close the VecEnv; never hangs."""
            if getattr(self.venv, "closed", False):
                return
            self._flush_for_close()
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

    def __init__(self, env_id_or_fn, env_kwargs, apply_task, worker_index, signal, options):
        self.env_id_or_fn = env_id_or_fn
        self.env_kwargs = env_kwargs
        self.apply_task = apply_task
        self.worker_index = worker_index
        self.signal = signal
        self.options = options  # task_info, outcomes, outcome_info

    def __call__(self) -> QueuedTaskEnv:
        if isinstance(self.env_id_or_fn, str):
            env = gym.make(self.env_id_or_fn, **self.env_kwargs)
        else:
            env = self.env_id_or_fn(**self.env_kwargs)
        return QueuedTaskEnv(env, self.apply_task, self.worker_index, self.signal, **self.options)


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
    outcomes: str = "batched",
    outcome_info: bool | None = None,
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
        close_timeout: seconds ``close`` waits for the pending outcomes, then for the workers
            to close, before terminating them.
        vec_kwargs: extra arguments for the backend constructor (e.g. ``start_method``).
        signal: what the teacher receives per episode: ``None`` (the teacher's own ``signal``),
            ``"return"``, ``"success"``, ``"length"``, or a picklable
            ``callable(episode_return, episode_length, final_info)`` run in the workers.
        task_info: put the task an env starts in its reset info (``info["task"]``). Off by
            default: the extra key costs about 13% of the throughput of an env with 1-step
            episodes.
        outcomes: ``"batched"`` (default): the workers keep the outcomes and hand them over at
            each refill round, one ``update_batch`` per round; the teacher sees an outcome
            within about ``depth`` episodes of its env; call ``flush()`` before reading or
            saving the teacher (``close()`` flushes). ``"info"``: each episode end carries
            ``info["curriculum"] = {"task", "signal"}`` and the teacher is updated in that step
            (no lag, lower throughput with short episodes).
        outcome_info: batched mode only: also put ``info["curriculum"]`` in the step info that
            ends an episode, for loggers (costs throughput). ``None``: on in ``"info"`` mode and
            for the SB3 backends (SB3 callbacks such as
            :class:`~autocurr.integrations.sb3.CurriculumCallback` read it, and SB3 does not
            batch infos, so it costs little there), off for gymnasium backends in batched mode.
    """
    n_envs = check_int("n_envs", n_envs, 1)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    _TaskFeed(teacher, 1, depth, outcomes)  # validate before starting any process
    if outcomes == "info" and outcome_info is False:
        raise ValueError("outcomes='info' needs outcome_info (the info is how they travel)")
    if signal is None:
        signal = teacher.signal
    episode_signal(signal, teacher)  # ValueError for signals no episode gives ("loss", "regret")
    if outcome_info is None and backend.startswith("sb3"):
        outcome_info = True
    vec_kwargs = dict(vec_kwargs or {})
    kwargs = dict(env_kwargs or {})
    options = {"task_info": task_info, "outcomes": outcomes, "outcome_info": outcome_info}
    factories = [
        _EnvFactory(env_id_or_fn, kwargs, apply_task, i, signal, options) for i in range(n_envs)
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
            return wrapper_class(venv, teacher, depth, close_timeout, outcomes)
        except BaseException:
            _close_guarded(venv.close, getattr(venv, "processes", ()), close_timeout)
            raise
    mode = _autoreset_mode(autoreset_mode)
    vec_class = AsyncVectorEnv if backend == "async" else SyncVectorEnv
    venv = vec_class(factories, autoreset_mode=mode, **vec_kwargs)
    try:
        return CurriculumVectorEnv(venv, teacher, depth, seed, close_timeout, outcomes)
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
