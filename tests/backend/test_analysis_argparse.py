"""argparse parameters, read from `add_argument` calls without running the script."""

from __future__ import annotations

import textwrap

from mlworkbench.analysis.script_analysis import ScriptParameter, analyze_source


def parameters(code: str) -> list[ScriptParameter]:
    return analyze_source(textwrap.dedent(code)).parameters


def by_name(code: str) -> dict[str, ScriptParameter]:
    return {p.name: p for p in parameters(code)}


def test_module_level_parser_gives_full_parameter_records() -> None:
    code = """
    import argparse

    parser = argparse.ArgumentParser(description="demo")
    parser.add_argument("--n-estimators", "-n", type=int, default=100, help="trees")
    parser.add_argument("--lr", type=float, default=1e-3)
    """
    assert parameters(code) == [
        ScriptParameter(
            name="n_estimators",
            flags=["--n-estimators", "-n"],
            type="int",
            default="100",
            help="trees",
            required=False,
            choices=None,
            source="argparse",
            line=4,
        ),
        ScriptParameter(
            name="lr",
            flags=["--lr"],
            type="float",
            default="1e-3",  # the source text, not a re-rendered float
            help=None,
            required=False,
            choices=None,
            source="argparse",
            line=5,
        ),
    ]


def test_parser_created_inside_main_and_imported_by_name() -> None:
    code = """
    from argparse import ArgumentParser

    def main():
        p = ArgumentParser()
        p.add_argument("--epochs", type=int, default=10)
        args = p.parse_args()

    if __name__ == "__main__":
        main()
    """
    params = parameters(code)
    assert [(p.name, p.type, p.default, p.line) for p in params] == [("epochs", "int", "10", 5)]


def test_argparse_imported_under_an_alias_and_annotated_assignment() -> None:
    code = """
    import argparse as ap

    parser: ap.ArgumentParser = ap.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=32)
    """
    assert [p.name for p in parameters(code)] == ["batch_size"]


def test_argument_groups_mutually_exclusive_groups_and_subparsers() -> None:
    code = """
    import argparse

    parser = argparse.ArgumentParser()
    model = parser.add_argument_group("model")
    model.add_argument("--depth", type=int, default=3)
    nested = model.add_mutually_exclusive_group()
    nested.add_argument("--fast", action="store_true")
    parser.add_argument_group("data").add_argument("--data-dir", default="data/")
    sub = parser.add_subparsers(dest="cmd")
    fit = sub.add_parser("fit")
    fit.add_argument("--folds", type=int, default=5)
    """
    assert [p.name for p in parameters(code)] == ["depth", "fast", "data_dir", "folds"]


def test_groups_defined_before_their_parent_is_known_still_resolve() -> None:
    # The parser lives in one function, its group is filled in another defined earlier.
    code = """
    import argparse

    def add_model_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hidden", type=int, default=64)

    def build():
        parser = argparse.ArgumentParser()
        add_model_args(parser)
        return parser
    """
    assert [p.name for p in parameters(code)] == ["hidden"]


def test_store_true_and_store_false_are_bool_flags_with_implied_defaults() -> None:
    params = by_name(
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--verbose", action="store_true", help="talk more")
        parser.add_argument("--no-cuda", action="store_false", dest="cuda")
        parser.add_argument("--shuffle", action=argparse.BooleanOptionalAction, default=True)
        parser.add_argument("--debug", action="store_true", default=None)
        parser.add_argument("-v", action="count", default=0)
        """
    )
    assert (params["verbose"].type, params["verbose"].default) == ("bool", "False")
    assert (params["cuda"].type, params["cuda"].default) == ("bool", "True")
    assert params["cuda"].flags == ["--no-cuda"]
    assert (params["shuffle"].type, params["shuffle"].default) == ("bool", "True")
    assert params["debug"].default == "None"  # an explicit default wins
    assert (params["v"].type, params["v"].default) == ("int", "0")


def test_choices_types_and_missing_type() -> None:
    params = by_name(
        """
        import argparse, pathlib
        parser = argparse.ArgumentParser()
        parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
        parser.add_argument("--layers", type=int, choices=(1, 2, 3), default=2)
        parser.add_argument("--model", choices=MODELS)
        parser.add_argument("--name")
        parser.add_argument("--out", type=pathlib.Path)
        parser.add_argument("--ratio", type=lambda s: float(s) / 100)
        parser.add_argument("--flag", type=str, default='x')
        """
    )
    assert (params["optimizer"].type, params["optimizer"].choices) == ("choice", ["adam", "sgd"])
    assert params["optimizer"].default == '"adam"'
    assert (params["layers"].type, params["layers"].choices) == ("int", ["1", "2", "3"])
    assert (params["model"].type, params["model"].choices) == (None, None)  # computed choices
    assert (params["name"].type, params["name"].default) == (None, None)
    assert params["out"].type == "str"
    assert params["ratio"].type is None
    assert (params["flag"].type, params["flag"].default) == ("str", "'x'")


def test_positionals_required_and_optional() -> None:
    params = parameters(
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("data", help="training CSV")
        parser.add_argument("output", nargs="?", default="model.pkl")
        parser.add_argument("extra", nargs="*")
        parser.add_argument("--target", required=True)
        parser.add_argument("--seed", required=False, type=int)
        """
    )
    summary = [(p.name, p.flags, p.required) for p in params]
    assert summary == [
        ("data", [], True),
        ("output", [], False),
        ("extra", [], False),
        ("target", ["--target"], True),
        ("seed", ["--seed"], False),
    ]
    assert params[0].help == "training CSV"


def test_dest_explicit_long_flag_preferred_and_short_only() -> None:
    params = parameters(
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("-o", "--output-dir", default=".")
        parser.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
        parser.add_argument("-k", type=int)
        """
    )
    assert [p.name for p in params] == ["output_dir", "learning_rate", "k"]
    assert params[0].flags == ["-o", "--output-dir"]


def test_help_and_version_arguments_and_suppressed_help_are_skipped() -> None:
    params = parameters(
        """
        import argparse
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("-h", "--help", action="help")
        parser.add_argument("-h")
        parser.add_argument("--version", action="version", version="1.0")
        parser.add_argument("--secret", help=argparse.SUPPRESS)
        parser.add_argument("--quiet", help="==SUPPRESS==")
        """
    )
    assert [(p.name, p.help) for p in params] == [("secret", None), ("quiet", None)]


def test_multiline_default_and_non_ascii_text_keep_exact_source() -> None:
    params = parameters(
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--größe", default="größer", help="Größe — in µm")
        parser.add_argument(
            "--sizes",
            default=[
                1,
                2,
            ],
        )
        """
    )
    assert params[0].name == "größe"
    assert params[0].default == '"größer"'
    assert params[0].help == "Größe — in µm"
    assert params[1].default == "[\n        1,\n        2,\n    ]"
    assert params[1].line == 4


def test_add_argument_on_unrelated_objects_and_computed_flags_are_ignored() -> None:
    params = parameters(
        """
        import argparse
        parser = argparse.ArgumentParser()
        config.add_argument("--not-argparse")
        for name in ("a", "b"):
            parser.add_argument(f"--{name}")
        parser.add_argument(*FLAGS)
        parser.add_argument("--kept", **extra)
        """
    )
    assert [p.name for p in params] == ["kept"]


def test_self_attribute_parser_in_a_class() -> None:
    params = parameters(
        """
        import argparse
        class Cli:
            def __init__(self):
                self.parser = argparse.ArgumentParser()
                self.parser.add_argument("--workers", type=int, default=4)
        """
    )
    assert [(p.name, p.type) for p in params] == [("workers", "int")]
