"""``autocurr train --resume``: checkpoints at rollout boundaries, restored exactly.

The module fixture trains the same tiny maze run twice: once straight through, once stopped at
a rollout boundary (as Ctrl-C does) and resumed. On one machine the two must end identical:
teacher state, policy weights, curriculum history and every logged TensorBoard value; PAIRED and
REPAIRED runs also their antagonist, its Monitor rows and the adversary inside the teacher. The
slow test kills a real ``autocurr train`` process (SIGKILL, then SIGINT) and resumes it.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("tensorboard")

import torch
from stable_baselines3 import PPO

import autocurr.agents.checkpoint as checkpoint_module
import autocurr.agents.train as train_module
from autocurr.agents.train import (
    TrainConfig,
    TrainingInterrupted,
    find_checkpoint,
    resume,
    train,
)
from autocurr.cli import main
from autocurr.teachers import from_state_dict

N_ENVS, N_STEPS = 4, 128  # a rollout is 512 env steps
ROLLOUT = N_ENVS * N_STEPS
TIMESTEPS = 6 * ROLLOUT
STOP_AT = 2 * ROLLOUT + 1  # stops at the boundary after three rollouts


def tiny_config(logdir: Path, run_name: str, **overrides) -> TrainConfig:
    settings = {
        "timesteps": TIMESTEPS,
        "n_envs": N_ENVS,
        "eval_episodes": 0,
        "progress": False,
        "checkpoint_every": ROLLOUT,
        "logdir": str(logdir),
        "run_name": run_name,
        **overrides,
    }
    return TrainConfig(**settings)


def assert_same(a, b, path="state"):
    """Recursive equality for state dicts (numpy arrays, tensors, nested containers)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


def load_pickle(path: Path):
    with path.open("rb") as file:
        return pickle.load(file)


def scalars(run_dir: Path, file_order: bool = False) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    # Sorted by step: the accumulator reads event files in name order, and two writers opened in
    # the same second of one process differ only by a counter that sorts as text (".10" < ".9").
    # file_order keeps the read order: right for writers opened in different seconds.
    arrange = list if file_order else sorted
    return {
        tag: arrange((event.step, event.value) for event in events.Scalars(tag))
        for tag in events.Tags()["scalars"]
    }


def policy_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return PPO.load(run_dir / "model.zip", device="cpu").policy.state_dict()


def resume_recording_teacher(run_resume):
    """``run_resume()``'s result and the teacher's ``state_dict`` as the resumed run rebuilt it,
    taken before it trained on."""
    at_resume = {}
    real_train_sb3 = train_module._train_sb3

    def recording_train_sb3(config, preset, device, teacher, *args):
        at_resume["teacher"] = teacher.state_dict()
        return real_train_sb3(config, preset, device, teacher, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "_train_sb3", recording_train_sb3)
        result = run_resume()
    return result, at_resume["teacher"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """An uninterrupted run and the same run stopped after three rollouts and resumed; records
    the teacher as ``resume`` rebuilt it, before training on."""
    logdir = tmp_path_factory.mktemp("runs")
    straight = train(tiny_config(logdir, "straight"))
    with pytest.raises(TrainingInterrupted) as stop:
        train(tiny_config(logdir, "resumed"), stop_at_steps=STOP_AT)
    run_dir = logdir / "resumed"
    checkpoint_teacher = load_pickle(run_dir / "checkpoint" / "teacher_state.pkl")
    checkpoint_meta = json.loads((run_dir / "checkpoint" / "meta.json").read_text())
    resumed, teacher_at_resume = resume_recording_teacher(lambda: resume(run_dir))
    return {
        "straight": straight,
        "resumed": resumed,
        "logdir": logdir,
        "stop": stop.value,
        "checkpoint_teacher": checkpoint_teacher,
        "checkpoint_meta": checkpoint_meta,
        "teacher_at_resume": teacher_at_resume,
    }


def test_stop_saves_a_checkpoint_at_a_rollout_boundary(runs):
    stop = runs["stop"]
    assert stop.steps == 3 * ROLLOUT and stop.total == TIMESTEPS
    assert "autocurr train --resume" in str(stop)
    assert runs["checkpoint_meta"]["steps"] == 3 * ROLLOUT
    names = {path.name for path in (runs["logdir"] / "resumed" / "checkpoint").iterdir()}
    assert names >= {"model.zip", "teacher_state.pkl", "state.pkl", "config.json", "meta.json"}


def test_teacher_at_resume_equals_the_checkpoint_and_samples_alike(runs):
    saved = runs["checkpoint_teacher"]
    assert saved["n_updates"] > 0
    assert_same(runs["teacher_at_resume"], saved)
    a, b = from_state_dict(saved), from_state_dict(runs["teacher_at_resume"])
    assert [a.sample() for _ in range(50)] == [b.sample() for _ in range(50)]


def test_resumed_run_ends_identical_to_the_uninterrupted_run(runs):
    straight, resumed = runs["straight"], runs["resumed"]
    assert resumed["total_timesteps"] == straight["total_timesteps"] == TIMESTEPS
    assert resumed["resumed_at_steps"] == [3 * ROLLOUT] and straight["resumed_at_steps"] == []
    assert resumed["episodes"] == straight["episodes"]
    assert resumed["curriculum_history"] == straight["curriculum_history"]
    logdir = runs["logdir"]
    assert_same(
        load_pickle(logdir / "resumed" / "teacher_state.pkl"),
        load_pickle(logdir / "straight" / "teacher_state.pkl"),
    )
    assert_same(policy_weights(logdir / "resumed"), policy_weights(logdir / "straight"))
    assert (logdir / "resumed" / "summary.json").is_file()


def test_tensorboard_continues_without_gaps_or_duplicates(runs):
    logdir = runs["logdir"]
    straight, resumed = scalars(logdir / "straight"), scalars(logdir / "resumed")
    assert len(list((logdir / "resumed").glob("events.out.tfevents.*"))) == 2  # two processes
    # time/* holds wall-clock rates, which differ between any two runs
    same_tags = [tag for tag in straight if not tag.startswith("time/")]
    assert set(resumed) == set(straight) and same_tags
    for tag in same_tags:
        assert resumed[tag] == straight[tag], tag
    steps = [step for step, _ in resumed["curriculum/episodes"]]
    assert steps == list(range(ROLLOUT, TIMESTEPS + 1, ROLLOUT))


def test_finished_run_refuses_to_resume_and_flags_conflict(runs, capsys):
    run_dir = runs["logdir"] / "resumed"
    assert main(["train", "--resume", str(run_dir)]) == 2
    assert "already finished" in capsys.readouterr().err
    assert main(["train", "--resume", str(run_dir), "--timesteps", "99", "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "drop --timesteps, --seed" in err and "only --no-progress" in err


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"timesteps": 1000, "n_envs": 2}))
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_a_run_still_training_cannot_be_resumed(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"timesteps": 1000, "n_envs": 2}))
    with checkpoint_module.RunLock(tmp_path), pytest.raises(ValueError, match="another process"):
        resume(tmp_path)


def test_find_checkpoint_repairs_an_interrupted_swap(tmp_path):
    def fake(name: str, steps: int) -> None:
        directory = tmp_path / name
        directory.mkdir()
        meta = {"format": checkpoint_module.CHECKPOINT_FORMAT, "steps": steps}
        (directory / "meta.json").write_text(json.dumps(meta))

    assert find_checkpoint(tmp_path) is None
    fake("checkpoint.old", 100)  # killed between "checkpoint -> .old" and ".new -> checkpoint"
    fake("checkpoint.new", 200)
    (tmp_path / "checkpoint.new" / "model.zip").write_text("newest")
    found = find_checkpoint(tmp_path)
    assert found == tmp_path / "checkpoint" and (found / "model.zip").read_text() == "newest"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint"]
    (tmp_path / "checkpoint.new").mkdir()  # a half-written one (no meta.json) is ignored
    assert json.loads((find_checkpoint(tmp_path) / "meta.json").read_text())["steps"] == 200


def straight_and_resumed(tmp_path: Path, stop_at: int, **overrides) -> tuple[dict, dict]:
    """Summaries of a run trained straight through and of the same run stopped and resumed."""
    straight = train(tiny_config(tmp_path, "straight", **overrides))
    with pytest.raises(TrainingInterrupted):
        train(tiny_config(tmp_path, "resumed", **overrides), stop_at_steps=stop_at)
    resumed = resume(tmp_path / "resumed")
    assert resumed["total_timesteps"] == straight["total_timesteps"]
    assert_same(
        load_pickle(tmp_path / "resumed" / "teacher_state.pkl"),
        load_pickle(tmp_path / "straight" / "teacher_state.pkl"),
    )
    return straight, resumed


def test_batched_student_resumes_identically(tmp_path):
    rollout = 16 * 128
    overrides = {"agent": "ppo-batched", "n_envs": 16, "timesteps": 4 * rollout}
    straight, resumed = straight_and_resumed(
        tmp_path, 2 * rollout, checkpoint_every=rollout, **overrides
    )
    assert resumed["training_curve"] == straight["training_curve"]
    weights = [torch.load(tmp_path / name / "model.pt") for name in ("resumed", "straight")]
    assert_same(*weights)


def test_regret_based_run_resumes_identically(tmp_path):
    straight, resumed = straight_and_resumed(tmp_path, STOP_AT, teacher="plr")
    assert resumed["ued"] == straight["ued"]
    assert resumed["curriculum_history"] == straight["curriculum_history"]
    assert_same(policy_weights(tmp_path / "resumed"), policy_weights(tmp_path / "straight"))


#: A PAIRED iteration: the protagonist's rollout, then the antagonist's on the same levels (both
#: count as env steps).
PAIRED_ITERATION = 2 * ROLLOUT


def monitor_episodes(directory: Path) -> list[list[str]]:
    """Return and length of every Monitor row in ``directory`` (``t`` is wall-clock time)."""
    rows = []
    for path in sorted(directory.glob("*.monitor.csv")):
        rows += [line.split(",")[:2] for line in path.read_text().splitlines()[2:]]
    return rows


@pytest.mark.parametrize(
    ("teacher", "teacher_kwargs"),
    [("paired", {}), ("repaired", {"buffer_size": 8})],  # 8: replay from the second batch on
)
def test_adversarial_run_resumes_identically(tmp_path, teacher, teacher_kwargs):
    """PAIRED / REPAIRED: the antagonist, its envs and the adversary inside the teacher are
    checkpointed; the run stopped after two iterations and resumed ends as the straight one."""
    overrides = {
        "teacher": teacher,
        "teacher_kwargs": teacher_kwargs,
        "timesteps": 4 * PAIRED_ITERATION,
    }
    straight = train(tiny_config(tmp_path, "straight", **overrides))
    with pytest.raises(TrainingInterrupted) as stop:
        train(tiny_config(tmp_path, "resumed", **overrides), stop_at_steps=PAIRED_ITERATION + 1)
    assert stop.value.steps == 2 * PAIRED_ITERATION
    run_dir = tmp_path / "resumed"
    checkpoint = run_dir / "checkpoint"
    assert (checkpoint / "antagonist.zip").is_file()
    saved_teacher = load_pickle(checkpoint / "teacher_state.pkl")
    assert saved_teacher["state"]["adversary"]["n_updates"] >= 1  # the adversary's weights
    resumed, teacher_at_resume = resume_recording_teacher(lambda: resume(run_dir))

    assert_same(teacher_at_resume, saved_teacher)
    a, b = from_state_dict(saved_teacher), from_state_dict(teacher_at_resume)
    assert [a.sample(N_ENVS) for _ in range(3)] == [b.sample(N_ENVS) for _ in range(3)]

    assert resumed["resumed_at_steps"] == [2 * PAIRED_ITERATION]
    for key in ("total_timesteps", "episodes", "curriculum_history", "ued"):
        assert resumed[key] == straight[key], key
    assert resumed["ued"]["antagonist_grad_updates"] >= 2
    names = ("resumed", "straight")
    assert_same(*(load_pickle(tmp_path / name / "teacher_state.pkl") for name in names))
    assert_same(*(policy_weights(tmp_path / name) for name in names))
    antagonists = [PPO.load(tmp_path / name / "antagonist.zip", device="cpu") for name in names]
    assert_same(*(model.policy.state_dict() for model in antagonists))
    assert antagonists[0].num_timesteps == antagonists[1].num_timesteps > 0
    finals = [load_pickle(tmp_path / name / "checkpoint" / "state.pkl") for name in names]
    assert_same(*(list(state["model"]["regret_history"]) for state in finals))
    assert finals[0]["model"]["regret_history"]
    for folder in ("monitor", "monitor_antagonist"):
        episodes = [monitor_episodes(tmp_path / name / folder) for name in names]
        assert episodes[0] == episodes[1] and episodes[0], folder
    straight_scalars, resumed_scalars = scalars(tmp_path / "straight"), scalars(run_dir)
    assert "paired/regret_mean" in resumed_scalars
    assert set(resumed_scalars) == set(straight_scalars)
    for tag in straight_scalars:
        if not tag.startswith("time/"):
            assert resumed_scalars[tag] == straight_scalars[tag], tag


def test_unpicklable_envs_restart_their_episodes_without_losing_count(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "_pickled_envs", lambda vec_env: (None, "test"))
    with pytest.raises(TrainingInterrupted):
        train(tiny_config(tmp_path, "run"), stop_at_steps=STOP_AT)
    summary = resume(tmp_path / "run")
    episodes = summary["episodes"]
    assert summary["total_timesteps"] == TIMESTEPS
    assert episodes["teacher_updates"] == episodes["callback"] == episodes["monitor"] > 0
    assert episodes["abandoned"] >= 1  # the episodes cut at the checkpoint, never reported


# ------------------------------------------------------------------------------------ a real kill


def start_training(logdir: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "autocurr.cli", "train", "--no-progress", *extra]
    if "--resume" not in extra:
        argv += [
            "--timesteps", str(KILL_TIMESTEPS),
            "--n-envs", str(N_ENVS),
            "--checkpoint-every", str(ROLLOUT),
            "--eval-episodes", "0",
            "--logdir", str(logdir),
            "--run-name", "run",
        ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(run_dir: Path, after: int, process: subprocess.Popen) -> int:
    """Steps of the first checkpoint past ``after`` steps (polling; fails if the run ends)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            steps = json.loads((run_dir / "checkpoint" / "meta.json").read_text())["steps"]
        except (OSError, ValueError):
            steps = -1
        if steps > after:
            return steps
        time.sleep(0.02)
    raise AssertionError("no checkpoint within 120 s")


def monitor_rows(run_dir: Path) -> int:
    files = (run_dir / "monitor").glob("*.monitor.csv")
    return sum(len(path.read_text().splitlines()) - 2 for path in files)


KILL_TIMESTEPS = 40 * ROLLOUT


@pytest.mark.slow
def test_killed_and_interrupted_run_resumes_to_its_budget(tmp_path):
    run_dir = tmp_path / "run"
    first = start_training(tmp_path)
    wait_for_checkpoint(run_dir, 2 * ROLLOUT, first)
    time.sleep(0.3)  # let it log past the checkpoint: the resumed run must cut that
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = start_training(tmp_path, "--resume", str(run_dir))
    killed_at = json.loads((run_dir / "checkpoint" / "meta.json").read_text())["steps"]
    wait_for_checkpoint(run_dir, killed_at, second)
    second.send_signal(signal.SIGINT)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 130, err
    assert f"autocurr train --resume {run_dir}" in err
    stopped_at = json.loads((run_dir / "checkpoint" / "meta.json").read_text())["steps"]
    assert killed_at < stopped_at < KILL_TIMESTEPS

    saved_teacher = load_pickle(run_dir / "checkpoint" / "teacher_state.pkl")
    status, teacher_at_resume = resume_recording_teacher(
        lambda: main(["train", "--resume", str(run_dir), "--no-progress"])
    )
    assert status == 0
    assert_same(teacher_at_resume, saved_teacher)

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_timesteps"] == KILL_TIMESTEPS
    assert summary["resumed_at_steps"] == [killed_at, stopped_at]
    logged = scalars(run_dir, file_order=True)  # three processes, seconds apart
    for tag, points in logged.items():
        steps = [step for step, _ in points]
        assert steps == sorted(set(steps)), f"{tag}: steps repeat or go back"
    steps = [step for step, _ in logged["curriculum/episodes"]]
    assert steps == list(range(ROLLOUT, KILL_TIMESTEPS + 1, ROLLOUT))
    # Every episode's Monitor row once: the rows the killed run wrote after its checkpoint were cut.
    assert monitor_rows(run_dir) == summary["episodes"]["teacher_updates"]
    assert summary["episodes"]["monitor"] == summary["episodes"]["teacher_updates"]
    assert not any(name.startswith("checkpoint.") for name in os.listdir(run_dir))
