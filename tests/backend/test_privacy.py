"""Differential privacy end to end: the ledger (sums, refuses, never overspends under
concurrency), private queries (close to the truth at large epsilon, noise at OpenDP's stated
scale), MST synthetic data (same schema, close marginals, never overwrites), and the reports
logged under the ledger's runs.

One real MLflow sqlite store per module; each test writes its own copy of the data in another
row order, so each has its own data set (its own SHA-256) and its own ledger.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlworkbench.commands.privacy import COMMAND
from mlworkbench.privacy import privacy_ledger
from mlworkbench.privacy.dp_query import answer_query, plan_query
from mlworkbench.privacy.dp_synth import plan_synthesis, synthesize_mst
from mlworkbench.privacy.opendp_mechanisms import noisy_counts, noisy_sums
from mlworkbench.privacy.sql_subset import Aggregate, GroupKey, parse_query
from mlworkbench.privacy.synth_report import distribution, total_variation
from mlworkbench.reports.report_data import load_table
from mlworkbench.reports.report_document import DataSource
from mlworkbench.reports.report_errors import (
    ColumnNotFoundError,
    InvalidReportInputError,
    PrivacyBudgetError,
)

pytestmark = pytest.mark.usefixtures("no_tracking_env")

ROWS = 3000


def _people(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], rows, p=[0.45, 0.55])
    age = np.clip(rng.normal(40, 12, rows), 17, 90).astype(int)
    education = rng.choice(["school", "bachelor", "doctorate"], rows, p=[0.5, 0.4, 0.1])
    # Hours lean on sex, so the pair is worth a tree edge.
    hours = np.clip(rng.normal(36, 6, rows) + (sex == "male") * 10, 0, 99).round(1)
    return pd.DataFrame({"sex": sex, "age": age, "education": education, "hours": hours})


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose store exists already (made once: it takes seconds)."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("privacy-ws")
    MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return _people()


_copies = iter(range(1, 10_000))


def dataset(workspace: Path, frame: pd.DataFrame, name: str = "people.csv") -> Path:
    """`frame` in a new row order under a new folder: a data set of its own."""
    index = next(_copies)
    folder = workspace / f"set{index}"
    folder.mkdir()
    path = folder / name
    frame.sample(frac=1.0, random_state=index).to_csv(path, index=False)
    return path


def run_privacy(workspace: Path, *argv: str) -> argparse.Namespace:
    """The parsed arguments of `mlworkbench privacy ARGV --json` in `workspace`."""
    parser = argparse.ArgumentParser()
    COMMAND.configure(parser)
    args = parser.parse_args([argv[0], "--workspace", str(workspace), "--json", *argv[1:]])
    return args


def call(workspace: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """Run `mlworkbench privacy ARGV --json` and return what it printed."""
    args = run_privacy(workspace, *argv)
    assert COMMAND.run(args) == 0
    printed: dict[str, Any] = json.loads(capsys.readouterr().out)
    return printed


def sha(path: Path) -> str:
    return load_table(path).source["sha256"]


# --- the ledger ---------------------------------------------------------------------------


def test_the_ledger_sums_spends_and_refuses_past_the_budget_without_spending(
    workspace: Path, people: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    data = dataset(workspace, people)
    sql = "SELECT COUNT(*) FROM data"
    first = call(workspace, capsys, "query", "--data", str(data), "--sql", sql, "--epsilon", "4")
    call(workspace, capsys, "query", "--data", str(data), "--sql", sql, "--epsilon", "4.5")
    assert privacy_ledger.spent(workspace, sha(data)) == pytest.approx(8.5)
    assert first["document"]["details"]["ledger"]["spent"] == pytest.approx(4.0)

    before = privacy_ledger.ledger(workspace)
    for verb in ("query", "synth"):
        extra = ["--sql", sql] if verb == "query" else []
        args = run_privacy(workspace, verb, "--data", str(data), "--epsilon", "2", *extra)
        with pytest.raises(PrivacyBudgetError) as refused:
            COMMAND.run(args)
        assert refused.value.spent == pytest.approx(8.5) and refused.value.budget == 10.0
        assert "1.5 left" in str(refused.value)
    # Nothing was recorded, and no synthetic file was written.
    assert privacy_ledger.ledger(workspace) == before
    assert not (data.parent / "people.synthetic.csv").exists()
    # A larger budget is the caller's decision, per call.
    call(
        workspace,
        capsys,
        "query",
        "--data",
        str(data),
        "--sql",
        sql,
        "--epsilon",
        "2",
        "--budget",
        "11",
    )
    assert privacy_ledger.spent(workspace, sha(data)) == pytest.approx(10.5)


def test_small_epsilons_add_up_to_the_budget_exactly(workspace: Path, people: pd.DataFrame) -> None:
    source = load_table(dataset(workspace, people)).source
    for _ in range(10):
        privacy_ledger.charge(workspace, source, 0.1, mechanism="test", budget=1.0)
    assert privacy_ledger.spent(workspace, source["sha256"]) == pytest.approx(1.0)
    with pytest.raises(PrivacyBudgetError):
        privacy_ledger.charge(workspace, source, 0.01, mechanism="test", budget=1.0)


def test_deleted_and_failed_entries_still_count(workspace: Path, people: pd.DataFrame) -> None:
    from mlflow.tracking import MlflowClient

    source = load_table(dataset(workspace, people)).source
    charged = privacy_ledger.charge(workspace, source, 1.5, mechanism="test")
    privacy_ledger.mark_failed(workspace, charged.entry.run_id, "crashed")
    deleted = privacy_ledger.charge(workspace, source, 2.0, mechanism="test")
    MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}").delete_run(deleted.entry.run_id)
    entries = privacy_ledger.ledger(workspace, source["sha256"])
    assert [e.outcome for e in entries] == ["failed", "charged"]
    assert privacy_ledger.spent(workspace, source["sha256"]) == pytest.approx(3.5)


@pytest.mark.parametrize("epsilon", [0.0, -1.0, math.nan, math.inf])
def test_epsilon_must_be_positive_and_finite(
    workspace: Path, people: pd.DataFrame, epsilon: float
) -> None:
    data = dataset(workspace, people)
    source = load_table(data).source
    with pytest.raises(InvalidReportInputError, match="epsilon must be a positive finite"):
        privacy_ledger.charge(workspace, source, epsilon, mechanism="test")
    args = run_privacy(
        workspace,
        "query",
        "--data",
        str(data),
        "--sql",
        "SELECT COUNT(*) FROM data",
        "--epsilon",
        str(epsilon),
    )
    with pytest.raises(InvalidReportInputError) as refused:
        COMMAND.run(args)
    assert refused.value.field == "epsilon"
    assert privacy_ledger.ledger(workspace, source["sha256"]) == []


def _charge_once(workspace: str, source: DataSource, barrier: Any, results: Any) -> None:
    # Open the store first (seconds, and uneven): then the charges really overlap. Without the
    # ledger's lock, all three go through here.
    privacy_ledger.spent(Path(workspace), "0" * 64)
    barrier.wait()
    try:
        privacy_ledger.charge(Path(workspace), source, 4.0, mechanism="race")
        results.put("charged")
    except PrivacyBudgetError:
        results.put("refused")


@pytest.mark.slow
def test_processes_charging_at_once_cannot_overspend(workspace: Path, people: pd.DataFrame) -> None:
    source = load_table(dataset(workspace, people)).source
    # Forked from a server that imported MLflow but never opened a store: no connection is
    # shared, and no child pays MLflow's import (seconds) on its own.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["mlflow.tracking", "pandas", _charge_once.__module__])
    barrier = context.Barrier(3)
    results = context.Queue()
    workers = [
        context.Process(target=_charge_once, args=(str(workspace), dict(source), barrier, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    # 2 x 4 = 8 fits the budget of 10; a third would not, however the processes interleave.
    assert outcomes == ["charged", "charged", "refused"]
    assert privacy_ledger.spent(workspace, source["sha256"]) == pytest.approx(8.0)


# --- queries ------------------------------------------------------------------------------


def test_the_sql_subset_parses_what_it_promises() -> None:
    query = parse_query(
        'SELECT sex, COUNT(*) AS n, avg(age), SUM("hours") total FROM data '
        "WHERE age >= 18 AND education <> 'doctorate' AND sex IS NOT NULL GROUP BY sex;"
    )
    assert query.items == [
        GroupKey("sex", "sex"),
        Aggregate("COUNT", None, "n"),
        Aggregate("AVG", "age", "AVG(age)"),
        Aggregate("SUM", "hours", "total"),
    ]
    assert [(c.column, c.op, c.value) for c in query.where] == [
        ("age", ">=", 18),
        ("education", "!=", "doctorate"),
        ("sex", "IS NOT NULL", None),
    ]
    assert query.group_by == ["sex"]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT COUNT(*) FROM people", "the table is called 'data'"),
        ("SELECT sex FROM data", "has no COUNT, SUM or AVG"),
        ("SELECT sex, COUNT(*) FROM data", "neither aggregated nor in GROUP BY"),
        ("SELECT COUNT(*) FROM data WHERE a = 1 OR b = 2", "OR is not supported"),
        ("SELECT COUNT(*) FROM data; DROP TABLE data", "expected the end of the query"),
        ("SELECT SUM(*) FROM data", "SUM(*) is not defined"),
        ("SELECT COUNT(*) FROM data WHERE age = $1", "unexpected '$'"),
        ("SELECT COUNT(*), COUNT(*) FROM data", "give one an alias"),
    ],
)
def test_sql_outside_the_subset_is_refused_with_where(sql: str, message: str) -> None:
    with pytest.raises(InvalidReportInputError, match=re.escape(message)):
        parse_query(sql)


def test_queries_are_close_to_the_truth_at_large_epsilon(people: pd.DataFrame) -> None:
    query = parse_query(
        "SELECT sex, COUNT(*), AVG(age), SUM(hours) FROM data WHERE education != 'doctorate' "
        "GROUP BY sex"
    )
    plan = plan_query(people, query, {"age": (0, 100), "hours": (0, 100)})
    answer = answer_query(people, plan, 1000.0)
    truth = (
        people[people.education != "doctorate"]
        .groupby("sex")
        .agg(count=("age", "size"), age=("age", "mean"), hours=("hours", "sum"))
    )
    assert answer.epsilon <= 1000.0
    for row in answer.rows:
        expected = truth.loc[row["sex"]]
        # Noise scales: count 0.003, age sum 0.6 (over ~1300 rows), hours sum 0.3: these
        # bounds are past 40 scales, so they cannot fail by chance.
        assert row["COUNT(*)"] == pytest.approx(expected["count"], abs=1)
        assert row["AVG(age)"] == pytest.approx(expected["age"], abs=0.05)
        assert row["SUM(hours)"] == pytest.approx(expected["hours"], abs=15)


def test_answers_differ_across_draws(people: pd.DataFrame) -> None:
    plan = plan_query(people, parse_query("SELECT SUM(hours) FROM data"), {"hours": (0, 100)})
    first = answer_query(people, plan, 1.0).rows[0]["SUM(hours)"]
    second = answer_query(people, plan, 1.0).rows[0]["SUM(hours)"]
    assert first != second  # continuous noise of scale 100: equal with probability 0
    assert abs(first - people.hours.sum()) < 100 * 40


def test_the_noise_has_the_scale_opendp_states() -> None:
    draws = 2000
    # One measurement invoked on 2000 one-row groups: 2000 independent noises.
    sums = noisy_sums([np.array([50.0])] * draws, (0.0, 100.0), 1.0, integer=False)
    noise = np.asarray(sums.value) - 50.0
    assert sums.epsilon == pytest.approx(1.0) and sums.scale == pytest.approx(100.0, rel=1e-6)
    # Laplace(b): mean |noise| = b, standard deviation b·√2. Standard errors at 2000 draws are
    # 2.2% and 2.5% of those; 15% is 6 of them (odds below one in 10^8).
    assert np.mean(np.abs(noise)) == pytest.approx(sums.scale, rel=0.15)
    assert np.std(noise) == pytest.approx(sums.scale * math.sqrt(2), rel=0.15)
    # Counts: discrete Laplace over 2000 empty categories, scale 1/epsilon.
    counts = noisy_counts(np.zeros(0, dtype=np.int64), draws, 0.1)
    assert counts.epsilon == pytest.approx(0.1) and counts.scale == pytest.approx(10.0)
    assert np.std(counts.value) == pytest.approx(10.0 * math.sqrt(2), rel=0.15)
    assert abs(np.mean(counts.value)) < 10.0 * math.sqrt(2) * 8 / math.sqrt(draws)


def test_a_sum_without_bounds_is_refused_naming_the_flag(
    workspace: Path, people: pd.DataFrame
) -> None:
    data = dataset(workspace, people)
    args = run_privacy(
        workspace,
        "query",
        "--data",
        str(data),
        "--sql",
        "SELECT AVG(age) FROM data",
        "--epsilon",
        "1",
        "--bounds",
        "hours=0:100",
    )
    with pytest.raises(InvalidReportInputError, match=r"--bounds age=LOW:HIGH") as refused:
        COMMAND.run(args)
    assert refused.value.field == "bounds"
    assert privacy_ledger.ledger(workspace, sha(data)) == []


def test_an_unknown_column_names_the_closest(workspace: Path, people: pd.DataFrame) -> None:
    data = dataset(workspace, people)
    args = run_privacy(
        workspace,
        "query",
        "--data",
        str(data),
        "--sql",
        "SELECT COUNT(*) FROM data GROUP BY educaton",
        "--epsilon",
        "1",
    )
    with pytest.raises(ColumnNotFoundError) as refused:
        COMMAND.run(args)
    assert refused.value.suggestion == "education"
    with pytest.raises(ColumnNotFoundError, match="did you mean 'hours'"):
        plan_synthesis(people, bounds={"hour": (0, 100)})
    assert privacy_ledger.ledger(workspace, sha(data)) == []


# --- synthetic data -----------------------------------------------------------------------


def test_mst_keeps_the_schema_and_the_marginals_at_large_epsilon(people: pd.DataFrame) -> None:
    plan = plan_synthesis(people, bounds={"age": (0, 100), "hours": (0, 100)})
    result = synthesize_mst(people, plan, 100.0, rows=20_000, seed=3)
    synthetic = result.frame
    assert list(synthetic.columns) == list(people.columns)
    assert len(synthetic) == 20_000
    for column in ("sex", "education"):
        assert set(synthetic[column]) == set(people[column])
    assert synthetic.age.between(0, 100).all() and synthetic.age.dtype == people.age.dtype
    assert result.epsilon <= 100.0
    assert abs(result.estimated_rows - ROWS) < 10  # noisy count at scale < 0.1
    for coding in result.codings:
        real = distribution(coding.encode(people[coding.name]), coding.size)
        fake = distribution(coding.encode(synthetic[coding.name]), coding.size)
        assert total_variation(real, fake) < 0.05, coding.name
    # sex → hours is the strongest pair: the tree keeps it.
    edges = {frozenset(edge) for edge in result.tree}
    assert frozenset({"sex", "hours"}) in edges
    gap = synthetic.groupby("sex").hours.mean()
    assert gap["male"] - gap["female"] == pytest.approx(10, abs=2)


def test_mst_refuses_identifier_like_columns(people: pd.DataFrame) -> None:
    frame = people.assign(name=[f"person {i}" for i in range(len(people))])
    with pytest.raises(InvalidReportInputError, match="'name' has 3000 distinct values"):
        plan_synthesis(frame, bounds={"age": (0, 100), "hours": (0, 100)})


def test_synth_writes_the_copy_logs_it_with_the_report_and_never_overwrites(
    workspace: Path, people: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    # Two columns: every chart of the report is rendered to SVG for its HTML (a second each).
    frame = people[["sex", "hours"]]
    data = dataset(workspace, frame, "adult.csv")
    printed = call(
        workspace,
        capsys,
        "synth",
        "--data",
        str(data),
        "--epsilon",
        "3",
        "--bounds",
        "hours=0:50",
        "--bounds",
        "hours=0:100",  # repeated flags merge, the last one winning
    )
    target = data.parent / "adult.synthetic.csv"
    assert printed["files"] == [str(target)]
    assert printed["artifactPath"] == "reports/privacy.json"
    copy = pd.read_csv(target)
    assert list(copy.columns) == ["sex", "hours"]
    document = printed["document"]
    assert document["kind"] == "privacy" and document["runId"] == printed["runId"]
    marginals = next(s for s in document["sections"] if s["id"] == "marginals")
    assert [o["id"] for o in marginals["choice"]["options"]] == ["sex", "hours"]
    assert any("not this report" in w for w in document["warnings"])
    assert document["details"]["columns"][1]["levels"][-1] == "[90, 100)"

    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    run = client.get_run(printed["runId"])
    assert run.info.run_name == "synth mst ε=3 adult.csv"
    assert run.data.tags["mlworkbench.privacy.dataset"] == sha(data)
    assert run.data.tags["mlworkbench.privacy.mechanism"] == "synth mst"
    assert run.data.tags["mlworkbench.privacy.epsilon"] == "3.0"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "privacy"
    logged = {
        a.path
        for folder in ("reports", "synthetic")
        for a in client.list_artifacts(run.info.run_id, folder)
    }
    assert logged == {
        "reports/privacy.json",
        "reports/privacy.html",
        "synthetic/adult.synthetic.csv",
    }

    # The copy exists now: a second synthesis refuses before spending, and leaves it alone.
    target.write_text("keep me\n")
    args = run_privacy(
        workspace,
        "synth",
        "--data",
        str(data),
        "--epsilon",
        "1",
        "--bounds",
        "hours=0:100",
    )
    with pytest.raises(InvalidReportInputError, match="already exists") as refused:
        COMMAND.run(args)
    assert refused.value.field == "out-data"
    assert target.read_text() == "keep me\n"
    assert privacy_ledger.spent(workspace, sha(data)) == pytest.approx(3.0)
    # --force replaces it (and spends).
    call(
        workspace,
        capsys,
        "synth",
        "--data",
        str(data),
        "--epsilon",
        "1",
        "--force",
        "--bounds",
        "hours=0:100",
        "--no-log",
    )
    assert pd.read_csv(target).shape[1] == 2
    assert privacy_ledger.spent(workspace, sha(data)) == pytest.approx(4.0)

    listed = call(workspace, capsys, "ledger", "--data", str(data))
    assert [e["epsilon"] for e in listed["entries"]] == [3.0, 1.0]
    assert listed["datasets"] == [
        {"dataset": sha(data), "path": str(data.relative_to(workspace)), "spent": 4.0, "left": 6.0}
    ]


def test_synth_without_bounds_estimates_ranges_privately(people: pd.DataFrame) -> None:
    plan = plan_synthesis(people)
    assert plan.to_range == ["age", "hours"]
    result = synthesize_mst(people, plan, 10.0, seed=1)
    ranges = {c.name: (c.edges[0], c.edges[-1]) for c in result.codings if c.kind == "numeric"}
    # From the fixed grid of 1-2-5 steps: age 17…90 lies in [10, 100), hours 26…60 in [20, 100).
    assert ranges["age"][0] in (0.0, 10.0) and ranges["age"][1] == 100.0
    assert ranges["hours"][0] in (10.0, 20.0) and ranges["hours"][1] == 100.0
    assert any("ranges estimated privately" in w for w in result.warnings)
    assert result.steps[0].what == "range of age"


def test_other_synthesizers_are_refused_naming_mst(workspace: Path, people: pd.DataFrame) -> None:
    data = dataset(workspace, people)
    args = run_privacy(
        workspace, "synth", "--data", str(data), "--epsilon", "1", "--synthesizer", "aim"
    )
    with pytest.raises(InvalidReportInputError, match="--synthesizer mst"):
        COMMAND.run(args)
    assert privacy_ledger.ledger(workspace, sha(data)) == []
