"""Held-out evaluation of a trained student, independent of the RL library.

The student is any ``act(observations) -> actions`` function over a batch of observations, so
the same code evaluates an SB3 model (``lambda obs: model.predict(obs)[0]``) or a scripted policy.
Episodes run in lockstep over many environment copies: one batched policy call per step instead
of one per environment, which is what makes a 100-episode evaluation take seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from autocurr.agents.tasks import EnvPreset, HeldOutCase

__all__ = ["evaluate_held_out", "format_eval_rows", "play_episodes", "print_eval_table"]

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
