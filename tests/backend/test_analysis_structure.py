"""Where a script starts (main guard, entry function), where lenses go, and its MLflow use."""

from __future__ import annotations

import json
import textwrap

import pytest

from mlworkbench.analysis.script_analysis import ScriptAnalysis, analyze_source


def analyze(code: str) -> ScriptAnalysis:
    return analyze_source(textwrap.dedent(code).lstrip("\n"))


@pytest.mark.parametrize(
    "test",
    ['__name__ == "__main__"', "__name__ == '__main__'", '"__main__" == __name__'],
)
def test_main_guard_in_either_order(test: str) -> None:
    analysis = analyze(f"import sys\n\nif {test}:\n    print('hi')\n")
    assert analysis.main_guard_line == 2
    assert analysis.lens_line == 2


@pytest.mark.parametrize(
    "code",
    [
        'if __name__ != "__main__":\n    pass\n',
        'if __name__ == "__main__" and x:\n    pass\n',
        'def f():\n    if __name__ == "__main__":\n        pass\n',
        'if name == "__main__":\n    pass\n',
    ],
)
def test_things_that_are_not_a_main_guard(code: str) -> None:
    assert analyze(code).main_guard_line is None


def test_entry_function_is_what_the_guard_calls() -> None:
    analysis = analyze(
        """
        import sys

        def main():
            pass

        @decorator
        def run(argv=None):
            return 0

        if __name__ == "__main__":
            setup_logging()
            sys.exit(run(sys.argv[1:]))
            main()
        """
    )
    assert (analysis.entry_function, analysis.entry_line) == ("run", 5)
    assert analysis.main_guard_line == 9
    assert analysis.lens_line == 9


def test_guard_calling_an_async_main_through_asyncio_run() -> None:
    analysis = analyze(
        """
        import asyncio

        async def main():
            pass

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    assert (analysis.entry_function, analysis.entry_line) == ("main", 2)


def test_guard_with_inline_code_falls_back_to_main_or_train_by_name() -> None:
    analysis = analyze(
        """
        def train():
            pass

        if __name__ == "__main__":
            imported_main()
        """
    )
    assert (analysis.entry_function, analysis.entry_line) == ("train", 0)
    assert analysis.lens_line == 3  # the guard still wins for the lens


def test_main_is_preferred_over_train_and_nested_defs_do_not_count() -> None:
    analysis = analyze(
        """
        def train():
            pass

        class Runner:
            def main(self):
                pass

        def main():
            pass
        """
    )
    assert (analysis.entry_function, analysis.entry_line) == ("main", 7)
    assert analysis.main_guard_line is None
    assert analysis.lens_line == 7


def test_lens_line_is_zero_without_guard_or_entry() -> None:
    analysis = analyze("import torch\nx = torch.zeros(3)\n")
    assert (analysis.main_guard_line, analysis.entry_function, analysis.entry_line) == (
        None,
        None,
        None,
    )
    assert analysis.lens_line == 0


def test_mlflow_calls_through_every_import_form_sorted_and_unique() -> None:
    analysis = analyze(
        """
        import mlflow
        import mlflow.sklearn
        import mlflow.pytorch as mlp
        from mlflow import log_param as lp
        from mlflow.tracking import MlflowClient

        def main():
            import mlflow as mf
            mlflow.sklearn.autolog()
            with mlflow.start_run():
                mlflow.log_metric("a", 1)
                mlflow.log_metric("b", 2)
                mf.set_tag("k", "v")
                lp("x", 1)
                mlp.log_model(model, "m")
                MlflowClient().list_artifacts("r")
            model.fit(X, y)
        """
    )
    assert analysis.uses_mlflow
    assert analysis.mlflow_calls == [
        "mlflow.log_metric",
        "mlflow.log_param",
        "mlflow.pytorch.log_model",
        "mlflow.set_tag",
        "mlflow.sklearn.autolog",
        "mlflow.start_run",
        "mlflow.tracking.MlflowClient",
    ]


def test_mlflow_imported_but_never_called() -> None:
    analysis = analyze("import mlflow\n")
    assert analysis.uses_mlflow
    assert analysis.mlflow_calls == []


def test_no_mlflow_and_unrelated_names_that_look_alike() -> None:
    analysis = analyze("mlflow.log_metric('a', 1)\nmy_mlflow.start_run()\n")
    assert not analysis.uses_mlflow  # never imported: a NameError, not MLflow use
    assert analysis.mlflow_calls == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import numpy\nprint(numpy.ones(3))\n", False),
        ("import argparse\np = argparse.ArgumentParser()\np.parse_args()\n", False),
        ("import argparse\np = argparse.ArgumentParser()\nmodel.fit(x)\n", True),
        ("import argparse\np = argparse.ArgumentParser()\nloss.backward()\n", True),
        ("import argparse\np = argparse.ArgumentParser()\ntrain(p.parse_args())\n", True),
        ("model.fit(x)\n", False),  # no command line, no framework: just some code
        ("import xgboost\n", True),
    ],
)
def test_is_training_script(code: str, expected: bool) -> None:
    assert analyze(code).is_training_script is expected


@pytest.mark.parametrize(
    ("source", "count"),
    [("", 0), ("x = 1", 1), ("x = 1\n", 1), ("a = 1\r\nb = 2\r\n", 2), ("a\rb\nc\n\n", 4)],
)
def test_line_count_counts_python_lines(source: str, count: int) -> None:
    assert analyze_source(source).line_count == count


def test_form_feed_does_not_shift_line_numbers() -> None:
    source = "import argparse\n\x0c\np = argparse.ArgumentParser()\np.add_argument('--a')\n"
    analysis = analyze_source(source)
    assert analysis.parameters[0].line == 3
    assert analysis.line_count == 4


def test_to_dict_is_json_serialisable_and_complete() -> None:
    analysis = analyze(
        """
        import argparse, torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1, choices=[0.1, 0.2])
        def main():
            pass
        if __name__ == "__main__":
            main()
        """
    )
    data = json.loads(json.dumps(analysis.to_dict()))
    assert data["frameworks"] == ["pytorch"]
    assert data["parameters"][0]["choices"] == ["0.1", "0.2"]
    assert data["entry_function"] == "main"
    assert data["syntax_error"] is None
    assert set(data) == {
        "frameworks",
        "parameters",
        "main_guard_line",
        "entry_function",
        "entry_line",
        "uses_mlflow",
        "mlflow_calls",
        "is_training_script",
        "syntax_error",
        "line_count",
    }


def test_calls_are_found_wherever_an_expression_can_hide_them() -> None:
    analysis = analyze(
        """
        import mlflow

        @mlflow.trace()
        def f(uri=mlflow.get_tracking_uri()):
            cb = lambda: mlflow.log_param("a", 1)
            names = [mlflow.log_metric(k, v) for k, v in items]
            print(f"{mlflow.active_run()!r}")
            match command:
                case "go":
                    mlflow.end_run()

        class Runner:
            experiment = mlflow.set_experiment("demo")

        async def g():
            async with mlflow.start_span():
                await mlflow.flush_async_logging()
            x = (yield mlflow.search_runs())
        """
    )
    assert analysis.mlflow_calls == [
        "mlflow.active_run",
        "mlflow.end_run",
        "mlflow.flush_async_logging",
        "mlflow.get_tracking_uri",
        "mlflow.log_metric",
        "mlflow.log_param",
        "mlflow.search_runs",
        "mlflow.set_experiment",
        "mlflow.start_span",
        "mlflow.trace",
    ]


def test_deeply_nested_code_is_analysed_without_recursion_limits() -> None:
    depth = 90  # close to the parser's own limit on nested blocks
    lines = ["import mlflow"]
    lines += [" " * i + f"if x{i}:" for i in range(depth)]
    lines.append(" " * depth + "mlflow.log_metric('deep', 1)")
    analysis = analyze_source("\n".join(lines) + "\n")
    assert analysis.syntax_error is None
    assert analysis.mlflow_calls == ["mlflow.log_metric"]


def test_parameters_on_one_line_keep_their_order() -> None:
    analysis = analyze(
        """
        import argparse
        p = argparse.ArgumentParser(); p.add_argument("--a"); p.add_argument("--b")
        """
    )
    assert [param.name for param in analysis.parameters] == ["a", "b"]
