"""One EXP3 teacher on Ray serving two rollout workers, each with its own toy student.

The task is how far away a target is (1..14 steps on a line); targets beyond 10 cannot be reached
within the 10-step limit. Each worker is a Ray actor that builds its env with
``RemoteCurriculumWrapper`` and finds the teacher by name, as workers on other machines would.
Every finished episode reaches the teacher, and one round trip serves about ``prefetch / 2``
episodes (see docs/ray.md).

Run: python examples/ray_curriculum.py   (needs pip install "autocurr[ray]")
"""

import gymnasium as gym
import numpy as np
import ray

from autocurr.integrations.ray import (
    RemoteCurriculumWrapper,
    RemoteTeacher,
    create_teacher_actor,
    get_teacher_actor,
)
from autocurr.spaces import Discrete

TEACHER = "reach-target-teacher"


class ReachTarget(gym.Env):
    """Walk right to a target ``task + 1`` cells away; reward 1 on arrival within 10 steps."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)  # 0: stay, 1: step right

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.distance = (options or {}).get("task", 0) + 1
        self.position, self.t = 0, 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.position += int(action)
        self.t += 1
        reached = self.position >= self.distance
        obs = np.array([min(self.position / self.distance, 1.0)], np.float32)
        return obs, float(reached), reached, self.t >= 10 and not reached, {}


@ray.remote(num_cpus=1)
class RolloutWorker:
    """Plays episodes with a toy student whose skill grows with every success."""

    def __init__(self, seed: int, prefetch: int):
        client = RemoteTeacher(get_teacher_actor(TEACHER), prefetch=prefetch)
        self.env = RemoteCurriculumWrapper(ReachTarget(), client, signal="success")
        self.rng = np.random.default_rng(seed)
        self.skill = 0.3  # chance of stepping right
        self.env.reset(seed=seed)

    def run(self, episodes: int) -> dict:
        for _ in range(episodes):
            done, reward = False, 0.0
            while not done:
                _, reward, terminated, truncated, _ = self.env.step(
                    int(self.rng.random() < self.skill)
                )
                done = terminated or truncated
            self.skill = min(1.0, self.skill + 0.002 * reward)
            self.env.reset()
        self.env.close()  # delivers every buffered outcome to the teacher
        client = self.env.teacher
        return {"episodes": client.outcomes_delivered, "round_trips": client.round_trips}


def main(episodes: int = 1500, workers: int = 2, prefetch: int = 32, seed: int = 0) -> dict:
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    teacher = create_teacher_actor("exp3", Discrete(14), seed=seed, name=TEACHER)
    pool = []
    try:
        pool = [RolloutWorker.remote(seed + i, prefetch) for i in range(workers)]
        reports = ray.get([worker.run.remote(episodes) for worker in pool])
        stats = ray.get(teacher.stats.remote())
        return {
            "probabilities": ray.get(teacher.probabilities.remote()),
            "outcomes_received": int(stats["outcomes_received"]),
            "workers": reports,
        }
    finally:
        for actor in [*pool, teacher]:
            ray.kill(actor)  # frees the name and the CPUs
        if started:
            ray.shutdown()


if __name__ == "__main__":
    np.set_printoptions(precision=3, suppress=True)
    result = main()
    print("teacher's task distribution:", result["probabilities"])
    print("outcomes received:", result["outcomes_received"], "per worker:", result["workers"])
