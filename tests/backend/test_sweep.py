"""Hyper-parameter sweeps: the space (parsing, typing, trials) and real sweeps of a real script
into a real SQLite store, each trial a tracked run nested under one parent run."""

from __future__ import annotations

import argparse
import json
import textwrap
import threading
from pathlib import Path

import pytest
from scripts.run_support import all_runs, client_for, make_workspace, pid_alive, write_script

from mlworkbench.analysis.script_analysis import ScriptParameter, analyze_source
from mlworkbench.commands import sweep as sweep_command
from mlworkbench.compute.sweep_errors import InvalidSweepError, UnknownSweepParameterError
from mlworkbench.compute.sweep_plan import plan_sweep
from mlworkbench.compute.sweep_runner import PARENT_TAG, TRIAL_TAG, Sweep, TrialOutcome
from mlworkbench.compute.sweep_space import parse_space
from mlworkbench.launch.launcher import start_run

TRAIN = """
    import argparse

    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--hidden", type=int, default=16)
    args = parser.parse_args()
    if args.lr <= 0:
        raise SystemExit(f"lr must be positive, not {args.lr}")
    features, labels = load_iris(return_X_y=True)
    model = LogisticRegression(C=args.lr, max_iter=args.hidden).fit(features, labels)
    mlflow.log_metric("accuracy", model.score(features, labels))
"""
SLEEPER = """
    import argparse, time

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1.0)
    parser.parse_args()
    print("sleeping", flush=True)
    time.sleep(600)
"""
OPTIONS = """
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--n-estimators", type=int, default=10)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--cuda", action="store_true")
    parser.add_argument("--no-cache", dest="cache", action="store_false")
    parser.add_argument("--shuffle", action=argparse.BooleanOptionalAction)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.parse_args()
"""


def declared(source: str) -> list[ScriptParameter]:
    return analyze_source(textwrap.dedent(source)).parameters


# -- the space: no runs -------------------------------------------------------------------------


def test_grid_types_values_and_passes_them_in_each_parameters_own_form() -> None:
    space = parse_space(
        ["n-estimators=10,20", "lr=-0.1,1e-3", "data=a.csv", "optimizer=sgd"], declared(OPTIONS)
    )
    trials = space.grid()
    assert space.size == len(trials) == 4
    assert [t.values for t in trials[:2]] == [
        {"n_estimators": 10, "lr": -0.1, "data": "a.csv", "optimizer": "sgd"},
        {"n_estimators": 10, "lr": 0.001, "data": "a.csv", "optimizer": "sgd"},
    ]
    # Positional first; values as written; a negative value joined to its flag.
    assert trials[0].args == ["a.csv", "--n-estimators", "10", "--lr=-0.1", "--optimizer", "sgd"]
    assert [t.index for t in trials] == [1, 2, 3, 4]


def test_switches_are_present_or_absent_as_their_action_needs() -> None:
    space = parse_space(["cuda=true,false", "cache=yes,no", "shuffle=1,0"], declared(OPTIONS))
    args = {tuple(sorted(t.values.items())): t.args for t in space.grid()}
    assert args[(("cache", True), ("cuda", True), ("shuffle", True))] == ["--cuda", "--shuffle"]
    assert args[(("cache", False), ("cuda", False), ("shuffle", False))] == [
        "--no-cache",
        "--no-shuffle",
    ]


def test_unknown_parameter_names_the_closest_one() -> None:
    with pytest.raises(UnknownSweepParameterError) as raised:
        parse_space(["n_estimator=1,2"], declared(OPTIONS))
    assert raised.value.code == "UNKNOWN_SWEEP_PARAMETER"
    assert raised.value.closest == "n_estimators"
    assert "did you mean 'n_estimators'?" in raised.value.message


@pytest.mark.parametrize(
    ("specs", "words"),
    [
        (["lr"], "is not NAME=V1,V2"),
        (["lr="], "empty value"),
        (["lr=0.1,,0.2"], "empty value"),
        (["lr=0.1", "lr=0.2"], "swept twice"),
        (["lr=0.1,0.10"], "more than once"),
        (["n_estimators=ten"], "takes int values"),
        (["optimizer=rmsprop"], "one of adam, sgd"),
        ([], "nothing to sweep"),
    ],
)
def test_bad_spaces_are_refused_with_a_typed_error(specs: list[str], words: str) -> None:
    with pytest.raises(InvalidSweepError, match=words) as raised:
        parse_space(specs, declared(OPTIONS))
    assert raised.value.code == "INVALID_SWEEP"


def test_random_search_with_a_seed_is_reproducible(tmp_path: Path) -> None:
    script = write_script(tmp_path, "options.py", OPTIONS)
    params = ["n_estimators=1,2,3,4,5", "lr=0.1,0.2,0.3", "optimizer=adam,sgd"]

    def draw(seed: int) -> list[dict[str, object]]:
        plan = plan_sweep(script, params, workspace=tmp_path, random_trials=5, seed=seed)
        assert plan.strategy == "random" and plan.seed == seed
        return [t.values for t in plan.trials]

    first = draw(7)
    assert first == draw(7)
    assert first != draw(8)
    assert len({json.dumps(v, sort_keys=True) for v in first}) == 5  # distinct combinations
    unseeded = plan_sweep(script, params, workspace=tmp_path, random_trials=3)
    assert unseeded.seed is not None  # drawn, and recorded so the sample can be repeated
    with pytest.raises(InvalidSweepError, match="more trials than the 30"):
        plan_sweep(script, params, workspace=tmp_path, random_trials=31, seed=1)


def test_a_swept_option_also_given_after_the_double_dash_is_refused(tmp_path: Path) -> None:
    script = write_script(tmp_path, "options.py", OPTIONS)
    with pytest.raises(InvalidSweepError, match="also given after --"):
        plan_sweep(script, ["lr=0.1,0.2"], workspace=tmp_path, fixed_args=["--lr=0.3"])


# -- real sweeps --------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_workspace(tmp_path, monkeypatch)


def intervals_in_flight(runs: list) -> int:  # type: ignore[type-arg]
    """The most runs whose [start, end] intervals overlap at one instant."""
    edges = sorted(
        [(r.info.start_time, 1) for r in runs] + [(r.info.end_time, -1) for r in runs],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same millisecond
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


@pytest.mark.slow
def test_grid_runs_nested_trials_two_at_a_time_and_picks_the_best(workspace: Path) -> None:
    script = write_script(workspace, "train.py", TRAIN)
    plan = plan_sweep(
        script,
        ["lr=0.01,1", "hidden=3,100"],
        workspace=workspace,
        max_concurrent=2,
        metric="accuracy",
        mode="max",
    )
    events: list[TrialOutcome] = []

    result = Sweep(plan).run(on_event=lambda outcome, total: events.append(outcome))

    client = client_for(workspace)
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" == result.status
    assert parent.data.tags["mlworkbench.sweep"] == "1"
    assert parent.data.params["space.lr"] == "0.01,1"
    assert parent.data.params["space.hidden"] == "3,100"
    assert parent.data.params["sweep.strategy"] == "grid"
    children = [r for r in all_runs(workspace) if r.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert sorted(r.data.tags[TRIAL_TAG] for r in children) == ["1", "2", "3", "4"]
    assert all(r.info.status == "FINISHED" for r in children)
    by_trial = {int(r.data.tags[TRIAL_TAG]): r for r in children}
    for trial in result.trials:  # each child's params are its trial's values, as the script saw
        child = by_trial[trial.index]
        assert child.info.run_id == trial.run_id
        swept = {name: child.data.params[name] for name in trial.values}  # autolog adds more
        assert swept == {name: str(value) for name, value in trial.values.items()}
        assert trial.metric == child.data.metrics["accuracy"]
    # The best trial is the highest accuracy, recorded on the parent.
    best = max(result.trials, key=lambda t: t.metric or 0.0)
    assert result.best is not None and result.best.index == best.index
    assert parent.data.metrics["best_accuracy"] == best.metric
    assert parent.data.params["best.lr"] == str(best.values["lr"])
    assert parent.data.params["best.hidden"] == str(best.values["hidden"])
    assert parent.data.metrics["trials_finished"] == 4.0
    assert parent.data.metrics["trials_failed"] == 0.0
    # Really two at once, never three.
    assert intervals_in_flight(children) == 2
    assert [e.status for e in events].count("RUNNING") == 4

    # A trial records what `mlworkbench run` records with the same arguments, plus nesting.
    plain = start_run(script, ["--lr", "1", "--hidden", "100"], workspace=workspace)
    assert plain.wait().status == "FINISHED"
    alone = client.get_run(plain.run_id)
    trial = by_trial[4]  # lr=1 hidden=100
    assert json.loads(trial.data.tags["mlworkbench.argv"])[1:] == ["--lr", "1", "--hidden", "100"]
    assert trial.data.params == alone.data.params
    assert set(trial.data.metrics) == set(alone.data.metrics)
    assert set(trial.data.tags) - {PARENT_TAG, TRIAL_TAG} == set(alone.data.tags)


@pytest.mark.slow
def test_a_crashing_trial_is_counted_and_the_others_still_finish(workspace: Path) -> None:
    script = write_script(workspace, "train.py", TRAIN)
    plan = plan_sweep(
        script,
        ["lr=-1,0.05,1"],
        workspace=workspace,
        max_concurrent=2,
        metric="accuracy",
        mode="min",
    )

    result = Sweep(plan).run()

    assert [t.status for t in result.trials] == ["FAILED", "FINISHED", "FINISHED"]
    assert "lr must be positive" in (result.trials[0].error or "")
    parent = client_for(workspace).get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" == result.status
    assert parent.data.metrics["trials_failed"] == 1.0
    assert parent.data.metrics["trials_finished"] == 2.0
    finished = [t for t in result.trials if t.status == "FINISHED"]
    assert result.best == min(finished, key=lambda t: t.metric or 0.0)  # mode min
    assert parent.data.metrics["best_accuracy"] == result.best.metric


@pytest.mark.slow
def test_every_trial_failing_fails_the_parent_and_the_command(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_script(workspace, "train.py", TRAIN)
    monkeypatch.chdir(workspace)
    parser = argparse.ArgumentParser()
    sweep_command.COMMAND.configure(parser)
    words = "train.py --param lr=-1,-2 --max-concurrent 2 --metric accuracy --json"
    args = parser.parse_args(words.split())

    status = sweep_command.COMMAND.run(args)

    assert status == sweep_command.EXIT_ALL_FAILED
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert document["status"] == "FAILED" and document["best"] is None
    assert [t["status"] for t in document["trials"]] == ["FAILED", "FAILED"]
    assert all(t["run_id"] for t in document["trials"])
    assert "trial 1/2 lr=-1.0: FAILED" in err
    parent = client_for(workspace).get_run(document["parent_run_id"])
    assert parent.info.status == "FAILED"


@pytest.mark.slow
def test_cancel_kills_the_trials_in_flight_and_skips_the_rest(workspace: Path) -> None:
    script = write_script(workspace, "sleeper.py", SLEEPER)
    plan = plan_sweep(script, ["lr=1,2,3"], workspace=workspace, max_concurrent=2)
    sweep = Sweep(plan, cancel_grace_s=1.0)
    started: list[str] = []

    def on_event(outcome: TrialOutcome, total: int) -> None:
        if outcome.status == "RUNNING":
            started.append(outcome.run_id or "")
            if len(started) == 2:
                threading.Thread(target=sweep.cancel).start()

    result = sweep.run(on_event=on_event)

    assert [t.status for t in result.trials] == ["KILLED", "KILLED", "NOT_RUN"]
    assert result.trials[2].run_id is None
    assert result.status == "KILLED"
    client = client_for(workspace)
    assert client.get_run(result.parent_run_id).info.status == "KILLED"
    assert client.get_run(result.parent_run_id).data.metrics["trials_not_run"] == 1.0
    runs = all_runs(workspace)
    assert len(runs) == 3  # the parent and the two trials that started: nothing for the third
    for run_id in started:
        run = client.get_run(run_id)
        assert run.info.status == "KILLED"
        assert not pid_alive(int(run.data.tags["mlworkbench.pid"]))
