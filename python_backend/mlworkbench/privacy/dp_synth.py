"""A differentially private synthetic copy of a table with MST (McKenna, Miklau & Sheldon,
"Winning the NIST Contest", 2021), every noisy step an OpenDP measurement.

MST, as here:
1. Discretise: categorical columns by their values, numeric columns into equal-width bins.
2. Measure every column's 1-way marginal (noisy counts).
3. Select a spanning tree of the columns: n-1 times, among the pairs not yet connected, pick
   with the exponential mechanism (OpenDP's noisy max) the pair whose 2-way marginal the
   1-way marginals explain worst (L1 distance between the true 2-way counts and the product of
   the noisy 1-way ones).
4. Measure the selected 2-way marginals (noisy counts).
5. Sample rows from the tree: the root column from its marginal, then each child given its
   parent's sampled value from their 2-way marginal.

Differences from the paper, said plainly: noise is Laplace (pure epsilon-DP, so the ledger's
epsilons add up) instead of Gaussian under zCDP; the budget is split in thirds over steps 2-4
as in the paper; and step 5 samples the tree directly instead of fitting Private-PGM's
graphical model (OpenDP's own `dp.mbi.MST` does that, but needs `opendp[mbi]`: polars and
JAX). On a tree the two agree up to how the overlapping noisy marginals are reconciled.

Treated as public: the column names and types, each categorical column's set of values in the
file (so a value only one person has would be published: columns with more than
`max_categories` values are refused), whether a numeric column has missing values, and the
bounds declared with `--bounds`. A numeric column without declared bounds gets its range from a
noisy histogram over a fixed, data-independent grid (10% of epsilon, shared by such columns):
private, but coarser than bounds you know.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mlworkbench.privacy.column_coding import ColumnCoding, bin_edges, estimate_range
from mlworkbench.reports.report_data import require_columns
from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Bounds = dict[str, tuple[float, float]]
SYNTHESIZERS = ("mst",)
DEFAULT_BINS = 10
DEFAULT_MAX_CATEGORIES = 100
RANGE_SHARE = 0.1  # of epsilon, for columns whose range must be estimated
MAX_CELLS = 1_000_000  # a 2-way marginal larger than this is refused (memory, and noise)


@dataclass(frozen=True)
class Step:
    """One noisy release of the synthesis, for the report."""

    what: str
    mechanism: str
    epsilon: float  # OpenDP's privacy map
    scale: float


@dataclass
class SynthResult:
    frame: pd.DataFrame
    codings: list[ColumnCoding]
    tree: list[tuple[str, str]]  # (parent, child) edges, root first
    steps: list[Step]
    epsilon: float  # sum of the steps' epsilons
    estimated_rows: int  # the noisy row count the synthetic size defaults to
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SynthPlan:
    """The checked inputs of a synthesis: which columns are which; nothing noisy yet."""

    codings: list[ColumnCoding]  # numeric columns to range are completed during synthesis
    to_range: list[str]
    bins: int


def plan_synthesis(
    frame: pd.DataFrame,
    *,
    bounds: Bounds | None = None,
    categorical: list[str] | None = None,
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> SynthPlan:
    """Check the table and the options (no noise), so a refused synthesis charges nothing."""
    import pandas as pd

    bounds = bounds or {}
    categorical = categorical or []
    require_columns(frame, list(bounds), "bounded column (--bounds)")
    require_columns(frame, categorical, "categorical column (--categorical)")
    if bins < 2:
        raise InvalidReportInputError(f"--bins must be at least 2, got {bins}", "bins")
    codings: list[ColumnCoding] = []
    to_range: list[str] = []
    for name in frame.columns:
        series = frame[name]
        missing = bool(series.isna().any())
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric and name not in categorical:
            coding = ColumnCoding(name, "numeric", missing=missing, dtype=str(series.dtype))
            coding.integer = pd.api.types.is_integer_dtype(series)
            if name in bounds:
                coding.edges = bin_edges(bounds[name], bins, coding.integer)
                coding.range_source = "declared"
            else:
                to_range.append(name)
            codings.append(coding)
            continue
        values = sorted(series.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
        if len(values) > max_categories:
            raise InvalidReportInputError(
                f"column {name!r} has {len(values)} distinct values, more than "
                f"--max-categories {max_categories}: every category is published as is, so a "
                "value held by one person would leak. Drop the column, coarsen it, or (if it is "
                f"numeric) declare --bounds {name}=LOW:HIGH instead of --categorical",
                "data",
            )
        codings.append(
            ColumnCoding(
                name, "categorical", values=values, missing=missing, dtype=str(series.dtype)
            )
        )
    sizes = {c.name: c.size if c.name not in to_range else bins + 1 for c in codings}
    largest = sorted(sizes, key=lambda name: sizes[name])[-2:]
    if len(largest) == 2 and sizes[largest[0]] * sizes[largest[1]] > MAX_CELLS:
        raise InvalidReportInputError(
            f"columns {largest[0]!r} and {largest[1]!r} make a 2-way table of more than "
            f"{MAX_CELLS:,} cells; lower --max-categories or --bins",
            "data",
        )
    return SynthPlan(codings, to_range, bins)


def synthesize_mst(
    frame: pd.DataFrame,
    plan: SynthPlan,
    epsilon: float,
    *,
    rows: int | None = None,
    seed: int | None = None,
) -> SynthResult:
    """Run MST on `frame` with `epsilon` in all; `rows` synthetic rows (default: the noisy
    row count). `seed` drives only the sampling from the noisy marginals (post-processing);
    OpenDP's noise always comes from its own secure generator."""
    import numpy as np
    import pandas as pd

    from mlworkbench.privacy.opendp_mechanisms import noisy_counts

    rng = np.random.default_rng(seed)
    steps: list[Step] = []
    warnings: list[str] = []
    codings = [replace(coding) for coding in plan.codings]
    left = epsilon
    if plan.to_range:
        share = epsilon * RANGE_SHARE
        left -= share
        for name in plan.to_range:
            coding = next(c for c in codings if c.name == name)
            low, high, release = estimate_range(
                frame[name], share / len(plan.to_range), integer=coding.integer
            )
            coding.edges = bin_edges((low, high), plan.bins, coding.integer)
            coding.range_source = "estimated"
            steps.append(
                Step(f"range of {name}", release.mechanism, release.epsilon, release.scale)
            )
        warnings.append(
            "ranges estimated privately (declare --bounds for tighter bins): "
            + ", ".join(
                f"{c.name} {c.range_text()}" for c in codings if c.range_source == "estimated"
            )
        )
    codes = {c.name: c.encode(frame[c.name]) for c in codings}
    k = len(codings)
    one_way_share = left if k == 1 else left / 3
    one_way: dict[str, np.ndarray] = {}
    for coding in codings:
        release = noisy_counts(codes[coding.name], coding.size, one_way_share / k)
        one_way[coding.name] = np.asarray(release.value, dtype=float)
        steps.append(
            Step(f"marginal of {coding.name}", release.mechanism, release.epsilon, release.scale)
        )
    estimated = max(1, round(float(np.mean([m.sum() for m in one_way.values()]))))
    tree: list[tuple[str, str]] = []
    two_way: dict[tuple[str, str], np.ndarray] = {}
    if k > 1:
        edges = _select_tree(codings, codes, one_way, estimated, left / 3 / (k - 1), steps)
        for a, b in edges:
            size_b = _coding(codings, b).size
            joint = codes[a] * size_b + codes[b]
            release = noisy_counts(joint, _coding(codings, a).size * size_b, left / 3 / (k - 1))
            two_way[(a, b)] = np.asarray(release.value, dtype=float).reshape(-1, size_b)
            steps.append(
                Step(f"marginal of {a} x {b}", release.mechanism, release.epsilon, release.scale)
            )
        tree = _orient(codings[0].name, edges)
    count = rows if rows is not None else estimated
    sampled = _sample(codings, tree, one_way, two_way, count, rng)
    synthetic = pd.DataFrame(
        {c.name: c.decode(sampled[c.name], rng) for c in codings}, columns=list(frame.columns)
    )
    spent = math.fsum(step.epsilon for step in steps)
    if spent > epsilon * (1 + 1e-9):  # the split above must never overspend; OpenDP says so
        raise AssertionError(f"MST spent {spent} of {epsilon}")
    return SynthResult(synthetic, codings, tree, steps, spent, estimated, warnings)


def _coding(codings: list[ColumnCoding], name: str) -> ColumnCoding:
    return next(c for c in codings if c.name == name)


def _select_tree(
    codings: list[ColumnCoding],
    codes: dict[str, np.ndarray],
    one_way: dict[str, np.ndarray],
    rows: int,
    epsilon: float,
    steps: list[Step],
) -> list[tuple[str, str]]:
    """MST's selection: k-1 rounds of the exponential mechanism over the pairs that would join
    two components (Kruskal's rule), each with `epsilon`.

    A pair's score is the L1 distance between its true 2-way counts and the product of the two
    noisy 1-way marginals. The noisy marginals are fixed (already released), and one row added
    or removed moves one true 2-way count by one, so every score moves by at most 1: the L∞
    sensitivity noisy_argmax is built for.
    """
    import numpy as np

    from mlworkbench.privacy.opendp_mechanisms import noisy_argmax

    def share(counts: np.ndarray) -> np.ndarray:
        clipped = np.clip(counts, 0, None)
        total = clipped.sum()
        return clipped / total if total > 0 else np.full(len(counts), 1 / len(counts))

    pairs: list[tuple[str, str]] = []
    scores: list[float] = []
    for i, a in enumerate(codings):
        for b in codings[i + 1 :]:
            true = np.bincount(codes[a.name] * b.size + codes[b.name], minlength=a.size * b.size)
            guess = rows * np.outer(share(one_way[a.name]), share(one_way[b.name])).ravel()
            pairs.append((a.name, b.name))
            scores.append(float(np.abs(true - guess).sum()))
    component = {c.name: c.name for c in codings}

    def root(name: str) -> str:
        while component[name] != name:
            component[name] = component[component[name]]
            name = component[name]
        return name

    chosen: list[tuple[str, str]] = []
    for _ in range(len(codings) - 1):
        open_pairs = [i for i, (a, b) in enumerate(pairs) if root(a) != root(b)]
        release = noisy_argmax(np.asarray([scores[i] for i in open_pairs]), epsilon)
        a, b = pairs[open_pairs[release.value]]
        component[root(a)] = root(b)
        chosen.append((a, b))
        steps.append(Step(f"choose {a} x {b}", release.mechanism, release.epsilon, release.scale))
    return chosen


def _orient(root: str, edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The tree's edges as (parent, child), breadth first from `root`."""
    neighbours: dict[str, list[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    seen = {root}
    queue = deque([root])
    ordered: list[tuple[str, str]] = []
    while queue:
        parent = queue.popleft()
        for child in neighbours.get(parent, []):
            if child not in seen:
                seen.add(child)
                ordered.append((parent, child))
                queue.append(child)
    return ordered


def _sample(
    codings: list[ColumnCoding],
    tree: list[tuple[str, str]],
    one_way: dict[str, np.ndarray],
    two_way: dict[tuple[str, str], np.ndarray],
    rows: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Codes for `rows` synthetic rows: the root from its noisy marginal, each child from its
    noisy 2-way marginal with the parent (the parent's row of it; the child's own marginal
    where that row holds nothing). Negative noisy counts are clipped to 0 first."""
    import numpy as np

    def distribution(counts: np.ndarray) -> np.ndarray:
        clipped = np.clip(counts, 0, None)
        total = clipped.sum()
        return clipped / total if total > 0 else np.full(len(counts), 1 / len(counts))

    root = codings[0].name
    sampled = {root: rng.choice(len(one_way[root]), size=rows, p=distribution(one_way[root]))}
    for parent, child in tree:
        # Measured as (a, b) in selection order: the child may be either side.
        forward = (parent, child) in two_way
        table = two_way[(parent, child)] if forward else two_way[(child, parent)].T
        out = np.empty(rows, dtype=np.int64)
        fallback = distribution(one_way[child])
        for level in range(table.shape[0]):
            where = np.flatnonzero(sampled[parent] == level)
            if where.size:
                row = table[level]
                p = distribution(row) if np.clip(row, 0, None).sum() > 0 else fallback
                out[where] = rng.choice(len(p), size=where.size, p=p)
        sampled[child] = out
    return sampled
