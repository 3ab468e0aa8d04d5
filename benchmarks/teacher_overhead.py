"""Per-call cost of teacher.sample() and teacher.update() as the number of tasks N grows.

Usage::

    python benchmarks/teacher_overhead.py [--sizes 1000 10000 100000 1000000] [--calls 20000]
        [--teachers NAME ...] [--no-peers]
    autocurr bench teacher-overhead [--quick]     # the same defaults, through the harness

As a suite of ``autocurr bench`` (``SUITE``, :func:`run`, :func:`report`) the results hold one
long-format table (library, teacher, N, µs per sample and per update) and the verdict on the
target (every discrete teacher at N = 100k: <= 20 µs per call). ``--quick``: N = 1k and 100k,
2,000 calls per cell (about 20 s).

Calls alternate sample/update as in training (each update invalidates whatever a teacher
caches); each figure is the median of 3 repeats. Every discrete teacher is measured (the ones
that only handle Box or open-ended Levels spaces are skipped). The peer library Syllabus (PyPI
``syllabus-rl``, installed by the ``bench`` extra) is measured in the same run, in a subprocess
because importing it calls ``np.seterr(all="raise")`` for the whole process. Its ``sample()`` is
O(N) per call, so its rows use a time budget instead of a fixed call count. Prints a markdown
table with the growth from the smallest to the largest N, then date, versions and machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import autocurr
from autocurr import available, make_teacher
from autocurr.spaces import Discrete

#: Hyperparameters a teacher needs at size ``n`` (built-in defaults otherwise).
SIZED_HYPERPARAMETERS: dict[str, Callable[[int], dict]] = {
    # ten stages of n/10 tasks: the stage sampler, not the rule parser, is what scales with n
    "sequential": lambda n: {
        "stages": [list(range(i * n // 10, (i + 1) * n // 10)) for i in range(10)],
        "conditions": ["episodes>=1000"] * 9,
    },
}
#: Per-call seconds allowed to a peer measurement (its sample() is O(N)).
PEER_BUDGET_S = 3.0


def time_calls(sample, update, calls: int, rng: np.random.Generator, budget_s: float | None = None):
    """Median seconds per sample() and per update() over 3 repeats of up to ``calls`` pairs."""
    signals = rng.random(calls).tolist()
    sample_times, update_times = [], []
    for _ in range(3):
        sample_total = update_total = 0.0
        done = 0
        for signal in signals:
            t0 = time.perf_counter()
            task = sample()
            t1 = time.perf_counter()
            update(task, signal)
            t2 = time.perf_counter()
            sample_total += t1 - t0
            update_total += t2 - t1
            done += 1
            if budget_s is not None and sample_total + update_total > budget_s / 3:
                break
        sample_times.append(sample_total / done)
        update_times.append(update_total / done)
    return float(np.median(sample_times)), float(np.median(update_times))


def measure_autocurr(name: str, n: int, calls: int, seed: int) -> dict | None:
    hyperparameters = SIZED_HYPERPARAMETERS.get(name, lambda n: {})(n)
    t0 = time.perf_counter()
    try:
        teacher = make_teacher(name, Discrete(n), seed=seed, **hyperparameters)
    except ValueError as error:
        if "space" in str(error) and "needs" in str(error):
            return None  # a teacher of Box or open-ended Levels spaces only
        raise
    build_s = time.perf_counter() - t0
    sample_s, update_s = time_calls(
        teacher.sample, teacher.update, calls, np.random.default_rng(seed)
    )
    return {"sample": sample_s, "update": update_s, "build": build_s}


# --------------------------------------------------------------------------------- Syllabus
SYLLABUS_CURRICULA = ("DomainRandomization", "OnlineLearningProgress")


def syllabus_worker(curriculum: str, n: int, calls: int, seed: int) -> dict:
    """Runs in a subprocess: per-call cost of one Syllabus curriculum (numbers or an error)."""
    import gymnasium
    from syllabus.core import Curriculum
    from syllabus.curricula import DomainRandomization, OnlineLearningProgress
    from syllabus.task_space import DiscreteTaskSpace

    space = DiscreteTaskSpace(gymnasium.spaces.Discrete(n))
    if curriculum == "DomainRandomization":
        teacher = DomainRandomization(space)
    else:
        # update_interval as large as our lp's default refresh (n // 100), so both amortise alike
        teacher = OnlineLearningProgress(space, update_interval=max(1, n // 100))
    note = ""
    try:
        teacher.sample()
    except ValueError:
        # syllabus-rl 0.7 compares an ndarray distribution with [] (fails on NumPy 2); the fix
        # on their main branch is a length check. Measure the fixed comparison, and say so.
        def sample_fixed(self, k: int = 1):
            task_dist = self._sample_distribution()
            # the same global-RNG call as the release, to time its cost faithfully
            return np.random.choice(list(range(self.num_tasks)), size=k, p=task_dist)  # noqa: NPY002

        Curriculum.sample = sample_fixed
        note = (
            "release 0.7 OnlineLearningProgress.sample() raises ValueError on NumPy 2 (an ndarray "
            "compared with []); measured with that comparison fixed"
        )

    def update(task, signal):
        task = int(task[0]) if isinstance(task, list | np.ndarray) else int(task)
        teacher.update_task_progress(task, float(signal > 0.5))
        teacher.update_on_episode(float(signal), 1, task, float(signal > 0.5))

    sample_s, update_s = time_calls(
        teacher.sample, update, calls, np.random.default_rng(seed), budget_s=PEER_BUDGET_S
    )
    return {"sample": sample_s, "update": update_s, "note": note}


def measure_syllabus(curriculum: str, n: int, calls: int, seed: int) -> dict:
    command = [sys.executable, __file__, "--syllabus-worker", curriculum, str(n), str(calls)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def syllabus_version() -> str | None:
    script = "import importlib.metadata as m; print(m.version('syllabus-rl'))"
    command = [sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


# --------------------------------------------------------------------------------- suite
SUITE = "teacher-overhead"
DESCRIPTION = (
    "µs per teacher.sample() / update() at N = 1k..1M tasks for every discrete teacher, Syllabus "
    "side by side (bench extra)"
)
#: The issue's target: bandit and LP teachers at N = 100k, per sample and per update.
TARGET_N = 100_000
TARGET_US = 20.0
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
DEFAULT_CALLS = 20_000
#: ``--quick``: the smallest size and the target size, fewer calls.
QUICK_SIZES = (1_000, 100_000)
QUICK_CALLS = 2_000


def measure(sizes, calls: int, teachers, peers: bool, seed: int = 0) -> dict[str, Any]:
    """Time every teacher at every size; the results dict of the suite (long-format table)."""
    sizes = sorted(sizes)
    rows = []
    for name in teachers:
        for n in sizes:
            result = measure_autocurr(name, n, calls, seed)
            if result is None:
                break  # continuous-only teacher
            rows.append(["autocurr", name, n, result["sample"] * 1e6, result["update"] * 1e6, ""])
    peer_version = syllabus_version() if peers else None
    notes: set[str] = set()
    if peer_version:
        for curriculum in SYLLABUS_CURRICULA:
            for n in sizes:
                result = measure_syllabus(curriculum, n, calls, seed)
                if "sample" in result:
                    sample_us, update_us = result["sample"] * 1e6, result["update"] * 1e6
                else:
                    sample_us = update_us = None
                rows.append(
                    [
                        "syllabus",
                        f"Syllabus {curriculum}",
                        n,
                        sample_us,
                        update_us,
                        result.get("error", ""),
                    ]
                )
                if result.get("note"):
                    notes.add(result["note"])
    columns = ["library", "teacher", "n_tasks", "sample_us", "update_us", "error"]
    return {
        "tables": {"overhead": {"columns": columns, "rows": rows}},
        "settings": {
            "sizes": sizes,
            "calls": calls,
            "repeats": 3,
            "seed": seed,
            "peer_budget_s": PEER_BUDGET_S,
        },
        "peer_version": peer_version,
        "notes": sorted(notes),
        "target": target_verdict(rows),
    }


def target_verdict(rows: list[list]) -> dict[str, Any] | None:
    """Worst autocurr sample / update time at N = TARGET_N against TARGET_US."""
    at_target = [row for row in rows if row[0] == "autocurr" and row[2] == TARGET_N]
    if not at_target:
        return None
    worst = max(
        (
            (row[1], call, row[3 + i])
            for row in at_target
            for i, call in enumerate(("sample", "update"))
        ),
        key=lambda item: item[2],
    )
    return {
        "n_tasks": TARGET_N,
        "limit_us": TARGET_US,
        "teachers": len(at_target),
        "worst_teacher": worst[0],
        "worst_call": worst[1],
        "worst_us": worst[2],
        "met": worst[2] <= TARGET_US,
    }


def run(*, seeds: int | None = None, quick: bool = False, out_dir: Path) -> dict[str, Any]:
    """The suite: every discrete teacher (and Syllabus when installed). A timing benchmark: one
    seed (``seeds`` is recorded, not used); each figure is the median of 3 repeats."""
    sizes, calls = (QUICK_SIZES, QUICK_CALLS) if quick else (DEFAULT_SIZES, DEFAULT_CALLS)
    results = measure(sizes, calls, available(), peers=True)
    results["settings"]["seeds_requested"] = seeds
    return results


def micro(value_us: float | None) -> str:
    return "–" if value_us is None else f"{value_us:,.1f}"


def report(results: dict[str, Any]) -> str:
    """The wide markdown table (one row per teacher, sample / update per N), then the verdict."""
    table = results["tables"]["overhead"]
    sizes = results["settings"]["sizes"]
    by_teacher: dict[str, dict[int, list]] = {}
    for row in table["rows"]:
        by_teacher.setdefault(row[1], {})[row[2]] = row
    header = " | ".join(f"N={n:,} sample / update" for n in sizes)
    lines = [
        f"| teacher | {header} | sample growth {sizes[0]:,}→{sizes[-1]:,} |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    for name, cells_by_n in by_teacher.items():
        cells = []
        for n in sizes:
            row = cells_by_n.get(n)
            if row is None:
                cells.append("–")
            elif row[3] is None:
                cells.append((row[5] or "failed")[:60])
            else:
                cells.append(f"{micro(row[3])} / {micro(row[4])}")
        first, last = cells_by_n.get(sizes[0]), cells_by_n.get(sizes[-1])
        growth = "–"
        if first and last and first[3] and last[3] is not None:
            growth = f"{last[3] / first[3]:.1f}×"
        lines.append(f"| {name} | {' | '.join(cells)} | {growth} |")
    settings = results["settings"]
    lines += [
        "",
        f"µs per call, median of {settings['repeats']} repeats of {settings['calls']:,} "
        "interleaved sample/update pairs per cell; Syllabus rows under a "
        f"{settings['peer_budget_s']:g} s budget per cell, in a subprocess"
        + (
            f" (syllabus-rl {results['peer_version']})."
            if results.get("peer_version")
            else "; no Syllabus rows (--no-peers, or syllabus-rl not installed)."
        ),
    ]
    lines += [f"- Syllabus: {note}" for note in results.get("notes", [])]
    target = results.get("target")
    if target is None:
        lines.append(f"- Target (N = {TARGET_N:,}, ≤ {TARGET_US:g} µs): not measured in this run.")
    else:
        verdict = "**met**" if target["met"] else "**not met**"
        lines.append(
            f"- Target (every discrete teacher at N = {target['n_tasks']:,}: ≤ "
            f"{target['limit_us']:g} µs per `sample` and per `update`): {verdict}; the largest "
            f"of {target['teachers']} teachers is {target['worst_teacher']}'s "
            f"`{target['worst_call']}` at {target['worst_us']:.1f} µs."
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--syllabus-worker"]:
        curriculum, n, calls = argv[1], int(argv[2]), int(argv[3])
        print(json.dumps(syllabus_worker(curriculum, n, calls, seed=0)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--teachers", nargs="+", default=available())
    parser.add_argument("--no-peers", action="store_true", help="skip the Syllabus rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    results = measure(args.sizes, args.calls, args.teachers, not args.no_peers, args.seed)
    print(report(results))
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    versions = f"autocurr {autocurr.__version__}, python {platform.python_version()}"
    versions += f", numpy {np.__version__}"
    if results["peer_version"]:
        versions += f", syllabus-rl {results['peer_version']}"
    print(f"- versions: {versions}")
    print(f"- machine: {platform.platform()}, cpu_count {os.cpu_count()}")
    print(f"- command: python benchmarks/teacher_overhead.py {' '.join(argv)}")


if __name__ == "__main__":
    main()
