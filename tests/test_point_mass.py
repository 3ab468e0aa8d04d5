"""Tests of the point-mass gate environment (autocurr.envs.point_mass) and its training preset."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import autocurr  # noqa: F401  (registers the gymnasium ids)
from autocurr.envs import PointMassGateEnv
from autocurr.envs.point_mass import (
    CURROT_TARGET_TASKS,
    DT,
    GOAL,
    SUBSTEPS,
    TARGET_TASK,
    TASK_HIGH,
    TASK_LOW,
)

ENV_ID = "autocurr/PointMassGate-v0"
WIDE_OPEN = (0.0, 8.0)  # the gate spans the whole wall


def quiet_env(task=WIDE_OPEN, **kwargs) -> PointMassGateEnv:
    """A noise-free env reset into ``task``."""
    env = PointMassGateEnv(noise_std=0.0, **kwargs)
    env.reset(seed=0, options={"task": task})
    return env


def place(env: PointMassGateEnv, x: float, vx: float, y: float, vy: float) -> None:
    env._x, env._vx, env._y, env._vy = x, vx, y, vy


def reward_at(x: float, y: float) -> float:
    return math.exp(-0.6 * math.hypot(x - GOAL[0], y - GOAL[1]))


# ------------------------------------------------------------------------------------ dynamics


def test_one_step_matches_hand_computed_euler_integration():
    env = quiet_env()
    obs, reward, terminated, truncated, info = env.step(np.array([1.0, -2.0]))
    # Constant acceleration a = 1.5 * action over 10 Euler substeps of 0.01 from rest:
    # v = 10 * 0.01 * a, p = p0 + 0.01**2 * a * (0 + 1 + ... + 9) = p0 + 0.0045 * a.
    ax, ay = 1.5, -3.0
    expected = np.array([0.0045 * ax, 0.1 * ax, 3.0 + 0.0045 * ay, 0.1 * ay])
    np.testing.assert_allclose(env.state, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(obs, [*expected, *WIDE_OPEN], rtol=1e-6)
    assert obs.dtype == np.float32
    assert reward == pytest.approx(reward_at(expected[0], expected[2]), rel=1e-12)
    assert not terminated and not truncated
    assert info["success"] is False and "is_success" not in info


def test_actions_are_clipped_to_the_box():
    clipped, raw = quiet_env(), quiet_env()
    clipped.step(np.array([10.0, -10.0]))
    raw.step(np.array([100.0, -1e6]))
    np.testing.assert_array_equal(clipped.state, raw.state)


def test_friction_slows_the_mass_in_the_3d_variant():
    env = quiet_env(task=(0.0, 8.0, 2.0), friction_param=True)
    env.step(np.array([10.0, 0.0]))
    # v_{k+1} = v_k + DT * (15 - 2 v_k): v_k = 7.5 (1 - 0.98^k); x moves by DT * sum of v_0..v_9.
    velocities = [7.5 * (1 - 0.98**k) for k in range(SUBSTEPS + 1)]
    assert env.state[1] == pytest.approx(velocities[SUBSTEPS], rel=1e-12)
    assert env.state[0] == pytest.approx(DT * sum(velocities[:SUBSTEPS]), rel=1e-12)


def test_position_is_clipped_to_the_square_but_velocity_is_kept():
    env = quiet_env()
    place(env, 3.999, 10.0, 3.0, 0.0)
    env.step(np.zeros(2))
    x, vx, _, _ = env.state
    assert x == 4.0
    assert vx == 10.0  # as in SPDL: only the position is clipped


def test_noise_is_gaussian_on_the_acceleration():
    env = PointMassGateEnv(noise_std=0.05)
    env.reset(seed=3, options={"task": WIDE_OPEN})
    velocities = []
    for _ in range(50):
        before = env.state
        env.step(np.zeros(2))
        velocities.append(env.state[[1, 3]] - before[[1, 3]])
    # Each step adds DT * (sum of 10 N(0, 0.05) draws) to each velocity component.
    increments = np.concatenate(velocities)
    assert np.std(increments) == pytest.approx(DT * 0.05 * math.sqrt(SUBSTEPS), rel=0.3)


# ------------------------------------------------------------------------------------ wall


def test_falling_into_the_wall_outside_the_gate_terminates_there():
    env = quiet_env(task=TARGET_TASK)  # the gate is at x = 2.5, the mass falls at x = 0
    for _ in range(100):
        _, reward, terminated, truncated, info = env.step(np.array([0.0, -10.0]))
        if terminated or truncated:
            break
    assert terminated and not truncated
    np.testing.assert_array_equal(env.state, [0.0, 0.0, 0.0, 0.0])  # stopped on the wall
    assert reward == pytest.approx(reward_at(0.0, 0.0))
    assert info["is_success"] is False
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(np.zeros(2))


def test_falling_through_the_gate_is_free():
    env = quiet_env(task=(0.0, 2.0))
    below = False
    for _ in range(20):
        _, _, terminated, _, _ = env.step(np.array([0.0, -10.0]))
        assert not terminated
        below = below or env.state[2] < 0
    assert below


def test_crossing_point_is_interpolated_on_the_substep_segment():
    # Gate [-0.5, 0.5]. One substep moves (x, 0.005) by (+0.01, -0.01): crossing at x + 0.005.
    inside = quiet_env(task=(0.0, 1.0))
    place(inside, 0.494, 1.0, 0.005, -1.0)  # crosses at 0.499: through the gate
    _, _, terminated, _, _ = inside.step(np.zeros(2))
    assert not terminated and inside.state[2] < 0

    outside = quiet_env(task=(0.0, 1.0))
    place(outside, 0.4955, 1.0, 0.005, -1.0)  # crosses at 0.5005: the wall
    _, _, terminated, _, _ = outside.step(np.zeros(2))
    assert terminated
    np.testing.assert_allclose(outside.state, [0.5005, 0.0, 0.0, 0.0], atol=1e-12)


def test_upward_crossings_are_not_checked():
    env = quiet_env(task=TARGET_TASK)
    place(env, 0.0, 0.0, -0.001, 1.0)
    _, _, terminated, _, _ = env.step(np.zeros(2))
    assert not terminated and env.state[2] > 0


# ------------------------------------------------------------------------------------ episodes


def test_success_flag_reward_and_episode_success():
    env = quiet_env(max_steps=3)
    place(env, GOAL[0], 0.0, GOAL[1], 0.0)
    _, reward, _, _, info = env.step(np.zeros(2))
    assert info["success"] is True and reward == 1.0
    place(env, 0.0, 0.0, 0.0, 0.0)  # leave the goal: the episode still counts as a success
    _, _, _, _, info = env.step(np.zeros(2))
    assert info["success"] is False
    _, _, terminated, truncated, info = env.step(np.zeros(2))
    assert truncated and not terminated
    assert info["is_success"] is True


def test_success_radius_is_strict():
    env = quiet_env()
    place(env, 0.25, 0.0, GOAL[1], 0.0)
    assert env.step(np.zeros(2))[4]["success"] is False
    place(env, 0.2499, 0.0, GOAL[1], 0.0)
    assert env.step(np.zeros(2))[4]["success"] is True


def test_registered_env_truncates_after_100_steps_without_success():
    env = gym.make(ENV_ID)
    env.reset(seed=0, options={"task": WIDE_OPEN})
    steps = 0
    for _ in range(101):
        _, _, terminated, truncated, info = env.step(np.zeros(2))
        steps += 1
        assert not terminated
        if truncated:
            break
    assert steps == 100 and truncated
    assert info["is_success"] is False


def test_seeded_episodes_are_reproducible():
    def trajectory(seed):
        env = gym.make(ENV_ID)
        obs, _ = env.reset(seed=seed, options={"task": (1.0, 3.0)})
        states = [obs]
        for action in np.random.default_rng(0).uniform(-10, 10, size=(30, 2)):
            obs, _, terminated, truncated, _ = env.step(action)
            states.append(obs)
            if terminated or truncated:
                break
        return np.array(states)

    np.testing.assert_array_equal(trajectory(5), trajectory(5))
    assert not np.array_equal(trajectory(5), trajectory(6))


def test_gymnasium_env_checker_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the [-10, 10] action box and unbounded velocities
        check_env(gym.make(ENV_ID).unwrapped)
        check_env(PointMassGateEnv(friction_param=True))


# ------------------------------------------------------------------------------------ tasks


def test_observation_carries_the_task_and_default_task_is_the_spdl_target():
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=0)
    np.testing.assert_array_equal(obs, np.float32([0, 0, 3, 0, *TARGET_TASK]))
    np.testing.assert_array_equal(info["task"], TARGET_TASK)
    obs, _ = env.reset(options={"context": CURROT_TARGET_TASKS[0]})  # SPDL's name, an alias
    np.testing.assert_array_equal(obs[4:], CURROT_TARGET_TASKS[0])
    assert env.observation_space.contains(obs)
    env3 = PointMassGateEnv(friction_param=True)
    assert env3.reset()[0].shape == (7,) and env3.task.tolist() == [2.5, 0.5, 0.0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": (0.0, 1.0)}, "unknown reset options"),
        ({"task": (0.0, 1.0), "context": (0.0, 1.0)}, "not both"),
        ({"task": (4.5, 1.0)}, "outside the task box"),
        ({"task": (0.0, 0.4)}, "outside the task box"),
        ({"task": (0.0, np.nan)}, "outside the task box"),
        ({"task": (0.0, 1.0, 0.0)}, "has 2 entries"),
        ({"task": "wide"}, "must be numeric"),
    ],
)
def test_bad_reset_options_raise(options, message):
    env = PointMassGateEnv()
    with pytest.raises(ValueError, match=message):
        env.reset(options=options)


def test_task_box_edges_are_accepted():
    env = PointMassGateEnv()
    for task in (TASK_LOW, TASK_HIGH):
        np.testing.assert_array_equal(env.reset(options={"task": task})[0][4:], task)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise_std": -0.1}, "noise_std"),
        ({"max_steps": 0}, "max_steps"),
        ({"friction_param": 1}, "friction_param"),
        ({"default_task": (9.0, 1.0)}, "outside the task box"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PointMassGateEnv(**kwargs)


def test_bad_actions_raise():
    env = quiet_env()
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))


# ------------------------------------------------------------------------------------ preset



def test_preset_has_a_box_task_space_and_the_target_gates():
    from autocurr.agents.tasks import resolve_preset
    from autocurr.spaces import Box

    preset = resolve_preset(ENV_ID)
    assert preset.space == Box(TASK_LOW, TASK_HIGH)
    assert preset.dim_names == ("gate position", "gate width")
    assert preset.make_apply_task(np.random.default_rng(0)) is None  # reset(options=...) path
    cases = preset.held_out_cases()
    assert [case.task for case in cases] == [TARGET_TASK, *CURROT_TARGET_TASKS]
    env = gym.make(ENV_ID)
    for case in cases:
        obs, _ = case.start(env, 0)
        np.testing.assert_array_equal(obs[4:], case.task)


def test_preset_ppo_settings_give_2048_steps_per_iteration():
    pytest.importorskip("stable_baselines3")
    from autocurr.agents.tasks import resolve_preset
    from autocurr.agents.train import TrainConfig, ppo_settings

    preset = resolve_preset(ENV_ID)
    settings = ppo_settings(TrainConfig(env_id=ENV_ID, n_envs=8), preset)
    assert settings["n_steps"] * 8 == 2048
    assert settings["gamma"] == 0.95 and settings["gae_lambda"] == 0.99
    assert settings["policy_kwargs"]["net_arch"] == {"pi": [64, 64], "vf": [64, 64]}
    custom = TrainConfig(env_id=ENV_ID, n_envs=4, ppo_kwargs={"n_steps": 64, "gamma": 0.9})
    assert ppo_settings(custom, preset)["n_steps"] == 64
    assert ppo_settings(custom, preset)["gamma"] == 0.9


class PDController:
    """A scripted student with SB3's ``predict``: steer straight down to the goal."""

    def predict(self, observations, deterministic=False):
        x, vx, y, vy = observations[:, :4].T
        actions = np.stack([-4.0 * x - 3.0 * vx, 4.0 * (GOAL[1] - y) - 3.0 * vy], axis=1)
        return np.clip(actions, -10, 10), None


def test_held_out_success_comes_from_the_env_not_the_return():
    pytest.importorskip("stable_baselines3")
    from autocurr.agents.tasks import resolve_preset
    from autocurr.agents.train import evaluate_model

    preset = resolve_preset(ENV_ID)
    wide = evaluate_model(PDController(), preset, suite="wide-gates", episodes=3)
    rates = {case["name"]: case["solve_rate"] for case in wide["cases"]}
    assert rates["wide-centre"] == 1.0  # straight down through the centre gate
    narrow = evaluate_model(PDController(), preset, suite="narrow-gates", episodes=3)
    assert [case["solve_rate"] for case in narrow["cases"]] == [0.0, 0.0, 0.0]  # hits the wall
    assert narrow["mean"]["solve_rate"] == 0.0


@pytest.fixture(scope="module")
def uniform_run(tmp_path_factory) -> Path:
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("tensorboard")
    from autocurr.cli import main

    logdir = tmp_path_factory.mktemp("runs")
    argv = ["train", "--env", ENV_ID, "--teacher", "uniform", "--timesteps", "5000",
            "--n-envs", "2", "--eval-episodes", "2", "--no-progress",
            "--logdir", str(logdir)]  # fmt: skip
    assert main(argv) == 0
    return logdir / "autocurr-PointMassGate-v0-uniform-s0"


def test_train_cli_runs_end_to_end_on_the_point_mass(uniform_run):
    summary = json.loads((uniform_run / "summary.json").read_text())
    assert summary["total_timesteps"] >= 5000
    assert summary["teacher"]["final_probabilities"] is None  # a Box has a density
    episodes = summary["episodes"]
    assert episodes["teacher_updates"] == episodes["monitor"] == episodes["callback"] > 0
    curve = summary["training_curve"]
    assert all(0.0 <= rate <= 1.0 for rate in curve["success_rate"])
    cases = summary["held_out"]["cases"]
    assert [case["name"] for case in cases] == ["spdl-target", "currot-left", "currot-right"]
    assert all(0.0 <= case["solve_rate"] <= 1.0 for case in cases)
    quarters = summary["sampled_tasks"]["quarters"]
    assert sum(q["episodes"] for q in quarters) == episodes["teacher_updates"]
    config = json.loads((uniform_run / "config.json").read_text())
    assert config["ppo"]["n_steps"] == 1024 and config["task_space"]["type"] == "Box"
    for name in ("learning_curve.png", "task_distribution.png"):
        assert (uniform_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sampled_tasks_csv_holds_every_episode_inside_the_box(uniform_run):
    rows = (uniform_run / "sampled_tasks.csv").read_text().splitlines()
    assert rows[0] == "timesteps,gate_position,gate_width,signal,success"
    values = np.array([[float(v) for v in row.split(",")] for row in rows[1:]])
    summary = json.loads((uniform_run / "summary.json").read_text())
    assert len(values) == summary["episodes"]["teacher_updates"]
    assert np.all(np.diff(values[:, 0]) >= 0)
    assert np.all((values[:, 1:3] >= TASK_LOW) & (values[:, 1:3] <= TASK_HIGH))
    assert set(values[:, 4]) <= {0.0, 1.0}


def test_train_logs_box_tasks_to_tensorboard(uniform_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(uniform_run), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"curriculum/task_mean/gate_position", "curriculum/success_rate"} <= set(scalars)
    assert "curriculum/task_gate_width" in events.Tags()["histograms"]


def test_eval_cli_on_another_point_mass_suite(uniform_run):
    from autocurr.cli import main

    assert main(["eval", "--checkpoint", str(uniform_run), "--suite", "wide-gates",
                 "--episodes", "1"]) == 0  # fmt: skip
    result = json.loads((uniform_run / "eval_wide-gates.json").read_text())
    assert [case["name"] for case in result["cases"]] == ["wide-left", "wide-centre", "wide-right"]
    assert all(case["solve_rate"] in (0.0, 1.0) for case in result["cases"])
