"""`mlworkbench runs rename|note|tag|delete|restore`: the editor's run edits in a shell.

Each prints one line saying what changed (or, with --json, the run's details afterwards);
a refused edit is `error: …` with exit status 2 and leaves the run as it was.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mlworkbench.commands.runs_show import add_action, print_json, target

if TYPE_CHECKING:
    from mlworkbench.explorer.run_details import RunDetails


def configure(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rename = add_action(actions, "rename", "give a run a new name", _rename)
    rename.add_argument("name", metavar="NAME")
    note = add_action(actions, "note", "set a run's note ('' removes it, '-' reads stdin)", _note)
    note.add_argument("text", metavar="TEXT")
    tag = add_action(actions, "tag", "set (KEY=VALUE) and remove (--remove KEY) run tags", _tag)
    tag.add_argument("pairs", nargs="*", metavar="KEY=VALUE")
    tag.add_argument(
        "--remove", nargs="+", action="extend", default=[], metavar="KEY", help="tags to remove"
    )
    add_action(actions, "delete", "delete a run (MLflow's soft delete; restore undoes it)", _delete)
    add_action(actions, "restore", "restore a deleted run", _restore)


def _rename(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_edits import rename_run

    workspace, run_id = target(args)
    details = rename_run(workspace, run_id, args.name)
    return _report(args, details, f"renamed run {run_id} to {details.run_name!r}")


def _note(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_edits import set_note

    text = sys.stdin.read().rstrip("\n") if args.text == "-" else args.text
    workspace, run_id = target(args)
    details = set_note(workspace, run_id, text)
    done = "set the note of" if details.note else "removed the note of"
    return _report(args, details, f"{done} run {run_id}")


def _tag(args: argparse.Namespace) -> int:
    from mlworkbench.errors import InvalidRunEditError
    from mlworkbench.explorer.run_edits import edit_tags

    pairs: dict[str, str] = {}
    for pair in args.pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise InvalidRunEditError(args.run, f"{pair!r} is not KEY=VALUE")
        pairs[key] = value
    workspace, run_id = target(args)
    details = edit_tags(workspace, run_id, pairs, args.remove)
    changes = [f"set {k}={v}" for k, v in pairs.items()] + [f"removed {k}" for k in args.remove]
    return _report(args, details, f"run {run_id}: {', '.join(changes)}")


def _delete(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_edits import delete_run

    workspace, run_id = target(args)
    details = delete_run(workspace, run_id)
    message = f"deleted run {run_id} (undo with: mlworkbench runs restore {run_id})"
    return _report(args, details, message)


def _restore(args: argparse.Namespace) -> int:
    from mlworkbench.explorer.run_edits import restore_run

    workspace, run_id = target(args)
    return _report(args, restore_run(workspace, run_id), f"restored run {run_id}")


def _report(args: argparse.Namespace, details: RunDetails, message: str) -> int:
    if args.json:
        print_json(details)
    else:
        print(message)
    return 0
