"""What every report reads, checked before it is trusted: the data file, the model, the
columns; and what every report writes: HTML with nothing from the data unescaped, a model card.

One real MLflow sqlite store per module holds a run with a scikit-learn model (logged by
MLflow itself), a run with two models and a run with none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlworkbench.reports.report_data import load_table, require_columns
from mlworkbench.reports.report_document import new_document, number_column, table, text_column
from mlworkbench.reports.report_errors import (
    ColumnNotFoundError,
    InvalidReportInputError,
    ModelLoadError,
    ReportDataError,
)
from mlworkbench.reports.report_html import render_html

pytestmark = pytest.mark.usefixtures("no_tracking_env")

FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    workspace = tmp_path_factory.mktemp("inputs-ws")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=FEATURES)
    frame["label"] = (frame["a"] + frame["b"] > 0).astype(int)
    frame["sex"] = np.where(rng.random(200) < 0.5, "F", "M")
    frame.to_csv(workspace / "data.csv", index=False)
    mlflow.set_tracking_uri(f"sqlite:///{workspace / 'mlflow.db'}")
    mlflow.set_experiment("inputs")
    ids = {}
    with mlflow.start_run(run_name="one-model") as run:
        mlflow.sklearn.log_model(
            LogisticRegression().fit(frame[FEATURES], frame["label"]), name="m"
        )
        ids["one"] = run.info.run_id
    with mlflow.start_run(run_name="two-models") as run:
        model = LogisticRegression().fit(frame[FEATURES], frame["label"])
        mlflow.sklearn.log_model(model, name="first")
        mlflow.sklearn.log_model(LinearSVC().fit(frame[FEATURES], frame["label"]), name="svm")
        ids["two"] = run.info.run_id
    with mlflow.start_run(run_name="no-model") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_metric("accuracy", 0.875)
        ids["none"] = run.info.run_id
    # `mlflow server --default-artifact-root file:///…` makes experiments with file:// locations.
    file_uri = mlflow.create_experiment(
        "file-uri", artifact_location=(workspace / "file-artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=file_uri, run_name="file-uri-model") as run:
        mlflow.sklearn.log_model(
            LogisticRegression().fit(frame[FEATURES], frame["label"]), name="m"
        )
        ids["file_uri"] = run.info.run_id
    mlflow.set_tracking_uri("")
    return {"workspace": workspace, "ids": ids, "frame": frame}


# --- the data file ------------------------------------------------------------------------


def test_a_csv_is_read_with_its_hash_and_shape(store: dict[str, Any]) -> None:
    workspace = store["workspace"]
    loaded = load_table("data.csv", workspace=workspace)
    assert loaded.source["path"] == "data.csv"
    assert loaded.source["rows"] == 200 and loaded.source["columns"] == 5
    import hashlib

    assert (
        loaded.source["sha256"] == hashlib.sha256((workspace / "data.csv").read_bytes()).hexdigest()
    )


def test_parquet_reads_the_same_rows(store: dict[str, Any], tmp_path: Path) -> None:
    store["frame"].to_parquet(tmp_path / "data.parquet")
    loaded = load_table(tmp_path / "data.parquet")
    assert loaded.frame.equals(store["frame"])


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.csv", None, "no such file"),
        ("data.txt", "a,b\n1,2\n", "expected a .csv or .parquet file"),
        ("empty.csv", "a,b\n", "it has no rows"),
        ("bad.parquet", "not parquet", "does not parse as parquet"),
        ("ragged.csv", 'a,b\n1,2\n"3,4\n', "does not parse as csv"),
    ],
)
def test_a_bad_data_file_is_refused_with_the_reason(
    tmp_path: Path, name: str, content: str | None, reason: str
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(ReportDataError, match=reason):
        load_table(name, workspace=tmp_path)


def test_a_file_past_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:  # sparse: 3 GiB on disk costs nothing, reading it would
        handle.truncate(3 * 2**30)
    with pytest.raises(ReportDataError, match="3,072 MiB, past the 512 MiB limit"):
        load_table(big)


def test_a_misspelled_column_names_the_closest(store: dict[str, Any]) -> None:
    with pytest.raises(ColumnNotFoundError) as error:
        require_columns(store["frame"], ["label", "sexx"], "sensitive feature")
    assert error.value.suggestion == "sex"
    assert "did you mean 'sex'?" in error.value.message
    with pytest.raises(ColumnNotFoundError, match="the columns are 'a', 'b'"):
        require_columns(store["frame"], ["zzzzzz"], "target")


# --- the model ----------------------------------------------------------------------------


def test_a_runs_one_model_is_loaded_as_the_estimator(store: dict[str, Any]) -> None:
    from mlworkbench.reports.report_model import load_report_model

    model = load_report_model(store["workspace"], run_id=store["ids"]["one"])
    assert model.flavor == "sklearn" and model.has_proba
    assert model.features == FEATURES
    inputs = model.features_of(store["frame"], exclude=["label"])
    assert list(inputs.columns) == FEATURES
    assert model.predict(inputs).shape == (200,)
    assert model.predict_proba(inputs).shape == (200, 2)


def test_a_model_under_a_file_uri_artifact_location_is_loaded(store: dict[str, Any]) -> None:
    from mlworkbench.reports.report_model import load_report_model

    model = load_report_model(store["workspace"], run_id=store["ids"]["file_uri"])
    assert model.flavor == "sklearn" and model.features == FEATURES
    assert Path(model.source).is_dir()
    assert model.predict(model.features_of(store["frame"], exclude=["label"])).shape == (200,)


def test_several_models_need_a_choice_and_a_label_picks_one(store: dict[str, Any]) -> None:
    from mlworkbench.reports.report_model import load_report_model

    with pytest.raises(ModelLoadError, match=r"several models \(first, svm\); pick one"):
        load_report_model(store["workspace"], run_id=store["ids"]["two"])
    svm = load_report_model(store["workspace"], run_id=store["ids"]["two"], model="svm")
    assert not svm.has_proba
    with pytest.raises(InvalidReportInputError, match="has no predict_proba"):
        svm.predict_proba(store["frame"][FEATURES])
    with pytest.raises(ModelLoadError, match=r"has no such model \(it has: first, svm\)"):
        load_report_model(store["workspace"], run_id=store["ids"]["two"], model="nope")


def test_a_run_without_a_model_says_how_to_log_one(store: dict[str, Any]) -> None:
    from mlworkbench.reports.report_model import load_report_model

    with pytest.raises(ModelLoadError, match="the run logged no model"):
        load_report_model(store["workspace"], run_id=store["ids"]["none"])
    with pytest.raises(ModelLoadError, match="no MLmodel file"):
        load_report_model(store["workspace"], model="no/such/folder")


def test_data_without_the_models_features_names_them(store: dict[str, Any]) -> None:
    from mlworkbench.reports.report_model import load_report_model

    model = load_report_model(store["workspace"], run_id=store["ids"]["one"])
    with pytest.raises(InvalidReportInputError, match="lacks: 'c'"):
        model.features_of(store["frame"].drop(columns=["c"]), exclude=["label"])


# --- what reports write -------------------------------------------------------------------


def test_html_escapes_the_datas_text_and_holds_no_script() -> None:
    document = new_document("fairness", 'Report "<img src=x onerror=alert(1)>"')
    document["summary"] = [{"label": "<b>acc</b>", "value": 0.5}]
    document["warnings"] = ["group <script>x</script> is small"]
    rows = [{"group": "<script>alert(1)</script>", "v": 0.25}, {"group": "a&b", "v": None}]
    columns = [text_column("group", "Group"), number_column("v", "Value")]
    chart = {
        "data": {"values": [{"group": "<script>alert(2)</script>", "v": 1}]},
        "mark": "bar",
        "encoding": {
            "x": {"field": "group", "type": "nominal"},
            "y": {"field": "v", "type": "quantitative"},
        },
    }
    document["sections"] = [
        {"id": "s", "title": "<i>t</i>", "table": table(columns, rows), "chart": chart}
    ]
    html = render_html(document)
    assert "<script" not in html.lower()
    assert "onerror=" not in html.replace("onerror=alert(1)&gt;", "")  # only as escaped text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&amp;b" in html and "<svg" in html  # the chart is inline SVG
    assert "default-src 'none'" in html


def test_a_table_past_the_row_limit_keeps_every_flagged_row() -> None:
    rows = [{"g": str(i)} for i in range(1200)]
    flags = ["" if i % 400 else "small" for i in range(1200)]
    cut = table([text_column("g", "G")], rows, flags)
    assert cut["totalRows"] == 1200 and len(cut["rows"]) == 500
    assert [r["g"] for r, f in zip(cut["rows"], cut["flags"], strict=True) if f] == [
        "0",
        "400",
        "800",
    ]
    json.dumps(cut, allow_nan=False)


def test_the_model_card_gathers_the_run_and_keeps_the_intended_use(store: dict[str, Any]) -> None:
    from mlworkbench.reports.model_card import card_markdown, model_card

    workspace, run_id = store["workspace"], store["ids"]["none"]
    card = model_card(workspace, run_id, intended_use="Scoring | ranking; not for <hiring>.")
    sections = {s["id"]: s for s in card["sections"]}
    assert sections["intended-use"]["description"] == "Scoring | ranking; not for <hiring>."
    assert sections["params"]["table"]["rows"] == [{"name": "lr", "value": "0.1"}]
    assert sections["metrics"]["table"]["rows"] == [{"name": "accuracy", "value": 0.875}]
    assert "No fairness report yet" in " ".join(card["warnings"])
    again = model_card(workspace, run_id)  # the text stays with the run
    assert again["details"]["intendedUse"] == "Scoring | ranking; not for <hiring>."
    markdown = card_markdown(again)
    assert "| lr | 0.1 |" in markdown
    with pytest.raises(InvalidReportInputError, match="keep it under"):
        model_card(workspace, run_id, intended_use="x" * 6000)
