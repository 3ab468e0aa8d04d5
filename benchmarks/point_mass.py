"""PointMassGate benchmark: PPO students at an equal step budget under several teachers.

Every run is exactly ``autocurr train --env autocurr/PointMassGate-v0 --teacher T --seed S
--timesteps N`` (through :func:`autocurr.agents.train.train`), with checkpoints every
``N / eval_points`` steps; afterwards each checkpoint is evaluated on the narrow target gates
(``autocurr eval``'s code path) to draw success over training. Teachers get their library
defaults unless ``--teacher-kwargs`` says otherwise.

Usage::

    python benchmarks/point_mass.py [--timesteps 500000] [--seeds 3]
        [--teachers uniform alp-gmm binned-lp] [--jobs 2] [--outdir point_mass_runs]
        [--eval-episodes 100] [--teacher-kwargs adr:low_threshold=2 adr:high_threshold=6]

or, through the harness, ``autocurr bench point-mass [--seeds N] [--quick]``: the same runs with
the defaults above (2 in parallel), written under the harness's run folder. ``--quick`` is a
smoke run (``QUICK_OPTIONS``: 4 096 steps, one seed, a few evaluation episodes), not a result.

Outputs under ``--outdir``: ``runs/<teacher>-s<seed>/`` (the ``autocurr train`` outputs plus
``benchmark.json``), ``report.md`` (command, date, versions, machine, results table),
``results.json``, ``success_curves.png`` and ``task_distribution_<teacher>.png`` (sampled
tasks pooled over seeds, per quarter of training). A run whose ``benchmark.json`` exists is
reused, so re-running the same command only trains what is missing and rewrites the report.

Metrics: *target success* = the mean over the three narrow-gate targets (SPDL's ``(2.5, 0.5)``,
CURROT's ``(-3, 0.5)`` and ``(3, 0.5)``) of the share of ``--eval-episodes`` sampled-action
episodes that reach the goal (``||p - goal|| < 0.25`` at some step), after training; also
per target, and on three wide gates (width 4) as a sanity check.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import math
import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SUITE = "point-mass"
DESCRIPTION = (
    "PPO on PointMassGate at an equal step budget (500k steps, 3 seeds) under uniform, alp-gmm "
    "and binned-lp: success on the narrow target gates (IQM over seeds), sampled gates over time"
)
ENV_ID = "autocurr/PointMassGate-v0"
DEFAULT_TEACHERS = ("uniform", "alp-gmm", "binned-lp")
TARGETS = ("spdl-target", "currot-left", "currot-right")
#: The smoke run of ``run(quick=True)``: two PPO iterations per teacher, tiny evaluations.
QUICK_OPTIONS = {
    "jobs": 1,
    "timesteps": 4096,
    "seeds": 1,
    "eval_episodes": 4,
    "eval_points": 2,
    "curve_episodes": 2,
}


# ------------------------------------------------------------------------------------ one run


def run_one(teacher: str, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """Train (or reuse) one run and evaluate its checkpoints; returns its benchmark record."""
    from autocurr.agents.train import TrainConfig, evaluate, train

    run_dir = Path(options["outdir"]) / "runs" / f"{teacher}-s{seed}"
    record_path = run_dir / "benchmark.json"
    if record_path.is_file():
        return {**json.loads(record_path.read_text()), "reused": True}
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RuntimeError(f"{run_dir} holds an unfinished run; delete it to rerun")
    timesteps = options["timesteps"]
    config = TrainConfig(
        env_id=ENV_ID,
        teacher=teacher,
        teacher_kwargs=options["teacher_kwargs"].get(teacher, {}),
        timesteps=timesteps,
        n_envs=options["n_envs"],
        seed=seed,
        device="cpu",
        logdir=str(run_dir.parent),
        run_name=run_dir.name,
        eval_episodes=options["eval_episodes"],
        progress=False,
        checkpoint_freq=max(1, timesteps // options["eval_points"]),
    )
    summary = train(config)
    started = time.perf_counter()
    curve = []
    for checkpoint in sorted((run_dir / "checkpoints").iterdir(), key=_checkpoint_steps):
        if _checkpoint_steps(checkpoint) >= timesteps:  # the final evaluation covers the end
            continue
        result, _ = evaluate(checkpoint, episodes=options["curve_episodes"], seed=seed)
        curve.append([_checkpoint_steps(checkpoint), result["mean"]["solve_rate"]])
    final = summary["held_out"]
    curve.append([summary["total_timesteps"], final["mean"]["solve_rate"]])
    wide, _ = evaluate(run_dir, suite="wide-gates", episodes=options["eval_episodes"], seed=seed)
    record = {
        "teacher": teacher,
        "seed": seed,
        "run_dir": str(run_dir),
        "total_timesteps": summary["total_timesteps"],
        "steps_per_second": summary["steps_per_second"],
        "train_time_s": summary["train_time_s"],
        "eval_time_s": time.perf_counter() - started,
        "target_success": final["mean"]["solve_rate"],
        "per_target": {case["name"]: case["solve_rate"] for case in final["cases"]},
        "wide_success": wide["mean"]["solve_rate"],
        "target_curve": curve,
        "training_curve": summary["training_curve"],
        "sampled_tasks": summary.get("sampled_tasks"),
        "teacher_hyperparameters": summary["teacher"]["hyperparameters"],
        "versions": summary["versions"],
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _checkpoint_steps(path: Path) -> int:
    return int(path.name.split("_")[0])


# ------------------------------------------------------------------------------------ report


def _mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values):.2f}" if values else "-"


def results_table(records: list[dict[str, Any]], teachers: list[str]) -> list[str]:
    lines = [
        "| teacher | seeds | target success (mean ± sd) | per seed | spdl-target | currot-left "
        "| currot-right | wide gates | steps/s per run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for teacher in teachers:
        runs = sorted((r for r in records if r["teacher"] == teacher), key=lambda r: r["seed"])
        if not runs:
            continue
        per_target = {
            name: _mean_std([r["per_target"][name] for r in runs])
            for name in ("spdl-target", "currot-left", "currot-right")
        }
        lines.append(
            f"| {teacher} | {len(runs)} | {_mean_std([r['target_success'] for r in runs])} | "
            + ", ".join(f"{r['target_success']:.2f}" for r in runs)
            + f" | {per_target['spdl-target']} | {per_target['currot-left']} | "
            f"{per_target['currot-right']} | {_mean_std([r['wide_success'] for r in runs])} | "
            f"{np.mean([r['steps_per_second'] for r in runs]):,.0f} |"
        )
    return lines


def _pooled_quarters(runs: list[dict[str, Any]]) -> tuple[list[Any], list[float]]:
    """Mean sampled gate (position, width) of each training quarter, pooled over ``runs``
    (NaNs where no run reached the quarter), and each run's last-quarter training success."""
    means = []
    for k in range(4):
        tasks = [
            r["sampled_tasks"]["quarters"][k]["mean_task"]
            for r in runs
            if len(r["sampled_tasks"]["quarters"]) > k
        ]
        means.append(np.mean(tasks, axis=0) if tasks else [math.nan, math.nan])
    success = [r["sampled_tasks"]["quarters"][-1].get("success_rate") for r in runs]
    return means, [s for s in success if s is not None]


def _quarter_lines(records: list[dict[str, Any]], teachers: list[str]) -> list[str]:
    """Mean sampled gate (position, width) per quarter of training, pooled over seeds."""
    lines = [
        "| teacher | Q1 mean (pos, width) | Q2 | Q3 | Q4 | Q4 training success |",
        "|---|---|---|---|---|---|",
    ]
    for teacher in teachers:
        runs = [r for r in records if r["teacher"] == teacher and r.get("sampled_tasks")]
        if not runs:
            continue
        means, success = _pooled_quarters(runs)
        cells = [f"({mean[0]:+.2f}, {mean[1]:.2f})" for mean in means]
        lines.append(f"| {teacher} | " + " | ".join(cells) + f" | {_mean_std(success)} |")
    return lines


def env_speed(n_steps: int = 100_000, seed: int = 0) -> float:
    """Raw env steps/s with uniformly random actions and random tasks, resets included."""
    from autocurr.envs import PointMassGateEnv

    rng = np.random.default_rng(seed)
    actions = rng.uniform(-10, 10, size=(n_steps, 2))
    tasks = rng.uniform((-4.0, 0.5), (4.0, 8.0), size=(n_steps, 2))
    env = PointMassGateEnv()
    env.reset(seed=seed, options={"task": tasks[0]})
    started = time.perf_counter()
    for i, action in enumerate(actions):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset(options={"task": tasks[i]})
    return n_steps / (time.perf_counter() - started)


def write_report(
    records: list[dict[str, Any]], options: dict[str, Any], command: str, wall_s: float
) -> Path:
    from autocurr.agents.train import machine_description

    outdir = Path(options["outdir"])
    teachers = [t for t in options["teachers"] if any(r["teacher"] == t for r in records)]
    versions = records[0]["versions"] if records else {}
    lines = [
        "# PointMassGate benchmark",
        "",
        f"Command: `{command}`",
        f"Date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "platform"),
        f"Machine: {machine_description()}; {options['jobs']} runs in parallel; "
        f"wall time {wall_s:.0f} s "
        f"({sum(not r.get('reused') for r in records)} runs trained now, "
        f"{sum(bool(r.get('reused')) for r in records)} reused from earlier invocations; "
        f"mean train time per run {np.mean([r['train_time_s'] for r in records]):.0f} s).",
        f"Raw env speed: {env_speed():,.0f} steps/s (random actions, one core).",
        "",
        f"Budget {options['timesteps']:,} steps per run, PPO preset of the env (MLP [64, 64], "
        f"2048 steps per iteration over {options['n_envs']} envs). Target success: share of "
        f"{options['eval_episodes']} sampled-action episodes per target that reach the goal, "
        "mean over the three narrow targets; wide gates: same on three width-4 gates.",
        "",
        *results_table(records, teachers),
        "",
        "Sampled tasks: mean gate (position, width) per quarter of training, pooled over seeds.",
        "",
        *_quarter_lines(records, teachers),
        "",
        "Plots: `success_curves.png`, "
        + ", ".join(f"`task_distribution_{t}.png`" for t in teachers),
    ]
    path = outdir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    kept = [{k: v for k, v in r.items() if k != "reused"} for r in records]
    (outdir / "results.json").write_text(json.dumps(kept, indent=2) + "\n")
    return path


# ------------------------------------------------------------------------------------ plots


def plot_success_curves(records: list[dict[str, Any]], teachers: list[str], path: Path) -> None:
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from autocurr.agents.plots import smooth

    figure = Figure(figsize=(12, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    target_axis, training_axis = figure.subplots(1, 2)
    colors = colormaps["tab10"]
    for index, teacher in enumerate(teachers):
        runs = [r for r in records if r["teacher"] == teacher]
        color = colors(index)
        curves = [np.array(r["target_curve"], dtype=np.float64) for r in runs]
        for curve in curves:
            target_axis.plot(curve[:, 0], curve[:, 1], color=color, alpha=0.3, linewidth=0.8)
        length = min(len(c) for c in curves)
        mean = np.mean([c[:length, 1] for c in curves], axis=0)
        target_axis.plot(
            curves[0][:length, 0],
            mean,
            color=color,
            linewidth=2,
            label=f"{teacher} (mean of {len(runs)})",
        )
        for r in runs:
            curve = r["training_curve"]
            values = smooth(curve["success_rate"], curve["n_episodes"], 10)
            training_axis.plot(
                curve["timesteps"],
                values,
                color=color,
                alpha=0.7,
                label=teacher if r is runs[0] else None,
            )
    target_axis.set_title("success on the narrow target gates (held out)")
    training_axis.set_title("training success on the sampled tasks (smoothed)")
    for axis in (target_axis, training_axis):
        axis.set_xlabel("timesteps")
        axis.set_ylabel("success rate")
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize="small")
    figure.savefig(path, dpi=100)


def plot_pooled_tasks(records: list[dict[str, Any]], teacher: str, path: Path) -> bool:
    from autocurr.agents.tasks import resolve_preset
    from autocurr.agents.train import plot_sampled_tasks

    steps, tasks = [], []
    for r in records:
        if r["teacher"] != teacher:
            continue
        csv = Path(r["run_dir"]) / "sampled_tasks.csv"
        if not csv.is_file():
            continue
        data = np.loadtxt(csv, delimiter=",", skiprows=1, ndmin=2)
        steps.append(data[:, 0])
        tasks.append(data[:, 1:3])
    if not steps:
        return False
    order = np.argsort(np.concatenate(steps), kind="stable")
    n_seeds = len(steps)
    plot_sampled_tasks(
        np.concatenate(steps)[order].astype(np.int64),
        np.concatenate(tasks)[order],
        resolve_preset(ENV_ID),
        path,
        f"{ENV_ID}, teacher {teacher}, {n_seeds} seed(s) pooled",
    )
    return True


# ------------------------------------------------------------------------------------ suite


def collect(options: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], float]:
    """Train (or reuse) every teacher x seed run, ``options["jobs"]`` at a time (in this
    process when ``jobs`` is 1: no worker start-up, which dominates a smoke run).

    Returns the records, the failures (one line each) and the wall time."""
    jobs = [(teacher, seed) for seed in range(options["seeds"]) for teacher in options["teachers"]]
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    failures: list[str] = []

    def finished(teacher: str, seed: int, outcome: Callable[[], dict[str, Any]]) -> None:
        try:
            record = outcome()
        except Exception as error:  # report the others even if one run fails
            failures.append(f"{teacher} seed {seed} failed: {error!r}")
            print(failures[-1], flush=True)
            return
        records.append(record)
        print(
            f"{teacher} seed {seed}: target success {record['target_success']:.2f}, "
            f"{record['steps_per_second']:,.0f} steps/s",
            flush=True,
        )

    if options["jobs"] == 1:
        for teacher, seed in jobs:
            finished(teacher, seed, lambda t=teacher, s=seed: run_one(t, s, options))
        return records, failures, time.perf_counter() - started
    context = multiprocessing.get_context("spawn")  # torch and fork do not mix well
    with concurrent.futures.ProcessPoolExecutor(options["jobs"], mp_context=context) as pool:
        from autocurr.bench import spawn_importable

        worker = spawn_importable(run_one)
        futures = {pool.submit(worker, t, s, options): (t, s) for t, s in jobs}
        for future in concurrent.futures.as_completed(futures):
            finished(*futures[future], future.result)
    return records, failures, time.perf_counter() - started


def make_options(outdir: Path, **overrides: Any) -> dict[str, Any]:
    """The command-line defaults with ``overrides``, as ``run_one`` reads them."""
    options = vars(build_parser().parse_args([]))
    options.update(overrides)
    outdir.mkdir(parents=True, exist_ok=True)
    options["outdir"] = str(outdir.resolve())
    options["teacher_kwargs"] = options.get("teacher_kwargs") or {}
    if isinstance(options["teacher_kwargs"], list):
        options["teacher_kwargs"] = parse_teacher_kwargs(options["teacher_kwargs"])
    return options


def summarize(
    records: list[dict[str, Any]], options: dict[str, Any], wall_s: float
) -> dict[str, Any]:
    """The suite's results: tables (numbers), IQM of target success over seeds, settings."""
    from autocurr.bench import iqm_with_ci

    teachers = [t for t in options["teachers"] if any(r["teacher"] == t for r in records)]
    by_teacher = {
        t: sorted((r for r in records if r["teacher"] == t), key=lambda r: r["seed"])
        for t in teachers
    }
    iqm = iqm_with_ci({t: [r["target_success"] for r in rs] for t, rs in by_teacher.items()})
    rows = []
    for teacher, runs in by_teacher.items():
        success = [r["target_success"] for r in runs]
        rows.append(
            [
                teacher,
                len(runs),
                iqm[teacher]["iqm"],
                iqm[teacher]["low"],
                iqm[teacher]["high"],
                float(np.mean(success)),
                float(np.std(success)),
                ", ".join(f"{v:.2f}" for v in success),
            ]
            + [float(np.mean([r["per_target"][name] for r in runs])) for name in TARGETS]
            + [
                float(np.mean([r["wide_success"] for r in runs])),
                float(np.mean([r["steps_per_second"] for r in runs])),
                float(np.mean([r["train_time_s"] for r in runs])),
            ]
        )
    quarter_rows = []
    for teacher, runs in by_teacher.items():
        runs = [r for r in runs if r.get("sampled_tasks")]
        if not runs:
            continue
        means, success = _pooled_quarters(runs)
        cells: list[Any] = [teacher, *(float(value) for mean in means for value in mean)]
        cells.append(float(np.mean(success)) if success else None)
        quarter_rows.append(cells)
    settings = {
        key: options[key]
        for key in (
            "timesteps",
            "seeds",
            "teachers",
            "jobs",
            "n_envs",
            "eval_episodes",
            "eval_points",
            "curve_episodes",
            "teacher_kwargs",
        )
    }
    slim = [{k: v for k, v in r.items() if k not in ("reused", "training_curve")} for r in records]
    return {
        "tables": {
            "point_mass": {
                "columns": [
                    "teacher",
                    "seeds",
                    "target success IQM",
                    "ci_low",
                    "ci_high",
                    "mean",
                    "sd",
                    "per seed",
                    *TARGETS,
                    "wide gates",
                    "steps/s per run",
                    "train s per run",
                ],
                "rows": rows,
            },
            "sampled_gates": {
                "columns": [
                    "teacher",
                    "Q1 position",
                    "Q1 width",
                    "Q2 position",
                    "Q2 width",
                    "Q3 position",
                    "Q3 width",
                    "Q4 position",
                    "Q4 width",
                    "Q4 training success",
                ],
                "rows": quarter_rows,
            },
        },
        "settings": settings,
        "wall_s": round(wall_s, 1),
        "runs_trained": sum(not r.get("reused") for r in records),
        "runs_reused": sum(bool(r.get("reused")) for r in records),
        "records": slim,
    }


def run(*, seeds: int | None = None, quick: bool = False, out_dir: Path) -> dict[str, Any]:
    """The documented benchmark (500k steps x 3 seeds x 3 teachers, 2 runs in parallel), or the
    smoke run of ``QUICK_OPTIONS`` when ``quick``; runs, plots under ``out_dir``."""
    overrides: dict[str, Any] = dict(QUICK_OPTIONS) if quick else {}
    if seeds is not None:
        overrides["seeds"] = seeds
    out_dir = Path(out_dir)
    options = make_options(out_dir, **overrides)
    records, failures, wall = collect(options)
    if records:
        teachers = [t for t in options["teachers"] if any(r["teacher"] == t for r in records)]
        plot_success_curves(records, teachers, out_dir / "success_curves.png")
        for teacher in teachers:
            plot_pooled_tasks(records, teacher, out_dir / f"task_distribution_{teacher}.png")
    results = summarize(records, options, wall)
    results["failures"] = failures
    results["quick"] = quick
    return results


def report(results: dict[str, Any]) -> str:
    """Markdown from ``results`` only: the success table and the sampled gates per quarter."""
    from autocurr.bench import markdown_table

    settings = results["settings"]
    lines = [
        f"Budget {settings['timesteps']:,} steps per run, {settings['seeds']} seed(s) per "
        f"teacher, {settings['jobs']} runs in parallel ({results['wall_s']:.0f} s of wall time; "
        f"{results['runs_trained']} runs trained, {results['runs_reused']} reused). Target "
        f"success: share of {settings['eval_episodes']} sampled-action episodes per narrow "
        "target gate that reach the goal, mean over the three targets; IQM over seeds with a "
        "95% stratified-bootstrap interval (rliable); wide gates: the same on three width-4 "
        "gates.",
        "",
        markdown_table(
            results["tables"]["point_mass"],
            {
                "target success IQM": ".2f",
                "ci_low": ".2f",
                "ci_high": ".2f",
                "mean": ".2f",
                "sd": ".2f",
                **dict.fromkeys(TARGETS, ".2f"),
                "wide gates": ".2f",
                "steps/s per run": ",.0f",
                "train s per run": ",.0f",
            },
        ),
        "",
        "Sampled tasks: mean gate (position, width) per quarter of training, pooled over seeds.",
        "",
        markdown_table(
            results["tables"]["sampled_gates"],
            dict.fromkeys(results["tables"]["sampled_gates"]["columns"][1:], ".2f"),
        ),
    ]
    if results.get("failures"):
        lines += ["", "Failed runs:", ""] + [f"- {line}" for line in results["failures"]]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ main


def parse_teacher_kwargs(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["adr:step=0.2"]`` -> ``{"adr": {"step": 0.2}}`` (values parsed as JSON if possible)."""
    parsed: dict[str, dict[str, Any]] = {}
    for item in items:
        teacher, colon, rest = item.partition(":")
        key, equals, value = rest.partition("=")
        if not (colon and equals and teacher and key):
            raise SystemExit(f"--teacher-kwargs: expected teacher:key=value, got {item!r}")
        try:
            parsed.setdefault(teacher, {})[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed.setdefault(teacher, {})[key] = value
    return parsed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=500_000, help="env steps per run")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per teacher")
    parser.add_argument("--teachers", nargs="+", default=list(DEFAULT_TEACHERS))
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (processes)")
    parser.add_argument("--outdir", default="point_mass_runs")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument(
        "--eval-episodes", type=int, default=100, help="final held-out episodes per target gate"
    )
    parser.add_argument(
        "--eval-points", type=int, default=10, help="checkpoints evaluated over training"
    )
    parser.add_argument(
        "--curve-episodes", type=int, default=30, help="episodes per target gate at each checkpoint"
    )
    parser.add_argument("--teacher-kwargs", nargs="*", default=[], metavar="TEACHER:KEY=VALUE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in (
        "timesteps",
        "seeds",
        "jobs",
        "n_envs",
        "eval_episodes",
        "eval_points",
        "curve_episodes",
    ):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1")
    outdir = Path(args.outdir)
    options = make_options(outdir, **{k: v for k, v in vars(args).items() if k != "outdir"})
    command = " ".join(["python benchmarks/point_mass.py", *(argv or sys.argv[1:])])
    records, failures, wall = collect(options)
    teachers = [t for t in args.teachers if any(r["teacher"] == t for r in records)]
    if records:
        plot_success_curves(records, teachers, outdir / "success_curves.png")
        for teacher in teachers:
            plot_pooled_tasks(records, teacher, outdir / f"task_distribution_{teacher}.png")
    path = write_report(records, options, command, wall)
    print(path.read_text())
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
