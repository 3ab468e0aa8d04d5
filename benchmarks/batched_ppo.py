"""Training throughput: the batched torch PPO vs SB3 PPO with SubprocVecEnv, on the same maze.

Usage::

    python benchmarks/batched_ppo.py [--timesteps 300000] [--device cpu] [--threads 1 2]

Both students train on domain-randomised 9x9 mazes (``uniform`` over ``maze_levels()``, the
default wall budget) for the same number of env steps, back to back in one run:

- SB3: ``PPO("MlpPolicy")`` with ``autocurr train``'s maze settings (8 envs in a
  ``SubprocVecEnv``, ``CurriculumWrapper`` per env, 128 steps per env per rollout, minibatch 256);
- batched: :func:`autocurr.agents.ppo_batched.train_batched` (256 envs of ``BatchedMaze``,
  128 steps, minibatch 4096) on ``--device``.

Prints env steps/s of each, the ratio, and the training success rate of the last rollouts
(a sanity check that both learn, not a learning comparison), with date, versions and machine.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time

import numpy as np
import torch


def sb3_steps_per_second(timesteps: int, seed: int) -> tuple[float, float | None]:
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv

    import autocurr
    from autocurr.agents.train import PPO_DEFAULTS
    from autocurr.envs.maze import maze_levels
    from autocurr.integrations.sb3 import CurriculumCallback

    teacher = autocurr.make_teacher("uniform", maze_levels(), seed=seed)

    def make(index: int):
        def build():
            # Each worker has its own copy of the teacher: uniform needs no shared state.
            env = gym.make("autocurr/Maze-v0")
            local = autocurr.make_teacher("uniform", maze_levels(), seed=seed * 100 + index)
            return autocurr.CurriculumWrapper(env, local)

        return build

    env = SubprocVecEnv([make(i) for i in range(8)])
    model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **PPO_DEFAULTS)
    callback = CurriculumCallback(teacher, is_success=lambda episode_return: episode_return > 0)
    started = time.perf_counter()
    model.learn(timesteps, callback=callback)
    elapsed = time.perf_counter() - started
    env.close()
    rates = [e["success_rate"] for e in callback.history[-10:] if e["success_rate"] is not None]
    return model.num_timesteps / elapsed, None if not rates else float(np.mean(rates))


def batched_steps_per_second(timesteps: int, seed: int, device: str) -> tuple[float, float]:
    from autocurr import make_teacher
    from autocurr.agents.ppo_batched import BatchedPPOConfig, train_batched
    from autocurr.envs.maze import maze_levels

    teacher = make_teacher("uniform", maze_levels(), seed=seed)
    result = train_batched(BatchedPPOConfig(timesteps=timesteps, seed=seed, device=device), teacher)
    last = [h["success_rate"] for h in result["history"][-3:] if h["success_rate"] is not None]
    return result["steps_per_second"], float(np.mean(last))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=300_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sb3, sb3_last = sb3_steps_per_second(args.timesteps, args.seed)
    print("| student | torch threads | env steps/s | × SB3 | training success, last rollouts |")
    print("|---|---|---|---|---|")
    print(f"| SB3 PPO, SubprocVecEnv x 8 | 1 | {sb3:,.0f} | 1.00 | {sb3_last:.2f} |", flush=True)
    for threads in args.threads:
        torch.set_num_threads(threads)
        rate, success = batched_steps_per_second(args.timesteps, args.seed, args.device)
        print(f"| batched PPO, 256 envs, {args.device} | {threads} | {rate:,.0f} | "
              f"{rate / sb3:.2f} | {success:.2f} |", flush=True)  # fmt: skip
    print(
        f"\nDate: {datetime.date.today()}; torch {torch.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}; {platform.platform()}; command: "
        f"`python {' '.join([sys.argv[0], *(argv or sys.argv[1:])])}`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
