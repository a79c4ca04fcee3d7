"""The fairness report and mitigation end to end: a real MLflow sqlite store holds a logistic
regression and a linear regression; the `report fairness` / `report mitigate` verbs run on it
(through their own parser: `mlworkbench report` is wired in report.py), the report lands under
the run, and its numbers equal Fairlearn's on the same predictions.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlworkbench.commands import Subcommand
from mlworkbench.commands.report_fairness import FAIRNESS, MITIGATE
from mlworkbench.reports.report_errors import (
    ColumnNotFoundError,
    InvalidReportInputError,
)

pytestmark = pytest.mark.usefixtures("no_tracking_env")

FEATURES = ["income", "debt", "history", "savings"]
ROWS = 1500
# Requirements named, so MLflow does not infer them in a child process (seconds per model), and
# cloudpickle, whose loader is pickle itself: MLflow's default, skops, imports all of
# scikit-learn to list its trusted types (15 s here). test_report_inputs loads skops models.
LOG_OPTIONS: dict[str, Any] = {
    "pip_requirements": ["scikit-learn"],
    "serialization_format": "cloudpickle",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One workspace: data.csv, a classifier run and a regressor run in `<ws>/mlflow.db`."""
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LinearRegression, LogisticRegression

    workspace = tmp_path_factory.mktemp("fairness-ws")
    x, y = make_classification(
        n_samples=ROWS, n_features=len(FEATURES), n_informative=3, n_redundant=0, random_state=1
    )
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(x, columns=FEATURES)
    # Group membership leans on the label, so the selection rates differ by group.
    frame["sex"] = np.where(rng.random(ROWS) < 0.3 + 0.4 * y, "male", "female")
    frame["age_group"] = rng.choice(
        ["18-25", "26-40", "41-60", "60+"], ROWS, p=[0.27, 0.4, 0.3, 0.03]
    )
    frame["approved"] = y
    frame["score"] = x @ np.array([3.0, -2.0, 1.0, 0.5]) + rng.normal(0, 1, ROWS)
    frame.to_csv(workspace / "data.csv", index=False)
    with_missing = frame.copy()
    with_missing.loc[:11, "age_group"] = np.nan
    with_missing.to_csv(workspace / "missing.csv", index=False)
    frame.drop(columns=["debt"]).to_csv(workspace / "no_debt.csv", index=False)

    mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
    mlflow.set_experiment("credit")
    ids = {}
    with mlflow.start_run(run_name="logreg") as run:
        classifier = LogisticRegression().fit(frame[FEATURES], frame["approved"])
        mlflow.sklearn.log_model(classifier, name="model", **LOG_OPTIONS)
        ids["classifier"] = run.info.run_id
    with mlflow.start_run(run_name="linear") as run:
        regressor = LinearRegression().fit(frame[FEATURES], frame["score"])
        mlflow.sklearn.log_model(regressor, name="model", **LOG_OPTIONS)
        ids["regressor"] = run.info.run_id
    mlflow.set_tracking_uri("")
    return {
        "workspace": workspace,
        "ids": ids,
        "frame": frame,
        "with_missing": with_missing,
        "predicted": classifier.predict(frame[FEATURES]),
        "regressed": regressor.predict(frame[FEATURES]),
    }


def run_verb(
    verb: Subcommand, store: dict[str, Any], capsys: pytest.CaptureFixture[str], *argv: str
) -> dict[str, Any]:
    """Run a verb with --json as the server does; its printed payload."""
    parser = argparse.ArgumentParser()
    verb.configure(parser)
    args = parser.parse_args(["--workspace", str(store["workspace"]), "--json", *argv])
    capsys.readouterr()
    assert verb.run(args) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


def fairlearn_numbers(frame: pd.DataFrame, predicted: np.ndarray, sensitive: list[str]) -> Any:
    import sklearn.metrics as skm
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
    )

    truth = frame["approved"].to_numpy()
    groups = frame[sensitive]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric_frame = MetricFrame(
            metrics={
                "accuracy": skm.accuracy_score,
                "balanced_accuracy": skm.balanced_accuracy_score,
                "precision": skm.precision_score,
                "recall": skm.recall_score,
                "false_positive_rate": false_positive_rate,
                "false_negative_rate": false_negative_rate,
                "selection_rate": selection_rate,
            },
            y_true=truth,
            y_pred=predicted,
            sensitive_features=groups,
        )
        dp = demographic_parity_difference(truth, predicted, sensitive_features=groups)
        eo = equalized_odds_difference(truth, predicted, sensitive_features=groups)
    return metric_frame, dp, eo


@pytest.fixture(scope="module")
def classifier_report(
    store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The fairness verb run once on the classifier's run (module-scoped: shared by tests)."""
    out = tmp_path_factory.mktemp("fairness-out")
    parser = argparse.ArgumentParser()
    FAIRNESS.configure(parser)
    args = parser.parse_args(
        [
            "--workspace",
            str(store["workspace"]),
            "--json",
            "--run",
            store["ids"]["classifier"],
            "--data",
            "data.csv",
            "--target",
            "approved",
            "--sensitive",
            "sex,age_group",
            "--out",
            str(out),
        ]
    )
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert FAIRNESS.run(args) == 0
    payload: dict[str, Any] = json.loads(buffer.getvalue())
    payload["out"] = out
    return payload


# --- the report -----------------------------------------------------------------------------


def test_the_report_is_logged_under_the_run_and_equals_fairlearn(
    store: dict[str, Any], classifier_report: dict[str, Any]
) -> None:
    from mlworkbench.reports.report_store import read_report

    run_id = store["ids"]["classifier"]
    assert classifier_report["runId"] == run_id
    assert classifier_report["artifactPath"] == "reports/fairness.json"
    logged = read_report(store["workspace"], run_id, "fairness")
    assert logged == classifier_report["document"]

    details = logged["details"]
    frame, dp, eo = fairlearn_numbers(store["frame"], store["predicted"], ["sex", "age_group"])
    assert details["headline"] == "intersection"
    assert details["parity"]["demographic_parity_difference"] == pytest.approx(dp, abs=1e-9)
    assert details["parity"]["equalized_odds_difference"] == pytest.approx(eo, abs=1e-9)
    by_group = details["groupings"]["intersection"]["byGroup"]
    for (sex, age), row in frame.by_group.iterrows():
        for metric, value in row.items():
            assert by_group[f"{sex}, {age}"][metric] == pytest.approx(value, abs=1e-9)
    for metric, value in frame.overall.items():
        assert details["overall"][metric] == pytest.approx(value, abs=1e-9)
    intersection = details["groupings"]["intersection"]
    for metric, value in frame.difference().items():
        assert intersection["difference"][metric] == pytest.approx(value, abs=1e-9)
    for metric, value in frame.ratio().items():
        assert intersection["ratio"][metric] == pytest.approx(value, abs=1e-9)


def test_the_document_has_summary_choice_charts_and_disparities(
    classifier_report: dict[str, Any],
) -> None:
    document = classifier_report["document"]
    assert document["kind"] == "fairness"
    assert document["data"]["path"] == "data.csv" and document["data"]["rows"] == ROWS
    labels = [figure["label"] for figure in document["summary"]]
    assert labels == [
        "Overall accuracy",
        "Demographic parity difference",
        "Equalized odds difference",
        "Worst group",
    ]
    by_group, disparities = document["sections"]
    assert (by_group["id"], disparities["id"]) == ("by-group", "disparities")
    options = by_group["choice"]["options"]
    assert [o["id"] for o in options] == ["sex", "age_group", "intersection"]
    for option in options:
        rows = option["table"]["rows"]
        assert rows[-1]["group"] == "Overall"
        assert all(isinstance(row["group"], str) for row in rows)
        chart = option["chart"]
        assert chart["mark"] == "bar" and isinstance(chart["data"]["values"], list)
        assert "url" not in json.dumps(chart)
    # "60+" is 3% of the rows: some of its intersections fall below 30 rows and are flagged.
    intersection = options[2]["table"]
    flagged = [
        r["group"] for r, f in zip(intersection["rows"], intersection["flags"], strict=True) if f
    ]
    assert flagged and all("60+" in group for group in flagged)
    assert any("fewer than 30 rows" in w for w in document["warnings"])
    metrics = {row["metric"] for row in disparities["table"]["rows"]}
    assert {"Demographic parity", "Equalized odds", "Selection rate"} <= metrics
    assert {p.name for p in Path(classifier_report["out"]).iterdir()} == {
        "fairness.json",
        "fairness.html",
    }


def test_missing_sensitive_values_form_a_group_with_a_warning(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    payload = run_verb(
        FAIRNESS,
        store,
        capsys,
        *("--run", store["ids"]["classifier"], "--data", "missing.csv"),
        *("--target", "approved", "--sensitive", "age_group", "--no-log"),
    )
    assert payload["runId"] is None and payload["artifactPath"] is None
    document = payload["document"]
    age = document["details"]["groupings"]["age_group"]
    assert age["byGroup"]["(missing)"]["count"] == 12
    assert sum(row["count"] for row in age["byGroup"].values()) == ROWS
    assert document["details"]["missing"] == {"age_group": 12}
    assert any("12 rows without a value" in w for w in document["warnings"])


def test_a_regression_model_gets_regression_metrics(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import sklearn.metrics as skm

    payload = run_verb(
        FAIRNESS,
        store,
        capsys,
        *("--run", store["ids"]["regressor"], "--data", "data.csv", "--target", "score"),
        *("--sensitive", "sex", "--no-log"),
    )
    details = payload["document"]["details"]
    assert details["task"] == "regression"
    frame = store["frame"]
    for sex in ("female", "male"):
        rows = (frame["sex"] == sex).to_numpy()
        truth, predicted = frame["score"].to_numpy()[rows], store["regressed"][rows]
        group = details["groupings"]["sex"]["byGroup"][sex]
        assert group["mean_absolute_error"] == pytest.approx(
            skm.mean_absolute_error(truth, predicted), rel=1e-12
        )
        assert group["r2"] == pytest.approx(skm.r2_score(truth, predicted), rel=1e-12)
    assert payload["document"]["summary"][0]["label"] == "Overall MAE"


# --- bad inputs -----------------------------------------------------------------------------


def test_a_misspelled_sensitive_column_suggests_the_real_one(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ColumnNotFoundError) as caught:
        run_verb(
            FAIRNESS,
            store,
            capsys,
            *("--run", store["ids"]["classifier"], "--data", "data.csv"),
            *("--target", "approved", "--sensitive", "sex,agegroup"),
        )
    assert caught.value.suggestion == "age_group"
    assert "did you mean 'age_group'?" in str(caught.value)


def test_a_non_binary_target_names_its_values(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidReportInputError, match=r"'age_group' has 4 distinct values"):
        run_verb(
            FAIRNESS,
            store,
            capsys,
            *("--run", store["ids"]["classifier"], "--data", "data.csv"),
            *("--target", "age_group", "--sensitive", "sex"),
        )


def test_an_id_column_as_sensitive_feature_asks_for_binning(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidReportInputError, match=r"'income' has 1,500 distinct values.*bin"):
        run_verb(
            FAIRNESS,
            store,
            capsys,
            *("--run", store["ids"]["classifier"], "--data", "data.csv"),
            *("--target", "approved", "--sensitive", "income"),
        )


def test_data_without_the_models_features_names_them(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidReportInputError, match=r"lacks: 'debt'"):
        run_verb(
            FAIRNESS,
            store,
            capsys,
            *("--run", store["ids"]["classifier"], "--data", "no_debt.csv"),
            *("--target", "approved", "--sensitive", "sex"),
        )


# --- mitigation -----------------------------------------------------------------------------


def _mitigated_run(store: dict[str, Any], payload: dict[str, Any]) -> Any:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store['workspace'] / 'mlflow.db'}")
    return client.get_run(payload["runId"])


def test_threshold_mitigation_makes_a_fairer_model_in_a_new_run(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from mlworkbench.reports.fairness_metrics import compute_fairness_metrics
    from mlworkbench.reports.report_model import load_report_model
    from mlworkbench.reports.report_store import read_report

    source = store["ids"]["classifier"]
    payload = run_verb(
        MITIGATE,
        store,
        capsys,
        *("--run", source, "--data", "data.csv", "--target", "approved"),
        *("--sensitive", "sex", "--method", "threshold"),
    )
    new_run = _mitigated_run(store, payload)
    assert new_run.info.run_id != source
    assert new_run.data.tags["mlworkbench.mitigatedFrom"] == source
    assert new_run.data.params["method"] == "threshold"
    assert new_run.data.params["constraint"] == "demographic_parity"
    document = read_report(store["workspace"], new_run.info.run_id, "fairness")
    assert document == payload["document"]
    assert document["sections"][0]["id"] == "before-after"
    assert document["sections"][0]["chart"]["mark"]["type"] == "point"
    before = document["details"]["before"]["parity"]["demographic_parity_difference"]
    after = document["details"]["after"]["parity"]["demographic_parity_difference"]
    assert after < before

    # The logged model loads back (cloudpickle, no skops types to trust) and predicts the
    # target's labels from the data's own columns.
    mitigated = load_report_model(store["workspace"], run_id=new_run.info.run_id)
    assert mitigated.features == [*FEATURES, "sex"]
    frame = store["frame"]
    predicted = mitigated.predict(mitigated.features_of(frame, exclude=[]))
    assert set(np.unique(predicted)) <= {0, 1}
    whole = compute_fairness_metrics(frame["approved"], predicted, frame[["sex"]])
    original = compute_fairness_metrics(frame["approved"], store["predicted"], frame[["sex"]])
    assert (
        whole.headline.parity["demographic_parity_difference"]
        < original.headline.parity["demographic_parity_difference"]
    )


@pytest.mark.slow
def test_exponentiated_gradient_refits_a_copy_with_equalized_odds(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from mlworkbench.reports.report_model import load_report_model

    payload = run_verb(
        MITIGATE,
        store,
        capsys,
        *("--run", store["ids"]["classifier"], "--data", "data.csv", "--target", "approved"),
        *("--sensitive", "sex", "--method", "expgrad", "--constraint", "equalized_odds"),
    )
    new_run = _mitigated_run(store, payload)
    assert new_run.data.params["constraint"] == "equalized_odds"
    assert payload["document"]["details"]["method"] == "expgrad"
    mitigated = load_report_model(store["workspace"], run_id=new_run.info.run_id)
    assert mitigated.features == FEATURES  # no sensitive feature needed to predict
    predicted = mitigated.predict(store["frame"][FEATURES])
    assert len(predicted) == ROWS


def test_mitigation_needs_a_run(store: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidReportInputError, match="name the run"):
        run_verb(
            MITIGATE,
            store,
            capsys,
            *("--data", "data.csv", "--target", "approved", "--sensitive", "sex"),
        )
