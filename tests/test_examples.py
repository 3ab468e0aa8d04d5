"""Examples must run, and show what their docstrings claim."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_task_aware_env_teacher_leaves_unreachable_targets_at_the_floor():
    probabilities = load("task_aware_env").main(episodes=3000, seed=0)
    unreachable = probabilities[10:]  # distances 11..14 never fit in 10 steps
    assert np.all(unreachable < 1 / 14)
    assert probabilities[:10].sum() > 0.85


def test_sb3_curriculum_teacher_hears_every_finished_episode_once():
    pytest.importorskip("stable_baselines3")
    result = load("sb3_curriculum").main(timesteps=2048, n_envs=2, seed=0)
    assert result["rollouts"] == 4  # 2 envs x 256 steps per rollout
    # Every finished episode was logged by the callback and reported to the teacher once.
    finished = result["episodes_finished"]
    assert result["teacher_updates"] == result["episodes_logged"] == finished > 20
    assert sum(result["episodes_per_task"]) == finished
    assert min(result["episodes_per_task"]) > 0  # EXP3 explores every pole length
    assert np.isclose(result["probabilities"].sum(), 1.0)


def test_data_loader_mixture_moves_away_from_the_noise_domain():
    pytest.importorskip("torch")
    example = load("data_loader_mixture")
    result = example.main(steps=300, seed=0)
    assert result["teacher_steps"] == 300  # one teacher update per optimizer step
    noise, xor = example.DOMAINS.index("noise"), example.DOMAINS.index("xor")
    probabilities = result["probabilities"]  # from 1/4 each
    assert probabilities[noise] < 0.1  # seeds 0-2: 0.04-0.06
    assert probabilities.argmax() == xor and probabilities[xor] > 0.5  # still being learned
    # The batches themselves followed: few noise examples at the end of training.
    assert result["drawn_share_last_quarter"][noise] < 0.1


def test_ued_maze_fills_the_buffer_and_counts_the_steps_without_gradient():
    pytest.importorskip("stable_baselines3")
    n_envs, n_steps = 4, 64
    result = load("ued_maze").main(
        timesteps=12 * n_envs * n_steps, n_envs=n_envs, n_steps=n_steps, max_steps=n_steps,
        size=5, buffer_size=16, seed=0,
    )  # fmt: skip
    budget, stats = result["budget"], result["teacher"]
    assert budget["env_steps"] == budget["steps_trained"] + budget["steps_no_grad"]
    assert budget["env_steps"] >= 12 * n_envs * n_steps
    # PLR⊥: fresh levels are rolled out only to be scored; only replays take a gradient step.
    assert budget["rollouts_new"] > 0 and budget["rollouts_replay"] > 0
    assert budget["steps_no_grad"] == budget["rollouts_new"] * n_envs * n_steps
    assert budget["grad_updates"] == budget["rollouts_replay"]
    assert stats["buffer_size"] == 16 and stats["replay_share"] > 0


def test_batched_ppo_maze_learns_and_reports_every_episode_to_the_teacher():
    pytest.importorskip("torch")
    rollouts, n_envs = 16, 64
    result = load("batched_ppo_maze").main(timesteps=rollouts * n_envs * 32, n_envs=n_envs, seed=0)
    assert result["steps"] == rollouts * n_envs * 32 and len(result["success_rate"]) == rollouts
    # One update_batch per rollout carries every finished episode, none lost or doubled.
    assert result["teacher_updates"] == result["episodes"] > rollouts * n_envs
    assert not np.allclose(result["probabilities"], 0.25)  # the outcomes moved EXP3
    first, last = result["success_rate"][0], np.mean(result["success_rate"][-3:])
    assert last > first + 0.15, (first, last)  # seeds 0-2: +0.25 to +0.39


def test_every_example_is_under_100_lines_and_says_what_it_shows():
    for path in sorted(EXAMPLES.glob("*.py")):
        text = path.read_text()
        assert len(text.splitlines()) < 100, path.name
        assert text.startswith('"""'), f"{path.name} needs a docstring saying what it shows"
