"""Levels spaces (maze) and the PLR level buffer."""

import numpy as np
import pytest

from autocurr.envs.maze import MazeLevel, empty_room, is_solvable, maze_levels, mutate_level
from autocurr.spaces import Levels, space_from_config
from autocurr.teachers.level_buffer import LevelBuffer

# -- Levels ------------------------------------------------------------------------------------


def test_maze_levels_sample_and_canonical_round_trip():
    space = maze_levels(size=9, max_walls=20)
    assert not space.finite
    rng = np.random.default_rng(0)
    for _ in range(20):
        task = space.sample(rng)
        assert isinstance(task, bytes) and len(task) == 13 + (81 + 7) // 8
        hash(task)
        level = space.decode(task)
        assert isinstance(level, MazeLevel) and is_solvable(level)
        assert space.canonical(task) == task
        assert space.canonical(level) == task
        assert space.canonical(bytearray(task)) == task
        assert space.contains(task) and space.contains(level)
    assert not space.contains(b"junk") and not space.contains(3) and not space.contains(None)
    with pytest.raises(ValueError):
        space.canonical(b"junk")


def test_maze_levels_config_round_trip_and_equality():
    space = maze_levels(size=(7, 9), max_walls=5, n_edits=3, start="empty")
    again = space_from_config(space.to_config())
    assert again == space and hash(again) == hash(space)
    assert again != maze_levels()
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    assert [space.sample(rng_a) for _ in range(5)] == [again.sample(rng_b) for _ in range(5)]


def _diff_count(a: MazeLevel, b: MazeLevel) -> int:
    walls = sum(x != y for x, y in zip(a.walls, b.walls, strict=True))
    return walls + (a.start != b.start) + (a.goal != b.goal)


@pytest.mark.parametrize("solvable", [False, True])
def test_mutator_changes_at_most_k_cells(solvable):
    space = maze_levels(n_edits=3, solvable_mutations=solvable)
    rng = np.random.default_rng(2)
    changed = 0
    for _ in range(50):
        parent = space.sample(rng)
        child = space.mutate(rng, parent)
        a, b = space.decode(parent), space.decode(child)
        assert _diff_count(a, b) <= 3  # each edit flips a cell or moves start/goal once
        changed += child != parent
        if solvable:
            assert is_solvable(b)
    assert changed > 40


def test_empty_room_generator():
    space = maze_levels(start="empty")
    rng = np.random.default_rng(3)
    for _ in range(10):
        level = space.decode(space.sample(rng))
        assert level.n_walls == 0 and level.start != level.goal
    assert empty_room(np.random.default_rng(0), 5).shape == (5, 5)


def test_levels_with_module_functions_and_errors():
    space = Levels(empty_room, mutator=mutate_level, encode=MazeLevel.encode,
                   decode=MazeLevel.decode)
    config = space.to_config()
    assert config["generator"] == "autocurr.envs.maze:empty_room"
    assert space_from_config(config) == space
    with pytest.raises(ValueError, match="importable"):
        Levels(lambda rng: b"x").to_config()
    with pytest.raises(ValueError, match="no mutator"):
        Levels(empty_room, encode=MazeLevel.encode, decode=MazeLevel.decode).mutate(
            np.random.default_rng(0), space.sample(np.random.default_rng(0)))


# -- LevelBuffer: replacement rule --------------------------------------------------------------


def test_fill_then_replace_lowest_only_if_higher():
    buf = LevelBuffer(3, staleness=0.0, replace="score")
    for name, score in ((b"a", 0.5), (b"b", 0.2), (b"c", 0.9)):
        assert buf.insert(name, score)
    assert buf.full and buf.levels() == [b"a", b"b", b"c"]
    assert not buf.insert(b"d", 0.1)  # lower than the lowest: rejected
    assert not buf.insert(b"e", 0.2)  # tie with the lowest: incumbent kept (strict >)
    assert b"d" not in buf and buf.levels() == [b"a", b"b", b"c"]
    assert buf.insert(b"f", 0.3, parent=b"b", n_mutations=2)  # replaces b (lowest score)
    assert buf.levels() == [b"a", b"f", b"c"]
    assert buf.entry(b"f")["parent"] == b"b" and buf.entry(b"f")["n_mutations"] == 2
    assert len(buf) == 3


def test_duplicates_update_in_place():
    buf = LevelBuffer(2, staleness=0.0)
    buf.insert(b"a", 0.5, episode_return=0.3)
    buf.insert(b"b", 0.1)
    buf.insert(b"a", 0.05, episode_return=0.2)  # duplicate: score overwritten, best return kept
    entry = buf.entry(b"a")
    assert entry["score"] == 0.05 and entry["best_return"] == 0.3 and entry["seen"] == 2
    assert buf.levels() == [b"a", b"b"]
    buf.update(b"b", 0.7, episode_return=0.9)
    assert buf.entry(b"b")["best_return"] == 0.9
    with pytest.raises(KeyError):
        buf.update(b"zzz", 1.0)


def test_replace_by_weight_uses_staleness():
    # rank transform with staleness: the fresh low-score level has less weight than a stale one
    buf = LevelBuffer(3, temperature=1.0, staleness=0.5)
    buf.insert(b"a", 0.3)
    buf.tick(10)
    buf.insert(b"b", 0.2)
    buf.insert(b"c", 0.1)
    p = buf.probabilities()
    victim = int(np.argmin(p))
    assert victim == 2  # c: lowest rank and staleness 0
    buf.tick(5)
    assert buf.insert(b"d", 0.15)
    assert buf.levels() == [b"a", b"b", b"d"]


def test_invalid_inputs_change_nothing():
    buf = LevelBuffer(3)
    buf.insert(b"a", 1.0)
    before = buf.state_dict()
    for bad in (float("nan"), float("inf"), -float("inf"), "1", True):
        with pytest.raises(ValueError):
            buf.insert(b"b", bad)
        with pytest.raises(ValueError):
            buf.update(b"a", bad)
    with pytest.raises(ValueError):
        buf.insert(b"b", 1.0, episode_return=float("nan"))
    with pytest.raises(ValueError):
        buf.insert([1, 2], 1.0)
    assert buf.state_dict() == before
    with pytest.raises(ValueError):
        LevelBuffer(0)
    with pytest.raises(ValueError):
        LevelBuffer(3, transform="bogus")
    with pytest.raises(ValueError):
        LevelBuffer(3, temperature=0.0)
    with pytest.raises(ValueError):
        LevelBuffer(3).sample(np.random.default_rng(0))


# -- LevelBuffer: distribution ------------------------------------------------------------------


def test_probabilities_by_hand_on_three_levels():
    buf = LevelBuffer(3, transform="rank", temperature=1.0, staleness=0.3)
    buf.insert(b"a", 0.2)  # stamp 0
    buf.tick(2)
    buf.insert(b"b", 0.9)  # stamp 2
    buf.insert(b"c", 0.5)  # stamp 2
    buf.tick(2)  # clock 4: staleness 4, 2, 2
    ranks = np.array([3, 1, 2], dtype=float)
    p_score = (1 / ranks) / (1 / ranks).sum()
    p_stale = np.array([4, 2, 2]) / 8
    np.testing.assert_allclose(buf.probabilities(), 0.7 * p_score + 0.3 * p_stale)

    power = LevelBuffer(3, transform="power", temperature=0.5, staleness=0.0)
    for name, score in ((b"a", 0.2), (b"b", -1.0), (b"c", 0.5)):
        power.insert(name, score)
    h = (np.array([0.2, 0.0, 0.5]) + 1e-3) ** 2
    np.testing.assert_allclose(power.probabilities(), h / h.sum())

    greedy = LevelBuffer(3, transform="eps-greedy", epsilon=0.3, staleness=0.0)
    for name, score in ((b"a", 0.2), (b"b", 0.9), (b"c", 0.9)):
        greedy.insert(name, score)
    np.testing.assert_allclose(greedy.probabilities(), [0.1, 0.8, 0.1])  # tie: lower slot

    soft = LevelBuffer(3, transform="softmax", temperature=2.0, staleness=0.0)
    for name, score in ((b"a", 0.0), (b"b", 2.0), (b"c", 4.0)):
        soft.insert(name, score)
    e = np.exp(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(soft.probabilities(), e / e.sum())


def _build(transform, temperature, staleness, n=40, seed=5):
    rng = np.random.default_rng(seed)
    buf = LevelBuffer(n, transform=transform, temperature=temperature, staleness=staleness)
    for i in range(n):
        buf.insert(i.to_bytes(2, "little"), float(rng.normal()))
        buf.tick(int(rng.integers(3)))
    return buf


@pytest.mark.parametrize("transform", ["rank", "power", "softmax", "eps-greedy"])
@pytest.mark.parametrize("staleness", [0.1, 0.3])
@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_sampling_frequencies_match_probabilities(transform, staleness, temperature):
    # Each draw changes staleness, so every draw starts from the same restored state: the
    # empirical first-draw distribution (shared rng, fixed seed) must match probabilities().
    buf = _build(transform, temperature, staleness)
    state = buf.state_dict()
    expected = buf.probabilities()
    rng = np.random.default_rng(11)
    draws = 6000
    slots = {level: i for i, level in enumerate(buf.levels())}
    counts = np.zeros(len(expected))
    for _ in range(draws):
        counts[slots[buf.sample(rng)]] += 1
        buf.load_state_dict(state)
    mask = expected * draws >= 5
    chi2 = (((counts - expected * draws) ** 2) / (expected * draws))[mask].sum()
    dof = max(1, int(mask.sum()) - 1)
    assert chi2 < dof + 5 * np.sqrt(2 * dof), (chi2, dof)
    rare = ~mask
    assert counts[rare].sum() <= max(10.0, 3 * expected[rare].sum() * draws)


def test_staleness_bookkeeping():
    buf = LevelBuffer(4, staleness=1.0)
    for i in range(4):
        buf.insert(bytes([i]), 0.0)
    rng = np.random.default_rng(0)
    level = buf.sample(rng)  # all staleness 0: uniform fallback
    entry = buf.entry(level)
    assert buf.clock == 1 and entry["staleness"] == 0
    p = buf.probabilities()
    assert p[entry["slot"]] == 0.0 and np.isclose(p.sum(), 1.0)


def test_state_round_trip_gives_identical_future():
    for transform in ("rank", "power", "softmax", "eps-greedy"):
        a = _build(transform, 0.3, 0.3, n=30)
        b = LevelBuffer(30, transform=transform, temperature=0.3, staleness=0.3)
        b.load_state_dict(a.state_dict())
        rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
        for step in range(300):
            assert a.sample(rng_a) == b.sample(rng_b)
            new = (1000 + step).to_bytes(2, "little")
            score = float(rng_a.normal())
            rng_b.normal()
            assert a.insert(new, score) == b.insert(new, score)
        assert a.state_dict() == b.state_dict()
        np.testing.assert_array_equal(a.probabilities(), b.probabilities())
    with pytest.raises(ValueError):
        LevelBuffer(30, transform="rank", temperature=1.0).load_state_dict(a.state_dict())


def test_large_buffer_sorted_structure_consistent():
    # exercises block splits and merges of the order-statistic list
    rng = np.random.default_rng(4)
    buf = LevelBuffer(2000, staleness=0.0, temperature=1.0, replace="score")
    for i in range(3000):
        buf.insert(i.to_bytes(2, "little"), float(rng.normal()))
    for _ in range(2000):
        level = buf.levels()[int(rng.integers(len(buf)))]
        buf.update(level, float(rng.normal()))
    keys = [buf._sorted.select(k) for k in range(len(buf))]
    assert keys == sorted((-s, i) for i, s in enumerate(buf._scores))
    assert buf._sorted.last() == keys[-1]


def test_maze_env_plays_encoded_levels_from_a_levels_space():
    import gymnasium as gym

    from autocurr.envs.maze import maze_levels

    space = maze_levels()
    task = space.sample(np.random.default_rng(0))
    env = gym.make("autocurr/Maze-v0")
    env.reset(seed=0, options={"task": task})
    assert env.unwrapped.level == space.decode(task)
