"""Training throughput: the batched torch PPO vs SB3 PPO with SubprocVecEnv, on the same maze.

Usage::

    python benchmarks/batched_ppo.py [--timesteps 300000] [--device cpu] [--threads 1 2]
    autocurr bench batched-ppo [--quick]     # the same, plus CUDA when available

Both students train on domain-randomised 9x9 mazes (``uniform`` over ``maze_levels()``, the
default wall budget) for the same number of env steps, back to back in one run:

- SB3: ``PPO("MlpPolicy")`` with ``autocurr train``'s maze settings (8 envs in a
  ``SubprocVecEnv``, ``CurriculumWrapper`` per env, 128 steps per env per rollout, minibatch 256);
- batched: :func:`autocurr.agents.ppo_batched.train_batched` (256 envs of ``BatchedMaze``,
  128 steps, minibatch 4096) on ``--device``.

Prints env steps/s of each, the ratio, and the training success rate of the last rollouts
(a sanity check that both learn, not a learning comparison), with date, versions and machine.

As a suite of ``autocurr bench`` (``SUITE``, :func:`run`, :func:`report`): one table (student,
device, torch threads, env steps/s, ratio to SB3, training success) and the verdict on the
issue's target (batched >= 3x SB3). The suite adds a CUDA row when a GPU is present.
``--quick``: 65,536 steps (two batched rollouts), one torch thread. torch and SB3 are imported
inside the functions, so importing the module is cheap.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def sb3_steps_per_second(timesteps: int, seed: int) -> tuple[float, float | None]:
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor
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
            # Monitor outside, as `autocurr train` does: the callback reads its episode returns
            return Monitor(autocurr.CurriculumWrapper(env, local))

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


SUITE = "batched-ppo"
DESCRIPTION = (
    "training env steps/s: the batched torch PPO (256 envs) vs SB3 PPO with SubprocVecEnv x 8 on "
    "domain-randomised mazes (CPU; CUDA too when present)"
)
DEFAULT_TIMESTEPS = 300_000
#: ``--quick``: two batched rollouts (256 envs x 128 steps), one torch thread.
QUICK_TIMESTEPS = 65_536
#: The issue's target: the batched student at least this many times SB3's env steps/s.
TARGET_RATIO = 3.0


def measure(
    timesteps: int, devices: list[str], threads: list[int], seed: int = 0
) -> dict[str, Any]:
    """The suite's results: SB3 first, then the batched student per device and thread count."""
    import torch

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        sb3, sb3_last = sb3_steps_per_second(timesteps, seed)
        rows: list[list[Any]] = [["SB3 PPO, SubprocVecEnv x 8", "cpu", 1, sb3, 1.0, sb3_last]]
        for device in devices:
            # threads matter on CPU only; on a GPU one host thread feeds the device
            for n_threads in threads if device == "cpu" else [1]:
                torch.set_num_threads(n_threads)
                rate, success = batched_steps_per_second(timesteps, seed, device)
                rows.append(["batched PPO, 256 envs", device, n_threads, rate, rate / sb3, success])
    finally:
        torch.set_num_threads(previous)
    columns = ["student", "device", "torch_threads", "env_steps_per_s", "x_sb3", "train_success"]
    best = max(row[4] for row in rows[1:]) if len(rows) > 1 else None
    return {
        "tables": {"throughput": {"columns": columns, "rows": rows}},
        "settings": {"timesteps": timesteps, "seed": seed, "devices": devices, "threads": threads},
        "target": {
            "ratio": TARGET_RATIO,
            "best": best,
            "met": best is not None and best >= TARGET_RATIO,
        },
    }


def run(*, seeds: int | None = None, quick: bool = False, out_dir: Path) -> dict[str, Any]:
    """The suite: CPU (1 and 2 torch threads; 1 with ``quick``) and CUDA when available. A
    throughput benchmark: one seed (``seeds`` is recorded, not used)."""
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if quick:
        results = measure(QUICK_TIMESTEPS, devices, [1])
    else:
        results = measure(DEFAULT_TIMESTEPS, devices, [1, 2])
    results["settings"]["seeds_requested"] = seeds
    return results


def report(results: dict[str, Any]) -> str:
    lines = [
        "| student | device | torch threads | env steps/s | × SB3 | training success, last "
        "rollouts |",
        "|---|---|---|---|---|---|",
    ]
    for student, device, threads, rate, ratio, success in results["tables"]["throughput"]["rows"]:
        shown = "–" if success is None else f"{success:.2f}"
        lines.append(f"| {student} | {device} | {threads} | {rate:,.0f} | {ratio:.2f} | {shown} |")
    settings, target = results["settings"], results["target"]
    lines += [
        "",
        f"Both students train for {settings['timesteps']:,} env steps on domain-randomised 9x9 "
        f"mazes (seed {settings['seed']}), back to back.",
    ]
    if target["best"] is not None:
        verdict = "**met**" if target["met"] else "**not met**"
        lines.append(
            f"- Target (batched ≥ {target['ratio']:g}x SB3's env steps/s): {verdict}, "
            f"{target['best']:.2f}x at best."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=DEFAULT_TIMESTEPS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = measure(args.timesteps, [args.device], args.threads, args.seed)
    print(report(results))
    print(
        f"Date: {datetime.date.today()}; torch {torch.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}; {platform.platform()}; command: "
        f"`python {' '.join([sys.argv[0], *(argv or sys.argv[1:])])}`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
