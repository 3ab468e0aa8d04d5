"""Speed of the maze envs: the numpy MazeEnv and the batched torch BatchedMaze (env steps/s),
level generation and BFS.

Usage::

    python benchmarks/maze_speed.py [--steps 200000] [--seed 0]
    autocurr bench maze-speed [--quick]     # the same defaults, through the harness

Prints a markdown table plus the software versions, date and machine. As a suite of
``autocurr bench`` (``SUITE``, :func:`run`, :func:`report`): one table (measurement, value, unit,
notes). ``--quick``: 50,000 steps per measurement instead of 200,000, BatchedMaze on 1 torch
thread.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

import autocurr
from autocurr.envs import MazeEnv, bfs_distances, generate_level, shortest_path_length
from autocurr.spaces import Discrete


def _steps_per_second(env, n_steps: int, seed: int) -> tuple[float, int]:
    """Random actions (pre-drawn), resetting at episode end. Returns (steps/s, episodes)."""
    actions = np.random.default_rng(seed).integers(0, 4, size=n_steps).tolist()
    env.reset(seed=seed)
    episodes = 0
    t0 = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
            episodes += 1
    return n_steps / (time.perf_counter() - t0), episodes


class _PoolCycler(gym.Wrapper):
    def __init__(self, env, pool):
        super().__init__(env)
        self.pool, self.next_index = pool, 0

    def reset(self, **kwargs):
        self.env.unwrapped.set_next_level(self.pool[self.next_index % len(self.pool)])
        self.next_index += 1
        return self.env.reset(**kwargs)


def _set_level(pool):
    def apply_task(env, task):
        env.unwrapped.set_next_level(pool[task])

    return apply_task


def _batched_steps_per_second(n_envs: int, threads: int, n_steps: int, seed: int) -> float:
    """Env steps/s of ``BatchedMaze`` (torch, CPU) with random actions, autoresets included."""
    import torch

    from autocurr.envs.maze_batched import BatchedMaze

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        env = BatchedMaze(n_envs, seed=seed)
        env.reset()
        generator = torch.Generator().manual_seed(seed)
        calls = max(20, n_steps // n_envs)
        actions = torch.randint(0, 4, (calls, n_envs), generator=generator)
        t0 = time.perf_counter()
        for row in actions:
            env.step(row)
        return calls * n_envs / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)


def _rate(fn, n: int) -> float:
    """Calls per second of ``fn`` over ``n`` calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


SUITE = "maze-speed"
DESCRIPTION = (
    "maze env steps/s (numpy MazeEnv, with the curriculum wrapper, batched torch BatchedMaze), "
    "level generation and BFS"
)
DEFAULT_STEPS = 200_000
QUICK_STEPS = 50_000
BATCHED_ENVS = (64, 1024, 8192)
#: torch threads of the BatchedMaze rows (``--quick``: 1 only; 2 threads on 2 shared cores can
#: take 20 s for 64 envs when another job holds a core).
BATCHED_THREADS = (1, 2)


def measure(
    n: int = DEFAULT_STEPS, seed: int = 0, threads: tuple[int, ...] = BATCHED_THREADS
) -> dict[str, Any]:
    """The suite's results: one row per measurement (value, unit, notes)."""
    rng = np.random.default_rng(seed)
    rows: list[list[Any]] = []

    def add(measurement: str, value: float, unit: str, notes: str = "") -> None:
        rows.append([measurement, value, unit, notes])

    sps, eps = _steps_per_second(MazeEnv(), n, seed)
    add(
        "env steps/s, MazeEnv() 9x9, random actions, incl. resets",
        sps,
        "steps/s",
        f"{n:,} steps, {eps:,} episodes",
    )
    sps, eps = _steps_per_second(MazeEnv(view_size=17), n, seed)
    add("env steps/s, view_size=17", sps, "steps/s", f"{eps:,} episodes")
    spec = EnvSpec("MazeBench-v0", entry_point="autocurr.envs.maze:MazeEnv")
    wrapped = gym.make(spec)  # adds PassiveEnvChecker + OrderEnforcing wrappers
    sps, eps = _steps_per_second(wrapped, n, seed)
    add("env steps/s, via gym.make (default wrappers)", sps, "steps/s", f"{eps:,} episodes")

    # The curriculum's own cost: same env, an EXP3 teacher choosing among 6 levels each reset.
    pool = [generate_level(rng) for _ in range(6)]
    # Baseline for the ratio: the same pool cycled by hand, no teacher.
    sps_raw, _ = _steps_per_second(_PoolCycler(MazeEnv(), pool), n, seed)
    teacher = autocurr.make_teacher("exp3", Discrete(len(pool)), seed=seed)
    curriculum = autocurr.CurriculumWrapper(MazeEnv(), teacher, apply_task=_set_level(pool))
    sps, eps = _steps_per_second(curriculum, n, seed)
    add("env steps/s, 6-level pool cycled without a teacher", sps_raw, "steps/s")
    add(
        "env steps/s, CurriculumWrapper(MazeEnv(), exp3) on that pool",
        sps,
        "steps/s",
        f"{sps / sps_raw:.2f}x the line above; {eps:,} episodes reported to the teacher",
    )

    env = MazeEnv()
    env.reset(seed=seed)
    n_small = max(n // 20, 100)
    add(
        "env resets/s (fresh random 9x9 level)",
        _rate(env.reset, n_small),
        "1/s",
        f"{n_small:,} resets",
    )

    for size, max_walls in ((9, 20), (13, 60)):
        rate = _rate(lambda s=size, m=max_walls: generate_level(rng, size=s, max_walls=m), n_small)
        add(
            f"generate_level/s, {size}x{size}, Uniform(0..{max_walls}) walls",
            rate,
            "1/s",
            f"{n_small:,} levels (includes a BFS each)",
        )

    for size, max_walls in ((9, 20), (13, 60)):
        levels = [generate_level(rng, size=size, max_walls=max_walls) for _ in range(n_small)]
        it = iter(levels * 2)
        rate = _rate(lambda it=it: bfs_distances(next(it)), n_small)
        add(
            f"bfs_distances, {size}x{size} (full distance map)",
            1e6 / rate,
            "us",
            f"{n_small:,} levels",
        )
        it = iter(levels * 2)
        rate = _rate(lambda it=it: shortest_path_length(next(it)), n_small)
        add(
            f"shortest_path_length, {size}x{size} (early exit)",
            1e6 / rate,
            "us",
            f"{n_small:,} levels",
        )

    # The batched torch maze (issue 5's GPU student steps it on the device); CPU here.
    for n_envs in BATCHED_ENVS:
        for n_threads in threads:
            sps = _batched_steps_per_second(n_envs, n_threads, 4 * n, seed)
            add(
                f"BatchedMaze env steps/s, {n_envs} envs, {n_threads} torch thread(s)",
                sps,
                "steps/s",
                "torch CPU; random actions, autoresets included",
            )
    return {
        "tables": {
            "maze_speed": {"columns": ["measurement", "value", "unit", "notes"], "rows": rows}
        },
        "settings": {
            "steps": n,
            "seed": seed,
            "batched_envs": list(BATCHED_ENVS),
            "torch_threads": list(threads),
        },
    }


def run(*, seeds: int | None = None, quick: bool = False, out_dir: Path) -> dict[str, Any]:
    """The suite. A timing benchmark: one seed (``seeds`` is recorded, not used)."""
    results = measure(QUICK_STEPS, threads=(1,)) if quick else measure(DEFAULT_STEPS)
    results["settings"]["seeds_requested"] = seeds
    return results


def _value(value: float, unit: str) -> str:
    return f"{value:.1f} us" if unit == "us" else f"{value:,.0f}"


def report(results: dict[str, Any]) -> str:
    lines = ["| measurement | value | notes |", "|---|---|---|"]
    for measurement, value, unit, notes in results["tables"]["maze_speed"]["rows"]:
        lines.append(f"| {measurement} | {_value(value, unit)} | {notes} |")
    lines += [
        "",
        f"{results['settings']['steps']:,} env steps per single-env measurement "
        f"(4x that for BatchedMaze), seed {results['settings']['seed']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help="env steps per measurement"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(report(measure(args.steps, args.seed)))
    print(f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(
        f"- python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}"
    )
    print(
        f"- machine: {platform.platform()}, {platform.machine()}, "
        f"processor {platform.processor() or 'n/a'}, cpu_count {os.cpu_count()}"
    )
    print(f"- command: {' '.join([os.path.basename(sys.argv[0]), *(argv or sys.argv[1:])])}")


if __name__ == "__main__":
    main()
