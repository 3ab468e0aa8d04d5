import gymnasium as gym
import numpy as np
import pytest

from autocurr import CurriculumWrapper, available, make_teacher
from autocurr.envs.maze import maze_levels
from autocurr.envs.point_mass import TASK_HIGH, TASK_LOW
from autocurr.spaces import Box, Discrete
from autocurr.teachers import UniformTeacher, teacher_class


class RecordingTeacher(UniformTeacher):
    """A uniform teacher that remembers what it sampled and what it was told."""

    name = "recording-uniform"

    def __init__(self, space, seed=None):
        super().__init__(space, seed)
        self.sampled, self.received = [], []

    def _sample_one(self):
        task = super()._sample_one()
        self.sampled.append(task)
        return task

    def _update(self, task, signal):
        self.received.append((task, signal))


class TaskEnv(gym.Env):
    """Accepts ``reset(options={"task": t})``; episodes last a random number of steps and pay
    ``task`` once at the end, so the episode return identifies the task that ran."""

    observation_space = gym.spaces.Box(0, 10, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, reads_options=True):
        self.reads_options = reads_options
        self.configured_task = None
        self.tasks_run = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if self.reads_options:
            self.configured_task = options["task"]
        self.tasks_run.append(self.configured_task)
        self.remaining = int(self.np_random.integers(1, 6))
        return np.array([self.configured_task], np.float32), {}

    def step(self, action):
        self.remaining -= 1
        done = self.remaining == 0
        reward = float(self.configured_task) if done else 0.0
        truncated = done and self.configured_task % 2 == 1  # odd tasks end by truncation
        terminated = done and not truncated
        obs = np.array([self.configured_task], np.float32)
        return obs, reward, terminated, truncated, {"is_success": self.configured_task > 2}


def run_episodes(env, n_steps, seed=0):
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    assert info["task"] == env.task
    finished = []
    for _ in range(n_steps):
        _, _, terminated, truncated, info = env.step(int(rng.integers(2)))
        assert info["task"] == env.task
        if terminated or truncated:
            finished.append(info["curriculum"])
            env.reset()
    return finished


def test_every_sampled_task_reaches_the_env_and_every_outcome_the_teacher():
    teacher = RecordingTeacher(Discrete(6), seed=0)
    inner = TaskEnv()
    env = CurriculumWrapper(inner, teacher, signal="return")
    finished = run_episodes(env, 3000)
    assert inner.tasks_run == teacher.sampled  # each sampled task delivered, in order
    # one update per finished episode, with the task that ran and its return (= the task here)
    assert len(teacher.received) == len(finished) == env.episodes_reported > 400
    assert teacher.received == [(t, float(t)) for t in inner.tasks_run[: len(finished)]]
    assert [(f["task"], f["signal"]) for f in finished] == teacher.received
    assert env.abandoned_episodes == 0


def test_apply_task_configures_envs_that_do_not_read_options():
    teacher = RecordingTeacher(Discrete(4), seed=1)
    inner = TaskEnv(reads_options=False)
    calls = []

    def apply_task(env, task):
        calls.append(task)
        env.unwrapped.configured_task = task

    env = CurriculumWrapper(inner, teacher, apply_task=apply_task, signal="success")
    run_episodes(env, 500)
    assert calls == teacher.sampled == inner.tasks_run
    assert all(signal == float(task > 2) for task, signal in teacher.received)


def test_signal_defaults_to_the_teachers_and_accepts_callables():
    teacher = RecordingTeacher(Discrete(3), seed=2)
    env = CurriculumWrapper(TaskEnv(), teacher, signal=lambda ret, length, info: ret * 10 + length)
    run_episodes(env, 200)
    assert all(signal >= 10 * task + 1 for task, signal in teacher.received)
    assert (
        CurriculumWrapper(TaskEnv(), make_teacher("exp3", Discrete(3))).signal_fn(2.0, 5, {}) == 2
    )
    with pytest.raises(ValueError, match="cannot be computed"):
        CurriculumWrapper(TaskEnv(), teacher, signal="surprise")
    with pytest.raises(ValueError, match="PAIREDPPO"):  # regret needs two students
        CurriculumWrapper(TaskEnv(), teacher, signal="regret")


def test_forced_task_and_abandoned_episodes():
    teacher = RecordingTeacher(Discrete(5), seed=0)
    inner = TaskEnv()
    env = CurriculumWrapper(inner, teacher)
    _, info = env.reset(options={"task": 4})
    assert info["task"] == 4 and inner.tasks_run == [4] and teacher.sampled == []
    env.reset()  # the first episode never finished: counted, not reported
    assert env.abandoned_episodes == 1 and teacher.received == []
    with pytest.raises(ValueError, match="not in Discrete"):
        env.reset(options={"task": 7})


def test_step_after_the_episode_ended_is_an_error_not_a_second_report():
    teacher = RecordingTeacher(Discrete(2), seed=0)
    env = CurriculumWrapper(TaskEnv(), teacher)
    env.reset(seed=0)
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(0)
        done = terminated or truncated
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)
    assert len(teacher.received) == 1


def test_third_party_classic_control_env_with_apply_task():
    teacher = make_teacher("exp3", Discrete(3), seed=0)
    gravities = [5.0, 9.8, 15.0]

    def set_gravity(env, task):
        env.unwrapped.gravity = gravities[task]

    env = CurriculumWrapper(gym.make("CartPole-v1"), teacher, apply_task=set_gravity)
    _, info = env.reset(seed=0)
    assert env.unwrapped.gravity == gravities[info["task"]]
    episodes = 0
    for _ in range(400):
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes += 1
            _, info = env.reset()
            assert env.unwrapped.gravity == gravities[info["task"]]
    assert teacher.n_updates == env.episodes_reported == episodes > 0


def test_third_party_minigrid_env_with_apply_task():
    pytest.importorskip("minigrid")  # in the dev extra; skipped only outside it
    starts = [(1, 1), (2, 3), (3, 4)]  # free cells of the 6x6 Empty room
    teacher = make_teacher("exp3", Discrete(len(starts)), seed=0)

    def set_start(env, task):
        env.unwrapped.agent_start_pos = starts[task]

    env = CurriculumWrapper(gym.make("MiniGrid-Empty-6x6-v0"), teacher, apply_task=set_start)
    _, info = env.reset(seed=0)
    episodes = 0
    for _ in range(600):
        assert env.unwrapped.agent_start_pos == starts[info["task"]]
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes += 1
            _, info = env.reset()
            assert tuple(env.unwrapped.agent_pos) == starts[info["task"]]
    assert teacher.n_updates == env.episodes_reported == episodes > 0


#: What some teachers need to be built at all (stages, reward thresholds in return units).
REQUIRED_HYPERPARAMETERS = {
    "sequential": {"stages": [[0, 1], [2, 3]], "conditions": ["episodes>=5"]},
    "adr": {"low_threshold": 0.0, "high_threshold": 50.0},
}


@pytest.mark.parametrize("name", available())
def test_every_registered_teacher_drives_an_env_with_its_own_signal(name):
    """Each teacher's ``signal`` can be computed from an episode, on a finite, box or level space
    (a level teacher's rollout-based scores come from training integrations; here the wrapper's
    episode-level stand-in must at least reach it)."""
    hyperparameters = REQUIRED_HYPERPARAMETERS.get(name, {})
    cls = teacher_class(name)
    if cls.signal in ("loss", "advantage"):  # data teachers: fed by autocurr.data / hf
        teacher = make_teacher(name, Discrete(4), seed=0, **hyperparameters)
        with pytest.raises(ValueError, match=r"autocurr\.data"):
            CurriculumWrapper(TaskEnv(), teacher)
        env = CurriculumWrapper(TaskEnv(), teacher, signal="return")  # an explicit signal works
        env.reset(seed=0)
        while not env.step(0)[2]:
            pass
        assert teacher.n_updates == 1
        return
    if cls.requires_finite or name == "uniform":
        teacher = make_teacher(name, Discrete(4), seed=0, **hyperparameters)
        env = CurriculumWrapper(TaskEnv(), teacher)  # pays the task: returns 0..3, success 0/1
    else:
        try:
            teacher = make_teacher(name, Box(TASK_LOW, TASK_HIGH), seed=0, **hyperparameters)
            env = CurriculumWrapper(gym.make("autocurr/PointMassGate-v0"), teacher)
        except ValueError as error:
            assert "Levels" in str(error)
            if getattr(cls, "needs_antagonist", False):  # PAIRED family: a level adversary
                hyperparameters = {"adversary_config": (
                    "autocurr.teachers.paired:RandomLevelAdversary",
                    {"space": maze_levels().to_config()},
                )}  # fmt: skip
            if cls.signal == "regret":  # compares two students: no single episode gives it
                teacher = make_teacher(name, maze_levels(), seed=0, **hyperparameters)
                with pytest.raises(ValueError, match="PAIREDPPO"):
                    CurriculumWrapper(gym.make("autocurr/Maze-v0"), teacher)
                return
            teacher = make_teacher(name, maze_levels(), seed=0, buffer_size=8, **hyperparameters)
            env = CurriculumWrapper(gym.make("autocurr/Maze-v0"), teacher)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    finished = []
    for _ in range(400):
        action = int(rng.integers(2)) if isinstance(teacher.space, Discrete) else None
        action = env.action_space.sample() if action is None else action
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            finished.append(info["curriculum"])
            env.reset()
    assert finished and teacher.n_updates == len(finished)
    assert all(teacher.space.contains(record["task"]) for record in finished)
