"""A small, fast grid maze for unsupervised environment design (UED), in pure numpy.

The environment
    An ``H x W`` grid of free cells and walls (no border: cells outside the grid behave as walls),
    one start cell and one goal cell. The agent moves in absolute directions (``0`` up, ``1``
    right, ``2`` down, ``3`` left); a move into a wall or off the grid leaves it in place. The
    episode terminates when the agent steps onto the goal and is truncated after ``max_steps``
    steps.

Reward convention
    ``1 - 0.9 * t / max_steps`` on reaching the goal after ``t`` steps (``t`` counts the step that
    reaches it), ``0`` otherwise; a level counts as *solved* when the episode return is ``> 0``.
    This is the maze convention of PAIRED (Dennis et al., 2020), Robust PLR (Jiang et al., 2021),
    ACCEL (Parker-Holder et al., 2022) and JaxUED (Coward et al., 2024). Because the shortest path
    ``L`` is computable by BFS, the optimal return ``1 - 0.9 * L / max_steps``
    (:func:`optimal_return`) and hence the *true* regret of a policy are exact on this env.

Observation
    ``float32`` array of shape ``(2, view_size, view_size)``: channel 0 walls (cells outside the
    grid count as walls), channel 1 goal, cropped around the agent (agent at the centre). Such
    translation-invariant, agent-centred views let a plain MLP student learn; the literature's
    mazes use an egocentric 5 x 5 MiniGrid view with a heading instead. ``view_size = 2 * size - 1``
    makes the whole grid visible from any cell. With ``heading=True`` a third channel marks the
    neighbour cell the last action pointed at (all zeros at the episode's first step): the one
    bit of memory a MiniGrid agent's heading gives, which lets a memoryless policy keep going
    along a corridor or follow a wall instead of dithering.

Task protocol (how a teacher chooses the level)
    * ``env.reset(options={"task": level})`` plays ``level``: a :class:`MazeLevel` or an ASCII
      string accepted by :meth:`MazeLevel.from_str` (any grid size).
    * ``env.set_next_level(level)`` makes the *next* reset without a task play ``level`` (one shot).
    * Otherwise the env draws a fresh random level with :func:`generate_level` from
      ``self.np_random`` (domain randomisation).

    ``info`` from ``reset`` and ``step`` is ``{"level": MazeLevel, "shortest_path": int}`` (``-1``
    for an unsolvable level).

Levels
    :class:`MazeLevel` is an immutable, hashable value (dedupe by walls + start + goal) with an
    ASCII form (``#`` wall, ``.`` free, ``A`` start, ``G`` goal) and a compact binary form
    (:meth:`MazeLevel.encode`). Held-out hand-drawn test mazes ship as data files and are read by
    :func:`load_maze_suite`.
"""

from __future__ import annotations

import importlib.resources
import operator
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "MazeEnv",
    "MazeLevel",
    "bfs_distances",
    "empty_room",
    "generate_level",
    "is_solvable",
    "load_maze_suite",
    "maze_levels",
    "mutate_level",
    "mutate_solvable",
    "optimal_return",
    "random_test_levels",
    "shortest_path_length",
]

# (d_row, d_col) per action: up, right, down, left.
_MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))


#: Index of the empty heading plane: no action yet in this episode.
NO_ACTION = 4


def _heading_planes(view_size: int) -> np.ndarray:
    """``(5, V, V)`` heading channels: plane ``a < 4`` marks the centre's neighbour in move
    ``a``'s direction, plane ``NO_ACTION`` is empty."""
    planes = np.zeros((5, view_size, view_size), dtype=np.float32)
    centre = view_size // 2
    for action, (dr, dc) in enumerate(_MOVES):
        planes[action, centre + dr, centre + dc] = 1.0
    return planes


_ASCII_CHARS = frozenset("#.AG")
_ENCODE_VERSION = 1
_HEADER = struct.Struct("<BHHHHHH")  # version, height, width, start r/c, goal r/c

_SUITES: dict[str, str] = {
    "maze-test": "maze_test",
    "maze-test-large": "maze_test_large",
}


def _as_cell(value: Any, name: str) -> tuple[int, int]:
    try:
        r, c = value
        return (operator.index(r), operator.index(c))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a pair of ints (row, col), got {value!r}") from exc


# --------------------------------------------------------------------------------------------
# Level
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class MazeLevel:
    """One maze: a wall grid plus start and goal cells (row, col).

    ``walls`` holds the ``height x width`` boolean grid in row-major order, one byte (0 or 1) per
    cell, as ``bytes`` so the level is immutable and hashable: equal walls, start and goal give
    equal levels with equal hashes. ``walls`` may also be given as any bytes-like object or an
    array with ``height * width`` entries (converted). Use :meth:`from_array` to build a level
    from a 2-D boolean array.

    Raises:
        ValueError: wrong ``walls`` length or values, non-positive size, start/goal out of bounds
            or on a wall, or start == goal.
    """

    walls: bytes
    height: int
    width: int
    start: tuple[int, int]
    goal: tuple[int, int]

    def __post_init__(self) -> None:
        try:
            h, w = operator.index(self.height), operator.index(self.width)
        except TypeError as exc:
            raise ValueError("height and width must be ints") from exc
        if h < 1 or w < 1 or h * w < 2:
            raise ValueError(f"grid must have at least 2 cells, got {h}x{w}")
        if h > 0xFFFF or w > 0xFFFF:
            raise ValueError(f"grid too large: {h}x{w}")
        walls = self.walls
        if isinstance(walls, np.ndarray):
            if walls.size != h * w:
                raise ValueError(f"walls has {walls.size} cells, expected {h}x{w}={h * w}")
            walls = np.ascontiguousarray(walls, dtype=np.bool_).tobytes()
        elif isinstance(walls, (bytearray, memoryview)):
            walls = bytes(walls)
        elif not isinstance(walls, bytes):
            raise ValueError(f"walls must be bytes or a numpy array, got {type(walls).__name__}")
        if len(walls) != h * w:
            raise ValueError(f"walls has length {len(walls)}, expected {h}x{w}={h * w}")
        if walls.translate(None, b"\x00\x01"):
            raise ValueError("walls bytes must contain only 0 and 1")
        start = _as_cell(self.start, "start")
        goal = _as_cell(self.goal, "goal")
        for name, (r, c) in (("start", start), ("goal", goal)):
            if not (0 <= r < h and 0 <= c < w):
                raise ValueError(f"{name} {(r, c)} is outside the {h}x{w} grid")
            if walls[r * w + c]:
                raise ValueError(f"{name} {(r, c)} is on a wall")
        if start == goal:
            raise ValueError(f"start and goal are the same cell {start}")
        object.__setattr__(self, "walls", walls)
        object.__setattr__(self, "height", h)
        object.__setattr__(self, "width", w)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "goal", goal)

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_array(cls, walls: Any, start: tuple[int, int], goal: tuple[int, int]) -> MazeLevel:
        """Build a level from a 2-D boolean (or 0/1) array of walls."""
        arr = np.asarray(walls)
        if arr.ndim != 2:
            raise ValueError(f"walls must be a 2-D array, got shape {arr.shape}")
        return cls(arr.astype(np.bool_).tobytes(), arr.shape[0], arr.shape[1], start, goal)

    @classmethod
    def from_str(cls, s: str) -> MazeLevel:
        """Parse the ASCII form: ``#`` wall, ``.`` free, ``A`` start, ``G`` goal.

        One row per line, no border. Lines are whitespace-stripped and blank lines ignored.

        Raises:
            ValueError: empty or non-rectangular grid, unknown characters, or not exactly one
                ``A`` and one ``G``.
        """
        if not isinstance(s, str):
            raise ValueError(f"expected an ASCII maze string, got {type(s).__name__}")
        rows = [line.strip() for line in s.splitlines()]
        rows = [row for row in rows if row]
        if not rows:
            raise ValueError("empty maze string")
        lengths = sorted({len(row) for row in rows})
        if len(lengths) > 1:
            raise ValueError(f"maze is not rectangular: row lengths {lengths}")
        text = "".join(rows)
        bad = sorted(set(text) - _ASCII_CHARS)
        if bad:
            raise ValueError(f"invalid characters {bad} in maze (allowed: '#', '.', 'A', 'G')")
        for ch, what in (("A", "start"), ("G", "goal")):
            n = text.count(ch)
            if n != 1:
                raise ValueError(f"maze must contain exactly one {ch!r} ({what}), found {n}")
        w = lengths[0]
        a, g = text.index("A"), text.index("G")
        walls = bytes(ch == "#" for ch in text)
        return cls(walls, len(rows), w, divmod(a, w), divmod(g, w))

    @classmethod
    def decode(cls, b: bytes) -> MazeLevel:
        """Inverse of :meth:`encode`. Raises ValueError on malformed input."""
        b = bytes(b)
        if len(b) < _HEADER.size:
            raise ValueError(f"encoded level too short ({len(b)} bytes)")
        version, h, w, sr, sc, gr, gc = _HEADER.unpack_from(b)
        if version != _ENCODE_VERSION:
            raise ValueError(f"unknown encoding version {version}")
        n = h * w
        expected = _HEADER.size + (n + 7) // 8
        if len(b) != expected:
            raise ValueError(f"encoded {h}x{w} level must be {expected} bytes, got {len(b)}")
        bits = np.unpackbits(np.frombuffer(b, np.uint8, offset=_HEADER.size), count=n)
        return cls(bits.tobytes(), h, w, (sr, sc), (gr, gc))

    # -- views ----------------------------------------------------------------------------------

    def wall_array(self) -> np.ndarray:
        """The walls as a read-only ``(height, width)`` ``np.bool_`` array."""
        arr = np.frombuffer(self.walls, dtype=np.bool_).reshape(self.height, self.width)
        return arr  # frombuffer over immutable bytes is already read-only

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def n_walls(self) -> int:
        """Number of wall cells."""
        return self.walls.count(1)

    def encode(self) -> bytes:
        """Compact binary form: a 13-byte header (version, h, w, start, goal) + packed wall bits."""
        header = _HEADER.pack(_ENCODE_VERSION, self.height, self.width, *self.start, *self.goal)
        bits = np.packbits(np.frombuffer(self.walls, dtype=np.uint8))
        return header + bits.tobytes()

    def to_str(self) -> str:
        """ASCII form (see :meth:`from_str`); rows separated by ``\\n``, no trailing newline."""
        chars = bytearray(self.walls.translate(_TO_ASCII))
        w = self.width
        chars[self.start[0] * w + self.start[1]] = ord("A")
        chars[self.goal[0] * w + self.goal[1]] = ord("G")
        text = chars.decode("ascii")
        return "\n".join(text[i : i + w] for i in range(0, len(text), w))

    def __repr__(self) -> str:
        return (
            f"MazeLevel({self.height}x{self.width}, n_walls={self.n_walls}, "
            f"start={self.start}, goal={self.goal})"
        )

    def __str__(self) -> str:
        return self.to_str()


_TO_ASCII = bytes.maketrans(b"\x00\x01", b".#")


# --------------------------------------------------------------------------------------------
# Shortest paths
# --------------------------------------------------------------------------------------------


def _padded_blocked(walls: bytes, h: int, w: int) -> bytearray:
    """Walls with a one-cell border of walls, flattened (row stride ``w + 2``)."""
    wp = w + 2
    blocked = bytearray(b"\x01") * (wp * (h + 2))
    for r in range(h):
        start = (r + 1) * wp + 1
        blocked[start : start + w] = walls[r * w : (r + 1) * w]
    return blocked


def _bfs(blocked: bytearray, wp: int, source: int, target: int = -1) -> tuple[list[int], int]:
    """BFS on a padded flat grid (mutates ``blocked``). Returns (distances, target distance).

    Stops early once ``target`` is reached (its distance is then returned, else -1).
    """
    dist = [-1] * len(blocked)
    dist[source] = 0
    if source == target:
        return dist, 0
    blocked[source] = 1
    frontier = [source]
    d = 0
    offsets = (-wp, 1, wp, -1)
    while frontier:
        d += 1
        nxt = []
        append = nxt.append
        for i in frontier:
            for o in offsets:
                j = i + o
                if not blocked[j]:
                    blocked[j] = 1
                    dist[j] = d
                    if j == target:
                        return dist, d
                    append(j)
        frontier = nxt
    return dist, -1


def _unpad(dist: list[int], h: int, w: int) -> np.ndarray:
    return np.array(dist, dtype=np.int64).reshape(h + 2, w + 2)[1:-1, 1:-1]


def bfs_distances(level: MazeLevel, source: tuple[int, int] | None = None) -> np.ndarray:
    """Shortest-path step counts (4-connected moves) from ``source`` (default: the start).

    Returns an ``int64`` array of shape ``(height, width)``, ``-1`` for walls and unreachable
    cells. Raises ValueError if ``source`` is outside the grid or on a wall.
    """
    h, w = level.height, level.width
    r, c = level.start if source is None else _as_cell(source, "source")
    if not (0 <= r < h and 0 <= c < w):
        raise ValueError(f"source {(r, c)} is outside the {h}x{w} grid")
    if level.walls[r * w + c]:
        raise ValueError(f"source {(r, c)} is on a wall")
    dist, _ = _bfs(_padded_blocked(level.walls, h, w), w + 2, (r + 1) * (w + 2) + c + 1)
    return _unpad(dist, h, w)


def shortest_path_length(level: MazeLevel) -> int | None:
    """Number of steps on a shortest start-to-goal path, or ``None`` if the goal is unreachable."""
    h, w = level.height, level.width
    wp = w + 2
    (sr, sc), (gr, gc) = level.start, level.goal
    _, d = _bfs(
        _padded_blocked(level.walls, h, w), wp, (sr + 1) * wp + sc + 1, (gr + 1) * wp + gc + 1
    )
    return None if d < 0 else d


def is_solvable(level: MazeLevel) -> bool:
    """Whether the goal is reachable from the start."""
    return shortest_path_length(level) is not None


def optimal_return(level: MazeLevel, max_steps: int) -> float:
    """Best achievable return ``1 - 0.9 * L / max_steps`` (``0.0`` if unsolvable in time)."""
    length = shortest_path_length(level)
    if length is None or length > max_steps:
        return 0.0
    return 1.0 - 0.9 * length / max_steps


# --------------------------------------------------------------------------------------------
# Generation and mutation
# --------------------------------------------------------------------------------------------


def _parse_size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(f"size must be an int or (height, width), got {size!r}")
        h, w = operator.index(size[0]), operator.index(size[1])
    else:
        h = w = operator.index(size)
    if h < 1 or w < 1 or h * w < 2:
        raise ValueError(f"grid must have at least 2 cells, got {h}x{w}")
    return h, w


def _generate(
    rng: np.random.Generator,
    size: int | tuple[int, int],
    max_walls: int,
    n_walls: int | None,
    min_distance: int,
    max_distance: int | None,
    max_tries: int,
) -> tuple[MazeLevel, int]:
    h, w = _parse_size(size)
    n = h * w
    if n_walls is None:
        if max_walls < 0:
            raise ValueError(f"max_walls must be >= 0, got {max_walls}")
    elif n_walls < 0:
        raise ValueError(f"n_walls must be >= 0, got {n_walls}")
    if min_distance < 1:
        raise ValueError(f"min_distance must be >= 1, got {min_distance}")
    if max_distance is not None and max_distance < min_distance:
        raise ValueError(f"max_distance ({max_distance}) < min_distance ({min_distance})")
    hi = n if max_distance is None else max_distance
    wp = w + 2
    for _ in range(max_tries):
        k = int(rng.integers(0, max_walls + 1)) if n_walls is None else n_walls
        grid = np.zeros(n, dtype=np.bool_)
        if k:
            grid[rng.integers(0, n, size=k)] = True  # with replacement: real count may be lower
        free = np.flatnonzero(~grid)
        if free.size < 2:
            continue
        s = int(free[rng.integers(free.size)])
        walls = grid.tobytes()
        sr, sc = divmod(s, w)
        dist, _ = _bfs(_padded_blocked(walls, h, w), wp, (sr + 1) * wp + sc + 1)
        d = _unpad(dist, h, w).ravel()
        cand = np.flatnonzero((d >= min_distance) & (d <= hi))
        if cand.size == 0:
            continue
        g = int(cand[rng.integers(cand.size)])
        return MazeLevel(walls, h, w, (sr, sc), divmod(g, w)), int(d[g])
    raise ValueError(
        f"no level with min_distance={min_distance}, max_distance={max_distance} found in "
        f"{max_tries} tries (size={size!r}, max_walls={max_walls}, n_walls={n_walls})"
    )


def generate_level(
    rng: np.random.Generator,
    size: int | tuple[int, int] = 9,
    max_walls: int = 20,
    n_walls: int | None = None,
    min_distance: int = 1,
    max_distance: int | None = None,
    max_tries: int = 1000,
) -> MazeLevel:
    """Draw a random *solvable* level (the literature's domain-randomisation generator).

    ``size`` is an int (square) or ``(height, width)``. The number of wall draws is ``n_walls``,
    or ``Uniform{0..max_walls}`` if ``n_walls`` is None; walls go to uniformly random cells *with
    replacement*, so the real wall count can be lower. The start is a uniformly random free cell;
    the goal is uniform among cells reachable from the start at BFS distance ``d`` with
    ``min_distance <= d <= max_distance`` (no upper bound if None). If no cell qualifies the whole
    level is redrawn, up to ``max_tries`` times, then ``ValueError``. All randomness comes from
    ``rng``.
    """
    return _generate(rng, size, max_walls, n_walls, min_distance, max_distance, max_tries)[0]


def mutate_level(rng: np.random.Generator, level: MazeLevel, n_edits: int = 5) -> MazeLevel:
    """Apply ``n_edits`` random edits (ACCEL-style); each is uniform over three kinds:

    * flip one cell between wall and free (uniform over all cells except start and goal);
    * move the goal to a uniformly random free cell (other than the start and the current goal);
    * move the start likewise.

    The result is always a valid :class:`MazeLevel` but **need not be solvable**: check with
    :func:`is_solvable` if required. An edit with no possible target is a no-op.
    """
    if n_edits < 0:
        raise ValueError(f"n_edits must be >= 0, got {n_edits}")
    h, w = level.height, level.width
    n = h * w
    walls = bytearray(level.walls)
    s = level.start[0] * w + level.start[1]
    g = level.goal[0] * w + level.goal[1]
    for _ in range(n_edits):
        kind = int(rng.integers(3))
        if kind == 0:
            if n <= 2:
                continue
            cell = int(rng.integers(n - 2))
            lo, hi = (s, g) if s < g else (g, s)
            if cell >= lo:
                cell += 1
            if cell >= hi:
                cell += 1
            walls[cell] ^= 1
        else:
            free = np.flatnonzero(np.frombuffer(bytes(walls), dtype=np.uint8) == 0)
            free = free[(free != s) & (free != g)]
            if free.size == 0:
                continue
            cell = int(free[rng.integers(free.size)])
            if kind == 1:
                g = cell
            else:
                s = cell
    return MazeLevel(bytes(walls), h, w, divmod(s, w), divmod(g, w))


def empty_room(rng: np.random.Generator, size: int | tuple[int, int] = 9) -> MazeLevel:
    """A level with no walls and random distinct start and goal (ACCEL's starting levels)."""
    return generate_level(rng, size, n_walls=0)


def mutate_solvable(
    rng: np.random.Generator, level: MazeLevel, n_edits: int = 5, max_tries: int = 100
) -> MazeLevel:
    """:func:`mutate_level` redrawn until the child is solvable (up to ``max_tries`` draws);
    returns ``level`` itself if no draw is solvable."""
    for _ in range(max_tries):
        child = mutate_level(rng, level, n_edits)
        if is_solvable(child):
            return child
    return level


def maze_levels(
    size: int | tuple[int, int] = 9,
    max_walls: int = 20,
    n_edits: int = 5,
    start: str = "random",
    solvable_mutations: bool = False,
) -> Any:
    """The maze as an ``autocurr.spaces.Levels`` space (tasks are :meth:`MazeLevel.encode` bytes).

    ``start="random"`` generates levels with :func:`generate_level` (``Uniform{0..max_walls}``
    wall draws, always solvable); ``start="empty"`` uses :func:`empty_room` (ACCEL). The mutator
    applies ``n_edits`` random edits (:func:`mutate_level`); children may be unsolvable, as in
    dcd/JaxUED ACCEL, unless ``solvable_mutations=True`` (:func:`mutate_solvable`).
    """
    from functools import partial

    from autocurr.spaces import Levels

    if start not in ("random", "empty"):
        raise ValueError(f"start must be 'random' or 'empty', got {start!r}")
    h, w = _parse_size(size)
    if max_walls < 0:
        raise ValueError(f"max_walls must be >= 0, got {max_walls}")
    if n_edits < 0:
        raise ValueError(f"n_edits must be >= 0, got {n_edits}")
    if start == "random":
        generator = partial(generate_level, size=(h, w), max_walls=max_walls)
    else:
        generator = partial(empty_room, size=(h, w))
    mutate = mutate_solvable if solvable_mutations else mutate_level
    kwargs = {
        "size": [h, w] if h != w else h,
        "max_walls": int(max_walls),
        "n_edits": int(n_edits),
        "start": start,
        "solvable_mutations": bool(solvable_mutations),
    }
    return Levels(
        generator,
        mutator=partial(mutate, n_edits=n_edits),
        encode=MazeLevel.encode,
        decode=MazeLevel.decode,
        factory=("autocurr.envs.maze:maze_levels", kwargs),
    )


# --------------------------------------------------------------------------------------------
# Test suites
# --------------------------------------------------------------------------------------------

#: Seed of the fixed random test set built by :func:`random_test_levels` (any change to it, to the
#: defaults below or to :func:`generate_level` changes every level; a test pins the digest).
RANDOM_TEST_SEED = 20_261_124


def random_test_levels(
    n: int = 1000,
    seed: int = RANDOM_TEST_SEED,
    size: int | tuple[int, int] = 9,
    min_walls: int = 0,
    max_walls: int = 20,
    max_tries_per_level: int = 1000,
) -> list[MazeLevel]:
    """A fixed set of ``n`` distinct random *solvable* levels for the de-biased CVaR protocol.

    Same draw as :class:`MazeEnv`'s domain randomisation (``Uniform{min_walls..max_walls}`` wall
    placements with replacement on a ``size`` grid, uniform free start, goal uniform over the
    cells reachable from it), from ``numpy.random.default_rng(seed)`` alone, so the set is a
    function of the arguments: defaults ``n=1000``, ``seed=RANDOM_TEST_SEED``, ``size=9`` and
    MazeEnv's wall budget ``0..20``. The literature's protocol (SFL's "No Regrets" evaluation)
    draws its 10,000 test levels from the training generator; ``min_walls=25, max_walls=40``
    gives the denser variant the reference recommends for 9 x 9 mazes. Duplicate levels are
    redrawn so every level counts once. NumPy does not promise ``Generator`` streams stable
    across its versions; ``tests/test_cvar_eval.py`` pins a digest of the default set.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 <= min_walls <= max_walls:
        raise ValueError(f"need 0 <= min_walls <= max_walls, got {min_walls}, {max_walls}")
    h, w = _parse_size(size)
    rng = np.random.default_rng(seed)
    levels: list[MazeLevel] = []
    seen: set[MazeLevel] = set()
    for _ in range(n * max_tries_per_level):
        if len(levels) == n:
            break
        walls = int(rng.integers(min_walls, max_walls + 1))
        try:  # one draw per try, so the wall count is redrawn on a retry (as in MazeEnv)
            level = generate_level(rng, (h, w), n_walls=walls, max_tries=1)
        except ValueError:  # the start was walled in
            continue
        if level not in seen:
            seen.add(level)
            levels.append(level)
    if len(levels) < n:
        raise ValueError(f"found only {len(levels)} distinct solvable levels, wanted {n}")
    return levels


def load_maze_suite(name: str = "maze-test") -> dict[str, MazeLevel]:
    """Load a held-out suite of hand-drawn mazes shipped with the package, sorted by name.

    Suites: ``"maze-test"`` (9 x 9, same size as the default training levels) and
    ``"maze-test-large"`` (13 x 13). Raises ValueError for an unknown suite name.
    """
    if name not in _SUITES:
        raise ValueError(f"unknown maze suite {name!r}; valid suites: {sorted(_SUITES)}")
    folder = importlib.resources.files(__package__ or "autocurr.envs") / "data" / _SUITES[name]
    levels: dict[str, MazeLevel] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".txt"):
            stem = entry.name[: -len(".txt")]
            try:
                levels[stem] = MazeLevel.from_str(entry.read_text(encoding="ascii"))
            except ValueError as exc:
                raise ValueError(f"bad maze file {entry.name} in suite {name!r}: {exc}") from exc
    return dict(sorted(levels.items()))


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------

_RGB = {
    "free": (255, 255, 255),
    "wall": (64, 64, 64),
    "goal": (40, 180, 60),
    "agent": (220, 40, 40),
}


class MazeEnv(gym.Env):
    """Grid maze with agent-centred observations; see the module docstring for the conventions.

    Args:
        size: side of the random (domain-randomised) levels, an int or ``(height, width)``.
        max_walls: random levels draw ``Uniform{0..max_walls}`` wall placements.
        view_size: odd side of the agent-centred observation crop.
        max_steps: episode length limit ``T`` (also the ``T`` of the reward).
        render_mode: ``None``, ``"ansi"`` or ``"rgb_array"``.
        heading: add the last-action channel (see the module docstring); needs ``view_size >= 3``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        size: int | tuple[int, int] = 9,
        max_walls: int = 20,
        view_size: int = 11,
        max_steps: int = 100,
        render_mode: str | None = None,
        heading: bool = False,
    ) -> None:
        self.size = _parse_size(size)
        if max_walls < 0:
            raise ValueError(f"max_walls must be >= 0, got {max_walls}")
        if view_size < 1 or view_size % 2 == 0:
            raise ValueError(f"view_size must be a positive odd int, got {view_size}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if heading and view_size < 3:
            raise ValueError(f"heading needs view_size >= 3, got {view_size}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.max_walls = int(max_walls)
        self.view_size = int(view_size)
        self.max_steps = int(max_steps)
        self.render_mode = render_mode
        self.heading = bool(heading)
        self.action_space = spaces.Discrete(4)
        channels = 3 if self.heading else 2
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(channels, self.view_size, self.view_size), dtype=np.float32
        )
        self._heading_planes = _heading_planes(self.view_size) if self.heading else None
        self._next_level: MazeLevel | None = None
        self._level: MazeLevel | None = None
        self._shortest = -1
        self._r = self._c = 0
        self._t = 0
        self._done = True
        self._wp = 0
        self._blocked = b""
        self._gr = self._gc = -1
        self._padobs = np.zeros((2, 1, 1), dtype=np.float32)

    # -- task protocol -------------------------------------------------------------------------

    @staticmethod
    def _as_level(task: Any) -> MazeLevel:
        if isinstance(task, MazeLevel):
            return task
        if isinstance(task, str):
            return MazeLevel.from_str(task)
        if isinstance(task, bytes | bytearray):  # the encoded form a Levels space hands out
            return MazeLevel.decode(bytes(task))
        raise ValueError(
            "a maze task must be a MazeLevel, an ASCII maze string or MazeLevel.encode() bytes, "
            f"got {type(task).__name__}"
        )

    def set_next_level(self, level: MazeLevel | str) -> None:
        """Play ``level`` at the next reset that has no ``task`` option (one shot)."""
        self._next_level = self._as_level(level)

    @property
    def level(self) -> MazeLevel | None:
        """The level being played (None before the first reset)."""
        return self._level

    @property
    def agent_pos(self) -> tuple[int, int]:
        """The agent's (row, col)."""
        return (self._r, self._c)

    @property
    def elapsed_steps(self) -> int:
        """Steps taken in the current episode."""
        return self._t

    # -- gymnasium API -------------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode. Level: ``options["task"]`` if given (a :class:`MazeLevel` or ASCII
        string; ``None`` means no task), else a level queued by :meth:`set_next_level`, else a
        fresh random level. Other option keys raise ValueError (catches typos like ``"level"``).
        """
        super().reset(seed=seed)
        task = None
        if options:
            unknown = set(options) - {"task"}
            if unknown:
                raise ValueError(f"unknown reset options {sorted(unknown)}; accepted: ['task']")
            task = options.get("task")
        if task is not None:
            level = self._as_level(task)
            shortest = shortest_path_length(level)
        elif self._next_level is not None:
            level, self._next_level = self._next_level, None
            shortest = shortest_path_length(level)
        else:
            level, shortest = _generate(
                self.np_random, self.size, self.max_walls, None, 1, None, 1000
            )
        self._start_episode(level, -1 if shortest is None else shortest)
        return self._obs(), {"level": level, "shortest_path": self._shortest}

    def _start_episode(self, level: MazeLevel, shortest: int) -> None:
        h, w = level.height, level.width
        p = self.view_size // 2
        pad = np.ones((2, h + 2 * p, w + 2 * p), dtype=np.float32)
        pad[0, p : p + h, p : p + w] = level.wall_array()
        pad[1] = 0.0
        pad[1, p + level.goal[0], p + level.goal[1]] = 1.0
        self._padobs = pad
        self._wp = w + 2
        self._blocked = bytes(_padded_blocked(level.walls, h, w))
        self._level = level
        self._shortest = shortest
        self._r, self._c = level.start
        self._gr, self._gc = level.goal
        self._t = 0
        self._done = False

    def _obs(self, last_action: int = NO_ACTION) -> np.ndarray:
        v = self.view_size
        crop = self._padobs[:, self._r : self._r + v, self._c : self._c + v]
        if self._heading_planes is None:
            return crop.copy()
        return np.concatenate((crop, self._heading_planes[last_action][None]))

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Move (0 up, 1 right, 2 down, 3 left). Reaching the goal terminates with reward
        ``1 - 0.9 * t / max_steps``; otherwise truncated once ``t == max_steps`` (never both).
        Stepping a finished episode raises RuntimeError.
        """
        if self._done:
            raise RuntimeError("step() called before reset() or after the episode ended")
        a = int(action)
        if not 0 <= a < 4:
            raise ValueError(f"action must be in 0..3, got {action!r}")
        dr, dc = _MOVES[a]
        r = self._r + dr
        c = self._c + dc
        if not self._blocked[(r + 1) * self._wp + c + 1]:
            self._r = r
            self._c = c
        self._t = t = self._t + 1
        if r == self._gr and c == self._gc:  # the goal is never a wall, so the move succeeded
            terminated = True
            reward = 1.0 - 0.9 * t / self.max_steps
        else:
            terminated = False
            reward = 0.0
        truncated = not terminated and t >= self.max_steps
        self._done = terminated or truncated
        if self._heading_planes is None:  # inline: a call to _obs costs ~9% of a step
            v = self.view_size
            obs = self._padobs[:, self._r : self._r + v, self._c : self._c + v].copy()
        else:
            obs = self._obs(a)
        return (
            obs,
            reward,
            terminated,
            truncated,
            {
                "level": self._level,
                "shortest_path": self._shortest,
            },
        )

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self._level is None:
            return None
        level = self._level
        if self.render_mode == "ansi":
            rows = [list(row) for row in level.to_str().split("\n")]
            rows[self._r][self._c] = "@"
            return "\n".join("".join(row) for row in rows)
        # rgb_array: 8 px per cell
        h, w = level.shape
        img = np.empty((h, w, 3), dtype=np.uint8)
        img[:] = _RGB["free"]
        img[level.wall_array()] = _RGB["wall"]
        img[level.goal] = _RGB["goal"]
        img[self._r, self._c] = _RGB["agent"]
        return np.repeat(np.repeat(img, 8, axis=0), 8, axis=1)
