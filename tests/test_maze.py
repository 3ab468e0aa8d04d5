"""Behaviour tests for the maze environment (autocurr.envs.maze)."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

from autocurr.envs import (
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

UP, RIGHT, DOWN, LEFT = range(4)

# 4 x 5 maze with known BFS distances from A.
SMALL = """
A.#..
.##.#
...G.
#.#..
"""
SMALL_DIST = np.array(
    [
        [0, 1, -1, 7, 8],
        [1, -1, -1, 6, -1],
        [2, 3, 4, 5, 6],
        [-1, 4, -1, 6, 7],
    ]
)

UNSOLVABLE = """
A.#..
..#.G
..#..
"""

# Straight corridor: the goal is 4 steps to the right of the start.
LINE = "A...G"

level_seeds = st.integers(0, 2**32 - 1)
level_sizes = st.sampled_from([2, 3, 5, 9, 13, (4, 7), (1, 6)])


def _level(seed: int, size=9, max_walls: int = 20) -> MazeLevel:
    return generate_level(np.random.default_rng(seed), size=size, max_walls=max_walls)


# ---------------------------------------------------------------------------------------------
# MazeLevel
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=level_seeds, size=level_sizes)
def test_ascii_and_binary_round_trip(seed, size):
    level = _level(seed, size, max_walls=30)
    assert MazeLevel.from_str(level.to_str()) == level
    assert MazeLevel.decode(level.encode()) == level
    assert MazeLevel.from_array(level.wall_array(), level.start, level.goal) == level
    assert pickle.loads(pickle.dumps(level)) == level


@settings(max_examples=30, deadline=None)
@given(seed=level_seeds, size=level_sizes)
def test_mutated_levels_round_trip(seed, size):
    rng = np.random.default_rng(seed)
    level = mutate_level(rng, generate_level(rng, size=size), n_edits=8)
    assert MazeLevel.decode(level.encode()) == level
    assert MazeLevel.from_str(level.to_str()) == level


def test_encode_is_compact():
    level = _level(0)
    assert len(level.encode()) == 13 + (81 + 7) // 8


def test_equal_levels_dedupe():
    a = MazeLevel.from_str(SMALL)
    b = MazeLevel.from_str("\n   " + SMALL.strip().replace("\n", "  \n  ") + "\n\n")
    c = MazeLevel(bytes(a.wall_array().astype(np.uint8)), 4, 5, (0, 0), (2, 3))
    d = MazeLevel(a.walls, 4, 5, (0, 0), (2, 4))
    assert a == b == c
    assert len({a, b, c, d}) == 2
    assert a.n_walls == 6
    assert a.to_str() == SMALL.strip()


def test_wall_array_is_read_only():
    arr = MazeLevel.from_str(SMALL).wall_array()
    assert arr.dtype == np.bool_ and arr.shape == (4, 5)
    with pytest.raises(ValueError):
        arr[0, 0] = True


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("A..\n.G", "rectangular"),
        ("A.x\n..G", "invalid char"),
        ("A..\n...", "exactly one 'G'"),
        ("A.A\n..G", "exactly one 'A'"),
        ("AG\nGG", "exactly one 'G'"),
    ],
)
def test_from_str_rejects_bad_mazes(text, problem):
    with pytest.raises(ValueError, match=problem):
        MazeLevel.from_str(text)


def test_constructor_validation():
    walls = bytes([0, 1, 0, 0, 0, 0])  # 2 x 3, wall at (0, 1)
    MazeLevel(walls, 2, 3, (0, 0), (1, 2))
    with pytest.raises(ValueError, match="length"):
        MazeLevel(walls[:-1], 2, 3, (0, 0), (1, 2))
    with pytest.raises(ValueError, match="outside"):
        MazeLevel(walls, 2, 3, (2, 0), (1, 2))
    with pytest.raises(ValueError, match="outside"):
        MazeLevel(walls, 2, 3, (0, 0), (1, -1))
    with pytest.raises(ValueError, match="on a wall"):
        MazeLevel(walls, 2, 3, (0, 1), (1, 2))
    with pytest.raises(ValueError, match="same cell"):
        MazeLevel(walls, 2, 3, (1, 2), (1, 2))
    with pytest.raises(ValueError, match="only 0 and 1"):
        MazeLevel(bytes([0, 2, 0, 0, 0, 0]), 2, 3, (0, 0), (1, 2))
    with pytest.raises(ValueError):
        MazeLevel.decode(b"\x01\x02")
    with pytest.raises(ValueError):
        MazeLevel.decode(_level(1).encode()[:-1])


# ---------------------------------------------------------------------------------------------
# BFS
# ---------------------------------------------------------------------------------------------


def test_bfs_distances_known_maze():
    level = MazeLevel.from_str(SMALL)
    np.testing.assert_array_equal(bfs_distances(level), SMALL_DIST)
    assert shortest_path_length(level) == 5
    assert is_solvable(level)
    from_goal = bfs_distances(level, (2, 3))
    assert from_goal[0, 0] == 5 and from_goal[2, 3] == 0 and from_goal[0, 4] == 3
    with pytest.raises(ValueError):
        bfs_distances(level, (0, 2))  # wall
    with pytest.raises(ValueError):
        bfs_distances(level, (4, 0))  # outside


def test_unsolvable_detection():
    level = MazeLevel.from_str(UNSOLVABLE)
    assert shortest_path_length(level) is None
    assert not is_solvable(level)
    assert optimal_return(level, 100) == 0.0
    assert bfs_distances(level)[1, 4] == -1


def test_optimal_return():
    level = MazeLevel.from_str(LINE)
    assert optimal_return(level, 100) == pytest.approx(1 - 0.9 * 4 / 100)
    assert optimal_return(level, 4) == pytest.approx(0.1)
    assert optimal_return(level, 3) == 0.0


# ---------------------------------------------------------------------------------------------
# Generation and mutation
# ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=level_seeds,
    min_d=st.integers(1, 6),
    span=st.integers(0, 4),
    max_walls=st.integers(0, 40),
)
def test_generate_level_respects_bounds(seed, min_d, span, max_walls):
    rng = np.random.default_rng(seed)
    level = generate_level(
        rng, size=9, max_walls=max_walls, min_distance=min_d, max_distance=min_d + span
    )
    assert level.shape == (9, 9)
    assert level.n_walls <= max_walls
    length = shortest_path_length(level)
    assert length is not None and min_d <= length <= min_d + span


def test_generate_level_is_deterministic_per_seed():
    a = [generate_level(np.random.default_rng(7), size=(5, 8)) for _ in range(2)]
    assert a[0] == a[1] and a[0].shape == (5, 8)
    levels = {generate_level(np.random.default_rng(s)) for s in range(50)}
    assert len(levels) > 45


def test_generate_level_fixed_wall_count_with_replacement():
    counts = [generate_level(np.random.default_rng(s), n_walls=30).n_walls for s in range(200)]
    assert max(counts) <= 30
    assert min(counts) < 30  # drawn with replacement, so duplicates lower the count
    assert np.mean(counts) > 20


def test_generate_level_gives_up():
    with pytest.raises(ValueError, match="tries"):
        generate_level(np.random.default_rng(0), size=3, min_distance=20, max_tries=5)
    with pytest.raises(ValueError):
        generate_level(np.random.default_rng(0), min_distance=0)


def test_mutate_level():
    rng = np.random.default_rng(0)
    base = MazeLevel.from_str(SMALL)
    assert mutate_level(rng, base, n_edits=0) == base
    children = [mutate_level(rng, base, n_edits=3) for _ in range(200)]
    assert any(c.walls != base.walls for c in children)
    assert any(c.goal != base.goal for c in children)
    assert any(c.start != base.start for c in children)
    assert any(not is_solvable(c) for c in children)  # not required to stay solvable
    one_edit = [mutate_level(rng, base, n_edits=1) for _ in range(100)]
    for c in one_edit:  # a single edit changes exactly one thing
        diffs = (c.walls != base.walls) + (c.goal != base.goal) + (c.start != base.start)
        assert diffs == 1
        if c.walls != base.walls:
            assert int(np.sum(c.wall_array() != base.wall_array())) == 1


# ---------------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------------


def test_reward_after_known_action_sequence():
    env = MazeEnv(max_steps=100)
    _, info = env.reset(seed=0, options={"task": LINE})
    assert info["shortest_path"] == 4 and info["level"] == MazeLevel.from_str(LINE)
    for _ in range(3):
        _, reward, terminated, truncated, info = env.step(RIGHT)
        assert (reward, terminated, truncated) == (0.0, False, False)
    _, reward, terminated, truncated, info = env.step(RIGHT)
    assert terminated and not truncated
    assert reward == pytest.approx(1 - 0.9 * 4 / 100)
    assert env.agent_pos == (0, 4)


def test_walls_and_borders_block_moves():
    env = MazeEnv()
    env.reset(options={"task": SMALL})
    env.step(UP)
    env.step(LEFT)
    assert env.agent_pos == (0, 0)
    env.step(RIGHT)
    env.step(RIGHT)  # (0, 2) is a wall
    assert env.agent_pos == (0, 1)
    env.step(DOWN)  # (1, 1) is a wall
    assert env.agent_pos == (0, 1)
    for a in (LEFT, DOWN, DOWN, RIGHT, RIGHT):
        _, reward, terminated, *_ = env.step(a)
        assert not terminated
    _, reward, terminated, *_ = env.step(RIGHT)
    assert terminated and reward == pytest.approx(1 - 0.9 * 11 / 100)


def test_truncation_at_max_steps():
    env = MazeEnv(max_steps=7)
    env.reset(options={"task": LINE})
    for t in range(1, 8):
        _, reward, terminated, truncated, _ = env.step(LEFT)
        assert reward == 0.0 and not terminated
        assert truncated == (t == 7)
    with pytest.raises(RuntimeError):
        env.step(LEFT)


def test_goal_on_last_step_is_terminated_not_truncated():
    env = MazeEnv(max_steps=4)
    env.reset(options={"task": LINE})
    for _ in range(4):
        _, reward, terminated, truncated, _ = env.step(RIGHT)
    assert terminated and not truncated and reward == pytest.approx(0.1)


def test_observation_is_agent_centred():
    env = MazeEnv(view_size=5)
    obs, _ = env.reset(options={"task": SMALL})
    assert obs.shape == (2, 5, 5) and obs.dtype == np.float32
    assert obs in env.observation_space
    c = 2  # agent at the centre, at (0, 0) of the grid
    walls, goal = obs
    assert walls[c, c] == 0
    assert walls[:c].all() and walls[:, :c].all()  # above and left: outside the grid
    assert walls[c, c + 2] == 1  # (0, 2)
    assert walls[c + 1, c + 1] == 1 and walls[c + 1, c + 2] == 1  # (1, 1), (1, 2)
    assert walls[c + 2, c:].sum() == 0  # row 2 is free
    assert goal.sum() == 0  # goal at (2, 3) is outside a 5 x 5 view from (0, 0)
    obs, *_ = env.step(DOWN)
    obs, *_ = env.step(DOWN)  # agent at (2, 0): goal 3 to the right
    walls, goal = obs
    assert goal.sum() == 0  # still just outside (offset 3 > 2)
    obs, *_ = env.step(RIGHT)  # agent at (2, 1)
    walls, goal = obs
    assert goal[c, c + 2] == 1 and goal.sum() == 1
    assert walls[c + 1, c - 1] == 1 and walls[c + 1, c] == 0  # (3, 0) wall, (3, 1) free
    assert walls[c + 2].all()  # row 4 is outside the grid


def test_heading_channel_marks_the_cell_the_last_action_pointed_at():
    env = MazeEnv(view_size=5, heading=True)
    obs, _ = env.reset(options={"task": SMALL})
    assert obs.shape == (3, 5, 5) and obs in env.observation_space
    assert obs[2].sum() == 0  # no action yet
    plain = MazeEnv(view_size=5).reset(options={"task": SMALL})[0]
    np.testing.assert_array_equal(obs[:2], plain)
    c = 2
    for action, cell in [(DOWN, (c + 1, c)), (RIGHT, (c, c + 1)), (UP, (c - 1, c))]:
        obs, *_ = env.step(action)  # the heading also points into walls the move bumped
        assert obs[2][cell] == 1 and obs[2].sum() == 1
    obs, _ = env.reset(options={"task": SMALL})
    assert obs[2].sum() == 0
    with pytest.raises(ValueError, match="heading needs view_size >= 3"):
        MazeEnv(view_size=1, heading=True)


MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left


def _right_hand_rule(obs: np.ndarray) -> int:
    """Wall following from the observation alone: the heading channel says which way the agent
    faces (right before its first move); turn right if free, else straight, else left, else
    back."""
    walls, heading = obs[0], obs[2]
    c = walls.shape[0] // 2
    facing = next((a for a, (dr, dc) in enumerate(MOVES) if heading[c + dr, c + dc]), RIGHT)
    for turn in (1, 0, 3, 2):
        action = (facing + turn) % 4
        if not walls[c + MOVES[action][0], c + MOVES[action][1]]:
            return action
    return facing


def test_heading_lets_a_memoryless_policy_solve_most_held_out_mazes():
    # Why the heading channel exists: without it a memoryless policy cannot tell which way it
    # is going along a corridor; with it, wall following solves 9 of the 10 held-out mazes.
    env = MazeEnv(heading=True)
    solved = set()
    for name, level in load_maze_suite().items():
        obs, _ = env.reset(options={"task": level})
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(_right_hand_rule(obs))
            done = terminated or truncated
        if reward > 0:
            solved.add(name)
    # the labyrinth's goal sits on an island that no wall follower reaches
    assert solved == set(load_maze_suite()) - {"labyrinth"}


def test_full_view_sees_everything():
    level = _level(3)
    env = MazeEnv(view_size=17)
    obs, _ = env.reset(options={"task": level})
    r, c = level.start
    walls, goal = obs
    np.testing.assert_array_equal(walls[8 - r : 17 - r, 8 - c : 17 - c], level.wall_array())
    assert goal[8 - r + level.goal[0], 8 - c + level.goal[1]] == 1


def test_task_option_plays_exact_level_any_size():
    env = MazeEnv()
    for level in [_level(5, size=13), _level(6, size=(3, 20)), *load_maze_suite().values()]:
        _, info = env.reset(options={"task": level})
        assert env.level == level and info["level"] == level
        assert info["shortest_path"] == shortest_path_length(level)
        assert env.agent_pos == level.start
    _, info = env.reset(options={"task": UNSOLVABLE})
    assert info["shortest_path"] == -1


def test_set_next_level_is_one_shot():
    env = MazeEnv()
    env.reset(seed=1)
    target = MazeLevel.from_str(SMALL)
    env.set_next_level(target)
    _, info = env.reset()
    assert info["level"] == target
    _, info = env.reset()
    assert info["level"] != target and info["level"].shape == (9, 9)
    # an explicit task wins and leaves the pending level for later
    env.set_next_level(target)
    env.reset(options={"task": LINE})
    assert env.level == MazeLevel.from_str(LINE)
    env.reset()
    assert env.level == target


def test_random_levels_are_seeded_and_solvable():
    env = MazeEnv(size=7, max_walls=25)
    _, info_a = env.reset(seed=42)
    levels = [env.reset()[1]["level"] for _ in range(20)]
    _, info_b = env.reset(seed=42)
    assert info_a["level"] == info_b["level"]
    assert all(lv.shape == (7, 7) and is_solvable(lv) for lv in levels)


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        MazeEnv(view_size=4)
    with pytest.raises(ValueError):
        MazeEnv(max_steps=0)
    with pytest.raises(ValueError):
        MazeEnv(render_mode="human")
    env = MazeEnv()
    with pytest.raises(ValueError):
        env.reset(options={"task": 3})
    with pytest.raises(ValueError):
        env.reset(options={"task": "A.#\n.GG"})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"level": LINE})
    with pytest.raises(ValueError):
        env.set_next_level(np.zeros((3, 3)))
    env.reset()
    with pytest.raises(ValueError):
        env.step(4)


def test_render():
    env = MazeEnv(render_mode="ansi")
    env.reset(options={"task": SMALL})
    env.step(RIGHT)
    assert env.render() == "A@#..\n.##.#\n...G.\n#.#.."
    env = MazeEnv(render_mode="rgb_array")
    env.reset(options={"task": SMALL})
    img = env.render()
    assert img.shape == (32, 40, 3) and img.dtype == np.uint8


def test_check_env():
    check_env(MazeEnv(), skip_render_check=True)
    check_env(MazeEnv(size=(5, 6), view_size=3, max_steps=10), skip_render_check=True)
    spec = EnvSpec("MazeTest-v0", entry_point="autocurr.envs.maze:MazeEnv")
    check_env(gym.make(spec, render_mode="ansi").unwrapped, skip_render_check=False)


def test_through_gym_make():
    spec = EnvSpec("MazeTest-v0", entry_point="autocurr.envs.maze:MazeEnv")
    env = gym.make(spec, max_steps=20)
    _, info = env.reset(seed=0, options={"task": LINE})
    assert info["shortest_path"] == 4
    env.close()


# ---------------------------------------------------------------------------------------------
# Held-out suites
# ---------------------------------------------------------------------------------------------


def test_test_suite_mazes():
    suite = load_maze_suite()
    expected = {
        "corridor",
        "four_rooms",
        "nine_rooms",
        "labyrinth",
        "perfect_maze_a",
        "perfect_maze_b",
        "open_room",
        "zigzag",
    }
    assert expected <= set(suite)
    assert list(suite) == sorted(suite)
    assert len(set(suite.values())) == len(suite)  # all distinct
    for name, level in suite.items():
        assert level.shape == (9, 9), name
        length = shortest_path_length(level)
        assert length is not None and length >= 15, (name, length)


def test_large_suite_mazes():
    suite = load_maze_suite("maze-test-large")
    assert len(suite) >= 2
    for name, level in suite.items():
        assert level.shape == (13, 13), name
        length = shortest_path_length(level)
        assert length is not None and length >= 30, (name, length)


def test_perfect_mazes_are_trees():
    # a perfect maze's free cells form a spanning tree: edges == nodes - 1, all connected
    for name, level in {**load_maze_suite(), **load_maze_suite("maze-test-large")}.items():
        if not name.startswith("perfect_maze"):
            continue
        free = ~level.wall_array()
        edges = int((free[1:] & free[:-1]).sum() + (free[:, 1:] & free[:, :-1]).sum())
        assert edges == int(free.sum()) - 1, name
        assert (bfs_distances(level)[free] >= 0).all(), name


def test_unknown_suite():
    with pytest.raises(ValueError, match="maze-test"):
        load_maze_suite("nope")
