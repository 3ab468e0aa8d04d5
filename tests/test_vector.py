"""Vector envs driven by one teacher: no lost or duplicated outcomes, bounded lag, clean close."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest

from autocurr.spaces import Discrete
from autocurr.teachers.base import Teacher
from autocurr.vector import OUTCOMES, CurriculumVectorEnv, QueuedTaskEnv, make_vec_env

BACKENDS = ["async", "sync", "sb3-subproc", "sb3-dummy"]


@pytest.fixture(params=OUTCOMES)
def outcomes(request):
    """Every test that takes it runs in both outcome modes ("batched" and "info")."""
    return request.param


class LoggedTaskEnv(gym.Env):
    """Does nothing; episode lengths 1..max_len from its seeded RNG; reward = task + 1 per step.

    Keeps its own record: ``started`` (tasks in start order) and ``episode_log`` ((task, return,
    length) per finished episode), read back through ``call`` / ``get_attr``. Odd lengths
    terminate, even lengths truncate; ``is_success`` is ``task % 2 == 0``.
    """

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(
        self,
        max_len: int = 5,
        fail_at_step: int | None = None,
        slow_close: float = 0.0,
        parent_pid: int | None = None,
    ):
        self.max_len = max_len
        self.parent_pid = parent_pid
        self.fail_at_step = fail_at_step
        self.slow_close = slow_close
        self.started: list[int] = []
        self.episode_log: list[tuple[int, float, int]] = []
        self.total_steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.task = int(options["task"])
        self.started.append(self.task)
        self.length = int(self.np_random.integers(1, self.max_len + 1))
        self.t, self.ret = 0, 0.0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.total_steps += 1
        if self.fail_at_step is not None and self.total_steps >= self.fail_at_step:
            raise RuntimeError("worker failure on purpose")
        self.t += 1
        reward = float(self.task + 1)
        self.ret += reward
        done = self.t >= self.length
        info = {}
        if done:
            self.episode_log.append((self.task, self.ret, self.t))
            info["is_success"] = self.task % 2 == 0
        odd = self.length % 2 == 1
        return np.zeros(1, np.float32), reward, done and odd, done and not odd, info

    def close(self):
        # Only the workers are slow: AsyncVectorEnv also builds (and closes) one env in the parent.
        if os.getpid() != self.parent_pid:
            time.sleep(self.slow_close)


class SequentialTeacher(Teacher):
    """Hands out 0, 1, 2, ... (each task unique) and records every update in order."""

    name = "sequential"

    def __init__(self, space, seed=None, signal: str = "return"):
        super().__init__(space, seed)
        self.signal = signal
        self.next_task = 0
        self.updates: list[tuple[int, float]] = []
        self.on_sample = None  # called with (first task, count) before tasks are handed out

    def _sample_many(self, k: int) -> list:
        if self.on_sample is not None:
            self.on_sample(self.next_task, k)
        tasks = list(range(self.next_task, self.next_task + k))
        self.next_task += k
        return tasks

    def _sample_one(self):
        return self._sample_many(1)[0]

    def _update(self, task, value):
        self.updates.append((int(task), float(value)))


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail with TimeoutError instead of blocking forever (a hang guard, not a timing check)."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def is_sb3(backend: str) -> bool:
    return backend.startswith("sb3")


def make(
    backend, n_envs=4, depth=8, signal_name="return", env_kwargs=None, outcomes="batched", **kwargs
):
    teacher = SequentialTeacher(Discrete(10**9), signal=signal_name)
    vec = make_vec_env(
        LoggedTaskEnv,
        n_envs,
        teacher,
        backend=backend,
        depth=depth,
        env_kwargs=env_kwargs or {},
        seed=1,
        outcomes=outcomes,
        **kwargs,
    )
    return vec, teacher


def env_records(vec, backend, name):
    return list(vec.get_attr(name) if is_sb3(backend) else vec.call(name))


def run_episodes(vec, backend, n_episodes, disabled=False, reset_every=None):
    n = vec.num_envs
    actions = np.zeros(n, dtype=np.int64)
    vec.reset()
    steps = 0
    while vec.episodes_finished < n_episodes:
        if is_sb3(backend):
            vec.step(actions)
        else:
            _, _, terminated, truncated, _ = vec.step(actions)
            ended = terminated | truncated
            if disabled and ended.any():
                vec.reset(options={"reset_mask": ended})
        steps += 1
        if reset_every and steps % reset_every == 0:
            vec.reset()  # abandons running episodes: they must not be reported


def expected_value(task, episode_return, length, signal_name):
    if signal_name == "length":
        return float(length)
    if signal_name == "success":
        return float(task % 2 == 0)
    return float(episode_return)


def check_exactly_once(vec, teacher, backend, signal_name="return"):
    vec.flush()  # batched mode: deliver what the workers still hold
    assert vec.outcomes_pending == 0
    logs = env_records(vec, backend, "episode_log")
    played = [
        (task, expected_value(task, ret, length, signal_name))
        for log in logs
        for task, ret, length in log
    ]
    assert len(teacher.updates) == len(played) == vec.episodes_finished == vec.outcomes_reported
    assert Counter(teacher.updates) == Counter(played)
    # Every task ran at most once, in the order it was queued: the queue never ran dry.
    starts = env_records(vec, backend, "started")
    for started in starts:
        assert started == sorted(started)
    all_started = [task for started in starts for task in started]
    assert len(all_started) == len(set(all_started))


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_episode_reported_exactly_once(backend, outcomes):
    vec, teacher = make(backend, outcomes=outcomes)
    try:
        run_episodes(vec, backend, 2000)
        check_exactly_once(vec, teacher, backend)
        assert vec.refill_rounds > 0
    finally:
        vec.close()


@pytest.mark.parametrize("signal_name", ["success", "length"])
@pytest.mark.parametrize("backend", ["sync", "sb3-dummy"])
def test_signal_follows_the_teacher(backend, signal_name, outcomes):
    vec, teacher = make(backend, signal_name=signal_name, outcomes=outcomes)
    try:
        run_episodes(vec, backend, 300)
        check_exactly_once(vec, teacher, backend, signal_name)
    finally:
        vec.close()


@pytest.mark.parametrize("mode", ["NextStep", "SameStep", "Disabled"])
@pytest.mark.parametrize("backend", ["async", "sync"])
def test_each_autoreset_mode_delivers_every_outcome(backend, mode, outcomes):
    vec, teacher = make(backend, autoreset_mode=mode, outcomes=outcomes)
    try:
        assert vec.mode.value == mode
        run_episodes(vec, backend, 500, disabled=mode == "Disabled")
        check_exactly_once(vec, teacher, backend)
    finally:
        vec.close()


@pytest.mark.parametrize("backend", ["async", "sync", "sb3-dummy"])
def test_user_resets_abandon_episodes_without_losing_count(backend, outcomes):
    vec, teacher = make(backend, depth=4, outcomes=outcomes)
    try:
        run_episodes(vec, backend, 400, reset_every=7)
        check_exactly_once(vec, teacher, backend)
    finally:
        vec.close()


def test_unsupported_settings_raise_value_error():
    teacher = SequentialTeacher(Discrete(10))
    with pytest.raises(ValueError, match="autoreset_mode"):
        make_vec_env(LoggedTaskEnv, 2, teacher, backend="sync", autoreset_mode="Sometimes")
    with pytest.raises(ValueError, match="SB3"):
        make_vec_env(LoggedTaskEnv, 2, teacher, backend="sb3-dummy", autoreset_mode="NextStep")
    with pytest.raises(ValueError, match="backend"):
        make_vec_env(LoggedTaskEnv, 2, teacher, backend="ray")
    with pytest.raises(ValueError, match="depth"):
        make_vec_env(LoggedTaskEnv, 2, teacher, backend="sync", depth=1)
    with pytest.raises(ValueError, match="loss"):
        make_vec_env(LoggedTaskEnv, 2, SequentialTeacher(Discrete(10), signal="loss"))
    with pytest.raises(ValueError, match="outcomes"):
        make_vec_env(LoggedTaskEnv, 2, teacher, backend="sync", outcomes="sometimes")
    with pytest.raises(ValueError, match="outcome_info"):
        make_vec_env(LoggedTaskEnv, 2, teacher, backend="sync", outcomes="info", outcome_info=False)
    # A wrapper whose workers carry their outcomes another way would lose them: refuse it.
    envs = [lambda: QueuedTaskEnv(LoggedTaskEnv(), outcomes="info")]
    with pytest.raises(ValueError, match="outcomes"):
        CurriculumVectorEnv(gym.vector.SyncVectorEnv(envs), teacher, outcomes="batched")


@pytest.mark.parametrize("backend", ["sync", "sb3-dummy"])
@pytest.mark.parametrize("depth", [2, 5, 16])
def test_no_task_runs_more_than_depth_episodes_after_sampling(backend, depth, outcomes):
    vec, teacher = make(backend, depth=depth, outcomes=outcomes)
    envs = vec.envs if is_sb3(backend) else vec.env.envs
    sampled_at = {}  # task -> number of tasks each env had started when it was sampled

    def mark(first, k):
        snapshot = [len(env.get_wrapper_attr("started")) for env in envs]
        for task in range(first, first + k):
            sampled_at[task] = snapshot

    teacher.on_sample = mark
    # The creation batch was sampled before any env started: nothing had started then.
    for task in range(teacher.next_task):
        sampled_at[task] = [0] * len(envs)
    try:
        run_episodes(vec, backend, 600, reset_every=11)
        worst = 0
        for index, env in enumerate(envs):
            for position, task in enumerate(env.get_wrapper_attr("started")):
                # 1 = the first episode its env started after the task was sampled.
                worst = max(worst, position + 1 - sampled_at[task][index])
        assert 1 <= worst <= depth
    finally:
        vec.close()


def test_queued_task_env_appends_and_counts():
    env = QueuedTaskEnv(LoggedTaskEnv(), worker_index=3, task_info=True)
    assert env.tasks_left == 0
    assert env.push_tasks([5, 6]) == 2
    env.reset(seed=0)
    assert env.task == 5 and env.tasks_left == 1
    assert env.take_tasks({0: [9]}) == (1, [], [])  # not addressed to worker 3
    assert env.take_tasks({3: [7, 8]}) == (3, [], [])
    assert [env.reset()[1]["task"] for _ in range(3)] == [6, 7, 8]


@pytest.mark.parametrize("outcome_info", [None, True])
@pytest.mark.parametrize("signal_name", ["return", "length", "success"])
def test_queued_task_env_reports_the_teachers_signal(signal_name, outcomes, outcome_info):
    env = QueuedTaskEnv(
        LoggedTaskEnv(), signal=signal_name, outcomes=outcomes, outcome_info=outcome_info
    )
    env.push_tasks([1, 2])
    expected = []
    for task in (1, 2):
        env.reset(seed=task)
        while True:
            _, _, terminated, truncated, info = env.step(0)
            if terminated or truncated:
                break
        value = expected_value(task, env.episode_return, env.episode_length, signal_name)
        expected.append(value)
        if outcomes == "info" or outcome_info:
            assert info["curriculum"] == {"task": task, "signal": value}
        else:
            assert "curriculum" not in info  # batched: the step info carries nothing
    held = ([1, 2], expected) if outcomes == "batched" else ([], [])
    assert env.take_tasks({}) == (0, *held)
    assert env.take_tasks({}) == (0, [], [])  # taken once only


@pytest.mark.parametrize("backend", BACKENDS)
def test_close_without_flush_delivers_every_outcome(backend):
    vec, teacher = make(backend)
    try:
        run_episodes(vec, backend, 300)
        logs = env_records(vec, backend, "episode_log")
        assert vec.outcomes_pending > 0  # batched: some outcomes still wait in the workers
    finally:
        vec.close()
    played = [(task, float(ret)) for log in logs for task, ret, _ in log]
    assert Counter(teacher.updates) == Counter(played)
    assert vec.outcomes_reported == vec.episodes_finished == len(played)
    assert vec.outcomes_pending == 0


def test_sb3_close_between_step_async_and_step_wait_keeps_every_outcome():
    vec, teacher = make("sb3-subproc", n_envs=2)
    actions = np.zeros(2, dtype=np.int64)
    try:
        run_episodes(vec, "sb3-subproc", 50)
        before = vec.episodes_finished
        for _ in range(6):  # every episode lasts at most 5 steps: the in-flight step ends some
            vec.step(actions)
        vec.step_async(actions)
    finally:
        with deadline(30):
            vec.close()
    assert vec.episodes_finished > before
    assert vec.outcomes_pending == 0
    tasks = [task for task, _ in teacher.updates]
    assert len(tasks) == len(set(tasks)) == vec.episodes_finished


@pytest.mark.parametrize("backend", ["sync", "sb3-dummy"])
def test_batched_outcomes_arrive_with_each_refill_round(backend):
    depth, n_envs = 6, 4
    vec, teacher = make(backend, n_envs=n_envs, depth=depth)
    envs = vec.envs if is_sb3(backend) else vec.env.envs
    actions = np.zeros(n_envs, dtype=np.int64)
    try:
        vec.reset()
        rounds, max_pending = vec.refill_rounds, 0
        for _ in range(500):
            vec.step(actions)
            # Bounded lag: a refill round empties every worker's list before any holds `depth`.
            assert max(env.get_wrapper_attr("outcomes_held") for env in envs) <= depth
            if vec.refill_rounds > rounds:  # a round just delivered everything
                assert vec.outcomes_pending == 0
                rounds = vec.refill_rounds
            max_pending = max(max_pending, vec.outcomes_pending)
            assert len(teacher.updates) == vec.outcomes_reported
        assert 0 < max_pending <= n_envs * depth
        assert rounds > 10
    finally:
        vec.close()


@pytest.mark.parametrize("backend", ["async", "sync", "sb3-dummy"])
def test_info_mode_updates_the_teacher_at_every_step(backend):
    vec, teacher = make(backend, outcomes="info")
    actions = np.zeros(4, dtype=np.int64)
    try:
        vec.reset()
        for _ in range(200):
            if is_sb3(backend):
                _, _, done, infos = vec.step(actions)
                carried = [info["curriculum"] for info in infos if "curriculum" in info]
                assert len(carried) == int(done.sum())
            else:
                _, _, terminated, truncated, info = vec.step(actions)
                ended = terminated | truncated
                assert ended.sum() == (info["_curriculum"].sum() if ended.any() else 0)
            assert vec.outcomes_pending == 0
            assert len(teacher.updates) == vec.outcomes_reported == vec.episodes_finished
        assert vec.episodes_finished > 100
    finally:
        vec.close()


@pytest.mark.parametrize("backend", ["sync", "sb3-dummy"])
def test_batched_outcome_info_is_for_loggers_only(backend):
    vec, teacher = make(backend, outcome_info=True)
    actions = np.zeros(4, dtype=np.int64)
    try:
        vec.reset()
        seen = 0
        for _ in range(200):
            if is_sb3(backend):
                infos = vec.step(actions)[3]
                seen += sum("curriculum" in info for info in infos)
            else:
                info = vec.step(actions)[4]
                seen += int(info["_curriculum"].sum()) if "curriculum" in info else 0
        assert seen == vec.episodes_finished
        check_exactly_once(vec, teacher, backend)  # reported once, not once more from the info
    finally:
        vec.close()


@pytest.mark.parametrize("backend", ["async", "sb3-subproc"])
def test_worker_crash_surfaces_quickly(backend, outcomes):
    vec, _ = make(backend, n_envs=2, env_kwargs={"fail_at_step": 20}, outcomes=outcomes)
    start = time.monotonic()
    try:
        with deadline(30), pytest.raises(Exception):  # noqa: B017 - backends raise different types
            run_episodes(vec, backend, 10**9)
        assert time.monotonic() - start < 10.0
    finally:
        with deadline(30):
            vec.close()


def test_close_does_not_hang_on_a_stuck_worker(outcomes):
    slow = {"slow_close": 60.0, "parent_pid": os.getpid()}
    vec, _ = make("async", n_envs=2, env_kwargs=slow, close_timeout=1.0, outcomes=outcomes)
    vec.reset()
    start = time.monotonic()
    with deadline(30), pytest.warns(RuntimeWarning, match="terminated"):
        vec.close()
    assert time.monotonic() - start < 10.0
    assert not any(process.is_alive() for process in vec.env.processes)


def test_gymnasium_wrapper_looks_like_the_vector_env():
    vec, _ = make("sync", n_envs=3, task_info=True)
    try:
        assert isinstance(vec, CurriculumVectorEnv)
        assert vec.num_envs == 3
        assert vec.single_action_space == LoggedTaskEnv.action_space
        observation, info = vec.reset()
        assert observation.shape == (3, 1)
        assert list(info["task"]) == [0, 8, 16]  # depth 8 queued per env at creation
    finally:
        vec.close()
    vec, _ = make("sync", n_envs=3)
    try:
        assert "task" not in vec.reset()[1]  # off by default: it costs throughput
    finally:
        vec.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["async", "sb3-subproc", "sync"])
def test_hundred_thousand_episodes_exactly_once(backend, outcomes):
    vec, teacher = make(backend, n_envs=8, depth=64, env_kwargs={"max_len": 3}, outcomes=outcomes)
    try:
        with deadline(1200):
            run_episodes(vec, backend, 100_000)
        check_exactly_once(vec, teacher, backend)
    finally:
        vec.close()


@pytest.mark.slow
def test_two_hundred_open_close_cycles(outcomes):
    with deadline(600):
        for cycle in range(200):
            vec, _ = make("async", n_envs=2, depth=4, outcomes=outcomes)
            vec.reset()
            for _ in range(3):
                vec.step(np.zeros(2, dtype=np.int64))
            vec.close()
            assert vec.env.closed, cycle


def test_sb3_training_logs_every_episode_and_checkpoints_a_teacher_that_saw_them_all(tmp_path):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    from autocurr import make_teacher
    from autocurr.integrations.sb3 import (
        CurriculumCallback,
        CurriculumCheckpointCallback,
        load_teacher_state,
    )

    teacher = make_teacher("uniform", Discrete(16), seed=0)  # the logger keeps per-task arrays
    env = make_vec_env(LoggedTaskEnv, 2, teacher, backend="sb3-dummy", depth=8, seed=0)
    logger = CurriculumCallback(teacher)
    checkpoint = CurriculumCheckpointCallback(teacher, save_freq=64, save_dir=tmp_path)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=1, seed=0)
    model.learn(64, callback=[logger, checkpoint])
    try:
        finished = env.episodes_finished
        # Batched outcomes still reach SB3 loggers (outcome_info is on for SB3 backends) ...
        assert logger.summary()["episodes"] == finished > 0
        # ... and the checkpoint flushed the workers before saving the teacher.
        saved = load_teacher_state(checkpoint.saved[-1] / "teacher_state.pkl")
        assert saved.n_updates == finished
    finally:
        env.close()
