"""Robust Prioritized Level Replay (PLR⊥) choosing maze levels for SB3 PPO, with a tiny budget.

``UEDPPO`` is SB3's PPO with the regret-based teacher built in: before each rollout the teacher
either replays levels from its buffer or asks for fresh random ones (one decision for all envs);
after it, every level is scored from the rollout (positive value loss, ``score="pvl"``) and the
score decides whether the level enters the buffer. With ``robust=True`` the student takes **no
gradient step** on fresh levels: they are only rolled out to be scored, yet their env steps
count in ``learn(total_timesteps)``. The example prints that budget split and the buffer's
state; ``autocurr train --teacher plr --teacher-kwargs robust=true`` is the full-size run.

Run: python examples/ued_maze.py   (about 10 s on 2 CPU cores; pip install "autocurr[sb3]")
"""

import gymnasium as gym
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from autocurr import TaskQueueWrapper, make_teacher
from autocurr.envs.maze import maze_levels
from autocurr.integrations.sb3_ued import UEDPPO


def make_env(size: int, max_steps: int):
    def build():
        maze = gym.make("autocurr/Maze-v0", size=size, max_walls=size * 2, max_steps=max_steps)
        return Monitor(TaskQueueWrapper(maze))  # UEDPPO queues each env's level itself

    return build


def main(
    timesteps: int = 60_000,
    n_envs: int = 8,
    n_steps: int = 128,
    max_steps: int = 100,
    size: int = 7,
    buffer_size: int = 200,
    seed: int = 0,
) -> dict:
    levels = maze_levels(size=size, max_walls=size * 2)
    teacher = make_teacher(
        "plr", levels, seed=seed, robust=True, buffer_size=buffer_size, min_fill=0.5
    )
    # n_steps >= max_steps: every level finishes at least one episode in each rollout.
    env = DummyVecEnv([make_env(size, max_steps)] * n_envs)
    model = UEDPPO(
        "MlpPolicy", env, teacher=teacher, n_steps=n_steps, batch_size=n_steps * n_envs // 4,
        seed=seed, verbose=0,
    )  # fmt: skip
    model.learn(timesteps)
    env.close()
    return {"budget": model.budget(), "teacher": teacher.stats()}


if __name__ == "__main__":
    result = main()
    budget, stats = result["budget"], result["teacher"]
    print(
        f"env steps {budget['env_steps']}: {budget['steps_trained']} with a gradient step, "
        f"{budget['steps_no_grad']} only to score fresh levels"
    )
    print(
        f"rollouts: {budget.get('rollouts_replay', 0)} replayed, "
        f"{budget.get('rollouts_new', 0)} fresh; PPO updates {budget['grad_updates']}"
    )
    print(
        f"buffer: {stats['buffer_size']:.0f} levels ({stats['buffer_fill']:.0%} full), "
        f"mean score {stats['buffer_score_mean']:.4f}, max {stats['buffer_score_max']:.4f}, "
        f"mean staleness {stats['buffer_mean_staleness']:.1f}"
    )
    print(f"share of level draws that were replays: {stats['replay_share']:.2f}")
