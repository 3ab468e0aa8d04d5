"""The SB3 integration of the regret-based teachers (``UEDPPO``) and ``TaskQueueWrapper``."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from autocurr import TaskQueueWrapper, make_teacher
from autocurr.envs.maze import MazeEnv, MazeLevel, maze_levels, optimal_return
from autocurr.integrations.sb3_ued import UEDPPO, is_level_teacher, spearman
from autocurr.teachers.scores import Rollout, episode_scores

SIZE = 5
MAX_STEPS = 20
N_ENVS = 2
N_STEPS = 32  # > MAX_STEPS: every level finishes at least one episode per rollout
PPO_KWARGS = {"n_steps": N_STEPS, "batch_size": 32, "n_epochs": 1, "seed": 0, "device": "cpu"}


def make_vec_env(n_envs: int = N_ENVS) -> DummyVecEnv:
    def make() -> gym.Env:
        return Monitor(TaskQueueWrapper(MazeEnv(size=SIZE, max_walls=6, max_steps=MAX_STEPS)))

    return DummyVecEnv([make] * n_envs)


def space(start: str = "random"):
    return maze_levels(size=SIZE, max_walls=6, start=start)


def parameters(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.policy.parameters()])


class RecordTasks(BaseCallback):
    """The task each env reports at each step, per rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts: list[list[list]] = []

    def _on_rollout_start(self) -> None:
        self.rollouts.append([])

    def _on_step(self) -> bool:
        self.rollouts[-1].append([info["task"] for info in self.locals["infos"]])
        return True


# ------------------------------------------------------------------------------------ wrapper


def test_task_queue_plays_tasks_in_order_then_repeats_the_last():
    a, b = (MazeLevel.from_str(s) for s in ("A..\n...\n..G", "A#G\n...\n..."))
    env = TaskQueueWrapper(MazeEnv(size=3, max_steps=5))
    env.set_tasks([a.encode(), b.encode()])
    played = []
    for _ in range(4):
        _, info = env.reset()
        played.append(info["task"])
    assert played == [a.encode(), b.encode(), b.encode(), b.encode()]
    assert env.unwrapped.level == b


def test_task_queue_reports_each_episode_with_its_task_and_counts_abandoned():
    level = MazeLevel.from_str("AG\n..").encode()
    env = TaskQueueWrapper(MazeEnv(size=2, max_steps=5))
    env.set_tasks([level])
    env.reset()
    _, reward, terminated, _, info = env.step(1)  # right: onto the goal
    assert terminated and info["curriculum"] == {"task": level, "signal": float(reward)}
    env.reset()
    env.reset()  # the second episode never ended
    assert env.abandoned_episodes == 1
    with pytest.raises(ValueError, match="at least one task"):
        env.set_tasks([])


# ------------------------------------------------------------------------------------ UEDPPO


def test_uedppo_rejects_a_teacher_that_does_not_assign_levels():
    teacher = make_teacher("uniform", space(), seed=0)
    assert not is_level_teacher(teacher)
    with pytest.raises(ValueError, match="does not assign levels per rollout"):
        UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, **PPO_KWARGS)


def test_each_env_keeps_its_level_for_the_whole_rollout():
    teacher = make_teacher("plr", space(), seed=0, buffer_size=8, min_fill=0.5)
    model = UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, **PPO_KWARGS)
    recorder = RecordTasks()
    model.learn(6 * N_STEPS * N_ENVS, callback=recorder)
    assert len(recorder.rollouts) == 6
    for rollout in recorder.rollouts:
        per_env = list(zip(*rollout, strict=True))
        assert all(len(set(tasks)) == 1 for tasks in per_env)  # one level per env per rollout


def test_plr_robust_never_takes_a_gradient_step_on_fresh_levels():
    # min_fill 1 with a large buffer: the buffer never fills, so every rollout is "new".
    teacher = make_teacher("plr", space(), seed=0, robust=True, buffer_size=1000, min_fill=1.0)
    model = UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, **PPO_KWARGS)
    before = parameters(model)
    model.learn(5 * N_STEPS * N_ENVS)
    assert torch.equal(before, parameters(model))
    budget = model.budget()
    assert budget["grad_updates"] == 0 and budget["rollouts_new"] == 5
    # The no-gradient rollouts still count in the step budget.
    assert budget["env_steps"] == budget["steps_no_grad"] == 5 * N_STEPS * N_ENVS
    assert teacher.n_updates > 0  # but their levels were scored


def test_plain_plr_trains_on_fresh_levels():
    teacher = make_teacher("plr", space(), seed=0, robust=False, buffer_size=1000, min_fill=1.0)
    model = UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, **PPO_KWARGS)
    before = parameters(model)
    model.learn(3 * N_STEPS * N_ENVS)
    assert not torch.equal(before, parameters(model))
    assert model.budget()["grad_updates"] == 3


def test_reported_score_is_the_maxmc_of_the_rollout_with_raw_rewards():
    teacher = make_teacher("plr", space(), seed=0, score="maxmc", buffer_size=100, min_fill=1.0)
    model = UEDPPO("MlpPolicy", make_vec_env(n_envs=1), teacher=teacher, **PPO_KWARGS)
    captured = {}

    def capture(level, score, episode_return=None):
        captured.update(level=level, score=score, best=episode_return)
        type(teacher).update_episode(teacher, level, score, episode_return)

    teacher.update_episode = capture
    model.learn(N_STEPS)
    recorder = model._recorder
    rewards, dones = np.stack(recorder.rewards), np.stack(recorder.dones)
    with torch.no_grad():
        last_value = model.policy.predict_values(torch.as_tensor(model._last_obs)).numpy()
    rollout = Rollout(
        rewards=rewards,
        values=model.rollout_buffer.values.astype(np.float64),
        dones=dones,
        last_value=last_value.reshape(-1),
    )
    episodes = episode_scores(rollout, "maxmc", model.gamma, model.gae_lambda)
    finished = [e.episode_return for e in episodes if e.finished]
    # Raw rewards: the maze pays only at the goal, so returns are 0 or 1 - 0.9 t / T.
    assert all(r == 0 or 0.1 <= r < 1 for r in finished)
    if finished:
        assert captured["best"] == pytest.approx(max(finished))
        assert captured["score"] == pytest.approx(np.mean([e.score for e in episodes]))
    else:
        assert model.unscored_levels == 1  # MaxMC without any finished episode: -inf


def test_accel_trains_only_on_replayed_levels_and_scores_children():
    teacher = make_teacher("accel", space("empty"), seed=0, buffer_size=8, min_fill=0.25)
    model = UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, **PPO_KWARGS)
    model.learn(16 * N_STEPS * N_ENVS)
    budget = model.budget()
    assert budget["rollouts_replay"] > 0 and budget["rollouts_edit"] > 0
    assert budget["grad_updates"] == budget["rollouts_replay"]
    assert budget["steps_trained"] == budget["rollouts_replay"] * N_STEPS * N_ENVS
    assert teacher.n_edited > 0 and teacher.stats()["buffer_max_mutations"] > 0


def test_sfl_scoring_rounds_report_every_rollout_and_count_their_steps():
    teacher = make_teacher(
        "sfl", space(), seed=0, n_score_levels=6, rollouts_per_level=2, buffer_size=3,
        update_period=4,
    )  # fmt: skip
    model = UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, **PPO_KWARGS)
    model.learn(12 * N_STEPS * N_ENVS)
    stats = teacher.stats()
    assert stats["n_rounds"] >= 2 and not teacher.round_open
    # Every owed scoring rollout was played and reported, none more.
    assert stats["n_score_episodes"] == stats["n_rounds"] * 6 * 2
    budget = model.budget()
    assert budget["steps_no_grad"] > 0
    assert budget["env_steps"] == budget["steps_trained"] + budget["steps_no_grad"]


def test_true_regret_diagnostics_correlate_every_score():
    teacher = make_teacher("plr", space(), seed=0, buffer_size=50)
    model = UEDPPO(
        "MlpPolicy",
        make_vec_env(),
        teacher=teacher,
        optimal_return=lambda level: optimal_return(MazeLevel.decode(level), MAX_STEPS),
        **PPO_KWARGS,
    )
    model.learn(12 * N_STEPS * N_ENVS)
    entry = model.score_log[-1]
    assert set(entry["scores"]) >= {"pvl", "l1vl", "maxmc", "entropy", "min-margin"}
    assert entry["true_regret"] >= -1e-9  # nobody beats the BFS optimum
    correlations = model.score_correlations()
    assert correlations["pvl"]["levels"] == len(model.score_log)
    assert all(-1 <= v["true_regret"] <= 1 for v in correlations.values() if v["levels"] > 2
               and not math.isnan(v["true_regret"]))  # fmt: skip


def test_uedppo_saves_and_loads_as_plain_ppo(tmp_path):
    from stable_baselines3 import PPO

    teacher = make_teacher("plr", space(), seed=0, buffer_size=8)
    model = UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, **PPO_KWARGS)
    model.learn(N_STEPS * N_ENVS)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    assert torch.equal(parameters(model), parameters(loaded))


def test_spearman_matches_hand_computed_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # Ties take average ranks: x ranks (0.5, 0.5, 2, 3), y ranks (0, 1, 2, 3).
    expected = np.corrcoef([0.5, 0.5, 2, 3], [0, 1, 2, 3])[0, 1]
    assert spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(expected)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


# ------------------------------------------------------------------------------------ CLI


def test_autocurr_train_runs_plr_robust_and_records_the_budget(tmp_path):
    from autocurr.cli import main

    argv = [
        "train", "--teacher", "plr", "--teacher-kwargs", "robust=true", "buffer_size=16",
        "--timesteps", "4096", "--n-envs", "2", "--eval-episodes", "1", "--no-progress",
        "--logdir", str(tmp_path),
    ]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((tmp_path / "autocurr-Maze-v0-plr-s0" / "summary.json").read_text())
    ued = summary["ued"]
    assert ued["env_steps"] == ued["steps_trained"] + ued["steps_no_grad"] >= 4096
    assert "pvl" in summary["score_correlations"]
    config = json.loads((tmp_path / "autocurr-Maze-v0-plr-s0" / "config.json").read_text())
    assert config["task_space"]["type"] == "Levels"


def test_oracle_score_reports_the_true_regret_of_each_level():
    def optimal(level):
        return optimal_return(MazeLevel.decode(level), MAX_STEPS)

    teacher = make_teacher("plr", space(), seed=0, buffer_size=100, min_fill=1.0)
    model = UEDPPO(
        "MlpPolicy", make_vec_env(n_envs=1), teacher=teacher, optimal_return=optimal,
        oracle_score=True, **PPO_KWARGS,
    )  # fmt: skip
    model.learn(3 * N_STEPS)
    assert len(model.score_log) == 3  # one level per rollout, each finished an episode
    for entry in model.score_log:
        level = entry["level"]
        assert entry["true_regret"] == pytest.approx(optimal(level) - entry["mean_return"])
        # New levels are never replayed here (min_fill 1), so each buffer score is that rollout's.
        assert teacher.buffer.entry(level)["score"] == pytest.approx(entry["true_regret"])
    with pytest.raises(ValueError, match="needs optimal_return"):
        UEDPPO("MlpPolicy", make_vec_env(), teacher=teacher, oracle_score=True, **PPO_KWARGS)


@pytest.mark.parametrize(
    ("teacher", "kwargs"),
    [("accel", []), ("sfl", ["n_score_levels=8"]), ("paired", []), ("repaired", [])],
)
def test_autocurr_train_runs_every_level_teacher(tmp_path, teacher, kwargs):
    from autocurr.cli import main

    argv = [
        "train", "--teacher", teacher, "--timesteps", "2048", "--n-envs", "2",
        "--eval-episodes", "1", "--no-progress", "--logdir", str(tmp_path),
        *(["--teacher-kwargs", *kwargs] if kwargs else []),
    ]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads((tmp_path / f"autocurr-Maze-v0-{teacher}-s0" / "summary.json").read_text())
    assert summary["ued"]["env_steps"] >= 2048
    assert summary["teacher"]["name"] == teacher
