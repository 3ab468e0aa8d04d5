"""Environments shipped with autocurr (installed as ``autocurr.envs``).

Imports stay light (numpy + gymnasium only). Gymnasium ids are registered by ``autocurr``
itself, not here.
"""

from .maze import (
    MazeEnv,
    MazeLevel,
    bfs_distances,
    generate_level,
    is_solvable,
    load_maze_suite,
    mutate_level,
    optimal_return,
    shortest_path_length,
)

__all__ = [
    "MazeEnv",
    "MazeLevel",
    "bfs_distances",
    "generate_level",
    "is_solvable",
    "load_maze_suite",
    "mutate_level",
    "optimal_return",
    "shortest_path_length",
]
