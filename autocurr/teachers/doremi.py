"""DoReMi teacher: online exponentiated-gradient ascent on per-domain excess loss.

Paper: *DoReMi: Optimizing Data Mixtures Speeds Up Language Model Pretraining* (Xie et al.,
NeurIPS 2023, arXiv 2305.10429); official code ``sangmichaelxie/doremi`` (``doremi/trainer.py``,
``doremiv1`` update), as summarised in ``shared/reference/data-mixture-llm.md`` section 2.2.
Written from that description.

Signal: ``loss``. With ``reference_loss=None`` (default) the signal already *is* the excess loss
of a domain's examples over a reference model (any finite value; negative excess is clipped).
With ``reference_loss=[l_1, ..., l_K]`` the signal is the proxy's raw mean loss on domain ``i``
and the teacher subtracts ``l_i``.

Rule (one ``update_batch`` call = one step; a single ``update`` is a step of one item):

- ``lambda_i = max(mean signal of arm i in the step - ref_i, 0)`` for the arms in the step
  (several items of one arm are averaged); arms absent from the step keep their previous
  ``lambda`` (initially ``initial_excess``);
- ``log alpha' = log alpha + eta lambda``; ``alpha' = softmax(log alpha')``;
  ``alpha = (1 - smoothing) alpha' + smoothing / K`` -- for **every** arm at every step;
- the teacher samples from ``alpha`` (online use); ``average_probabilities()`` is the running
  mean ``alpha_bar = (1/T) sum_t alpha_t`` over the steps so far, which is what DoReMi transfers
  to the large model (``alpha`` before the first step if there has been none).

The code clips per token, ``mean(max(l_proxy - l_ref, 0))``; this teacher clips the per-arm mean.
An integration that has per-token losses can send the clipped per-token mean as the signal with
``reference_loss=None`` to match the code exactly.

Defaults and sources: ``eta = 1.0`` (``reweight_eta``, code default and paper) and
``smoothing = 1e-3`` (``reweight_eps`` in the 120M run script; the dataclass default is 1e-4).
``initial_excess = 0.0`` is ours: the code initialises ``lambda`` to ``ln |vocab|``, the same for
every domain, which only matters for domains never seen (they then keep being pushed up by
``eta ln |vocab|`` per step until observed); pass ``math.log(vocab_size)`` to match it.

Pitfall (reference section 7.2, pilot A): DoReMi never samples with ``alpha_t`` online -- its proxy
trains on fixed weights and only ``alpha_bar`` is used. Sampled online with ``eta = 1`` on
un-normalised excess losses, ``alpha`` collapses onto the hardest domain (96-98% on one domain in
the pilot), and the floor ``smoothing / K = 1e-3 / K`` is far below the reference's recommended
``0.05 / K``. For online mixing use a small ``eta`` (0.1), a larger ``smoothing`` (0.05), or
normalised losses, or sample from ``average_probabilities()``.

Cost: O(1) per item for ``lambda``; the exponentiated-gradient step changes every arm, so it is
one numpy pass over the K arms. It runs every ``refresh_every`` steps (default
``max(1, K // 100)``: every step -- the paper's rule -- for K <= 199; for larger K one EG step per
``refresh_every`` steps, with the ``lambda`` current at that step).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autocurr.spaces import Space
from autocurr.teachers.base import check_positive, check_real, check_unit_interval
from autocurr.teachers.sec import BatchStepTeacher

__all__ = ["DoReMiTeacher"]


class DoReMiTeacher(BatchStepTeacher):
    """DoReMi's exponentiated-gradient domain weights, used online; see the module docstring."""

    name = "doremi"
    signal = "loss"

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        eta: float = 1.0,
        smoothing: float = 1e-3,
        reference_loss: list[float] | None = None,
        initial_excess: float = 0.0,
        refresh_every: int | None = None,
    ):
        super().__init__(space, seed)
        n_arms = space.size
        self.eta = check_positive("eta", eta)
        self.smoothing = check_unit_interval("smoothing", smoothing, low_open=True)
        if reference_loss is not None:
            values = np.asarray(reference_loss, dtype=object).reshape(-1).tolist()
            if len(values) != n_arms:
                raise ValueError(
                    f"reference_loss must have one value per task ({n_arms}), got {len(values)}"
                )
            reference_loss = [check_real("reference_loss", value) for value in values]
        self.reference_loss = reference_loss
        self.initial_excess = check_real("initial_excess", initial_excess)
        if self.initial_excess < 0.0:
            raise ValueError(f"initial_excess must be >= 0, got {initial_excess!r}")
        self._init_cache(refresh_every)
        self.hyperparameters = {
            "eta": self.eta,
            "smoothing": self.smoothing,
            "reference_loss": None if reference_loss is None else list(reference_loss),
            "initial_excess": self.initial_excess,
            "refresh_every": self.refresh_every,
        }
        self._reference = np.zeros(n_arms) if reference_loss is None else np.array(reference_loss)
        self.alpha = np.full(n_arms, 1.0 / n_arms)
        self.excess = np.full(n_arms, self.initial_excess)
        self.alpha_sum = np.zeros(n_arms)
        self.eg_steps = 0
        #: Steps since the last exponentiated-gradient step.
        self.since_eg = 0
        self._set_cache(self.alpha, 0.0)

    def _step(self, arms: np.ndarray, means: np.ndarray, counts: np.ndarray) -> None:
        self.excess[arms] = np.maximum(means - self._reference[arms], 0.0)
        self.since_eg += 1
        if self.since_eg >= self.refresh_every:
            self._exponentiated_gradient_step()
            self.since_eg = 0

    def _exponentiated_gradient_step(self) -> None:
        logits = np.log(self.alpha) + self.eta * self.excess
        weights = np.exp(logits - logits.max())
        n_arms = self.alpha.size
        self.alpha = (1.0 - self.smoothing) * weights / weights.sum() + self.smoothing / n_arms
        self.alpha_sum += self.alpha
        self.eg_steps += 1

    def average_probabilities(self) -> np.ndarray:
        """``alpha_bar``: the mean of ``alpha`` over the exponentiated-gradient steps so far."""
        if self.eg_steps == 0:
            return self.alpha.copy()
        average = self.alpha_sum / self.eg_steps
        return average / average.sum()

    def _distribution(self) -> tuple[np.ndarray, float]:
        return self.alpha, 0.0

    def exploration_floor(self) -> float:
        return self.smoothing / self.space.size

    def stats(self) -> dict[str, float]:
        return {**super().stats(), "max_excess": float(self.excess.max())}

    def _get_state(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "excess": self.excess,
            "alpha_sum": self.alpha_sum,
            "eg_steps": self.eg_steps,
            "since_eg": self.since_eg,
            **self._cache_state(),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        arrays = self._checked_arrays(state, ["alpha", "excess", "alpha_sum"])
        if np.any(arrays["alpha"] <= 0.0):
            raise ValueError("state_dict alpha must be > 0")
        eg_steps, since_eg = int(state["eg_steps"]), int(state["since_eg"])
        if eg_steps < 0 or since_eg < 0:
            raise ValueError("state_dict eg_steps and since_eg must be >= 0")
        self._load_cache(state)
        self.alpha, self.excess = arrays["alpha"], arrays["excess"]
        self.alpha_sum = arrays["alpha_sum"]
        self.eg_steps, self.since_eg = eg_steps, since_eg
