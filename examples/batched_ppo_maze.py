"""PPO on the batched maze (env, rollouts and learner as torch tensors) with an EXP3 curriculum.

``train_batched`` steps all envs at once as tensors on one device (CPU here; pass
``device="cuda"`` on a GPU, where thousands of envs fit). The teacher is asked once per rollout
for one task per env; a task is a difficulty bin of start-goal BFS distance, turned into a fresh
random level of that bin by ``MazeLevelInDistanceBin``. After the rollout every finished episode
reaches the teacher in one ``update_batch`` (the only device-to-host copy). The example prints
the success rate per rollout and where EXP3 sends the envs at the end;
``autocurr train --agent ppo-batched`` is the full-size run.

Run: python examples/batched_ppo_maze.py   (about 20 s on 2 CPU cores; needs torch)
"""

import numpy as np

from autocurr import make_teacher
from autocurr.agents.ppo_batched import BatchedPPOConfig, train_batched
from autocurr.agents.tasks import MazeLevelInDistanceBin
from autocurr.spaces import Discrete

SIZE, MAX_WALLS = 5, 4
DISTANCE_BINS = [(1, 2), (3, 4), (5, 6), (7, 8)]  # 8 is the longest distance in a 5x5 maze


def main(timesteps: int = 100_000, n_envs: int = 64, device: str = "cpu", seed: int = 0) -> dict:
    teacher = make_teacher("exp3", Discrete(len(DISTANCE_BINS)), seed=seed)
    bins = MazeLevelInDistanceBin(np.random.default_rng(seed), DISTANCE_BINS)
    config = BatchedPPOConfig(
        timesteps=timesteps, n_envs=n_envs, n_steps=32, size=SIZE, max_steps=20, view_size=9,
        minibatch_size=512, seed=seed, device=device,
    )  # fmt: skip
    result = train_batched(
        config, teacher, task_to_level=lambda task: bins.level(task, SIZE, MAX_WALLS)
    )
    history = result["history"]
    return {
        "success_rate": [entry["success_rate"] for entry in history],
        "episodes": sum(entry["episodes"] for entry in history),
        "teacher_updates": teacher.n_updates,
        "probabilities": teacher.probabilities(),
        "steps": result["steps"],
        "steps_per_second": result["steps_per_second"],
    }


if __name__ == "__main__":
    result = main()
    rates = result["success_rate"][::6]
    print("success rate, every 6th rollout:", " ".join(f"{rate:.2f}" for rate in rates))
    print(
        f"{result['steps']} env steps at {result['steps_per_second']:.0f} steps/s; "
        f"{result['episodes']} episodes, teacher updates {result['teacher_updates']}"
    )
    shares = zip(DISTANCE_BINS, result["probabilities"], strict=True)
    print(
        "EXP3's distribution over distance bins:",
        ", ".join(f"{a}-{b}: {p:.2f}" for (a, b), p in shares),
    )
