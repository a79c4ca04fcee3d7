"""A differentially private classifier: logistic regression trained with DP-SGD (Opacus), kept
as a scikit-learn pipeline so every report, `serve` and `deploy` take it like any other model.

diffprivlib, the usual scikit-learn-shaped choice, does not import with scikit-learn 1.9, so
training is Opacus's (per-example gradient clipping plus Gaussian noise, with its RDP accountant
choosing the noise for the asked epsilon). The trained weights are copied into a
`StandardScaler` + `LogisticRegression` pipeline: predictions are the network's own.

What the guarantee covers: the model's weights, given the feature scaling. Scaling from the
data's own means and spreads is not private (diffprivlib warns the same, `PrivacyLeakWarning`):
declare public bounds with `bounds` to keep it out, or the run says it leaked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlworkbench.reports.report_errors import InvalidReportInputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_DELTA = 1e-5
MAX_GRAD_NORM = 1.0
SCALING_LEAK = (
    "feature scaling used the data's own ranges, which is not private; declare public bounds "
    "(--bounds col=lo:hi) to keep the guarantee whole"
)


@dataclass
class DpTrainingResult:
    pipeline: Any  # sklearn Pipeline(scaling, LogisticRegression)
    epsilon: float  # what the accountant says was spent (at most the asked epsilon)
    delta: float
    noise_multiplier: float
    accuracy: float  # on the held-out quarter
    warnings: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)


def check_epsilon(epsilon: float) -> None:
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise InvalidReportInputError(
            f"epsilon must be a positive number, got {epsilon!r}", "epsilon"
        )


def _scaling(
    frame: pd.DataFrame, features: list[str], bounds: dict[str, tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Centre and scale per feature: from public bounds when declared, else from the data."""
    import numpy as np

    centre, scale, leaked = [], [], []
    for name in features:
        if name in bounds:
            low, high = bounds[name]
            centre.append((low + high) / 2)
            scale.append(max((high - low) / 2, 1e-12))
        else:
            column = frame[name].to_numpy(dtype=float)
            centre.append(float(column.mean()))
            scale.append(float(column.std()) or 1.0)
            leaked.append(name)
    return np.asarray(centre), np.asarray(scale), leaked


def train_dp_logistic(
    frame: pd.DataFrame,
    target: str,
    *,
    epsilon: float,
    delta: float = DEFAULT_DELTA,
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float = 0.5,
    bounds: dict[str, tuple[float, float]] | None = None,
    seed: int = 0,
    features: list[str] | None = None,
) -> DpTrainingResult:
    """Train on `frame` (numeric features, binary `target`) with (epsilon, delta)-DP."""
    import numpy as np
    import pandas as pd
    import torch
    from opacus import PrivacyEngine
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    check_epsilon(epsilon)
    if not 0 < delta < 1:
        raise InvalidReportInputError(f"delta must be between 0 and 1, got {delta!r}", "delta")
    names = features or [c for c in frame.columns if c != target]
    non_numeric = [n for n in names if not pd.api.types.is_numeric_dtype(frame[n])]
    if non_numeric:
        raise InvalidReportInputError(
            f"DP training takes numeric features; {', '.join(map(repr, non_numeric[:5]))} "
            "are not (encode them first, or leave them out with --features)",
            "features",
        )
    classes = sorted(frame[target].dropna().unique().tolist())
    if len(classes) != 2:
        raise InvalidReportInputError(
            f"DP logistic regression needs a binary target; {target!r} has {len(classes)} "
            f"values ({', '.join(map(str, classes[:5]))})",
            "target",
        )
    rows = frame[names].to_numpy(dtype=float)
    if np.isnan(rows).any():
        raise InvalidReportInputError("the features hold missing values; impute them first", "data")
    y = (frame[target].to_numpy() == classes[1]).astype(np.float32)
    centre, scale, leaked = _scaling(frame, names, bounds or {})
    x_train, x_test, y_train, y_test = train_test_split(
        rows, y, test_size=0.25, random_state=seed, stratify=y
    )
    torch.manual_seed(seed)
    scaled = torch.tensor((x_train - centre) / scale, dtype=torch.float32)
    dataset = torch.utils.data.TensorDataset(scaled, torch.tensor(y_train))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    network = torch.nn.Linear(len(names), 1)
    optimizer = torch.optim.SGD(network.parameters(), lr=learning_rate)
    engine = PrivacyEngine(accountant="rdp")
    private, optimizer, loader = engine.make_private_with_epsilon(
        module=network,
        optimizer=optimizer,
        data_loader=loader,
        target_epsilon=epsilon,
        target_delta=delta,
        epochs=epochs,
        max_grad_norm=MAX_GRAD_NORM,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        for batch, labels in loader:
            optimizer.zero_grad()
            loss_fn(private(batch).squeeze(-1), labels).backward()
            optimizer.step()
    spent = float(engine.get_epsilon(delta))

    scaler = StandardScaler()
    scaler.mean_, scaler.scale_, scaler.var_ = centre, scale, scale**2
    scaler.n_features_in_ = len(names)
    scaler.feature_names_in_ = np.asarray(names, dtype=object)
    scaler.n_samples_seen_ = len(x_train)
    classifier = LogisticRegression()
    classifier.coef_ = network.weight.detach().numpy().astype(float)
    classifier.intercept_ = network.bias.detach().numpy().astype(float)
    classifier.classes_ = np.asarray(classes)
    classifier.n_features_in_ = len(names)
    classifier.n_iter_ = np.asarray([epochs])
    pipeline = Pipeline([("scale", scaler), ("model", classifier)])
    predicted = pipeline.predict(pd.DataFrame(x_test, columns=names))
    accuracy = float((predicted == np.asarray(classes)[y_test.astype(int)]).mean())
    warnings = [f"{SCALING_LEAK} (data-derived: {', '.join(leaked)})"] if leaked else []
    return DpTrainingResult(
        pipeline=pipeline,
        epsilon=spent,
        delta=delta,
        noise_multiplier=float(optimizer.noise_multiplier),
        accuracy=accuracy,
        warnings=warnings,
        features=names,
    )
