"""An environment that reads its task from ``reset(options={"task": ...})``, taught by EXP3.

The task is how far away the target is (1..14 steps on a line). Targets beyond 10 cannot be reached
before the 10-step limit, so they give no learning progress; a learning-progress teacher should
shift its samples towards the learnable, still-improving distances.

Run: python examples/task_aware_env.py
"""

import gymnasium as gym
import numpy as np

import autocurr
from autocurr.spaces import Discrete


class ReachTarget(gym.Env):
    """Walk right to a target ``task + 1`` cells away; reward 1 on arrival within 10 steps."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)  # 0: stay, 1: step right

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.distance = (options or {}).get("task", 0) + 1
        self.position, self.t = 0, 0
        return np.array([self.position / self.distance], np.float32), {}

    def step(self, action):
        self.position += int(action)
        self.t += 1
        reached = self.position >= self.distance
        obs = np.array([min(self.position / self.distance, 1.0)], np.float32)
        return obs, float(reached), reached, self.t >= 10 and not reached, {}


def main(episodes: int = 3000, seed: int = 0) -> np.ndarray:
    teacher = autocurr.make_teacher("exp3", Discrete(14), seed=seed)
    env = autocurr.CurriculumWrapper(ReachTarget(), teacher, signal="success")
    rng = np.random.default_rng(seed)
    skill = 0.3  # a toy "student": the chance of stepping right, improved by every success
    env.reset(seed=seed)
    for _ in range(episodes):
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.random() < skill))
            done = terminated or truncated
        skill = min(1.0, skill + 0.002 * reward)
        env.reset()
    return teacher.probabilities()


if __name__ == "__main__":
    np.set_printoptions(precision=3, suppress=True)
    print("teacher's task distribution after training:", main())
