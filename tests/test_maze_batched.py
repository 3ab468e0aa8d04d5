"""BatchedMaze (autocurr.envs.maze_batched) against the reference MazeEnv, step by step."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from autocurr.envs.maze import MazeEnv, MazeLevel, generate_level  # noqa: E402
from autocurr.envs.maze_batched import BatchedMaze  # noqa: E402

UP, RIGHT, DOWN, LEFT = range(4)
N_ENVS = 6

# 3 x 3: the goal is 4 moves from the start, around two walls.
TINY = """
A.#
#.#
..G
"""


def _random_levels(rng: np.random.Generator, size: int, n: int) -> list[MazeLevel]:
    """Half the levels have the goal next to or two cells from the start, so episodes end often."""
    return [
        generate_level(rng, size, max_walls=2 * size, max_distance=2 if k % 2 == 0 else None)
        for k in range(n)
    ]


def _np(x: torch.Tensor) -> np.ndarray:
    return x.cpu().numpy()


def _play_against_reference(
    size: int,
    view_size: int,
    device: str = "cpu",
    n_steps: int = 300,
    max_steps: int = 12,
    seed: int = 0,
    switch: tuple[int, list[int]] | None = None,
    heading: bool = False,
) -> dict[str, int]:
    """Step a BatchedMaze and one MazeEnv per env with the same random actions; assert equality.

    ``switch = (step, envs)`` gives ``envs`` new levels with ``set_levels`` before that step (one
    of them as encoded bytes); their references move to it at their next reset. Returns counts of
    terminations, truncations and level switches seen.
    """
    rng = np.random.default_rng(seed)
    levels = _random_levels(rng, size, N_ENVS)
    settings = {"size": size, "max_steps": max_steps, "view_size": view_size, "heading": heading}
    batched = BatchedMaze(N_ENVS, device=device, seed=seed, **settings)
    batched.set_levels(levels)
    refs = [MazeEnv(**settings) for _ in levels]
    obs = _np(batched.reset())
    channels = 3 if heading else 2
    assert obs.dtype == np.float32 and obs.shape == (N_ENVS, channels, view_size, view_size)
    for i, ref in enumerate(refs):
        assert np.array_equal(obs[i], ref.reset(options={"task": levels[i]})[0])
    assert batched.levels() == levels

    next_levels = list(levels)
    returns = [0.0] * N_ENVS
    counts = {"terminated": 0, "truncated": 0, "switched": 0}
    for step in range(n_steps):
        if switch is not None and step == switch[0]:
            fresh = _random_levels(rng, size, len(switch[1]))
            batched.set_levels([fresh[0].encode(), *fresh[1:]], indices=switch[1])
            for env, level in zip(switch[1], fresh, strict=True):
                next_levels[env] = level
            assert batched.levels() == [ref.level for ref in refs]  # episodes under way unchanged
        actions = rng.integers(0, 4, size=N_ENVS)
        out = batched.step(torch.as_tensor(actions, device=device))
        obs, rewards, terminated, truncated, episode_returns = map(_np, out)
        final_obs = _np(batched.final_obs)
        assert rewards.dtype == np.float32 and episode_returns.dtype == np.float32
        for i, ref in enumerate(refs):
            ref_obs, reward, term, trunc, _ = ref.step(int(actions[i]))
            returns[i] += reward
            assert np.array_equal(final_obs[i], ref_obs)
            assert rewards[i] == np.float32(reward)  # float64 formula rounded once: exact
            assert (bool(terminated[i]), bool(truncated[i])) == (term, trunc)
            if term or trunc:
                assert episode_returns[i] == np.float32(returns[i])
                counts["terminated" if term else "truncated"] += 1
                counts["switched"] += next_levels[i] != ref.level
                ref_obs = ref.reset(options={"task": next_levels[i]})[0]
                returns[i] = 0.0
            else:
                assert episode_returns[i] == 0.0
            assert np.array_equal(obs[i], ref_obs)
        assert batched.levels() == [ref.level for ref in refs]
        assert _np(batched.elapsed_steps).tolist() == [ref.elapsed_steps for ref in refs]
        assert _np(batched.agent_pos).tolist() == [list(ref.agent_pos) for ref in refs]
    return counts


@pytest.mark.parametrize(("size", "view_size"), [(5, 1), (5, 3), (5, 9), (9, 5), (9, 11), (9, 17)])
def test_matches_maze_env_step_by_step(size, view_size):
    counts = _play_against_reference(size, view_size, seed=size * 100 + view_size)
    assert counts["terminated"] > 10 and counts["truncated"] > 10


@pytest.mark.parametrize("view_size", [3, 11])
def test_heading_channel_matches_maze_env_step_by_step(view_size):
    counts = _play_against_reference(9, view_size, seed=view_size, heading=True)
    assert counts["terminated"] > 10 and counts["truncated"] > 10


def test_set_levels_mid_run_changes_only_those_envs_next_episodes():
    counts = _play_against_reference(9, 11, seed=7, switch=(31, [1, 4]))
    assert counts["switched"] == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_matches_maze_env_on_cuda():
    counts = _play_against_reference(9, 11, device="cuda", seed=3, switch=(20, [0, 5]))
    assert counts["terminated"] > 10 and counts["truncated"] > 10


def test_scripted_path_on_a_hand_built_level():
    level = MazeLevel.from_str(TINY)
    env = BatchedMaze(2, size=3, max_steps=10, view_size=5)
    env.set_levels([level, level])
    start_obs = _np(env.reset())
    ref = MazeEnv(size=3, view_size=5, max_steps=10)
    assert np.array_equal(start_obs[0], ref.reset(options={"task": level})[0])
    # Bump off the grid, step right, bump into a wall, then down, down, right onto the goal.
    script = [UP, RIGHT, RIGHT, DOWN, DOWN, RIGHT]
    cells = [(0, 0), (0, 1), (0, 1), (1, 1), (2, 1), (2, 2)]
    for t, (action, cell) in enumerate(zip(script, cells, strict=True), start=1):
        pos_before = _np(env.agent_pos)[1].tolist()
        obs, rewards, terminated, truncated, episode_returns = env.step(
            torch.tensor([action, LEFT])
        )
        assert _np(env.agent_pos)[1].tolist() == pos_before == [0, 0]  # env 1 keeps bumping
        assert not truncated.any()
        if t < len(script):
            assert _np(env.agent_pos)[0].tolist() == list(cell)
            assert not terminated.any() and rewards[0] == 0.0 and episode_returns[0] == 0.0
    expected = np.float32(1.0 - 0.9 * 6 / 10)
    assert terminated.tolist() == [True, False]
    assert rewards[0] == expected and episode_returns[0] == expected
    assert _np(env.agent_pos)[0].tolist() == [0, 0]  # autoreset onto the start
    assert _np(env.elapsed_steps).tolist() == [0, 6]
    assert np.array_equal(_np(obs)[0], start_obs[0])
    final = _np(env.final_obs)[0]
    assert final[1, 2, 2] == 1.0 and final[1].sum() == 1.0  # the goal under the agent
    assert np.array_equal(final[0, 2], [0.0, 0.0, 0.0, 1.0, 1.0])  # grid row 2, then off-grid
    assert np.array_equal(final[0, :, 2], [1.0, 1.0, 0.0, 1.0, 1.0])  # grid column 2: walls


def test_goal_on_the_last_allowed_step_terminates_without_truncating():
    level = MazeLevel.from_str("A...G")
    env = BatchedMaze(1, size=(1, 5), max_steps=4, view_size=3)
    env.set_levels([level])
    env.reset()
    for _ in range(3):
        env.step(torch.tensor([RIGHT]))
    _, rewards, terminated, truncated, episode_returns = env.step(torch.tensor([RIGHT]))
    assert terminated.tolist() == [True] and truncated.tolist() == [False]
    assert rewards[0] == np.float32(1.0 - 0.9) == episode_returns[0]
    for _ in range(3):
        env.step(torch.tensor([RIGHT]))
    _, rewards, terminated, truncated, episode_returns = env.step(torch.tensor([LEFT]))
    assert terminated.tolist() == [False] and truncated.tolist() == [True]
    assert rewards[0] == 0.0 and episode_returns[0] == 0.0


def test_reset_of_a_subset_leaves_the_other_envs_alone():
    env = BatchedMaze(4, size=5, max_steps=50, seed=1)
    env.reset()
    for _ in range(3):
        env.step(torch.tensor([RIGHT, DOWN, LEFT, UP]))
    pos, steps = _np(env.agent_pos), _np(env.elapsed_steps)
    obs = _np(env.reset(indices=[2]))
    starts = [list(level.start) for level in env.levels()]
    after = _np(env.agent_pos)
    assert after[2].tolist() == starts[2] and _np(env.elapsed_steps)[2] == 0
    keep = [0, 1, 3]
    assert np.array_equal(after[keep], pos[keep])
    assert np.array_equal(_np(env.elapsed_steps)[keep], steps[keep])
    fresh = MazeEnv(size=5, max_steps=50).reset(options={"task": env.levels()[2]})[0]
    assert np.array_equal(obs[2], fresh)


def test_initial_levels_are_seeded_random_levels_of_the_env_size():
    a = BatchedMaze(5, size=7, seed=11).levels()
    assert a == BatchedMaze(5, size=7, seed=11).levels()
    assert a != BatchedMaze(5, size=7, seed=12).levels()
    assert all(level.shape == (7, 7) for level in a)


def test_bad_levels_and_actions_raise_value_error():
    env = BatchedMaze(3, size=5, seed=0)
    env.reset()
    small = generate_level(np.random.default_rng(0), 4)
    good = generate_level(np.random.default_rng(0), 5)
    with pytest.raises(ValueError, match="4x4"):
        env.set_levels([small], indices=[0])
    with pytest.raises(ValueError, match="4x4"):
        env.set_levels([small.encode()], indices=[1])
    with pytest.raises(ValueError, match="levels"):
        env.set_levels([good, good], indices=[0])
    with pytest.raises(ValueError):
        env.set_levels([good], indices=[3])
    with pytest.raises(ValueError):
        env.set_levels(["A.G"], indices=[0])
    for bad in ([0, 1, 4], [0, -1, 2], [0, 1, 2, 3]):
        with pytest.raises(ValueError):
            env.step(torch.tensor(bad))
    with pytest.raises(ValueError):
        env.step(torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError):
        env.step(torch.tensor([True, False, True]))
    env.step(torch.tensor([0, 1, 2], dtype=torch.int32))  # any integer dtype is fine


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError):
        BatchedMaze(2, size=5).step(torch.zeros(2, dtype=torch.long))
