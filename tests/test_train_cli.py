"""End-to-end tests of ``autocurr train`` / ``autocurr eval`` with the SB3 PPO student.

One short maze run (module-scoped fixture) feeds most tests; the rest are quick error paths and
unit checks of the env presets.
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("tensorboard")

from autocurr.agents.tasks import (
    MAZE_DISTANCE_BINS,
    CartPoleLength,
    MazeLevelInDistanceBin,
    resolve_preset,
)
from autocurr.cli import main
from autocurr.envs import shortest_path_length

SMOKE_STEPS = 10_000
SUMMARY_KEYS = {
    "config",
    "versions",
    "wall_time_s",
    "train_time_s",
    "steps_per_second",
    "total_timesteps",
    "teacher",
    "tasks",
    "episodes",
    "training_curve",
    "curriculum_history",
    "held_out",
    "outputs",
}


@pytest.fixture(scope="module")
def maze_run(tmp_path_factory) -> Path:
    logdir = tmp_path_factory.mktemp("runs")
    argv = [
        "train",
        "--timesteps", str(SMOKE_STEPS),
        "--n-envs", "2",
        "--eval-episodes", "1",
        "--no-progress",
        "--checkpoint-freq", "5000",
        "--logdir", str(logdir),
    ]  # fmt: skip
    assert main(argv) == 0
    return logdir / "autocurr-Maze-v0-exp3-s0"


def read_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def monitor_episode_count(run_dir: Path) -> int:
    """Episodes in SB3's Monitor CSVs (one comment line and one header line per file)."""
    total = 0
    for path in (run_dir / "monitor").glob("*.monitor.csv"):
        lines = path.read_text().splitlines()
        assert lines[0].startswith("#") and lines[1] == "r,l,t"
        total += sum(1 for _ in csv.reader(lines[2:]))
    return total


def test_train_logs_curriculum_to_tensorboard(maze_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert list(maze_run.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(maze_run), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    scalars = events.Tags()["scalars"]
    for i in range(len(MAZE_DISTANCE_BINS)):
        assert f"curriculum/p_task_{i}" in scalars
        assert f"curriculum/episodes_task_{i}" in scalars
    assert "teacher/entropy" in scalars and "curriculum/success_rate" in scalars
    assert "curriculum/task_histogram" in events.Tags()["histograms"]
    probabilities = [events.Scalars(f"curriculum/p_task_{i}")[-1].value for i in range(6)]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)


def test_train_writes_summary_model_and_plots(maze_run):
    summary = read_summary(maze_run)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["total_timesteps"] >= SMOKE_STEPS
    assert summary["steps_per_second"] > 0
    assert len(summary["teacher"]["final_probabilities"]) == len(MAZE_DISTANCE_BINS)
    assert summary["tasks"]["task_labels"][0] == "path 1-2"
    curve = summary["training_curve"]
    assert len(curve["timesteps"]) == len(curve["success_rate"]) == len(curve["mean_return"]) > 1
    assert len(summary["held_out"]["cases"]) == 10
    for name in ("model.zip", "teacher_state.pkl", "config.json"):
        assert (maze_run / name).is_file()
    for name in ("learning_curve.png", "task_distribution.png"):
        assert (maze_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_teacher_received_exactly_the_episodes_monitor_counted(maze_run):
    with (maze_run / "teacher_state.pkl").open("rb") as file:
        teacher_updates = pickle.load(file)["n_updates"]
    counted = monitor_episode_count(maze_run)
    assert counted > 0
    assert teacher_updates == counted
    episodes = read_summary(maze_run)["episodes"]
    assert episodes["teacher_updates"] == episodes["monitor"] == episodes["callback"] == counted
    assert sum(read_summary(maze_run)["tasks"]["episodes_per_task"]) == counted


def test_checkpoints_hold_model_and_teacher(maze_run):
    from autocurr.integrations.sb3 import load_teacher_state

    checkpoints = sorted((maze_run / "checkpoints").iterdir())
    assert [path.name for path in checkpoints] == ["10000_steps", "5000_steps"]
    teacher = load_teacher_state(checkpoints[1] / "teacher_state.pkl")
    assert teacher.name == "exp3" and teacher.n_updates > 0
    assert (checkpoints[1] / "model.zip").is_file()


def test_eval_writes_json_next_to_the_checkpoint(maze_run, capsys):
    assert main(["eval", "--checkpoint", str(maze_run), "--episodes", "2", "--seed", "3"]) == 0
    result = json.loads((maze_run / "eval_maze-test.json").read_text())
    assert result["suite"] == "maze-test" and result["episodes"] == 2
    assert {case["name"] for case in result["cases"]} >= {"corridor", "open_room", "zigzag"}
    assert all(0.0 <= case["solve_rate"] <= 1.0 for case in result["cases"])
    assert "open_room" in capsys.readouterr().out


def test_eval_accepts_a_checkpoint_model_file(maze_run):
    model = maze_run / "checkpoints" / "5000_steps" / "model.zip"
    assert main(["eval", "--checkpoint", str(model), "--episodes", "1"]) == 0
    assert (model.parent / "eval_maze-test.json").is_file()


def test_eval_rejects_a_suite_of_another_env(maze_run, capsys):
    assert main(["eval", "--checkpoint", str(maze_run), "--suite", "task-values"]) == 2
    assert "does not apply" in capsys.readouterr().err


def test_cartpole_preset_trains_without_task_flags(tmp_path):
    argv = ["train", "--env", "CartPole-v1", "--timesteps", "2000", "--n-envs", "2",
            "--eval-episodes", "1", "--no-progress", "--logdir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    summary = read_summary(tmp_path / "CartPole-v1-exp3-s0")
    assert summary["tasks"]["task_labels"] == [
        "length=0.25", "length=0.5", "length=1.0", "length=2.0"
    ]  # fmt: skip
    assert [case["name"] for case in summary["held_out"]["cases"]] == summary["tasks"][
        "task_labels"
    ]
    assert summary["held_out"]["cases"][0]["solve_rate"] is None  # CartPole has no "solved"
    assert summary["episodes"]["teacher_updates"] == summary["episodes"]["monitor"] > 0


def test_bad_teacher_name_exits_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--teacher", "no-such-teacher", "--logdir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'no-such-teacher'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "Acrobot-v1"], "no task preset for env 'Acrobot-v1'"),
        (["--env", "NoSuchEnv-v0"], "unknown gymnasium id"),
        (["--task-param", "length"], "go together"),
        (["--teacher-kwargs", "gama=0.1"], "bad --teacher-kwargs for teacher 'exp3'"),
        (["--teacher-kwargs", "gamma=2"], "gamma must be in (0, 1]"),
        (["--timesteps", "0"], "timesteps must be >= 1"),
        (["--level-kwargs", "n_edits=3"], "level_kwargs need a level space"),
        (["--teacher", "accel", "--level-kwargs", "bogus=1"], "bad level kwargs"),
    ],
)
def test_bad_train_input_is_a_clear_error(tmp_path, capsys, argv, message):
    assert main(["train", "--logdir", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing written for a run that never started


def test_cuda_request_without_cuda_is_a_clear_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main(["train", "--device", "cuda", "--logdir", str(tmp_path)]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_missing_sb3_extra_gives_the_install_hint(monkeypatch, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec_without_sb3(name, *args):
        return None if name == "stable_baselines3" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec_without_sb3)
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert 'autocurr train needs the sb3 extra: pip install "autocurr[sb3]"' in err
    assert "stable-baselines3" in err


def test_teachers_command_lists_every_teacher(capsys):
    from autocurr import available

    assert main(["teachers"]) == 0
    out = capsys.readouterr().out
    for name in available():
        assert f"\n{name} " in out
    assert "EXP3" in out


def test_cli_default_timesteps_matches_the_trainer():
    from autocurr import cli
    from autocurr.agents import train

    assert cli.DEFAULT_TIMESTEPS == train.DEFAULT_TIMESTEPS == train.TrainConfig().timesteps


# ------------------------------------------------------------------------------------ presets


def test_maze_tasks_draw_levels_in_their_distance_bin():
    env = gym.make("autocurr/Maze-v0")
    apply_task = MazeLevelInDistanceBin(np.random.default_rng(0))
    for task, (shortest, longest) in enumerate(MAZE_DISTANCE_BINS):
        for _ in range(5):
            apply_task(env, task)
            _, info = env.reset()
            assert shortest <= shortest_path_length(info["level"]) <= longest
            assert info["shortest_path"] == shortest_path_length(info["level"])


def test_maze_task_levels_are_reproducible_from_the_seed():
    def levels(seed):
        env = gym.make("autocurr/Maze-v0")
        apply_task = MazeLevelInDistanceBin(np.random.default_rng(seed))
        out = []
        for task in (0, 5, 3):
            apply_task(env, task)
            out.append(env.reset()[1]["level"])
        return out

    assert levels(1) == levels(1) != levels(2)


def test_cartpole_length_task_changes_the_dynamics():
    env = gym.make("CartPole-v1")
    CartPoleLength()(env, 3)
    assert env.unwrapped.length == 2.0
    assert env.unwrapped.polemass_length == pytest.approx(env.unwrapped.masspole * 2.0)


def test_task_param_preset_sets_the_attribute():
    preset = resolve_preset("CartPole-v1", "gravity", "9.8,20")
    env = gym.make("CartPole-v1")
    preset.make_apply_task(np.random.default_rng(0))(env, 1)
    assert env.unwrapped.gravity == 20
    assert preset.task_labels == ("gravity=9.8", "gravity=20")
    with pytest.raises(ValueError, match="has no attribute 'gravty'"):
        resolve_preset("CartPole-v1", "gravty", "1,2").make_apply_task(None)(env, 0)


def test_level_kwargs_reach_the_level_space():
    from autocurr.agents.train import TrainConfig, check_config
    from autocurr.envs.maze import is_solvable

    config = TrainConfig(teacher="accel", level_kwargs={"solvable_mutations": True, "n_edits": 8})
    space = check_config(config)[0].space
    assert space.to_config()["kwargs"]["solvable_mutations"] is True
    assert space.to_config()["kwargs"]["n_edits"] == 8
    rng = np.random.default_rng(0)
    level = space.sample(rng)
    for _ in range(50):  # eight edits of an empty room often wall the goal off; never here
        level = space.mutate(rng, level)
        assert is_solvable(space.decode(level))
