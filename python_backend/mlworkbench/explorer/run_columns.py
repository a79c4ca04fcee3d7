"""The run cache's runs as columns (numpy arrays), so a filter or an order asked the first time
is a few array operations instead of Python passes over every run.

Why: at 100,000 runs a new filter and sort in Python took 0.15-0.3 s (a pass per comparison,
one for the sort key, one for the scripts: a dict lookup and a call per run each); as columns,
a comparison is one array operation and an order one stable `argsort`, a few milliseconds. A
column is built once per generation of the data (one pass, ~25 ms at 100,000 runs) and serves
every later query; the cache builds the commonest ones in the background after a whole read.

The rules are cached_runs.py's, which stays the reference (and the path taken without numpy):
- a metric column holds each run's latest value (NaN for a NaN) and whether the run has the
  key: numpy compares a NaN as Python does (only `!=` holds), and a missing key never matches;
- a text column (params, tags, string attributes) holds each run's value as its rank among the
  column's distinct values, sorted as Python sorts str (by code point: SQLite's binary order),
  so an order is an integer sort and a comparison is decided once per distinct value;
- numeric attributes (start and end time) are int64 columns with a presence mask;
- an order sorts the matches, which are in MLflow's default order (every key's tie-break), with
  a stable sort by the key: missing values last, a metric's NaN after its numbers.
Anything these do not cover (a value outside int64, a column of mixed types) is evaluated per
run with cached_runs' own predicate, or sorted by `sort_cached`.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from mlworkbench.explorer.cached_runs import (
    COMPARE,
    RUN_NAME_TAG,
    CachedRun,
    comparison_predicate,
    parsed_filter,
    sort_cached,
    string_test,
)
from mlworkbench.explorer.run_filter_syntax import And, Comparison, Node, Or

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mlworkbench.explorer.run_filter import OrderKey

    Mask = npt.NDArray[np.bool_]
    Indices = npt.NDArray[np.intp]

T = TypeVar("T")

_KEEP = 48  # columns kept per generation (a metric column of 100,000 runs is ~0.9 MB)
_PREBUILD = 32  # metric, param and tag keys built ahead after a whole read, commonest first
_SAMPLE = 5_000  # runs whose keys are counted to find the commonest
_NUMBER_ATTRIBUTES = {"start_time": "start_time", "created": "start_time", "end_time": "end_time"}
_INT64 = (-(2**63) + 1, 2**63 - 1)  # bounds that can also be negated (a descending order)
_SCRIPT_TAG = "mlworkbench.script"


def numpy_available() -> bool:
    """Whether columns can be used (numpy comes with MLflow; without it, cached_runs.py)."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


class RunColumns:
    """Columns of `runs` (in MLflow's default order), each built on first use; thread-safe.

    Nothing changes `runs` afterwards: a new generation of the cache's data gets new columns.
    """

    def __init__(self, runs: list[CachedRun]) -> None:
        self.runs = runs
        self._lock = threading.Lock()
        self._columns: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._scopes: dict[tuple[frozenset[str], bool], Mask] = {}

    def __len__(self) -> int:
        return len(self.runs)

    # --- queries --------------------------------------------------------------------------

    def scope(self, experiments: frozenset[str], deleted: bool) -> Mask:
        """The runs of `experiments` in the view's stage: deleted ones, or active ones."""
        with self._lock:
            found = self._scopes.get((experiments, deleted))
        if found is not None:
            return found
        import numpy as np

        ids = self._text_or_none(("attributes", "experiment_id"))
        stages = self._text_or_none(("attributes", "lifecycle_stage"))
        if ids is None or stages is None:  # not text: as cached_runs' callers test it
            mask = np.fromiter(
                (
                    run.experiment_id in experiments
                    and (run.lifecycle_stage != "active") == deleted
                    for run in self.runs
                ),
                bool,
                len(self.runs),
            )
        else:
            wanted = [i for i, value in enumerate(ids[1]) if value in experiments]
            active = _rank(stages[1], "active")
            mask = np.isin(ids[0], wanted) & (
                (stages[0] != active) if deleted else (stages[0] == active)
            )
        with self._lock:
            self._scopes[(experiments, deleted)] = mask
        return mask

    def matching(self, query: str, scope: Mask) -> Indices:
        """Positions (ascending: MLflow's default order) of the runs in `scope` that `query`,
        a filter `compile_filter` accepted, matches."""
        import numpy as np

        node = parsed_filter(query)
        mask = scope if node is None else scope & self._mask(node)
        return np.flatnonzero(mask)

    def ordered(self, positions: Indices, key: OrderKey | None) -> Indices:
        """`positions` (ascending) in MLflow's order for `key` (None: as they are)."""
        import numpy as np

        if key is None or len(positions) < 2:
            return positions
        if key.kind == "metrics":
            values, present = self._metric(key.name)
            chosen, has = values[positions], present[positions]
            numbers = has & ~np.isnan(chosen)
            tail = [positions[has & ~numbers], positions[~has]]  # NaN, then missing
            keys: Any = chosen[numbers]
        else:
            column = self._number_or_text(key.kind, key.name)
            if column is None:  # not one this module reads: cached_runs sorts it
                return self._sorted_in_python(positions, key)
            values, present = column
            has = present[positions]
            numbers = has
            tail = [positions[~has]]
            keys = values[positions][has]
        if not key.ascending:
            keys = -keys  # exact for floats and for the int64 range kept; ties stay in order
        head = positions[numbers][np.argsort(keys, kind="stable")]
        return np.concatenate([head, *tail])

    def scripts(self, positions: Indices) -> list[str]:
        """The distinct non-empty `mlworkbench.script` tags of these runs, sorted."""
        import numpy as np

        column = self._text_or_none(("tags", _SCRIPT_TAG))
        if column is None:
            found = (self.runs[i].tags.get(_SCRIPT_TAG) for i in positions.tolist())
            return sorted({script for script in found if script})
        codes, values = column
        return [
            values[code]
            for code in np.unique(codes[positions]).tolist()
            if code >= 0 and values[code]
        ]

    def prebuild(self) -> None:
        """Build the scope's, the scripts' and the commonest metric, param and tag columns now
        (keys counted in a sample of the runs), so the first query of each finds them: the
        cache calls this off the query path after a whole read."""
        for key in (("attributes", "experiment_id"), ("attributes", "lifecycle_stage")):
            self._text_or_none(key)
        self._text_or_none(("tags", _SCRIPT_TAG))
        counts: Counter[tuple[str, str]] = Counter()
        for run in self.runs[:: max(1, len(self.runs) // _SAMPLE)]:
            counts.update(("metrics", name) for name in run.metrics)
            counts.update(("params", name) for name in run.params)
            counts.update(("tags", name) for name in run.tags)
        for (kind, name), _ in counts.most_common(_PREBUILD):
            if kind == "metrics":
                self._metric(name)
            else:
                self._text_or_none((kind, name))

    # --- filters --------------------------------------------------------------------------

    def _mask(self, node: Node) -> Mask:
        import numpy as np

        if isinstance(node, (And, Or)):
            masks = [self._mask(part) for part in node.parts]
            combined = masks[0]
            for mask in masks[1:]:
                combined = combined & mask if isinstance(node, And) else combined | mask
            return combined
        assert isinstance(node, Comparison)
        found = self._comparison(node)
        if found is not None:
            return found
        predicate = comparison_predicate(node)  # per run, as cached_runs evaluates it
        return np.fromiter(map(predicate, self.runs), bool, len(self.runs))

    def _comparison(self, node: Comparison) -> Mask | None:
        import numpy as np

        name, op, value = node.name, node.op, node.value
        if node.kind == "metrics" or (node.kind == "attributes" and name in _NUMBER_ATTRIBUTES):
            if not isinstance(value, str) or op not in COMPARE:
                return None
            if node.kind == "metrics":
                values, present = self._metric(name)
                return present & COMPARE[op](values, float(value))
            numbers = self._number(_NUMBER_ATTRIBUTES[name])
            number = int(value)
            if numbers is None or not _INT64[0] <= number <= _INT64[1]:
                return None
            return numbers[1] & COMPARE[op](numbers[0], number)
        if node.kind == "attributes" and name == "run_name":
            key = ("tags", RUN_NAME_TAG)  # MLflow filters the name through its tag
        elif node.kind in ("params", "tags", "attributes"):
            key = (node.kind, name)
        else:
            return None
        column = self._text_or_none(key)
        if column is None:
            return None
        codes, values = column
        if op == "=" and isinstance(value, str):
            return codes == _rank(values, value)  # type: ignore[no-any-return]
        test = string_test(op, value)
        accepted = np.fromiter(map(test, values), bool, len(values))
        # A missing value (-1) reads the False appended last: it never matches, `!=` included.
        return np.append(accepted, False)[codes]  # type: ignore[no-any-return]

    # --- columns --------------------------------------------------------------------------

    def _metric(self, name: str) -> tuple[Any, Mask]:
        """(latest values, NaN where NaN or missing; whether each run has the metric)."""
        return self._column(("metrics", name), lambda: self._build_metric(name))

    def _build_metric(self, name: str) -> tuple[Any, Mask]:
        import numpy as np

        found = [run.metrics.get(name) for run in self.runs]
        present = np.fromiter((v is not None for v in found), bool, len(found))
        return np.array(found, dtype=float), present  # None becomes NaN, masked off

    def _number(self, attribute: str) -> tuple[Any, Mask] | None:
        """(int64 values, present) of a time attribute; None outside what int64 holds."""
        return self._column(("attributes", attribute), lambda: self._build_number(attribute))

    def _build_number(self, attribute: str) -> tuple[Any, Mask] | None:
        import numpy as np

        found = [getattr(run, attribute) for run in self.runs]
        numbers = [v for v in found if v is not None]
        if any(type(v) is not int for v in numbers) or (
            numbers and not (_INT64[0] <= min(numbers) and max(numbers) <= _INT64[1])
        ):
            return None
        present = np.fromiter((v is not None for v in found), bool, len(found))
        values = np.array([0 if v is None else v for v in found], dtype=np.int64)
        return values, present

    def _text_or_none(self, key: tuple[str, str]) -> tuple[Any, list[str]] | None:
        """(each run's rank among the sorted distinct values, -1 where missing; the values);
        None when a value is not a str (then cached_runs decides)."""
        return self._column(key, lambda: self._build_text(key))

    def _build_text(self, key: tuple[str, str]) -> tuple[Any, list[str]] | None:
        import numpy as np

        kind, name = key
        read: Callable[[CachedRun], object]
        if kind == "params":
            found: list[object] = [run.params.get(name) for run in self.runs]
        elif kind == "tags":
            found = [run.tags.get(name) for run in self.runs]
        else:
            read = _attribute(name)
            found = [read(run) for run in self.runs]
        distinct = {v for v in found if v is not None}
        if any(type(v) is not str for v in distinct):
            return None
        values = sorted(distinct)  # type: ignore[type-var]
        ranks = {v: i for i, v in enumerate(values)}
        codes = np.array([ranks.get(v, -1) for v in found], dtype=np.int32)
        return codes, values  # type: ignore[return-value]

    def _number_or_text(self, kind: str, name: str) -> tuple[Any, Mask] | None:
        """An order's key column as (values, present): a time attribute's numbers, or a text
        column's ranks."""
        if kind == "attributes" and name in _NUMBER_ATTRIBUTES:
            return self._number(_NUMBER_ATTRIBUTES[name])
        column = self._text_or_none((kind, name))  # attributes.run_name: the name column
        if column is None:
            return None
        return column[0], column[0] >= 0

    def _column(self, key: tuple[str, str], build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._columns:
                self._columns.move_to_end(key)
                return self._columns[key]  # type: ignore[no-any-return]
            made = build()  # under the lock: two queries never build the same column twice
            self._columns[key] = made
            while len(self._columns) > _KEEP:
                self._columns.popitem(last=False)
            return made

    def _sorted_in_python(self, positions: Indices, key: OrderKey) -> Indices:
        import numpy as np

        chosen = [self.runs[i] for i in positions.tolist()]
        where = {id(run): i for run, i in zip(chosen, positions.tolist(), strict=True)}
        ordered = sort_cached(chosen, key, in_default_order=True)
        return np.array([where[id(run)] for run in ordered], dtype=np.intp)


def _attribute(name: str) -> Callable[[CachedRun], object]:
    return lambda run: getattr(run, name)


def _rank(values: list[str], value: str) -> int:
    """`value`'s rank in the sorted `values`, or -2 (matches no code) when it is not there."""
    at = bisect.bisect_left(values, value)
    return at if at < len(values) and values[at] == value else -2


class PickedRuns(Sequence[CachedRun]):
    """The runs at `positions` of `runs`, without building the whole list (a page is a slice)."""

    def __init__(self, runs: list[CachedRun], positions: Indices) -> None:
        self._runs = runs
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> CachedRun: ...

    @overload
    def __getitem__(self, index: slice) -> list[CachedRun]: ...

    def __getitem__(self, index: int | slice) -> CachedRun | list[CachedRun]:
        if isinstance(index, slice):
            return [self._runs[i] for i in self._positions[index].tolist()]
        return self._runs[int(self._positions[index])]
