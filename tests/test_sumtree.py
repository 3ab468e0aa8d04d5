import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autocurr.teachers.sumtree import SumTree


def test_find_walks_cumulative_intervals():
    tree = SumTree(np.array([1.0, 0.0, 2.0, 3.0, 0.5]))
    assert tree.total == 6.5
    assert [tree.find(u) for u in (0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 6.49)] == [
        0, 0, 2, 2, 3, 3, 4, 4,
    ]
    assert tree.find(6.5) == 4  # rounding past the end lands on the last positive weight
    tree.set(1, 4.0)
    assert tree.total == 10.5 and tree.find(1.0) == 1 and tree.find(4.99) == 1


def test_single_weight_and_bad_input():
    tree = SumTree(np.array([2.0]))
    assert tree.total == 2.0 and tree.find(1.5) == 0
    for bad in ([], [1.0, -1.0], [np.nan], [[1.0]]):
        with pytest.raises(ValueError):
            SumTree(np.array(bad))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(0, 39), st.floats(0, 100)), max_size=30),
)
def test_sums_and_draws_match_numpy_after_any_updates(initial, updates):
    weights = np.array(initial)
    tree = SumTree(weights)
    for index, weight in updates:
        index %= weights.size
        weights[index] = weight
        tree.set(index, weight)
    np.testing.assert_allclose(tree.weights(), weights)
    assert tree.total == pytest.approx(weights.sum(), rel=1e-9, abs=1e-9)
    if weights.sum() > 0:
        cumulative = np.cumsum(weights)
        for u in np.linspace(0, weights.sum(), 17, endpoint=False):
            index = tree.find(u)
            assert weights[index] > 0
            assert cumulative[index] - weights[index] <= u * (1 + 1e-9) + 1e-9


def test_max_tree_argmax_follows_updates_and_breaks_ties_by_priority():
    from autocurr.teachers.sumtree import MaxTree

    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 17, 64):
        values = rng.integers(0, 4, n).astype(float)
        priorities = rng.random(n)
        tree = MaxTree(values, priorities)
        for _ in range(100):
            index = int(rng.integers(n))
            values[index], priorities[index] = float(rng.integers(0, 4)), float(rng.random())
            tree.set(index, values[index], priorities[index])
            expected = max(range(n), key=lambda i: (values[i], priorities[i]))
            assert tree.argmax() == expected and tree.max() == values[expected]
    np.testing.assert_array_equal(MaxTree(np.array([1.0, 3.0, 3.0])).values(), [1.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        MaxTree(np.array([np.nan]))
