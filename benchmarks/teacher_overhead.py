"""Per-call cost of teacher.sample() and teacher.update() as the number of tasks N grows.

Usage::

    python benchmarks/teacher_overhead.py [--sizes 1000 10000 100000 1000000] [--calls 20000]

Calls alternate sample/update as in training (each update invalidates whatever a teacher
caches), and each figure is the median of 3 repeats. Prints a markdown table with versions,
date and machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np

from autocurr import available, make_teacher
from autocurr.spaces import Discrete


def time_calls(teacher, calls: int, rng: np.random.Generator) -> tuple[float, float]:
    """Median seconds per sample() and per update() over 3 repeats of ``calls`` pairs."""
    signals = rng.random(calls).tolist()
    sample_times, update_times = [], []
    for _ in range(3):
        sample_total = update_total = 0.0
        for signal in signals:
            t0 = time.perf_counter()
            task = teacher.sample()
            t1 = time.perf_counter()
            teacher.update(task, signal)
            t2 = time.perf_counter()
            sample_total += t1 - t0
            update_total += t2 - t1
        sample_times.append(sample_total / calls)
        update_times.append(update_total / calls)
    return float(np.median(sample_times)), float(np.median(update_times))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--teachers", nargs="+", default=available())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("| teacher | N | sample (µs) | update (µs) | build (ms) |")
    print("|---|---|---|---|---|")
    for name in args.teachers:
        for n in args.sizes:
            t0 = time.perf_counter()
            teacher = make_teacher(name, Discrete(n), seed=args.seed)
            build_ms = (time.perf_counter() - t0) * 1e3
            sample_s, update_s = time_calls(teacher, args.calls, np.random.default_rng(args.seed))
            cells = [name, f"{n:,}", f"{sample_s * 1e6:.1f}", f"{update_s * 1e6:.1f}"]
            print(f"| {' | '.join(cells)} | {build_ms:.1f} |")
    print()
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"- python {platform.python_version()}, numpy {np.__version__}")
    print(f"- machine: {platform.platform()}, cpu_count {os.cpu_count()}")
    print(f"- command: teacher_overhead.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
