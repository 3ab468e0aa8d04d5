"""PAIRED / REPAIRED teachers, the maze design env, the PPO adversary and PAIREDPPO."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from autocurr.envs.maze import MazeEnv, MazeLevel, maze_levels
from autocurr.envs.maze_design import MazeDesignEnv
from autocurr.spaces import Discrete, space_from_config
from autocurr.teachers.paired import PAIREDTeacher, RandomLevelAdversary, REPAIREDTeacher

SPACE = maze_levels(5, 6)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny MLPs: one intra-op thread is faster on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class ScriptedAdversary:
    """Proposes DR levels from the rng it is given and records every learn call."""

    def __init__(self, space: dict, tag: str = "scripted"):
        self.space = space_from_config(space)
        self.tag = tag
        self.learn_calls: list[tuple[list, list[float]]] = []

    def propose(self, k, rng):
        levels = [self.space.sample(rng) for _ in range(k)]
        if self.tag == "duplicate":
            levels[-1] = levels[0]
        return levels

    def learn(self, levels, regrets):
        self.learn_calls.append((list(levels), list(regrets)))

    def state_dict(self):
        return {"learn_calls": [(list(lv), list(r)) for lv, r in self.learn_calls]}

    def load_state_dict(self, state):
        self.learn_calls = [(list(lv), list(r)) for lv, r in state["learn_calls"]]

    def config(self):
        return (f"{__name__}:ScriptedAdversary", {"space": self.space.to_config(), "tag": self.tag})


def scripted_config(tag: str = "scripted") -> tuple[str, dict]:
    return (f"{__name__}:ScriptedAdversary", {"space": SPACE.to_config(), "tag": tag})


def rebuild(teacher_class, teacher):
    """``from_state_dict`` for an unregistered teacher class."""
    state = pickle.loads(pickle.dumps(teacher.state_dict()))
    resumed = teacher_class(space_from_config(state["space"]), **state["hyperparameters"])
    resumed.load_state_dict(state)
    return resumed


# ----------------------------------------------------------------------------- PAIRED teacher
def test_paired_samples_the_adversarys_levels_as_new():
    teacher = PAIREDTeacher(SPACE, seed=3, adversary_config=scripted_config())
    levels, kind = teacher.sample_with_kind(4)
    expected = ScriptedAdversary(SPACE.to_config()).propose(4, np.random.default_rng(3))
    assert kind == "new" and levels == expected
    assert teacher.should_train("new") and teacher.should_train()
    assert teacher.exploration_floor() == 0.0
    assert PAIREDTeacher.needs_antagonist and teacher.signal == "regret"


def test_paired_learns_once_per_completed_batch_with_regrets_in_order():
    teacher = PAIREDTeacher(SPACE, seed=0, adversary_config=scripted_config("duplicate"))
    adversary = teacher.adversary
    levels = teacher.sample(3)
    assert levels[2] == levels[0] != levels[1]  # each occurrence needs its own regret
    teacher.update(levels[1], 0.5)
    teacher.update(levels[0], -0.25)
    assert adversary.learn_calls == []
    teacher.update(levels[0], 0.75)
    assert adversary.learn_calls == [(levels, [-0.25, 0.5, 0.75])]
    batch = teacher.sample(3)
    teacher.update_regrets([batch[1], batch[0], batch[2]], [1.0, 2.0, 3.0])
    assert adversary.learn_calls[1] == (batch, [2.0, 1.0, 3.0])
    assert teacher.stats()["adversary_updates"] == 2.0


def test_paired_bad_updates_raise_and_change_nothing():
    teacher = PAIREDTeacher(SPACE, seed=0, adversary_config=scripted_config())
    levels = teacher.sample(2)
    teacher.update(levels[0], 0.1)
    other = SPACE.sample(np.random.default_rng(99))
    before = pickle.dumps(teacher.state_dict())
    attempts = [
        lambda: teacher.update(other, 0.5),  # not pending
        lambda: teacher.update(levels[0], 0.5),  # its only occurrence already has a regret
        lambda: teacher.update(levels[1], float("nan")),
        lambda: teacher.update_regrets([levels[1], other], [0.1, 0.2]),
        lambda: teacher.update_regrets([levels[1]], [float("inf")]),
        lambda: teacher.update_regrets([levels[1]], [0.1, 0.2]),
        lambda: teacher.update(b"not a level", 0.1),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError):
            attempt()
        assert pickle.dumps(teacher.state_dict()) == before
    assert teacher.adversary.learn_calls == []


def test_paired_needs_an_adversary_and_a_levels_space():
    with pytest.raises(ValueError, match=r"sb3_paired\.PPOLevelAdversary"):
        PAIREDTeacher(SPACE, seed=0)
    with pytest.raises(ValueError, match="Levels"):
        PAIREDTeacher(Discrete(3), seed=0, adversary_config=scripted_config())
    with pytest.raises(ValueError, match="adversary_config"):
        PAIREDTeacher(SPACE, adversary_config="nope")


@pytest.mark.parametrize("adversary", ["scripted", "random"])
def test_paired_state_round_trip_mid_batch_is_exact(adversary):
    if adversary == "scripted":
        teacher = PAIREDTeacher(SPACE, seed=1, adversary=ScriptedAdversary(SPACE.to_config()))
    else:
        teacher = PAIREDTeacher(SPACE, seed=1, adversary=RandomLevelAdversary(SPACE))
    first = teacher.sample(3)
    teacher.update_regrets(first, [0.1, 0.2, 0.3])
    second = teacher.sample(3)
    teacher.update(second[1], 0.4)
    resumed = rebuild(PAIREDTeacher, teacher)
    for t in (teacher, resumed):
        t.update_regrets([second[0], second[2]], [0.5, -0.6])
    for round_ in range(3):
        batches = [t.sample(3) for t in (teacher, resumed)]
        assert batches[0] == batches[1]
        for t in (teacher, resumed):
            t.update_regrets(batches[0], [round_, 0.5, 1.0])
    assert teacher.state_dict() == resumed.state_dict()
    if adversary == "scripted":
        assert teacher.adversary.learn_calls == resumed.adversary.learn_calls
        assert len(resumed.adversary.learn_calls) == 5


# ----------------------------------------------------------------------------- REPAIRED
def test_repaired_defaults_and_robust_forced():
    teacher = REPAIREDTeacher(SPACE, seed=0, adversary_config=scripted_config())
    hp = teacher.hyperparameters
    assert (hp["score"], hp["transform"], hp["temperature"], hp["staleness"]) == (
        "maxmc",
        "rank",
        0.1,
        0.3,
    )
    assert (hp["replay_prob"], hp["buffer_size"], hp["min_fill"], hp["robust"]) == (
        0.95,
        4000,
        0.5,
        True,
    )
    assert not teacher.should_train("new") and teacher.should_train("replay")
    assert REPAIREDTeacher.needs_antagonist
    with pytest.raises(ValueError, match="robust"):
        REPAIREDTeacher(SPACE, adversary_config=scripted_config(), robust=False)
    with pytest.raises(ValueError, match="adversary"):
        REPAIREDTeacher(SPACE)


def test_repaired_new_levels_from_adversary_regrets_only_for_new_batches():
    teacher = REPAIREDTeacher(
        SPACE, seed=4, adversary_config=scripted_config(), buffer_size=4, replay_prob=0.5
    )
    adversary = teacher.adversary
    mirror = np.random.default_rng(4)
    kinds = []
    for step in range(40):
        levels, kind = teacher.sample_with_kind(2)
        kinds.append(kind)
        if kind == "new":
            if len(teacher.buffer) / 4 < 0.5:  # no replay decision drawn below min fill
                assert levels == ScriptedAdversary(SPACE.to_config()).propose(2, mirror)
            calls = len(adversary.learn_calls)
            if levels[0] != levels[1]:
                with pytest.raises(ValueError):  # not the batch in sampling order
                    teacher.update_regrets(levels[::-1], [0.0, 0.0])
            teacher.update_regrets(levels, [0.1 * step, 0.2])
            assert adversary.learn_calls[-1] == (levels, [0.1 * step, 0.2])
            assert len(adversary.learn_calls) == calls + 1
        else:
            assert all(level in teacher.buffer for level in levels)
            calls = len(adversary.learn_calls)
            teacher.update_regrets(levels, [9.0, 9.0])
            assert len(adversary.learn_calls) == calls  # ignored
        for level in levels:
            teacher.update_episode(level, float(step % 5), episode_return=0.5)
    assert {"new", "replay"} <= set(kinds)


def test_repaired_round_trip_continues_identically():
    teacher = REPAIREDTeacher(
        SPACE, seed=2, adversary_config=scripted_config(), buffer_size=4, replay_prob=0.5
    )

    def stream(t, n, offset):
        out = []
        for step in range(n):
            levels, kind = t.sample_with_kind(2)
            out.append((levels, kind))
            t.update_regrets(levels, [step + offset, 0.0])
            for level in levels:
                t.update_episode(level, float((step * 7 + offset) % 3), episode_return=0.3)
        return out

    stream(teacher, 10, 0)
    resumed = rebuild(REPAIREDTeacher, teacher)
    assert stream(teacher, 15, 1) == stream(resumed, 15, 1)
    assert teacher.adversary.learn_calls == resumed.adversary.learn_calls


# ----------------------------------------------------------------------------- design env
def test_maze_design_env_builds_the_scripted_level():
    env = MazeDesignEnv(size=(3, 4), n_walls=4)
    obs, _ = env.reset()
    assert obs.shape == (3 * 12 + 6,) and obs.dtype == np.float32 and obs[36] == 1.0
    actions = [5, 5, 5, 6, 0, 0]  # goal 5; start on the goal -> 6; wall on goal/start no-op; 0 x2
    for t, action in enumerate(actions):
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == 0.0 and not truncated
        assert terminated == (t == len(actions) - 1)
    expected = MazeLevel.from_str("#...\n.GA.\n....")
    assert info["level"] == expected
    assert obs[:12].sum() == 1 and obs[12 + 5] == 1 and obs[24 + 6] == 1 and obs[36:].sum() == 0
    with pytest.raises(RuntimeError):
        env.step(0)
    env.reset()
    for action in [11, 0, 3, 4, 7, 8]:
        *_, info = env.step(action)
    assert info["level"].start == (0, 0) and info["level"].goal == (2, 3)
    assert info["level"].n_walls == 4


# ----------------------------------------------------------------------------- PPO adversary
def _flat_parameters(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for p in model.policy.parameters()])


def test_ppo_adversary_propose_learn_and_state_round_trip():
    from autocurr.integrations.sb3_paired import make_maze_adversary

    adversary = make_maze_adversary(size=5, n_walls=3, batch_size=4, seed=0)
    rng = np.random.default_rng(0)
    levels = adversary.propose(4, rng)
    assert all(SPACE.canonical(level) == level for level in levels)
    with pytest.raises(ValueError):
        adversary.propose(3, rng)
    with pytest.raises(ValueError):
        adversary.learn(levels[::-1] if levels[0] != levels[-1] else [b"x"] * 4, [0.0] * 4)
    state = adversary.state_dict()  # pending batch included
    before = _flat_parameters(adversary.model)
    adversary.learn(levels, [1.0, 0.0, 0.5, -0.5])
    assert not torch.equal(before, _flat_parameters(adversary.model))

    path, kwargs = adversary.config()
    assert path == "autocurr.integrations.sb3_paired:make_maze_adversary"
    twin = make_maze_adversary(**kwargs)
    twin.load_state_dict(pickle.loads(pickle.dumps(state)))
    twin.learn(levels, [1.0, 0.0, 0.5, -0.5])
    assert torch.equal(_flat_parameters(twin.model), _flat_parameters(adversary.model))
    assert twin.propose(4, np.random.default_rng(5)) == adversary.propose(
        4, np.random.default_rng(5)
    )


def test_paired_teacher_with_ppo_adversary_round_trips_exactly():
    from autocurr.integrations.sb3_paired import make_maze_adversary

    adversary = make_maze_adversary(size=5, n_walls=3, batch_size=3, seed=2)
    teacher = PAIREDTeacher(SPACE, seed=7, adversary=adversary)
    assert teacher.hyperparameters["adversary_config"][0].endswith(":make_maze_adversary")
    teacher.update_regrets(teacher.sample(3), [0.5, 0.0, 1.0])
    levels = teacher.sample(3)
    teacher.update(levels[0], 0.25)
    resumed = rebuild(PAIREDTeacher, teacher)
    for t in (teacher, resumed):
        t.update_regrets(levels[1:], [0.0, 0.75])
    assert torch.equal(
        _flat_parameters(teacher.adversary.model), _flat_parameters(resumed.adversary.model)
    )
    assert teacher.sample(3) == resumed.sample(3)


def test_ppo_adversary_learns_to_put_the_goal_where_regret_is():
    from autocurr.integrations.sb3_paired import make_maze_adversary

    adversary = make_maze_adversary(
        size=5, n_walls=0, batch_size=16, seed=1, learning_rate=3e-3, n_epochs=4
    )
    target = 12
    rng = np.random.default_rng(1)
    start = adversary.goal_probabilities()[target]
    for _ in range(30):
        levels = adversary.propose(16, rng)
        goals = [MazeLevel.decode(level).goal for level in levels]
        adversary.learn(levels, [float(r * 5 + c == target) for r, c in goals])
    end = adversary.goal_probabilities()[target]
    assert end > 3 * start, (start, end)


# ----------------------------------------------------------------------------- PAIREDPPO
def _maze() -> MazeEnv:
    return MazeEnv(size=5, max_walls=6, view_size=9, max_steps=20)


def _model(teacher):
    from autocurr.integrations.sb3_paired import make_paired_model, maze_level_check

    return make_paired_model(
        _maze,
        2,
        teacher,
        seed=0,
        level_check=maze_level_check,
        n_steps=256,
        batch_size=128,
        n_epochs=2,
        device="cpu",
    )


class CountingPAIRED(PAIREDTeacher):
    name = "paired"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reported: list[list[float]] = []

    def update_regrets(self, levels, regrets):
        self.reported.append(list(regrets))
        super().update_regrets(levels, regrets)


def test_paired_ppo_runs_reports_regrets_and_counts_both_students():
    from autocurr.integrations.sb3_paired import make_maze_adversary

    adversary = make_maze_adversary(size=5, n_walls=6, batch_size=2, seed=0)
    teacher = CountingPAIRED(SPACE, seed=0, adversary=adversary)
    model = _model(teacher)
    antagonist_before = _flat_parameters(model.antagonist)
    adversary_before = _flat_parameters(adversary.model)
    model.learn(2048)
    iterations = model.budget()["grad_updates"]
    assert iterations == 2 and len(teacher.reported) == iterations
    assert all(len(regrets) == 2 for regrets in teacher.reported)
    assert model.num_timesteps == 2 * iterations * 256 * 2  # protagonist + antagonist
    assert model.antagonist_steps == iterations * 256 * 2
    assert not torch.equal(antagonist_before, _flat_parameters(model.antagonist))
    assert not torch.equal(adversary_before, _flat_parameters(adversary.model))
    assert adversary.n_updates == iterations and teacher.n_learned == iterations
    assert "antagonist" in model._excluded_save_params()


def test_repaired_ppo_trains_neither_student_on_a_new_batch():
    from autocurr.integrations.sb3_paired import make_maze_adversary

    adversary = make_maze_adversary(size=5, n_walls=6, batch_size=2, seed=0)
    teacher = REPAIREDTeacher(SPACE, seed=0, adversary=adversary, buffer_size=8)
    model = _model(teacher)
    before = [_flat_parameters(m) for m in (model, model.antagonist)]
    model.learn(1024)  # one iteration: the buffer is empty, so it is a new batch
    assert model.rollouts_by_kind == {"new": 1}
    after = [_flat_parameters(m) for m in (model, model.antagonist)]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert model.num_timesteps == 1024 and model.budget()["steps_no_grad"] == 1024
    assert adversary.n_updates == 1 and teacher.n_learned == 1
    assert len(teacher.buffer) >= 1  # the protagonist's MaxMC scores reached the buffer
    # Two new batches fill the 8-level buffer to min_fill; then replay (p = 0.95) trains both.
    model.learn(5 * 1024, reset_num_timesteps=False)
    assert model.rollouts_by_kind.get("replay", 0) >= 1
    assert model.budget()["antagonist_grad_updates"] == model.rollouts_by_kind["replay"]
    after = [_flat_parameters(m) for m in (model, model.antagonist)]
    assert not any(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert adversary.n_updates == model.rollouts_by_kind["new"]


def test_paired_ppo_saves_without_the_antagonist(tmp_path):
    from stable_baselines3 import PPO

    from autocurr.integrations.sb3_paired import make_maze_adversary

    adversary = make_maze_adversary(size=5, n_walls=6, batch_size=2, seed=0)
    model = _model(PAIREDTeacher(SPACE, seed=0, adversary=adversary))
    model.learn(1024)
    model.save(tmp_path / "protagonist.zip")
    model.save_antagonist(tmp_path / "antagonist.zip")
    loaded = PPO.load(tmp_path / "antagonist.zip", device="cpu")
    assert torch.equal(_flat_parameters(loaded), _flat_parameters(model.antagonist))
    assert PPO.load(tmp_path / "protagonist.zip", device="cpu").num_timesteps == 1024
