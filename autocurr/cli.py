"""The ``autocurr`` command line: ``train``, ``eval``, ``mix``, ``bench`` and ``teachers``.

This module stays light: argparse and the teacher registry only. Torch and Stable-Baselines3 are
imported inside the ``train`` / ``eval`` subcommands, after checking that the ``sb3`` extra is
installed, so ``autocurr teachers`` and ``autocurr --help`` are instant and work without it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any

from autocurr.teachers import available, teacher_class

__all__ = ["build_parser", "main"]

#: Modules the ``sb3`` extra provides (import name -> distribution name).
SB3_EXTRA_MODULES = {
    "stable_baselines3": "stable-baselines3",
    "torch": "torch",
    "tensorboard": "tensorboard",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
    "rich": "rich",
}
#: Must match ``autocurr.agents.train.DEFAULT_TIMESTEPS`` (kept here so ``--help`` needs no torch;
#: a test checks they agree).
DEFAULT_TIMESTEPS = 2_000_000
USAGE_ERROR = 2
#: Exit status of a run stopped by Ctrl-C / SIGTERM (the shell convention: 128 + SIGINT).
INTERRUPTED = 130
#: ``train`` options that may accompany ``--resume`` (they change no result).
RESUME_COMPATIBLE = frozenset({"no_progress"})


class CliError(Exception):
    """A problem with the user's input: printed as ``autocurr <command>: error: ...``, exit 2."""


# ------------------------------------------------------------------------------------ parser


def parse_key_values(items: Sequence[str]) -> dict[str, Any]:
    """``["gamma=0.1", "reward=signal"]`` -> ``{"gamma": 0.1, "reward": "signal"}``; each value
    is parsed as JSON when possible (numbers, true/false/null, lists), else kept as a string."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise CliError(f"expected key=value, got {item!r}")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def _add_train_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a PPO student on a teacher's curriculum, then evaluate it on held-out tasks",
        description="Train an SB3 PPO student with a curriculum teacher. Outputs (TensorBoard "
        "events, model.zip, teacher_state.pkl, config.json, summary.json, plots) go to "
        "<logdir>/<run-name>/. Ctrl-C (or SIGTERM) stops at the end of the current rollout "
        "after saving <run>/checkpoint/; --resume <run> continues from it.",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a stopped or killed run from RUN_DIR/checkpoint/ with the settings in "
        "RUN_DIR/config.json, to its original --timesteps (only --no-progress may be added)",
    )
    parser.add_argument(
        "--env", default="autocurr/Maze-v0", help="gymnasium id (default: %(default)s)"
    )
    parser.add_argument(
        "--env-kwargs",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="keyword arguments of gymnasium.make, e.g. view_size=17 max_walls=40",
    )
    parser.add_argument(
        "--teacher", default="exp3", choices=available(), help="default: %(default)s"
    )
    parser.add_argument(
        "--teacher-kwargs",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="teacher hyperparameters, e.g. gamma=0.2 reward=progress (values parsed as JSON)",
    )
    parser.add_argument(
        "--task-param",
        metavar="NAME",
        help="attribute of env.unwrapped the teacher sets (envs without a built-in preset)",
    )
    parser.add_argument(
        "--task-values",
        metavar="V1,V2,...",
        help="comma-separated values of --task-param, one task each",
    )
    parser.add_argument(
        "--timesteps",
        type=int,
        default=DEFAULT_TIMESTEPS,
        help="environment steps (default: %(default)s, a few minutes on 2 CPU cores)",
    )
    parser.add_argument(
        "--n-envs", type=int, help="parallel envs (default: 8, or 256 for --agent ppo-batched)"
    )
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    _add_device_argument(parser)
    parser.add_argument("--logdir", default="runs", help="default: %(default)s")
    parser.add_argument("--run-name", help="default: <env>-<teacher>-s<seed>, sanitised")
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=10,
        help="held-out episodes per test task after training; 0 skips (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--checkpoint-freq",
        type=int,
        default=0,
        metavar="STEPS",
        help="also save model + teacher every STEPS env steps under checkpoints/ (0: only at end)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="STEPS",
        help="save the resumable checkpoint (RUN_DIR/checkpoint/, replaced each time) every "
        "STEPS env steps at a rollout boundary (default: 10%% of --timesteps, at most 50,000; "
        "0: only on Ctrl-C / SIGTERM and at the end)",
    )
    parser.add_argument(
        "--ppo-kwargs",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override PPO settings, e.g. learning_rate=1e-3 n_steps=256",
    )
    parser.add_argument(
        "--levels",
        choices=("random", "empty"),
        help="train on the env's open-ended level space (maze): 'random' generator levels "
        "(with --teacher uniform: domain randomisation) or 'empty' rooms; default: 'empty' "
        "for accel, 'random' for plr, sfl, paired and repaired, off for the other teachers",
    )
    parser.add_argument(
        "--level-kwargs",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="keyword arguments of the level space, e.g. solvable_mutations=true n_edits=10 "
        "(maze: autocurr.envs.maze.maze_levels)",
    )
    parser.add_argument(
        "--agent",
        choices=("sb3-ppo", "ppo-batched"),
        default="sb3-ppo",
        help="the student: SB3 PPO (default) or the batched torch PPO on the maze "
        "(env, rollouts and learner on --device; --n-envs defaults to 256 for it)",
    )
    parser.add_argument(
        "--oracle-score",
        action="store_true",
        help="regret-based teachers: score levels by their true regret (maze BFS optimum minus "
        "the achieved return), a diagnostic upper bound",
    )
    parser.set_defaults(handler=_run_train)


def _add_eval_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a trained run on a held-out suite",
        description="Evaluate a saved student on held-out tasks; writes eval_<suite>.json next "
        "to the model (CVaR suites also go into the run's summary.json under 'cvar').",
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        metavar="PATH",
        help="a run directory (or checkpoint directory) or a model .zip",
    )
    parser.add_argument(
        "--suite",
        default=None,
        help="held-out suite: maze-test (default for the maze), maze-test-large, or task-values; "
        "maze-random-1000 / maze-random-1000-dense run the de-biased CVaR protocol on 1,000 "
        "fixed random levels (--episodes per level and seed, seeds --seed and --seed + 1)",
    )
    parser.add_argument(
        "--episodes", type=int, default=10, help="per test task (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument(
        "--deterministic", action="store_true", help="greedy instead of sampled actions"
    )
    _add_device_argument(parser)
    parser.set_defaults(handler=_run_eval)


def _add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="auto = cpu: a PPO MLP runs faster on CPU than on a GPU (default: %(default)s)",
    )


#: What ``autocurr mix`` needs: the torch / TensorBoard / matplotlib / tqdm part of either extra.
MIX_MODULES = {
    module: SB3_EXTRA_MODULES[module] for module in ("torch", "tensorboard", "matplotlib", "tqdm")
}


def _add_mix_parser(subparsers: Any) -> None:
    from autocurr.agents.mix_lm import add_mix_parser

    add_mix_parser(subparsers).set_defaults(handler=_run_mix)


def _run_mix(args: argparse.Namespace) -> int:
    missing = [
        name for module, name in MIX_MODULES.items() if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise CliError(
            "autocurr mix needs torch, tensorboard, matplotlib and tqdm: "
            f'pip install "autocurr[hf]" (or the sb3 extra; missing: {", ".join(missing)})'
        )
    from autocurr.agents.mix_lm import run_mix

    return run_mix(args)


def _add_bench_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run benchmark suites, list them, or regenerate BENCHMARKS.md from their results",
        description="autocurr bench SUITE [SUITE ...] | all: run suites from the repository's "
        "benchmarks/ folder; each run writes <results-dir>/<suite>/<UTC time>[-quick]/ "
        "(results.json with command, versions, machine and date, one CSV per table, plots). "
        "autocurr bench report: rewrite the <!-- bench:SUITE --> blocks of BENCHMARKS.md from "
        "each suite's latest full run (else its latest quick run), copy the run's plots to "
        "docs/benchmarks/<suite>/ and warn when a <!-- prose:SUITE written-for=RUN --> line "
        "names another run. autocurr bench list: the suites.",
    )
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="SUITE|all|report|list",
        help="suites to run ('all': every suite), or 'report' [SUITE ...], or 'list'",
    )
    parser.add_argument(
        "--seeds", type=int, help="seeds per configuration (default: each suite's own)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: every suite in minutes, not the numbers"
    )
    parser.add_argument("--results-dir", default="bench_results", help="default: %(default)s")
    parser.add_argument(
        "--benchmarks-dir",
        help="folder of suite modules (default: benchmarks/ of the checkout autocurr runs from)",
    )
    parser.add_argument(
        "--output",
        default="BENCHMARKS.md",
        help="report: the file to update (default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="report: write nothing; exit 1 when a suite's discussion was written for another "
        "run than the one its block would report, or has no prose marker",
    )
    parser.set_defaults(handler=_run_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autocurr",
        description="Automatic curricula for reinforcement learning and data mixing.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train_parser(subparsers)
    _add_eval_parser(subparsers)
    _add_mix_parser(subparsers)
    _add_bench_parser(subparsers)
    teachers = subparsers.add_parser("teachers", help="list the available teachers")
    teachers.set_defaults(handler=_run_teachers)
    return parser


# ------------------------------------------------------------------------------------ commands


def _require_sb3_extra(command: str) -> None:
    missing = [
        distribution
        for module, distribution in SB3_EXTRA_MODULES.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise CliError(
            f'autocurr {command} needs the sb3 extra: pip install "autocurr[sb3]" '
            f"(missing: {', '.join(missing)})"
        )


def _run_teachers(args: argparse.Namespace) -> int:
    names = available()
    width = max(len(name) for name in names)
    print(f"{'teacher'.ljust(width)}  signal   description")
    for name in names:
        cls = teacher_class(name)
        print(f"{name.ljust(width)}  {cls.signal:<7}  {_one_line_doc(cls)}")
    return 0


def _one_line_doc(cls: type) -> str:
    # A teacher module's docstring opens with its best summary ("EXP3 teacher: ..."); the class
    # docstring is the fallback for teachers defined elsewhere.
    for doc in (sys.modules[cls.__module__].__doc__, cls.__doc__):
        lines = (doc or "").strip().splitlines()
        if lines:
            return lines[0]
    return ""


def _run_bench(args: argparse.Namespace) -> int:
    from autocurr import bench

    command, *rest = args.targets
    try:
        suites = bench.discover_suites(bench.find_benchmarks_dir(args.benchmarks_dir))
        if command == "list":
            return _bench_list(suites, rest)
        if command == "report":
            return _bench_report(args, suites, rest)
        if args.check:
            raise CliError("--check goes with 'report' only")
        if {"list", "report"} & set(rest):
            raise CliError("'list' and 'report' cannot be combined with suite names")
        return _bench_run(args, bench.resolve_suites(suites, args.targets))
    except bench.BenchError as error:
        raise CliError(str(error)) from None


def _bench_list(suites: dict[str, Any], rest: list[str]) -> int:
    if rest:
        raise CliError(f"'list' takes no suite names, got {' '.join(rest)}")
    if not suites:
        print("no suites found")
        return 0
    width = max(len(name) for name in suites)
    for name, suite in suites.items():
        print(f"{name.ljust(width)}  {suite.description}")
    return 0


def _bench_report(args: argparse.Namespace, suites: dict[str, Any], only: list[str]) -> int:
    from autocurr import bench

    if args.quick or args.seeds is not None:
        raise CliError("'report' takes no --quick or --seeds (it reads the latest results)")
    status = bench.write_report(args.results_dir, args.output, suites, only, check=args.check)
    if not status.done:
        print(f"no results under {args.results_dir}/: {args.output} unchanged", file=sys.stderr)
        return 1
    for name, (written_for, run) in status.stale.items():
        print(
            f"autocurr bench report: warning: the discussion of {name} was written for run "
            f"{written_for}, its block reports run {run}: check the numbers it quotes, then set "
            f"written-for={run} in its <!-- prose:{name} --> line",
            file=sys.stderr,
        )
    for name in status.missing:
        print(
            f"autocurr bench report: {name} has no <!-- prose:{name} written-for=RUN --> line",
            file=sys.stderr,
        )
    if args.check:
        if status.stale or status.missing:
            return 1
        print(f"{args.output}: the discussion of every reported suite matches its run")
        return 0
    print(f"updated {args.output}: {', '.join(status.done)}")
    for name, plots in status.plots.items():
        print(f"  {name}: {len(plots)} plot(s) in {plots[0].parent}")
    return 0


def _bench_run(args: argparse.Namespace, chosen: list[Any]) -> int:
    from autocurr import bench

    if args.seeds is not None and args.seeds < 1:
        raise CliError(f"--seeds must be >= 1, got {args.seeds}")
    failed = []
    with bench.progress(len(chosen)) as start:
        for suite in chosen:
            start(suite.name)
            try:
                path = bench.run_suite(
                    suite, seeds=args.seeds, quick=args.quick, results_dir=args.results_dir
                )
            except KeyboardInterrupt:
                print(f"autocurr bench: {suite.name} interrupted", file=sys.stderr)
                return INTERRUPTED
            except Exception as error:  # one failing suite must not stop `bench all`
                failed.append(suite.name)
                print(f"autocurr bench: {suite.name} failed: {error!r}", file=sys.stderr)
                continue
            record = json.loads(path.read_text())
            print(f"{suite.name}: {record['duration_s']:.1f} s -> {path}")
    if failed:
        print(f"autocurr bench: failed: {', '.join(failed)} (see error.txt)", file=sys.stderr)
        return 1
    return 0


def _run_train(args: argparse.Namespace) -> int:
    _require_sb3_extra("train")
    from autocurr.agents.train import TrainingInterrupted

    try:
        summary = _resume(args) if args.resume is not None else _train(args)
    except TrainingInterrupted as stop:
        print(f"autocurr train: {stop}", file=sys.stderr)
        return INTERRUPTED
    except KeyboardInterrupt:
        print(
            "autocurr train: aborted without a checkpoint; --resume RUN_DIR continues from the "
            "last periodic one",
            file=sys.stderr,
        )
        return INTERRUPTED
    _print_train_report(summary)
    if summary["held_out"] is not None:
        from autocurr.agents.evaluation import print_eval_table

        print_eval_table(summary["held_out"])
    return 0


def _resume(args: argparse.Namespace) -> dict[str, Any]:
    from autocurr.agents.train import check_resume, resume

    defaults = vars(build_parser().parse_args(["train"]))
    ignored = {"resume", "handler", "command", *RESUME_COMPATIBLE}
    conflicts = [
        "--" + name.replace("_", "-")
        for name, value in vars(args).items()
        if name not in ignored and value != defaults.get(name)
    ]
    if conflicts:
        raise CliError(
            f"--resume continues the run with the settings in {args.resume}/config.json; drop "
            f"{', '.join(conflicts)} (only --no-progress may be given with --resume)"
        )
    try:
        check_resume(args.resume)
    except ValueError as error:
        raise CliError(str(error)) from None
    return resume(args.resume, progress=False if args.no_progress else None)


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from autocurr.agents.train import TrainConfig, check_config, train

    config = TrainConfig(
        env_id=args.env,
        env_kwargs=parse_key_values(args.env_kwargs),
        teacher=args.teacher,
        teacher_kwargs=parse_key_values(args.teacher_kwargs),
        task_param=args.task_param,
        task_values=_task_values(args.task_values),
        timesteps=args.timesteps,
        n_envs=args.n_envs or (256 if args.agent == "ppo-batched" else 8),
        seed=args.seed,
        device=args.device,
        logdir=args.logdir,
        run_name=args.run_name,
        eval_episodes=args.eval_episodes,
        progress=not args.no_progress,
        checkpoint_freq=args.checkpoint_freq,
        checkpoint_every=args.checkpoint_every,
        ppo_kwargs=parse_key_values(args.ppo_kwargs),
        levels=args.levels,
        level_kwargs=parse_key_values(args.level_kwargs),
        oracle_score=args.oracle_score,
        agent=args.agent,
    )
    try:
        check_config(config)
    except ValueError as error:
        raise CliError(str(error)) from None
    return train(config)


def _task_values(text: str | None) -> list[Any] | None:
    if text is None:
        return None
    from autocurr.agents.tasks import parse_task_values

    return parse_task_values(text)


def _print_train_report(summary: dict[str, Any]) -> None:
    teacher = summary["teacher"]
    labels = summary["tasks"]["task_labels"]
    reported = f"{summary['episodes']['teacher_updates']:,} episodes reported to the teacher"
    if "ued" in summary:  # regret-based teachers get one score per level and rollout
        budget = summary["ued"]
        reported = (
            f"{summary['episodes']['teacher_updates']:,} level scores reported to the teacher; "
            f"{budget['steps_no_grad'] / max(1, budget['env_steps']):.0%} of the steps "
            "without gradient"
        )
    print(
        f"trained {summary['total_timesteps']:,} steps in {summary['train_time_s']:.0f} s "
        f"({summary['steps_per_second']:,.0f} steps/s); {reported}"
    )
    if teacher["final_probabilities"] is not None:
        shares = ", ".join(
            f"{label}: {p:.2f}"
            for label, p in zip(labels, teacher["final_probabilities"], strict=True)
        )
        print(f"final {teacher['name']} probabilities: {shares}")
    print(f"outputs in {summary['run_dir']}/")
    for name, path in summary["outputs"].items():
        if name == "tensorboard":  # printed below as a ready-to-run command
            continue
        print(f"  {name:<18} {path}")
    print(f"  tensorboard --logdir {summary['run_dir']}")


def _run_eval(args: argparse.Namespace) -> int:
    _require_sb3_extra("eval")
    from autocurr.agents.evaluation import print_eval_table
    from autocurr.agents.train import check_eval_inputs, evaluate

    if args.episodes < 1:
        raise CliError(f"--episodes must be >= 1, got {args.episodes}")
    if args.suite is not None and args.suite.startswith("maze-random-"):
        return _run_cvar_eval(args)
    try:
        check_eval_inputs(args.checkpoint, args.suite, args.device)
    except ValueError as error:
        raise CliError(str(error)) from None
    result, path = evaluate(
        args.checkpoint,
        suite=args.suite,
        episodes=args.episodes,
        seed=args.seed,
        device=args.device,
        deterministic=args.deterministic,
    )
    print_eval_table(result)
    print(f"wrote {path}")
    return 0


def _run_cvar_eval(args: argparse.Namespace) -> int:
    """``autocurr eval --suite maze-random-...``: the de-biased CVaR protocol on a maze run."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    from autocurr.agents.evaluation import cvar_solve_rates, print_cvar_table, random_level_suite
    from autocurr.agents.tasks import MAZE_ENV_ID
    from autocurr.agents.train import check_eval_inputs, find_run_files, resolve_device

    try:
        levels = random_level_suite(args.suite)
        model_path, preset, saved = check_eval_inputs(args.checkpoint, None, args.device)
    except ValueError as error:
        raise CliError(str(error)) from None
    if preset.env_id != MAZE_ENV_ID:
        raise CliError(f"suite {args.suite!r} needs a {MAZE_ENV_ID} run, not {preset.env_id}")
    model = PPO.load(model_path, device=resolve_device(args.device))
    env_kwargs = saved.get("env_kwargs", {})
    result = cvar_solve_rates(
        model,
        levels,
        episodes_per_level=args.episodes,
        seeds=(args.seed, args.seed + 1),
        make_env=lambda: gym.make(preset.env_id, **env_kwargs),
        deterministic=args.deterministic,
    )
    result = {"suite": args.suite, "checkpoint": str(model_path), **result}
    print_cvar_table(result)
    out_path = model_path.parent / f"eval_{args.suite}.json"
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out_path}")
    summary_path = find_run_files(args.checkpoint)[1].parent / "summary.json"
    # Only the run's final model speaks for the run; checkpoints keep their own eval file.
    if summary_path.parent == model_path.parent and summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        tables = summary.setdefault("cvar", {})
        tables[args.suite] = {key: value for key, value in result.items() if key != "per_level"}
        summary_path.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"updated {summary_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``autocurr`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CliError as error:
        print(f"autocurr {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
