"""The teacher as a Ray actor: no lost or misattributed outcomes, few round trips, clean close."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections import Counter
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from autocurr import make_teacher
from autocurr.integrations.ray import (
    RemoteCurriculumWrapper,
    RemoteTeacher,
    TeacherService,
    create_teacher_actor,
    flush_remote_teachers,
    make_env_task_fn,
    rllib_env_creator,
)
from autocurr.spaces import Discrete
from autocurr.teachers.uniform import UniformTeacher

N_TASKS = 7


class RecordingTeacher(UniformTeacher):
    """Uniform sampling; keeps every (task, signal) it is told, in its state."""

    name = "recording"

    def __init__(self, space, seed=None):
        super().__init__(space, seed)
        self.log: list[tuple[int, float]] = []

    def _update(self, task, signal):
        self.log.append((task, signal))

    def _get_state(self):
        return {"log": list(self.log)}


class TaskLengthEnv(gym.Env):
    """Episodes of ``1 + task % 3`` steps with reward ``task + 1`` per step."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, config=None):
        self.task = 0
        self.t = 0
        self.finished: Counter = Counter()  # episodes played to the end, per task

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.task = int(options["task"]) if options and "task" in options else 0
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.t >= 1 + self.task % 3
        self.finished[self.task] += done
        return np.zeros(1, np.float32), float(self.task + 1), done, False, {}


def expected_return(task: int) -> float:
    return float((task + 1) * (1 + task % 3))


def play(env: gym.Env, n_episodes: int) -> Counter:
    """Play ``n_episodes`` to the end; count the tasks the env actually ran."""
    for _ in range(n_episodes):
        env.reset()
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
    return env.unwrapped.finished


# --------------------------------------------------------------------------------- no Ray needed
def test_missing_ray_gives_install_hint(monkeypatch):
    from autocurr.integrations import ray as integration

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(integration, "_ACTOR_CLASS", None)
    with pytest.raises(ImportError, match=r'pip install "autocurr\[ray\]"'):
        integration.TeacherActor  # noqa: B018 - the attribute access is what builds the actor


def test_service_exchange_is_report_then_sample():
    local = make_teacher("lp", Discrete(N_TASKS), seed=3)
    service = TeacherService("lp", Discrete(N_TASKS), seed=3)
    outcomes = ([1, 2, 2], [0.5, 0.1, 0.9])
    local.update_batch(*outcomes)
    assert service.exchange(*outcomes, 5) == local.sample(5)
    assert service.call_counts() == {"exchange": 1}
    assert service.stats()["outcomes_received"] == 3
    assert service.stats()["tasks_served"] == 5


def test_service_builds_from_state_dict_and_rejects_bad_input():
    teacher = make_teacher("exp3", Discrete(N_TASKS), seed=1)
    teacher.update_batch([0, 1], [0.2, 0.4])
    service = TeacherService(teacher.state_dict())
    assert service.sample(4) == teacher.sample(4)
    with pytest.raises(ValueError, match="only to a teacher name"):
        TeacherService(teacher, Discrete(N_TASKS))
    with pytest.raises(ValueError, match="needs a space"):
        TeacherService("uniform")
    before = service.state_dict()
    with pytest.raises(ValueError):
        service.report([0, N_TASKS], [0.1, 0.2])  # task out of range: nothing applied
    assert service.state_dict()["n_updates"] == before["n_updates"]


def test_env_task_fn_reports_current_task_and_returns_a_new_one():
    class FakeActor:
        """Mimics an actor handle: ``method.remote(...)`` returns a ref that ray.get resolves."""

        def __init__(self, service):
            self.service = service

        def __getattr__(self, method):
            function = getattr(self.service, method)
            return type("Method", (), {"remote": staticmethod(function)})

    class FakeTaskSettableEnv:
        def get_task(self):
            return 4

    ray = pytest.importorskip("ray")
    service = TeacherService(RecordingTeacher(Discrete(N_TASKS), seed=0))
    env_task_fn = make_env_task_fn(FakeActor(service))
    original_get = ray.get
    try:
        ray.get = lambda value, timeout=None: value  # the fake "ref" is already the value
        task = env_task_fn({"env_runners": {"episode_return_mean": 2.5}}, FakeTaskSettableEnv(), {})
        assert service.teacher.log == [(4, 2.5)]
        assert 0 <= task < N_TASKS
        env_task_fn({"other": 1.0}, FakeTaskSettableEnv(), {})  # no metric: sample only
        assert service.teacher.log == [(4, 2.5)]
        assert service.call_counts() == {"exchange": 2}
    finally:
        ray.get = original_get


# --------------------------------------------------------------------------------- on Ray
@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            namespace="autocurr-tests",
            configure_logging=False,
        )
    # Workers unpickle this module's classes and functions: send them by value, so the test
    # does not depend on the workers' import path.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    if started:
        ray.shutdown()


def rollout_worker(actor, n_episodes: int, prefetch: int) -> dict:
    """One Ray rollout worker: a curriculum env driven through its own RemoteTeacher."""
    client = RemoteTeacher(actor, prefetch=prefetch)
    env = RemoteCurriculumWrapper(TaskLengthEnv(), client)
    ran = play(env, n_episodes)
    env.close()  # flushes every buffered outcome
    return {
        "ran": dict(ran),
        "round_trips": client.round_trips,
        "delivered": client.outcomes_delivered,
        "unused": client.tasks_unused,
    }


def test_two_workers_every_outcome_once_with_its_task(ray_session):
    ray = ray_session
    actor = create_teacher_actor(RecordingTeacher(Discrete(N_TASKS), seed=0))
    worker = ray.remote(num_cpus=1)(rollout_worker)
    n_episodes, prefetch = 500, 32
    results = ray.get([worker.remote(actor, n_episodes, prefetch) for _ in range(2)])

    log = ray.get(actor.state_dict.remote())["state"]["log"]
    assert len(log) == 2 * n_episodes
    ran = sum((Counter(r["ran"]) for r in results), Counter())
    assert Counter(task for task, _ in log) == ran
    # The signal that arrived with each task is the return of an episode played on that task.
    assert all(signal == expected_return(task) for task, signal in log)
    assert [r["delivered"] for r in results] == [n_episodes, n_episodes]

    calls = ray.get(actor.call_counts.remote())
    per_worker = [r["round_trips"] for r in results]
    # describe + about one exchange per prefetch/2 episodes (+ the final flush's report).
    assert all(trips <= 2 + 2 * n_episodes // prefetch + 2 for trips in per_worker)
    assert sum(calls.values()) - calls["state_dict"] == sum(per_worker)
    served = ray.get(actor.stats.remote())["tasks_served"]
    assert served == 2 * n_episodes + sum(r["unused"] for r in results)


def test_client_queue_reports_flush_and_close(ray_session):
    ray = ray_session
    actor = create_teacher_actor(RecordingTeacher(Discrete(N_TASKS), seed=0))
    prefetch = 8
    with RemoteTeacher(actor, prefetch=prefetch, report_every=3) as client:
        assert (client.space, client.signal, client.teacher_name) == (
            Discrete(N_TASKS),
            "return",
            "recording",
        )
        tasks = []
        for _ in range(20):
            tasks.append(client.next_task())
            assert len(client._queue) <= prefetch  # the staleness bound
            client.report(tasks[-1], float(tasks[-1]))
        with pytest.raises(ValueError):
            client.report(N_TASKS, 1.0)  # rejected at the worker, before buffering
        with pytest.raises(ValueError):
            client.report(0, float("nan"))
        client.flush()
        log = ray.get(actor.state_dict.remote())["state"]["log"]
        assert log == [(task, float(task)) for task in tasks]
        client.report(tasks[0], 1.0)  # buffered only: delivered by close()
    assert client.closed and client.outcomes_delivered == 21
    assert len(ray.get(actor.state_dict.remote())["state"]["log"]) == 21
    with pytest.raises(RuntimeError, match="closed"):
        client.next_task()
    client.close()  # idempotent
    # 1 describe, 20 tasks -> about 20 / (prefetch / 2) exchanges, 21 outcomes / 3 reports.
    assert client.round_trips <= 1 + 6 + 8


def test_state_dict_round_trip_through_the_actor(ray_session):
    ray = ray_session
    space = Discrete(N_TASKS)
    actor = create_teacher_actor("lp", space, seed=5)
    local = make_teacher("lp", space, seed=5)
    rng = np.random.default_rng(0)
    for _ in range(30):
        tasks = rng.integers(N_TASKS, size=4).tolist()  # drawn by neither teacher
        signals = rng.random(4).tolist()
        local.update_batch(tasks, signals)
        assert ray.get(actor.exchange.remote(tasks, signals, 4)) == local.sample(4)
    state = ray.get(actor.state_dict.remote())
    assert state["n_updates"] == local.n_updates

    restored = create_teacher_actor(state)  # a new actor rebuilt from the snapshot
    loaded = create_teacher_actor("lp", space, seed=99)
    ray.get(loaded.load_state_dict.remote(state))
    expected = local.sample(16)
    assert ray.get(restored.sample.remote(16)) == expected
    assert ray.get(loaded.sample.remote(16)) == expected
    np.testing.assert_allclose(ray.get(actor.probabilities.remote()), local.probabilities())
    assert ray.get(actor.stats.remote())["n_updates"] == local.n_updates


def test_teacher_errors_and_dead_actor_surface_at_the_worker(ray_session):
    ray = ray_session
    actor = create_teacher_actor("exp3", Discrete(N_TASKS), seed=0, reward="signal")
    client = RemoteTeacher(actor, prefetch=4, timeout=20.0)
    client.report(client.next_task(), 5.0)  # exp3 on raw signals needs [0, 1]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        client.flush()
    ray.kill(actor)  # asynchronous: calls may still be served for a moment
    with pytest.raises(ray.exceptions.RayActorError):
        for _ in range(100):
            client.report(0, 0.5)
            client.flush()
            time.sleep(0.05)


def test_rllib_env_creator_shares_one_client_per_process(ray_session):
    ray = ray_session
    name = "autocurr-test-teacher"
    actor = create_teacher_actor(
        RecordingTeacher(Discrete(N_TASKS), seed=0), name=name, lifetime="detached"
    )
    try:
        assert create_teacher_actor("uniform", name=name, get_if_exists=True) == actor
        creator = rllib_env_creator(TaskLengthEnv, name, prefetch=16)
        # RLlib's EnvRunner steps its envs as one gymnasium vector env, as here.
        vector = gym.vector.SyncVectorEnv([lambda: creator({"worker_index": 1})] * 3)
        client = vector.envs[0].teacher
        assert all(env.teacher is client for env in vector.envs)
        vector.reset(seed=0)
        for _ in range(200):
            vector.step(np.zeros(3, dtype=np.int64))
        flush_remote_teachers(env_runner=None, samples=[])  # as RLlib's on_sample_end calls it
        log = ray.get(actor.state_dict.remote())["state"]["log"]
        ran = sum((env.unwrapped.finished for env in vector.envs), Counter())
        assert Counter(task for task, _ in log) == ran and len(log) > 100
        assert all(signal == expected_return(task) for task, signal in log)
        assert client.round_trips < len(log) / 4
        vector.close()  # shared client: flushed, not closed
        assert not client.closed
        client.close()
    finally:
        ray.kill(actor)


def test_wrapper_forced_task_and_curriculum_info(ray_session):
    actor = create_teacher_actor(RecordingTeacher(Discrete(N_TASKS), seed=0))
    env = RemoteCurriculumWrapper(TaskLengthEnv(), RemoteTeacher(actor, prefetch=2))
    _, info = env.reset(options={"task": 5})
    assert info["task"] == 5
    for _ in range(3):
        _, _, terminated, _, info = env.step(0)
    assert terminated and info["curriculum"] == {"task": 5, "signal": expected_return(5)}
    env.reset()
    env.reset()  # the episode before was cut: not reported
    assert env.abandoned_episodes == 1
    env.close()
    assert env.teacher.closed and env.teacher.outcomes_delivered == 1


def test_example_every_episode_reaches_the_teacher(ray_session):
    spec = importlib.util.spec_from_file_location(
        "ray_curriculum", Path(__file__).resolve().parents[1] / "examples" / "ray_curriculum.py"
    )
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = example.main(episodes=1500, workers=2, prefetch=32, seed=0)
    assert result["outcomes_received"] == 3000
    assert [w["episodes"] for w in result["workers"]] == [1500, 1500]
    assert all(w["round_trips"] < 1500 / 8 for w in result["workers"])
    assert np.all(result["probabilities"][10:] < 1 / 14)  # unreachable targets at the floor
