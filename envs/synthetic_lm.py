"""Synthetic multi-domain language modelling with a known entropy rate per domain.

Every domain is a stochastic process over a vocabulary of ``V`` tokens whose conditional entropy
``H(x_t | x_<t)`` is known exactly at every position, so the excess loss of a model,
``held-out cross-entropy - H``, is exact (no reference model needed). A domain's process emits
``T`` tokens ``x_0 .. x_{T-1}``; a language model predicts ``x_1 .. x_{T-1}`` from their prefix, and
the domain's entropy is the mean of the exact per-position entropies over those ``T - 1`` targets.

Stored rows (``train_tokens``, ``heldout_tokens``) are ``[tag_k, x_0, .., x_{T-1}]``: a domain tag
token ``V + k`` comes first (model vocabulary ``V + K``, ``model_vocab_size``) and the loss starts
at column ``loss_start = 2`` (target ``x_1``). The tag makes the domain identifiable -- the
domain-conditioned model of pilot A; without it the first predictions of a sequence are ambiguous
between domains (``x_0`` alone does not say whether ``x_1`` is a copy, a Markov successor or noise),
so no model could reach zero excess loss and the "known entropy" would not be the achievable floor.

Default domains (design of pilot A, ``shared/reference/data-mixture-llm.md`` section 8.1):

- ``learned`` -- the "already-learned" domain: a constant sequence (``x_t = x_0`` for every t),
  H = 0. No pretraining: the tiny transformer of ``autocurr.agents.mix_lm`` masters it early in
  any run (under uniform mixing, seed 0: held-out excess 0.14 nats at step 100, 0.03 at step 200,
  < 0.02 from step 300 on, of 1500), so after that it only wastes samples.
- ``medium`` -- order-1 Markov chain: each token has 2 successors, picked uniformly at random from
  a fixed random table, H = ln 2 at every position.
- ``hard`` -- order-2 Markov chain: each (previous, current) pair has 2 successors from a fixed
  random table of ``V^2`` contexts; ``x_1`` is uniform (H = ln V at position 1), H = ln 2 after.
- ``noise`` -- i.i.d. uniform tokens, H = ln V: nothing to learn, the loss never falls below ln V.

``medium`` and ``hard`` are the *learnable* domains (``SyntheticLM.learnable``); benchmarks report
the excess loss on those. The whole corpus -- transition tables, training pools and held-out set --
comes from one seeded ``numpy.random.Generator`` (no global state).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DOMAIN_KINDS", "SyntheticLM", "conditional_entropy"]

#: Domain kinds and whether a model can learn anything from them beyond the first steps.
DOMAIN_KINDS = {"learned": False, "medium": True, "hard": True, "noise": False}
BRANCHING = 2  # successors per context in the Markov domains: H = ln 2 per token


@dataclass(frozen=True)
class _Tables:
    order1: np.ndarray  # (V, BRANCHING) successors of each token
    order2: np.ndarray  # (V, V, BRANCHING) successors of each pair


class SyntheticLM:
    """A seeded corpus of ``domains`` with train pools, a held-out set and exact entropies.

    Attributes: ``names`` (domain names), ``entropy`` (float64 array, nats per predicted token),
    ``position_entropy`` (``(K, T - 1)``), ``learnable`` (bool array), ``train_tokens``
    (``(K * pool_size, T + 1)`` int64 tagged rows, domains concatenated in order),
    ``train_domain`` (domain id of each training row), ``pools`` (list of K index arrays into
    ``train_tokens``), ``heldout_tokens`` and ``heldout_domain`` (``heldout_size`` rows per
    domain), ``model_vocab_size`` (``V + K``) and ``loss_start`` (first scored column, 2).
    """

    def __init__(
        self,
        vocab_size: int = 32,
        seq_len: int = 32,
        pool_size: int = 8000,
        heldout_size: int = 256,
        domains: Sequence[str] = ("learned", "medium", "hard", "noise"),
        seed: int = 0,
    ):
        for label, value, minimum in (
            ("vocab_size", vocab_size, BRANCHING + 1),
            ("seq_len", seq_len, 3),
            ("pool_size", pool_size, 1),
            ("heldout_size", heldout_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")
        unknown = [name for name in domains if name not in DOMAIN_KINDS]
        if unknown or not domains or len(set(domains)) != len(domains):
            raise ValueError(
                f"domains must be distinct names from {sorted(DOMAIN_KINDS)}, got {list(domains)!r}"
            )
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.pool_size = pool_size
        self.heldout_size = heldout_size
        self.seed = seed
        self.names = list(domains)
        self.rng = np.random.default_rng(seed)
        self.tables = _Tables(
            order1=self._successor_table((vocab_size,)),
            order2=self._successor_table((vocab_size, vocab_size)),
        )
        self.position_entropy = np.stack([self._position_entropy(name) for name in self.names])
        self.entropy = self.position_entropy.mean(axis=1)
        self.learnable = np.array([DOMAIN_KINDS[name] for name in self.names])
        self.model_vocab_size = vocab_size + len(self.names)
        self.loss_start = 2
        self.train_tokens, self.train_domain = self._corpus(pool_size)
        self.pools = [np.flatnonzero(self.train_domain == k) for k in range(len(self.names))]
        self.heldout_tokens, self.heldout_domain = self._corpus(heldout_size)

    # ----------------------------------------------------------------------------- structure
    def _successor_table(self, contexts: tuple[int, ...]) -> np.ndarray:
        """``BRANCHING`` distinct successors per context, uniform over the vocabulary."""
        n_contexts = math.prod(contexts)
        keys = self.rng.random((n_contexts, self.vocab_size))
        successors = np.argsort(keys, axis=1)[:, :BRANCHING]
        return successors.reshape(*contexts, BRANCHING)

    def _position_entropy(self, name: str) -> np.ndarray:
        """Exact ``H(x_t | x_<t)`` for t = 1 .. T-1, in nats."""
        entropy = np.full(self.seq_len - 1, math.log(BRANCHING))
        if name == "learned":
            entropy[:] = 0.0
        elif name == "noise":
            entropy[:] = math.log(self.vocab_size)
        elif name == "hard":
            entropy[0] = math.log(self.vocab_size)  # x_1 is uniform: there is no pair yet
        return entropy

    # ----------------------------------------------------------------------------- sampling
    def sample(self, name: str, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n`` fresh sequences ``(n, T)`` of domain ``name`` (from ``rng`` or the corpus rng)."""
        if name not in self.names:
            raise ValueError(f"unknown domain {name!r}; domains: {self.names}")
        rng = self.rng if rng is None else rng
        tokens = np.empty((n, self.seq_len), dtype=np.int64)
        tokens[:, 0] = rng.integers(self.vocab_size, size=n)
        if name == "learned":
            tokens[:, 1:] = tokens[:, :1]
            return tokens
        if name == "noise":
            tokens[:, 1:] = rng.integers(self.vocab_size, size=(n, self.seq_len - 1))
            return tokens
        choice = rng.integers(BRANCHING, size=(n, self.seq_len))
        if name == "hard":
            tokens[:, 1] = rng.integers(self.vocab_size, size=n)
        start = 1 if name == "medium" else 2
        for t in range(start, self.seq_len):
            if name == "medium":
                successors = self.tables.order1[tokens[:, t - 1]]
            else:
                successors = self.tables.order2[tokens[:, t - 2], tokens[:, t - 1]]
            tokens[:, t] = successors[np.arange(n), choice[:, t]]
        return tokens

    def _corpus(self, per_domain: int) -> tuple[np.ndarray, np.ndarray]:
        blocks = []
        for k, name in enumerate(self.names):
            tag = np.full((per_domain, 1), self.vocab_size + k, dtype=np.int64)
            blocks.append(np.concatenate([tag, self.sample(name, per_domain)], axis=1))
        domain = np.repeat(np.arange(len(self.names)), per_domain)
        return np.concatenate(blocks), domain

    # ----------------------------------------------------------------------------- metrics
    def excess(self, losses: Sequence[float]) -> np.ndarray:
        """Per-domain held-out loss minus the domain's entropy (nats per predicted token)."""
        return np.asarray(losses, dtype=np.float64) - self.entropy

    def learnable_mean(self, values: Sequence[float]) -> float:
        """Mean of per-domain ``values`` over the learnable domains."""
        return float(np.asarray(values, dtype=np.float64)[self.learnable].mean())

    def describe(self) -> dict:
        """Plain description for results files."""
        return {
            "vocab_size": self.vocab_size,
            "seq_len": self.seq_len,
            "pool_size": self.pool_size,
            "heldout_size": self.heldout_size,
            "seed": self.seed,
            "domains": self.names,
            "entropy_nats": [round(float(h), 6) for h in self.entropy],
            "learnable": [bool(flag) for flag in self.learnable],
        }


def conditional_entropy(tokens: np.ndarray, order: int, vocab_size: int) -> float:
    """Plug-in estimate of ``H(x_t | x_{t-order} .. x_{t-1})`` in nats from sequences ``tokens``,
    pooled over positions ``t >= order`` (a check of the claimed entropies, used by the tests)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    n, length = tokens.shape
    if not 0 <= order < length:
        raise ValueError(f"order must be in [0, {length}), got {order!r}")
    context = np.zeros((n, length - order), dtype=np.int64)
    for lag in range(order, 0, -1):
        context = context * vocab_size + tokens[:, order - lag : length - lag]
    joint = context.ravel() * vocab_size + tokens[:, order:].ravel()
    joint_counts = np.bincount(joint).astype(np.float64)
    context_counts = np.bincount(context.ravel()).astype(np.float64)
    joint_counts = joint_counts[joint_counts > 0]
    context_counts = context_counts[context_counts > 0]
    total = joint_counts.sum()
    # H(Y | C) = H(C, Y) - H(C)
    h_joint = -np.sum(joint_counts / total * np.log(joint_counts / total))
    h_context = -np.sum(context_counts / total * np.log(context_counts / total))
    return float(h_joint - h_context)
