"""The explanation report and `train-ebm`: an EBM's numbers equal InterpretML's
`explain_global` / `explain_local`, a black-box model's equal InterpretML's `PartialDependence`,
the row picker names each row, bad input is refused with a typed error, and `train-ebm` →
`report explain` works end to end on a real MLflow sqlite store (through the verbs' own parsers:
`mlworkbench report` and `train-ebm` are wired in report.py and cli.py).
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

from mlworkbench.commands.report_explain import EXPLAIN
from mlworkbench.commands.train_ebm import COMMAND as TRAIN_EBM
from mlworkbench.reports.explain_report import SAMPLE_SEED, explain_report
from mlworkbench.reports.report_data import LoadedData
from mlworkbench.reports.report_errors import ColumnNotFoundError, InvalidReportInputError
from mlworkbench.reports.report_model import ReportModel

pytestmark = pytest.mark.usefixtures("no_tracking_env")

# Small, quick EBMs: the report reads whatever the model holds, the settings do not matter.
FAST_EBM: dict[str, Any] = {
    "outer_bags": 2,
    "learning_rate": 0.1,
    "max_rounds": 300,
    "max_bins": 64,
    "max_interaction_bins": 16,
    "smoothing_rounds": 10,
    "interaction_smoothing_rounds": 10,
    "n_jobs": 1,
    "random_state": 0,
}


def loaded(frame: pd.DataFrame) -> LoadedData:
    return LoadedData(
        frame, {"path": "data.csv", "sha256": "0" * 64, "rows": len(frame), "columns": 0}
    )


def report_model(estimator: Any, features: list[str] | None) -> ReportModel:
    return ReportModel("models:/m", "/m", "m", None, "sklearn", estimator, features)


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    """Breast cancer: six numeric features, a text one, and the 0/1 label `malignant`."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.iloc[:, :6].copy()
    frame.columns = [c.replace("mean ", "") for c in frame.columns]
    frame["size"] = np.where(frame["area"] > 700, "large", "small")
    frame["malignant"] = 1 - bunch.target
    return frame


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True)
    return bunch.data.assign(progression=bunch.target)


@pytest.fixture(scope="module")
def ebm_binary(cancer: pd.DataFrame) -> Any:
    from interpret.glassbox import ExplainableBoostingClassifier

    x = cancer.drop(columns="malignant")
    return ExplainableBoostingClassifier(interactions=2, **FAST_EBM).fit(x, cancer["malignant"])


NUMERIC = ["radius", "texture", "perimeter", "area", "smoothness", "compactness"]


# --- EBM ------------------------------------------------------------------------------------


def test_ebm_global_numbers_are_interprets(cancer: pd.DataFrame, ebm_binary: Any) -> None:
    features = list(ebm_binary.feature_names_in_)
    document = explain_report(loaded(cancer), report_model(ebm_binary, features), "malignant")
    json.dumps(document, allow_nan=False)
    details = document["details"]
    assert details["explainer"] == "ebm" and details["task"] == "classification"
    expected = ebm_binary.explain_global()
    assert details["importance"]["names"] == list(expected.data()["names"])
    assert details["importance"]["scores"] == pytest.approx(expected.data()["scores"], abs=0)
    assert details["importance"]["scores"] == pytest.approx(ebm_binary.term_importances(), abs=0)
    kinds = {term["type"] for term in details["terms"]}
    assert kinds == {"univariate", "interaction"}
    for index, term in enumerate(details["terms"]):
        theirs = expected.data(index)
        assert np.array_equal(np.asarray(term["scores"]), np.asarray(theirs["scores"]))
        if term["type"] == "interaction":
            assert term["leftNames"] == pytest.approx(list(theirs["left_names"]), abs=0)
            assert term["rightNames"] == pytest.approx(list(theirs["right_names"]), abs=0)
        else:
            assert list(term["names"]) == list(theirs["names"])
            assert term["upperBounds"] == pytest.approx(list(theirs["upper_bounds"]), abs=0)
            assert term["lowerBounds"] == pytest.approx(list(theirs["lower_bounds"]), abs=0)

    sections = {section["id"]: section for section in document["sections"]}
    assert list(sections) == ["importance", "shapes", "local"]
    importance = sections["importance"]
    ranked = [float(row["importance"] or 0) for row in importance["table"]["rows"]]
    assert ranked == sorted(ranked, reverse=True)
    assert importance["chart"]["mark"] == "bar"
    assert "url" not in json.dumps(importance["chart"]["data"])
    options = sections["shapes"]["choice"]["options"]
    assert [option["label"] for option in options] == details["importance"]["names"]
    marks = {
        option["label"]: option["chart"].get("mark") or option["chart"]["layer"][-1]["mark"]
        for option in options
    }
    assert marks["size"] == "bar"  # a categorical term
    assert marks["radius"]["interpolate"] == "step-after"
    interaction = next(t["name"] for t in details["terms"] if t["type"] == "interaction")
    assert marks[interaction] == "rect"
    # A step chart of a continuous term: every bin's score from its left edge, then the last edge.
    # Columnar data that Vega-Lite flattens into points: a step chart of a continuous term has
    # every bin's score from its left edge, and the last score again at the last edge.
    radius = next(option for option in options if option["label"] == "radius")["chart"]
    assert radius["transform"] == [{"flatten": ["x", "order", "score", "lower", "upper"]}]
    (series,) = radius["data"]["values"]
    assert series["x"] == details["terms"][0]["names"]
    assert series["score"] == [*details["terms"][0]["scores"], details["terms"][0]["scores"][-1]]


def test_ebm_local_explanations_are_interprets(cancer: pd.DataFrame, ebm_binary: Any) -> None:
    features = list(ebm_binary.feature_names_in_)
    document = explain_report(
        loaded(cancer), report_model(ebm_binary, features), "malignant", rows=[3, 17, 42, 17]
    )
    rows = document["details"]["rows"]
    assert [row["row"] for row in rows] == [3, 17, 42]  # de-duplicated, in the order given
    x = cancer[features]
    theirs = ebm_binary.explain_local(x.iloc[[3, 17, 42]])
    predicted = ebm_binary.predict(x.iloc[[3, 17, 42]])
    logits = ebm_binary.decision_function(x.iloc[[3, 17, 42]])
    for position, row in enumerate(rows):
        data = theirs.data(position)
        assert row["names"] == list(data["names"])
        assert row["scores"] == pytest.approx(list(data["scores"]), abs=0)
        assert row["intercept"] == data["extra"]["scores"][0]
        assert row["values"] == [v if isinstance(v, str) else float(v) for v in data["values"]]
        assert row["predicted"] == predicted[position]
        assert row["actual"] == cancer["malignant"].iloc[row["row"]]
        assert row["intercept"] + sum(row["scores"]) == pytest.approx(logits[position])

    picker = next(s for s in document["sections"] if s["id"] == "local")["choice"]
    assert picker["label"] == "Row"
    labels = [option["label"] for option in picker["options"]]
    assert labels[1] == (
        f"Row 17 (predicted {predicted[1]}, actual {cancer['malignant'].iloc[17]})"
    )
    option = picker["options"][0]
    assert option["id"] == "row-3"
    table_rows = option["table"]["rows"]
    assert table_rows[-1]["term"] == "(intercept)"
    contributions = [abs(float(r["contribution"] or 0)) for r in table_rows[:-1]]
    assert contributions == sorted(contributions, reverse=True)
    assert option["chart"]["mark"] == "bar"


def test_default_rows_are_the_first_ten(cancer: pd.DataFrame, ebm_binary: Any) -> None:
    features = list(ebm_binary.feature_names_in_)
    document = explain_report(loaded(cancer), report_model(ebm_binary, features), "malignant")
    assert [row["row"] for row in document["details"]["rows"]] == list(range(10))
    assert document["summary"][3] == {"label": "Rows explained", "value": 10}


def test_ebm_regression_and_multiclass() -> None:
    from interpret.glassbox import ExplainableBoostingClassifier, ExplainableBoostingRegressor
    from sklearn.datasets import load_diabetes, load_iris

    bunch = load_diabetes(as_frame=True)
    regressor = ExplainableBoostingRegressor(interactions=0, **FAST_EBM)
    regressor.fit(bunch.data, bunch.target)
    frame = bunch.data.assign(progression=bunch.target)
    document = explain_report(
        loaded(frame), report_model(regressor, list(bunch.data.columns)), "progression", rows=[5]
    )
    row = document["details"]["rows"][0]
    assert document["details"]["task"] == "regression"
    prediction = regressor.predict(bunch.data.iloc[[5]])[0]
    assert row["intercept"] + sum(row["scores"]) == pytest.approx(prediction)
    assert document["sections"][2]["choice"]["options"][0]["label"] == (
        f"Row 5 (predicted {prediction:.4g}, actual {bunch.target.iloc[5]:.4g})"
    )

    iris = load_iris(as_frame=True)
    species = iris.target.map({0: "setosa", 1: "versicolor", 2: "virginica"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "cannot visualize pairs" of multiclass
        classifier = ExplainableBoostingClassifier(interactions=1, **FAST_EBM)
        classifier.fit(iris.data, species)
    frame = iris.data.assign(species=species)
    document = explain_report(
        loaded(frame), report_model(classifier, list(iris.data.columns)), "species", rows=[0, 120]
    )
    json.dumps(document, allow_nan=False)
    details = document["details"]
    assert details["classes"] == ["setosa", "versicolor", "virginica"]
    assert (
        len(details["droppedTerms"]) == 1 and details["droppedTerms"][0] in document["warnings"][0]
    )
    theirs = classifier.explain_local(iris.data.iloc[[0, 120]])
    for position, row in enumerate(details["rows"]):
        assert np.array_equal(
            np.asarray(row["scores"]), np.asarray(theirs.data(position)["scores"])
        )
    labels = [o["label"] for o in document["sections"][2]["choice"]["options"]]
    assert labels == [
        "Row 0 (predicted setosa, actual setosa)",
        "Row 120 (predicted virginica, actual virginica)",
    ]


# --- black box ------------------------------------------------------------------------------


def interpret_pdp(estimator: Any, background: pd.DataFrame) -> Any:
    from interpret.blackbox import PartialDependence

    return PartialDependence(estimator, background).explain_global()


def test_black_box_classifier_numbers_are_interprets(cancer: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = cancer[[*NUMERIC, "malignant"]]
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(frame[NUMERIC], frame["malignant"])
    document = explain_report(
        loaded(frame), report_model(model, NUMERIC), "malignant", rows=[0, 7], sample=300
    )
    json.dumps(document, allow_nan=False)
    details = document["details"]
    assert details["explainer"] == "partial-dependence"
    assert details["sample"] == {"rows": 300, "of": len(frame), "seed": SAMPLE_SEED}
    assert "random sample of 300" in document["warnings"][0]

    chosen = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(frame), 300, replace=False))
    background = frame[NUMERIC].iloc[chosen]
    theirs = interpret_pdp(model, background)
    values = background.to_numpy(dtype=np.float64)
    centres = []
    for index, term in enumerate(details["terms"]):
        data = theirs.data(index)
        assert term["names"] == pytest.approx(list(data["names"]), abs=0)
        assert term["scores"] == pytest.approx(list(data["scores"]), abs=0)
        curve = np.interp(values[:, index], data["names"], data["scores"])
        centres.append(curve.mean())
        assert term["centre"] == pytest.approx(curve.mean(), abs=1e-12)
        importance = details["importance"]["scores"][index]
        assert importance == pytest.approx(np.abs(curve - curve.mean()).mean(), abs=1e-12)

    probabilities = model.predict_proba(frame[NUMERIC])[:, 1]
    for row in details["rows"]:
        x = frame[NUMERIC].iloc[row["row"]].to_numpy(dtype=np.float64)
        expected = [
            np.interp(x[j], theirs.data(j)["names"], theirs.data(j)["scores"]) - centres[j]
            for j in range(len(NUMERIC))
        ]
        assert row["scores"] == pytest.approx(expected, abs=1e-12)
        assert row["prediction"] == pytest.approx(probabilities[row["row"]])
        assert row["intercept"] + sum(row["scores"]) + row["remainder"] == pytest.approx(
            row["prediction"]
        )
    section_ids = [section["id"] for section in document["sections"]]
    assert section_ids == ["importance", "partial-dependence", "local"]
    option = document["sections"][2]["choice"]["options"][1]
    assert option["label"].startswith("Row 7 (predicted ")
    assert [r["term"] for r in option["table"]["rows"][-2:]] == [
        "(mean prediction)",
        "(interactions and the rest)",
    ]


def test_black_box_regressor_numbers_are_interprets(diabetes: pd.DataFrame) -> None:
    from sklearn.ensemble import RandomForestRegressor

    features = ["age", "bmi", "bp", "s1", "s5"]
    frame = diabetes.iloc[:200]
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0)
    model.fit(frame[features], frame["progression"])
    document = explain_report(loaded(frame), report_model(model, features), "progression", rows=[3])
    details = document["details"]
    assert details["task"] == "regression" and details["sample"] is None
    assert document["warnings"] == []
    theirs = interpret_pdp(model, frame[features])
    for index, term in enumerate(details["terms"]):
        assert term["scores"] == pytest.approx(list(theirs.data(index)["scores"]), abs=0)
    row = details["rows"][0]
    assert row["prediction"] == pytest.approx(model.predict(frame[features].iloc[[3]])[0])

    # A pyfunc model only predicts: InterpretML gets its predict function, the numbers agree.
    pyfunc = ReportModel("runs:/r/model", "/m", "model", None, "pyfunc", model, features)
    through_pyfunc = explain_report(loaded(frame), pyfunc, "progression", rows=[3])
    assert through_pyfunc["details"]["terms"] == details["terms"]
    assert through_pyfunc["details"]["rows"] == details["rows"]


# --- bad input ------------------------------------------------------------------------------


def test_bad_input_is_refused(cancer: pd.DataFrame, ebm_binary: Any) -> None:
    from sklearn.linear_model import LinearRegression, RidgeClassifier
    from sklearn.tree import DecisionTreeClassifier

    features = list(ebm_binary.feature_names_in_)
    model = report_model(ebm_binary, features)
    data = loaded(cancer)
    with pytest.raises(InvalidReportInputError, match="row 569 is out of range") as error:
        explain_report(data, model, "malignant", rows=[3, 569])
    assert error.value.field == "rows"
    with pytest.raises(InvalidReportInputError, match="at most 20") as error:
        explain_report(data, model, "malignant", rows=list(range(21)))
    with pytest.raises(ColumnNotFoundError, match="did you mean 'malignant'"):
        explain_report(data, model, "malignent")
    with pytest.raises(InvalidReportInputError, match="lacks: 'radius'") as error:
        explain_report(loaded(cancer.drop(columns="radius")), model, "malignant")
    assert error.value.field == "data"
    # A regression target for a classifier, a text target for a regressor.
    with pytest.raises(InvalidReportInputError, match="regression target") as error:
        explain_report(data, model, "area")
    assert error.value.field == "target"
    numeric = cancer[[*NUMERIC, "malignant"]]
    regressor = LinearRegression().fit(numeric[NUMERIC[1:]], numeric["radius"])
    with pytest.raises(InvalidReportInputError, match="not numeric") as error:
        explain_report(loaded(cancer), report_model(regressor, NUMERIC[1:]), "size")
    assert error.value.field == "target"
    # No predict_proba; more than two classes; text features: what partial dependence cannot do.
    ridge = RidgeClassifier().fit(numeric[NUMERIC], numeric["malignant"])
    with pytest.raises(InvalidReportInputError, match="no predict_proba") as error:
        explain_report(loaded(numeric), report_model(ridge, NUMERIC), "malignant")
    assert error.value.field == "model"
    three = numeric.assign(grade=pd.qcut(numeric["radius"], 3, labels=False))
    multiclass = DecisionTreeClassifier(max_depth=3).fit(three[NUMERIC[1:]], three["grade"])
    with pytest.raises(InvalidReportInputError, match="3 classes") as error:
        explain_report(loaded(three), report_model(multiclass, NUMERIC[1:]), "grade")
    assert error.value.field == "model"
    pyfunc = ReportModel("runs:/r/model", "/m", "model", None, "pyfunc", ridge, NUMERIC)
    with pytest.raises(InvalidReportInputError, match="no predict_proba") as error:
        explain_report(loaded(numeric), pyfunc, "malignant")
    with pytest.raises(InvalidReportInputError, match="'size' is not") as error:
        explain_report(loaded(cancer), report_model(ridge, None), "malignant")
    assert error.value.field == "data"


def test_cli_arguments() -> None:
    parser = argparse.ArgumentParser()
    EXPLAIN.configure(parser)
    args = parser.parse_args(["--run", "r", "--data", "d.csv", "--target", "y", "--rows", "3, 17"])
    assert args.rows == [3, 17] and args.sample == 10_000 and args.model is None
    for bad in (["--rows", "3,x"], ["--rows", ","], ["--sample", "5"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["--data", "d.csv", "--target", "y", *bad])


# --- train-ebm → report explain, end to end -------------------------------------------------


@pytest.mark.slow
def test_train_ebm_then_explain_through_the_cli(
    tmp_path: Path, cancer: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import Model

    cancer.iloc[:300].to_csv(tmp_path / "data.csv", index=False)
    parser = argparse.ArgumentParser()
    TRAIN_EBM.configure(parser)
    # Four features and one pair: each term is a chart the report's HTML export draws.
    args = parser.parse_args(
        [
            *("--data", "data.csv", "--target", "malignant", "--workspace", str(tmp_path)),
            *("--features", "radius,texture,area,size", "--interactions", "1", "--json"),
        ]
    )
    capsys.readouterr()
    assert TRAIN_EBM.run(args) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["task"] == "classification" and trained["testRows"] == 60
    assert set(trained["metrics"]) == {"test_accuracy_score", "test_log_loss", "test_roc_auc"}

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        client = mlflow.MlflowClient()
        run = client.get_run(trained["runId"])
        assert run.data.tags["mlworkbench.script"] == "train-ebm"
        assert run.data.params["interactions"] == "1"
        assert run.data.metrics["test_accuracy_score"] > 0.8
        assert run.inputs is not None
        assert run.inputs.dataset_inputs[0].dataset.name == "data.csv"
        # skops, the EBM's class trusted by name, loaded back with every check on.
        flavor = Model.load(trained["modelUri"]).flavors["sklearn"]
        assert flavor["serialization_format"] == "skops"
        assert flavor["skops_trusted_types"] == [
            "interpret.glassbox._ebm._ebm.ExplainableBoostingClassifier"
        ]
        model = mlflow.sklearn.load_model(trained["modelUri"])
        assert list(model.feature_names_in_) == ["radius", "texture", "area", "size"]
        assert (model.predict(cancer.iloc[:100]) == cancer["malignant"][:100]).mean() > 0.8

        parser = argparse.ArgumentParser()
        EXPLAIN.configure(parser)
        args = parser.parse_args(
            [
                *("--run", trained["runId"], "--data", "data.csv", "--target", "malignant"),
                *("--rows", "3", "--workspace", str(tmp_path), "--json"),
                *("--out", str(tmp_path / "out")),
            ]
        )
        assert EXPLAIN.run(args) == 0
        payload = json.loads(capsys.readouterr().out)
        assert payload["artifactPath"] == "reports/explain.json"
        assert payload["runId"] == trained["runId"]
        document = payload["document"]
        assert document["details"]["explainer"] == "ebm"
        assert [row["row"] for row in document["details"]["rows"]] == [3]
        assert len(document["details"]["terms"]) == 5
        logged = {info.path for info in client.list_artifacts(trained["runId"], "reports")}
        assert "reports/explain.json" in logged
        # Vega accepted every chart (the HTML export draws them; a rejected spec is left out).
        page = (tmp_path / "out" / "explain.html").read_text(encoding="utf-8")
        assert page.count("<svg") == 7 and "Chart left out" not in page
    finally:
        mlflow.set_tracking_uri("")


def test_train_ebm_refuses_a_target_it_cannot_learn(tmp_path: Path, cancer: pd.DataFrame) -> None:
    from mlworkbench.reports.ebm_training import resolve_task, train_ebm

    assert resolve_task(cancer["malignant"], "auto") == "classification"
    assert resolve_task(cancer["area"], "auto") == "regression"
    assert resolve_task(cancer["size"], "auto") == "classification"
    with pytest.raises(InvalidReportInputError, match="not numeric") as error:
        train_ebm(loaded(cancer), "size", workspace=tmp_path, task="regression")
    assert error.value.field == "task"
    with pytest.raises(InvalidReportInputError, match="one value only"):
        train_ebm(loaded(cancer.assign(one=1)), "one", workspace=tmp_path)
    with pytest.raises(ColumnNotFoundError):
        train_ebm(loaded(cancer), "malignant", workspace=tmp_path, features=["radius", "nope"])
    assert not (tmp_path / "mlflow.db").exists()  # refused before any run was made
