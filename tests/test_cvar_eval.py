"""The de-biased CVaR maze protocol: the fixed random level set, the tail arithmetic, scripted
policies end to end, and ``autocurr eval --suite maze-random-1000``."""

from __future__ import annotations

import hashlib
import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from autocurr.agents.evaluation import (
    RANDOM_LEVEL_SUITES,
    cvar_solve_rates,
    debiased_cvar,
    format_cvar_rows,
    random_level_suite,
)
from autocurr.envs.maze import MazeEnv, MazeLevel, is_solvable, random_test_levels

#: sha256 of the concatenated ``encode()`` bytes of ``random_test_levels()``: pins the published
#: test set (fails if numpy's Generator stream or the level generator ever changes).
DEFAULT_SET_DIGEST = "1d41e6f74fb09004b27073557ee1f88ef29457cec1441a3b9cbc5dd740b48578"

GOAL_RIGHT = MazeLevel.from_str("A..G")
GOAL_LEFT = MazeLevel.from_str("G..A")
UP, RIGHT, DOWN, LEFT = range(4)


def digest(levels: list[MazeLevel]) -> str:
    return hashlib.sha256(b"".join(level.encode() for level in levels)).hexdigest()


# ------------------------------------------------------------------------------------ level set


def test_default_random_set_is_fixed_distinct_and_solvable():
    levels = random_test_levels()
    assert len(levels) == 1000 and len(set(levels)) == 1000
    assert digest(levels) == digest(random_test_levels()) == DEFAULT_SET_DIGEST
    assert all(is_solvable(level) for level in levels)
    assert all(level.shape == (9, 9) and level.n_walls <= 20 for level in levels)
    assert random_level_suite("maze-random-1000") == levels


def test_dense_set_and_other_seeds_differ():
    dense = random_test_levels(n=200, min_walls=25, max_walls=40)
    assert all(is_solvable(level) and level.n_walls <= 40 for level in dense)
    assert np.mean([level.n_walls for level in dense]) > 20
    assert random_test_levels(n=50, seed=1) != random_test_levels(n=50)
    assert random_test_levels(n=50) == random_test_levels()[:50]
    assert set(RANDOM_LEVEL_SUITES) == {"maze-random-1000", "maze-random-1000-dense"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": -1}, "n must be"), ({"min_walls": 5, "max_walls": 4}, "min_walls <= max_walls")],
)
def test_random_set_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_test_levels(**kwargs)


# ------------------------------------------------------------------------------------ arithmetic


def test_debiased_cvar_ranks_on_one_seed_and_measures_on_the_other():
    ranking = [0.5, 0.0, 1.0, 0.2, 0.0, 0.9, 0.7, 0.2, 1.0, 0.4]
    measured = [0.6, 0.3, 1.0, 0.1, 0.0, 0.8, 0.7, 0.5, 0.9, 0.4]
    # ascending, ties by index: levels 1, 4, 3, 7, 9, 0, 6, 5, 2, 8
    rows = debiased_cvar(ranking, measured, fractions=(0.01, 0.1, 0.2, 0.5, 1.0))
    assert [row["n_levels"] for row in rows] == [1, 1, 2, 5, 10]
    assert [row["solve_rate"] for row in rows] == pytest.approx([0.3, 0.3, 0.15, 0.26, 0.53])
    assert [row["biased_solve_rate"] for row in rows] == pytest.approx([0, 0, 0, 0.16, 0.49])


def test_debiased_cvar_breaks_ties_by_level_order_and_counts_exactly():
    rows = debiased_cvar([1.0] * 100, list(np.arange(100) / 100), fractions=(0.07, 0.5))
    assert [row["n_levels"] for row in rows] == [7, 50]  # 0.07 * 100 is 7.000000000000001
    assert rows[0]["solve_rate"] == pytest.approx(np.mean(np.arange(7) / 100))


@pytest.mark.parametrize(
    ("ranking", "measured", "fractions", "message"),
    [
        ([0.1, 0.2], [0.1], (0.1,), "equally long"),
        ([], [], (0.1,), "non-empty"),
        ([0.1], [0.1], (0.0,), "fractions must be in"),
        ([0.1], [0.1], (1.5,), "fractions must be in"),
    ],
)
def test_debiased_cvar_rejects_bad_input(ranking, measured, fractions, message):
    with pytest.raises(ValueError, match=message):
        debiased_cvar(ranking, measured, fractions)


# ------------------------------------------------------------------------------------ rollouts


def constant_policy(action: int):
    return lambda observations: np.full(len(observations), action)


def seed_dependent_policy(seed: int):
    """Seed 0 always moves right, any other seed always left."""
    return constant_policy(RIGHT if seed == 0 else LEFT)


def random_policy(seed: int):
    rng = np.random.default_rng(seed)
    return lambda observations: rng.integers(0, 4, size=len(observations))


def oracle_policy(seed: int):
    """Follows a BFS shortest path; needs a view that shows the whole grid."""
    return lambda observations: np.array([oracle_action(obs) for obs in observations])


def oracle_action(observation: np.ndarray) -> int:
    walls, goal = observation[0] > 0.5, observation[1] > 0.5
    size = walls.shape[0]
    centre = (size // 2, size // 2)
    distance = np.full(walls.shape, -1)
    goal_cell = tuple(np.argwhere(goal)[0])
    distance[goal_cell] = 0
    queue = deque([goal_cell])
    moves = ((-1, 0), (0, 1), (1, 0), (0, -1))  # the env's action order
    while queue:
        r, c = queue.popleft()
        for dr, dc in moves:
            nr, nc = r + dr, c + dc
            inside = 0 <= nr < size and 0 <= nc < size
            if inside and not walls[nr, nc] and distance[nr, nc] < 0:
                distance[nr, nc] = distance[r, c] + 1
                queue.append((nr, nc))
    here = distance[centre]
    for action, (dr, dc) in enumerate(moves):
        r, c = centre[0] + dr, centre[1] + dc
        if 0 <= r < size and 0 <= c < size and distance[r, c] == here - 1 >= 0:
            return action
    raise AssertionError("oracle found no path")


def test_de_biasing_through_rollouts_with_a_seed_dependent_policy():
    levels = [GOAL_RIGHT, GOAL_LEFT] * 5  # seed 0 solves the even levels, seed 1 the odd ones
    result = cvar_solve_rates(seed_dependent_policy, levels, episodes_per_level=2)
    assert result["per_level"]["solve_rate_seed_0"] == [1.0, 0.0] * 5
    assert result["per_level"]["solve_rate_seed_1"] == [0.0, 1.0] * 5
    tails = {row["fraction"]: row for row in result["cvar"]}
    assert tails[0.1]["n_levels"] == 1 and tails[0.5]["n_levels"] == 5
    assert tails[0.5]["solve_rate"] == 1.0 and tails[0.5]["biased_solve_rate"] == 0.0
    assert result["mean"]["seed_0"]["solve_rate"] == result["mean"]["seed_1"]["solve_rate"] == 0.5
    # reward 1 - 0.9 * 3 / 100 on the solved half
    assert result["mean"]["seed_0"]["mean_return"] == pytest.approx(0.5 * (1 - 0.027))
    json.dumps(result)  # JSON-ready


def test_a_policy_that_solves_only_even_levels_has_zero_tails():
    levels = [GOAL_RIGHT, GOAL_LEFT] * 5
    result = cvar_solve_rates(lambda seed: constant_policy(RIGHT), levels, episodes_per_level=1)
    assert [row["solve_rate"] for row in result["cvar"]] == [0.0, 0.0, 0.0]
    assert result["mean"]["seed_1"]["solve_rate"] == 0.5
    headers, rows = format_cvar_rows(result)
    assert headers[2] == "solve rate (seed 1)"
    assert [row[0] for row in rows] == ["worst 1%", "worst 10%", "worst 50%", "all (mean)"]


def test_oracle_solves_every_random_level():
    levels = random_test_levels(n=40)
    result = cvar_solve_rates(
        oracle_policy, levels, episodes_per_level=1, make_env=lambda: MazeEnv(view_size=17)
    )
    assert all(row["solve_rate"] == 1.0 for row in result["cvar"])
    assert result["mean"]["seed_1"]["solve_rate"] == 1.0


def test_random_policy_is_reproducible_per_seed_and_seeds_are_independent():
    levels = random_test_levels(n=30)

    def run():
        return cvar_solve_rates(
            random_policy, levels, episodes_per_level=4, make_env=lambda: MazeEnv(max_steps=20)
        )

    first, second = run(), run()
    assert first == second
    seed_0, seed_1 = (first["per_level"][f"solve_rate_seed_{s}"] for s in (0, 1))
    assert seed_0 != seed_1
    assert all(rate in (0.0, 0.25, 0.5, 0.75, 1.0) for rate in seed_0 + seed_1)


def test_cvar_rejects_equal_seeds_and_empty_levels():
    with pytest.raises(ValueError, match="must differ"):
        cvar_solve_rates(random_policy, [GOAL_RIGHT], seeds=(3, 3))
    with pytest.raises(ValueError, match="no levels"):
        cvar_solve_rates(random_policy, [])
    with pytest.raises(ValueError, match="episodes_per_level"):
        cvar_solve_rates(random_policy, [GOAL_RIGHT], episodes_per_level=0)


# ------------------------------------------------------------------------------------ CLI


def write_untrained_run(run_dir: Path, env_kwargs: dict) -> Path:
    """A run directory with an untrained PPO model and the files ``autocurr eval`` reads."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    run_dir.mkdir(parents=True)
    env = gym.make("autocurr/Maze-v0", **env_kwargs)
    PPO("MlpPolicy", env, n_steps=64, batch_size=64, device="cpu", seed=0).save(
        run_dir / "model.zip"
    )
    config = {"env_id": "autocurr/Maze-v0", "env_kwargs": env_kwargs}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "summary.json").write_text(json.dumps({"held_out": None}))
    return run_dir


def test_cli_prints_the_table_and_records_it_in_the_summary(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    from autocurr.cli import main

    run = write_untrained_run(tmp_path / "run", {"max_steps": 8})
    argv = ["eval", "--checkpoint", str(run), "--suite", "maze-random-1000", "--episodes", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "worst 10%" in out and "de-biased CVaR" in out
    result = json.loads((run / "eval_maze-random-1000.json").read_text())
    assert result["n_levels"] == 1000 and result["seeds"] == [0, 1]
    assert len(result["per_level"]["solve_rate_seed_1"]) == 1000
    summary = json.loads((run / "summary.json").read_text())
    recorded = summary["cvar"]["maze-random-1000"]
    assert recorded["cvar"] == result["cvar"] and "per_level" not in recorded
    assert summary["held_out"] is None  # the rest of the summary is kept

    checkpoint = run / "checkpoints" / "5_steps"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.zip").write_bytes((run / "model.zip").read_bytes())
    argv[2] = str(checkpoint)
    assert main([*argv, "--seed", "4"]) == 0
    assert json.loads((checkpoint / "eval_maze-random-1000.json").read_text())["seeds"] == [4, 5]
    assert json.loads((run / "summary.json").read_text()) == summary  # checkpoints: own file only


@pytest.mark.parametrize(
    ("env_id", "suite", "message"),
    [
        ("CartPole-v1", "maze-random-1000", "needs a autocurr/Maze-v0 run"),
        ("autocurr/Maze-v0", "maze-random-7", "unknown random-level suite"),
    ],
)
def test_cli_rejects_cvar_on_wrong_runs(tmp_path, capsys, env_id, suite, message):
    pytest.importorskip("stable_baselines3")
    from autocurr.cli import main

    (tmp_path / "model.zip").write_bytes(b"never loaded")
    (tmp_path / "config.json").write_text(json.dumps({"env_id": env_id}))
    assert main(["eval", "--checkpoint", str(tmp_path), "--suite", suite]) == 2
    assert message in capsys.readouterr().err
