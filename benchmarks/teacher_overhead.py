"""Per-call cost of teacher.sample() and teacher.update() as the number of tasks N grows.

Usage::

    python benchmarks/teacher_overhead.py [--sizes 1000 10000 100000 1000000] [--calls 20000]
        [--teachers NAME ...] [--no-peers]

Calls alternate sample/update as in training (each update invalidates whatever a teacher
caches); each figure is the median of 3 repeats. Every discrete teacher is measured (the ones
that only handle boxes are skipped). The peer library Syllabus (PyPI ``syllabus-rl``, installed by
the ``bench`` extra) is measured in the same run, in a subprocess because importing it calls
``np.seterr(all="raise")`` for the whole process. Its ``sample()`` is O(N) per call, so its rows
use a time budget instead of a fixed call count. Prints a markdown table with the growth from the
smallest to the largest N, then date, versions and machine.
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
        if "Box" in str(error):
            return None  # continuous-only teacher
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


# --------------------------------------------------------------------------------- report
def micro(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--syllabus-worker"]:
        curriculum, n, calls = argv[1], int(argv[2]), int(argv[3])
        print(json.dumps(syllabus_worker(curriculum, n, calls, seed=0)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--teachers", nargs="+", default=available())
    parser.add_argument("--no-peers", action="store_true", help="skip the Syllabus rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sizes = sorted(args.sizes)
    rows: list[tuple[str, dict[int, dict]]] = []
    for name in args.teachers:
        results = {}
        for n in sizes:
            result = measure_autocurr(name, n, args.calls, args.seed)
            if result is None:
                break
            results[n] = result
        if results:
            rows.append((name, results))
    peer_version = None if args.no_peers else syllabus_version()
    notes = []
    if peer_version:
        for curriculum in SYLLABUS_CURRICULA:
            results = {n: measure_syllabus(curriculum, n, args.calls, args.seed) for n in sizes}
            rows.append((f"Syllabus {curriculum}", results))
            notes += sorted({r["note"] for r in results.values() if r.get("note")})

    header = " | ".join(f"N={n:,} sample / update" for n in sizes)
    print(f"| teacher | {header} | sample growth {sizes[0]:,}→{sizes[-1]:,} |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for name, results in rows:
        cells = []
        for n in sizes:
            result = results.get(n, {})
            if "sample" in result:
                cells.append(f"{micro(result['sample'])} / {micro(result['update'])}")
            else:
                cells.append(result.get("error", "–")[:60])
        first, last = results.get(sizes[0], {}), results.get(sizes[-1], {})
        growth = "–"
        if "sample" in first and "sample" in last:
            growth = f"{last['sample'] / first['sample']:.1f}×"
        print(f"| {name} | {' | '.join(cells)} | {growth} |")
    print()
    print("Times in µs per call (median of 3 repeats).")
    for note in notes:
        print(f"- Syllabus: {note}")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    versions = f"autocurr {autocurr.__version__}, python {platform.python_version()}"
    versions += f", numpy {np.__version__}"
    if peer_version:
        versions += f", syllabus-rl {peer_version}"
    print(f"- versions: {versions}")
    print(f"- machine: {platform.platform()}, cpu_count {os.cpu_count()}")
    print(f"- command: python benchmarks/teacher_overhead.py {' '.join(argv)}")


if __name__ == "__main__":
    main()
