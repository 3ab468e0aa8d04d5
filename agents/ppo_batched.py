"""PPO on the batched maze with env, rollout storage and learner on one torch device.

One readable file in the CleanRL spirit: :class:`~autocurr.envs.maze_batched.BatchedMaze` steps
all envs as tensors, the rollout is stored as tensors on the same device, GAE and the PPO update
never leave it. The teacher is consulted once per rollout, on the host: it assigns one level per
env for the whole rollout (``teacher.sample(n_envs)``, the UED convention; with ``uniform`` over
``maze_levels()`` that is domain randomisation with a fresh level per env and rollout), and after
the rollout it gets every finished episode in one ``update_batch`` (the only device-to-host copy:
the ``(n_steps, n_envs)`` done flags and returns). PLR and ACCEL get one score per level instead,
computed from the rollout's rewards, values and dones copied to the host once per rollout (the
same rule as :class:`~autocurr.integrations.sb3_ued.UEDPPO`), and rollouts their
``should_train`` rejects (PLR⊥'s fresh levels, ACCEL's children) skip the PPO update while their
steps still count in ``timesteps``. SFL and PAIRED are not supported by this student yet.

Checkpoints: ``at_boundary(steps, snapshot)`` runs before every rollout, where ``snapshot()``
returns everything the learner needs to continue (weights, Adam state, the minibatch generator,
torch's global RNG that samples actions, the per-rollout history and counters); ``resume=`` takes
such a snapshot. The env needs nothing: every rollout starts with a reset onto the levels the
teacher assigns (or, without a teacher, the env's seeded levels), so a resumed run repeats an
uninterrupted one exactly on the same device.

PPO settings follow ``autocurr train``'s SB3 defaults (separate [128, 128] tanh MLPs for policy and
value, lr 3e-4, gamma 0.99, GAE lambda 0.95, clip 0.2, entropy 0.01, value coefficient 0.5,
gradient-norm clip 0.5, advantages normalised per minibatch, 4 epochs) with more envs (256) and
minibatches of 4096 transitions, so each env step costs a small share of a large matmul.
Time-limit truncation is treated as termination (no bootstrap): the maze's reward depends on the
elapsed time, which the observation does not show, so a bootstrap from the final state would
mislead the critic anyway.

Usage::

    from autocurr.agents.ppo_batched import BatchedPPOConfig, train_batched
    result = train_batched(BatchedPPOConfig(timesteps=2_000_000, device="cuda"))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from autocurr.envs.maze_batched import BatchedMaze
from autocurr.teachers import Teacher
from autocurr.teachers.scores import POLICY_SCORES, Rollout, episode_scores, pooled_level_scores

__all__ = ["ActorCritic", "BatchedPPOConfig", "train_batched"]


@dataclass
class BatchedPPOConfig:
    timesteps: int = 2_000_000
    n_envs: int = 256
    n_steps: int = 128
    size: int = 9
    max_steps: int = 100
    view_size: int = 11
    heading: bool = False
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    n_epochs: int = 4
    minibatch_size: int = 4096
    clip_range: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 128
    seed: int = 0
    device: str = "cpu"


class ActorCritic(nn.Module):
    """Separate policy and value MLPs on the flattened observation (SB3's MlpPolicy layout)."""

    def __init__(self, obs_size: int, n_actions: int, hidden: int):
        super().__init__()

        def mlp(out: int, gain: float) -> nn.Sequential:
            layers = [nn.Linear(obs_size, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()]
            head = nn.Linear(hidden, out)
            for layer in [*layers[::2], head]:
                nn.init.orthogonal_(layer.weight, np.sqrt(2) if layer is not head else gain)
                nn.init.zeros_(layer.bias)
            return nn.Sequential(*layers, head)

        self.policy = mlp(n_actions, 0.01)
        self.value = mlp(1, 1.0)

    def forward(self, obs: torch.Tensor) -> tuple[torch.distributions.Categorical, torch.Tensor]:
        flat = obs.flatten(1)
        return torch.distributions.Categorical(logits=self.policy(flat)), self.value(flat)[:, 0]


def _gae(rewards, values, dones, last_value, gamma, lam) -> torch.Tensor:
    """GAE over (T, n) tensors; ``dones[t]`` ends the episode after step t (no bootstrap)."""
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
        next_value = values[t]
    return advantages


def _ppo_update(model, optimizer, batch: dict[str, torch.Tensor], cfg: BatchedPPOConfig, gen):
    n = batch["actions"].shape[0]
    for _ in range(cfg.n_epochs):
        order = torch.randperm(n, generator=gen, device="cpu").to(batch["actions"].device)
        for start in range(0, n, cfg.minibatch_size):
            idx = order[start : start + cfg.minibatch_size]
            dist, value = model(batch["obs"][idx])
            log_prob = dist.log_prob(batch["actions"][idx])
            ratio = torch.exp(log_prob - batch["log_probs"][idx])
            adv = batch["advantages"][idx]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            clipped = torch.clamp(ratio, 1 - cfg.clip_range, 1 + cfg.clip_range)
            policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
            value_loss = ((value - batch["returns"][idx]) ** 2).mean()
            loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * dist.entropy().mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()


def train_batched(
    cfg: BatchedPPOConfig,
    teacher: Teacher | None = None,
    task_to_level: Callable[[Any], Any] | None = None,
    *,
    resume: dict[str, Any] | None = None,
    at_boundary: Callable[[int, Callable[[], dict[str, Any]]], bool] | None = None,
) -> dict[str, Any]:
    """Train PPO on ``BatchedMaze``; ``teacher`` assigns a task per env and rollout: a maze level
    (a ``Levels`` space) or, with ``task_to_level``, any task that function turns into a level
    (e.g. the maze preset's distance bins). Without a teacher the envs keep their seeded levels.

    Returns the model and a per-rollout record (steps, success rate and mean return of the
    episodes finished in the rollout) plus the steps/s of the whole run. When ``at_boundary``
    returns False training stops before that rollout and ``result["stopped"]`` is True;
    ``result["snapshot"]()`` is the learner's state at the end (see the module docstring)."""
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    env = BatchedMaze(cfg.n_envs, size=cfg.size, max_steps=cfg.max_steps,
                      view_size=cfg.view_size, device=device, seed=cfg.seed,
                      heading=cfg.heading)  # fmt: skip
    obs_shape = env.observation_shape
    model = ActorCritic(int(np.prod(obs_shape)), 4, cfg.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, eps=1e-5)
    T, n = cfg.n_steps, cfg.n_envs
    storage = {
        "obs": torch.zeros((T, n, *obs_shape), device=device),
        "actions": torch.zeros((T, n), dtype=torch.long, device=device),
        "log_probs": torch.zeros((T, n), device=device),
        "values": torch.zeros((T, n), device=device),
        "rewards": torch.zeros((T, n), device=device),
        "dones": torch.zeros((T, n), device=device),
        "episode_returns": torch.zeros((T, n), device=device),
    }
    if getattr(teacher, "score_function", None) in POLICY_SCORES:  # entropy-type PLR scores
        storage["probs"] = torch.zeros((T, n, 4), device=device)
    probs = storage.get("probs")
    history, steps, steps_no_grad, seconds_before = [], 0, 0, 0.0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        gen.set_state(resume["generator"])
        _set_torch_rng(resume["torch_rng"], device)
        history, steps = list(resume["history"]), int(resume["steps"])
        steps_no_grad, seconds_before = int(resume["steps_no_grad"]), float(resume["seconds"])
    started = time.perf_counter()

    def snapshot() -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "generator": gen.get_state(),
            "torch_rng": _torch_rng(device),
            "history": list(history),
            "steps": steps,
            "steps_no_grad": steps_no_grad,
            "seconds": seconds_before + time.perf_counter() - started,
        }

    stopped = False
    while steps < cfg.timesteps:
        if at_boundary is not None and not at_boundary(steps, snapshot):
            stopped = True
            break
        tasks, trains = _assign(teacher, n)
        if tasks is not None:
            env.set_levels(tasks if task_to_level is None else [task_to_level(t) for t in tasks])
        obs = env.reset()
        with torch.no_grad():
            for t in range(T):
                dist, value = model(obs)
                action = dist.sample()
                storage["obs"][t] = obs
                storage["actions"][t] = action
                storage["log_probs"][t] = dist.log_prob(action)
                storage["values"][t] = value
                if probs is not None:
                    probs[t] = dist.probs
                obs, reward, terminated, truncated, episode_return = env.step(action)
                storage["rewards"][t] = reward
                storage["dones"][t] = (terminated | truncated).float()
                storage["episode_returns"][t] = episode_return
            last_value = model(obs)[1]
            advantages = _gae(storage["rewards"], storage["values"], storage["dones"],
                              last_value, cfg.gamma, cfg.gae_lambda)  # fmt: skip
        steps += T * n
        if trains:  # PLR⊥ / ACCEL: fresh and edited levels are only scored
            batch = {key: storage[key].flatten(0, 1) for key in ("obs", "actions", "log_probs")}
            batch["advantages"] = advantages.flatten()
            batch["returns"] = (advantages + storage["values"]).flatten()
            _ppo_update(model, optimizer, batch, cfg, gen)
        else:
            steps_no_grad += T * n
        if teacher is not None and hasattr(teacher, "update_episode"):
            entry = _report_level_scores(storage, last_value, tasks, teacher, cfg, steps)
        else:
            entry = _report_episodes(storage, tasks, teacher, steps)
        history.append({**entry, "trained": trains})
    elapsed = seconds_before + time.perf_counter() - started
    return {"model": model, "history": history, "steps": steps, "steps_no_grad": steps_no_grad,
            "steps_per_second": steps / max(elapsed, 1e-9), "seconds": elapsed,
            "stopped": stopped, "snapshot": snapshot}  # fmt: skip


def _torch_rng(device: torch.device) -> dict[str, torch.Tensor]:
    """Torch's global RNG states that sample the actions (CPU, and the CUDA device if used)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_torch_rng(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _assign(teacher: Teacher | None, n: int) -> tuple[list[Any] | None, bool]:
    """This rollout's task per env and whether it is trained on (PLR⊥ / ACCEL decide)."""
    if teacher is None:
        return None, True
    if hasattr(teacher, "should_train"):
        tasks, kind = teacher.sample_with_kind(n)
        return tasks, teacher.should_train(kind)
    return teacher.sample(n), True


def _report_level_scores(storage, last_value, levels, teacher, cfg, steps) -> dict[str, Any]:
    """PLR / ACCEL: one score per level from the rollout (one host copy of the (T, n) rewards,
    values and dones), as UEDPPO computes it: cut segments count as episodes, envs that ran the
    same level are pooled, ``R_max`` from the finished returns."""
    rollout = Rollout(
        rewards=storage["rewards"].double().cpu().numpy(),
        values=storage["values"].double().cpu().numpy(),
        dones=storage["dones"].bool().cpu().numpy(),
        last_value=last_value.double().cpu().numpy(),
        probs=storage["probs"].double().cpu().numpy() if "probs" in storage else None,
    )
    best = [teacher.best_return(level) for level in levels]
    best = np.array([-np.inf if b is None else b for b in best])
    episodes = episode_scores(rollout, teacher.score_function, cfg.gamma, cfg.gae_lambda, best)
    for level, (score, returns) in pooled_level_scores(levels, episodes).items():
        if np.isfinite(score):  # MaxMC on a level never finished has no score
            teacher.update_episode(level, score, max(returns) if returns else None)
    finished = np.array([e.episode_return for e in episodes if e.finished])
    return {
        "steps": steps,
        "episodes": int(finished.size),
        "success_rate": float((finished > 0).mean()) if finished.size else None,
        "mean_return": float(finished.mean()) if finished.size else None,
    }


def _report_episodes(storage, tasks, teacher: Teacher | None, steps: int) -> dict[str, Any]:
    """One host copy per rollout: every finished episode goes to the teacher in one batch."""
    dones = storage["dones"].bool().cpu().numpy()
    returns = storage["episode_returns"].cpu().numpy()
    t_idx, env_idx = np.nonzero(dones)
    finished = returns[t_idx, env_idx]
    if teacher is not None and tasks is not None and finished.size:
        signal = (finished > 0).astype(float) if teacher.signal == "success" else finished
        teacher.update_batch([tasks[i] for i in env_idx], signal.tolist())
    return {
        "steps": steps,
        "episodes": int(finished.size),
        "success_rate": float((finished > 0).mean()) if finished.size else None,
        "mean_return": float(finished.mean()) if finished.size else None,
    }


def policy_act(model: ActorCritic, device: str = "cpu", deterministic: bool = False):
    """``act(observations) -> actions`` for :func:`autocurr.agents.evaluation.evaluate_held_out`
    and the CVaR protocol (numpy in, numpy out)."""

    def act(observations: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            dist, _ = model(torch.as_tensor(np.asarray(observations), device=device).float())
            actions = dist.probs.argmax(-1) if deterministic else dist.sample()
        return actions.cpu().numpy()

    return act
