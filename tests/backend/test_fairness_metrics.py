"""The group metrics equal Fairlearn's MetricFrame with scikit-learn's metric functions, number
by number: on random data with small groups, missing sensitive values, a group with no positive
predictions and one with no positive labels, multi-valued and intersectional sensitive features,
and for regression. Then the inputs the metrics refuse, with messages a user can act on.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlworkbench.reports.fairness_metrics import (
    INTERSECTION,
    MISSING,
    FairnessMetrics,
    GroupMetrics,
    compute_fairness_metrics,
)
from mlworkbench.reports.report_errors import InvalidReportInputError

TOLERANCE = 1e-9
CLASSIFICATION = [
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "false_positive_rate",
    "false_negative_rate",
    "selection_rate",
]
REGRESSION = ["mean_absolute_error", "root_mean_squared_error", "r2"]


def classification_functions() -> dict[str, Any]:
    import sklearn.metrics as skm
    from fairlearn.metrics import (
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
    )

    return {
        "count": count,
        "accuracy": skm.accuracy_score,
        "balanced_accuracy": skm.balanced_accuracy_score,
        "precision": skm.precision_score,
        "recall": skm.recall_score,
        "false_positive_rate": false_positive_rate,
        "false_negative_rate": false_negative_rate,
        "selection_rate": selection_rate,
    }


def fairlearn_reference(
    truth: np.ndarray,
    predicted: np.ndarray,
    sensitive: pd.DataFrame | pd.Series,
    parity: bool = True,
) -> dict[str, Any]:
    """What a Fairlearn user gets: MetricFrame with scikit-learn's metrics, DP and EO."""
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = MetricFrame(
            metrics=classification_functions(),
            y_true=truth,
            y_pred=predicted,
            sensitive_features=sensitive,
        )
        if not parity:
            return {"frame": frame}
        kwargs = {"sensitive_features": sensitive}
        return {
            "frame": frame,
            "demographic_parity_difference": demographic_parity_difference(
                truth, predicted, **kwargs
            ),
            "demographic_parity_ratio": demographic_parity_ratio(truth, predicted, **kwargs),
            "equalized_odds_difference": equalized_odds_difference(truth, predicted, **kwargs),
            "equalized_odds_ratio": equalized_odds_ratio(truth, predicted, **kwargs),
        }


def assert_same(ours: GroupMetrics, reference: dict[str, Any], metrics: list[str]) -> None:
    frame = reference["frame"]
    # Same index (values, order, names) as MetricFrame's, empty combinations included.
    assert list(ours.by_group.index) == list(frame.by_group.index)
    assert list(ours.by_group.index.names) == list(frame.by_group.index.names)
    np.testing.assert_allclose(
        ours.by_group[metrics].to_numpy(dtype=float),
        frame.by_group[metrics].to_numpy(dtype=float),
        rtol=0,
        atol=TOLERANCE,
        equal_nan=True,
    )
    np.testing.assert_allclose(
        ours.overall[metrics].to_numpy(dtype=float),
        frame.overall[metrics].to_numpy(dtype=float),
        rtol=0,
        atol=TOLERANCE,
    )
    rates = [m for m in metrics if m != "count"]
    for ours_values, theirs in (
        (ours.difference(), frame.difference()),
        (ours.ratio(), frame.ratio()),
        (ours.group_min(), frame.group_min()),
        (ours.group_max(), frame.group_max()),
    ):
        np.testing.assert_allclose(
            ours_values[rates].to_numpy(dtype=float),
            theirs[rates].to_numpy(dtype=float),
            rtol=0,
            atol=TOLERANCE,
            equal_nan=True,
        )
    for name, value in ours.parity.items():
        if name not in reference:
            continue
        assert value == pytest.approx(reference[name], abs=TOLERANCE, nan_ok=True), name


def awkward_data(seed: int, rows: int = 2000) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Random labels and predictions with the edge cases placed on purpose.

    Group "race=tiny" has 7 rows; "race=none-predicted" is never predicted positive (precision
    undefined); "race=all-negative" has no positive labels (recall undefined, TPR 0); `region`
    has missing values and a lone row; and some sex-race combinations are empty.
    """
    rng = np.random.default_rng(seed)
    truth = (rng.random(rows) < 0.35 + 0.1 * seed % 3).astype(np.int64)
    predicted = np.where(rng.random(rows) < 0.75, truth, 1 - truth)
    race = rng.choice(["a", "b", "c", "d"], size=rows, p=[0.5, 0.3, 0.15, 0.05]).astype(object)
    race[:7] = "tiny"
    race[7:60] = "none-predicted"
    predicted[7:60] = 0
    race[60:100] = "all-negative"
    truth[60:100] = 0
    sex = np.where(rng.random(rows) < 0.5, "F", "M").astype(object)
    sex[:7] = "F"  # "M, tiny" is an empty combination
    region = rng.choice([1.0, 2.0, 3.0], size=rows)
    region[rng.random(rows) < 0.05] = np.nan
    region[100] = 4.0
    sensitive = pd.DataFrame({"race": race, "sex": sex, "region": region})
    return truth, predicted, sensitive


def filled(sensitive: pd.DataFrame) -> pd.DataFrame:
    """The sensitive features as a Fairlearn user must pass them: no missing values."""
    out = sensitive.copy()
    for column in out.columns:
        if out[column].isna().any():
            out[column] = out[column].astype(object).where(out[column].notna(), MISSING)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_number_equals_fairlearns(seed: int) -> None:
    truth, predicted, sensitive = awkward_data(seed)
    ours = compute_fairness_metrics(truth, predicted, sensitive)
    assert [g.name for g in ours.groupings] == ["race", "sex", "region", INTERSECTION]
    reference_input = filled(sensitive)
    for column in ["race", "sex"]:
        reference = fairlearn_reference(
            truth, predicted, reference_input[column], parity=column == "race"
        )
        assert_same(ours.grouping(column), reference, ["count", *CLASSIFICATION])
    together = fairlearn_reference(truth, predicted, reference_input[["race", "sex"]])
    two = compute_fairness_metrics(truth, predicted, sensitive[["race", "sex"]])
    assert_same(two.headline, together, ["count", *CLASSIFICATION])
    assert two.empty_combinations == 1  # "M, tiny"


def test_a_missing_value_is_a_group_of_its_own_counted_and_never_dropped() -> None:
    truth, predicted, sensitive = awkward_data(0)
    ours = compute_fairness_metrics(truth, predicted, sensitive[["region"]])
    region = ours.grouping("region")
    missing = int(sensitive["region"].isna().sum())
    assert ours.missing == {"region": missing}
    assert region.labels == ["1", "2", "3", "4", MISSING]
    assert region.table.loc[MISSING, "count"] == missing
    assert int(region.table["count"].sum()) == len(truth)
    # Against Fairlearn on the same groups, with the missing values named for it: numeric
    # values and the "(missing)" text side by side, so compare by label.
    reference = fairlearn_reference(truth, predicted, filled(sensitive)["region"], parity=False)[
        "frame"
    ]
    for level, row in reference.by_group.iterrows():
        np.testing.assert_allclose(
            region.table.loc[level, CLASSIFICATION].to_numpy(dtype=float),
            row[CLASSIFICATION].to_numpy(dtype=float),
            atol=TOLERANCE,
        )


def test_undefined_metrics_are_named_where_scikit_learn_warns() -> None:
    import sklearn.metrics as skm
    from sklearn.exceptions import UndefinedMetricWarning

    truth, predicted, sensitive = awkward_data(1)
    race = compute_fairness_metrics(truth, predicted, sensitive[["race"]]).grouping("race")
    warned: dict[str, list[str]] = {"precision": [], "recall": []}
    for label in race.labels:
        rows = (sensitive["race"] == label).to_numpy()
        for metric, function in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
        ):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                value = function(truth[rows], predicted[rows])
            if any(issubclass(w.category, UndefinedMetricWarning) for w in caught):
                warned[metric].append(label)
                assert race.table.loc[label, metric] == value == 0.0
    assert race.undefined == {k: v for k, v in warned.items() if v}
    assert race.undefined["precision"] == ["none-predicted"]
    assert race.undefined["recall"] == ["all-negative"]


def test_string_labels_with_a_positive_class() -> None:
    truth, predicted, sensitive = awkward_data(2, rows=1000)
    words = np.array(["reject", "approve"], dtype=object)
    ours = compute_fairness_metrics(
        words[truth], words[predicted], sensitive[["sex"]], pos_label="approve"
    )
    assert ours.pos_label == "approve"
    reference = fairlearn_reference(truth, predicted, sensitive["sex"])
    assert_same(ours.headline, reference, ["count", *CLASSIFICATION])


def test_a_positive_label_given_as_text_matches_integer_labels() -> None:
    truth, predicted, sensitive = awkward_data(0, rows=500)
    as_text = compute_fairness_metrics(truth * 2, predicted * 2, sensitive[["sex"]], pos_label="2")
    assert as_text.pos_label == 2
    plain = compute_fairness_metrics(truth, predicted, sensitive[["sex"]])
    pd.testing.assert_frame_equal(as_text.headline.table, plain.headline.table)


def test_a_multiclass_target_with_a_positive_class_is_one_against_the_rest() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 600)
    predicted = np.where(rng.random(600) < 0.7, truth, rng.integers(0, 3, 600))
    sensitive = pd.DataFrame({"g": rng.choice(["x", "y"], 600)})
    ours = compute_fairness_metrics(truth, predicted, sensitive, pos_label=2)
    reference = fairlearn_reference(
        (truth == 2).astype(int), (predicted == 2).astype(int), sensitive["g"]
    )
    assert_same(ours.headline, reference, ["count", *CLASSIFICATION])


def test_regression_metrics_equal_scikit_learns() -> None:
    import sklearn.metrics as skm
    from fairlearn.metrics import MetricFrame

    rng = np.random.default_rng(5)
    rows = 2000
    truth = rng.normal(50, 10, rows)
    predicted = truth + rng.normal(0, 4, rows)
    group = rng.choice(["a", "b", "c"], rows).astype(object)
    group[:5] = "constant"  # a constant target: r2_score's force_finite answers
    truth[:5] = 3.0
    predicted[:5] = [3.0, 4.0, 3.0, 3.0, 2.0]
    group[5] = "single"  # one row: R² is undefined (NaN, with a warning)
    sensitive = pd.DataFrame({"group": group})
    ours = compute_fairness_metrics(truth, predicted, sensitive, task="regression")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = MetricFrame(
            metrics={
                "mean_absolute_error": skm.mean_absolute_error,
                "root_mean_squared_error": skm.root_mean_squared_error,
                "r2": skm.r2_score,
            },
            y_true=truth,
            y_pred=predicted,
            sensitive_features=sensitive["group"],
        )
    headline = ours.headline
    assert list(headline.by_group.index) == list(frame.by_group.index)
    np.testing.assert_allclose(
        headline.by_group[REGRESSION].to_numpy(dtype=float),
        frame.by_group[REGRESSION].to_numpy(dtype=float),
        rtol=1e-12,
        atol=TOLERANCE,
        equal_nan=True,
    )
    np.testing.assert_allclose(
        headline.overall[REGRESSION].to_numpy(dtype=float),
        frame.overall[REGRESSION].to_numpy(dtype=float),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        headline.difference()[REGRESSION].to_numpy(dtype=float),
        frame.difference()[REGRESSION].to_numpy(dtype=float),
        rtol=1e-12,
    )
    assert headline.table.loc["constant", "r2"] == 0.0
    assert np.isnan(headline.table.loc["single", "r2"])
    assert headline.undefined == {"r2": ["single"]}
    assert headline.parity == {}


def test_numeric_sensitive_values_keep_their_order() -> None:
    truth, predicted, _ = awkward_data(0, rows=400)
    ages = np.resize([10, 2, 33], 400)
    ours = compute_fairness_metrics(truth, predicted, pd.DataFrame({"age": ages}))
    assert ours.headline.labels == ["2", "10", "33"]


# --- what the metrics refuse ----------------------------------------------------------------


def _one(truth: Any, predicted: Any, **kwargs: Any) -> FairnessMetrics:
    sensitive = pd.DataFrame({"g": np.resize(["x", "y"], len(truth))})
    return compute_fairness_metrics(np.asarray(truth), np.asarray(predicted), sensitive, **kwargs)


def test_a_multiclass_target_says_which_values_and_what_to_do() -> None:
    with pytest.raises(InvalidReportInputError) as caught:
        _one([0, 1, 2, 1], [0, 1, 1, 2], target="grade")
    message = str(caught.value)
    assert "'grade' has 3 distinct values (0, 1, 2)" in message
    assert "--pos-label" in message and "regression" in message
    assert caught.value.field == "target"


def test_two_text_labels_need_a_positive_class() -> None:
    with pytest.raises(InvalidReportInputError, match=r"'no', 'yes'.*--pos-label"):
        _one(["yes", "no", "no", "yes"], ["yes", "yes", "no", "no"])


def test_a_positive_label_the_target_lacks_lists_the_values() -> None:
    with pytest.raises(InvalidReportInputError, match=r"--pos-label 'maybe'.*'no', 'yes'"):
        _one(["yes", "no"], ["yes", "no"], pos_label="maybe")


def test_missing_target_values_are_refused() -> None:
    with pytest.raises(InvalidReportInputError, match="1 missing values"):
        _one([0.0, 1.0, np.nan, 1.0], [0, 1, 1, 1])


def test_a_sensitive_feature_with_10000_values_asks_for_binning() -> None:
    rows = 10_000
    sensitive = pd.DataFrame({"customer_id": np.arange(rows)})
    with pytest.raises(InvalidReportInputError) as caught:
        compute_fairness_metrics(np.zeros(rows, int), np.zeros(rows, int), sensitive)
    message = str(caught.value)
    assert "'customer_id' has 10,000 distinct values" in message
    assert "100" in message and "bin" in message and "--max-groups" in message


def test_an_intersection_past_max_groups_is_refused() -> None:
    rng = np.random.default_rng(0)
    sensitive = pd.DataFrame({"a": rng.integers(0, 12, 5000), "b": rng.integers(0, 12, 5000)})
    labels = rng.integers(0, 2, 5000)
    with pytest.raises(
        InvalidReportInputError, match="intersection of a \N{MULTIPLICATION SIGN} b has 144 groups"
    ):
        compute_fairness_metrics(labels, labels, sensitive, max_groups=100)


def test_a_non_numeric_regression_target_is_refused() -> None:
    with pytest.raises(InvalidReportInputError, match="regression metrics need numbers"):
        _one(["a", "b"], [1.0, 2.0], task="regression")
