"""Throughput of autocurr's vector envs against the raw vector envs they wrap.

4 workers, a do-nothing env, 1,000 tasks (``Discrete(1000)``, teacher ``uniform``), episodes of a
fixed length (1 and 100 steps). Env-steps/s = vector steps x workers / s; with next-step
autoreset half the steps of 1-step episodes are resets, for raw and wrapped alike.

Pairs (raw, wrapped) are measured back to back, repeats interleaved; the table gives medians and
the median of the per-repeat ratios. Targets: >= 0.9x at 1-step, >= 0.97x at 100-step episodes.
The wrapped rows use ``make_vec_env``'s default ``outcomes="batched"`` (outcomes travel with the
refill round trips); the ``outcomes=info`` row carries each outcome in the step info instead and
updates the teacher at every step (no outcome lag, more IPC and info batching per episode end).
The "null teacher" row (vectorised sampling, no update work) isolates the wrapper's own cost from
the teacher's (``UniformTeacher`` samples one task at a time and ``update_batch`` validates each
outcome, both in the learner process).
If ``syllabus-rl`` is importable, its multiprocess sync wrapper (DomainRandomization, buffer 1)
runs on the same env in a subprocess (it calls ``np.seterr(all="raise")`` at import) as a peer
row, compared with the raw gymnasium medians of this run.
With ``psutil`` installed, a second table gives the CPU time per vector step of the learner and
of the workers (medians): where the overhead goes. Contention on a loaded machine inflates it
too (context switches, caches), so read it beside the throughput, not instead of it.

    nice -n 10 /work/venv/bin/python benchmarks/vec_throughput.py [--repeats 5] [--steps 2000]
    autocurr bench vec-throughput [--quick]     # the same defaults, through the harness

As a suite of ``autocurr bench`` (``SUITE``, :func:`run`, :func:`report`): tables ``throughput``
(paired medians and ratios), ``cpu_per_step`` (with psutil) and ``peer`` (Syllabus), the raw
per-repeat rates and the verdicts on the targets. ``--quick``: 2 repeats of 500 vector steps.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

N_ENVS = 4
N_TASKS = 1000


class FixedLengthEnv(gym.Env):
    """Does nothing; every episode lasts ``length`` steps; accepts ``options["task"]``."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length: int = 1):
        self.length = length
        self.t = 0
        self.task = 0
        self.observation = np.zeros(1, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if options and "task" in options:
            self.task = options["task"]
        self.t = 0
        return self.observation, {}

    def step(self, action):
        self.t += 1
        return self.observation, 1.0, self.t >= self.length, False, {}


def raw_gym(length: int):
    return gym.vector.AsyncVectorEnv([lambda: FixedLengthEnv(length)] * N_ENVS)


def null_teacher():
    """A teacher with vectorised sampling and no update work: the wrapper's own cost."""
    from autocurr.spaces import Discrete
    from autocurr.teachers.base import Teacher

    class NullTeacher(Teacher):
        name = "null"

        def _sample_many(self, k):
            return self.rng.integers(N_TASKS, size=k).tolist()

        def update_batch(self, tasks, signals):
            self.n_updates += len(tasks)

    return NullTeacher(Discrete(N_TASKS), seed=0)


def ours(backend: str, teacher_name: str = "uniform", outcomes: str = "batched"):
    def build(length: int):
        from autocurr import make_teacher
        from autocurr.spaces import Discrete
        from autocurr.vector import make_vec_env

        if teacher_name == "null":
            teacher = null_teacher()
        else:
            teacher = make_teacher(teacher_name, Discrete(N_TASKS), seed=0)
        return make_vec_env(
            FixedLengthEnv,
            N_ENVS,
            teacher,
            backend=backend,
            env_kwargs={"length": length},
            outcomes=outcomes,
        )

    return build


def raw_sb3(length: int):
    from stable_baselines3.common.vec_env import SubprocVecEnv

    return SubprocVecEnv([lambda: FixedLengthEnv(length)] * N_ENVS)


def children_cpu() -> float | None:
    """CPU seconds used so far by this process's children (the workers); None without psutil.

    Reads ``/proc/<pid>/schedstat`` (nanoseconds) where it exists: psutil's ``cpu_times`` counts
    in 10 ms clock ticks, too coarse for a worker that runs ~60 ms per measurement.
    """
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            with open(f"/proc/{child.pid}/schedstat") as file:
                total += int(file.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            try:
                times = child.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


def time_steps(venv, n_steps: int, sb3: bool) -> tuple[float, float, float | None]:
    """Env-steps/s over ``n_steps`` vector steps after a short warm-up, and the CPU time per
    vector step (microseconds) of the learner process and of all workers together."""
    actions = np.zeros(N_ENVS, dtype=np.int64)
    venv.reset()
    for _ in range(100):
        venv.step(actions)
    workers_start, learner_start = children_cpu(), time.process_time()
    start = time.perf_counter()
    for _ in range(n_steps):
        venv.step(actions)
    elapsed = time.perf_counter() - start
    learner = (time.process_time() - learner_start) / n_steps * 1e6
    workers_end = children_cpu()
    workers = None if workers_end is None else (workers_end - workers_start) / n_steps * 1e6
    return n_steps * N_ENVS / elapsed, learner, workers


def measure(build, length: int, n_steps: int, sb3: bool = False) -> tuple:
    venv = build(length)
    try:
        return time_steps(venv, n_steps, sb3)
    finally:
        venv.close()


SYLLABUS_SCRIPT = r"""
import json, os, sys, time
import gymnasium as gym
import numpy as np
sys.path.insert(0, {bench_dir!r})
from vec_throughput import FixedLengthEnv, N_ENVS, N_TASKS
from syllabus.core import GymnasiumSyncWrapper, TaskWrapper, make_multiprocessing_curriculum
from syllabus.curricula import DomainRandomization
from syllabus.task_space import DiscreteTaskSpace

results = {{}}
for length in {lengths!r}:
    rates = []
    for _ in range({repeats}):
        space = DiscreteTaskSpace(N_TASKS)
        curriculum = make_multiprocessing_curriculum(DomainRandomization(space))

        def make_env(length=length, curriculum=curriculum, space=space):
            env = TaskWrapper(FixedLengthEnv(length))
            return GymnasiumSyncWrapper(env, space, curriculum.components, buffer_size=1)

        venv = gym.vector.AsyncVectorEnv([make_env] * N_ENVS)
        actions = np.zeros(N_ENVS, dtype=np.int64)
        venv.reset()
        for _ in range(100):
            venv.step(actions)
        start = time.perf_counter()
        for _ in range({n_steps}):
            venv.step(actions)
        rates.append({n_steps} * N_ENVS / (time.perf_counter() - start))
        # close() can hang in this release (peers.md 1.7 item 4): terminate the workers instead.
        venv.close(terminate=True)
    results[length] = rates
print("RESULT " + json.dumps(results), flush=True)
os._exit(0)
"""


def syllabus_rates(lengths, repeats: int, n_steps: int) -> dict | str:
    try:
        import importlib.util

        if importlib.util.find_spec("syllabus") is None:
            return "not installed"
    except ImportError:
        return "not installed"
    script = SYLLABUS_SCRIPT.format(
        bench_dir=os.path.dirname(os.path.abspath(__file__)),
        lengths=list(lengths),
        repeats=repeats,
        n_steps=n_steps,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
        )
    except subprocess.TimeoutExpired:
        return "timed out after 600 s"
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return {int(k): v for k, v in json.loads(line[7:]).items()}
    return "failed: " + (done.stderr.strip().splitlines() or ["no output"])[-1]


def cpu_medians(cpus: list) -> tuple[float, float, float]:
    """Medians of learner, workers and their sum over the repeats."""
    learner = statistics.median(c[0] for c in cpus)
    workers = statistics.median(c[1] for c in cpus)
    total = statistics.median(c[0] + c[1] for c in cpus)
    return learner, workers, total


def versions() -> str:
    import stable_baselines3

    return (
        f"python {platform.python_version()}, gymnasium {gym.__version__}, "
        f"stable-baselines3 {stable_baselines3.__version__}, numpy {np.__version__}"
    )


# --------------------------------------------------------------------------------- suite
SUITE = "vec-throughput"
DESCRIPTION = (
    "env steps/s of make_vec_env (one central teacher) against the raw gymnasium / SB3 vector "
    "envs it wraps, 1- and 100-step episodes; Syllabus's sync wrapper side by side"
)
#: The issue's targets: wrapped / raw on gymnasium's AsyncVectorEnv with ``uniform``.
TARGETS = {1: 0.9, 100: 0.97}
TARGET_ROW = "gymnasium AsyncVectorEnv, teacher uniform"
DEFAULT_REPEATS, DEFAULT_STEPS = 5, 2000
#: ``--quick``: 2 interleaved repeats of 500 vector steps.
QUICK_REPEATS, QUICK_STEPS = 2, 500


def measure_all(repeats: int, steps: int, lengths, syllabus: bool = True) -> dict[str, Any]:
    """Every (raw, wrapped) pair at every episode length; the suite's results."""
    # family -> (raw builder, {label: wrapped builder}, sb3)
    families = {
        "gymnasium AsyncVectorEnv": (
            raw_gym,
            {
                "uniform": ours("async"),
                "uniform, outcomes=info": ours("async", outcomes="info"),
                "null teacher": ours("async", "null"),
            },
            False,
        ),
        "SB3 SubprocVecEnv": (raw_sb3, {"uniform": ours("sb3-subproc")}, True),
    }
    rows, cpu_rows, raw_rates = [], [], []
    raw_gym_medians = {}
    for length in lengths:
        for name, (raw_build, wrapped_builds, sb3) in families.items():
            raw = []
            wrapped = {label: [] for label in wrapped_builds}
            raw_cpu = []
            wrapped_cpu = {label: [] for label in wrapped_builds}
            for _ in range(repeats):  # interleaved: raw, then each variant, back to back
                rate, *cpu = measure(raw_build, length, steps, sb3)
                raw.append(rate)
                raw_cpu.append(cpu)
                for label, build in wrapped_builds.items():
                    rate, *cpu = measure(build, length, steps, sb3)
                    wrapped[label].append(rate)
                    wrapped_cpu[label].append(cpu)
            if raw_cpu[0][1] is not None:
                cpu_rows.append([length, f"{name}, raw", *cpu_medians(raw_cpu), None])
                raw_total = cpu_medians(raw_cpu)[2]
                for label, cpus in wrapped_cpu.items():
                    learner, workers, total = cpu_medians(cpus)
                    row = [length, f"{name}, teacher {label}", learner, workers, total]
                    cpu_rows.append([*row, raw_total / total])
            if not sb3:
                raw_gym_medians[length] = statistics.median(raw)
            for label, rates in wrapped.items():
                ratio = statistics.median(w / r for r, w in zip(raw, rates, strict=True))
                row_name = f"{name}, teacher {label}"
                rows.append(
                    [length, row_name, statistics.median(raw), statistics.median(rates), ratio]
                )
                raw_rates.append({"length": length, "row": row_name, "raw": raw, "ours": rates})

    peer = syllabus_rates(lengths, repeats, steps) if syllabus else "skipped"
    peer_rows = []
    if isinstance(peer, dict):
        for length, rates in peer.items():
            rate = statistics.median(rates)
            peer_rows.append(
                [
                    length,
                    "Syllabus GymnasiumSyncWrapper + AsyncVectorEnv (peer, DR)",
                    raw_gym_medians[length],
                    rate,
                    rate / raw_gym_medians[length],
                ]
            )
    columns = ["episode_length", "vector_env", "raw_steps_per_s", "autocurr_steps_per_s", "ratio"]
    tables = {"throughput": {"columns": columns, "rows": rows}}
    if cpu_rows:
        tables["cpu_per_step"] = {
            "columns": [
                "episode_length",
                "vector_env",
                "learner_us",
                "workers_us",
                "total_us",
                "raw_total_over_total",
            ],
            "rows": cpu_rows,
        }
    if peer_rows:
        peer_columns = [
            "episode_length",
            "vector_env",
            "raw_gym_steps_per_s",
            "steps_per_s",
            "ratio_unpaired",
        ]
        tables["peer"] = {"columns": peer_columns, "rows": peer_rows}
    return {
        "tables": tables,
        "settings": {
            "workers": N_ENVS,
            "tasks": N_TASKS,
            "repeats": repeats,
            "vector_steps": steps,
            "lengths": list(lengths),
        },
        "per_repeat": raw_rates,
        "peer": peer if isinstance(peer, str) else "measured",
        "targets": target_verdicts(rows),
    }


def target_verdicts(rows: list[list]) -> list[dict[str, Any]]:
    verdicts = []
    for length, name, _, _, ratio in rows:
        if name == TARGET_ROW and length in TARGETS:
            target = TARGETS[length]
            verdicts.append(
                {"length": length, "target": target, "ratio": ratio, "met": ratio >= target}
            )
    return verdicts


def run(*, seeds: int | None = None, quick: bool = False, out_dir: Path) -> dict[str, Any]:
    """The suite (episodes of 1 and 100 steps, Syllabus when installed). A throughput
    benchmark: no seeds (``seeds`` is recorded, not used)."""
    repeats, steps = (QUICK_REPEATS, QUICK_STEPS) if quick else (DEFAULT_REPEATS, DEFAULT_STEPS)
    results = measure_all(repeats, steps, [1, 100])
    results["settings"]["seeds_requested"] = seeds
    return results


def report(results: dict[str, Any]) -> str:
    settings, tables = results["settings"], results["tables"]
    lines = [
        f"{settings['workers']} workers, a do-nothing env, {settings['tasks']:,} tasks, "
        f"{settings['repeats']} interleaved repeats x {settings['vector_steps']:,} vector steps; "
        "env steps/s, medians; ratio = median of the per-repeat ratios.",
        "",
        "| episode length | vector env | raw | autocurr | paired ratio (median) |",
        "|---|---|---|---|---|",
    ]
    for length, name, raw, wrapped, ratio in tables["throughput"]["rows"]:
        lines.append(f"| {length} | {name} | {raw:,.0f} | {wrapped:,.0f} | {ratio:.2f}x |")
    for length, name, raw, rate, ratio in tables.get("peer", {}).get("rows", []):
        lines.append(
            f"| {length} | {name} | {raw:,.0f} (raw above) | {rate:,.0f} | {ratio:.2f}x "
            "(unpaired) |"
        )
    if "peer" not in tables:
        lines += ["", f"Syllabus peer row: {results['peer']}."]
    if "cpu_per_step" in tables:
        lines += [
            "",
            "CPU time per vector step (µs, medians; learner process, all workers together): "
            "where the overhead goes. Load on the machine inflates it too, so read it beside the "
            "throughput, not instead of it.",
            "",
            "| episode length | vector env | learner | workers | total | raw total / total |",
            "|---|---|---|---|---|---|",
        ]
        for length, name, learner, workers, total, ratio in tables["cpu_per_step"]["rows"]:
            shown = "" if ratio is None else f"{ratio:.2f}x"
            lines.append(
                f"| {length} | {name} | {learner:.1f} | {workers:.1f} | {total:.1f} | {shown} |"
            )
    lines.append("")
    for verdict in results["targets"]:
        met = "**met**" if verdict["met"] else "**not met**"
        lines.append(
            f"- Target, {verdict['length']}-step episodes (`{TARGET_ROW}`): ≥ "
            f"{verdict['target']:g}x raw: {met}, {verdict['ratio']:.2f}x."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help="timed vector steps per run"
    )
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--no-syllabus", action="store_true")
    args = parser.parse_args(argv)
    results = measure_all(args.repeats, args.steps, args.lengths, not args.no_syllabus)
    for entry in results["per_repeat"]:
        print(f"# length {entry['length']} {entry['row']}: raw {entry['raw']} ours {entry['ours']}")
    print()
    command = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"Command: `nice -n 10 python benchmarks/vec_throughput.py {command}`")
    print(f"Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(f"Versions: {versions()}")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print()
    print(report(results))


if __name__ == "__main__":
    main()
