"""ALP-GMM: Gaussian mixtures over (task, absolute learning progress) on a ``Box``.

Paper: *Teacher algorithms for curriculum learning of Deep RL in continuously parameterized
environments* (Portelas, Colas, Hofmann, Oudeyer; CoRL 2019; arXiv 1910.07224), as implemented in
teachDeepRL and TeachMyAgent ``algos/alp_gmm.py`` (``shared/reference/teachers-bandit-lp.md``
section 10). Written from that description.

Signal: ``return`` -- any real per-episode return.

Rule:

- **ALP per episode** ``(tau, r)``: once the history holds more than 5 episodes, ``tau'`` is the
  nearest previous task (Euclidean, task coordinates only) and ``alp = |r - r(tau')|``;
  before that ``alp = 0``. Then ``(tau, r)`` joins the history. The nearest neighbour comes from a
  ``scipy.spatial.cKDTree`` rebuilt every ``alp_buffer_size`` additions plus a linear scan of the
  not-yet-indexed tail (teachDeepRL's buffered dataset); ties go to the earliest indexed task.
  ``alp_max_size`` keeps only that many most recent tasks as neighbour candidates (``None``:
  all of them; see the defaults below).
- **Fit**: every ``fit_rate`` episodes (the first after ``fit_rate`` bootstrap episodes) the last
  ``fit_rate`` rows of ``[tau, alp]`` are fitted by a full-covariance Gaussian mixture for every
  ``k`` in ``min_k .. max_k`` (inclusive -- TeachMyAgent's CLI range excludes ``max_k``, a known
  defect not reproduced here); the mixture minimising ``criterion`` (``"aic"``, ``"bic"`` or
  ``"aicc"`` = AIC + 2k'(k'+1)/(n - k' - 1), k' free parameters) is kept. Each fit draws one integer
  seed from ``self.rng`` for scikit-learn, so runs are deterministic.
- **Sample**: before the first fit, and with probability ``random_task_ratio`` afterwards, a uniform
  task of the box; otherwise a component with probability proportional to its mean ALP coordinate
  (uniform if all are 0), a draw from that Gaussian (made with ``self.rng`` from the stored
  parameters), the ALP coordinate dropped and the task clipped to the box.

Defaults (one documented set): the teachDeepRL / TeachMyAgent *class* defaults -- ``fit_rate
250``, ``k 2..10``, ``random_task_ratio 0.2``, ``alp_buffer_size 500``, AIC, one EM init -- plus
``alp_max_size = 500``, the neighbour-history cap of the SPDL point-mass ALP-GMM runs
(``AG_MAX_SIZE``). (TeachMyAgent's *benchmark* command line used ``fit_rate 150``, ``random 5%``,
``k 2..9``.) The cap matters: with an unlimited history the nearest "previous" task of a mastered
region is often an old episode from before it was learned, so mastered regions keep a high ALP
and the mixture keeps sampling them. Measured by us on HypercubeUnlock(dim=2, rng=seed), teacher
seed = seed, % cells mastered after 20k episodes (uniform sampling: 3):

- no cap, seed 0, the literature grid fit_rate {50, 150, 250, 350} x random {0.05, 0.1, 0.2, 0.3}
  x max_k {5, 10}: 15-39 (class defaults: 30; TeachMyAgent benchmark 150 / 0.05 / 10: 28);
- cap 500, seed 0: 250 / 0.2 (our default) 54, 250 / 0.1 59, 150 / 0.2 56, 150 / 0.1 64;
  cap 2000: 32-40; cap 250: 58-66 (250 is not a literature value);
- our default over seeds 0-4: 54 / 60 / 60 / 61 / 52 (150 / 0.1 / cap 500: 64 / 56 / 51 on 0-2);
  with 2 distractor dims (HypercubeUnlock(dim=2, distractor_dims=2)), seeds 0-2: 64 / 71 / 64.

The cap is enforced when the kd-tree is rebuilt (every ``alp_buffer_size`` updates), so the
neighbour candidates are the last ``alp_max_size`` to ``alp_max_size + alp_buffer_size`` tasks.
``alp_max_size=None`` gives the class behaviour (unlimited history).

Needs scikit-learn (and scipy, which it installs): ``pip install scikit-learn``. It is imported
when the teacher is built, so a missing install fails early with that hint.

Cost: ``sample`` O(k d^2); ``update`` O(log n) for the kd-tree query plus O(alp_buffer_size * d)
for the tail scan, plus a kd-tree rebuild every ``alp_buffer_size`` updates and
``max_k - min_k + 1`` mixture fits every ``fit_rate`` updates. Measured on the 2-core machine over
20k HypercubeUnlock episodes with the defaults: sample ~8 us; update ~39 us without fits and
~430 us amortised with the 80 refits (~0.1 s per refit of 9 mixtures); ``fit_rate 150``: ~480 us.
scikit-learn runs single-threaded inside the fits (threads only slowed them down).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any

import numpy as np

from autocurr.spaces import Box, Space
from autocurr.teachers.base import Teacher, check_int, check_unit_interval

__all__ = ["ALPGMMTeacher"]

_CRITERIA = ("aic", "bic", "aicc")
#: The history must hold more than this many episodes before ALP is computed (teachDeepRL).
_MIN_HISTORY_FOR_ALP = 5
_INSTALL_HINT = 'alp-gmm needs scikit-learn: pip install "autocurr[sklearn]" (or scikit-learn)'


def _import_sklearn_mixture():
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT) from error
    return GaussianMixture


def _import_kdtree():
    try:
        from scipy.spatial import cKDTree
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL_HINT) from error
    return cKDTree


def _single_thread():
    """Run scikit-learn's native code on one thread: on a few hundred rows threads only add
    overhead, and on a busy machine OpenMP spin-waits made fits ~10x slower (measured)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def n_free_parameters(n_components: int, n_features: int) -> int:
    """Free parameters of a full-covariance Gaussian mixture (means, covariances, weights)."""
    per_component = n_features + n_features * (n_features + 1) // 2
    return n_components * per_component + n_components - 1


class ALPGMMTeacher(Teacher):
    """ALP-GMM (Portelas et al., 2019); see the module docstring for the rule and defaults."""

    name = "alp-gmm"
    signal = "return"
    requires_finite = False

    def __init__(
        self,
        space: Space,
        seed: int | np.random.SeedSequence | None = None,
        fit_rate: int = 250,
        min_k: int = 2,
        max_k: int = 10,
        random_task_ratio: float = 0.2,
        alp_buffer_size: int = 500,
        alp_max_size: int | None = 500,
        criterion: str = "aic",
        n_em_init: int = 1,
    ):
        super().__init__(space, seed)
        if not isinstance(space, Box):
            raise ValueError(f"teacher {self.name!r} needs a Box space, got {space!r}")
        self.fit_rate = check_int("fit_rate", fit_rate, 2)
        self.min_k = check_int("min_k", min_k, 1)
        self.max_k = check_int("max_k", max_k, 1)
        if self.max_k < self.min_k:
            raise ValueError(f"max_k must be >= min_k, got min_k={min_k!r}, max_k={max_k!r}")
        if self.max_k > self.fit_rate:
            raise ValueError(f"max_k ({max_k!r}) cannot exceed fit_rate ({fit_rate!r}) points")
        self.random_task_ratio = check_unit_interval("random_task_ratio", random_task_ratio)
        self.alp_buffer_size = check_int("alp_buffer_size", alp_buffer_size, 1)
        if alp_max_size is not None:
            alp_max_size = check_int("alp_max_size", alp_max_size, 1)
        self.alp_max_size = alp_max_size
        if criterion not in _CRITERIA:
            raise ValueError(f"criterion must be one of {_CRITERIA}, got {criterion!r}")
        self.criterion = criterion
        self.n_em_init = check_int("n_em_init", n_em_init, 1)
        self.hyperparameters = {
            "fit_rate": self.fit_rate,
            "min_k": self.min_k,
            "max_k": self.max_k,
            "random_task_ratio": self.random_task_ratio,
            "alp_buffer_size": self.alp_buffer_size,
            "alp_max_size": self.alp_max_size,
            "criterion": self.criterion,
            "n_em_init": self.n_em_init,
        }
        self._gaussian_mixture = _import_sklearn_mixture()
        self._kdtree_class = _import_kdtree()
        dim = space.dim
        # Retained history: rows [0, n_history) of arrays that grow by doubling. With
        # alp_max_size set, rows no longer needed (neither neighbour candidates nor among the
        # last fit_rate) are dropped at each kd-tree rebuild, so memory stays bounded.
        self._tasks = np.zeros((64, dim))
        self._rewards = np.zeros(64)
        self._alps = np.zeros(64)
        self.n_history = 0
        self.n_seen = 0  # episodes ever reported (drives the fit schedule)
        # Neighbour index: a kd-tree over rows [_tree_start, _tree_end), then a linear tail.
        self._tree_start = 0
        self._tree_end = 0
        self._tree = None
        self._clear_mixture()

    # ----------------------------------------------------------------------------- mixture
    def _clear_mixture(self) -> None:
        self.weights: np.ndarray | None = None
        self.means: np.ndarray | None = None
        self.covariances: np.ndarray | None = None
        self._cholesky: np.ndarray | None = None
        self._component_cdf: list[float] = []
        self.n_fits = 0
        self.last_criteria: list[float] = []

    def _set_mixture(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> None:
        k, n_features = means.shape
        if n_features != self.space.dim + 1 or weights.shape != (k,):
            raise ValueError("mixture parameters do not match the task dimension")
        if covariances.shape != (k, n_features, n_features):
            raise ValueError("mixture covariances have the wrong shape")
        for array in (weights, means, covariances):
            if not np.all(np.isfinite(array)):
                raise ValueError("mixture parameters must be finite")
        try:
            cholesky = np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            raise ValueError("mixture covariances must be positive definite") from None
        # Components are chosen in proportion to their mean ALP, uniformly if all are 0.
        progress = np.maximum(means[:, -1], 0.0)
        total = float(progress.sum())
        shares = progress / total if total > 0.0 else np.full(k, 1.0 / k)
        self._component_cdf = np.cumsum(shares).tolist()
        self.weights, self.means, self.covariances = weights, means, covariances
        self._cholesky = cholesky

    def fit_mixture(self, data: np.ndarray, seed: int) -> None:
        """Fit one mixture per ``k`` on ``data`` and keep the best one by ``criterion``."""
        best = None
        criteria = []
        n_samples, n_features = data.shape
        with warnings.catch_warnings(), _single_thread():
            warnings.simplefilter("ignore")  # convergence warnings on tiny clusters are expected
            for k in range(self.min_k, self.max_k + 1):
                mixture = self._gaussian_mixture(
                    n_components=k,
                    covariance_type="full",
                    n_init=self.n_em_init,
                    random_state=seed,
                ).fit(data)
                value = self._criterion(mixture, data, k, n_samples, n_features)
                criteria.append(value)
                if best is None or value < best[0]:
                    best = (value, mixture)
        mixture = best[1]
        self._set_mixture(
            np.array(mixture.weights_, dtype=np.float64),
            np.array(mixture.means_, dtype=np.float64),
            np.array(mixture.covariances_, dtype=np.float64),
        )
        self.last_criteria = criteria
        self.n_fits += 1

    def _criterion(self, mixture, data, k, n_samples, n_features) -> float:
        if self.criterion == "bic":
            return float(mixture.bic(data))
        aic = float(mixture.aic(data))
        if self.criterion == "aic":
            return aic
        free = n_free_parameters(k, n_features)
        denominator = n_samples - free - 1
        return aic + 2.0 * free * (free + 1) / denominator if denominator > 0 else math.inf

    # ----------------------------------------------------------------------------- sampling
    def exploration_floor(self) -> float:
        return 1.0 if self.means is None else self.random_task_ratio

    def _sample_one(self) -> np.ndarray:
        if self.means is None or self.rng.random() < self.random_task_ratio:
            return self.space.sample(self.rng)
        u = self.rng.random()
        cdf = self._component_cdf
        component = next((i for i, edge in enumerate(cdf) if u < edge), len(cdf) - 1)
        draw = self.means[component] + self._cholesky[component] @ self.rng.standard_normal(
            self.means.shape[1]
        )
        return np.clip(draw[:-1], self.space.low, self.space.high)

    # ----------------------------------------------------------------------------- updates
    def nearest_previous(self, task: np.ndarray) -> int:
        """History row of the task nearest to ``task`` (earliest on ties), or -1 if none."""
        best_row, best_d2 = -1, math.inf
        if self._tree is not None:
            distance, position = self._tree.query(task)
            best_row, best_d2 = self._tree_start + int(position), float(distance) ** 2
        tail = self._tasks[self._tree_end : self.n_history]
        if tail.shape[0]:
            d2 = np.sum((tail - task) ** 2, axis=1)
            position = int(np.argmin(d2))
            if float(d2[position]) < best_d2:
                best_row, best_d2 = self._tree_end + position, float(d2[position])
        return best_row

    def absolute_progress(self, task: np.ndarray, reward: float) -> float:
        """ALP of a new episode against the history so far (0 while it holds <= 5 episodes)."""
        if self.n_seen <= _MIN_HISTORY_FOR_ALP:
            return 0.0
        return abs(reward - float(self._rewards[self.nearest_previous(task)]))

    def _append(self, task: np.ndarray, reward: float, alp: float) -> None:
        if self.n_history == self._rewards.size:
            capacity = 2 * self._rewards.size
            self._tasks = np.resize(self._tasks, (capacity, self.space.dim))
            self._rewards = np.resize(self._rewards, capacity)
            self._alps = np.resize(self._alps, capacity)
        row = self.n_history
        self._tasks[row] = task
        self._rewards[row] = reward
        self._alps[row] = alp
        self.n_history += 1

    def _build_tree(self, start: int, end: int) -> None:
        self._tree = self._kdtree_class(self._tasks[start:end].copy()) if end > start else None
        self._tree_start, self._tree_end = start, end

    def _rebuild_tree(self) -> None:
        end = self.n_history
        start = 0 if self.alp_max_size is None else max(0, end - self.alp_max_size)
        drop = min(start, end - self.fit_rate)
        if drop > 0:  # forget rows that are neither neighbour candidates nor fit data
            kept = end - drop
            self._tasks[:kept] = self._tasks[drop:end]
            self._rewards[:kept] = self._rewards[drop:end]
            self._alps[:kept] = self._alps[drop:end]
            self.n_history = kept
            start, end = start - drop, kept
        self._build_tree(start, end)

    def _update(self, task: Any, signal: float) -> None:
        alp = self.absolute_progress(task, signal)
        self._append(task, signal, alp)
        self.n_seen += 1
        if self.n_history - self._tree_end >= self.alp_buffer_size:
            self._rebuild_tree()
        if self.n_seen >= self.fit_rate and self.n_seen % self.fit_rate == 0:
            n = self.n_history
            rows = slice(n - self.fit_rate, n)
            data = np.column_stack([self._tasks[rows], self._alps[rows]])
            self.fit_mixture(data, int(self.rng.integers(2**31 - 1)))

    # ----------------------------------------------------------------------------- logging/state
    def history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the retained (tasks, rewards, alps), oldest first (all episodes when
        ``alp_max_size`` is ``None``)."""
        n = self.n_history
        return self._tasks[:n].copy(), self._rewards[:n].copy(), self._alps[:n].copy()

    def stats(self) -> dict[str, float]:
        recent = self._alps[max(0, self.n_history - self.fit_rate) : self.n_history]
        return {
            **super().stats(),
            "n_components": float(0 if self.means is None else self.means.shape[0]),
            "n_fits": float(self.n_fits),
            "mean_recent_alp": float(recent.mean()) if recent.size else 0.0,
            "max_component_alp": 0.0 if self.means is None else float(self.means[:, -1].max()),
            "uniform_share": self.exploration_floor(),
        }

    def _get_state(self) -> dict[str, Any]:
        tasks, rewards, alps = self.history()
        has_mixture = self.means is not None
        return {
            "tasks": tasks,
            "rewards": rewards,
            "alps": alps,
            "n_seen": self.n_seen,
            "tree_start": self._tree_start,
            "tree_end": self._tree_end,
            "mixture": (
                {"weights": self.weights, "means": self.means, "covariances": self.covariances}
                if has_mixture
                else None
            ),
            "n_fits": self.n_fits,
            "last_criteria": list(self.last_criteria),
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        tasks = np.array(state["tasks"], dtype=np.float64).reshape(-1, self.space.dim)
        rewards = np.array(state["rewards"], dtype=np.float64)
        alps = np.array(state["alps"], dtype=np.float64)
        n = tasks.shape[0]
        if rewards.shape != (n,) or alps.shape != (n,):
            raise ValueError("state_dict history arrays have different lengths")
        finite = all(np.all(np.isfinite(a)) for a in (tasks, rewards, alps))
        inside = bool(np.all(tasks >= self.space.low) and np.all(tasks <= self.space.high))
        if not (finite and inside and np.all(alps >= 0.0)):
            raise ValueError("state_dict history must be finite, inside the box, with alps >= 0")
        n_seen, tree_start, tree_end = (int(state[k]) for k in ("n_seen", "tree_start", "tree_end"))
        if not 0 <= tree_start <= tree_end <= n <= n_seen or n - tree_end > self.alp_buffer_size:
            raise ValueError(f"state_dict tree bounds are invalid for {n} history rows")
        n_fits = int(state["n_fits"])
        mixture = state["mixture"]
        if mixture is not None:
            self._set_mixture(  # validates before assigning
                np.array(mixture["weights"], dtype=np.float64),
                np.array(mixture["means"], dtype=np.float64),
                np.array(mixture["covariances"], dtype=np.float64),
            )
        else:
            self.weights = self.means = self.covariances = self._cholesky = None
            self._component_cdf = []
        capacity = max(64, 1 << max(0, n - 1).bit_length())
        self._tasks = np.zeros((capacity, self.space.dim))
        self._rewards = np.zeros(capacity)
        self._alps = np.zeros(capacity)
        self._tasks[:n], self._rewards[:n], self._alps[:n] = tasks, rewards, alps
        self.n_history = n
        self.n_seen = n_seen
        self._build_tree(tree_start, tree_end)
        self.n_fits = n_fits
        self.last_criteria = [float(v) for v in state["last_criteria"]]
