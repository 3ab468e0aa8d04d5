"""SB3 PPO on CartPole with four pole lengths, an EXP3 teacher choosing the length of each episode.

Shows the pieces a Stable-Baselines3 user needs: ``autocurr.make_vec_env`` builds an SB3 VecEnv
whose workers play the lengths the teacher (kept in this process) picks, and report every
finished episode's return to it exactly once; ``CurriculumCallback`` logs the curriculum per
rollout (``curriculum/p_task_<i>`` etc. in TensorBoard with ``tensorboard_log=``).
Gymnasium's CartPole does not read ``reset(options={"task": ...})``, so ``set_pole_length``
configures the env before each episode.

Run: python examples/sb3_curriculum.py   (about 20 s on 2 CPU cores; pip install "autocurr[sb3]")
"""

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

import autocurr
from autocurr.integrations.sb3 import CurriculumCallback
from autocurr.spaces import Discrete

POLE_HALF_LENGTHS = [0.25, 0.5, 1.0, 2.0]  # gymnasium's default is 0.5


def set_pole_length(env, task: int) -> None:
    """Task ``i`` plays pole half-length ``POLE_HALF_LENGTHS[i]``."""
    cartpole = env.unwrapped
    cartpole.length = POLE_HALF_LENGTHS[task]
    # CartPole caches masspole * length in __init__; the dynamics read the cached product.
    cartpole.polemass_length = cartpole.masspole * cartpole.length


def main(timesteps: int = 50_000, n_envs: int = 4, seed: int = 0, backend: str = "sb3-dummy"):
    teacher = autocurr.make_teacher("exp3", Discrete(len(POLE_HALF_LENGTHS)), seed=seed)
    curriculum_env = autocurr.make_vec_env(
        "CartPole-v1", n_envs, teacher, backend=backend, apply_task=set_pole_length, seed=seed
    )
    env = VecMonitor(curriculum_env)  # episode returns for SB3's logs and the callback
    callback = CurriculumCallback(teacher, task_labels=[f"L={x}" for x in POLE_HALF_LENGTHS])
    model = PPO("MlpPolicy", env, n_steps=256, batch_size=256, seed=seed, verbose=0)
    try:
        model.learn(timesteps, callback=callback)
    finally:
        env.close()  # flushes: every outcome still held by a worker reaches the teacher
    summary = callback.summary()
    return {
        "probabilities": teacher.probabilities(),
        "episodes_logged": summary["episodes"],
        "episodes_per_task": summary["episodes_per_task"],
        "episodes_finished": curriculum_env.episodes_finished,
        "teacher_updates": teacher.n_updates,
        "rollouts": len(summary["history"]),
        "mean_return_per_rollout": [entry["mean_return"] for entry in summary["history"]],
    }


if __name__ == "__main__":
    np.set_printoptions(precision=3, suppress=True)
    result = main()
    print("teacher's distribution over pole half-lengths", POLE_HALF_LENGTHS, ":")
    print("  ", result["probabilities"])
    print("episodes per length:", result["episodes_per_task"])
    print(
        f"episodes finished {result['episodes_finished']}, logged {result['episodes_logged']}, "
        f"teacher updates {result['teacher_updates']} (one per finished episode)"
    )
    returns = result["mean_return_per_rollout"]
    print(f"mean episode return: first rollout {returns[0]:.1f}, last rollout {returns[-1]:.1f}")
