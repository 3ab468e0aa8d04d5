"""Tests of the Box teachers: binned-lp, alp-gmm, riac and adr.

Behaviour on HypercubeUnlock (``autocurr.envs``; reference section 19.2), % of cells mastered
after 5k / 10k / 15k / 20k episodes, student and teacher seed = seed (measured with the defaults):

- 2-D, seeds 0-2: binned-lp 20-22 / 51-54 / 86-87 / 100; alp-gmm (20k) 54 / 60 / 60 (seeds 3-4:
  61 / 52); riac (20k) 39 / 39 / 35; uniform 0 / 1 / 1-2 / 3.
- 2 relevant + 2 distractor dims, seeds 0-2, 20k: binned-lp (4^4 cells) 56 / 57 / 56; alp-gmm
  64 / 71 / 64; riac 22 (seed 0); uniform 3.

binned-lp's 20k-episode runs take about a second, so its full targets run by default; the
20k-episode alp-gmm runs (~5-10 s each) are marked slow.
"""

import math
import pickle
import subprocess
import sys

import numpy as np
import pytest

from autocurr.envs import HypercubeUnlock, run_curriculum
from autocurr.spaces import Box, Discrete
from autocurr.teachers.adr import ADRTeacher
from autocurr.teachers.alp_gmm import ALPGMMTeacher
from autocurr.teachers.binned_lp import BinnedLPTeacher, Discretizer, default_bins
from autocurr.teachers.riac import RIACTeacher, region_alp
from autocurr.teachers.uniform import UniformTeacher

ADR_THRESHOLDS = {"low_threshold": 0.2, "high_threshold": 0.8}
TEACHERS = {
    "binned-lp": (BinnedLPTeacher, {}),
    "alp-gmm": (ALPGMMTeacher, {"fit_rate": 50, "max_k": 4}),
    "riac": (RIACTeacher, {"max_region_size": 40}),
    "adr": (ADRTeacher, {**ADR_THRESHOLDS, "initial": [0.0, 0.0, 0.0]}),
}


def assert_same_state(a, b, where="state"):
    """Recursive equality of two state dicts (arrays compared exactly, types included)."""
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b, where


def build(name, space, seed=0, **extra):
    cls, hp = TEACHERS[name]
    return cls(space, seed=seed, **{**hp, **extra})


def reload(teacher):
    """A fresh teacher of the same kind restored from ``teacher.state_dict()``."""
    state = pickle.loads(pickle.dumps(teacher.state_dict()))
    clone = type(teacher)(teacher.space, **state["hyperparameters"])
    clone.load_state_dict(state)
    return clone


def drive(teacher, student, n):
    tasks = []
    for _ in range(n):
        task = teacher.sample()
        tasks.append(task)
        teacher.update(task, student.episode(task))
    return np.array(tasks)


def fraction_mastered(teacher_factory, n_episodes, seed=0, **student_kwargs):
    student = HypercubeUnlock(dim=2, rng=seed, **student_kwargs)
    teacher = teacher_factory(student.task_space, seed)
    run_curriculum(student, teacher, n_episodes)
    return student.fraction_mastered()


# ================================================================================ common contract
@pytest.mark.parametrize("name", sorted(TEACHERS))
def test_rejects_finite_spaces(name):
    with pytest.raises(ValueError, match="Box"):
        build(name, Discrete(5))


@pytest.mark.parametrize("name", sorted(TEACHERS))
def test_samples_stay_in_the_box_and_state_round_trip_is_exact(name):
    space = Box([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    student = HypercubeUnlock(dim=2, distractor_dims=1, rng=0)
    teacher = build(name, space, seed=3)
    tasks = drive(teacher, student, 400)
    assert tasks.shape == (400, 3) and np.all(tasks >= 0.0) and np.all(tasks <= 1.0)
    clone = reload(teacher)
    assert_same_state(clone.state_dict(), teacher.state_dict())
    assert clone.stats() == teacher.stats()
    rng = np.random.default_rng(5)
    for _ in range(300):  # same samples and states on the same future updates, fits included
        a, b = teacher.sample(), clone.sample()
        np.testing.assert_array_equal(a, b)
        signal = float(rng.random())
        teacher.update(a, signal)
        clone.update(b, signal)
    assert_same_state(clone.state_dict(), teacher.state_dict())


@pytest.mark.parametrize("name", sorted(TEACHERS))
def test_bad_input_raises_and_leaves_state_unchanged(name):
    space = Box([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    teacher = build(name, space, seed=1)
    drive(teacher, HypercubeUnlock(dim=2, distractor_dims=1, rng=0), 120)
    task = teacher.sample()
    after_sample = teacher.state_dict()
    bad = [
        (task, math.nan),
        (task, "x"),
        ([0.5, 0.5, 1.5], 0.5),
        ([0.5, 0.5], 0.5),
        ([0.5, math.nan, 0.5], 0.5),
    ]
    for bad_task, bad_signal in bad:
        with pytest.raises(ValueError):
            teacher.update(bad_task, bad_signal)
        with pytest.raises(ValueError):
            teacher.update_batch([task, bad_task], [0.5, bad_signal])
    assert_same_state(teacher.state_dict(), after_sample)
    with pytest.raises((ValueError, KeyError)):
        teacher.load_state_dict({**teacher.state_dict(), "state": {"broken": True}})
    assert_same_state(teacher.state_dict(), after_sample)


# ==================================================================================== binned-lp
def test_default_bins_per_dimension():
    assert [default_bins(d) for d in (1, 2, 3, 4, 5, 6, 8)] == [10, 10, 6, 4, 3, 2, 2]
    assert Discretizer(Box([0, 0], [1, 1])).n_cells == 100
    assert Discretizer(Box([0, 0, 0, 0], [1, 1, 1, 1])).bins == (4, 4, 4, 4)
    assert Discretizer(Box([0, 5], [1, 5])).bins == (10, 1)  # low == high: one bin
    with pytest.raises(ValueError, match="bins"):
        Discretizer(Box([0, 5], [1, 5]), bins=[4, 2])
    with pytest.raises(ValueError, match="bins"):
        Discretizer(Box([0, 0], [1, 1]), bins=[4, 0])


class _ConstantRng:
    """Stands in for a Generator whose ``random`` returns one value (to hit the cell faces)."""

    def __init__(self, value):
        self.value = value

    def random(self, size):
        return np.full(size, self.value)


def test_discretizer_round_trip_and_boundaries():
    box = Box([0.1, -2.0], [1.1, 2.0])
    grid = Discretizer(box, bins=[10, 8])
    rng = np.random.default_rng(0)
    for cell in range(grid.n_cells):
        points = [grid.point_in(cell, rng) for _ in range(20)]
        # jitter at the very faces of the cell, where rounding can cross into a neighbour
        points += [grid.point_in(cell, _ConstantRng(v)) for v in (0.0, 1.0 - 2**-53)]
        for point in points:
            assert box.contains(point)
            assert grid.cell_of(point) == cell
        low, high = grid.cell_bounds(cell)
        assert np.all(np.array(points) >= low - 1e-12) and np.all(np.array(points) <= high + 1e-12)
    unit = Discretizer(Box([0.0, 0.0], [1.0, 1.0]), bins=4)
    assert unit.cell_of(np.array([0.0, 0.0])) == 0
    assert unit.cell_of(np.array([0.25, 0.5])) == 1 * 4 + 2  # inner faces go to the upper cell
    assert unit.cell_of(np.array([1.0, 1.0])) == 15  # the box's upper face: the last cell
    assert unit.cell_of(np.array([0.9999, 0.0])) == 12
    np.testing.assert_array_equal(unit.unravel(6), [1, 2])


def test_binned_lp_hand_computed_progress_and_cell_distribution():
    teacher = BinnedLPTeacher(Box([0.0], [1.0]), seed=0, bins=2, epsilon=0.2)
    assert teacher.exploration_floor() == 1.0  # no progress anywhere: uniform over the box
    np.testing.assert_allclose(teacher.cell_probabilities(), [0.5, 0.5])
    teacher.update([0.1], 0.0)  # first return starts the EMA: no progress
    teacher.update([0.7], 5.0)  # other cell, first return
    assert teacher.progress.tolist() == [0.0, 0.0]
    teacher.update([0.4], 1.0)  # m = 0 -> 0.2, delta = 0.2 * |1 - 0| = 0.2, LP = 0.2 * 0.2
    teacher.update([0.5], 5.0)  # cell 1: constant return, delta 0
    np.testing.assert_allclose(teacher.reward_ema, [0.2, 5.0])
    np.testing.assert_allclose(teacher.progress, [0.04, 0.0])
    assert teacher.exploration_floor() == 0.2
    np.testing.assert_allclose(teacher.cell_probabilities(), [0.8 + 0.1, 0.1])
    samples = np.array(teacher.sample(4000))
    assert abs(np.mean(samples < 0.5) - 0.9) < 0.03
    teacher.update([0.0], 1.0)  # m = 0.2 -> 0.36, delta = 0.16, LP = 0.04 + 0.2 * (0.16 - 0.04)
    np.testing.assert_allclose(teacher.progress, [0.064, 0.0])


def test_binned_lp_masters_the_2d_hypercube_and_beats_uniform_with_distractors():
    # 20k episodes take well under a second: these are the full targets.
    def binned(space, seed):
        return BinnedLPTeacher(space, seed=seed)

    def uniform(space, seed):
        return UniformTeacher(space, seed=seed)

    assert fraction_mastered(binned, 20_000, seed=0) >= 0.95
    assert fraction_mastered(binned, 5_000, seed=1) >= 0.1
    assert fraction_mastered(uniform, 5_000, seed=1) <= 0.02
    with_distractors = fraction_mastered(binned, 20_000, seed=0, distractor_dims=2)
    random_share = fraction_mastered(uniform, 20_000, seed=0, distractor_dims=2)
    assert with_distractors >= 10 * max(random_share, 0.01)


# ====================================================================================== alp-gmm
def test_sklearn_is_imported_lazily():
    code = "import sys, autocurr.teachers.alp_gmm; sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("buffer", [2, 3, 500])
def test_alp_is_distance_to_the_nearest_previous_task(buffer):
    teacher = ALPGMMTeacher(Box([0.0], [10.0]), seed=0, alp_buffer_size=buffer, fit_rate=100)
    for x, r in zip([0, 2, 4, 6, 8, 10], [0, 1, 2, 3, 4, 5], strict=True):
        teacher.update([x], r)  # history holds <= 5 episodes before each: ALP 0
    teacher.update([4.9], 10.0)  # nearest previous: 4 (reward 2) -> |10 - 2|
    teacher.update([5.0], 0.0)  # nearest previous: 4.9 (reward 10) -> 10
    teacher.update([9.0], 4.5)  # 8 and 10 tie; the earliest (8, reward 4) wins -> 0.5
    _, rewards, alps = teacher.history()
    np.testing.assert_allclose(alps, [0, 0, 0, 0, 0, 0, 8.0, 10.0, 0.5])
    assert rewards.tolist()[-1] == 4.5


def test_alp_window_forgets_old_neighbours():
    teacher = ALPGMMTeacher(
        Box([0.0], [10.0]), seed=0, alp_buffer_size=2, alp_max_size=2, fit_rate=100
    )
    for x, r in zip([5, 0, 1, 2, 3, 9, 9.5], [7, 0, 0, 0, 0, 0, 0], strict=True):
        teacher.update([x], r)
    teacher.update([5.0], 1.0)  # task 5 (reward 7) left the window long ago; 3 is nearest now
    assert teacher.history()[2][-1] == 1.0


def test_aic_picks_the_number_of_clusters_and_sampling_follows_alp():
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 1.0, 0.0], [5.0, 5.0, 0.0], [9.0, 1.0, 1.0]])
    data = np.concatenate([c + 0.1 * rng.standard_normal((100, 3)) for c in centres])
    data[:, 2] = np.abs(data[:, 2])
    teacher = ALPGMMTeacher(
        Box([0.0, 0.0], [10.0, 10.0]), seed=0, min_k=1, max_k=6, random_task_ratio=0.0
    )
    teacher.fit_mixture(data, seed=0)
    assert teacher.means.shape[0] == 3
    assert len(teacher.last_criteria) == 6 and int(np.argmin(teacher.last_criteria)) == 2
    samples = np.array(teacher.sample(500))
    assert np.all(samples >= 0.0) and np.all(samples <= 10.0)
    # a component is picked in proportion to its mean ALP (about 0.08, 0.08 and 1 here)
    alp_means = teacher.means[:, -1]
    expected = alp_means[np.argmax(alp_means)] / alp_means.sum()
    near = np.linalg.norm(samples - [9.0, 1.0], axis=1) < 1.0
    assert 0.8 < expected < 0.9 and abs(near.mean() - expected) < 0.05


def test_alp_gmm_fits_on_schedule_and_validates_hyperparameters():
    teacher = ALPGMMTeacher(Box([0.0, 0.0], [1.0, 1.0]), seed=0, fit_rate=30, max_k=3)
    student = HypercubeUnlock(dim=2, rng=0)
    drive(teacher, student, 29)
    assert teacher.means is None and teacher.exploration_floor() == 1.0
    drive(teacher, student, 1)
    assert teacher.n_fits == 1 and teacher.exploration_floor() == teacher.random_task_ratio
    drive(teacher, student, 30)
    assert teacher.n_fits == 2
    bounded = ALPGMMTeacher(
        Box([0.0], [1.0]), seed=0, fit_rate=10, max_k=2, alp_max_size=5, alp_buffer_size=5
    )
    drive(bounded, HypercubeUnlock(dim=1, rng=0), 200)
    assert bounded.n_seen == 200 and bounded.n_fits == 20
    assert 10 <= bounded.n_history < 15  # old rows are dropped: memory stays bounded
    for bad in ({"max_k": 1, "min_k": 2}, {"fit_rate": 5, "max_k": 10}, {"criterion": "x"}):
        with pytest.raises(ValueError):
            ALPGMMTeacher(Box([0.0], [1.0]), **bad)


def test_alp_gmm_beats_uniform_on_the_hypercube_quickly():
    def alp_gmm(space, seed):
        return ALPGMMTeacher(space, seed=seed)

    def uniform(space, seed):
        return UniformTeacher(space, seed=seed)

    assert fraction_mastered(alp_gmm, 8_000, seed=0) >= fraction_mastered(uniform, 8_000) + 0.04


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alp_gmm_2d_hypercube_target(seed):
    def alp_gmm(space, teacher_seed):
        return ALPGMMTeacher(space, seed=teacher_seed)

    assert fraction_mastered(alp_gmm, 20_000, seed=seed) >= 0.5


@pytest.mark.slow
def test_alp_gmm_with_distractor_dims_beats_uniform_tenfold():
    def alp_gmm(space, seed):
        return ALPGMMTeacher(space, seed=seed)

    def uniform(space, seed):
        return UniformTeacher(space, seed=seed)

    ours = fraction_mastered(alp_gmm, 20_000, distractor_dims=2)
    assert ours >= 10 * max(fraction_mastered(uniform, 20_000, distractor_dims=2), 0.01)


# ========================================================================================= riac
def test_region_alp_hand_computed():
    assert region_alp([], 10) == 0.0 and region_alp([3.0, 9.0], 10) == 0.0
    assert region_alp([0.0, 0.0, 1.0, 1.0], 10) == 1.0
    # W = 5: older half [1, 2, 3] (mean 2), newer half [4, 5] (mean 4.5)
    assert region_alp([1.0, 2.0, 3.0, 4.0, 5.0], 10) == 2.5
    # W = 4: the last four returns only: [2, 3] vs [4, 5]
    assert region_alp([1.0, 2.0, 3.0, 4.0, 5.0], 4) == 2.0


def test_riac_splits_a_full_region_into_children_that_cover_it():
    space = Box([0.0, 0.0], [1.0, 2.0])
    teacher = RIACTeacher(space, seed=0, max_region_size=20, min_dims_range_ratio=0.1)
    rng = np.random.default_rng(1)
    for step in range(20):
        teacher.update(rng.uniform([0, 0], [1, 2]), float(step))
    assert len(teacher.regions) == 1  # 20 pairs: not over max_region_size yet
    teacher.update([0.5, 1.0], 0.0)
    assert len(teacher.regions) == 3 and teacher.n_splits == 1
    root = teacher.regions[0]
    low_child, high_child = (teacher.regions[i] for i in root.children)
    dim, threshold = root.split
    assert low_child.high[dim] == threshold == high_child.low[dim]
    np.testing.assert_array_equal(low_child.low, root.low)
    np.testing.assert_array_equal(high_child.high, root.high)
    other = 1 - dim
    assert low_child.high[other] == high_child.high[other] == root.high[other]
    assert 0.1 * (space.high[dim] - space.low[dim]) <= threshold - root.low[dim]
    assert len(low_child.rewards) + len(high_child.rewards) == len(root.rewards) == 21
    for child, inside in (
        (low_child, lambda x: x <= threshold),
        (high_child, lambda x: x > threshold),
    ):
        assert len(child.rewards) >= 1  # min_region_size = 20 / 20
        assert all(inside(t[dim]) for t in child.tasks)
        assert child.alp == region_alp(child.rewards, teacher.alp_window)
    task = np.array([0.3, 1.7])
    leaf = teacher.regions[teacher.path_of(task)[-1]]
    assert np.all(leaf.low <= task) and np.all(task <= leaf.high)


def test_riac_discards_oldest_pairs_when_no_split_is_valid():
    # all tasks at one point: no threshold leaves min_region_size pairs on both sides
    teacher = RIACTeacher(Box([0.0], [1.0]), seed=0, max_region_size=20, discard_ratio=0.25)
    for step in range(21):
        teacher.update([0.5], float(step))
    assert len(teacher.regions) == 1
    assert list(teacher.regions[0].rewards) == [float(s) for s in range(5, 21)]


def test_riac_samples_follow_region_progress():
    teacher = RIACTeacher(
        Box([0.0, 0.0], [1.0, 1.0]),
        seed=0,
        max_region_size=30,
        random_ratio=0.0,
        mutation_ratio=0.0,
        leaves_only=True,
    )
    rng = np.random.default_rng(0)
    progress = 0.0
    for _ in range(600):  # returns improve only left of x = 0.5
        task = rng.random(2)
        if task[0] < 0.5:
            progress += 0.01
        teacher.update(task, progress if task[0] < 0.5 else 0.0)
    samples = np.array(teacher.sample(2000))
    assert np.mean(samples[:, 0] < 0.5) > 0.8
    assert teacher.exploration_floor() == 0.0


def test_riac_mutation_noise_scales_with_the_box():
    teacher = RIACTeacher(
        Box([0.0], [1000.0]), seed=0, random_ratio=0.0, mutation_ratio=1.0, mutation_noise=0.1
    )
    for x in (100.0, 500.0, 900.0):
        teacher.update([x], 1.0)
    teacher.update([500.0], 0.0)  # lowest return at 500
    samples = np.array(teacher.sample(2000))[:, 0]
    assert abs(np.std(samples) - 100.0) < 10.0 and abs(np.mean(samples) - 500.0) < 10.0


# ========================================================================================== adr
def play(teacher, signal_for_pin, until, limit=10_000):
    """Sample/update; the signal depends on the (dim, side) the sample pinned (None if none)."""
    for _ in range(limit):
        task = teacher.sample()
        teacher.update(task, signal_for_pin(teacher.boundary_of(task)))
        if until():
            return
    raise AssertionError("condition never reached")


def test_adr_needs_thresholds_and_validates():
    with pytest.raises(ValueError, match="low_threshold and high_threshold"):
        ADRTeacher(Box([0.0], [1.0]))
    with pytest.raises(ValueError, match="low_threshold must be <="):
        ADRTeacher(Box([0.0], [1.0]), low_threshold=1.0, high_threshold=0.0)
    with pytest.raises(ValueError, match="initial"):
        ADRTeacher(Box([0.0], [1.0]), initial=[2.0], **ADR_THRESHOLDS)


def test_adr_widens_narrows_and_keeps_boundaries_on_queue_means():
    space = Box([0.0, 0.0], [1.0, 2.0])
    teacher = ADRTeacher(
        space,
        seed=0,
        initial=[0.5, 1.0],
        boundary_prob=1.0,
        queue_length=3,
        epsilon=0.0,
        **ADR_THRESHOLDS,
    )
    np.testing.assert_array_equal(teacher.step, [0.1, 0.2])  # default: 10% of each range
    assert teacher.entropy() == pytest.approx(math.log(1e-12))
    # success on (dim 1, high) only; 0.5 (between the thresholds) everywhere else
    play(teacher, lambda pin: 1.0 if pin == (1, "high") else 0.5, lambda: teacher.n_widen == 1)
    np.testing.assert_array_equal(teacher.hi, [0.5, 1.2])  # widened by exactly step[1]
    np.testing.assert_array_equal(teacher.lo, [0.5, 1.0])
    assert len(teacher.queues[1][1]) == 0
    assert teacher.n_narrow == 0
    # queues that filled with mean 0.5 were cleared without moving anything
    assert all(len(q) < 3 for sides in teacher.queues for q in sides)
    # failure at (dim 1, high): narrows back by step, never past the initial point
    play(teacher, lambda pin: 0.0 if pin == (1, "high") else 0.5, lambda: teacher.n_narrow == 1)
    np.testing.assert_array_equal(teacher.hi, [0.5, 1.0])
    # (dim 1, high) is now the initial point again: a further failure keeps it there
    play(teacher, lambda pin: 0.0 if pin == (1, "high") else 0.5, lambda: teacher.n_narrow == 2)
    np.testing.assert_array_equal(teacher.hi, [0.5, 1.0])
    np.testing.assert_array_equal(teacher.lo, [0.5, 1.0])


def test_adr_widening_is_clipped_to_the_box_and_bound_sides_are_not_pinned():
    teacher = ADRTeacher(
        Box([0.0], [1.0]),
        seed=1,
        initial=[0.05],
        boundary_prob=1.0,
        queue_length=2,
        epsilon=0.0,
        **ADR_THRESHOLDS,
    )
    play(teacher, lambda pin: 1.0 if pin == (0, "low") else 0.5, lambda: teacher.lo[0] == 0.0)
    assert teacher.n_widen == 1  # 0.05 - 0.1 clipped to the box's 0
    sides = set()
    for _ in range(200):
        task = teacher.sample()
        sides.add(teacher.boundary_of(task))
        teacher.update(task, 0.5)
    assert sides == {(0, "high")}  # the low side sits on the box bound
    assert teacher.entropy() == pytest.approx(math.log(teacher.hi[0]))


def test_adr_ignores_unpinned_tasks_and_tracks_batches_of_pinned_ones():
    teacher = ADRTeacher(
        Box([0.0, 0.0], [1.0, 1.0]),
        seed=0,
        initial=[0.5, 0.5],
        boundary_prob=1.0,
        queue_length=50,
        epsilon=0.0,
        **ADR_THRESHOLDS,
    )
    before = teacher.state_dict()
    teacher.update([0.3, 0.3], 1.0)  # never handed out: ADR learns nothing
    assert_same_state({**teacher.state_dict(), "n_updates": 0}, before)
    task = teacher.sample()  # a result reported through float32 is still credited
    assert teacher.boundary_of(task.astype(np.float32)) is not None
    teacher.update(task.astype(np.float32), 1.0)
    assert teacher.n_boundary_updates == 1
    tasks = teacher.sample(6)  # all [0.5, 0.5], each pinned to its own (dim, side)
    pins = [teacher.boundary_of(t) for t in tasks[:1]]
    teacher.update_batch(tasks, [1.0] * 6)
    assert teacher.n_boundary_updates == 7 and pins[0] is not None
    assert sum(len(q) for sides in teacher.queues for q in sides) == 7
    assert teacher.stats()["pending_boundary_tasks"] == 0.0
