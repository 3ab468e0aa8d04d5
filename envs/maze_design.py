"""The PAIRED adversary's environment for the maze: build a level one placement per step.

PAIRED (Dennis et al., NeurIPS 2020) trains an RL *adversary* that constructs each level; in the
maze it places the goal, then the agent, then ``n_clutter`` walls (``dcd:envs/multigrid/
adversarial.py``, reference ``teachers-regret-ued.md`` §9). This env is that construction process
for :class:`~autocurr.envs.maze.MazeEnv` levels, sized for an MLP adversary.

Episode: ``2 + n_walls`` steps, action ``Discrete(h * w)`` = a cell in row-major order.

* step 0 places the **goal** at the chosen cell;
* step 1 places the **start**; choosing the goal's cell puts the start on the next cell in
  row-major order (wrapping to cell 0), a deterministic rule: no wall exists yet, so that cell
  is always free;
* every later step places one **wall**; choosing the goal, the start or an existing wall is a
  no-op (walls are placed with replacement in the literature too, so the real count can be
  lower than ``n_walls``).

Observation (``float32`` vector, length ``3 * h * w + 2 + n_walls``): the wall, goal and start
one-hot planes flattened row-major, then a one-hot of the step index (all zeros once the episode
is over). Reward is 0 at every step: the adversary's reward (regret) comes from outside, added
by its trainer to the final step. The final step terminates the episode and carries
``info["level"]``, the built :class:`~autocurr.envs.maze.MazeLevel`. Unsolvable levels are
allowed: the adversary must learn to build solvable ones (their regret is 0).

Default size 9 x 9 with a budget of 20 walls, our maze benchmark's wall budget (reference §19;
the literature uses 25-60 walls on 13 x 13).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .maze import MazeLevel, _parse_size

__all__ = ["MazeDesignEnv"]


class MazeDesignEnv(gym.Env):
    """Build a maze level step by step (PAIRED's adversary env); see the module docstring.

    Args:
        size: grid side, an int or ``(height, width)``.
        n_walls: wall placements per level (episode length ``2 + n_walls``).
    """

    def __init__(self, size: int | tuple[int, int] = 9, n_walls: int = 20) -> None:
        self.height, self.width = _parse_size(size)
        if isinstance(n_walls, bool) or not isinstance(n_walls, int | np.integer) or n_walls < 0:
            raise ValueError(f"n_walls must be an integer >= 0, got {n_walls!r}")
        self.n_walls = int(n_walls)
        self.n_cells = self.height * self.width
        self.episode_length = 2 + self.n_walls
        self.action_space = spaces.Discrete(self.n_cells)
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(3 * self.n_cells + self.episode_length,), dtype=np.float32
        )
        self._walls = np.zeros(self.n_cells, dtype=np.bool_)
        self._goal = -1
        self._start = -1
        self._t = self.episode_length  # no episode running before reset

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._walls[:] = False
        self._goal = self._start = -1
        self._t = 0
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        n = self.n_cells
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        obs[:n] = self._walls
        if self._goal >= 0:
            obs[n + self._goal] = 1.0
        if self._start >= 0:
            obs[2 * n + self._start] = 1.0
        if self._t < self.episode_length:
            obs[3 * n + self._t] = 1.0
        return obs

    def _place(self, cell: int) -> None:
        if self._t == 0:
            self._goal = cell
        elif self._t == 1:
            self._start = (cell + 1) % self.n_cells if cell == self._goal else cell
        elif cell not in (self._goal, self._start):
            self._walls[cell] = True  # an existing wall stays a wall (no-op)

    def level(self) -> MazeLevel:
        """The level built so far (needs the goal and the start placed)."""
        if self._start < 0:
            raise RuntimeError("the goal and the start are not placed yet")
        return MazeLevel(
            self._walls.tobytes(),
            self.height,
            self.width,
            divmod(self._start, self.width),
            divmod(self._goal, self.width),
        )

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._t >= self.episode_length:
            raise RuntimeError("step() called before reset() or after the episode ended")
        cell = int(action)
        if not 0 <= cell < self.n_cells:
            raise ValueError(f"action must be a cell index in 0..{self.n_cells - 1}, got {action}")
        self._place(cell)
        self._t += 1
        terminated = self._t == self.episode_length
        info: dict[str, Any] = {"level": self.level()} if terminated else {}
        return self._obs(), 0.0, terminated, False, info
