"""Training plots from a :class:`~autocurr.integrations.sb3.CurriculumCallback` history.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so plotting never opens a
window, needs no display, and leaves the user's global matplotlib backend alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_learning_curve", "plot_task_distribution", "smooth"]

History = Sequence[dict[str, Any]]


def _new_figure(n_rows: int, title: str) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3 * n_rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, 1, sharex=True, squeeze=False)[:, 0]
    figure.suptitle(title)
    return figure, list(axes)


def smooth(values: Sequence[float | None], weights: Sequence[float], window: int) -> np.ndarray:
    """Trailing mean over ``window`` rollouts, weighted by ``weights`` (episode counts) so that a
    rollout with two episodes does not count as much as one with fifty; NaN where no data."""
    x = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    w = np.where(np.isnan(x), 0.0, np.asarray(weights, dtype=np.float64))
    weighted = np.cumsum(np.nan_to_num(x) * w)
    total = np.cumsum(w)
    start = np.maximum(np.arange(x.size) - window, -1)
    window_sum = weighted - np.where(start >= 0, weighted[start.clip(0)], 0.0)
    window_weight = total - np.where(start >= 0, total[start.clip(0)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(window_weight > 0, window_sum / window_weight, np.nan)


def _window(history: History) -> int:
    return max(1, len(history) // 25)


def plot_learning_curve(history: History, path: str | Path, title: str) -> Path:
    """Training success rate (when known) and mean episode return against timesteps."""
    steps = [entry["timesteps"] for entry in history]
    counts = [entry["n_episodes"] for entry in history]
    metrics = [
        (key, label)
        for key, label in (("success_rate", "success rate"), ("mean_return", "mean return"))
        if any(entry[key] is not None for entry in history)
    ]
    figure, axes = _new_figure(max(len(metrics), 1), title)
    for axis, (key, label) in zip(axes, metrics, strict=False):
        values = [entry[key] for entry in history]
        raw = [np.nan if v is None else v for v in values]
        axis.plot(steps, raw, color="tab:blue", alpha=0.25, linewidth=0.8, label="per rollout")
        axis.plot(
            steps,
            smooth(values, counts, _window(history)),
            color="tab:blue",
            label=f"smoothed ({_window(history)} rollouts)",
        )
        axis.set_ylabel(f"training {label}")
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right", fontsize="small")
    axes[-1].set_xlabel("timesteps")
    figure.savefig(path, dpi=100)
    return Path(path)


def plot_task_distribution(
    history: History, task_labels: Sequence[str], path: str | Path, title: str
) -> Path:
    """Teacher probabilities over time (stacked; episode shares if the teacher has none) and
    each task's smoothed mean signal."""
    steps = np.array([entry["timesteps"] for entry in history])
    shares = _task_shares(history, len(task_labels))
    figure, (top, bottom) = _new_figure(2, title)
    colors = [_task_color(i, len(task_labels)) for i in range(len(task_labels))]
    top.stackplot(steps, shares.T, labels=task_labels, colors=colors, alpha=0.9)
    has_probabilities = all(entry["probabilities"] is not None for entry in history)
    top.set_ylabel("teacher probability" if has_probabilities else "share of episodes")
    top.set_ylim(0, 1)
    top.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small", reverse=True)
    for task, label in enumerate(task_labels):
        values = [entry["mean_signal"][task] for entry in history]
        weights = [entry["episodes"][task] for entry in history]
        bottom.plot(
            steps, smooth(values, weights, _window(history)), color=colors[task], label=label
        )
    bottom.set_ylabel("mean signal (smoothed)")
    bottom.set_xlabel("timesteps")
    bottom.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    return Path(path)


def _task_shares(history: History, n_tasks: int) -> np.ndarray:
    if history and all(entry["probabilities"] is not None for entry in history):
        return np.array([entry["probabilities"] for entry in history], dtype=np.float64)
    counts = np.array([entry["episodes"] for entry in history], dtype=np.float64)
    counts = counts.reshape(len(history), n_tasks)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _task_color(task: int, n_tasks: int) -> Any:
    from matplotlib import colormaps

    # Tasks are ordered by difficulty in the presets, so a sequential colormap reads as "harder".
    return colormaps["viridis"](task / max(n_tasks - 1, 1))
