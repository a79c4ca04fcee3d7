"""How a column becomes the integers a marginal counts, and back: categories by their public
values, numbers by equal-width bins over a range that is declared or privately estimated.

The synthesizer (dp_synth.py) measures marginals over these codes and samples codes back; the
utility report compares real and synthetic data on the same codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlworkbench.privacy.opendp_mechanisms import Release

RANGE_QUANTILES = (0.005, 0.995)


def range_grid() -> list[float]:
    """Bucket edges for estimating a range privately: 0 and ±{1, 2, 5}·10^k for k in -3…9.

    Fixed in advance, so the grid itself says nothing about the data."""
    positive = [m * 10.0**k for k in range(-3, 10) for m in (1, 2, 5)]
    return sorted([-x for x in positive] + [0.0] + positive)


@dataclass
class ColumnCoding:
    """How one column maps to the integers 0 … size-1 and back."""

    name: str
    kind: Literal["categorical", "numeric"]
    values: list[Any] = field(default_factory=list)  # categorical: the public values
    edges: list[float] = field(default_factory=list)  # numeric: bin edges, len = bins + 1
    integer: bool = False  # numeric with whole values: bins hold whole numbers
    missing: bool = False  # a last level for missing values
    range_source: str = ""  # numeric: "declared" or "estimated"
    dtype: str = ""

    @property
    def bins(self) -> int:
        return len(self.values) if self.kind == "categorical" else len(self.edges) - 1

    @property
    def size(self) -> int:
        return self.bins + self.missing

    def labels(self) -> list[str]:
        if self.kind == "categorical":
            names = [str(v) for v in self.values]
        elif self.integer:
            names = [
                f"{int(a)}" if b - a == 1 else f"{int(a)}-{int(b) - 1}"
                for a, b in zip(self.edges, self.edges[1:], strict=False)
            ]
        else:
            names = [
                f"[{a:.4g}, {b:.4g})" for a, b in zip(self.edges, self.edges[1:], strict=False)
            ]
        return [*names, "(missing)"] if self.missing else names

    def range_text(self) -> str:
        """The range the bins cover, whole numbers inclusive; "public values" for categories."""
        if self.kind == "categorical":
            return "public values"
        high = self.edges[-1] - 1 if self.integer else self.edges[-1]
        return f"[{self.edges[0]:g}, {high:g}]"

    def encode(self, series: pd.Series) -> np.ndarray:
        import numpy as np
        import pandas as pd

        absent = series.isna().to_numpy()
        if self.kind == "categorical":
            codes = pd.Index(self.values).get_indexer(series)
            codes = np.where(codes < 0, self.bins, codes)  # unknown → missing; never in the data
        else:
            x = series.to_numpy(dtype=float, na_value=np.nan)
            x = np.clip(np.nan_to_num(x, nan=self.edges[0]), self.edges[0], self.edges[-1])
            codes = np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, self.bins - 1)
        codes = np.where(absent, self.bins, codes)
        return np.asarray(codes, dtype=np.int64)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        import numpy as np
        import pandas as pd

        absent = codes >= self.bins
        safe = np.where(absent, 0, codes)
        if self.kind == "categorical":
            out = np.asarray(self.values, dtype=object)[safe]
            out[absent] = None
            series = pd.Series(out, name=self.name)
            if not absent.any():
                try:
                    return series.astype(self.dtype)
                except (TypeError, ValueError):
                    return series
            return series
        edges = np.asarray(self.edges)
        if self.integer:
            values: np.ndarray = rng.integers(
                edges[safe].astype(np.int64), edges[safe + 1].astype(np.int64)
            )
            if absent.any():
                floats = values.astype(float)
                floats[absent] = np.nan
                return pd.Series(floats, name=self.name)
            return pd.Series(values, name=self.name)
        floats = rng.uniform(edges[safe], edges[safe + 1])
        floats[absent] = np.nan
        return pd.Series(floats, name=self.name)


def bin_edges(bounds: tuple[float, float], bins: int, integer: bool) -> list[float]:
    import numpy as np

    low, high = bounds
    if integer:
        low, high = math.floor(low), math.floor(high)
        span = high - low + 1
        count = min(bins, span)
        return [float(e) for e in np.unique(np.round(np.linspace(low, high + 1, count + 1)))]
    return [float(e) for e in np.linspace(low, high, bins + 1)]


def estimate_range(
    series: pd.Series, epsilon: float, *, integer: bool
) -> tuple[float, float, Release]:
    """[low, high] covering the RANGE_QUANTILES of `series`, read off a noisy histogram over
    `range_grid()`. Buckets whose noisy count is below a threshold are taken as empty (a
    post-processing step), so noise in empty far-away buckets does not stretch the range."""
    import numpy as np

    from mlworkbench.privacy.opendp_mechanisms import noisy_counts

    grid = np.asarray(range_grid())
    x = series.dropna().to_numpy(dtype=float)
    # Bucket i holds [grid[i-1], grid[i]); bucket 0 everything below grid[0], the last above.
    buckets = np.searchsorted(grid, x, side="right")
    release = noisy_counts(buckets, len(grid) + 1, epsilon)
    counts = np.asarray(release.value, dtype=float)
    # Below this, an empty bucket's noise passes with probability at most 0.1% over the grid
    # (Laplace: P(noise > scale * ln(n / 0.002)) = 0.001 / n). At 1%, one column in a hundred
    # got a range reaching the far end of the grid (seen: hours up to 2e9).
    counts[counts < release.scale * math.log(len(counts) / 0.002)] = 0
    total = counts.sum()
    if total <= 0:
        raise InvalidReportInputError(
            f"too few rows to estimate the range of {series.name!r} privately; declare it with "
            f"--bounds {series.name}=LOW:HIGH",
            "bounds",
        )
    cumulative = np.cumsum(counts) / total
    first = int(np.searchsorted(cumulative, RANGE_QUANTILES[0], side="left"))
    last = int(np.searchsorted(cumulative, RANGE_QUANTILES[1], side="left"))
    low = grid[max(first - 1, 0)]
    high = grid[min(last, len(grid) - 1)]
    if integer and high - 1 >= low and last < len(grid):
        high -= 1  # the bucket's upper edge is exclusive: its whole numbers end one below
    if high <= low:
        high = low + 1.0
    return float(low), float(high), release
