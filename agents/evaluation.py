"""Held-out evaluation of a trained student, independent of the RL library.

The student is any ``act(observations) -> actions`` function over a batch of observations, so
the same code evaluates an SB3 model (``lambda obs: model.predict(obs)[0]``) or a scripted policy.
Episodes run in lockstep over many environment copies: one batched policy call per step instead
of one per environment, which is what makes a 100-episode evaluation take seconds.

Two protocols for the maze:

* :func:`evaluate_held_out`: the hand-drawn held-out suites (solve rate per maze and the mean).
* :func:`cvar_solve_rates`: the de-biased CVaR of SFL's "No Regrets" evaluation on a fixed set
  of random solvable levels (:data:`RANDOM_LEVEL_SUITES`). Every level is played
  ``episodes_per_level`` times under two independent evaluation seeds; levels are ranked by their
  seed-0 solve rate and the reported tail is the mean *seed-1* solve rate of the worst fraction.
  Ranking and measuring on the same episodes would pick the levels that were unlucky by chance
  and understate the tail (the biased value is reported alongside for comparison).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np

from autocurr.agents.tasks import EnvPreset, HeldOutCase

__all__ = [
    "CVAR_FRACTIONS",
    "RANDOM_LEVEL_SUITES",
    "cvar_solve_rates",
    "debiased_cvar",
    "evaluate_held_out",
    "format_cvar_rows",
    "format_eval_rows",
    "level_solve_rates",
    "play_episodes",
    "print_cvar_table",
    "print_eval_table",
    "random_level_suite",
]

Act = Callable[[np.ndarray], np.ndarray]
EnvStart = Callable[[gym.Env], tuple[Any, dict]]

#: Environments played in lockstep at once (bounds memory for large evaluations).
MAX_PARALLEL_ENVS = 256
#: Safety net for environments without a time limit: an episode this long counts as truncated.
MAX_EPISODE_STEPS = 100_000


def play_episodes(
    make_env: Callable[[], gym.Env], starts: Sequence[EnvStart], act: Act
) -> list[tuple[float, int]]:
    """Play one episode per entry of ``starts`` (each resets its env) and return
    ``(return, length)`` per episode, in order."""
    results: list[tuple[float, int]] = []
    envs = [make_env() for _ in range(min(MAX_PARALLEL_ENVS, len(starts)))]
    try:
        for offset in range(0, len(starts), max(len(envs), 1)):
            chunk = starts[offset : offset + len(envs)]
            results.extend(_play_in_lockstep(envs[: len(chunk)], chunk, act))
    finally:
        for env in envs:
            env.close()
    return results


def _play_in_lockstep(
    envs: Sequence[gym.Env], starts: Sequence[EnvStart], act: Act
) -> list[tuple[float, int]]:
    observations = [start(env)[0] for env, start in zip(envs, starts, strict=True)]
    returns = [0.0] * len(envs)
    lengths = [0] * len(envs)
    running = list(range(len(envs)))
    while running:
        actions = act(np.stack([observations[i] for i in running]))
        still_running = []
        for i, action in zip(running, actions, strict=True):
            observation, reward, terminated, truncated, _ = envs[i].step(action)
            returns[i] += float(reward)
            lengths[i] += 1
            if not (terminated or truncated or lengths[i] >= MAX_EPISODE_STEPS):
                observations[i] = observation
                still_running.append(i)
        running = still_running
    return list(zip(returns, lengths, strict=True))


def evaluate_held_out(
    act: Act,
    preset: EnvPreset,
    suite: str | None = None,
    episodes: int = 10,
    seed: int = 0,
    make_env: Callable[[], gym.Env] | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` episodes of every held-out case of ``suite`` and tabulate the results.

    Episode ``j`` (counted over the whole evaluation) resets with seed ``seed + j``. Returns a
    JSON-ready dict: ``suite``, ``env_id``, ``episodes``, ``seed``, ``cases`` (one row per case:
    name, details, ``solve_rate`` or None, ``mean_return``, ``mean_length``) and ``mean`` (the
    unweighted mean over cases).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    suite = preset.default_suite if suite is None else suite
    cases = preset.held_out_cases(suite)
    make_env = make_env or (lambda: gym.make(preset.env_id))
    starts = [
        _seeded_start(case, seed + job)
        for job, case in enumerate(case for case in cases for _ in range(episodes))
    ]
    results = play_episodes(make_env, starts, act)
    rows = [
        _case_row(case, results[k * episodes : (k + 1) * episodes], preset.is_success)
        for k, case in enumerate(cases)
    ]
    return {
        "suite": suite,
        "env_id": preset.env_id,
        "episodes": episodes,
        "seed": seed,
        "cases": rows,
        "mean": _mean_row(rows),
    }


def _seeded_start(case: HeldOutCase, seed: int) -> EnvStart:
    return lambda env: case.start(env, seed)


def _case_row(
    case: HeldOutCase,
    results: Sequence[tuple[float, int]],
    is_success: Callable[[float], bool] | None,
) -> dict[str, Any]:
    returns = [episode_return for episode_return, _ in results]
    solve_rate = None if is_success is None else float(np.mean([is_success(r) for r in returns]))
    return {
        "name": case.name,
        **case.details,
        "solve_rate": solve_rate,
        "mean_return": float(np.mean(returns)),
        "mean_length": float(np.mean([length for _, length in results])),
    }


def _mean_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def mean_of(key: str) -> float | None:
        values = [row[key] for row in rows if row[key] is not None]
        return float(np.mean(values)) if values else None

    return {key: mean_of(key) for key in ("solve_rate", "mean_return", "mean_length")}


def format_eval_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Column headers and string rows (cases, then the mean) of an ``evaluate_held_out`` result."""
    rows = result["cases"]
    detail_keys = [key for key in rows[0] if key not in _METRIC_KEYS] if rows else ["name"]
    show_solve_rate = bool(rows) and rows[0]["solve_rate"] is not None
    metrics = (["solve_rate"] if show_solve_rate else []) + ["mean_return", "mean_length"]
    headers = [key.replace("_", " ") for key in detail_keys + metrics]
    table = [[_cell(row.get(key)) for key in detail_keys + metrics] for row in rows]
    mean = result["mean"]
    table.append(["mean"] + [""] * (len(detail_keys) - 1) + [_cell(mean[key]) for key in metrics])
    return headers, table


_METRIC_KEYS = ("solve_rate", "mean_return", "mean_length")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def print_eval_table(result: dict[str, Any], title: str | None = None) -> None:
    """Print an ``evaluate_held_out`` result as a rich table (plain text without a terminal)."""
    from rich.console import Console
    from rich.table import Table

    headers, rows = format_eval_rows(result)
    title = title or (
        f"held-out {result['suite']} ({result['env_id']}, {result['episodes']} episodes each)"
    )
    table = Table(title=title)
    for position, header in enumerate(headers):
        table.add_column(header, justify="left" if position == 0 else "right")
    *case_rows, mean_row = rows
    for row in case_rows:
        table.add_row(*row)
    table.add_section()
    table.add_row(*mean_row, style="bold")
    Console().print(table)


# ------------------------------------------------------------------------------------ CVaR

#: Fixed random-level sets for :func:`cvar_solve_rates`: suite name -> keyword arguments of
#: :func:`autocurr.envs.maze.random_test_levels` (seed ``RANDOM_TEST_SEED`` and 9 x 9 levels by
#: default). The plain set uses MazeEnv's training wall budget (SFL tests on its training
#: generator); the dense one is the reference's "higher density (25-40 walls)" set.
RANDOM_LEVEL_SUITES: dict[str, dict[str, int]] = {
    "maze-random-1000": {"n": 1000},
    "maze-random-1000-dense": {"n": 1000, "min_walls": 25, "max_walls": 40},
}
#: Tail fractions reported by default: the worst 1%, 10% and 50% of the levels.
CVAR_FRACTIONS = (0.01, 0.1, 0.5)

#: A scripted policy for :func:`cvar_solve_rates`: ``policy(seed)`` returns the batch policy of
#: one evaluation seed (stochastic policies draw from a Generator built from the seed).
PolicyForSeed = Callable[[int], Act]


def random_level_suite(name: str) -> list[Any]:
    """The fixed levels of a :data:`RANDOM_LEVEL_SUITES` entry (ValueError for unknown names)."""
    from autocurr.envs.maze import random_test_levels

    if name not in RANDOM_LEVEL_SUITES:
        raise ValueError(
            f"unknown random-level suite {name!r}; choose from {sorted(RANDOM_LEVEL_SUITES)}"
        )
    return random_test_levels(**RANDOM_LEVEL_SUITES[name])


def level_solve_rates(
    act: Act,
    levels: Sequence[Any],
    episodes_per_level: int,
    make_env: Callable[[], gym.Env] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Play every level ``episodes_per_level`` times; return per-level ``(solve rate, mean
    return)`` arrays, solved meaning return > 0. Levels go in as ``reset(options={"task": ...})``
    (MazeEnv by default); all episodes run in lockstep batches of :data:`MAX_PARALLEL_ENVS`."""
    if episodes_per_level < 1:
        raise ValueError(f"episodes_per_level must be >= 1, got {episodes_per_level}")
    make_env = make_env or _default_maze_env
    starts = [_level_start(level) for level in levels for _ in range(episodes_per_level)]
    returns = np.array([r for r, _ in play_episodes(make_env, starts, act)], dtype=np.float64)
    returns = returns.reshape(len(levels), episodes_per_level)
    return (returns > 0).mean(axis=1), returns.mean(axis=1)


def _default_maze_env() -> gym.Env:
    from autocurr.envs.maze import MazeEnv

    return MazeEnv()


def _level_start(level: Any) -> EnvStart:
    return lambda env: env.reset(options={"task": level})


def debiased_cvar(
    ranking_rates: Sequence[float],
    measured_rates: Sequence[float],
    fractions: Sequence[float] = CVAR_FRACTIONS,
) -> list[dict[str, Any]]:
    """For each fraction ``f``: the ``ceil(f * n)`` levels with the lowest ``ranking_rates``
    (ties broken by level order, a stable sort) and the mean of ``measured_rates`` over them.

    Returns one row per fraction: ``fraction``, ``n_levels``, ``solve_rate`` (the de-biased
    value, from ``measured_rates``) and ``biased_solve_rate`` (the ranking rates themselves).
    """
    ranking = np.asarray(ranking_rates, dtype=np.float64)
    measured = np.asarray(measured_rates, dtype=np.float64)
    if ranking.shape != measured.shape or ranking.ndim != 1 or ranking.size == 0:
        raise ValueError(
            f"need two equally long, non-empty 1-D rate arrays, got {ranking.shape} and "
            f"{measured.shape}"
        )
    order = np.argsort(ranking, kind="stable")
    rows = []
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f"CVaR fractions must be in (0, 1], got {fraction}")
        # round() first so that e.g. 0.07 * 100 = 7.000000000000001 means 7 levels, not 8
        count = max(1, math.ceil(round(fraction * ranking.size, 9)))
        worst = order[:count]
        rows.append(
            {
                "fraction": float(fraction),
                "n_levels": int(count),
                "solve_rate": float(measured[worst].mean()),
                "biased_solve_rate": float(ranking[worst].mean()),
            }
        )
    return rows


def cvar_solve_rates(
    policy: Any,
    levels: Sequence[Any],
    episodes_per_level: int = 10,
    seeds: tuple[int, int] = (0, 1),
    fractions: Sequence[float] = CVAR_FRACTIONS,
    make_env: Callable[[], gym.Env] | None = None,
    deterministic: bool = False,
) -> dict[str, Any]:
    """The de-biased CVaR protocol (see the module docstring) on ``levels``.

    ``policy`` is an SB3-style model (anything with ``predict(obs, deterministic=...)``; its
    action sampling is seeded with ``torch.manual_seed(seed)`` inside a forked torch RNG, so
    the caller's RNG is untouched) or a :data:`PolicyForSeed` factory. Under ``seeds[0]`` every
    level gets a solve rate; levels are ranked ascending by it; the tail rows report the mean
    ``seeds[1]`` solve rate of the worst ``fractions`` (:func:`debiased_cvar`). A greedy policy
    (``deterministic=True``) on this deterministic env plays the same episodes under both seeds,
    so its de-biased and biased values coincide.

    Returns a JSON-ready dict: ``n_levels``, ``episodes_per_level``, ``seeds``,
    ``deterministic``, ``mean`` (``solve_rate`` and ``mean_return`` per seed, keyed
    ``"seed_<s>"``), ``cvar`` (rows of :func:`debiased_cvar`) and ``per_level``
    (``solve_rate_seed_<s>`` lists in level order).
    """
    ranking_seed, measure_seed = seeds
    if ranking_seed == measure_seed:
        raise ValueError(f"the two evaluation seeds must differ, got {seeds}")
    if not levels:
        raise ValueError("no levels to evaluate")
    rates: dict[int, np.ndarray] = {}
    mean_returns: dict[int, np.ndarray] = {}
    for seed in seeds:
        with _policy_for_seed(policy, seed, deterministic) as act:
            rates[seed], mean_returns[seed] = level_solve_rates(
                act, levels, episodes_per_level, make_env
            )
    return {
        "n_levels": len(levels),
        "episodes_per_level": episodes_per_level,
        "seeds": [ranking_seed, measure_seed],
        "deterministic": deterministic,
        "mean": {
            f"seed_{seed}": {
                "solve_rate": float(rates[seed].mean()),
                "mean_return": float(mean_returns[seed].mean()),
            }
            for seed in seeds
        },
        "cvar": debiased_cvar(rates[ranking_seed], rates[measure_seed], fractions),
        "per_level": {f"solve_rate_seed_{seed}": rates[seed].tolist() for seed in seeds},
    }


@contextmanager
def _policy_for_seed(policy: Any, seed: int, deterministic: bool) -> Iterator[Act]:
    if not hasattr(policy, "predict"):
        yield policy(seed)
        return
    import torch  # only SB3 models get here, so torch is installed

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield lambda observations: policy.predict(observations, deterministic=deterministic)[0]


def format_cvar_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Column headers and string rows (the tails, then all levels) of a CVaR result."""
    ranking_seed, measure_seed = result["seeds"]
    headers = [
        "levels",
        "count",
        f"solve rate (seed {measure_seed})",
        f"biased (seed {ranking_seed})",
    ]
    rows = [
        [
            f"worst {row['fraction']:.0%}",
            str(row["n_levels"]),
            f"{row['solve_rate']:.3f}",
            f"{row['biased_solve_rate']:.3f}",
        ]
        for row in result["cvar"]
    ]
    means = result["mean"]
    rows.append(
        [
            "all (mean)",
            str(result["n_levels"]),
            f"{means[f'seed_{measure_seed}']['solve_rate']:.3f}",
            f"{means[f'seed_{ranking_seed}']['solve_rate']:.3f}",
        ]
    )
    return headers, rows


def print_cvar_table(result: dict[str, Any], title: str | None = None) -> None:
    """Print a :func:`cvar_solve_rates` result as a rich table."""
    from rich.console import Console
    from rich.table import Table

    headers, rows = format_cvar_rows(result)
    ranking_seed, _ = result["seeds"]
    title = title or (
        f"de-biased CVaR on {result.get('suite', 'random levels')} "
        f"({result['episodes_per_level']} episodes per level and seed; "
        f"ranked by seed {ranking_seed})"
    )
    table = Table(title=title)
    for position, header in enumerate(headers):
        table.add_column(header, justify="left" if position == 0 else "right")
    *tail_rows, mean_row = rows
    for row in tail_rows:
        table.add_row(*row)
    table.add_section()
    table.add_row(*mean_row, style="bold")
    Console().print(table)
