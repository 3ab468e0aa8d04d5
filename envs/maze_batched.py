"""The autocurr maze (:class:`~autocurr.envs.maze.MazeEnv`) batched in PyTorch, on CPU or GPU.

:class:`BatchedMaze` steps ``n_envs`` mazes of one grid size at once with tensor ops only (no
Python loop over envs), for a GPU-batched PPO student. It reproduces ``MazeEnv`` exactly: the same
moves (``0`` up, ``1`` right, ``2`` down, ``3`` left; a move into a wall or off the grid leaves
the agent in place), reward ``1 - 0.9 * t / max_steps`` on reaching the goal after ``t`` steps,
termination on the goal (which wins over truncation on the last allowed step), truncation at
``max_steps``, and the agent-centred ``(2, view_size, view_size)`` observation (channel 0 walls,
cells outside the grid count as walls; channel 1 the goal; with ``heading=True`` a third channel
marks the neighbour the last action pointed at). ``tests/test_maze_batched.py`` checks this step
by step against ``MazeEnv``.

Differences from ``MazeEnv`` (all deliberate)
    * Autoreset in the same call, like SB3's ``VecEnv``: an env whose episode ended starts its next
      episode inside :meth:`BatchedMaze.step`, the returned observation is the new episode's first
      one, and the last observation of the finished episode is in :attr:`BatchedMaze.final_obs`.
    * Levels are per env and sticky: :meth:`BatchedMaze.set_levels` makes the given envs play a
      level from their next reset (or autoreset) on, and every later autoreset replays it until
      it is set again (the per-rollout level of PLR / ACCEL). The episode under way is not touched.
    * Before the first ``set_levels`` each env plays a random level from
      :func:`~autocurr.envs.maze.generate_level` (``max_walls`` wall draws at most, as in
      ``MazeEnv``), drawn from ``numpy.random.default_rng(seed)``; those levels do not change at
      autoreset (no domain randomisation per episode).
    * Rewards are ``float32`` (``MazeEnv`` returns a Python float); they are computed in float64
      with ``MazeEnv``'s expression and then rounded, so they equal ``np.float32(reward)``.

Layout (why it is fast)
    Each env owns two *level slots*: the level being played and the one queued by ``set_levels``;
    a reset flips the slot of envs with a queued level, so ``step`` only moves ``(n,)`` tensors
    around. Each slot stores the wall grid with a border of walls ``max(1, view_size // 2)`` wide,
    flattened; positions are flat indices into it, so a move is one add, the wall test one gather,
    and the observation crop one gather with a fixed ``(view_size ** 2,)`` offset pattern.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .maze import NO_ACTION, MazeLevel, _heading_planes, _parse_size, generate_level

__all__ = ["BatchedMaze"]


class BatchedMaze:
    """``n_envs`` mazes of one size stepped together as torch tensors on ``device``.

    Args:
        n_envs: number of parallel envs.
        size: grid side, an int or ``(height, width)``; every level must have this size.
        max_steps: episode length limit ``T`` (also the ``T`` of the reward).
        view_size: odd side of the agent-centred observation crop.
        device: torch device holding all state.
        seed: seeds the ``numpy.random.Generator`` that draws the initial random levels
            (:func:`~autocurr.envs.maze.generate_level`); ``None`` draws fresh entropy.
        max_walls: wall draws ``Uniform{0..max_walls}`` of those initial levels (``MazeEnv``'s
            default).
        check_actions: check that actions lie in ``0..3`` (ValueError otherwise). The check reads
            one boolean back from the device per step; on a GPU, ``False`` avoids that
            synchronisation (out-of-range actions then give undefined results).
        heading: add ``MazeEnv``'s last-action channel (needs ``view_size >= 3``).

    State (tensors of length ``n_envs`` on ``device``): the episode's step counter
    (:attr:`elapsed_steps`), agent position (:attr:`agent_pos`, ``(n, 2)`` row/col), running
    return; :attr:`final_obs` after each :meth:`step`.
    """

    def __init__(
        self,
        n_envs: int,
        size: int | tuple[int, int] = 9,
        max_steps: int = 100,
        view_size: int = 11,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        max_walls: int = 20,
        check_actions: bool = True,
        heading: bool = False,
    ) -> None:
        n_envs = operator.index(n_envs)
        if n_envs < 1:
            raise ValueError(f"n_envs must be >= 1, got {n_envs}")
        if view_size < 1 or view_size % 2 == 0:
            raise ValueError(f"view_size must be a positive odd int, got {view_size}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if max_walls < 0:
            raise ValueError(f"max_walls must be >= 0, got {max_walls}")
        if heading and view_size < 3:
            raise ValueError(f"heading needs view_size >= 3, got {view_size}")
        self.n_envs = n_envs
        self.height, self.width = _parse_size(size)
        self.max_steps = int(max_steps)
        self.view_size = int(view_size)
        self.device = torch.device(device)
        self.check_actions = bool(check_actions)
        self.heading = bool(heading)
        self.observation_shape = (3 if heading else 2, self.view_size, self.view_size)

        # Padded grid geometry: the border is at least 1 so off-grid moves hit a wall.
        half = self.view_size // 2
        self._border = max(1, half)
        self._padded_width = self.width + 2 * self._border
        self._cells = (self.height + 2 * self._border) * self._padded_width
        dev = self.device
        wp = self._padded_width
        self._deltas = torch.tensor([-wp, 1, wp, -1], dtype=torch.long, device=dev)
        offsets = torch.arange(-half, half + 1, dtype=torch.long, device=dev)
        self._crop_offsets = (offsets[:, None] * wp + offsets[None, :]).reshape(-1)
        # Reward per step count, with MazeEnv's float64 expression, rounded once to float32.
        table = [1.0 - 0.9 * t / self.max_steps for t in range(self.max_steps + 1)]
        self._reward_table = torch.tensor(table, dtype=torch.float64, device=dev).float()
        if self.heading:
            planes = _heading_planes(self.view_size).reshape(5, 1, -1)
            self._heading_planes = torch.from_numpy(planes).to(dev)

        # Two level slots per env (playing / queued), flattened: slot s of env i is i * 2 + s.
        self._walls = torch.ones(n_envs * 2 * self._cells, dtype=torch.bool, device=dev)
        self._starts = torch.zeros(n_envs * 2, dtype=torch.long, device=dev)
        self._goals = torch.zeros(n_envs * 2, dtype=torch.long, device=dev)
        self._env_ids = torch.arange(n_envs, dtype=torch.long, device=dev)
        self._slot = torch.zeros(n_envs, dtype=torch.long, device=dev)
        self._pending = torch.zeros(n_envs, dtype=torch.bool, device=dev)
        self._slot_levels: list[list[MazeLevel | None]] = [[None, None] for _ in range(n_envs)]

        self._pos = torch.zeros(n_envs, dtype=torch.long, device=dev)
        self._t = torch.zeros(n_envs, dtype=torch.long, device=dev)
        self._return = torch.zeros(n_envs, dtype=torch.float32, device=dev)
        self._last_action = torch.full((n_envs,), NO_ACTION, dtype=torch.long, device=dev)
        self.final_obs: torch.Tensor | None = None
        self._started = False

        rng = np.random.default_rng(seed)
        initial = [
            generate_level(rng, (self.height, self.width), max_walls=max_walls)
            for _ in range(n_envs)
        ]
        self._write_levels(initial, self._env_ids, self._slot)
        self._begin_episodes(torch.ones(n_envs, dtype=torch.bool, device=dev))

    # -- levels ----------------------------------------------------------------------------------

    def _as_level(self, level: Any) -> MazeLevel:
        if isinstance(level, (bytes, bytearray)):
            level = MazeLevel.decode(bytes(level))
        elif not isinstance(level, MazeLevel):
            raise ValueError(
                f"a level must be a MazeLevel or MazeLevel.encode() bytes, got {type(level)}"
            )
        if level.shape != (self.height, self.width):
            raise ValueError(
                f"level is {level.height}x{level.width}, this env is {self.height}x{self.width}"
            )
        return level

    def _padded_index(self, cell: tuple[int, int]) -> int:
        return (cell[0] + self._border) * self._padded_width + cell[1] + self._border

    def _write_levels(
        self, levels: list[MazeLevel], envs: torch.Tensor, slots: torch.Tensor
    ) -> None:
        """Store ``levels`` (already validated) in slot ``slots[k]`` of env ``envs[k]``."""
        b = self._border
        grids = np.ones((len(levels), self.height + 2 * b, self._padded_width), dtype=np.bool_)
        grids[:, b : b + self.height, b : b + self.width] = [lv.wall_array() for lv in levels]
        starts = [self._padded_index(lv.start) for lv in levels]
        goals = [self._padded_index(lv.goal) for lv in levels]
        dev = self.device
        rows = envs * 2 + slots
        grid_view = self._walls.view(self.n_envs * 2, self._cells)
        grid_view[rows] = torch.from_numpy(grids.reshape(len(levels), -1)).to(dev)
        self._starts[rows] = torch.tensor(starts, dtype=torch.long, device=dev)
        self._goals[rows] = torch.tensor(goals, dtype=torch.long, device=dev)
        for env, slot, level in zip(envs.tolist(), slots.tolist(), levels, strict=True):
            self._slot_levels[env][slot] = level

    def _env_indices(self, indices: Any) -> torch.Tensor:
        if indices is None:
            return self._env_ids
        idx = torch.as_tensor(indices, device=self.device)
        if idx.dtype == torch.bool or idx.is_floating_point() or idx.dim() > 1:
            raise ValueError("indices must be a 1-D sequence of int env indices")
        idx = idx.reshape(-1).long()
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.n_envs):
            raise ValueError(f"indices must lie in 0..{self.n_envs - 1}")
        return idx

    def set_levels(self, levels: Sequence[Any], indices: Any = None) -> None:
        """Make env ``indices[k]`` play ``levels[k]`` from its next reset on (default: all envs,
        ``levels`` then has ``n_envs`` entries), and replay it at every later autoreset until set
        again. Levels are :class:`MazeLevel` or ``MazeLevel.encode()`` bytes of this env's size.
        The episodes under way are not affected.

        Raises:
            ValueError: wrong level type or size, bad indices, or ``len(levels) != len(indices)``.
        """
        envs = self._env_indices(indices)
        parsed = [self._as_level(level) for level in levels]
        if len(parsed) != envs.numel():
            raise ValueError(f"got {len(parsed)} levels for {envs.numel()} envs")
        if len(set(envs.tolist())) != envs.numel():
            raise ValueError("indices must not repeat")
        if not parsed:
            return
        self._write_levels(parsed, envs, 1 - self._slot[envs])
        self._pending[envs] = True

    def levels(self) -> list[MazeLevel]:
        """The level each env is playing now (host side; reads the slots back from the device).

        A level queued by :meth:`set_levels` shows up once the env has reset onto it.
        """
        slots = self._slot.tolist()
        return [pair[s] for pair, s in zip(self._slot_levels, slots, strict=True)]  # type: ignore[misc]

    # -- episodes --------------------------------------------------------------------------------

    def _observe(self, pos: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Crops ``(n, C, V, V)`` float32 around ``pos`` on the grids of level slots ``rows``."""
        # Indices into the flat store of all slots; one (n, V * V) add serves both channels.
        base = rows * self._cells
        cells = (base + pos)[:, None] + self._crop_offsets
        walls = self._walls[cells]
        goal = cells == (base + self._goals[rows])[:, None]
        obs = torch.stack((walls, goal), dim=1).to(torch.float32)
        if self.heading:
            obs = torch.cat((obs, self._heading_planes[self._last_action]), dim=1)
        return obs.view(self.n_envs, *self.observation_shape)

    def _begin_episodes(self, mask: torch.Tensor) -> torch.Tensor:
        """Start new episodes where ``mask``: take up queued levels, agent to the start, t = 0.

        Returns the level slot rows (``env * 2 + slot``) now played by every env.
        """
        self._slot = torch.where(mask & self._pending, 1 - self._slot, self._slot)
        self._pending = self._pending & ~mask
        rows = self._env_ids * 2 + self._slot
        self._pos = torch.where(mask, self._starts[rows], self._pos)
        self._t = torch.where(mask, 0, self._t)
        self._return = torch.where(mask, 0.0, self._return)
        if self.heading:  # the only reader of the last action
            self._last_action = torch.where(mask, NO_ACTION, self._last_action)
        return rows

    def reset(self, indices: Any = None) -> torch.Tensor:
        """Reset envs ``indices`` (default all) onto their level; returns the observation of all
        envs, ``(n_envs, C, V, V)`` float32. Call it once before the first :meth:`step` (envs it
        leaves out then start at their level's start too).
        """
        mask = torch.zeros(self.n_envs, dtype=torch.bool, device=self.device)
        mask[self._env_indices(indices)] = True
        self._started = True
        rows = self._begin_episodes(mask)
        return self._observe(self._pos, rows)

    def _check(self, actions: Any) -> torch.Tensor:
        actions = torch.as_tensor(actions, device=self.device)
        if actions.shape != (self.n_envs,):
            shape = tuple(actions.shape)
            raise ValueError(f"actions must have shape ({self.n_envs},), got {shape}")
        if actions.dtype == torch.bool or actions.is_floating_point() or actions.is_complex():
            raise ValueError(f"actions must be an integer tensor, got {actions.dtype}")
        actions = actions.long()
        # Any bit outside the lowest two (negative values included) means outside 0..3.
        if self.check_actions and bool((actions & ~3).any()):
            raise ValueError("actions must lie in 0..3 (0 up, 1 right, 2 down, 3 left)")
        return actions

    def step(
        self, actions: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Move every env by ``actions`` (``(n_envs,)`` ints in ``0..3``) and autoreset the ended.

        Returns ``(obs, rewards, terminated, truncated, episode_returns)``: ``obs``
        ``(n, C, V, V)`` float32, the new episode's first observation where an episode ended
        (the finished one's last observation is in :attr:`final_obs`); ``rewards`` float32;
        ``terminated`` (goal reached) and ``truncated`` (``max_steps`` reached without it) bool;
        ``episode_returns`` float32, the finished episode's return where it ended, else 0.

        Raises:
            ValueError: actions of the wrong shape, dtype or range.
            RuntimeError: before the first :meth:`reset`.
        """
        if not self._started:
            raise RuntimeError("step() called before reset()")
        actions = self._check(actions)
        rows = self._env_ids * 2 + self._slot
        target = self._pos + self._deltas[actions]
        blocked = self._walls[rows * self._cells + target]
        pos = torch.where(blocked, self._pos, target)
        t = self._t + 1
        # The start is never the goal, so standing on it means the move onto it just succeeded.
        terminated = pos == self._goals[rows]
        truncated = ~terminated & (t >= self.max_steps)
        rewards = torch.where(terminated, self._reward_table[t], 0.0)
        returns = self._return + rewards
        done = terminated | truncated

        self._pos, self._t, self._return, self._last_action = pos, t, returns, actions
        self.final_obs = self._observe(pos, rows)
        new_rows = self._begin_episodes(done)
        obs = self._observe(self._pos, new_rows)
        episode_returns = torch.where(done, returns, 0.0)
        return obs, rewards, terminated, truncated, episode_returns

    # -- read-only views -------------------------------------------------------------------------

    @property
    def agent_pos(self) -> torch.Tensor:
        """``(n_envs, 2)`` long tensor of the agents' (row, col)."""
        row = torch.div(self._pos, self._padded_width, rounding_mode="floor")
        col = torch.remainder(self._pos, self._padded_width)
        return torch.stack((row - self._border, col - self._border), dim=1)

    @property
    def elapsed_steps(self) -> torch.Tensor:
        """Steps taken in each env's current episode."""
        return self._t.clone()
