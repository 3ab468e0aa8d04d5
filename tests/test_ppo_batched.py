"""The batched PPO student: it learns, and the teacher hears every finished episode once."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

import torch

from autocurr import make_teacher
from autocurr.agents.ppo_batched import BatchedPPOConfig, policy_act, train_batched
from autocurr.envs.maze import MazeEnv, maze_levels

SMALL = {"size": 5, "max_steps": 20, "view_size": 9, "n_envs": 64, "n_steps": 32,
         "minibatch_size": 512}  # fmt: skip


def test_batched_ppo_learns_small_mazes_and_reports_every_episode():
    torch.set_num_threads(1)
    teacher = make_teacher("uniform", maze_levels(size=5, max_walls=4), seed=0)
    result = train_batched(BatchedPPOConfig(timesteps=60_000, seed=0, **SMALL), teacher)
    history = result["history"]
    assert result["steps"] == len(history) * 64 * 32 >= 60_000
    # uniform counts its updates: one per finished episode, none lost or doubled
    assert teacher.n_updates == sum(entry["episodes"] for entry in history)
    first, last = history[0]["success_rate"], np.mean([h["success_rate"] for h in history[-3:]])
    assert last > first + 0.15, (first, last)


def test_policy_act_plays_the_numpy_maze():
    model = train_batched(BatchedPPOConfig(timesteps=2048, **SMALL))["model"]
    act = policy_act(model)
    env = MazeEnv(size=5, max_walls=4, max_steps=20, view_size=9)
    observation, _ = env.reset(seed=0)
    actions = act(observation[None])
    assert actions.shape == (1,) and 0 <= int(actions[0]) < 4


def test_autocurr_train_agent_ppo_batched(tmp_path):
    import json

    from autocurr.cli import main

    argv = [
        "train", "--agent", "ppo-batched", "--timesteps", "16384", "--n-envs", "64",
        "--eval-episodes", "1", "--no-progress", "--logdir", str(tmp_path),
    ]  # fmt: skip
    assert main(argv) == 0
    run = tmp_path / "autocurr-Maze-v0-exp3-s0"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["agent"]["name"] == "ppo-batched" and summary["total_timesteps"] >= 16384
    # exp3 over the distance bins heard every finished episode
    assert summary["episodes"]["teacher_updates"] == sum(summary["training_curve"]["episodes"])
    assert summary["held_out"]["suite"] == "maze-test"
    assert (run / "model.pt").is_file() and (run / "teacher_state.pkl").is_file()


def test_ppo_batched_refuses_sfl_for_now(tmp_path, capsys):
    from autocurr.cli import main

    code = main(["train", "--agent", "ppo-batched", "--teacher", "sfl", "--logdir", str(tmp_path)])
    assert code != 0
    assert "scoring rounds or antagonist" in capsys.readouterr().err


def test_plr_robust_on_the_batched_student_scores_levels_and_skips_fresh_rollouts():
    torch.set_num_threads(1)
    teacher = make_teacher("plr", maze_levels(size=5, max_walls=4), seed=0, robust=True,
                           buffer_size=64, min_fill=0.5)  # fmt: skip
    result = train_batched(BatchedPPOConfig(timesteps=20_000, seed=0, **SMALL), teacher)
    trained = [h["trained"] for h in result["history"]]
    assert not trained[0] and any(trained)  # replay starts once the buffer is half full
    assert result["steps_no_grad"] == trained.count(False) * 64 * 32
    assert len(teacher.buffer) == 64 and teacher.n_replayed > 0


@pytest.mark.parametrize("score", ["entropy", "least-confidence", "min-margin"])
def test_policy_scores_on_the_batched_student_come_from_the_action_probabilities(score):
    # These scores need the policy's action distribution; the batched rollout records it
    # only when the teacher asks, and a uniform policy over 4 actions scores near its maximum.
    torch.set_num_threads(1)
    teacher = make_teacher("plr", maze_levels(size=5, max_walls=4), seed=0, robust=True,
                           buffer_size=64, min_fill=0.5, score=score)  # fmt: skip
    config = {**SMALL, "n_envs": 16}
    train_batched(BatchedPPOConfig(timesteps=16 * 32, seed=0, learning_rate=0.0, **config), teacher)
    scores = teacher.buffer.scores()
    assert scores.size > 0
    ceiling = {"entropy": 1.0, "least-confidence": 0.75, "min-margin": 1.0}[score]
    assert all(0.9 * ceiling <= s <= ceiling + 1e-9 for s in scores)
