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
from .point_mass import PointMassGateEnv
from .students import (
    ChainOracle,
    ChainStudent,
    DriftingBandit,
    DriftingOracle,
    HypercubeOracle,
    HypercubeUnlock,
    oracle_for,
    run_curriculum,
)

__all__ = [
    "ChainOracle",
    "ChainStudent",
    "DriftingBandit",
    "DriftingOracle",
    "HypercubeOracle",
    "HypercubeUnlock",
    "MazeEnv",
    "MazeLevel",
    "PointMassGateEnv",
    "bfs_distances",
    "generate_level",
    "is_solvable",
    "load_maze_suite",
    "mutate_level",
    "optimal_return",
    "oracle_for",
    "run_curriculum",
    "shortest_path_length",
]
