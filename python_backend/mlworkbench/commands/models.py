"""`mlworkbench models ACTION`: the Models view in a shell: list, register a run's model, aliases.

Thin over `mlworkbench.registry.model_registry`, the functions the language server's registry
requests call, so the CLI and the editor refuse the same names with the same typed errors.
Human output is a table or one line saying what changed; `--json` prints the library's
dataclasses unchanged (the shapes the language server sends).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from mlworkbench.commands import Subcommand
from mlworkbench.commands.text_table import format_time, render_table


def _common(parser: argparse.ArgumentParser, json_help: str) -> None:
    parser.add_argument(
        "--workspace", type=Path, default=None, help="workspace folder (default: cwd)"
    )
    parser.add_argument("--json", action="store_true", help=json_help)


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(title="actions", metavar="ACTION", dest="models_action")
    actions.required = True

    listing = actions.add_parser(
        "list",
        help="list registered models and their versions",
        description="List the registered models, each version newest first, with its aliases.",
    )
    _common(listing, "print the models as JSON")
    listing.set_defaults(models_run=_list)

    register = actions.add_parser(
        "register",
        help="register a run's model as a new version of NAME",
        description=(
            "Register the model a run logged as a new version of NAME (created if new). "
            "RUN is a run id or a unique prefix of 6+ characters."
        ),
    )
    register.add_argument("run", metavar="RUN", help="run id, or a unique prefix")
    register.add_argument("name", metavar="NAME", help="registered model name")
    register.add_argument(
        "--model",
        default=None,
        metavar="LABEL_OR_PATH",
        help="which model when the run logged several: a logged model's name or id, or the "
        "artifact folder holding its MLmodel file",
    )
    _common(register, "print the new version as JSON")
    register.set_defaults(models_run=_register)

    alias = actions.add_parser(
        "alias",
        help="point ALIAS at VERSION of NAME, or remove it with --remove",
        description=(
            "Point ALIAS (e.g. champion) at VERSION of the registered model NAME, moving it from "
            "the version that had it; with --remove instead of VERSION, remove ALIAS."
        ),
    )
    alias.add_argument("name", metavar="NAME", help="registered model name")
    alias.add_argument("alias", metavar="ALIAS", help="alias such as champion or staging")
    target = alias.add_mutually_exclusive_group(required=True)
    target.add_argument("version", nargs="?", default=None, metavar="VERSION", help="a number")
    target.add_argument("--remove", action="store_true", help="remove ALIAS from NAME")
    _common(alias, "print the model as JSON afterwards")
    alias.set_defaults(models_run=_alias)


def _run(args: argparse.Namespace) -> int:
    status: int = args.models_run(args)
    return status


def _workspace(args: argparse.Namespace) -> Path:
    return (args.workspace or Path.cwd()).resolve()


def _list(args: argparse.Namespace) -> int:
    from mlworkbench.registry.model_registry import list_models

    models = list_models(_workspace(args))
    if args.json:
        print(json.dumps([model.to_dict() for model in models], indent=2))
        return 0
    if not models:
        print("no registered models", file=sys.stderr)
        return 0
    rows = [["MODEL", "VERSION", "ALIASES", "RUN", "STATUS", "CREATED"]]
    for model in models:
        if not model.versions:
            rows.append([model.name, "-", "-", "-", "-", "-"])
        for version in model.versions:
            rows.append(
                [
                    model.name,
                    version.version,
                    ",".join(version.aliases) or "-",
                    (version.run_id or "-")[:8],
                    version.status,
                    format_time(version.creation_time),
                ]
            )
    print("\n".join(render_table(rows)))
    return 0


def _register(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_lookup import resolve_run_id
    from mlworkbench.registry.model_registry import register_model

    workspace = _workspace(args)
    run_id = resolve_run_id(workspace, args.run)
    version = register_model(workspace, run_id, args.name, model_path=args.model)
    if args.json:
        print(json.dumps(version.to_dict(), indent=2))
        return 0
    print(f"registered run {run_id}'s model as {version.name!r} version {version.version}")
    print(
        f"(point an alias at it: mlworkbench models alias {shlex.quote(version.name)} champion "
        f"{version.version})",
        file=sys.stderr,
    )
    return 0


def _alias(args: argparse.Namespace) -> int:
    from mlworkbench.registry.model_registry import delete_alias, set_alias

    workspace = _workspace(args)
    if args.remove:
        model = delete_alias(workspace, args.name, args.alias)
        message = f"removed alias {args.alias!r} from model {model.name!r}"
    else:
        model = set_alias(workspace, args.name, args.alias, args.version)
        message = f"model {model.name!r}: {args.alias} -> version {model.aliases[args.alias]}"
    if args.json:
        print(json.dumps(model.to_dict(), indent=2))
    else:
        print(message)
    return 0


COMMAND = Subcommand(
    name="models",
    help="list registered models, register a run's model, move aliases",
    configure=_configure,
    run=_run,
)
