import numpy as np
import pytest

from autocurr.spaces import Box, Discrete, MultiDiscrete, space_from_config


def test_discrete_contains_index_and_sample():
    space = Discrete(5)
    assert space.contains(0) and space.contains(np.int64(4))
    assert not space.contains(5) and not space.contains(-1)
    assert not space.contains(1.5) and not space.contains(True) and not space.contains("1")
    assert space.index(3) == 3 and space.task(3) == 3
    rng = np.random.default_rng(0)
    draws = {space.sample(rng) for _ in range(200)}
    assert draws == set(range(5))


def test_multidiscrete_flat_index_round_trips_in_row_major_order():
    space = MultiDiscrete([2, 3, 4])
    assert space.size == 24
    indices = [space.index(space.task(i)) for i in range(space.size)]
    assert indices == list(range(24))
    assert space.index((1, 0, 0)) == 12 and space.index((0, 1, 0)) == 4
    assert space.task(23) == (1, 2, 3)
    assert not space.contains((2, 0, 0)) and not space.contains((0, 0)) and not space.contains(3)
    rng = np.random.default_rng(0)
    assert all(space.contains(space.sample(rng)) for _ in range(100))


def test_box_contains_sample_and_canonical():
    space = Box([0.0, -1.0], [1.0, 1.0])
    rng = np.random.default_rng(0)
    samples = np.array([space.sample(rng) for _ in range(500)])
    assert np.all(samples >= space.low) and np.all(samples <= space.high)
    assert space.contains([1.0, 1.0]) and not space.contains([1.1, 0.0])
    assert not space.contains([np.nan, 0.0]) and not space.contains([0.5])
    np.testing.assert_array_equal(space.canonical((0.5, 0)), [0.5, 0.0])
    assert Box(0, 2).contains(1.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Discrete(0), "positive integer"),
        (lambda: Discrete(2.5), "positive integer"),
        (lambda: MultiDiscrete([2, 0]), "positive integers"),
        (lambda: MultiDiscrete([]), "positive integers"),
        (lambda: Box([0, 1], [1]), "different lengths"),
        (lambda: Box([1.0], [0.0]), "low <= high"),
        (lambda: Box([0.0], [np.inf]), "finite"),
        (lambda: Box([np.nan], [1.0]), "finite"),
        (lambda: Box([[0.0]], [[1.0]]), "1-D"),
    ],
)
def test_malformed_spaces_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_out_of_space_task_raises_value_error_naming_it():
    with pytest.raises(ValueError, match="not in Discrete"):
        Discrete(3).canonical(3)
    with pytest.raises(ValueError, match="out of range"):
        MultiDiscrete([2, 2]).task(4)


@pytest.mark.parametrize("space", [Discrete(7), MultiDiscrete([3, 2]), Box([0, 0], [1, 2])])
def test_config_round_trip(space):
    assert space_from_config(space.to_config()) == space
