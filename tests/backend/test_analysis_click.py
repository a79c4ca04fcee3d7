"""click options and arguments, and the click command as the script's entry point."""

from __future__ import annotations

import textwrap

from mlworkbench.analysis.script_analysis import ScriptAnalysis, ScriptParameter, analyze_source


def analyze(code: str) -> ScriptAnalysis:
    return analyze_source(textwrap.dedent(code))


def by_name(code: str) -> dict[str, ScriptParameter]:
    return {p.name: p for p in analyze(code).parameters}


CLICK_SCRIPT = """
import click
from sklearn.linear_model import LogisticRegression


@click.command()
@click.option("--epochs", "-e", type=int, default=10, help="passes over the data")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam")
@click.option("--verbose", is_flag=True, help="print progress")
@click.argument("data")
def train(epochs, optimizer, verbose, data):
    LogisticRegression().fit([[0], [1]], [0, 1])


if __name__ == "__main__":
    train()
"""


def test_click_script_parameters_in_declaration_order() -> None:
    analysis = analyze(CLICK_SCRIPT)
    assert analysis.parameters == [
        ScriptParameter(
            name="epochs",
            flags=["--epochs", "-e"],
            type="int",
            default="10",
            help="passes over the data",
            required=False,
            choices=None,
            source="click",
            line=6,
        ),
        ScriptParameter(
            name="optimizer",
            flags=["--optimizer"],
            type="choice",
            default='"adam"',
            help=None,
            required=False,
            choices=["adam", "sgd"],
            source="click",
            line=7,
        ),
        ScriptParameter(
            name="verbose",
            flags=["--verbose"],
            type="bool",
            default="False",
            help="print progress",
            required=False,
            choices=None,
            source="click",
            line=8,
        ),
        ScriptParameter(
            name="data",
            flags=[],
            type=None,
            default=None,
            help=None,
            required=True,
            choices=None,
            source="click",
            line=9,
        ),
    ]


def test_click_command_is_the_entry_function_starting_at_its_first_decorator() -> None:
    analysis = analyze(CLICK_SCRIPT)
    assert (analysis.entry_function, analysis.entry_line) == ("train", 5)
    assert analysis.main_guard_line == 14
    assert analysis.is_training_script


def test_click_command_without_main_guard_or_call() -> None:
    analysis = analyze(
        """
        import click

        def helper():
            pass

        @click.command
        @click.option("--n", default=3)
        def run(n):
            pass
        """
    )
    assert (analysis.entry_function, analysis.entry_line) == ("run", 6)
    assert analysis.main_guard_line is None
    assert analysis.lens_line == 6


def test_option_names_follow_clicks_rules() -> None:
    params = by_name(
        """
        import click

        @click.command()
        @click.option("-l", "--learning-rate", "--lr", type=float)
        @click.option("-n", "count", type=int)
        @click.option("-S", help="short only")
        @click.option("--Upper-Case")
        def main(learning_rate, count, s, upper_case):
            pass
        """
    )
    assert params["learning_rate"].flags == ["-l", "--learning-rate", "--lr"]
    assert params["count"].flags == ["-n"]
    assert params["s"].help == "short only"
    assert "upper_case" in params


def test_flags_pairs_counts_and_types_inferred_from_defaults() -> None:
    params = by_name(
        """
        import click

        @click.group()
        def cli():
            pass

        @cli.command()
        @click.option("--shuffle/--no-shuffle", default=True)
        @click.option("--cache", is_flag=True, default=True)
        @click.option("-v", "--verbose", count=True)
        @click.option("--rate", default=0.5)
        @click.option("--name", default="run")
        @click.option("--dry-run", default=False)
        @click.option("--size", type=click.IntRange(1, 10))
        @click.option("--scale", type=click.FLOAT)
        @click.option("--out", type=click.Path(exists=False), required=True)
        @click.option("--mode", type=click.Choice(MODES))
        def fit(**kwargs):
            pass
        """
    )
    assert (params["shuffle"].type, params["shuffle"].default) == ("bool", "True")
    assert params["shuffle"].flags == ["--shuffle", "--no-shuffle"]
    assert (params["cache"].type, params["cache"].default) == ("bool", "True")
    assert params["verbose"].type == "int"
    assert params["rate"].type == "float"
    assert params["name"].type == "str"
    assert params["dry_run"].type == "bool"
    assert params["size"].type == "int"
    assert params["scale"].type == "float"
    assert (params["out"].type, params["out"].required) == ("str", True)
    assert (params["mode"].type, params["mode"].choices) == ("choice", None)


def test_arguments_optional_when_defaulted_or_variadic() -> None:
    params = by_name(
        """
        import click

        @click.command()
        @click.argument("input-file")
        @click.argument("output", default="out.csv")
        @click.argument("extras", nargs=-1)
        @click.argument("config", required=False, type=click.Path())
        def main(input_file, output, extras, config):
            pass
        """
    )
    assert params["input_file"].required
    assert not params["output"].required
    assert not params["extras"].required
    assert (params["config"].required, params["config"].type) == (False, "str")
    assert all(p.flags == [] for p in params.values())


def test_click_imported_by_name_and_alias() -> None:
    params = by_name(
        """
        import click as c
        from click import command, option, Choice as Pick

        @command()
        @option("--depth", type=int, default=4)
        @c.option("--kind", type=Pick(["a", "b"]))
        def main(depth, kind):
            pass
        """
    )
    assert params["depth"].type == "int"
    assert (params["kind"].type, params["kind"].choices) == ("choice", ["a", "b"])


def test_option_decorators_without_click_are_ignored() -> None:
    analysis = analyze(
        """
        import other

        @other.option("--x")
        @app.command()
        def main():
            pass
        """
    )
    assert analysis.parameters == []
    assert analysis.entry_function == "main"  # found by name, not as a click command


def test_click_script_calling_fit_is_training_even_without_frameworks() -> None:
    analysis = analyze(
        """
        import click

        @click.command()
        @click.option("--steps", default=100)
        def main(steps):
            model = build()
            model.fit(steps)
        """
    )
    assert analysis.frameworks == []
    assert analysis.is_training_script
