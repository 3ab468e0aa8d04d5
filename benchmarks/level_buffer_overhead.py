"""Per-call cost of PLR's level buffer (replay draw and score insertion) as the buffer grows.

Usage::

    python benchmarks/level_buffer_overhead.py [--sizes 1000 4000 10000 100000] [--calls 20000]
    autocurr bench level-buffer [--quick]     # the same defaults, through the harness

A full buffer of ``K`` levels (random 16-byte keys, random scores) under PLR's defaults (rank
transform, temperature 0.3, staleness 0.3) takes alternating calls, as in training: a replay
draw (``LevelBuffer.sample``), then the insertion of a fresh level with a random score
(``LevelBuffer.insert``: replaces the lowest-scoring entry iff the new score is higher, PLR's
``replace="score"`` default; ``--replace weight`` for the literature's lowest-weight rule), and
every fourth pair also the rescoring of a buffered level. Medians of 3 repeats.

Side by side, in the same run, the per-draw work of the public implementations (dcd,
JaxUED, minimax): rank every score with an argsort, build the staleness distribution, mix,
normalise and draw -- an O(K log K) numpy pass per replayed level, written here from that
description (``naive_draw``).

As a suite of ``autocurr bench`` (``SUITE``, :func:`run`, :func:`report`): one table (K, µs per
draw, insert, rescore and naive draw, speed-up). ``--quick``: K = 1k and 100k, 5,000 calls.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from autocurr.teachers.level_buffer import LevelBuffer

TEMPERATURE = 0.3
STALENESS = 0.3


def naive_draw(scores: np.ndarray, last_seen: np.ndarray, clock: int, rng) -> int:
    """One replay draw recomputed from scratch over all K entries (the O(K log K) baseline)."""
    ranks = np.empty(scores.size)
    ranks[np.argsort(-scores)] = np.arange(1, scores.size + 1)
    weights = (1.0 / ranks) ** (1.0 / TEMPERATURE)
    score_part = weights / weights.sum()
    stale = clock - last_seen
    stale_part = stale / stale.sum() if stale.sum() > 0 else np.full(scores.size, 1 / scores.size)
    probabilities = (1 - STALENESS) * score_part + STALENESS * stale_part
    return int(rng.choice(scores.size, p=probabilities))


def time_buffer(size: int, calls: int, seed: int, replace: str) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    buffer = LevelBuffer(size, temperature=TEMPERATURE, staleness=STALENESS, replace=replace)
    for i in range(size):
        buffer.insert(i.to_bytes(16, "little"), float(rng.random()))
    new_scores = rng.random(calls)
    samples, inserts, rescores = [], [], []
    for repeat in range(3):
        t_sample = t_insert = t_rescore = 0.0
        for j in range(calls):
            t0 = time.perf_counter()
            level = buffer.sample(rng)
            t1 = time.perf_counter()
            buffer.insert((size + repeat * calls + j).to_bytes(16, "little"), new_scores[j])
            t2 = time.perf_counter()
            t_sample += t1 - t0
            t_insert += t2 - t1
            if j % 4 == 0 and level in buffer:
                t3 = time.perf_counter()
                buffer.update(level, float(new_scores[j]))
                t_rescore += time.perf_counter() - t3
        samples.append(t_sample / calls)
        inserts.append(t_insert / calls)
        rescores.append(t_rescore / (calls // 4))
    return float(np.median(samples)), float(np.median(inserts)), float(np.median(rescores))


def time_naive(size: int, calls: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    scores, last_seen = rng.random(size), rng.integers(0, size, size)
    calls = max(20, min(calls, int(2e7 // size)))  # an O(K log K) pass: fewer calls at large K
    times, clock = [], size
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            picked = naive_draw(scores, last_seen, clock, rng)
            last_seen[picked] = clock
            clock += 1
        times.append((time.perf_counter() - started) / calls)
    return float(np.median(times))


SUITE = "level-buffer"
DESCRIPTION = (
    "µs per replay draw / insert / rescore of PLR's level buffer at K = 1k..100k levels, against "
    "the O(K log K) per-draw recomputation of dcd/JaxUED/minimax"
)
DEFAULT_SIZES = (1_000, 4_000, 10_000, 100_000)
DEFAULT_CALLS = 20_000
#: ``--quick``: the smallest and the largest buffer, fewer calls.
QUICK_SIZES = (1_000, 100_000)
QUICK_CALLS = 5_000


def measure(sizes, calls: int, seed: int = 0, replace: str = "score") -> dict[str, Any]:
    """The suite's results: one row per buffer size (µs per call and the speed-up)."""
    rows = []
    for size in sizes:
        sample, insert, rescore = time_buffer(size, calls, seed, replace)
        naive = time_naive(size, calls, seed)
        rows.append([size, sample * 1e6, insert * 1e6, rescore * 1e6, naive * 1e6, naive / sample])
    columns = ["buffer_size", "draw_us", "insert_us", "rescore_us", "naive_draw_us", "speedup"]
    return {
        "tables": {"level_buffer": {"columns": columns, "rows": rows}},
        "settings": {
            "sizes": list(sizes),
            "calls": calls,
            "seed": seed,
            "replace": replace,
            "temperature": TEMPERATURE,
            "staleness": STALENESS,
            "repeats": 3,
        },
    }


def run(*, seeds: int | None = None, quick: bool = False, out_dir: Path) -> dict[str, Any]:
    """The suite (PLR's defaults, ``replace="score"``). A timing benchmark: one seed (``seeds``
    is recorded, not used); medians of 3 repeats."""
    sizes, calls = (QUICK_SIZES, QUICK_CALLS) if quick else (DEFAULT_SIZES, DEFAULT_CALLS)
    results = measure(sizes, calls)
    results["settings"]["seeds_requested"] = seeds
    return results


def report(results: dict[str, Any]) -> str:
    settings = results["settings"]
    lines = [
        "| buffer size K | replay draw | insert | rescore | O(K log K) draw (dcd/JaxUED/minimax "
        "style) | × |",
        "|---|---|---|---|---|---|",
    ]
    for size, draw, insert, rescore, naive, speedup in results["tables"]["level_buffer"]["rows"]:
        lines.append(
            f"| {size:,} | {draw:.1f} | {insert:.1f} | {rescore:.1f} | {naive:,.0f} | "
            f"{speedup:,.0f} |"
        )
    lines += [
        "",
        f"µs per call; a full buffer of K random levels under PLR's defaults (rank, β "
        f"{settings['temperature']:g}, staleness {settings['staleness']:g}, victim rule "
        f"`{settings['replace']}`); {settings['calls']:,} draw/insert pairs plus a rescore every "
        f"fourth pair, median of {settings['repeats']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--replace",
        choices=("score", "weight"),
        default="score",
        help="victim rule (PLR's default 'score' is O(log K); 'weight' is the literature's "
        "exact lowest-replay-weight search, O(K log K) per insertion into a full buffer)",
    )
    args = parser.parse_args(argv)
    print(report(measure(args.sizes, args.calls, args.seed, args.replace)))
    print(
        f"Date: {datetime.date.today()}; Python {platform.python_version()}, numpy "
        f"{np.__version__}; {platform.platform()}; command: "
        f"`python {' '.join([sys.argv[0], *(argv or sys.argv[1:])])}`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
