"""Smoke test of the Syllabus PLR peer row (benchmarks/peers/syllabus_maze.py).

The training runs in a fresh interpreter so that the test also checks the process exits by
itself: Syllabus 0.7's workers hang at exit unless its task-time queue is drained, and its
curriculum thread and queues must be shut down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("syllabus")
pytest.importorskip("stable_baselines3")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

SCRIPT = """
import json, multiprocessing, sys, threading
sys.path.insert(0, {benchmarks!r})
from peers.syllabus_maze import train_syllabus_plr

result = train_syllabus_plr(0, 4096, {run_dir!r}, eval_episodes=1, pool_size={pool_size})
result["threads_after"] = [t.name for t in threading.enumerate()]
result["children_after"] = len(multiprocessing.active_children())
with open({out!r}, "w") as f:
    json.dump(result, f, default=str)
"""

POOL_SIZE = 8  # small, so the pool is covered and PLR's replay phase runs within 4,096 steps


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("syllabus_maze")
    run_dir, out = tmp / "run", tmp / "result.json"
    code = SCRIPT.format(
        benchmarks=str(BENCHMARKS), run_dir=str(run_dir), pool_size=POOL_SIZE, out=str(out)
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(out.read_text()), run_dir


def test_returns_the_record_keys_and_saves_the_model(smoke_run: tuple[dict, Path]) -> None:
    result, run_dir = smoke_run
    for key in (
        "total_timesteps",
        "steps_per_second",
        "train_time_s",
        "held_out",
        "versions",
        "syllabus",
        "tasks",
    ):
        assert key in result
    assert result["total_timesteps"] >= 4096
    assert "syllabus-rl" in result["versions"]
    held_out = result["held_out"]
    assert 0.0 <= held_out["mean"]["solve_rate"] <= 1.0
    assert len(held_out["cases"]) == 10
    assert all({"name", "solve_rate"} <= set(case) for case in held_out["cases"])
    assert (run_dir / "model.zip").is_file()
    assert (run_dir / "summary.json").is_file()

    from stable_baselines3 import PPO

    model = PPO.load(run_dir / "model.zip", device="cpu")  # what maze_ued's _load_policy does
    assert model.policy.net_arch == {"pi": [128, 128], "vf": [128, 128]}


def test_syllabus_picked_levels_from_the_pool(smoke_run: tuple[dict, Path]) -> None:
    result, _ = smoke_run
    tasks = result["tasks"]
    assert tasks["pool_size"] == POOL_SIZE
    assert tasks["episodes"] > 0
    assert tasks["out_of_pool_count"] == 0
    assert 0 <= tasks["min_task"] <= tasks["max_task"] < POOL_SIZE
    settings = result["syllabus"]
    assert settings["proportion_seen"] == 1.0  # replay phase reached
    assert 0 < tasks["pool_covered_at_step"] <= result["total_timesteps"]
    assert settings["task_sampler"]["replay_schedule"] == "fixed"
    assert settings["num_steps"] == 128 and settings["num_processes"] == 8
    assert settings["curriculum_samples"] >= tasks["episodes"]


def test_shuts_down_its_thread_and_workers(smoke_run: tuple[dict, Path]) -> None:
    result, _ = smoke_run
    assert "update" not in result["threads_after"]  # Syllabus's curriculum thread
    assert result["children_after"] == 0


def test_peer_module_is_not_a_bench_suite() -> None:
    from autocurr.bench import discover_suites

    suites = discover_suites(BENCHMARKS)
    assert all("peers" not in str(suite.path) for suite in suites.values())
