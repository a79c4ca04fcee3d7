"""The OpenDP measurements every release here goes through: noisy counts over a public category
set, a noisy clamped sum, and noisy-max selection. Each is built from OpenDP constructors, its
noise scale chosen so that OpenDP's own privacy map gives at most the asked epsilon, and only
then invoked on the data; nothing here draws noise itself.

The privacy unit is one row: neighbouring data sets differ by one row added or removed
(OpenDP's symmetric distance 1), so a person with several rows is protected only as far as
group privacy goes (k rows: k x epsilon).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# One row added or removed.
D_IN = 1
ALPHA = 0.05  # accuracies are stated at 95% confidence


def opendp() -> SimpleNamespace:
    """OpenDP's constructors (`dp.t`, `dp.m`, domains, metrics, …), with the one feature flag
    the measurements here need.

    Imported module by module: `opendp.prelude` also imports scikit-learn for its sklearn
    extras (8 s on a busy machine here, against 0.2 s for these).

    "contrib": make_count_by_categories, make_clamp, make_sum, make_laplace and make_noisy_max
    are OpenDP "contrib" constructors, whose proofs have not finished OpenDP's vetting process;
    without the flag OpenDP refuses to build them. Nothing else is enabled: not
    "idealized-numerics" (floating-point noise stays protected against floating-point attacks,
    and float sums keep their rounding-aware sensitivity), not "honest-but-curious" (no
    user-defined transformation whose stability OpenDP would have to take on trust).
    """
    import opendp.accuracy as accuracy
    import opendp.domains as domains
    import opendp.measurements as measurements
    import opendp.measures as measures
    import opendp.metrics as metrics
    import opendp.mod as mod
    import opendp.transformations as transformations
    import opendp.typing as typing

    mod.enable_features("contrib")
    return SimpleNamespace(
        t=transformations,
        m=measurements,
        i64=typing.i64,
        L1Distance=typing.L1Distance,
        atom_domain=domains.atom_domain,
        vector_domain=domains.vector_domain,
        symmetric_distance=metrics.symmetric_distance,
        linf_distance=metrics.linf_distance,
        max_divergence=measures.max_divergence,
        binary_search_param=mod.binary_search_param,
        laplacian_scale_to_accuracy=accuracy.laplacian_scale_to_accuracy,
        discrete_laplacian_scale_to_accuracy=accuracy.discrete_laplacian_scale_to_accuracy,
    )


@dataclass(frozen=True)
class Release:
    """A released value and what it cost: OpenDP's privacy map at D_IN, the noise scale, and
    the ± that holds with 95% confidence."""

    value: Any
    epsilon: float
    scale: float
    accuracy: float
    mechanism: str


def _scale_for(
    make: Callable[[float], Any], sensitivity: float, epsilon: float, d_in: Any = D_IN
) -> float:
    """A scale whose measurement OpenDP maps to at most `epsilon`: sensitivity / epsilon,
    nudged up when rounding in OpenDP's map asks for a hair more (binary search as the last
    resort). The map, not this arithmetic, is what the release is checked against."""
    dp = opendp()
    scale = sensitivity / epsilon
    for _ in range(8):
        if make(scale).map(d_in) <= epsilon:
            return scale
        scale *= 1 + 1e-8
    return float(dp.binary_search_param(make, d_in=d_in, d_out=epsilon, T=float))


def noisy_counts(codes: np.ndarray, size: int, epsilon: float) -> Release:
    """How many of `codes` (integers in [0, size)) fall on each of 0 … size-1, with discrete
    Laplace noise: OpenDP's count_by_categories over the public set 0 … size-1, then Laplace.

    One row changes one count by one (L1 sensitivity 1), so the whole vector costs `epsilon`.
    """
    import numpy as np

    dp = opendp()
    space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.symmetric_distance()
    counts = dp.t.make_count_by_categories(
        *space,
        categories=list(range(size)),
        null_category=False,
        MO=dp.L1Distance[dp.i64],
        TOA=dp.i64,
    )

    def make(scale: float) -> Any:
        return counts >> dp.m.then_laplace(scale=scale)

    scale = _scale_for(make, float(counts.map(D_IN)), epsilon)
    measurement = make(scale)
    value = np.asarray(measurement(np.ascontiguousarray(codes, dtype=np.int64)), dtype=np.int64)
    return Release(
        value=value,
        epsilon=float(measurement.map(D_IN)),
        scale=scale,
        accuracy=float(dp.discrete_laplacian_scale_to_accuracy(scale=scale, alpha=ALPHA)),
        mechanism="count by public categories + discrete Laplace",
    )


def noisy_sums(
    groups: list[np.ndarray], bounds: tuple[float, float], epsilon: float, *, integer: bool
) -> Release:
    """Per group, the sum of its values clamped to `bounds` (public, declared), with Laplace
    noise: discrete Laplace on integer columns, OpenDP's float Laplace otherwise.

    One measurement (clamp, sum, Laplace) is built and invoked on each group. The groups hold
    disjoint rows and one row added or removed touches one group, so the whole list costs
    `epsilon` once (parallel composition). The sensitivity is OpenDP's: max(|low|, |high|) for
    one row, plus float rounding for float sums. Missing values must be dropped first.
    """
    import numpy as np

    dp = opendp()
    low, high = bounds
    if integer:
        atom = dp.atom_domain(T=dp.i64)
        dtype: Any = np.int64
        clamp_to: tuple[Any, Any] = (int(low), int(high))
    else:
        atom = dp.atom_domain(T=float, nan=False)
        dtype = np.float64
        clamp_to = (float(low), float(high))
    space = dp.vector_domain(atom), dp.symmetric_distance()
    summed = space >> dp.t.then_clamp(clamp_to) >> dp.t.then_sum()

    def make(scale: float) -> Any:
        return summed >> dp.m.then_laplace(scale=scale)

    scale = _scale_for(make, float(summed.map(D_IN)), epsilon)
    measurement = make(scale)
    to_accuracy = (
        dp.discrete_laplacian_scale_to_accuracy if integer else dp.laplacian_scale_to_accuracy
    )
    return Release(
        value=[measurement(np.ascontiguousarray(values, dtype=dtype)) for values in groups],
        epsilon=float(measurement.map(D_IN)),
        scale=scale,
        accuracy=float(to_accuracy(scale=scale, alpha=ALPHA)),
        mechanism=f"clamped sum + {'discrete ' if integer else ''}Laplace",
    )


def noisy_argmax(scores: np.ndarray, epsilon: float) -> Release:
    """The index of the highest score, chosen with OpenDP's noisy max (the exponential
    mechanism in its Gumbel form). The caller vouches that one row moves each score by at most
    1 (L∞ sensitivity 1), in either direction, so OpenDP charges 2 / scale."""
    import numpy as np

    dp = opendp()
    space = (
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.linf_distance(T=float, monotonic=False),
    )

    def make(scale: float) -> Any:
        return dp.m.make_noisy_max(*space, dp.max_divergence(), scale=scale)

    # The map is 2 · d_in / scale for scores that may move in opposite directions.
    scale = _scale_for(make, 2.0, epsilon, d_in=float(D_IN))
    measurement = make(scale)
    data = np.ascontiguousarray(scores, dtype=np.float64)
    return Release(
        value=int(measurement(data)),
        epsilon=float(measurement.map(float(D_IN))),
        scale=scale,
        accuracy=float("nan"),
        mechanism="noisy max (exponential mechanism)",
    )
