"""DP-SGD logistic regression (Opacus): the epsilon it reports, the model it gives, the inputs it
refuses. Data is made here; training is seeded, so the figures do not move between runs."""

from __future__ import annotations

from typing import Any

import pytest

from mlworkbench.privacy.dp_training import train_dp_logistic
from mlworkbench.reports.report_errors import InvalidReportInputError

FEATURES = [f"f{i}" for i in range(5)]


@pytest.fixture(scope="module")
def frame() -> Any:
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=3000, n_features=5, n_informative=3, random_state=1)
    data = pd.DataFrame(x, columns=FEATURES)
    data["label"] = y
    return data


def test_the_model_spends_at_most_the_asked_epsilon_and_still_learns(frame: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    result = train_dp_logistic(frame, "label", epsilon=4.0, epochs=8)
    assert 0 < result.epsilon <= 4.0 + 1e-6
    assert result.noise_multiplier > 0.3  # noise was added: this is not plain SGD
    baseline = LogisticRegression().fit(frame[FEATURES][:2250], frame["label"][:2250])
    plain = baseline.score(frame[FEATURES][2250:], frame["label"][2250:])
    assert result.accuracy > 0.6 and result.accuracy <= plain + 0.05
    probabilities = result.pipeline.predict_proba(frame[FEATURES].head(4))
    assert probabilities.shape == (4, 2)
    assert list(result.pipeline.feature_names_in_) == FEATURES


def test_a_smaller_epsilon_means_more_noise(frame: Any) -> None:
    loose = train_dp_logistic(frame, "label", epsilon=8.0, epochs=2)
    tight = train_dp_logistic(frame, "label", epsilon=0.5, epochs=2)
    assert tight.noise_multiplier > loose.noise_multiplier


def test_scaling_from_the_data_is_named_as_a_leak_and_public_bounds_are_not(frame: Any) -> None:
    leaky = train_dp_logistic(frame, "label", epsilon=2.0, epochs=1)
    assert leaky.warnings and "not private" in leaky.warnings[0]
    bounds = {name: (-6.0, 6.0) for name in FEATURES}
    clean = train_dp_logistic(frame, "label", epsilon=2.0, epochs=1, bounds=bounds)
    assert clean.warnings == []


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (None, {"epsilon": 0.0}, "epsilon must be a positive number"),
        (None, {"epsilon": float("nan")}, "epsilon must be a positive number"),
        (None, {"epsilon": 1.0, "delta": 1.5}, "delta must be between 0 and 1"),
        ("three-classes", {"epsilon": 1.0}, "needs a binary target"),
        ("text-feature", {"epsilon": 1.0}, "takes numeric features; 'f0'"),
        ("missing-value", {"epsilon": 1.0}, "missing values"),
    ],
)
def test_bad_inputs_are_refused_before_training(
    frame: Any, change: str | None, kwargs: dict[str, Any], message: str
) -> None:
    data = frame.copy()
    if change == "three-classes":
        data.loc[:9, "label"] = 2
    elif change == "text-feature":
        data["f0"] = data["f0"].astype(str)
    elif change == "missing-value":
        data.loc[3, "f1"] = float("nan")
    with pytest.raises(InvalidReportInputError, match=message):
        train_dp_logistic(data, "label", **kwargs)


@pytest.mark.slow
def test_train_dp_logs_a_loadable_model_and_charges_the_ledger(
    frame: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlworkbench train-dp` end to end on a real store: the spend is in the data set's ledger,
    the run's model loads as a scikit-learn pipeline, and past the budget nothing is trained."""
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    from mlworkbench.cli import main
    from mlworkbench.privacy import privacy_ledger
    from mlworkbench.reports.report_data import file_sha256

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame.to_csv(tmp_path / "data.csv", index=False)
    common = ["--data", "data.csv", "--target", "label", "--workspace", str(tmp_path)]
    assert main(["train-dp", *common, "--epsilon", "3", "--epochs", "2", "--budget", "5"]) == 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("dp-training").experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert float(run.data.params["epsilon"]) == 3.0 and run.data.metrics["epsilon_spent"] <= 3.0
    assert "not private" in run.data.tags["mlworkbench.privacy.warning"]
    sha = file_sha256(tmp_path / "data.csv")
    assert privacy_ledger.spent(tmp_path, sha) == pytest.approx(3.0)
    model = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert model.predict_proba(frame[FEATURES].head(2)).shape == (2, 2)
    # 3 + 3 > 5: refused before training, nothing new in the store or the ledger.
    assert main(["train-dp", *common, "--epsilon", "3", "--budget", "5"]) == 2
    assert len(client.search_runs([run.info.experiment_id])) == 1
    assert privacy_ledger.spent(tmp_path, sha) == pytest.approx(3.0)
